"""The four MLPerf Tiny reference architectures at 4-bit weights (and KWS at 2-bit), packed,
end to end and bit-exact.

Each int8 reference model (tinysweep.benchmarks.reference_models) has every CONV_2D,
DEPTHWISE_CONV_2D and FULLY_CONNECTED filter requantized onto the b-bit grid with a per-channel
b-bit scale (tinysweep.weight_grid.onto_grid), is generated with `convert --weight-bits b`
(every filter packed two / four to a byte and consumed packed by the s4 / s2 kernels), built into
the HOST firmware and driven over the serial protocol. Every int8 output of every input must
equal tflite-micro's on the same on-grid int8 model.
"""
import json
import re

import numpy as np
import pytest
from helpers import assert_device_equals_tflm, build_host_firmware, reference_int8

from tinysweep.benchmarks.reference_models import MODELS, seed_of
from tinysweep.weight_grid import onto_grid

pytestmark = [
    pytest.mark.slow,
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),
    pytest.mark.filterwarnings("ignore::UserWarning"),
]

N_INPUTS = 6
CASES = [(name, 4) for name in MODELS] + [("kws", 2)]


@pytest.mark.parametrize("name, bits", CASES, ids=[f"{n}-w{b}" for n, b in CASES])
def test_mlperf_model_packed_is_bit_exact_over_serial(name, bits, tmp_path):
    from tinysweep.codegen import read_tflite_bytes

    profile = MODELS[name][1]
    rng = np.random.default_rng(seed_of(name) + bits)
    buf = onto_grid(reference_int8(name), bits)
    tflite = tmp_path / f"{name}_w{bits}.tflite"
    tflite.write_bytes(buf)
    firmware = build_host_firmware(tflite, tmp_path, profile, weight_bits=bits)
    info = json.loads((tmp_path / "c" / "model.json").read_text())
    kernels = {op["kernel"] for op in info["ops"]
               if op["op"] in ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED")
               and "fused_into" not in op}
    # packed kernels, called directly or row by row by the chain kernel (in place, fused)
    assert kernels and all(k.endswith(f"_s{bits}") or k == "tsn_conv_chain_s8"
                           for k in kernels), kernels
    layers = re.findall(r"^    tsn_\w+_s(\d), &", (tmp_path / "c" / "model.c").read_text(),
                        re.MULTILINE)
    assert set(layers) <= {str(bits)}, layers

    m = read_tflite_bytes(buf)
    shape = m.tensor(m.inputs[0]).shape[1:]
    xs = np.stack([rng.integers(-128, 128, shape, dtype=np.int8) for _ in range(N_INPUTS)])
    assert_device_equals_tflm(firmware, buf, xs, f"{name} w{bits}")
