"""tinysweep.quant.ptq: b-bit weights on their layer's grid, a model tflite-micro runs."""
import numpy as np
import pytest
from helpers import int8_inputs, weight_filters

from tinysweep import oracle
from tinysweep.quant import QuantConfig, ptq


def test_w8_is_the_converters_model(tiny):
    from tinysweep.quantize import quantize_int8
    model, x = tiny
    buf, info = ptq(model, x, QuantConfig(name="8", bits=8))
    assert buf == quantize_int8(model, x)
    assert [l["name"] for l in info["layers"]] == ["conv_in", "dw", "pw", "fc1", "out"]
    assert info["config"] == "8" and info["bits"] == 8 and info["method"] == "ptq"


@pytest.mark.parametrize("granularity", ["per_channel", "per_tensor"])
def test_weights_lie_on_each_layers_grid(tiny, granularity):
    model, x = tiny
    config = QuantConfig.from_params("4", {"granularity": granularity,
                                           "layers": {"first": 8, "out": 2}})
    buf, info = ptq(model, x, config)
    bits = [l["bits"] for l in info["layers"]]
    assert bits == [8, 4, 4, 4, 2]
    for (q, s, s_in, bias), b in zip(weight_filters(buf), bits):
        assert np.abs(q.astype(int)).max() == 2 ** (b - 1) - 1      # on the grid, all of it used
        channels = q.shape[3] if q.shape[0] == 1 and q.ndim == 4 else q.shape[0]
        assert s.size == (1 if granularity == "per_tensor" else channels)
        if bias is not None:                     # int32 bias scale = input scale x filter scale
            np.testing.assert_array_equal(bias[1], np.float32(s_in * s))
    # tflite-micro (the oracle) runs it
    assert oracle.predict(buf, int8_inputs(buf, x[:4])).shape == (4, 4)


def test_minmax_weights_round_to_nearest(tiny):
    """Min-max scales: every float weight is within half a step of its grid value."""
    from tinysweep.quant.graph import conversions, weight_op_pairs
    model, x = tiny
    buf, _ = ptq(model, x, QuantConfig(name="3", bits=3))
    pairs = weight_op_pairs(*conversions(model, x))
    for op, (q, s, _, bias) in zip(pairs, weight_filters(buf)):
        shape = [1] * q.ndim
        shape[op.axis] = -1
        step = s.reshape(shape).astype(np.float64)
        assert (np.abs(q * step - op.w) <= 0.5 * step * (1 + 1e-6)).all()
        assert np.abs(q.astype(int)).max() <= 3
