"""The four MLPerf Tiny reference architectures, end to end and bit-exact.

Each model is built in Keras with random weights (BatchNorm statistics randomized too, so the
converter's folding matters), quantized with full int8 PTQ on random calibration data of a
plausible range, generated to C, built into the HOST firmware and driven over its
pseudo-terminal with the MLPerf Tiny serial protocol (`db load`, `infer 1 0`, then the
tinysweep `outputs` extension). Every int8 output of every input must equal tflite-micro's.
"""
import json

import numpy as np
import pytest

from helpers import build_host_firmware

pytestmark = [
    pytest.mark.slow,
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),
    pytest.mark.filterwarnings("ignore::UserWarning"),
]

N_INPUTS = 8


def _randomize(model, rng):
    for layer in model.layers:
        weights = layer.get_weights()
        if not weights:
            continue
        if type(layer).__name__ == "BatchNormalization":
            gamma, beta, mean, var = weights
            new = [rng.uniform(0.5, 1.5, gamma.shape), rng.normal(0, 0.2, beta.shape),
                   rng.normal(0, 0.2, mean.shape), rng.uniform(0.5, 1.5, var.shape)]
        else:
            new = []
            for w in weights:
                if w.ndim == 1:
                    new.append(rng.normal(0, 0.1, w.shape))
                else:
                    fan_in = int(np.prod(w.shape[:-1])) if w.shape[-1] > 1 or w.ndim != 4 else \
                        int(np.prod(w.shape[:2]))
                    new.append(rng.normal(0, 1.4 / np.sqrt(max(fan_in, 1)), w.shape))
        layer.set_weights([np.asarray(w, np.float32) for w in new])


def build_kws():
    from tinysweep.benchmarks.kws import build_dscnn
    return build_dscnn(), lambda rng, n: rng.normal(0, 8, (n, 49, 10, 1))


def build_vww():
    """MobileNetV1 alpha 0.25 at 96x96x3 as mlcommons/tiny's vww_model.py builds it (Conv 3x3
    s2, 13 depthwise-separable blocks, BN + ReLU after every conv), except that the head is
    GlobalAveragePooling2D (-> MEAN, as keras.applications.MobileNet) instead of a full-map
    AveragePooling2D, so that MEAN is exercised end to end."""
    from tinysweep.tfcompat import keras
    L = keras.layers

    def bn_relu(x):
        return L.Activation("relu")(L.BatchNormalization()(x))

    x = inputs = L.Input((96, 96, 3))
    x = bn_relu(L.Conv2D(8, 3, strides=2, padding="same")(x))
    for filters, stride in ((16, 1), (32, 2), (32, 1), (64, 2), (64, 1), (128, 2), (128, 1),
                            (128, 1), (128, 1), (128, 1), (128, 1), (256, 2), (256, 1)):
        x = bn_relu(L.DepthwiseConv2D(3, strides=stride, padding="same")(x))
        x = bn_relu(L.Conv2D(filters, 1, padding="same")(x))
    x = L.GlobalAveragePooling2D()(x)
    outputs = L.Dense(2, activation="softmax")(x)
    return keras.Model(inputs, outputs), lambda rng, n: rng.uniform(0, 1, (n, 96, 96, 3))


def build_ic():
    """ResNet-8 (mlcommons/tiny benchmark/training/image_classification/keras_model.py)."""
    from tinysweep.tfcompat import keras
    L = keras.layers
    l2 = keras.regularizers.l2(1e-4)

    def conv(x, filters, strides=1, kernel=3):
        return L.Conv2D(filters, kernel, strides=strides, padding="same",
                        kernel_initializer="he_normal", kernel_regularizer=l2)(x)

    inputs = L.Input((32, 32, 3))
    x = L.Activation("relu")(L.BatchNormalization()(conv(inputs, 16)))
    # stack 1: identity shortcut
    y = L.Activation("relu")(L.BatchNormalization()(conv(x, 16)))
    y = L.BatchNormalization()(conv(y, 16))
    x = L.Activation("relu")(L.add([x, y]))
    # stacks 2 and 3: stride 2, 1x1 stride-2 convolution shortcut
    for filters in (32, 64):
        y = L.Activation("relu")(L.BatchNormalization()(conv(x, filters, strides=2)))
        y = L.BatchNormalization()(conv(y, filters))
        x = L.Activation("relu")(L.add([conv(x, filters, strides=2, kernel=1), y]))
    x = L.AveragePooling2D(pool_size=int(min(x.shape[1:3])))(x)
    x = L.Flatten()(x)
    outputs = L.Dense(10, activation="softmax", kernel_initializer="he_normal")(x)
    return keras.Model(inputs, outputs), lambda rng, n: rng.uniform(0, 255, (n, 32, 32, 3))


def build_ad():
    """FC autoencoder 640-128x4-8-128x4-640 with BatchNorm + ReLU after every hidden Dense."""
    from tinysweep.tfcompat import keras
    L = keras.layers
    x = inputs = L.Input((640,))
    for units in (128, 128, 128, 128, 8, 128, 128, 128, 128):
        x = L.Activation("relu")(L.BatchNormalization()(L.Dense(units)(x)))
    outputs = L.Dense(640)(x)
    return keras.Model(inputs, outputs), lambda rng, n: rng.normal(-30, 12, (n, 640))


INPLACE_KERNELS = {"tsn_conv2d_1x1_inplace_s8", "tsn_conv2d_inplace_s8",
                   "tsn_depthwise_conv2d_inplace_s8"}

# name: (builder, profile, ops the converted model must contain)
MODELS = {
    "kws": (build_kws, "kws01", {"CONV_2D", "DEPTHWISE_CONV_2D", "AVERAGE_POOL_2D",
                                 "FULLY_CONNECTED", "SOFTMAX"}),
    "vww": (build_vww, "vww01", {"MEAN", "DEPTHWISE_CONV_2D", "CONV_2D", "SOFTMAX"}),
    "ic": (build_ic, "ic01", {"ADD", "CONV_2D", "AVERAGE_POOL_2D", "SOFTMAX"}),
    "ad": (build_ad, "ad01", {"FULLY_CONNECTED"}),
}


def run_tflm(buf, xs):
    from tflite_micro import runtime
    it = runtime.Interpreter.from_bytes(buf, arena_size=4 << 20)
    outs = []
    for x in xs:
        it.set_input(x[None], 0)
        it.invoke()
        outs.append(np.array(it.get_output(0)).reshape(-1))
    return np.stack(outs)


@pytest.mark.parametrize("name", list(MODELS))
def test_mlperf_model_is_bit_exact_over_serial(name, tmp_path):
    from tinysweep.codegen import read_tflite_bytes
    from tinysweep.quantize import quantize_int8
    from tinysweep.runner import open_device
    from tinysweep.tfcompat import keras

    builder, profile, must_have = MODELS[name]
    rng = np.random.default_rng(sum(map(ord, name)))
    keras.utils.set_random_seed(17)
    model, calibration = builder()
    _randomize(model, rng)
    buf = quantize_int8(model, calibration(rng, 24).astype(np.float32))
    tflite = tmp_path / f"{name}.tflite"
    tflite.write_bytes(buf)
    m = read_tflite_bytes(buf)
    ops = {op.opcode for op in m.operators}
    assert must_have <= ops, f"{name}: {sorted(must_have - ops)} missing from {sorted(ops)}"

    firmware = build_host_firmware(tflite, tmp_path, profile)
    kernels = {o["kernel"] for o in json.loads((tmp_path / "c" / "model.json").read_text())["ops"]}
    assert bool(kernels & INPLACE_KERNELS) == (name != "ad"), sorted(kernels)  # exercised
    shape = m.tensor(m.inputs[0]).shape[1:]
    xs = np.stack([rng.integers(-128, 128, shape, dtype=np.int8) for _ in range(N_INPUTS)])
    expected = run_tflm(buf, xs)
    n_out = expected.shape[1]
    assert n_out == m.tensor(m.outputs[0]).elements
    with open_device("pty", firmware, timeout=30.0) as dut:
        for k, x in enumerate(xs):
            dut.load(x.tobytes())
            # the first input runs 2 warm-ups + 3 timed inferences on one load: the in-place
            # kernels never overwrite the model input
            dut.infer(3 if k == 0 else 1, 2 if k == 0 else 0, expected=n_out)
            got = dut.outputs(expected=n_out)
            diff = np.flatnonzero(got != expected[k])
            assert diff.size == 0, (f"{name} input {k}: {diff.size} of {n_out} outputs differ "
                                    f"from tflite-micro, first at {diff[0]}: "
                                    f"{got[diff[0]]} vs {expected[k][diff[0]]}")
