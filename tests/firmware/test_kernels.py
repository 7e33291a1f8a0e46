"""Bit-exactness of the tsn C kernels against the tflite-micro Python interpreter.

Each case builds a one-op Keras model with random weights, converts it with full int8 PTQ,
reads the quantization parameters, weights and op options back from the .tflite flatbuffer,
derives kernel parameters with tinysweep.quant_math, runs the C kernel through ctypes and
compares every output byte with tflite-micro's. LiteRT (delegates off) is run on the same
inputs and its agreement recorded per op (see LITERT_MAX_DIFF and firmware/engine/README.md).
"""
import zlib
from collections import defaultdict
from dataclasses import dataclass

import numpy as np
import pytest

from tinysweep import quant_math as qm

pytestmark = [
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),
    pytest.mark.filterwarnings("ignore:Statistics for quantized inputs:UserWarning"),
]

N_INPUTS = 4  # random int8 inputs per model (plus two constant extremes)
ARENA = 1 << 20

PADDING = {0: "SAME", 1: "VALID"}
ACTIVATION = {0: "NONE", 1: "RELU", 2: "RELU_N1_TO_1", 3: "RELU6"}
ACT_CODE = {v: k for k, v in ACTIVATION.items()}

# Largest |LiteRT - tflite-micro| seen per op with OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
# over this suite (0 = identical). Checked in every case; the README table reports it.
LITERT_MAX_DIFF = {
    "CONV_2D": 1,
    "DEPTHWISE_CONV_2D": 1,
    "FULLY_CONNECTED": 1,
    "AVERAGE_POOL_2D": 0,
    "SOFTMAX": 0,
}
LITERT_STATS = defaultdict(lambda: {"values": 0, "differ": 0, "max_diff": 0})


# ---- the arithmetic helpers of tsn_math.h, through tests/firmware/requant_probe.c ---------

INT32_MIN, INT32_MAX = qm.INT32_MIN, qm.INT32_MAX


def test_srdhm_and_rounding_divide_match_gemmlowp(engine):
    rng = np.random.default_rng(11)
    edges = [INT32_MIN, INT32_MIN + 1, -(1 << 30), -3, -2, -1, 0, 1, 2, 3, 1 << 30, INT32_MAX]
    pairs = [(a, b) for a in edges for b in edges]
    pairs += [tuple(int(v) for v in rng.integers(INT32_MIN, INT32_MAX, 2, endpoint=True))
              for _ in range(3000)]
    for a, b in pairs:
        assert engine.srdhm(a, b) == qm.saturating_rounding_doubling_high_mul(a, b), (a, b)
    assert engine.srdhm(INT32_MIN, INT32_MIN) == INT32_MAX
    for x in edges + [int(v) for v in rng.integers(INT32_MIN, INT32_MAX, 500, endpoint=True)]:
        for e in range(32):
            assert engine.rounding_divide_by_pot(x, e) == qm.rounding_divide_by_pot(x, e), (x, e)
    # ties go away from zero
    assert [engine.rounding_divide_by_pot(v, 1) for v in (-5, -3, -1, 1, 3, 5)] == [-3, -2, -1, 1, 2, 3]


def test_requantize_matches_tflm_multiply_by_quantized_multiplier(engine):
    """tsn_requantize == a big-integer transcription of TFLM's MultiplyByQuantizedMultiplier
    (double rounding), including left shifts that wrap, shifts down to -31, multiplier 0."""
    rng = np.random.default_rng(12)
    xs = [INT32_MIN, INT32_MIN + 1, -(1 << 24) - 1, -65536, -1, 0, 1, 65535, 1 << 24, INT32_MAX]
    xs += [int(v) for v in rng.integers(INT32_MIN, INT32_MAX, 400, endpoint=True)]
    xs += [int(v) for v in rng.integers(-(1 << 20), 1 << 20, 400)]  # typical accumulators
    mults = [0, 1 << 30, (1 << 30) + 1, 1518500250, INT32_MAX]
    mults += [int(v) for v in rng.integers(1 << 30, 1 << 31, 6)]
    shifts = list(range(-31, 31))
    count = 0
    for m in mults:
        for s in shifts:
            for x in xs[:: 1 if s in (-31, -1, 0, 1, 30) else 23]:
                assert engine.requantize(x, m, s) == qm.multiply_by_quantized_multiplier(x, m, s), \
                    (x, m, s)
                count += 1
    assert count > 20000
    # what QuantizeMultiplier yields for multipliers below 2^-32: (0, 0) -> output 0
    m0, s0 = qm.quantize_multiplier(2.0 ** -33)
    assert (m0, s0) == (0, 0)
    assert all(engine.requantize(x, m0, s0) == 0 for x in (INT32_MIN, -1, 1, INT32_MAX))
    # ... whereas just above the threshold the shift is -31
    m1, s1 = qm.quantize_multiplier(2.0 ** -31 * 0.75)
    assert s1 == -31 and m1 > 0
    assert engine.requantize(INT32_MIN, m1, s1) == qm.multiply_by_quantized_multiplier(
        INT32_MIN, m1, s1) == -1
    # positive shift: x * 2^shift wraps modulo 2^32 before the multiply, as in TFLM
    assert engine.requantize(1 << 29, 1 << 30, 3) == qm.multiply_by_quantized_multiplier(
        1 << 29, 1 << 30, 3) == 0
    assert engine.requantize(3, 1 << 30, 4) == 24  # 3 * 16 * 0.5


def test_exp_on_negative_values_is_accurate(engine):
    """The gemmlowp exp used by softmax: Q5.26 in, Q0.31 out; exp(0) saturates to INT32_MAX.
    A sanity bound (gemmlowp's polynomial is good to ~2.3e-7); bit-exactness is what the
    softmax tests check."""
    assert engine.exp_on_negative_values_q5(0) == INT32_MAX
    rng = np.random.default_rng(13)
    for a in [-1, -(1 << 24), -(1 << 26), -(31 << 26)] + [int(v) for v in
                                                          rng.integers(-(32 << 26), 0, 2000)]:
        got = engine.exp_on_negative_values_q5(a) / 2.0 ** 31
        assert abs(got - np.exp(a / 2.0 ** 26)) < 3e-7, a


def test_get_reciprocal_is_accurate(engine):
    rng = np.random.default_rng(14)
    """GetReciprocal of a Q12 sum >= 1.0: 1/x as Q0.31 times 2^-num_bits_over_unit."""
    assert engine.get_reciprocal(1 << 19, 12) == (INT32_MAX, 0)  # 1/1.0 saturates
    for x in [(1 << 19) + 1, 3 << 19, 1 << 27, (1 << 28) - 1, INT32_MAX] + [
            int(v) for v in rng.integers(1 << 19, INT32_MAX, 2000)]:
        r, bits = engine.get_reciprocal(x, 12)
        assert abs(r / 2.0 ** 31 / 2.0 ** bits * (x / 2.0 ** 19) - 1) < 1e-8, x


# ---- model building and reading ------------------------------------------------------------

@pytest.fixture(scope="module")
def tfmods():
    from tinysweep.tfcompat import keras, tf
    return tf, keras


def _activation(tf, name):
    return {"NONE": None, "RELU": "relu", "RELU6": tf.nn.relu6}[name]


def _randomize(model, rng):
    """Random weights with channel-varying magnitudes (so per-channel scales differ) and
    non-zero biases."""
    for layer in model.layers:
        new = []
        for w in layer.get_weights():
            if w.ndim == 1:
                new.append(rng.normal(0, 0.5, w.shape).astype(np.float32))
            else:
                fan_in = int(np.prod(w.shape[:-1]))
                per_channel = rng.uniform(0.2, 2.0, w.shape[-1])
                new.append((rng.normal(0, 1, w.shape) * per_channel / np.sqrt(fan_in))
                           .astype(np.float32))
        layer.set_weights(new)


def _convert(model, rng, input_shape, sigma):
    from tinysweep.quantize import quantize_int8
    calib = (rng.normal(0, sigma, (8, *input_shape)) + rng.uniform(-sigma, sigma)).astype(np.float32)
    return quantize_int8(model, calib)


@dataclass
class TensorInfo:
    shape: tuple
    scale: np.ndarray  # float32
    zero_point: np.ndarray
    data: np.ndarray | None


@dataclass
class OpInfo:
    name: str
    options: object
    inputs: list  # TensorInfo or None (absent optional input)
    output: TensorInfo


def _read_model(buf):
    from tensorflow.lite.tools import flatbuffer_utils as fu
    return fu.read_model_from_bytearray(bytearray(buf))


def _write_model(model_t) -> bytes:
    from tensorflow.lite.tools import flatbuffer_utils as fu
    return bytes(fu.convert_object_to_bytearray(model_t))


def _builtin_names():
    from tensorflow.lite.python import schema_py_generated as schema
    return {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}


def parse_single_op(buf) -> OpInfo:
    """The one operator of a converted single-op model, with its tensors' data and quant."""
    mt = _read_model(buf)
    sg = mt.subgraphs[0]
    assert len(sg.operators) == 1, "expected a single-op model"
    op = sg.operators[0]
    code = mt.operatorCodes[op.opcodeIndex]
    name = _builtin_names()[max(code.builtinCode, code.deprecatedBuiltinCode)]
    dtypes = {0: np.float32, 2: np.int32, 9: np.int8}

    def info(index):
        if index < 0:
            return None
        t = sg.tensors[index]
        q = t.quantization
        raw = mt.buffers[t.buffer].data
        data = None
        if raw is not None and len(raw):
            data = np.frombuffer(bytes(bytearray(raw)), dtype=dtypes[t.type]).reshape(t.shape)
        return TensorInfo(tuple(int(s) for s in t.shape), np.asarray(q.scale, np.float32),
                          np.asarray(q.zeroPoint, np.int64), data)

    return OpInfo(name, op.builtinOptions, [info(i) for i in op.inputs], info(op.outputs[0]))


def mutate(buf, fn) -> bytes:
    """Apply fn(model_t, subgraph, operator) to the flatbuffer object tree and re-serialize."""
    mt = _read_model(buf)
    sg = mt.subgraphs[0]
    fn(mt, sg, sg.operators[0])
    return _write_model(mt)


def set_output_quant(scale, zero_point):
    def fn(mt, sg, op):
        q = sg.tensors[op.outputs[0]].quantization
        q.scale, q.zeroPoint = [float(scale)], [int(zero_point)]
    return fn


def set_fused_activation(name):
    def fn(mt, sg, op):
        op.builtinOptions.fusedActivationFunction = ACT_CODE[name]
    return fn


def set_per_tensor_filter():
    """Replace per-channel filter scales by their maximum (requantize the weights to match)."""
    def fn(mt, sg, op):
        t = sg.tensors[op.inputs[1]]
        scales = np.asarray(t.quantization.scale, np.float32)
        axis = t.quantization.quantizedDimension
        w = np.frombuffer(bytes(bytearray(mt.buffers[t.buffer].data)), np.int8).reshape(t.shape)
        s_new = np.float32(scales.max())
        shape = [1] * w.ndim
        shape[axis] = -1
        w_new = np.clip(np.round(w * scales.reshape(shape) / s_new), -127, 127).astype(np.int8)
        mt.buffers[t.buffer].data = np.frombuffer(w_new.tobytes(), np.uint8)
        t.quantization.scale, t.quantization.zeroPoint = [float(s_new)], [0]
        # the bias scale must follow (TFLM checks it for per-tensor FC)
        if len(op.inputs) > 2 and op.inputs[2] >= 0:
            b = sg.tensors[op.inputs[2]]
            b.quantization.scale = [float(np.float32(sg.tensors[op.inputs[0]].quantization.scale[0])
                                          * s_new)]
            b.quantization.zeroPoint = [0]
    return fn


def set_softmax_beta(beta):
    def fn(mt, sg, op):
        op.builtinOptions.beta = float(beta)
    return fn


# ---- oracles -------------------------------------------------------------------------------

def run_tflm(buf, xs):
    from tflite_micro import runtime
    it = runtime.Interpreter.from_bytes(buf, arena_size=ARENA)
    outs = []
    for x in xs:
        it.set_input(x[None].astype(np.int8), 0)
        it.invoke()
        outs.append(np.array(it.get_output(0))[0])
    return np.stack(outs)


def run_litert(buf, xs):
    from ai_edge_litert.interpreter import Interpreter, OpResolverType
    it = Interpreter(model_content=buf,
                     experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
    it.allocate_tensors()
    i_idx, o_idx = it.get_input_details()[0]["index"], it.get_output_details()[0]["index"]
    outs = []
    for x in xs:
        it.set_tensor(i_idx, x[None].astype(np.int8))
        it.invoke()
        outs.append(it.get_tensor(o_idx)[0].copy())
    return np.stack(outs)


def _rng(case_id: str):
    """A per-case generator, stable across runs and processes."""
    return np.random.default_rng(zlib.crc32(case_id.encode()))


def random_inputs(rng, shape, n=N_INPUTS):
    xs = [rng.integers(-128, 128, shape, dtype=np.int8) for _ in range(n)]
    xs += [np.full(shape, -128, np.int8), np.full(shape, 127, np.int8)]
    return np.stack(xs)


def _srdhm_np(a, m):
    """gemmlowp SaturatingRoundingDoublingHighMul, vectorized (a int32 values in int64)."""
    ab = a * m
    num = ab + np.where(ab >= 0, 1 << 30, 1 - (1 << 30))
    q = np.where(num >= 0, num >> 31, -((-num) >> 31))  # C division truncates toward zero
    return np.where((a == qm.INT32_MIN) & (m == qm.INT32_MIN), qm.INT32_MAX, q)


def litert_requantize(acc, multipliers, shifts):
    """What LiteRT's (optimized, delegates off) int8 kernels do: TFLM's double rounding except
    that the final rounding right shift rounds ties toward +inf instead of away from zero.
    acc: int64 array with output channels last."""
    m = np.asarray(multipliers, np.int64)
    s = np.asarray(shifts, np.int64)
    left = np.maximum(s, 0)
    right = np.maximum(-s, 0)
    a = ((acc << left) + (1 << 31)) % (1 << 32) - (1 << 31)  # x * 2^left, wrapped to int32
    r = _srdhm_np(a, m)
    return np.where(right > 0, (r + (np.int64(1) << np.maximum(right - 1, 0))) >> right, r)


def conv_accumulators(x, w, bias, input_offset, params, out_hw, depth_multiplier=0):
    """int64 accumulators of CONV_2D (w OHWI) or, with depth_multiplier > 0, DEPTHWISE_CONV_2D
    (w 1HW(C*M)) for one NHWC image x (H, W, C); padded positions contribute nothing."""
    h, wd, c = x.shape
    kh, kw = w.shape[1:3]
    sh, sw = params["stride_h"], params["stride_w"]
    dh, dw = params["dilation_h"], params["dilation_w"]
    pt, pl = params["pad_top"], params["pad_left"]
    oh, ow = out_hw
    need_h = max((oh - 1) * sh + (kh - 1) * dh + 1, pt + h)
    need_w = max((ow - 1) * sw + (kw - 1) * dw + 1, pl + wd)
    xp = np.zeros((need_h, need_w, c), np.int64)
    xp[pt:pt + h, pl:pl + wd] = x.astype(np.int64) + input_offset
    acc = 0
    for i in range(kh):
        for j in range(kw):
            patch = xp[i * dh:i * dh + (oh - 1) * sh + 1:sh, j * dw:j * dw + (ow - 1) * sw + 1:sw]
            if depth_multiplier:
                acc = acc + np.repeat(patch, depth_multiplier, axis=-1) * w[0, i, j].astype(np.int64)
            else:
                acc = acc + patch @ w[:, i, j, :].astype(np.int64).T
    return acc + (0 if bias is None else bias.astype(np.int64))


def check(op_name, buf, xs, ours, litert_expected=None):
    """Every byte equal to tflite-micro; LiteRT's agreement recorded and bounded, and, when
    litert_expected is given, LiteRT must equal it exactly (a model of its rounding)."""
    ref = run_tflm(buf, xs)
    assert ref.shape == ours.shape, (ref.shape, ours.shape)
    bad = np.argwhere(ref != ours)
    assert bad.size == 0, (f"{op_name}: {len(bad)} of {ref.size} outputs differ from tflite-micro; "
                           f"first at {tuple(bad[0])}: ours {ours[tuple(bad[0])]}, "
                           f"tflm {ref[tuple(bad[0])]}")
    lite = run_litert(buf, xs)
    diff = np.abs(lite.astype(np.int32) - ref.astype(np.int32))
    stats = LITERT_STATS[op_name]
    stats["values"] += diff.size
    stats["differ"] += int((diff > 0).sum())
    stats["max_diff"] = max(stats["max_diff"], int(diff.max()))
    assert diff.max() <= LITERT_MAX_DIFF[op_name], (
        f"{op_name}: LiteRT differs from tflite-micro by up to {diff.max()} LSB "
        f"({int((diff > 0).sum())} of {diff.size})")
    if litert_expected is not None:
        assert np.array_equal(lite, litert_expected), (
            f"{op_name}: LiteRT no longer matches the tie-upward rounding model "
            f"({int((lite != litert_expected).sum())} of {lite.size} differ)")


# ---- parameter derivation (what code generation does) --------------------------------------

def _pad_and_check(in_size, k, stride, dilation, padding, out_size):
    if padding == "SAME":
        out, pad = qm.same_padding(in_size, k, stride, dilation)
    else:
        out, pad = qm.valid_output(in_size, k, stride, dilation), 0
    assert out == out_size
    return pad


def conv_kernel_args(op: OpInfo, depthwise: bool):
    x, w, b = op.inputs[:3]
    o = op.options
    out = op.output
    padding = PADDING[o.padding]
    kh, kw = w.shape[1], w.shape[2]
    pad_top = _pad_and_check(x.shape[1], kh, o.strideH, o.dilationHFactor, padding, out.shape[1])
    pad_left = _pad_and_check(x.shape[2], kw, o.strideW, o.dilationWFactor, padding, out.shape[2])
    mults, shifts = qm.conv_per_channel_multipliers(x.scale[0], w.scale, out.scale[0])
    act_min, act_max = qm.activation_range(ACTIVATION[o.fusedActivationFunction], out.scale[0],
                                           int(out.zero_point[0]))
    params = dict(input_offset=-int(x.zero_point[0]), output_offset=int(out.zero_point[0]),
                  stride_h=o.strideH, stride_w=o.strideW, pad_top=pad_top, pad_left=pad_left,
                  dilation_h=o.dilationHFactor, dilation_w=o.dilationWFactor,
                  depth_multiplier=o.depthMultiplier if depthwise else 0,
                  act_min=act_min, act_max=act_max)
    return params, w.data, (None if b is None else b.data), mults, shifts, len(w.scale) > 1


# ---- CONV_2D -------------------------------------------------------------------------------

CONV_CASES = [
    # id, input HWC, filters, kernel, strides, padding, activation, dilation, bias, mutation
    ("1x1_s1_valid_c3", (7, 9, 3), 5, (1, 1), (1, 1), "valid", "NONE", 1, True, None),
    ("1x1_s2_same_c16_relu6", (9, 8, 16), 3, (1, 1), (2, 2), "same", "RELU6", 1, True, None),
    ("3x3_s1_same_c5_relu", (8, 7, 5), 7, (3, 3), (1, 1), "same", "RELU", 1, True, None),
    ("3x3_s2_same_c7_relu6", (11, 10, 7), 4, (3, 3), (2, 2), "same", "RELU6", 1, True, None),
    ("3x3_s2_valid_c3", (12, 9, 3), 8, (3, 3), (2, 2), "valid", "NONE", 1, True, None),
    ("10x4_s2_same_kws", (49, 10, 1), 8, (10, 4), (2, 2), "same", "RELU", 1, True, None),
    ("10x4_s1_valid_c2", (16, 7, 2), 3, (10, 4), (1, 1), "valid", "NONE", 1, True, None),
    ("5x3_s2x1_same_nobias", (10, 9, 4), 6, (5, 3), (2, 1), "same", "NONE", 1, False, None),
    ("2x2_s1_same_even", (6, 5, 3), 3, (2, 2), (1, 1), "same", "RELU", 1, True, None),
    # Keras dilation converts to SPACE_TO_BATCH_ND + CONV_2D + BATCH_TO_SPACE_ND; set the
    # dilation in the flatbuffer instead (SAME, stride 1: the output shape is unchanged).
    ("3x3_dil2x3_same", (11, 10, 3), 5, (3, 3), (1, 1), "same", "NONE", 1, True, "dilate"),
    ("3x3_clamp_relu6_override", (8, 8, 3), 5, (3, 3), (1, 1), "same", "RELU6", 1, True,
     "clamp"),
    ("3x3_positive_shift", (6, 6, 3), 4, (3, 3), (1, 1), "same", "NONE", 1, True, "tiny_out"),
    ("3x3_per_tensor_filter", (7, 6, 5), 3, (3, 3), (2, 2), "same", "RELU", 1, True,
     "per_tensor"),
]


def _apply_mutation(buf, mutation, rng):
    if mutation is None:
        return buf
    if mutation == "clamp":  # zp -50, scale 0.05 → ReLU6 clamp [-50, 70] is active
        buf = mutate(buf, set_output_quant(0.05, -50))
        return mutate(buf, set_fused_activation("RELU6"))
    if mutation == "tiny_out":  # output scale so small that some multipliers exceed 1
        op = parse_single_op(buf)
        s = float(op.inputs[0].scale[0] * op.inputs[1].scale.min()) / 3.0
        return mutate(buf, set_output_quant(s, 3))
    if mutation == "per_tensor":
        return mutate(buf, set_per_tensor_filter())
    if mutation == "dilate":
        def fn(mt, sg, op):
            op.builtinOptions.dilationHFactor, op.builtinOptions.dilationWFactor = 2, 3
        return mutate(buf, fn)
    raise ValueError(mutation)


@pytest.mark.parametrize("case", CONV_CASES, ids=[c[0] for c in CONV_CASES])
def test_conv2d_matches_tflm(engine, tfmods, case):
    tf, keras = tfmods
    cid, in_shape, filters, kernel, strides, padding, act, dil, bias, mutation = case
    rng = _rng(cid)
    keras.utils.set_random_seed(int(rng.integers(1 << 30)))
    x = inp = keras.layers.Input(in_shape)
    y = keras.layers.Conv2D(filters, kernel, strides=strides, padding=padding,
                            dilation_rate=dil, use_bias=bias, activation=_activation(tf, act))(x)
    model = keras.Model(inp, y)
    _randomize(model, rng)
    buf = _apply_mutation(_convert(model, rng, in_shape, sigma=float(rng.uniform(0.5, 4))),
                          mutation, rng)
    op = parse_single_op(buf)
    assert op.name == "CONV_2D"
    params, w, b, mults, shifts, per_channel = conv_kernel_args(op, depthwise=False)
    if mutation == "tiny_out":
        assert max(shifts) > 0
    if mutation == "clamp":
        assert (params["act_min"], params["act_max"]) == (-50, 70)
    if mutation == "per_tensor":
        assert not per_channel
    if mutation == "dilate":
        assert (params["dilation_h"], params["dilation_w"]) == (2, 3)
    xs = random_inputs(rng, in_shape)
    outs = []
    for xi in xs:
        status, out = engine.conv2d(params, xi[None], w, b, mults, shifts, (1, *op.output.shape[1:]),
                                    per_channel=per_channel)
        assert status == 0
        outs.append(out[0])
    lite = [litert_requantize(conv_accumulators(xi, w, b, params["input_offset"], params,
                                                op.output.shape[1:3]),
                              mults, shifts) for xi in xs]
    lite = np.clip(np.stack(lite) + params["output_offset"], params["act_min"], params["act_max"])
    check("CONV_2D", buf, xs, np.stack(outs), litert_expected=lite)


# ---- DEPTHWISE_CONV_2D ---------------------------------------------------------------------

DW_CASES = [
    # id, input HWC, multiplier, kernel, strides, padding, activation, bias, mutation
    ("3x3_s1_same_m1_c5_relu", (9, 8, 5), 1, (3, 3), (1, 1), "same", "RELU", True, None),
    ("3x3_s2_same_m1_c7", (10, 9, 7), 1, (3, 3), (2, 2), "same", "NONE", True, None),
    ("3x3_s1_valid_m2_c3_relu6", (7, 8, 3), 2, (3, 3), (1, 1), "valid", "RELU6", True, None),
    ("3x3_s2_same_m2_c5_nobias", (9, 9, 5), 2, (3, 3), (2, 2), "same", "NONE", False, None),
    ("10x4_s2_same_m1_c3", (25, 10, 3), 1, (10, 4), (2, 2), "same", "RELU", True, None),
    ("5x5_s1_same_m1_c8_clamp", (8, 7, 8), 1, (5, 5), (1, 1), "same", "RELU6", True, "clamp"),
]


@pytest.mark.parametrize("case", DW_CASES, ids=[c[0] for c in DW_CASES])
def test_depthwise_conv2d_matches_tflm(engine, tfmods, case):
    tf, keras = tfmods
    cid, in_shape, mult, kernel, strides, padding, act, bias, mutation = case
    rng = _rng(cid)
    keras.utils.set_random_seed(int(rng.integers(1 << 30)))
    x = inp = keras.layers.Input(in_shape)
    y = keras.layers.DepthwiseConv2D(kernel, strides=strides, padding=padding,
                                     depth_multiplier=mult, use_bias=bias,
                                     activation=_activation(tf, act))(x)
    model = keras.Model(inp, y)
    _randomize(model, rng)
    buf = _apply_mutation(_convert(model, rng, in_shape, sigma=float(rng.uniform(0.5, 4))),
                          mutation, rng)
    op = parse_single_op(buf)
    assert op.name == "DEPTHWISE_CONV_2D"
    params, w, b, mults, shifts, per_channel = conv_kernel_args(op, depthwise=True)
    assert params["depth_multiplier"] == mult and w.shape[-1] == in_shape[2] * mult
    xs = random_inputs(rng, in_shape)
    outs = []
    for xi in xs:
        status, out = engine.depthwise_conv2d(params, xi[None], w, b, mults, shifts,
                                              (1, *op.output.shape[1:]), per_channel=per_channel)
        assert status == 0
        outs.append(out[0])
    # LiteRT's depthwise rounding depends on the optimized kernel it picks for the shape (some
    # cases follow litert_requantize, some TFLM's double rounding, one neither): bound only.
    check("DEPTHWISE_CONV_2D", buf, xs, np.stack(outs))


# ---- FULLY_CONNECTED -----------------------------------------------------------------------

# TF 2.21's converter quantizes Dense weights PER CHANNEL (one scale per output unit); the
# per-tensor form (older converters, or _experimental_disable_per_channel_quantization_for_
# dense_layers) is produced here by rewriting the flatbuffer ("per_tensor").
FC_CASES = [
    # id, inputs, units, activation, bias, mutation
    ("37x11_bias", 37, 11, "NONE", True, None),
    ("64x10_bias_relu", 64, 10, "RELU", True, None),
    ("13x5_nobias", 13, 5, "NONE", False, None),
    ("23x9_relu6_clamp", 23, 9, "RELU6", True, "clamp"),
    ("120x20_per_tensor_bias", 120, 20, "NONE", True, "per_tensor"),
    ("50x7_per_tensor_bias_relu", 50, 7, "RELU", True, "per_tensor"),
    ("30x6_per_tensor_nobias", 30, 6, "NONE", False, "per_tensor"),
]
FC_INPUTS = 64  # rows per model, run as one batch by the kernel


@pytest.mark.parametrize("case", FC_CASES, ids=[c[0] for c in FC_CASES])
def test_fully_connected_matches_tflm(engine, tfmods, case):
    tf, keras = tfmods
    cid, n_in, n_out, act, bias, mutation = case
    rng = _rng(cid)
    keras.utils.set_random_seed(int(rng.integers(1 << 30)))
    x = inp = keras.layers.Input((n_in,))
    y = keras.layers.Dense(n_out, use_bias=bias, activation=_activation(tf, act))(x)
    model = keras.Model(inp, y)
    _randomize(model, rng)
    buf = _apply_mutation(_convert(model, rng, (n_in,), sigma=float(rng.uniform(0.5, 4))),
                          mutation, rng)
    op = parse_single_op(buf)
    assert op.name == "FULLY_CONNECTED"
    xt, w, b = (op.inputs + [None])[:3]
    out = op.output
    per_channel = len(w.scale) > 1
    if per_channel:
        mults, shifts = qm.fc_per_channel_multipliers(xt.scale[0], w.scale, out.scale[0])
    else:
        m, s = qm.fc_per_tensor_multiplier(xt.scale[0], w.scale[0], out.scale[0])
        mults, shifts = [m], [s]
    act_min, act_max = qm.activation_range(ACTIVATION[op.options.fusedActivationFunction],
                                           out.scale[0], int(out.zero_point[0]))
    params = dict(input_offset=-int(xt.zero_point[0]), output_offset=int(out.zero_point[0]),
                  act_min=act_min, act_max=act_max)
    assert per_channel == (mutation != "per_tensor")
    xs = random_inputs(rng, (n_in,), n=FC_INPUTS)
    bias = None if b is None else b.data
    # all inputs as one batch: exercises the batches argument
    status, ours = engine.fully_connected(params, xs, w.data, bias, mults, shifts,
                                          per_channel=per_channel)
    assert status == 0
    acc = (xs.astype(np.int64) + params["input_offset"]) @ w.data.astype(np.int64).T
    acc = acc + (0 if bias is None else bias.astype(np.int64))
    lite = np.clip(litert_requantize(acc, mults, shifts) + params["output_offset"], act_min, act_max)
    check("FULLY_CONNECTED", buf, xs, ours, litert_expected=lite)


# ---- AVERAGE_POOL_2D -----------------------------------------------------------------------

POOL_CASES = [
    # id, input HWC, pool, strides, padding, mutation
    ("2x2_s2_valid", (8, 9, 5), (2, 2), (2, 2), "valid", None),
    ("3x3_s1_same", (7, 6, 3), (3, 3), (1, 1), "same", None),
    ("3x3_s2_same", (9, 8, 7), (3, 3), (2, 2), "same", None),
    ("2x3_s1x2_same", (6, 11, 4), (2, 3), (1, 2), "same", None),
    ("global_25x5", (25, 5, 8), (25, 5), (1, 1), "valid", None),
    ("3x3_s2_same_c8", (9, 7, 8), (3, 3), (2, 2), "same", None),   # 4 channels a pass (DSP)
    ("global_17x16_c4", (17, 16, 4), (17, 16), (1, 1), "valid", None),  # 272 > 255 positions
    ("3x3_s2_same_relu6_clamp", (8, 8, 3), (3, 3), (2, 2), "same", "pool_clamp"),
]


@pytest.mark.parametrize("case", POOL_CASES, ids=[c[0] for c in POOL_CASES])
def test_avgpool_matches_tflm(engine, tfmods, case):
    tf, keras = tfmods
    cid, in_shape, pool, strides, padding, mutation = case
    rng = _rng(cid)
    x = inp = keras.layers.Input(in_shape)
    y = keras.layers.AveragePooling2D(pool, strides=strides, padding=padding)(x)
    buf = _convert(keras.Model(inp, y), rng, in_shape, sigma=float(rng.uniform(0.5, 4)))
    if mutation == "pool_clamp":
        # fused ReLU6 with in/out quant (0.05, -50) → clamp [-50, 70]
        def fn(mt, sg, op):
            for idx in (op.inputs[0], op.outputs[0]):
                q = sg.tensors[idx].quantization
                q.scale, q.zeroPoint = [0.05], [-50]
            op.builtinOptions.fusedActivationFunction = ACT_CODE["RELU6"]
        buf = mutate(buf, fn)
    op = parse_single_op(buf)
    assert op.name == "AVERAGE_POOL_2D"
    xt, out, o = op.inputs[0], op.output, op.options
    assert xt.scale[0] == out.scale[0] and xt.zero_point[0] == out.zero_point[0]
    pad_top = _pad_and_check(in_shape[0], o.filterHeight, o.strideH, 1, PADDING[o.padding],
                             out.shape[1])
    pad_left = _pad_and_check(in_shape[1], o.filterWidth, o.strideW, 1, PADDING[o.padding],
                              out.shape[2])
    act_min, act_max = qm.activation_range(ACTIVATION[o.fusedActivationFunction], out.scale[0],
                                           int(out.zero_point[0]))
    if mutation:
        assert (act_min, act_max) == (-50, 70)
    params = dict(stride_h=o.strideH, stride_w=o.strideW, filter_h=o.filterHeight,
                  filter_w=o.filterWidth, pad_top=pad_top, pad_left=pad_left,
                  act_min=act_min, act_max=act_max)
    xs = random_inputs(rng, in_shape)
    status, ours = engine.avgpool(params, xs, (len(xs), *out.shape[1:]))  # batched
    assert status == 0
    check("AVERAGE_POOL_2D", buf, xs, ours)


# ---- SOFTMAX -------------------------------------------------------------------------------

SOFTMAX_CASES = [
    # id, input shape (without batch), calibration sigma, beta override
    ("d10_sigma0.05", (10,), 0.05, None),
    ("d12_sigma1", (12,), 1.0, None),
    ("d3_sigma5", (3,), 5.0, None),
    ("d100_sigma20", (100,), 20.0, None),
    ("d257_sigma300", (257,), 300.0, None),
    ("rows4_d10_sigma2", (4, 10), 2.0, None),
    ("d16_beta0.37", (16,), 3.0, 0.37),
]


@pytest.mark.parametrize("case", SOFTMAX_CASES, ids=[c[0] for c in SOFTMAX_CASES])
def test_softmax_matches_tflm(engine, tfmods, case):
    tf, keras = tfmods
    cid, in_shape, sigma, beta = case
    rng = _rng(cid)
    x = inp = keras.layers.Input(in_shape)
    y = keras.layers.Softmax()(x)
    buf = _convert(keras.Model(inp, y), rng, in_shape, sigma=sigma)
    if beta is not None:
        buf = mutate(buf, set_softmax_beta(beta))
    op = parse_single_op(buf)
    assert op.name == "SOFTMAX"
    assert op.output.scale[0] == np.float32(1 / 256) and op.output.zero_point[0] == -128
    mult, shift, diff_min = qm.softmax_params(op.inputs[0].scale[0], op.options.beta)
    params = dict(input_multiplier=mult, input_left_shift=shift, diff_min=diff_min)
    xs = random_inputs(rng, in_shape)
    # rows with ties at the maximum and a narrow spread around it
    xs = np.concatenate([xs, (rng.integers(-3, 1, (2, *in_shape)) + 100).astype(np.int8)])
    status, ours = engine.softmax(params, xs)  # every row of every input at once
    assert status == 0
    check("SOFTMAX", buf, xs, ours)


# ---- argument checking ---------------------------------------------------------------------

def test_kernels_reject_null_and_inconsistent_shapes(engine):
    lib = engine.lib
    x = np.zeros((1, 4, 4, 3), np.int8)
    w = np.zeros((2, 3, 3, 3), np.int8)
    conv = dict(input_offset=0, output_offset=0, stride_h=1, stride_w=1, pad_top=1, pad_left=1,
                dilation_h=1, dilation_w=1, depth_multiplier=1, act_min=-128, act_max=127)
    assert engine.conv2d(conv, x, w, None, [1 << 30], [0], (1, 4, 4, 2), False)[0] == 0
    assert engine.conv2d(conv, x, w, None, [1 << 30], [0], (1, 4, 4, 3), False)[0] == -1
    assert engine.conv2d(conv, x, w[:, :, :, :2], None, [1 << 30], [0], (1, 4, 4, 2),
                         False)[0] == -1
    assert engine.conv2d({**conv, "stride_h": 0}, x, w, None, [1 << 30], [0], (1, 4, 4, 2),
                         False)[0] == -1
    assert lib.tsn_conv2d_s8(None, None, None, None, None, None, None, None, None) == -1
    dw = np.zeros((1, 3, 3, 6), np.int8)
    assert engine.depthwise_conv2d({**conv, "depth_multiplier": 2}, x, dw, None, [1 << 30], [0],
                                   (1, 4, 4, 6), False)[0] == 0
    assert engine.depthwise_conv2d(conv, x, dw, None, [1 << 30], [0], (1, 4, 4, 6),
                                   False)[0] == -1
    fc = dict(input_offset=0, output_offset=0, act_min=-128, act_max=127)
    assert engine.fully_connected(fc, np.zeros((2, 5)), np.zeros((3, 5)), None, [1 << 30], [0])[0] == 0
    assert engine.fully_connected({**fc, "act_min": 5, "act_max": 4}, np.zeros((2, 5)),
                                  np.zeros((3, 5)), None, [1 << 30], [0])[0] == -1
    assert lib.tsn_fully_connected_s8(None, None, 1, 1, None, 1, None, None, None) == -1
    pool = dict(stride_h=1, stride_w=1, filter_h=2, filter_w=2, pad_top=0, pad_left=0,
                act_min=-128, act_max=127)
    assert engine.avgpool(pool, x, (1, 3, 3, 3))[0] == 0
    assert engine.avgpool(pool, x, (1, 3, 3, 2))[0] == -1
    # a window entirely inside the padding: TFLM fails the op, so do we
    assert engine.avgpool({**pool, "pad_top": 3}, x, (1, 3, 3, 3))[0] == -1
    assert engine.avgpool({**pool, "pad_top": 3}, np.zeros((1, 4, 4, 4)), (1, 3, 3, 4))[0] == -1
    sm = dict(input_multiplier=1 << 30, input_left_shift=20, diff_min=-100)
    assert engine.softmax(sm, np.zeros((2, 7)))[0] == 0
    assert engine.softmax({**sm, "input_left_shift": 32}, np.zeros((2, 7)))[0] == -1
    assert lib.tsn_softmax_s8(None, 1, 1, None, None) == -1


def test_litert_summary(record_property):
    """Report what LiteRT (delegates off) did relative to tflite-micro in this session."""
    for op_name, stats in sorted(LITERT_STATS.items()):
        record_property(op_name, dict(stats))
        print(f"{op_name}: {stats}")
