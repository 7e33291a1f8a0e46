"""tinysweep.weight_grid: an int8 .tflite's weights requantized onto the 4- and 2-bit grids."""
import numpy as np
import pytest

from tinysweep.codegen import generate, read_tflite_bytes
from tinysweep.weight_grid import grid_factors, onto_grid, weight_ops


def _filters(buf):
    """[(int8 values, scales, bias int32 or None)] of every weight op, flatbuffer order."""
    from ai_edge_litert import schema_py_generated as schema
    m = schema.ModelT.InitFromPackedBuf(buf, 0)
    out = []
    for sg, op in weight_ops(m):
        t = sg.tensors[op.inputs[1]]
        q = np.frombuffer(bytes(bytearray(m.buffers[t.buffer].data)), np.int8)
        b = None
        if len(op.inputs) > 2 and op.inputs[2] >= 0:
            bt = sg.tensors[op.inputs[2]]
            b = np.frombuffer(bytes(bytearray(m.buffers[bt.buffer].data)), np.int32)
        out.append((q.reshape(t.shape), np.asarray(t.quantization.scale, np.float64),
                    int(t.quantization.quantizedDimension), b))
    return out


def test_grid_factors():
    q = np.array([[7, -3], [100, -127], [0, 0]], np.int8)
    assert grid_factors(q, 0, 7).tolist() == [1.0, 127 / 7, 1.0]
    assert grid_factors(q, None, 1).tolist() == [127.0]


@pytest.mark.parametrize("bits, limit", [(4, 7), (2, 1)])
def test_onto_grid_requantizes_per_channel(small_kws_tflite, bits, limit):
    buf = small_kws_tflite.read_bytes()
    new = onto_grid(buf, bits)
    before, after = _filters(buf), _filters(new)
    assert len(before) == len(after) > 0
    for (q, s, axis, b), (q2, s2, axis2, b2) in zip(before, after):
        assert axis == axis2 and q.shape == q2.shape
        assert np.abs(q2.astype(int)).max() <= limit
        shape = [1] * q.ndim
        if s.size > 1:
            shape[axis] = -1
        f = grid_factors(q, axis if s.size > 1 else None, limit)
        np.testing.assert_allclose(s2, s * f, rtol=1e-6)
        # every channel whose range exceeded the grid uses all of it
        full = np.abs(q2.astype(int)).max(axis=tuple(i for i in range(q.ndim) if i != axis))
        assert (full[f > 1] == limit).all()
        # real weights move by at most half a new step (clamping never bites)
        w, w2 = q * s.reshape(shape), q2 * (s2 * 1.0).reshape(shape)
        assert (np.abs(w - w2) <= 0.5 * s2.reshape(shape) * (1 + 1e-5)).all()
        if b is not None:
            assert np.abs(b2 - b / f).max() <= 0.5
    # packs at generation time; the interpreter runs the edited model
    g = generate(read_tflite_bytes(new), "kws01", weight_bits=bits)
    assert g.info["weights_stored_bits"] == bits
    from tinysweep import oracle
    x = np.zeros(oracle.Oracle(new).input_shape, np.int8)
    assert oracle.predict(new, x).size == 12


def test_onto_grid_refuses_other_widths(small_kws_tflite):
    with pytest.raises(ValueError):
        onto_grid(small_kws_tflite.read_bytes(), 8)
