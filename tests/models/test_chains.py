"""Chains run row by row (tsn_conv_chain_s8): [producer conv ->] consumer conv [-> residual ADD].
Bit-exact with tflite-micro on the host device; the tensors inside a chain get no arena buffer."""
import json

import numpy as np
import pytest

from helpers import assert_device_equals_tflm, build_host_firmware

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")
SHAPE = (24, 20, 3)


def residual(conv_first: bool, stride: int, padding: str, channels: int):
    """conv (relu) = x; main path conv 3x3 (stride) -> conv 3x3; shortcut x (stride 1) or a 1x1
    stride-2 conv of x created last, so it runs right before the ADD (ResNet-8's stacks);
    ADD in either input order; ReLU; a dense head."""
    from tinysweep.tfcompat import keras
    L = keras.layers
    inp = L.Input(SHAPE)
    x = L.Conv2D(channels, 3, padding="same", activation="relu")(inp)
    y = L.Conv2D(channels, 3, strides=stride, padding="same", activation="relu")(x)
    y = L.Conv2D(channels, 3, padding="same")(y)
    shortcut = x if stride == 1 else L.Conv2D(channels, 1, strides=stride, padding=padding)(x)
    z = L.ReLU()(L.Add()([y, shortcut] if conv_first else [shortcut, y]))
    return keras.Model(inp, L.Dense(4)(L.Flatten()(z)))


def mobilenet(stride: int, padding: str, consumer: str):
    """MobileNetV1-style: conv 3x3 s2 -> depthwise -> pointwise expanding 6 -> 48 channels ->
    depthwise or conv 3x3 to 8 channels (stride, padding) -> pointwise: the expanded tensor is
    the largest, a chain removes it."""
    from tinysweep.tfcompat import keras
    L = keras.layers
    inp = L.Input(SHAPE)
    x = L.Conv2D(6, 3, strides=2, padding="same", activation="relu6")(inp)
    x = L.DepthwiseConv2D(3, padding="same", activation="relu6")(x)
    x = L.Conv2D(48, 1, activation="relu6")(x)
    if consumer == "depthwise":
        x = L.DepthwiseConv2D(3, strides=stride, padding=padding, activation="relu6")(x)
    else:
        x = L.Conv2D(8, 3, strides=stride, padding=padding, activation="relu6")(x)
    x = L.Conv2D(8, 1, activation="relu6")(x)
    return keras.Model(inp, L.Dense(3)(L.Flatten()(x)))


CASES = {  # name: (builder, args, (producer op or None, with ADD)[, weight bits])
    "identity residual, conv output first": (residual, (True, 1, "same", 5), ("CONV_2D", True)),
    "identity residual, conv output second": (residual, (False, 1, "same", 8), ("CONV_2D", True)),
    "projection shortcut SAME s2": (residual, (True, 2, "same", 6), (None, True)),
    "projection shortcut VALID s2, odd channels": (residual, (False, 2, "valid", 7), (None, True)),
    "pointwise -> depthwise s2 SAME": (mobilenet, (2, "same", "depthwise"), ("CONV_2D", False)),
    "pointwise -> depthwise s2 VALID": (mobilenet, (2, "valid", "depthwise"), ("CONV_2D", False)),
    "pointwise -> conv 3x3 s1 VALID": (mobilenet, (1, "valid", "conv"), ("CONV_2D", False)),
    "identity residual, 4-bit weights": (residual, (True, 1, "same", 6), ("CONV_2D", True), 4),
    "pointwise -> depthwise s2, 2-bit weights": (mobilenet, (2, "same", "depthwise"),
                                                 ("CONV_2D", False), 2),
}


@pytest.mark.parametrize("case", list(CASES))
def test_chain_is_bit_exact(case, tmp_path):
    from tinysweep.codegen import read_tflite_bytes
    from tinysweep.quantize import quantize_int8
    from tinysweep.tfcompat import keras
    from tinysweep.weight_grid import onto_grid
    build, args, (producer_op, with_add), *bits = CASES[case]
    bits = bits[0] if bits else 8
    keras.utils.set_random_seed(7)
    rng = np.random.default_rng(len(case))
    buf = quantize_int8(build(*args), rng.normal(0, 1, (16, *SHAPE)).astype(np.float32))
    if bits < 8:
        buf = onto_grid(buf, bits)
    (tmp_path / "m.tflite").write_bytes(buf)
    firmware = build_host_firmware(tmp_path / "m.tflite", tmp_path, "ic01", weight_bits=bits)
    info = json.loads((tmp_path / "c" / "model.json").read_text())
    chains = [o for o in info["ops"] if o["kernel"] == "tsn_conv_chain_s8"]
    fused = [o for o in info["ops"] if "fused_into" in o]
    assert chains, info["ops"]
    kinds = {(o["op"], o["fused_into"]) for o in fused}
    want = {o["node"]: ({("ADD", o["node"])} if with_add else set()) |
                       ({(producer_op, o["node"])} if producer_op else set()) for o in chains}
    assert any(want[n] <= kinds for n in want), (kinds, want)
    # every tensor computed inside a chain has no buffer
    ops = {op.index: op for op in read_tflite_bytes(buf).operators}
    arena = {a["tensor"] for a in info["arena"]}
    for o in fused:
        if o["op"] != "ADD":
            assert ops[o["node"]].outputs[0] not in arena
    for o in chains:
        if any(f["op"] == "ADD" and f["fused_into"] == o["node"] for f in fused):
            assert ops[o["node"]].outputs[0] not in arena
    xs = rng.integers(-128, 128, (6, *SHAPE), dtype=np.int8)
    assert_device_equals_tflm(firmware, buf, xs, case)
