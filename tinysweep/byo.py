"""Bring your own model: C code for any int8 .tflite, and its accuracy on a device.

    python -m tinysweep codegen MODEL.tflite --profile kws01 --out DIR
    python -m tinysweep evaluate --model MODEL.tflite --firmware FIRMWARE \
        --testset ENERGYRUNNER_DIR [--transport pty|qemu|serial --machine M --url URL]
        [--out results.csv]

`codegen` is stages/convert.py's conversion, with a summary beside tflite-micro's arena.
`evaluate` runs every sample of an EnergyRunner folder (.bin files + y_labels.csv) on the
device with `infer 1 0` (tinysweep.runner), prints each sample's outputs, the top-1 accuracy
and the agreement with the tflite-micro interpreter run on the same samples. For ad01 it sends
every window of every clip, as the official runner, and scores clips by the mean window MSE:
the metric is the AUC (scikit-learn).
Errors are one line: "<command>: <message>", exit status 1.
"""
from __future__ import annotations

import csv
import io
import sys
from pathlib import Path

import numpy as np

from tinysweep import energyrunner as er
from tinysweep import oracle as oracle_mod
from tinysweep.cli import Parser
from tinysweep.codegen import Unsupported
from tinysweep.codegen.convert import convert
from tinysweep.io import write_text_atomic
from tinysweep.evaluation import (anomaly_result, check_classes, check_testset, device_inputs,
                                  device_outputs, oracle_outputs)
from tinysweep.runner import SERIAL_RETRIES, DeviceError, open_device

COMMANDS = ("codegen", "evaluate")


def codegen(model, profile: str, out, weight_bits: int = 8) -> dict:
    """Generate C into `out`; return model.json's contents plus 'tflm_arena_bytes'."""
    info = convert(model, profile, out, weight_bits)
    return {**info, "tflm_arena_bytes": oracle_mod.arena_bytes(Path(model).read_bytes())}


def codegen_summary(info: dict, out) -> str:
    tflm = info["tflm_arena_bytes"]
    return (f"codegen: {len(info['ops'])} ops, {info['macs']:,} MACs, "
            f"{info['weights_bytes']:,} B weights, {info['arena_bytes']:,} B arena "
            f"(lower bound {info['arena_lower_bound']:,} B; tflite-micro arena {tflm:,} B, "
            f"{info['arena_bytes'] / tflm:.2f}x) -> {out}")


def evaluate(model, testset, transport: str = "pty", firmware=None, url=None,
             baud: int = 115200, timeout: float = 60.0, boot_timeout: float = 10.0,
             progress: bool = False, machine: str | None = None) -> dict:
    """Device and oracle outputs for every input of `testset` (every window of every clip for
    ad01); the profile is the one the device reports (m-model-[...]). The metric is top-1
    accuracy, or for ad01 the AUC of the clip scores (mean window MSE)."""
    from tqdm import tqdm
    er.read_folder(testset)  # a malformed y_labels.csv stops here, before a device starts
    model_bytes = Path(model).read_bytes()
    oracle = oracle_mod.Oracle(model_bytes)
    num_outputs = int(np.prod(oracle.output_shape))
    with open_device(transport, firmware, url=url, baud=baud, timeout=timeout,
                     boot_timeout=boot_timeout, machine=machine,
                     retries=SERIAL_RETRIES if transport == "serial" else 0) as dut:
        prof = er.profile(dut.profile()["model"])
        samples = er.read_folder(testset, None if prof.windowed else prof.input_bytes)
        check_testset(Path(testset), oracle)
        check_classes(testset, samples, prof)
        inputs = device_inputs(samples, prof)  # checks every clip's windows before device work
        printed = []
        with tqdm(total=len(inputs), desc=f"evaluate {prof.name}", file=sys.stderr,
                  unit="window" if prof.windowed else "sample", disable=not progress) as bar:
            device = device_outputs(dut, samples, prof, num_outputs, timeout, bar, printed)
    ref = oracle_outputs(oracle, samples, prof)
    labels = np.array([s.label for s in samples])
    result = {"profile": prof.name, "samples": samples, "device": device, "oracle": ref,
              "bitexact": float(np.mean(np.all(device == ref, axis=1)))}
    if not prof.windowed:
        dev_top1, ora_top1 = device.argmax(axis=1), ref.argmax(axis=1)
        return {**result, "metric": "top-1 accuracy",
                "accuracy": float(np.mean(dev_top1 == labels)),
                "oracle_accuracy": float(np.mean(ora_top1 == labels)),
                "agreement": float(np.mean(dev_top1 == ora_top1))}
    return {**result, **anomaly_result(device, ref, samples, prof, oracle.output_scale,
                                       oracle.output_zero_point, printed)}


def results_csv(result: dict) -> str:
    rows = io.StringIO()
    w = csv.writer(rows, lineterminator="\n")
    if result["metric"] == "AUC":
        w.writerow(["file", "label", "windows", "device_score", "oracle_score", "scores_equal",
                    "outputs_equal", "device_window_mse"])
        first = 0
        for s, d, o in zip(result["samples"], result["device_scores"], result["oracle_scores"]):
            n = len(er.windows(s, er.profile(result["profile"])))
            same = np.all(result["device"][first:first + n] == result["oracle"][first:first + n])
            w.writerow([s.file, s.label, n, f"{d:.6f}", f"{o:.6f}", int(d == o), int(same),
                        " ".join(f"{v:.3f}" for v in result["device_window_mse"][first:first + n])])
            first += n
        return rows.getvalue()
    w.writerow(["file", "label", "device", "oracle", "agree", "outputs_equal",
                "device_outputs", "oracle_outputs"])
    for s, d, o in zip(result["samples"], result["device"], result["oracle"]):
        w.writerow([s.file, s.label, int(d.argmax()), int(o.argmax()),
                    int(d.argmax() == o.argmax()), int(np.array_equal(d, o)),
                    " ".join(map(str, d.tolist())), " ".join(map(str, o.tolist()))])
    return rows.getvalue()


def evaluate_summary(result: dict) -> str:
    count = f"{len(result['samples'])} samples"
    if result["metric"] == "AUC":
        count = f"{len(result['samples'])} clips ({result['windows']} windows)"
        agree = "equal clip scores"
    else:
        agree = "agreement"
    return (f"evaluate: {result['profile']}, {count}: {result['metric']} "
            f"{result['accuracy']:.4f} on device, {result['oracle_accuracy']:.4f} tflite-micro; "
            f"{agree} {result['agreement']:.4f}, bit-exact outputs {result['bitexact']:.4f}")


def _no_code(op: dict) -> str:
    if "fused_into" in op:
        return f"(computed by node {op['fused_into']})"
    return "(aliased, no code)"


def main_codegen(argv) -> None:
    ap = Parser(prog="codegen", description="Generate C for an int8 .tflite")
    ap.add_argument("model", help="an int8 .tflite")
    ap.add_argument("--profile", required=True,
                    help="MLPerf Tiny model name the device reports (kws01, vww01, ic01, ad01)")
    ap.add_argument("--out", required=True, help="folder to create (replaced if present)")
    ap.add_argument("--weight-bits", type=int, choices=(8, 4, 2), default=8,
                    help="8: weights as stored (int8, or packed INT4/INT2); 4 or 2: pack int8 "
                         "weights that lie on that grid")
    a = ap.parse_args(argv)
    try:
        info = codegen(a.model, a.profile, a.out, a.weight_bits)
    except (OSError, ValueError, RuntimeError, Unsupported) as e:
        sys.exit(f"codegen: {e}")
    for op in info["ops"]:
        print(f"  node {op['node']:3d} {op['op']:20s} {op['macs']:>12,d} MACs  "
              f"{op['kernel'] or _no_code(op)}")
    print(codegen_summary(info, a.out))


def main_evaluate(argv) -> None:
    ap = Parser(prog="evaluate", description="Accuracy of a device on an EnergyRunner folder "
                                             "(top-1; AUC for ad01)")
    ap.add_argument("--model", required=True, help="the int8 .tflite the firmware was built from")
    ap.add_argument("--firmware", help="host firmware binary (--transport pty) or Cortex-M ELF "
                                       "(--transport qemu)")
    ap.add_argument("--testset", required=True, help="EnergyRunner folder (.bin + y_labels.csv)")
    ap.add_argument("--transport", choices=["pty", "qemu", "serial"], default="pty")
    ap.add_argument("--machine", help="QEMU machine (--transport qemu), e.g. mps2-an386")
    ap.add_argument("--url", help="serial port URL (--transport serial), e.g. /dev/ttyACM0")
    ap.add_argument("--baud", type=int, default=115200)
    ap.add_argument("--timeout", type=float, default=60.0, help="seconds per device command")
    ap.add_argument("--out", help="CSV of every sample's outputs")
    a = ap.parse_args(argv)
    if a.transport == "pty" and not a.firmware:
        ap.error("--transport pty needs --firmware")
    if a.transport == "serial" and not a.url:
        ap.error("--transport serial needs --url")
    if a.transport == "qemu" and not (a.firmware and a.machine):
        ap.error("--transport qemu needs --firmware and --machine")
    try:
        result = evaluate(a.model, a.testset, a.transport, a.firmware, a.url, a.baud, a.timeout,
                          progress=True, machine=a.machine)
    except (OSError, ValueError, DeviceError, RuntimeError) as e:
        sys.exit(f"evaluate: {e}")
    text = results_csv(result)
    sys.stdout.write(text)
    if a.out:
        write_text_atomic(a.out, text)
    print(evaluate_summary(result))


def main(argv=None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] not in COMMANDS:
        sys.exit(f"tinysweep: usage: python -m tinysweep {{{','.join(COMMANDS)}}} ... "
                 f"(got {argv[0] if argv else 'nothing'!r})")
    {"codegen": main_codegen, "evaluate": main_evaluate}[argv[0]](argv[1:])
