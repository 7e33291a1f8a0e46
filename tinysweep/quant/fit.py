"""Bias correction and AdaRound, fitted layer by layer on the calibration inputs.

Layers are treated in op order. For weight op i, the float model (BN folded) with ops < i
already replaced by their quantized weights and corrected biases gives op i's inputs x^ on the
calibration set; the plain float model gives x and the target f(W x + b) (f: the op's fused
activation). Each op is written as a product of input patches and a [fan-in, outputs] matrix,
so conv, depthwise conv and fully connected ops share one code path.

- AdaRound (Nagel et al. 2020, "Up or Down? Adaptive Rounding for Post-Training Quantization"):
  W~ = s * clip(floor(W/s) + h(V), -L, L) with the rectified sigmoid
  h(V) = clip(sigmoid(V) (zeta - gamma) + gamma, 0, 1), zeta = 1.1, gamma = -0.1, V initialised
  so that h(V) = the fractional part of W/s. Loss: mean over patches of the squared error of
  f(W~ x^ + b) against f(W x + b), summed over output channels and divided by its value at
  nearest rounding (so lambda means the same on every layer), plus lambda * sum(1 - |2h - 1|^beta);
  beta anneals from 20 to 2 after a 20 % warm-up without the regulariser; Adam on V; finally
  h rounds to 0/1. The result is kept only when its reconstruction error on all sampled
  patches is below nearest rounding's (else nearest rounding is kept and info says so).
- Bias correction (empirical, Nagel et al. 2019 "Data-Free Quantization", section 4.2 with
  data): b += E[W x + b] - E[W_q x^ + b] per output channel, the expectation over every
  calibration input and output position (exact: the mean patch times the matrix), so the
  mean pre-activation error of each layer, including what earlier layers left, is removed.
  With AdaRound it runs after it, on the learned weights. Measured (bench/quant_methods.py):
  on top of AdaRound it does not help (AdaRound's loss already holds the mean error, after the
  activation), so the default w4 configuration leaves it off.
"""
from __future__ import annotations

import numpy as np

from tinysweep.quant import graph, ranges

ZETA, GAMMA = 1.1, -0.1
MAX_ROWS = 4096            # sampled output positions per layer for AdaRound (memory, time)
BATCH_ROWS = 256           # positions per AdaRound step
LEARNING_RATE = 3e-2
REG_LAMBDA = 0.01
WARMUP = 0.2
BETA = (20.0, 2.0)


# --- ops as patches x matrix -------------------------------------------------------------

def to_matrix(w: np.ndarray, kind: str) -> np.ndarray:
    """A filter in TFLite layout as a [fan-in, outputs] matrix (float64)."""
    w = np.asarray(w, np.float64)
    if kind == "CONV_2D":
        return w.reshape(w.shape[0], -1).T
    if kind == "DEPTHWISE_CONV_2D":
        return w.reshape(-1, w.shape[3])
    return w.T


def from_matrix(m: np.ndarray, op: graph.WeightOp) -> np.ndarray:
    if op.kind == "CONV_2D":
        return m.T.reshape(op.w.shape)
    if op.kind == "DEPTHWISE_CONV_2D":
        return m.reshape(op.w.shape)
    return m.T


def _multiplier_channels(op: graph.WeightOp) -> np.ndarray | None:
    """Depthwise: the input channel each output channel reads."""
    if op.kind != "DEPTHWISE_CONV_2D":
        return None
    out, inp = op.w.shape[3], op.input_shape[3]
    return np.arange(out) // (out // inp)


def per_output(p: np.ndarray, chan) -> np.ndarray:
    """Depthwise patches [R, K, C_in] -> [R, K, O] (the input channel of each output)."""
    return p if chan is None else p[:, :, chan]


def product(p: np.ndarray, m: np.ndarray) -> np.ndarray:
    """Patches [R, K] (or [R, K, O] for depthwise, see per_output) times the matrix [K, O]."""
    if p.ndim == 2:
        return p @ m
    return np.einsum("rko,ko->ro", p, m)


def product_grad(p: np.ndarray, g: np.ndarray) -> np.ndarray:
    """d(sum g * product(p, m)) / dm."""
    if p.ndim == 2:
        return p.T @ g
    return np.einsum("rko,ro->ko", p, g)


class Tap:
    """The input patches of one op at fixed sampled output positions, and the mean patch over
    all positions and inputs, gathered while the interpreter runs the calibration set."""

    def __init__(self, op: graph.WeightOp, samples: int, rng, max_rows: int = MAX_ROWS):
        self.op = op
        if op.kind == "FULLY_CONNECTED":
            self.fan_in = op.w.shape[1]
            positions = int(np.prod(op.input_shape)) // self.fan_in
        else:
            _, h, w, _ = op.input_shape
            kh, kw = op.w.shape[1:3]
            o = op.options
            self.stride = (o.strideH, o.strideW)
            self.dilation = (max(o.dilationHFactor, 1), max(o.dilationWFactor, 1))
            self.kernel = (kh, kw)
            eff = [(k - 1) * d + 1 for k, d in zip(self.kernel, self.dilation)]
            if o.padding == 0:                                    # SAME
                self.out = [-(-n // s) for n, s in zip((h, w), self.stride)]
                total = [max((n_o - 1) * s + e - n, 0)
                         for n_o, s, e, n in zip(self.out, self.stride, eff, (h, w))]
                self.pad = [(t // 2, t - t // 2) for t in total]
            else:                                                 # VALID
                self.out = [(n - e) // s + 1 for n, e, s in zip((h, w), eff, self.stride)]
                self.pad = [(0, 0), (0, 0)]
            positions = self.out[0] * self.out[1]
        total = samples * positions
        picks = np.sort(rng.choice(total, size=min(max_rows, total), replace=False))
        self.sample_of, self.position = picks // positions, picks % positions
        self.rows: list[np.ndarray] = []
        self.mean_sum, self.count = 0.0, 0

    def fresh(self) -> "Tap":
        """Same op, same sampled positions, nothing gathered yet."""
        t = object.__new__(Tap)
        t.__dict__.update(self.__dict__)
        t.rows, t.mean_sum, t.count = [], 0.0, 0
        return t

    def consume(self, n: int, x: np.ndarray) -> None:
        x = np.asarray(x, np.float64)
        want = self.position[self.sample_of == n]
        if self.op.kind == "FULLY_CONNECTED":
            r = x.reshape(-1, self.fan_in)
            self.mean_sum = self.mean_sum + r.mean(axis=0)
            self.rows.append(r[want].astype(np.float32))
        else:
            xp = np.pad(x.reshape(x.shape[-3:]), (*self.pad, (0, 0)))
            (sh, sw), (dh, dw), (kh, kw), (oh, ow) = self.stride, self.dilation, self.kernel, self.out
            mean = np.empty((kh, kw, xp.shape[2]))
            for ky in range(kh):
                for kx in range(kw):
                    mean[ky, kx] = xp[ky * dh: ky * dh + sh * (oh - 1) + 1: sh,
                                      kx * dw: kx * dw + sw * (ow - 1) + 1: sw].mean(axis=(0, 1))
            self.mean_sum = self.mean_sum + mean
            oy, ox = want // ow, want % ow
            iy = oy[:, None] * sh + np.arange(kh)[None] * dh
            ix = ox[:, None] * sw + np.arange(kw)[None] * dw
            self.rows.append(xp[iy[:, :, None], ix[:, None, :], :].astype(np.float32))
        self.count += 1

    def patches(self) -> tuple[np.ndarray, np.ndarray]:
        """(sampled patches [R, K] or [R, K, C_in], mean patch [K] or [K, C_in])."""
        rows, mean = np.concatenate(self.rows), self.mean_sum / max(self.count, 1)
        if self.op.kind == "CONV_2D":
            return rows.reshape(len(rows), mean.size), mean.reshape(-1)
        if self.op.kind == "DEPTHWISE_CONV_2D":
            mean = mean.reshape(-1, mean.shape[-1])
            return rows.reshape(len(rows), *mean.shape), mean
        return rows, mean


def gather(float_buf: bytes, inputs: np.ndarray, taps: list[Tap]) -> None:
    """Run the float model on every input, feeding each tap its op's input tensor."""
    from ai_edge_litert.interpreter import Interpreter, OpResolverType
    it = Interpreter(model_content=float_buf, experimental_preserve_all_tensors=True,
                     experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
    it.allocate_tensors()
    index = it.get_input_details()[0]["index"]
    for n, x in enumerate(inputs):
        it.set_tensor(index, np.asarray(x, np.float32)[None])
        it.invoke()
        for tap in taps:
            tap.consume(n, it.get_tensor(tap.op.float_input))


# --- AdaRound ------------------------------------------------------------------------------

def _activation(y: np.ndarray, kind):
    """(f(y), f'(y)) of a fused activation."""
    if kind is None:
        return y, 1.0
    lo, hi = {"relu": (0.0, np.inf), "relu6": (0.0, 6.0), "relu_n1_to_1": (-1.0, 1.0)}[kind]
    return np.clip(y, lo, hi), ((y > lo) & (y < hi)).astype(y.dtype)


def _recon(p, m, bias, target, activation) -> float:
    y, _ = _activation(product(p, m) + bias, activation)
    return float(((y - target) ** 2).sum(axis=1).mean())


def _h(v):
    sig = 1.0 / (1.0 + np.exp(-v))
    raw = sig * (ZETA - GAMMA) + GAMMA
    return np.clip(raw, 0.0, 1.0), sig, raw


def _one_blas_thread():
    """Small matrix products run ~20x faster on one BLAS thread than on a busy machine's two."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:                       # (comes with mlflow's scikit-learn)
        import contextlib
        return contextlib.nullcontext()
    return threadpool_limits(1, user_api="blas")


def adaround(p_q: np.ndarray, target: np.ndarray, m: np.ndarray, scale: np.ndarray,
             limit: int, bias: np.ndarray, chan, activation, iterations: int, rng,
             lam: float = REG_LAMBDA, lr: float = LEARNING_RATE) -> tuple[np.ndarray, dict]:
    """Integer matrix [K, O] on the grid |q| <= limit, by learned rounding of m / scale."""
    with _one_blas_thread():
        return _adaround(per_output(p_q, chan).astype(np.float32), target.astype(np.float32), m,
                         scale, limit, bias.astype(np.float32), activation, iterations, rng,
                         lam, lr)


def _adaround(p_q, target, m, scale, limit, bias, activation, iterations, rng, lam, lr):
    w = m / scale
    floor = np.floor(w)
    nearest = np.clip(np.round(w), -limit, limit)
    rest = np.clip(w - floor, 1e-4, 1 - 1e-4)
    p0 = np.clip((rest - GAMMA) / (ZETA - GAMMA), 1e-6, 1 - 1e-6)
    v = np.log(p0 / (1 - p0))
    base = _recon(p_q, nearest * scale, bias, target, activation)
    if base == 0.0:
        return nearest, {"recon_vs_nearest": 1.0, "changed": 0.0, "kept": "nearest"}
    adam_m, adam_v = np.zeros_like(v), np.zeros_like(v)
    rows = len(p_q)
    batch = min(BATCH_ROWS, rows)
    warm = int(WARMUP * iterations)
    for t in range(iterations):
        pick = rng.choice(rows, size=batch, replace=False) if batch < rows else slice(None)
        pb, tb = p_q[pick], target[pick]
        h, sig, raw = _h(v)
        soft = floor + h
        inside = (soft > -limit) & (soft < limit)
        w_soft = (np.clip(soft, -limit, limit) * scale).astype(np.float32)
        y, dy = _activation(product(pb, w_soft) + bias, activation)
        g_y = 2.0 * (y - tb) * dy / (batch * base)
        g_h = product_grad(pb, g_y) * scale * inside
        if t >= warm:
            rel = (t - warm) / max(iterations - warm, 1)
            beta = BETA[1] + (BETA[0] - BETA[1]) * (1 - rel)
            d = 2 * h - 1
            g_h = g_h - lam * beta * np.abs(d) ** (beta - 1) * np.sign(d) * 2
        g = g_h * sig * (1 - sig) * (ZETA - GAMMA) * ((raw > 0) & (raw < 1))
        adam_m = 0.9 * adam_m + 0.1 * g
        adam_v = 0.999 * adam_v + 0.001 * g * g
        v = v - lr * (adam_m / (1 - 0.9 ** (t + 1))) / (np.sqrt(adam_v / (1 - 0.999 ** (t + 1))) + 1e-8)
    learned = np.clip(floor + (_h(v)[0] >= 0.5), -limit, limit)
    rec = _recon(p_q, learned * scale, bias, target, activation)
    info = {"recon_vs_nearest": round(rec / base, 4),   # reconstruction error / nearest's
            "changed": round(float((learned != nearest).mean()), 4)}
    if rec >= base:
        info["kept"] = "nearest"
        return nearest, info
    info["kept"] = "adaround"
    return learned, info


# --- layer by layer ------------------------------------------------------------------------

def fit_layers(ops, names, layer_bits, config, calibration, float_buf, quantize_op, *,
               progress=None, seed: int = 0) -> dict[int, dict]:
    """For every weight op: {"q", "s", "b", "clip_ratio", "info"} with AdaRound (layers below
    8 bits) and/or bias correction as the configuration asks."""
    rng = np.random.default_rng(seed)
    learned = [config.adaround and layer_bits[name] < 8 for name in names]
    taps = [Tap(op, len(calibration), rng, MAX_ROWS if ar else 0) for op, ar in zip(ops, learned)]
    gather(float_buf, calibration, taps)
    out, shared = {}, {}
    current_model, last = graph.read(float_buf), None
    for op, name, tap in zip(ops, names, taps):
        bits = layer_bits[name]
        p_f, mean_f = tap.patches()
        tap.rows = []                     # (memory: each op's float patches are used once)
        if progress is not None:
            progress(f"fitting {name} ({op.kind}, {bits} bits)")
        if last is not None:              # inputs as the quantized layers before leave them
            graph.set_float_weights(current_model, last)
            current = tap.fresh()
            gather(graph.pack(current_model), calibration, [current])
            p_q, mean_q = current.patches()
        else:
            p_q, mean_q = p_f, mean_f
        chan = _multiplier_channels(op)
        m_f = to_matrix(op.w, op.kind)
        b_f = np.zeros(m_f.shape[1]) if op.b is None else op.b.astype(np.float64)
        info = {}
        if op.filter_key in shared:
            q, s, ratio = shared[op.filter_key]
        else:
            q, s, ratio = quantize_op(op, bits, config)
            if learned[op.index]:
                scale = np.broadcast_to(s.astype(np.float64), (m_f.shape[1],))[None]
                target, _ = _activation(product(per_output(p_f, chan), m_f) + b_f, op.activation)
                q_m, info["adaround"] = adaround(
                    p_q, target, m_f, scale, ranges.grid_limit(bits), b_f, chan, op.activation,
                    config.adaround_iterations, rng)
                q = from_matrix(q_m, op).astype(np.int8)
            shared[op.filter_key] = (q, s, ratio)
        axis = op.axis if s.size > 1 else None
        w_q = q.astype(np.float64) * ranges.broadcast(s.astype(np.float64), q.ndim, axis)
        m_q = to_matrix(w_q, op.kind)
        b = op.b
        if config.bias_correction:
            delta = (product(per_output(mean_f[None], chan), m_f)
                     - product(per_output(mean_q[None], chan), m_q))[0]
            b = (b_f + delta).astype(np.float32)
            info["bias_correction"] = {
                "mean_abs_shift": float(np.abs(delta).mean()),
                "relative": float(np.abs(delta).mean() / (np.abs(b_f).mean() + 1e-12))}
        last = {op.index: (w_q.astype(np.float32), b)}
        out[op.index] = {"q": q, "s": s, "b": b, "clip_ratio": ratio, "info": info}
    return out


__all__ = ["fit_layers", "adaround", "Tap", "gather", "to_matrix", "from_matrix", "product"]
