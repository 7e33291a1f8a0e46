"""The four MLPerf Tiny reference architectures with random weights, quantized to int8.

Used by the end-to-end model tests (tests/models) and the engine benchmarks (bench/). Each model
is built in Keras, given random weights (BatchNorm statistics randomized too, so the converter's
folding matters) and quantized with full int8 PTQ on random calibration data of a plausible
range. `reference_int8(name)` is deterministic for a given name.
"""
from __future__ import annotations

import numpy as np


def randomize(model, rng):
    """Random weights of a plausible scale for every layer; BatchNorm statistics randomized."""
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


# name: (builder, profile, ops the converted model must contain)
MODELS = {
    "kws": (build_kws, "kws01", {"CONV_2D", "DEPTHWISE_CONV_2D", "AVERAGE_POOL_2D",
                                 "FULLY_CONNECTED", "SOFTMAX"}),
    "vww": (build_vww, "vww01", {"MEAN", "DEPTHWISE_CONV_2D", "CONV_2D", "SOFTMAX"}),
    "ic": (build_ic, "ic01", {"ADD", "CONV_2D", "AVERAGE_POOL_2D", "SOFTMAX"}),
    "ad": (build_ad, "ad01", {"FULLY_CONNECTED"}),
}


def seed_of(name: str) -> int:
    return sum(map(ord, name))


def reference_int8(name: str, rng=None, calibration_samples: int = 24) -> bytes:
    """The int8 .tflite of reference model `name` (kws, vww, ic, ad): random weights drawn from
    `rng` (default: seeded by the name), full int8 PTQ on random calibration inputs."""
    from tinysweep.quantize import quantize_int8
    from tinysweep.tfcompat import keras
    builder = MODELS[name][0]
    rng = np.random.default_rng(seed_of(name)) if rng is None else rng
    keras.utils.set_random_seed(17)
    model, calibration = builder()
    randomize(model, rng)
    return quantize_int8(model, calibration(rng, calibration_samples).astype(np.float32))


__all__ = ["MODELS", "randomize", "build_kws", "build_vww", "build_ic", "build_ad", "seed_of",
           "reference_int8"]
