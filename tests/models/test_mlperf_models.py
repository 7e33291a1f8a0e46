"""The four MLPerf Tiny reference architectures, end to end and bit-exact.

Each model (tinysweep.benchmarks.reference_models: random weights, BatchNorm statistics
randomized too, full int8 PTQ on random calibration data of a plausible range) is generated to
C, built into the HOST firmware and driven over its pseudo-terminal with the MLPerf Tiny serial protocol (`db load`, `infer 1 0`, then the
tinysweep `outputs` extension). Every int8 output of every input must equal tflite-micro's, with
the portable kernels and with the Cortex-M DSP path (firmware/engine/src/tsn_dsp.h, emulated on
the host with TSN_DSP_EMULATE).
"""
import json

import numpy as np
import pytest

from helpers import assert_device_equals_tflm, build_host_firmware, run_stage

from tinysweep.benchmarks.reference_models import MODELS, reference_int8, seed_of

pytestmark = [
    pytest.mark.slow,
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),
    pytest.mark.filterwarnings("ignore::UserWarning"),
]

N_INPUTS = 8


INPLACE_KERNELS = {"tsn_conv2d_1x1_inplace_s8", "tsn_conv2d_inplace_s8",
                   "tsn_depthwise_conv2d_inplace_s8"}


@pytest.mark.parametrize("name", list(MODELS))
def test_mlperf_model_is_bit_exact_over_serial(name, tmp_path):
    from tinysweep.codegen import read_tflite_bytes

    _, profile, must_have = MODELS[name]
    rng = np.random.default_rng(seed_of(name))
    buf = reference_int8(name, rng)
    tflite = tmp_path / f"{name}.tflite"
    tflite.write_bytes(buf)
    m = read_tflite_bytes(buf)
    ops = {op.opcode for op in m.operators}
    assert must_have <= ops, f"{name}: {sorted(must_have - ops)} missing from {sorted(ops)}"

    firmware = build_host_firmware(tflite, tmp_path, profile)
    kernels = {o["kernel"] for o in json.loads((tmp_path / "c" / "model.json").read_text())["ops"]}
    assert bool(kernels & INPLACE_KERNELS) == (name != "ad"), sorted(kernels)  # exercised
    shape = m.tensor(m.inputs[0]).shape[1:]
    xs = np.stack([rng.integers(-128, 128, shape, dtype=np.int8) for _ in range(N_INPUTS)])
    assert_device_equals_tflm(firmware, buf, xs, name)

    # the same generated C with the engine's Cortex-M DSP path, emulated on the host
    run = run_stage("build_firmware.py", "--port", "host", "--model-dir", tmp_path / "c",
                    "--out", tmp_path / "build_dsp", "--cflags=-O2 -DTSN_DSP_EMULATE")
    assert run.returncode == 0, run.stderr
    assert_device_equals_tflm(tmp_path / "build_dsp" / "firmware", buf, xs, f"{name} (DSP path)")
