"""A tiny functional model with every case PTQ meets: Conv2D/DepthwiseConv2D/Dense with and
without BatchNorm, a conv without bias, a residual add, softmax; random calibration inputs."""
import numpy as np
import pytest


def build_tiny(seed: int = 0):
    from tinysweep.benchmarks.reference_models import randomize
    from tinysweep.tfcompat import keras
    keras.utils.set_random_seed(seed)
    L = keras.layers
    inp = L.Input((12, 10, 1))
    c = L.ReLU()(L.BatchNormalization()(L.Conv2D(6, 3, strides=2, padding="same", name="conv_in")(inp)))
    d = L.ReLU()(L.BatchNormalization()(L.DepthwiseConv2D(3, padding="same", name="dw")(c)))
    p = L.Conv2D(6, 1, use_bias=False, name="pw")(d)
    x = L.ReLU()(L.Add()([c, p]))
    x = L.Flatten()(L.AveragePooling2D((6, 5))(x))
    x = L.ReLU()(L.BatchNormalization()(L.Dense(8, name="fc1")(x)))
    out = L.Dense(4, activation="softmax", name="out")(x)
    model = keras.Model(inp, out)
    randomize(model, np.random.default_rng(seed))
    return model


@pytest.fixture(scope="session")
def tiny():
    """(model, calibration inputs)"""
    x = np.random.default_rng(1).normal(0, 2, (40, 12, 10, 1)).astype(np.float32)
    return build_tiny(), x
