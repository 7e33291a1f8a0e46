"""Emulated boards × MLPerf Tiny reference models: exact instructions per inference,
instructions per MAC, the latency and energy estimates the devices of params.yaml declare,
and the flash / RAM split of each build against the represented board.

    python bench/boards.py [--models kws,vww,ic,ad] [--devices m4,m7,m33,m55]

Models: tinysweep.benchmarks.reference_models (random weights, int8 PTQ on random inputs).
Each model is generated once (stages/convert.py), built per device with the device's flags and
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
    from tinysweep.workflow import Helpers
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", default="kws,vww,ic,ad")
    ap.add_argument("--devices", default="m4,m7,m33,m55")
    a = ap.parse_args(argv)
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    devices = a.devices.split(",")
    params["matrix"]["devices"] = devices
    helpers = Helpers.checked(params)
    print(f"{'model':5} {'device':6} {'MACs':>10} {'instructions':>13} {'insn/MAC':>8} "
          f"{'est. ms':>8} {'est. µJ':>8} {'flash KB':>8} {'weights':>8} {'code':>6} "
          f"{'RAM KB':>7} {'arena':>6}")
    with tempfile.TemporaryDirectory() as tmp:
        for name in a.models.split(","):
            root = Path(tmp) / name
            root.mkdir()
            tflite = reference_int8(name)
            (root / "model.tflite").write_bytes(tflite)
            run = stage("stages/convert.py", "--model", root / "model.tflite", "--profile",
                        MODELS[name][1], "--out", root / "c")
            if run.returncode:
                sys.exit(run.stderr)
            macs = json.loads((root / "c" / "model.json").read_text())["macs"]
            shape = oracle.Oracle(tflite).input_shape
            rng = np.random.default_rng(1)
            if MODELS[name][1] == "ad01":  # the device takes float32 windows and quantizes them
                x = rng.normal(0, 1, shape).astype("<f4")
            else:
                x = rng.integers(-128, 128, shape, dtype=np.int8)
            for device in devices:
                d = params["devices"][device]
                out = root / device
                args = helpers.build_args(SimpleNamespace(bench="kws", device=device, bits="8"))
                run = stage("stages/build_firmware.py", *shlex.split(args), "--model-dir",
                            root / "c", "--out", out)
                if run.returncode:
                    print(f"{name:5} {device:6} {run.stderr.strip().splitlines()[-1]}")
                    continue
                mem = json.loads((out / "build.json").read_text())["memory"]
                with runner.open_device("qemu", out / "firmware", machine=d["qemu_machine"],
                                        timeout=300) as dut:
                    dut.load(x.tobytes())
                    dut.infer(1, 0)
                    insns = dut.instructions.take(1)[0]
                est = emulator.estimate(insns, d["clock_hz"], d["cpi"]["value"],
                                        d["power"]["watts"])
                energy = "-" if est["energy_uj"] is None else f"{est['energy_uj']:.0f}"
                print(f"{name:5} {device:6} {macs:>10,} {insns:>13,} {insns / macs:>8.2f} "
                      f"{est['latency_ms']:>8.1f} {energy:>8} {mem['flash_bytes'] / 1024:>8.1f} "
                      f"{mem['flash']['weights'] / 1024:>8.1f} {mem['flash']['code'] / 1024:>6.1f} "
                      f"{mem['ram_bytes'] / 1024:>7.1f} {mem['ram']['arena'] / 1024:>6.1f}",
                      flush=True)
    print("est. ms = instructions × CPI / clock, est. µJ = power × est. ms (params.yaml devices; "
          "CPI 1.0 is an uncalibrated assumption). Flash/RAM in KB from the ELF.")


if __name__ == "__main__":
    main()
