"""Emulated boards × MLPerf Tiny reference models: exact instructions per inference,
instructions per MAC, the latency and energy estimates the devices of params.yaml declare,
and the flash / RAM split of each build against the represented board.

    python bench/boards.py [--models kws,vww,ic,ad] [--devices m4,m7,m33,m55] [--bits 8,4,2]

Models: tinysweep.benchmarks.reference_models (random weights, int8 PTQ on random inputs; for
4 and 2 bits the same weights moved onto the b-bit grid, tinysweep.weight_grid.onto_grid, and
stored packed). Each model × bit-width is generated once (stages/convert.py), built per device
with the device's flags and
board (stages/build_firmware.py, as the pipeline does) and run once on its QEMU machine on one
random input; a model that does not fit a board prints the build's one-line reason.
Figures, not assertions: latency and energy are estimates (CPI and power of params.yaml).
"""
import argparse
import json
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def stage(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *map(str, args)], cwd=REPO, capture_output=True,
                          text=True)


def main(argv=None):
    from tinysweep import emulator, oracle, runner
    from tinysweep.benchmarks.reference_models import MODELS, reference_int8
    from tinysweep.weight_grid import onto_grid
    from tinysweep.workflow import Helpers
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", default="kws,vww,ic,ad")
    ap.add_argument("--devices", default="m4,m7,m33,m55")
    ap.add_argument("--bits", default="8,4,2", help="weight bit-widths (8, 4, 2)")
    a = ap.parse_args(argv)
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    devices = a.devices.split(",")
    params["matrix"]["devices"] = devices
    helpers = Helpers.checked(params)
    print(f"{'model':5} {'w':>2} {'device':6} {'MACs':>10} {'instructions':>13} {'insn/MAC':>8} "
          f"{'×w8':>5} "
          f"{'est. ms':>8} {'est. µJ':>8} {'flash KB':>8} {'weights':>8} {'code':>6} "
          f"{'RAM KB':>7} {'arena':>6} {'stack':>11}")
    with tempfile.TemporaryDirectory() as tmp:
        for name in a.models.split(","):
            int8 = reference_int8(name)
            w8 = {}  # device -> instructions at w8
            for bits in map(int, a.bits.split(",")):
                root = Path(tmp) / f"{name}_w{bits}"
                root.mkdir()
                tflite = int8 if bits == 8 else onto_grid(int8, bits)
                (root / "model.tflite").write_bytes(tflite)
                run = stage("stages/convert.py", "--model", root / "model.tflite", "--profile",
                            MODELS[name][1], "--out", root / "c", "--weight-bits", bits)
                if run.returncode:
                    sys.exit(run.stderr)
                macs = json.loads((root / "c" / "model.json").read_text())["macs"]
                shape = oracle.Oracle(tflite).input_shape
                rng = np.random.default_rng(1)
                if MODELS[name][1] == "ad01":  # the device takes float32 windows, quantizes them
                    x = rng.normal(0, 1, shape).astype("<f4")
                else:
                    x = rng.integers(-128, 128, shape, dtype=np.int8)
                for device in devices:
                    d = params["devices"][device]
                    out = root / device
                    # the build depends on the device only (bits: any declared value)
                    args = helpers.build_args(SimpleNamespace(bench="kws", device=device,
                                                              bits="8"))
                    run = stage("stages/build_firmware.py", *shlex.split(args), "--model-dir",
                                root / "c", "--out", out)
                    if run.returncode:
                        print(f"{name:5} {bits:>2} {device:6} "
                              f"{run.stderr.strip().splitlines()[-1]}")
                        continue
                    mem = json.loads((out / "build.json").read_text())["memory"]
                    with runner.open_device("qemu", out / "firmware", machine=d["qemu_machine"],
                                            timeout=300) as dut:
                        dut.load(x.tobytes())
                        dut.infer(1, 0)
                        insns = dut.instructions.take(1)[0]
                        used, reserved = dut.stack_peak()
                    w8.setdefault(device, insns if bits == 8 else None)
                    ratio = f"{insns / w8[device]:5.2f}" if w8[device] else f"{'-':>5}"
                    est = emulator.estimate(insns, d["clock_hz"], d["cpi"]["value"],
                                            d["power"]["watts"])
                    energy = "-" if est["energy_uj"] is None else f"{est['energy_uj']:.0f}"
                    print(f"{name:5} {bits:>2} {device:6} {macs:>10,} {insns:>13,} "
                          f"{insns / macs:>8.2f} {ratio} {est['latency_ms']:>8.1f} {energy:>8} "
                          f"{mem['flash_bytes'] / 1024:>8.1f} "
                          f"{mem['flash']['weights'] / 1024:>8.1f} "
                          f"{mem['flash']['code'] / 1024:>6.1f} {mem['ram_bytes'] / 1024:>7.1f} "
                          f"{mem['ram']['arena'] / 1024:>6.1f} "
                          f"{used / 1024:>4.1f} of {reserved / 1024:.0f}", flush=True)
    print("×w8 = instructions / the same model's at w8 on that device. est. ms = instructions × "
          "CPI / clock, est. µJ = power × est. ms (params.yaml devices; CPI 1.0 is an "
          "uncalibrated assumption). Flash/RAM in KB from the ELF; stack: the most used, "
          "measured (painted stack), of the KB reserved.")


if __name__ == "__main__":
    main()
