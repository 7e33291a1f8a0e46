"""Convolution shapes the reference models do not reach, on the emulated Cortex-M4's DSP path,
bit-exact with tflite-micro at w8 and w4: every remainder of the fused loop's groups modulo its
unrolling (int8: 4 groups of 4 inputs a pass, INT4: 2 of 8), a gathered stem whose filters are
not word-aligned (27 weights each), windows too long for one piece (the accumulators carried
between pieces), activations clamped short of the int8 range (the unfused requantization), and
3x3 depthwise layers of odd and even widths and heights, strides 1 and 2, multiplier 2."""
import numpy as np
import pytest
from helpers import assert_device_equals_tflm, build_board_firmware

from tinysweep.weight_grid import onto_grid

pytestmark = [
    pytest.mark.slow,
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),
    pytest.mark.filterwarnings("ignore::UserWarning"),
]

SHAPE = (13, 11, 3)


@pytest.fixture(scope="module")
def shapes_int8():
    from tinysweep.quantize import quantize_int8
    from tinysweep.tfcompat import keras
    keras.utils.set_random_seed(5)
    layers = keras.layers
    x = inputs = keras.Input(SHAPE)
    # (filters or "dw" multiplier, kernel, stride, activation); convolutions: inputs per window
    # -> int8 groups (mod 4), INT4 groups
    for filters, kernel, stride, act in [
            (16, 3, 2, None),     # 27: a gathered stem, 7 groups; 7x6 out
            ("dw1", 3, 1, None),  # 7x6, two rows a pass and one alone
            (8, 1, 1, None),      # 16: 4
            ("dw1", 3, 1, "relu"),
            (12, 3, 1, "relu"),   # 72: 18 (mod 4: 2), INT4 9; clamped
            (20, 1, 1, None),     # 12: 3
            ("dw1", 3, 2, None),  # 4x3
            (24, 1, 1, None),     # 20: 5 (mod 4: 1)
            ("dw2", 3, 1, None),  # 48 channels
            (264, 1, 1, None),    # 48: 12, INT4 6
            (8, 1, 1, None),      # 264: more than a piece, 66; INT4 33
            (16, 3, 1, None)]:    # 72: 18, INT4 9
        if isinstance(filters, str):
            x = layers.DepthwiseConv2D(kernel, strides=stride, padding="same",
                                       depth_multiplier=int(filters[2:]), activation=act)(x)
        else:
            x = layers.Conv2D(filters, kernel, strides=stride, padding="same", activation=act)(x)
    model = keras.Model(inputs, x)
    rng = np.random.default_rng(3)
    return quantize_int8(model, rng.normal(0, 1, (16, *SHAPE)).astype(np.float32))


@pytest.mark.parametrize("bits", [8, 4])
def test_convolution_shapes_on_m4_are_bit_exact(shapes_int8, bits, tmp_path):
    buf = shapes_int8 if bits == 8 else onto_grid(shapes_int8, bits)
    tflite = tmp_path / "model.tflite"
    tflite.write_bytes(buf)
    entry, firmware = build_board_firmware(tflite, tmp_path, "m4", "kws01", bits)
    rng = np.random.default_rng(bits)
    xs = rng.integers(-128, 128, (3, *SHAPE), dtype=np.int8)
    assert_device_equals_tflm(firmware, buf, xs, f"shapes w{bits} m4",
                              transport="qemu", machine=entry["qemu_machine"])
