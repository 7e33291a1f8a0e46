"""Serial faults: seeded runs of the accuracy pass through the fault-injecting proxy
(tinysweep/faults.py) on the host device and on QEMU m4, one table row per fault kind and device.

    python bench/serial_faults.py [--runs 50] [--devices host,m4] [--kinds drop,...] [--inputs 3]

The model is the tests' small DS-CNN (tests/conftest.py, KWS-shaped, random weights), built for
the host port and for the m4 device of params.yaml as the tests do (tests/helpers.py). Each run
is a new connection through the proxy: get in step, `profile`, the accuracy pass over --inputs
random inputs, with one fault (tinysweep.faults.plan: seed = run number) at a byte offset within
the traffic of a fault-free run. A run counts as injected when its fault fired; "correct" means
outputs and m-results identical to the fault-free run's, "failed cleanly" a one-line DeviceError
naming the port; "wrong" must stay 0 (as must "unclean": any other exception).
--kinds mixed: --per-run faults of seeded kinds in each run. --unguarded: the control, a plain
runner without the safeguards, to show that the faults do produce wrong results there.
"""
import argparse
import collections
import datetime
import random
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))  # the tests' small model and firmware builders


def small_kws_tflite(root: Path) -> Path:
    from conftest import build_small_dscnn
    from tinysweep.quantize import quantize_int8
    calib = np.random.default_rng(0).normal(0, 3, (32, 49, 10, 1)).astype(np.float32)
    path = root / "small_kws_int8.tflite"
    path.write_bytes(quantize_int8(build_small_dscnn(), calib))
    return path


def device(name: str, tflite: Path, root: Path):
    from helpers import build_board_firmware, build_host_firmware
    from tinysweep import faults
    if name == "host":
        return faults.HostDevice(build_host_firmware(tflite, root / "host"))
    entry, firmware = build_board_firmware(tflite, root / name, name)
    return faults.QemuDevice(firmware, entry["qemu_machine"])


def unguarded_session(url, inputs, num_outputs, num_results, timeout, **_):
    """The control: the protocol as a plain runner speaks it — `db load`, `db`, `infer 1 0`,
    `outputs` once each, no retries, no verification, no second read."""
    from tinysweep.runner import Dut
    with Dut.from_url(url, timeout=timeout) as dut:
        dut.resync()
        outputs, results = [], []
        for data in inputs:
            dut.load(data)
            results.append(dut.infer(1, 0, timeout=timeout, expected=num_results)[0])
            outputs.append(dut.outputs(expected=num_outputs))
    return np.stack(outputs), results


def faults_for(kind: str, seed: int, traffic: dict, per_run: int) -> list:
    """One fault of `kind`, or for kind "mixed" `per_run` faults of seeded kinds."""
    from tinysweep import faults
    if kind != "mixed":
        return [faults.plan(kind, seed, traffic)]
    rng = random.Random(f"mixed:{seed}")
    return [faults.plan(rng.choice(faults.KINDS), seed * 1000 + j, traffic)
            for j in range(per_run)]


def main(argv=None):
    from tinysweep import faults
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=50, help="seeded runs per fault kind and device")
    ap.add_argument("--devices", default="host,m4")
    ap.add_argument("--kinds", default=",".join(faults.KINDS),
                    help=f"among {', '.join(faults.KINDS)}, and mixed (--per-run faults of any kind)")
    ap.add_argument("--per-run", type=int, default=3, help="faults per run of kind mixed")
    ap.add_argument("--inputs", type=int, default=3, help="inputs of each accuracy pass")
    ap.add_argument("--timeout", type=float, default=2.0, help="seconds per command")
    ap.add_argument("--verbose", action="store_true", help="print every run")
    ap.add_argument("--unguarded", action="store_true",
                    help="control: a plain runner without the safeguards (wrong results expected)")
    a = ap.parse_args(argv)
    inputs = [x.tobytes() for x in
              np.random.default_rng(1).integers(-128, 128, (a.inputs, 490)).astype(np.int8)]
    args = {"inputs": inputs, "num_outputs": 12, "num_results": 12, "timeout": a.timeout}
    rows, sizes = [], []
    start = time.monotonic()
    with tempfile.TemporaryDirectory() as tmp:
        tflite = small_kws_tflite(Path(tmp))
        for name in a.devices.split(","):
            with faults.FaultProxy(device(name, tflite, Path(tmp))) as proxy:
                expected, traffic = faults.baseline(proxy, **args)
                sizes.append(f"{name} {traffic['to-device']} B to the device, "
                             f"{traffic['from-device']} B from it")
                for kind in a.kinds.split(","):
                    counts = collections.Counter()
                    t0 = time.monotonic()
                    for seed in range(a.runs):
                        plan = faults_for(kind, seed, traffic, a.per_run)
                        outcome, error, fired = faults.run(
                            proxy, plan, expected,
                            using=unguarded_session if a.unguarded else faults.session, **args)
                        if not fired:
                            counts["not fired"] += 1
                            continue
                        counts[outcome] += 1
                        if a.verbose or (outcome in ("wrong", "unclean error")
                                         and not a.unguarded):
                            print(f"  {name} {', '.join(map(str, plan))}: {outcome}"
                                  + (f": {error}" if error else ""),
                                  file=sys.stderr)
                    rows.append((kind, name, sum(counts[o] for o in faults.OUTCOMES),
                                 *(counts[o] for o in faults.OUTCOMES), counts["not fired"],
                                 time.monotonic() - t0))
                    print(f"  {kind} on {name}: {dict(counts)} in {rows[-1][-1]:.0f} s",
                          file=sys.stderr)
    print(f"Serial faults{' (UNGUARDED control)' if a.unguarded else ''}, "
          f"{datetime.date.today()}: {a.runs} seeded runs per fault kind and "
          f"device, accuracy pass of {a.inputs} inputs (traffic of a fault-free run: "
          f"{'; '.join(sizes)}), {time.monotonic() - start:.0f} s")
    print()
    print("| fault | device | runs injected | completed correctly | failed cleanly | "
          "wrong results | unclean errors | not fired | seconds |")
    print("|---|---|--:|--:|--:|--:|--:|--:|--:|")
    for kind, name, injected, correct, failed, wrong, unclean, not_fired, seconds in rows:
        print(f"| {kind} | {name} | {injected} | {correct} | {failed} | {wrong} | {unclean} | "
              f"{not_fired} | {seconds:.0f} |")
    return 1 if any(r[5] or r[6] for r in rows) and not a.unguarded else 0


if __name__ == "__main__":
    sys.exit(main())
