"""tinysweep.oracle: tflite-micro as reference, cross-checked with LiteRT's reference kernels."""
import os

import numpy as np
import pytest

from tinysweep import oracle


@pytest.fixture(scope="module")
def model(small_kws_tflite):
    return small_kws_tflite.read_bytes()


def test_predict_matches_litert_reference_kernels(model):
    from ai_edge_litert.interpreter import Interpreter, OpResolverType
    ref = Interpreter(model_content=model,
                      experimental_op_resolver_type=OpResolverType.BUILTIN_REF)
    ref.allocate_tensors()
    inp, out = ref.get_input_details()[0], ref.get_output_details()[0]
    xs = np.random.default_rng(0).integers(-128, 128, (5, 1, 49, 10, 1)).astype(np.int8)
    got = oracle.predict(model, xs)
    assert got.shape == (5, 12) and got.dtype == np.int8
    for x, y in zip(xs, got):
        ref.set_tensor(inp["index"], x)
        ref.invoke()
        np.testing.assert_array_equal(y, ref.get_tensor(out["index"]).reshape(-1))


def test_predict_shapes_and_types(model):
    x = np.zeros((49, 10, 1), np.int8)
    assert oracle.predict(model, x).shape == (12,)
    assert oracle.predict(model, x.reshape(-1)).shape == (12,)
    with pytest.raises(TypeError, match="int8"):
        oracle.predict(model, x.astype(np.float32))
    with pytest.raises(ValueError, match="whole number"):
        oracle.predict(model, np.zeros(700, np.int8))


def test_oracle_reports_quantization(model):
    o = oracle.Oracle(model)
    assert o.input_shape == (1, 49, 10, 1) and o.output_shape == (1, 12)
    assert o.output_scale == pytest.approx(1 / 256) and o.output_zero_point == -128
    scale, zp, shape = oracle.input_quantization(model)
    assert scale > 0 and -128 <= zp <= 127 and shape == (1, 49, 10, 1)


def test_arena_bytes_captures_c_stderr(model, capfd):
    n = oracle.arena_bytes(model)
    assert 1000 < n < 100_000 and n == oracle.arena_bytes(model)
    out, err = capfd.readouterr()
    assert "Arena allocation" not in out + err  # captured, not leaked
    os.write(2, b"fd 2 restored\n")
    assert "fd 2 restored" in capfd.readouterr().err


def test_version():
    assert oracle.version() not in ("", "unknown")
