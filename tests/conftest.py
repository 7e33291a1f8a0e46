"""Fixtures shared across the test suite: small real int8 models built with TensorFlow."""
import numpy as np
import pytest

from helpers import build_host_firmware

REPO = __import__("pathlib").Path(__file__).resolve().parents[1]


def build_small_dscnn(seed: int = 0, channels: int = 8, input_shape=(49, 10, 1), classes=12):
    """A narrow DS-CNN with the MLPerf Tiny KWS op set (conv 10x4 s2, depthwise 3x3, pointwise,
    average pool, flatten, dense, softmax), random weights."""
    from tinysweep.tfcompat import keras
    keras.utils.set_random_seed(seed)
    L = keras.layers
    x = inp = L.Input(input_shape)
    x = L.Conv2D(channels, (10, 4), strides=2, padding="same")(x)
    x = L.BatchNormalization()(x)
    x = L.ReLU()(x)
    for _ in range(2):
        x = L.DepthwiseConv2D(3, padding="same")(x)
        x = L.BatchNormalization()(x)
        x = L.ReLU()(x)
        x = L.Conv2D(channels, 1)(x)
        x = L.BatchNormalization()(x)
        x = L.ReLU()(x)
    x = L.AveragePooling2D(pool_size=(x.shape[1], x.shape[2]))(x)
    x = L.Flatten()(x)
    x = L.Dense(classes, activation="softmax")(x)
    return keras.Model(inp, x)


@pytest.fixture(scope="session")
def small_kws_tflite(tmp_path_factory):
    """Path of a small int8 KWS-shaped .tflite (random weights, random calibration data)."""
    from tinysweep.quantize import quantize_int8
    rng = np.random.default_rng(0)
    model = build_small_dscnn()
    calib = rng.normal(0, 3, (32, 49, 10, 1)).astype(np.float32)
    path = tmp_path_factory.mktemp("models") / "small_kws_int8.tflite"
    path.write_bytes(quantize_int8(model, calib))
    return path


@pytest.fixture(scope="session")
def host_firmware(tmp_path_factory, small_kws_tflite):
    """The host device built from small_kws_tflite (root: its parents[1] holds c/model.json)."""
    return build_host_firmware(small_kws_tflite, tmp_path_factory.mktemp("host_device"))
