"""CONV_2D + residual ADD run fused (tsn_conv2d_add_s8): bit-exact with tflite-micro on the host
device, and the convolution's output never gets an arena buffer."""
import json

import numpy as np
import pytest

from helpers import assert_device_equals_tflm, build_host_firmware

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


def residual_model(conv_first: bool, padding: str, stride: int, channels: int):
    """input -> conv (relu) = x; main path conv 3x3 (stride) -> conv 3x3; shortcut x (stride 1)
    or a 1x1 stride-2 conv of x created last (so it runs right before the ADD, as ResNet-8's
    stacks 2 and 3); ADD in either input order; ReLU; a dense head."""
    from tinysweep.tfcompat import keras
    keras.utils.set_random_seed(7)
    L = keras.layers
    inp = L.Input((11, 9, 3))
    x = L.Conv2D(channels, 3, padding="same", activation="relu")(inp)
    y = L.Conv2D(channels, 3, strides=stride, padding="same", activation="relu")(x)
    y = L.Conv2D(channels, 3, padding="same")(y)
    if stride == 1:
        shortcut = x
    else:
        shortcut = L.Conv2D(channels, 1, strides=stride, padding=padding)(x)
    z = L.Add()([y, shortcut] if conv_first else [shortcut, y])
    z = L.ReLU()(z)
    z = L.Dense(4)(L.Flatten()(z))
    return keras.Model(inp, z)


@pytest.mark.parametrize("conv_first,padding,stride,channels", [
    (True, "same", 1, 5),     # identity shortcut: the second main conv is fused, input 1
    (False, "same", 1, 8),    # the same with the conv output as the ADD's second input
    (True, "same", 2, 6),     # projection shortcut (1x1 stride 2) fused, SAME
    (False, "valid", 2, 7),   # VALID 1x1 stride-2 shortcut, odd channels
])
def test_fused_conv_add_is_bit_exact(conv_first, padding, stride, channels, tmp_path):
    from tinysweep.quantize import quantize_int8
    rng = np.random.default_rng(channels)
    model = residual_model(conv_first, padding, stride, channels)
    buf = quantize_int8(model, rng.normal(0, 1, (16, 11, 9, 3)).astype(np.float32))
    (tmp_path / "m.tflite").write_bytes(buf)
    firmware = build_host_firmware(tmp_path / "m.tflite", tmp_path, "ic01")
    info = json.loads((tmp_path / "c" / "model.json").read_text())
    fused = [o for o in info["ops"] if o["kernel"] == "tsn_conv2d_add_s8"]
    adds = [o for o in info["ops"] if o["op"] == "ADD"]
    assert len(fused) == 1 and adds[0]["kernel"] is None
    assert adds[0]["fused_into"] == fused[0]["node"]
    from tinysweep.codegen import read_tflite_bytes
    conv = next(op for op in read_tflite_bytes(buf).operators if op.index == fused[0]["node"])
    assert conv.outputs[0] not in {a["tensor"] for a in info["arena"]}  # never materialized
    assert {s["node"] for s in info["scratch"]} >= {fused[0]["node"]}
    xs = rng.integers(-128, 128, (6, 11, 9, 3), dtype=np.int8)
    assert_device_equals_tflm(firmware, buf, xs, f"residual {padding} s{stride}")
