"""Sub-byte weights in code generation: TFLite packing, on-grid int8 packed at generation time
(weight_bits), real INT4 tensors kept packed, and end-to-end runs on the host device equal to
tflite-micro."""
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from helpers import build_host_firmware, host_outputs, run_stage, tflm_outputs

from tinysweep.codegen import Unsupported, generate, read_tflite_bytes
from tinysweep.codegen.packing import pack, unpack
from tinysweep.weight_grid import edit_tflite, onto_grid, weight_ops

HERE = Path(__file__).resolve().parent


def on_grid(buf: bytes, limit: int = 7) -> bytes:
    """Every weight requantized onto |q| <= limit (tinysweep.weight_grid)."""
    return onto_grid(buf, {7: 4, 1: 2}[limit])


def as_int4(buf: bytes) -> bytes:
    """The same model with every weight tensor stored as a real, packed INT4 tensor."""
    def edit(m):
        for sg, op in weight_ops(m):
            t = sg.tensors[op.inputs[1]]
            q = np.frombuffer(bytes(bytearray(m.buffers[t.buffer].data)), np.int8)
            m.buffers[t.buffer].data = np.frombuffer(pack(q, 4), np.uint8)
            t.type = 17
    return edit_tflite(buf, edit)


@pytest.fixture(scope="module")
def grid_bytes(small_kws_tflite):
    return on_grid(small_kws_tflite.read_bytes())


def test_packing_is_tflites():
    assert pack([1, 2, 3], 4) == bytes([0x21, 0x03])          # low nibble first, zero-padded
    assert pack([-8, 7, -1], 4) == bytes([0x78, 0x0F])
    assert pack([-2, -1, 0, 1, 1], 2) == bytes([0x4E, 0x01])  # LSB first
    rng = np.random.default_rng(3)
    for bits, (lo, hi) in ((4, (-8, 7)), (2, (-2, 1))):
        for n in (1, 3, 5, 7, 33):
            v = rng.integers(lo, hi + 1, n)
            p = pack(v, bits)
            assert len(p) == (n * bits + 7) // 8
            assert unpack(p, n, bits).tolist() == v.tolist()
    with pytest.raises(ValueError):
        pack([8], 4)


def _kernels(g):
    """Weight-reading kernels the model calls; the chain kernel's layers count as
    `chain_layer_s<bits>` (the weight width model.c gives them)."""
    chains = {f"chain_layer_s{b}" for b in re.findall(r"^    tsn_\w+_s(\d), &", g.model_c,
                                                        re.MULTILINE)}
    return chains | {o["kernel"] for o in g.info["ops"] if o["kernel"]
                     and o["kernel"] != "tsn_conv_chain_s8" and "softmax" not in o["kernel"]
                     and "pool" not in o["kernel"]}


def test_weight_bits_4_packs_on_grid_int8(grid_bytes):
    model = read_tflite_bytes(grid_bytes)
    g8, g4 = generate(model, "kws01"), generate(model, "kws01", weight_bits=4)
    assert all(k.endswith("_s8") for k in _kernels(g8))
    assert all(k.endswith("_s4") for k in _kernels(g4))
    assert g8.info["weight_bits"] == g4.info["weight_bits"] == 4   # the grid, either way
    assert (g8.info["weights_stored_bits"], g4.info["weights_stored_bits"]) == (8, 4)
    assert (g8.info["weight_bits_requested"], g4.info["weight_bits_requested"]) == (8, 4)
    filters = sum(t.elements for op in model.operators if op.opcode in
                  ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED")
                  for t in [model.tensor(op.inputs[1])])
    saved = g8.info["weights_bytes"] - g4.info["weights_bytes"]
    assert filters // 2 <= saved <= (filters + 1) // 2 + 8
    again = generate(read_tflite_bytes(grid_bytes), "kws01", weight_bits=4)
    assert (again.model_c, again.model_json) == (g4.model_c, g4.model_json)


def test_off_grid_weights_are_refused_naming_the_tensor(small_kws_tflite, grid_bytes):
    for buf, bits in ((small_kws_tflite.read_bytes(), 4), (grid_bytes, 2)):
        with pytest.raises(Unsupported) as e:
            generate(read_tflite_bytes(buf), "kws01", weight_bits=bits)
        msg = str(e.value)
        assert "\n" not in msg and f"off the {bits}-bit grid" in msg
        assert re.search(r"tensor \d+ '[^']+'", msg), msg
    with pytest.raises(ValueError):
        generate(read_tflite_bytes(grid_bytes), "kws01", weight_bits=3)


def test_convert_stage_weight_bits(small_kws_tflite, tmp_path):
    run = run_stage("convert.py", "--model", small_kws_tflite, "--profile", "kws01",
                    "--out", tmp_path / "c", "--weight-bits", "4")
    assert run.returncode != 0 and not (tmp_path / "c").exists()
    assert run.stderr.count("\n") == 1 and "off the 4-bit grid" in run.stderr


def test_real_int4_tensors_stay_packed(grid_bytes):
    g4 = generate(read_tflite_bytes(grid_bytes), "kws01", weight_bits=4)
    real = generate(read_tflite_bytes(as_int4(grid_bytes)), "kws01")
    assert all(k.endswith("_s4") for k in _kernels(real))
    assert real.info["weights_bytes"] == g4.info["weights_bytes"]
    strip = lambda s: re.sub(r"[0-9a-f]{64}|, as stored", "", s)  # noqa: E731
    assert strip(real.model_c) == strip(g4.model_c)
    # packed INT4 repacked to 2 bits only if on the ternary grid
    with pytest.raises(Unsupported, match="off the 2-bit grid"):
        generate(read_tflite_bytes(as_int4(grid_bytes)), "kws01", weight_bits=2)


def test_ternary_weights_pack_to_two_bits(small_kws_tflite):
    buf = on_grid(small_kws_tflite.read_bytes(), limit=1)
    g = generate(read_tflite_bytes(buf), "kws01", weight_bits=2)
    assert all(k.endswith("_s2") for k in _kernels(g))
    assert g.info["weights_stored_bits"] == 2 and g.info["weight_bits"] == 2


@pytest.mark.slow
def test_qat_int4_model_end_to_end(tmp_path):
    """A real INT4 model from tfmot n-bit QAT: codegen keeps every weight packed, the host
    firmware equals tflite-micro (which accepts INT4 CONV_2D, DEPTHWISE_CONV_2D and per-tensor
    FULLY_CONNECTED) on 16 random inputs."""
    path = tmp_path / "qat4.tflite"
    run = subprocess.run([sys.executable, str(HERE / "qat_int4_model.py"), str(path)],
                         capture_output=True, text=True)
    assert run.returncode == 0, run.stderr[-2000:]
    buf = path.read_bytes()
    model = read_tflite_bytes(buf)
    types = {model.tensor(op.inputs[1]).type for op in model.operators
             if op.opcode in ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED")}
    assert types == {"INT4"}
    firmware = build_host_firmware(path, tmp_path / "dev")
    xs = np.random.default_rng(5).integers(-128, 128, (16, 12 * 8), dtype=np.int8)
    xs = xs.reshape(16, 12, 8, 1)
    ref = tflm_outputs(buf, xs)
    np.testing.assert_array_equal(host_outputs(firmware, xs, ref.shape[1]), ref)


@pytest.mark.slow
def test_on_grid_kws_int4_end_to_end(grid_bytes, tmp_path):
    """The KWS-shaped model with INT4-retyped weights on the host firmware equals tflite-micro on
    the on-grid int8 model (tflite-micro refuses per-channel INT4 FULLY_CONNECTED)."""
    path = tmp_path / "kws_int4.tflite"
    path.write_bytes(as_int4(grid_bytes))
    firmware = build_host_firmware(path, tmp_path / "dev")
    xs = np.random.default_rng(6).integers(-128, 128, (16, 49, 10, 1), dtype=np.int8)
    ref = tflm_outputs(grid_bytes, xs)
    np.testing.assert_array_equal(host_outputs(firmware, xs, ref.shape[1]), ref)
