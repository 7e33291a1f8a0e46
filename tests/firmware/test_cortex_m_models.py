"""The MLPerf Tiny reference architectures on the emulated Cortex-M4 at w8 and w4: the board's
own DSP path (the asm loops: fused four-pixel MAC and requantization, 3×3 depthwise, INT4
nibbles, gathered stems, fully connected) bit-exact with tflite-micro, within its stack.

The host device runs the portable C, so only an emulated board exercises these loops on real
layer shapes: strided and padded depthwise, channels growing and shrinking in place, rows whose
width is no multiple of 4."""
import json

import numpy as np
import pytest
from helpers import assert_device_equals_tflm, build_board_firmware, reference_int8

from tinysweep.benchmarks.reference_models import MODELS, seed_of
from tinysweep.weight_grid import onto_grid

pytestmark = [
    pytest.mark.slow,
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),
    pytest.mark.filterwarnings("ignore::UserWarning"),
]

CASES = [(name, bits) for name in MODELS for bits in (8, 4)]


@pytest.mark.parametrize("name, bits", CASES, ids=[f"{n}-w{b}" for n, b in CASES])
def test_reference_model_on_m4_is_bit_exact(name, bits, tmp_path):
    from tinysweep.codegen import read_tflite_bytes
    buf = reference_int8(name) if bits == 8 else onto_grid(reference_int8(name), bits)
    tflite = tmp_path / "model.tflite"
    tflite.write_bytes(buf)
    entry, firmware = build_board_firmware(tflite, tmp_path, "m4", MODELS[name][1], bits)
    m = read_tflite_bytes(buf)
    shape = m.tensor(m.inputs[0]).shape[1:]
    rng = np.random.default_rng(seed_of(name) + bits)
    xs = np.stack([rng.integers(-128, 128, shape, dtype=np.int8) for _ in range(2)])
    qemu = {"transport": "qemu", "machine": entry["qemu_machine"]}
    counts = assert_device_equals_tflm(firmware, buf, xs, f"{name} w{bits} m4", **qemu)
    macs = json.loads((tmp_path / "c" / "model.json").read_text())["macs"]
    assert counts[0] / macs < 3  # the DSP path ran (the portable C takes 6.5 to 13)
