"""tinysweep.quant.fit: patches that reproduce each op, AdaRound, bias correction."""
import numpy as np
import pytest
from helpers import int8_inputs, weight_filters

from tinysweep.quant import QuantConfig, ptq
from tinysweep.quant import fit
from tinysweep.quant.graph import conversions, weight_op_pairs


def test_patches_times_matrix_reproduce_every_op(tiny):
    """Sampled patches x the filter matrix (+ bias, activation) equal the float interpreter's
    op outputs at those positions: conv stride 2 SAME, depthwise, 1x1 without bias, dense."""
    from ai_edge_litert.interpreter import Interpreter, OpResolverType
    model, x = tiny
    _, float_buf = conversions(model, x)
    ops = weight_op_pairs(*conversions(model, x))
    it = Interpreter(model_content=float_buf, experimental_preserve_all_tensors=True,
                     experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
    it.allocate_tensors()
    it.set_tensor(it.get_input_details()[0]["index"], x[:1])
    it.invoke()
    rng = np.random.default_rng(0)
    for op in ops:
        tap = fit.Tap(op, 1, rng, max_rows=16)
        tap.consume(0, it.get_tensor(op.float_input))
        p, mean = tap.patches()
        y = fit.product(fit.per_output(p, fit._multiplier_channels(op)), fit.to_matrix(op.w, op.kind))
        y, _ = fit._activation(y + (0 if op.b is None else op.b), op.activation)
        out = it.get_tensor(op.float_output).reshape(-1, y.shape[1])
        np.testing.assert_allclose(y, out[tap.position], rtol=1e-4, atol=1e-5)
        assert mean.shape == p.shape[1:]


def test_adaround_beats_nearest_rounding_on_correlated_inputs():
    rng = np.random.default_rng(0)
    base = rng.normal(size=(2000, 3))
    p = base @ rng.normal(size=(3, 24)) + 0.05 * rng.normal(size=(2000, 24))  # correlated
    m = rng.normal(0, 0.3, (24, 6))
    scale = np.abs(m).max(axis=0, keepdims=True) / 7
    target = p @ m
    q, info = fit.adaround(p, target, m, scale, 7, np.zeros(6), None, None, 300, rng)
    nearest = np.clip(np.round(m / scale), -7, 7)
    err = lambda w: ((p @ (w * scale) - target) ** 2).sum(1).mean()
    assert info["kept"] == "adaround" and err(q) < 0.7 * err(nearest)
    assert np.abs(q).max() <= 7 and np.array_equal(q, np.round(q))
    assert (np.abs(q - m / scale) < 1).all()              # rounds up or down, never further


def test_bias_correction_removes_the_mean_output_error():
    """One dense layer at 2 bits: the int8 model's mean output over the calibration set equals
    the float model's once the bias is corrected (up to int8 output rounding). The layer has no
    bias: the correction adds one."""
    from tinysweep import oracle
    from tinysweep.tfcompat import keras
    keras.utils.set_random_seed(3)
    model = keras.Sequential([keras.layers.Input((16,)), keras.layers.Dense(8, use_bias=False, name="fc")])
    x = np.random.default_rng(3).normal(1.0, 1.0, (200, 16)).astype(np.float32)
    want = model.predict(x, verbose=0).mean(axis=0)

    def mean_error(config):
        buf, info = ptq(model, x, config)
        o = oracle.Oracle(buf)
        y = (oracle.predict(buf, int8_inputs(buf, x)).astype(float) - o.output_zero_point) \
            * o.output_scale
        return np.abs(y.mean(axis=0) - want).max(), o.output_scale, info

    plain, _, _ = mean_error(QuantConfig(name="2", bits=2))
    corrected, step, info = mean_error(QuantConfig(name="2", bits=2, bias_correction=True))
    assert plain > 10 * step and corrected < 1.0 * step
    assert info["layers"][0]["bias_correction"]["mean_abs_shift"] > 0
    assert weight_filters(ptq(model, x, QuantConfig(name="2", bits=2, bias_correction=True))[0])[0][3] is not None


@pytest.mark.parametrize("granularity, adaround", [("per_channel", True), ("per_tensor", False)])
def test_full_method_on_grid_and_run_by_tflite_micro(tiny, granularity, adaround):
    from tinysweep import oracle
    model, x = tiny
    config = QuantConfig.from_params("3", {"range": "mse", "granularity": granularity,
                                           "bias_correction": True, "adaround": adaround,
                                           "adaround_iterations": 60, "layers": {"last": 8}})
    buf, info = ptq(model, x, config)
    for (q, s, s_in, bias), layer in zip(weight_filters(buf), info["layers"]):
        assert np.abs(q.astype(int)).max() <= 2 ** (layer["bits"] - 1) - 1
        np.testing.assert_array_equal(bias[1], np.float32(s_in * s))
        assert ("adaround" in layer) == (adaround and layer["bits"] < 8)
        assert "bias_correction" in layer
    assert oracle.predict(buf, int8_inputs(buf, x[:3])).shape == (3, 4)
