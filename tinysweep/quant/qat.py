"""Quantization-aware fine-tuning: a float Keras model trained with fake-quantized weights.

    qat_finetune(model, config, x_train, y_train, x_val, y_val, *, seed) -> keras.Model

The TFLite converter folds a BatchNormalization into the Conv2D / DepthwiseConv2D / Dense before
it (kernel x k, k = gamma / sqrt(moving_variance + epsilon) per output channel) and quantizes
the folded kernel. So QAT quantizes what the converter will quantize: the forward pass uses
Q(w k) / k, Q the symmetric b-bit quantizer of the folded kernel (per output channel, or per
tensor), and the BatchNormalizations are frozen (inference mode, moving statistics and gamma
fixed; beta still learns) so k does not move. Gradients pass Q unchanged (straight-through
estimator) to float shadow kernels. The returned model holds Q(w k) / k: once the converter
folds it, every weight lies on its layer's b-bit grid with the largest |weight| of each channel
at the grid's end, so `ptq(result, calibration, config with range "minmax")` finds the same scale
and changes no weight.

The .tflite then comes from `ptq(result, calibration, config.replace(range="minmax",
bias_correction=False, adaround=False))`: the weights stay exactly what QAT trained (AdaRound
would re-round them, bias correction re-fit the biases).

The quantizer's scale follows `config.range` (the largest |w k| / L for "minmax", a percentile
of |w k| for "percentile", the grid scale minimizing the squared error for "mse": searched at
the start, then tracked by one alternating-minimization step per use; L = 2^(b-1)-1);
every choice keeps the scale <= max|w k| / L, so the largest weight lands on +-L and min-max finds
the scale again. Training: Adam, learning rate config.qat_learning_rate decayed to 0 by a cosine
over config.qat_epochs epochs of config.qat_batch_size (None: 64); the epoch whose quantized
weights score best on the validation split (also the starting point, epoch 0) is returned.
"""
from __future__ import annotations

import time

import numpy as np

from tinysweep.quant.layers import resolve_layer_bits, walk_layers as walk

MSE_CANDIDATES = 40     # grid scales tried by range "mse", from max|w|/L down to 0.2 x that


def _kernels(layer):
    """[(kernel variable, axes of its output-channel dims, whether a following BN folds into
    it)]: depthwise kernels (..., in, mult) have channel in x mult, the others their last axis;
    a separable convolution is a depthwise then a 1x1 convolution (the BN folds into the 1x1)."""
    def depthwise(v):
        return v, (len(v.shape) - 2, len(v.shape) - 1)
    if hasattr(layer, "pointwise_kernel"):
        v = layer.pointwise_kernel
        return [(*depthwise(layer.depthwise_kernel), False), (v, (len(v.shape) - 1,), True)]
    if hasattr(layer, "depthwise_kernel"):
        return [(*depthwise(layer.depthwise_kernel), True)]
    return [(layer.kernel, (len(layer.kernel.shape) - 1,), True)]


def _folded_bn(model, weight_names) -> dict:
    """{weight layer name: its BatchNormalization layer} for each BN the converter folds into
    the layer before it: the BN is that layer's only consumer, normalizes the last axis, and the
    layer has no activation of its own."""
    out = {}
    for bn in walk(model):
        if type(bn).__name__ not in ("BatchNormalization", "BatchNormalizationV2"):
            continue
        nodes = bn.inbound_nodes
        if len(nodes) != 1 or isinstance(nodes[0].inbound_layers, list):
            continue
        prev = nodes[0].inbound_layers
        if prev.name not in weight_names or len(prev.outbound_nodes) != 1:
            continue
        if getattr(prev.activation, "__name__", "") != "linear":
            continue
        rank = len(bn.input_shape)
        if list(bn.axis) != [rank - 1]:
            continue
        out[prev.name] = bn
    return out


def _fold_factor(bn, kernel_shape, channel_axes) -> np.ndarray:
    """k = gamma / sqrt(var + eps), shaped to broadcast over the kernel."""
    var = bn.moving_variance.numpy().astype(np.float32)
    gamma = bn.gamma.numpy().astype(np.float32) if bn.gamma is not None else 1.0
    k = gamma / np.sqrt(var + np.float32(bn.epsilon))
    shape = [1] * len(kernel_shape)
    for a in channel_axes:
        shape[a] = kernel_shape[a]
    return np.broadcast_to(np.asarray(k, np.float32), (int(np.prod(shape)),)).reshape(shape)


class _Quantizer:
    """Fake quantization of one weight layer's kernel: w -> Q(w k) / k, the scale recomputed
    from the weights at every use (the MSE one tracked from a full search at the start)."""

    def __init__(self, tf, variable, channel_axes, bits: int, k: np.ndarray | None,
                 per_channel: bool, rng: str, percentile: float):
        self.variable, self.channel_axes = variable, channel_axes
        shape = tuple(int(d) for d in self.variable.shape)
        self.limit = 2 ** (bits - 1) - 1
        self.range = rng
        self.percentile = percentile
        self.k = np.ones([1] * len(shape), np.float32) if k is None else k
        # the kernel as rows, one per scale: channel dims first
        rest = tuple(a for a in range(len(shape)) if a not in self.channel_axes)
        self.perm = self.channel_axes + rest if per_channel else tuple(range(len(shape)))
        self.rows = int(np.prod([shape[a] for a in self.channel_axes])) if per_channel else 1
        self.scale_shape = ([shape[a] if a in self.channel_axes else 1 for a in range(len(shape))]
                            if per_channel else [1] * len(shape))
        self.scale = tf.Variable(tf.zeros(self.scale_shape), trainable=False)

    def _scale(self, tf, v):
        """Per-row scale of the folded kernel v (kept <= max|v| / L, see the module doc)."""
        a = tf.reshape(tf.transpose(tf.abs(v), self.perm), (self.rows, -1))
        top = tf.reduce_max(a, axis=1)
        if self.range == "percentile":
            n = int(a.shape[1])
            idx = min(n - 1, max(0, int(np.ceil(self.percentile / 100.0 * n)) - 1))
            top = tf.minimum(top, tf.sort(a, axis=1)[:, idx])
        scale = top / self.limit
        if self.range == "mse":
            f = tf.constant(np.linspace(1.0, 0.2, MSE_CANDIDATES), tf.float32)
            s = scale[None, :] * f[:, None]                          # (candidates, rows)
            safe = tf.where(s > 0, s, 1.0)[:, :, None]
            q = tf.clip_by_value(tf.round(a[None] / safe), 0, self.limit) * safe
            err = tf.reduce_sum(tf.square(q - a[None]), axis=2)      # (candidates, rows)
            scale = tf.gather(f, tf.argmin(err, axis=0)) * scale
        return tf.reshape(scale, self.scale_shape)

    def search(self, tf, w):
        """Set the held MSE scale by the full search (at the start)."""
        if self.range == "mse":
            self.scale.assign(self._scale(tf, w * self.k))

    def _tracked_mse_scale(self, tf, v):
        """One alternating-minimization (Lloyd) step from the held scale: levels q for it, then
        the scale minimizing |v - s q|^2 for those levels (<|v|, q> / <q, q>), capped at
        max|v| / L; held for the next step. Tracks the MSE scale as the weights move, at the
        cost of a few passes over the weights instead of a search over candidates."""
        a = tf.reshape(tf.transpose(tf.abs(v), self.perm), (self.rows, -1))
        top = tf.reduce_max(a, axis=1) / self.limit
        held = tf.reshape(self.scale, (self.rows, 1))
        q = tf.clip_by_value(tf.round(a / tf.where(held > 0, held, 1.0)), 0, self.limit)
        den = tf.reduce_sum(q * q, axis=1)
        s = tf.where(den > 0, tf.reduce_sum(a * q, axis=1) / tf.where(den > 0, den, 1.0), top)
        s = tf.reshape(tf.minimum(s, top), self.scale_shape)
        self.scale.assign(s)
        return s

    def __call__(self, tf, w):
        k = tf.constant(self.k)
        v = w * k
        s = self._tracked_mse_scale(tf, v) if self.range == "mse" else self._scale(tf, v)
        safe = tf.where(s > 0, s, 1.0)
        q = tf.clip_by_value(tf.round(v / safe), -self.limit, self.limit) * safe
        return tf.where(k != 0, q / tf.where(k != 0, k, 1.0), w)


def _quantizers(tf, model, bits: dict, config) -> tuple[dict, list]:
    """({weight layer: the BN folded into it}, a _Quantizer per kernel of every weight layer)."""
    layers = {layer.name: layer for layer in walk(model)}
    folded = _folded_bn(model, bits)
    out = []
    for name, b in bits.items():
        for variable, axes, folds in _kernels(layers[name]):
            bn = folded.get(name) if folds else None
            k = None if bn is None else _fold_factor(bn, tuple(variable.shape), axes)
            out.append(_Quantizer(tf, variable, axes, b, k, config.granularity == "per_channel",
                                  config.range, config.percentile))
    return folded, out


def _softmax_output(model) -> bool:
    last = model.layers[-1]
    return (getattr(getattr(last, "activation", None), "__name__", "") == "softmax"
            or type(last).__name__ == "Softmax")


def _task(model, x, y) -> str:
    """"classify" (integer labels), "reconstruct" (an autoencoder: no y, or labels beside an
    output shaped like the input, as ad's all-normal labels) or "regress" (y are the targets)."""
    out_shape = tuple(model.output_shape[1:])
    if y is None:
        return "reconstruct"
    y = np.asarray(y)
    if np.issubdtype(y.dtype, np.integer) and y.ndim == 1 and (
            _softmax_output(model) or out_shape != tuple(x.shape[1:])):
        return "classify"
    if tuple(y.shape[1:]) != out_shape and out_shape == tuple(x.shape[1:]):
        return "reconstruct"
    return "regress"


def _loss_of(model, task: str, loss):
    """The loss QAT minimizes: `loss` if given, else the model's compiled one, else sparse
    categorical cross-entropy for a classifier, MSE otherwise."""
    from tinysweep.tfcompat import keras
    if loss is None:
        loss = getattr(getattr(model, "compiled_loss", None), "_losses", None)
        if isinstance(loss, (list, tuple, dict)):   # several outputs: not ours to guess
            loss = None
    if loss is not None:
        return keras.losses.get(loss)
    if task == "classify":
        return keras.losses.SparseCategoricalCrossentropy(from_logits=not _softmax_output(model))
    return keras.losses.MeanSquaredError()


def _val_score(predict, x_val, y_val, classify: bool, loss_fn, batch_size: int = 512) -> float:
    """Higher is better: top-1 accuracy for integer labels, else minus the mean loss."""
    total = 0.0
    for i in range(0, len(x_val), batch_size):
        out = predict(x_val[i:i + batch_size])
        target = y_val[i:i + batch_size]
        if classify:
            total += float(np.sum(out.numpy().argmax(-1) == target))
        else:
            total -= float(np.mean(loss_fn(target, out))) * len(target)
    return total / len(x_val)


def qat_finetune(model, config, x_train, y_train, x_val, y_val, *, seed: int, progress=None,
                 loss=None, record: dict | None = None):
    """A copy of the float tf_keras `model` fine-tuned for config.qat_epochs with its weight
    layers fake-quantized at their bits (resolve_layer_bits) and config's granularity / range.

    y_train None (or labels of a model whose output is shaped like its input, as ad's): the
    model reconstructs its input (autoencoder). The loss: `loss`, else the model's compiled
    one, else sparse categorical cross-entropy (integer labels) or MSE. `progress`: called with
    a line of text after each epoch (as ptq's). `record`: a dict that receives what was done
    (task, loss, epochs, validation score per epoch, the epoch kept, seconds)."""
    from tinysweep.tfcompat import keras, tf

    t0 = time.time()
    bits = resolve_layer_bits(model, config)
    x_train, x_val = np.asarray(x_train), np.asarray(x_val)
    task = _task(model, x_train, y_train)
    loss_fn = _loss_of(model, task, loss)
    y_train, y_val = (x_train, x_val) if task == "reconstruct" else (np.asarray(y_train),
                                                                      np.asarray(y_val))
    classify = task == "classify"
    keras.utils.set_random_seed(seed)
    work = keras.models.clone_model(model)
    work.set_weights(model.get_weights())
    folded, quantizers = _quantizers(tf, work, bits, config)
    for bn in folded.values():
        bn.trainable = False            # inference mode: moving statistics (and so k) fixed
    kernels = [q.variable for q in quantizers]
    shadows = [tf.Variable(v.read_value(), trainable=False) for v in kernels]
    others = [v for v in work.trainable_variables if all(v is not k for k in kernels)]
    others += [bn.beta for bn in folded.values() if bn.beta is not None]
    epochs, batch = int(config.qat_epochs), int(config.qat_batch_size or 64)
    steps = max(1, epochs * -(-len(x_train) // batch))
    optimizer = keras.optimizers.Adam(learning_rate=keras.optimizers.schedules.CosineDecay(
        config.qat_learning_rate, steps))
    optimizer.build(shadows + others)   # no variables made inside train_step: one trace
    x_spec = tf.TensorSpec((None,) + x_train.shape[1:], tf.as_dtype(x_train.dtype))
    y_spec = tf.TensorSpec((None,) + y_train.shape[1:], tf.as_dtype(y_train.dtype))

    @tf.function
    def search_scales():
        for q, s in zip(quantizers, shadows):
            q.search(tf, s)

    @tf.function
    def quantize_kernels():
        for q, v, s in zip(quantizers, kernels, shadows):
            v.assign(q(tf, s))

    @tf.function(input_signature=[x_spec, y_spec])
    def train_step(x, y):
        quantize_kernels()
        with tf.GradientTape() as tape:
            out = work(x, training=True)
            value = tf.reduce_mean(loss_fn(y, out)) + tf.add_n([tf.constant(0.0)] + work.losses)
        grads = tape.gradient(value, kernels + others)
        # straight-through: d loss / d Q(w) is applied to the float shadow w
        optimizer.apply_gradients(zip(grads, shadows + others))
        return value

    predict = tf.function(lambda x: work(x, training=False), input_signature=[x_spec])

    def evaluate():
        quantize_kernels()
        return _val_score(predict, x_val, y_val, classify, loss_fn)

    order_rng = np.random.default_rng(seed)
    search_scales()
    history = [evaluate()]
    best, best_epoch = work.get_weights(), 0
    for epoch in range(1, epochs + 1):
        order = order_rng.permutation(len(x_train))
        for i in range(0, len(order), batch):
            idx = np.sort(order[i:i + batch])
            value = train_step(tf.constant(x_train[idx]), tf.constant(y_train[idx]))
        history.append(evaluate())
        if history[-1] > history[best_epoch]:
            best, best_epoch = work.get_weights(), epoch
        if progress is not None:
            progress(f"qat epoch {epoch}/{epochs}: loss {float(value):.4f}, validation "
                     f"{'accuracy' if classify else '-loss'} {history[-1]:.4f}")
    work.set_weights(best)
    for bn in folded.values():
        bn.trainable = True
    if record is not None:
        record.update({
            "epochs": epochs, "batch_size": batch, "learning_rate": config.qat_learning_rate,
            "task": task,
            "loss": getattr(loss_fn, "name", getattr(loss_fn, "__name__", str(loss_fn))),
            "val_metric": "accuracy" if classify else "-loss",
            "val_history": [round(v, 6) for v in history], "epoch_kept": best_epoch,
            "seconds": round(time.time() - t0, 2), "folded_batchnorm": sorted(folded),
            "layer_bits": dict(bits)})
    return work


__all__ = ["qat_finetune"]
