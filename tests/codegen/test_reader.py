"""tinysweep.codegen.reader against a real int8 DS-CNN and against LiteRT's own view of it."""
import hashlib

import numpy as np
import pytest

from tinysweep.codegen.reader import (Conv2DOptions, DepthwiseConv2DOptions,
                                      FullyConnectedOptions, Pool2DOptions, SoftmaxOptions,
                                      read_tflite, read_tflite_bytes)


@pytest.fixture(scope="module")
def model(small_kws_tflite):
    return read_tflite(small_kws_tflite)


def test_graph_structure(model, small_kws_tflite):
    assert model.sha256 == hashlib.sha256(small_kws_tflite.read_bytes()).hexdigest()
    assert model.subgraph_count == 1
    assert [op.opcode for op in model.operators] == [
        "CONV_2D", "DEPTHWISE_CONV_2D", "CONV_2D", "DEPTHWISE_CONV_2D", "CONV_2D",
        "AVERAGE_POOL_2D", "RESHAPE", "FULLY_CONNECTED", "SOFTMAX"]
    assert [op.index for op in model.operators] == list(range(9))
    (i,), (o,) = model.inputs, model.outputs
    assert model.tensor(i).shape == (1, 49, 10, 1) and model.tensor(i).type == "INT8"
    assert model.tensor(o).shape == (1, 12) and model.tensor(o).type == "INT8"
    assert model.tensor(o).quant.scale == (1 / 256,) and model.tensor(o).quant.zero_point == (-128,)
    assert not model.tensor(i).is_constant


def test_typed_options(model):
    ops = model.operators
    assert ops[0].options == Conv2DOptions("SAME", 2, 2, 1, 1, "RELU")
    assert isinstance(ops[1].options, DepthwiseConv2DOptions)
    assert ops[1].options.depth_multiplier == 1 and ops[1].options.padding == "SAME"
    assert ops[2].options.padding == "VALID"
    assert ops[5].options == Pool2DOptions("VALID", 25, 5, 25, 5, "NONE")
    assert isinstance(ops[7].options, FullyConnectedOptions)
    assert ops[7].options.weights_format == "DEFAULT" and ops[7].options.activation == "NONE"
    assert ops[8].options == SoftmaxOptions(1.0)


def test_quantization_and_constant_bytes_match_litert(model, small_kws_tflite):
    from ai_edge_litert.interpreter import Interpreter
    interp = Interpreter(model_path=str(small_kws_tflite))
    details = {d["index"]: d for d in interp.get_tensor_details()}
    conv = model.operators[0]
    f = model.tensor(conv.inputs[1])
    assert f.is_constant and f.type == "INT8" and f.quant.per_channel and f.quant.axis == 0
    assert len(f.quant.scale) == f.shape[0] == 8
    dw = model.tensor(model.operators[1].inputs[1])
    assert dw.quant.axis == 3 and len(dw.quant.scale) == dw.shape[3]
    checked = 0
    for t in model.tensors:
        d = details[t.index]
        assert tuple(d["shape"]) == t.shape, t.name
        if t.quant is not None:
            np.testing.assert_array_equal(np.float32(t.quant.scale), d["quantization_parameters"]["scales"])
            np.testing.assert_array_equal(t.quant.zero_point, d["quantization_parameters"]["zero_points"])
        if t.is_constant and t.type in ("INT8", "INT32"):
            np.testing.assert_array_equal(t.array(), interp.get_tensor(t.index))
            checked += 1
    assert checked >= 10  # filters, biases, the reshape's shape


def test_optional_inputs_are_minus_one(model):
    fc = model.operators[7]
    assert len(fc.inputs) == 3 and fc.inputs[2] == -1  # no bias in this FC


@pytest.mark.parametrize("data", [b"", b"not a model", b"1234TFL3" + b"\xff" * 8])
def test_garbage_is_a_value_error(data):
    with pytest.raises(ValueError, match="tflite"):
        read_tflite_bytes(data)
