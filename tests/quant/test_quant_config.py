"""tinysweep.quant.config and .layers: configurations from params, layer bits, one-line errors."""
import pytest

from tinysweep.quant import QuantConfig, QuantConfigError, resolve_layer_bits, weight_layers
from tinysweep.quant.layers import op_layer_names


def test_from_params_reads_every_option():
    c = QuantConfig.from_params("4qat", {
        "method": "qat", "range": "percentile", "percentile": 99.9, "granularity": "per_tensor",
        "bias_correction": True, "adaround": True, "adaround_iterations": 50,
        "layers": {"first": 8, "dense": 2}, "qat": {"epochs": 3, "learning_rate": 1e-3,
                                                    "batch_size": 32}})
    assert (c.name, c.bits, c.method, c.range, c.percentile, c.granularity) == \
        ("4qat", 4, "qat", "percentile", 99.9, "per_tensor")
    assert c.bias_correction and c.adaround and c.adaround_iterations == 50
    assert dict(c.layers) == {"first": 8, "dense": 2}
    assert (c.qat_epochs, c.qat_learning_rate, c.qat_batch_size) == (3, 1e-3, 32)
    o = c.options()
    assert o["percentile"] == 99.9 and o["qat_epochs"] == 3 and o["layers"] == {"first": 8, "dense": 2}
    assert "percentile" not in QuantConfig.from_params("8", None).options()
    assert QuantConfig.from_params(2, {}).bits == 2          # YAML may give the name as a number


@pytest.mark.parametrize("name, entry, words", [
    ("9", {}, ["9", "2-8"]),
    ("1", {}, ["1", "2-8"]),
    ("4X", {}, ["4X", "lowercase"]),
    ("4", {"method": "gptq"}, ["method", "gptq", "ptq, qat"]),
    ("4", {"range": "kl"}, ["range", "kl", "minmax, percentile, mse"]),
    ("4", {"granularity": "per_group"}, ["granularity", "per_channel, per_tensor"]),
    ("4", {"rnage": "mse"}, ["rnage", "range"]),
    ("4", {"bias_correction": "yes"}, ["bias_correction", "true or false"]),
    ("4", {"percentile": 10}, ["percentile", "(50, 100]"]),
    ("4", {"layers": {"first": 9}}, ["layers.first", "2-8"]),
    ("4", {"layers": {"conv": 1}}, ["layers.conv", "2-8"]),
    ("4", {"layers": [8]}, ["layers", "first, last"]),
    ("4", {"qat": {"epochs": -1}}, ["qat.epochs"]),
    ("4", {"qat": {"lr": 1}}, ["lr", "epochs, learning_rate, batch_size"]),
])
def test_bad_entries_get_one_line_naming_key_and_choices(name, entry, words):
    with pytest.raises(QuantConfigError) as e:
        QuantConfig.from_params(name, entry)
    msg = str(e.value)
    assert "\n" not in msg and msg.startswith(f"quantize.configs.{name}")
    for w in words:
        assert w in msg


def test_layer_bits_rules_names_and_globs(tiny):
    model, _ = tiny
    assert weight_layers(model) == ["conv_in", "dw", "pw", "fc1", "out"]
    c = QuantConfig.from_params("4", {"layers": {"first": 8, "last": 8, "fc*": 2, "dw": 3}})
    assert resolve_layer_bits(model, c) == {"conv_in": 8, "dw": 3, "pw": 4, "fc1": 2, "out": 8}
    bad = QuantConfig.from_params("4", {"layers": {"conv9": 8}})
    with pytest.raises(QuantConfigError,
                       match=r"conv9' matches no layer; layers with weights: conv_in, dw, pw, fc1, out"):
        resolve_layer_bits(model, bad)


def test_ops_find_their_layer_by_tensor_names():
    names = [["model/conv_in/Conv2D", "model/bn/FusedBatchNormV3;model/conv_in/BiasAdd"],
             ["model/batch_normalization_2/mul_1", "model/dense_1/MatMul;model/dense_1/BiasAdd"],
             ["model/dense_11/MatMul", "StatefulPartitionedCall:0"]]
    assert op_layer_names(names, ["conv_in", "dense_1", "dense_11"]) == ["conv_in", "dense_1", "dense_11"]
    # no usable names but one op per layer: graph order
    assert op_layer_names([["a"], ["b"]], ["x", "y"]) == ["x", "y"]
    with pytest.raises(ValueError, match="cannot tell which layer"):
        op_layer_names([["a"], ["b"]], ["x"])
