"""Mixed precision in code generation (weight_bits "auto"): each weight tensor stored at the
narrowest width whose grid holds it, and the host device bit-exact with tflite-micro on a model
mixing int8 layers with layers on the 4- and 2-bit grids."""
import numpy as np
import pytest
from helpers import build_host_firmware, host_outputs, run_stage, tflm_outputs

from tinysweep.codegen import generate, read_tflite_bytes
from tinysweep.codegen.generate import storage_bits
from tinysweep.weight_grid import onto_grid

# the small KWS model's weight ops: conv 10x4, depthwise, pointwise, depthwise, pointwise, dense
MIXED = [4, 2, 2, 4, 8, 2]


@pytest.fixture(scope="module")
def mixed_bytes(small_kws_tflite):
    return onto_grid(small_kws_tflite.read_bytes(), MIXED)


def test_storage_width_is_the_narrowest_grid():
    assert [storage_bits(w) for w in (0, 1, 2, 7, 8, 127)] == [2, 2, 4, 4, 8, 8]


def test_auto_stores_each_tensor_at_its_grid(mixed_bytes, small_kws_tflite):
    g = generate(read_tflite_bytes(mixed_bytes), "kws01", weight_bits="auto")
    assert g.info["weight_bits_requested"] == "auto"
    by_bits = {b: v["tensors"] for b, v in g.info["weights_by_bits"].items()}
    assert by_bits == {str(b): MIXED.count(b) for b in (8, 4, 2)}
    assert "the narrowest grid holding it" in g.model_c
    # no narrower grid (int8 PTQ): the same code as weights kept as stored
    int8 = read_tflite_bytes(small_kws_tflite.read_bytes())
    assert generate(int8, "kws01", weight_bits="auto").model_c == generate(int8, "kws01").model_c
    assert generate(read_tflite_bytes(mixed_bytes), "kws01", weight_bits="auto").model_c == g.model_c


@pytest.mark.slow
def test_mixed_precision_model_on_host_equals_tflite_micro(mixed_bytes, tmp_path):
    path = tmp_path / "mixed.tflite"
    path.write_bytes(mixed_bytes)
    firmware = build_host_firmware(path, tmp_path / "dev", weight_bits="auto")
    info = (tmp_path / "dev" / "c" / "model.json").read_text()
    assert '"4"' in info and '"2"' in info and '"8"' in info   # weights_by_bits: all three
    xs = np.random.default_rng(7).integers(-128, 128, (16, 49, 10, 1), dtype=np.int8)
    ref = tflm_outputs(mixed_bytes, xs)
    np.testing.assert_array_equal(host_outputs(firmware, xs, ref.shape[1]), ref)


def test_convert_stage_auto(mixed_bytes, tmp_path):
    path = tmp_path / "mixed.tflite"
    path.write_bytes(mixed_bytes)
    run = run_stage("convert.py", "--model", path, "--profile", "kws01", "--weight-bits", "auto",
                    "--out", tmp_path / "c")
    assert run.returncode == 0, run.stderr
    assert "stored at 8/4/2-bit" in run.stdout
