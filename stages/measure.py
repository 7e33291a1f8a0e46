"""Measure one combination on its device: accuracy, agreement with the oracle, latency.

    python stages/measure.py --benchmark kws --device host --transport pty \
        --firmware build/kws_host_w8/firmware --model models/kws/w8/model.tflite \
        --codegen models/kws/w8/c/model.json --build-info build/kws_host_w8/build.json \
        --quantize-info models/kws/w8/quantize.json \
        --testset models/kws/w8/testset --windows 5 --inferences 70 --warmup 10 \
        --timeout 60 --out results/kws_host_w8

Accuracy pass: every test sample is loaded (`db`), run with `infer 1 0` and its raw int8
outputs read (`outputs`); top-1 = argmax, first index on ties. The tflite-micro interpreter
runs the same samples (the oracle). Latency pass: `infer N W` on one sample in `--windows`
windows, latency = median of Δtimestamp / N (as the EEMBC runner). Writes metrics.json and
predictions.csv into --out atomically: on any failure nothing new appears there. metrics.json
names the bits configuration (quantize.json): config (name), weight_bits (its default width, as
`bits`), method (ptq / qat), options, layer_bits (each weight layer's bits).

Emulated boards (--transport qemu, --latency-method instructions): the same passes over the
same protocol; QEMU's plugin counts the instructions of every inference exactly (per sample in
predictions.csv; the latency input's count is `instructions`), and latency and energy are
estimates: instructions x --cpi / --clock-hz, and --power-w x that latency, each labelled with
its source. The device's own timestamps there are QEMU virtual time (1 instruction = 1 ns),
not the board's time, and are not reported as latency.
"""
import csv
import datetime
import io
import json
import platform
import statistics
import sys
from pathlib import Path

import numpy as np

from tinysweep import energyrunner as er
from tinysweep import oracle as oracle_mod
from tinysweep.cli import Parser
from tinysweep.config import COMBINATION
from tinysweep.io import atomic_dir, git_commit, sha256_file, tool_versions, write_json_atomic
from tinysweep.evaluation import (anomaly_result, check_classes, check_testset, device_inputs,
                                  device_outputs, oracle_outputs, testset_info)
from tinysweep.runner import SERIAL_RETRIES, DeviceError, latency_pass, open_device


def metric(value, method, detail, **extra):
    """Every number says how it was obtained: measured (on the device), simulated (the
    oracle interpreter on the host), static (read from build or code-generation output),
    exact (counted by the emulator), estimated (a model applied to measured/exact numbers)."""
    return {"value": value, "method": method, "detail": detail, **extra}


def _load_json(path, what):
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError) as e:
        raise ValueError(f"cannot read the {what} {path}: {e}") from None


def _find(d, *keys):
    """The first of `keys` (dotted paths) present in dict `d`, else None."""
    for key in keys:
        cur = d
        for part in key.split("."):
            if not isinstance(cur, dict) or part not in cur:
                break
            cur = cur[part]
        else:
            return cur
    return None


def _check_sha(recorded, actual, what, path, source):
    if recorded is not None and recorded != actual:
        raise ValueError(f"{what} {path} (sha256 {actual[:12]}…) is not the one {source} was "
                         f"made from (sha256 {str(recorded)[:12]}…): rebuild")


def _configuration(quant: dict, bits: int, name_match) -> dict:
    """The bits configuration the model was quantized with (quantize.json): its name, default
    weight bit-width, method and options, and each weight layer's bits."""
    out = {"config": str(quant.get("config") or (name_match["bits"] if name_match else bits)),
           "weight_bits": bits, "method": quant.get("method", "ptq"),
           "options": quant.get("options", {})}
    if quant.get("layers"):
        out["layer_bits"] = {layer["name"]: layer["bits"] for layer in quant["layers"]}
    return out


def _memory(codegen, build, model_bytes, stack=None):
    mem = {}
    for key in ("arena_bytes", "weights_bytes", "requant_bytes"):
        v = _find(codegen, key)
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            mem[key] = metric(v, "static", f"tinysweep code generation (model.json {key})")
    mem["oracle_arena_bytes"] = metric(
        oracle_mod.arena_bytes(model_bytes), "simulated",
        f"tflite-micro {oracle_mod.version()} RecordingMicroAllocator total (print_allocations)")
    elf_memory = build.get("memory")
    if isinstance(elf_memory, dict):
        how = ("from the firmware ELF (arm-none-eabi-size -A; nm: tensor_* symbols = weights, "
               "tsn_arena = arena, .stack = reserved stack)")
        board = (build.get("board") or {}).get("name", "the board")
        mem["flash_bytes"] = metric(elf_memory["flash_bytes"], "static", f"{how}; .text + .rodata "
                                    f"+ .ARM.exidx + .data image", board_bytes=_find(build, "board.flash_bytes"),
                                    board=board)
        mem["ram_bytes"] = metric(elf_memory["ram_bytes"], "static", f"{how}; .data + .bss + .stack",
                                  board_bytes=_find(build, "board.ram_bytes"), board=board)
        for region in ("flash", "ram"):
            for part, v in elf_memory[region].items():
                mem[f"{region}_{part}_bytes"] = metric(v, "static", how)
    sizes = _find(build, "sizes", "size") or {}
    for key, v in sorted(sizes.items()) if isinstance(sizes, dict) else []:
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            mem[f"firmware_{key}" if not key.startswith("firmware") else key] = metric(
                v, "static", "firmware section sizes (build.json)")
    if stack:  # (used, reserved) from Dut.stack_peak
        mem["ram_stack_peak_bytes"] = metric(
            stack[0], "measured", "the most stack the firmware used, after every inference of "
            "this run: its painted stack's high-water mark (`stack` command)",
            reserved_bytes=stack[1])
    return mem


def measure(a):
    prof = er.profile(er.BENCHMARK_PROFILES.get(a.benchmark, a.benchmark))
    out = Path(a.out)
    combination = a.combination or out.name
    m = COMBINATION.match(combination)
    model_path, firmware = Path(a.model), Path(a.firmware) if a.firmware else None
    model_bytes = model_path.read_bytes()
    model_sha = sha256_file(model_path)
    codegen = _load_json(a.codegen, "code generation record") if a.codegen else {}
    build = _load_json(a.build_info, "build record") if a.build_info else {}
    _check_sha(_find(codegen, "sha256", "model_sha256", "model.sha256"), model_sha, "model",
               model_path, a.codegen)
    firmware_sha = sha256_file(firmware) if firmware else None
    if firmware:
        _check_sha(_find(build, "sha256", "firmware_sha256", "firmware.sha256"), firmware_sha,
                   "firmware", firmware, a.build_info)
    _check_sha(_find(build, "model_sha256"), model_sha, "model", model_path, a.build_info)
    if build.get("energy_mode"):
        raise ValueError(f"{a.build_info}: an energy-mode build (EEMBC EnergyRunner, timestamps on "
                         f"a pin): tinysweep measures performance-mode firmware")
    if a.transport == "serial" and build.get("baud") not in (None, a.baud):
        raise ValueError(f"{a.build_info}: the firmware runs at {build['baud']} baud, --baud is "
                         f"{a.baud}")
    quant = _load_json(a.quantize_info, "quantization record") if a.quantize_info else {}
    _check_sha(quant.get("sha256"), model_sha, "model", model_path, a.quantize_info)
    model_bits = _find(codegen, "weight_bits", "bits")
    if a.bits and model_bits and a.bits != model_bits:
        raise ValueError(f"--bits {a.bits}, but {a.codegen} says the model has {model_bits}-bit weights")
    # a bits configuration's default width (mixed precision: some layers wider or narrower)
    bits = quant.get("bits") or a.bits or model_bits or (int(m["bits"][0]) if m else None)
    if bits is None:
        raise ValueError(f"cannot tell the bit width: pass --bits (combination {combination!r})")

    samples = er.read_folder(a.testset, None if prof.windowed else prof.input_bytes)
    oracle = oracle_mod.Oracle(model_bytes)
    check_testset(Path(a.testset), oracle)
    check_classes(a.testset, samples, prof)
    labels = np.array([s.label for s in samples])
    num_outputs = int(np.prod(oracle.output_shape))
    oracle_out = oracle_outputs(oracle, samples, prof)
    inputs = device_inputs(samples, prof)     # ad01: every window of every clip
    printed = [] if prof.windowed else None

    from tqdm import tqdm
    tty = sys.stderr.isatty()
    counted = a.transport == "qemu"
    # a real board's line can fail: safe retries there (README "Serial faults"); a started
    # device's line cannot, and QEMU's instruction log counts every inference, retried or not
    with open_device(a.transport, firmware, url=a.url, baud=a.baud, timeout=a.timeout,
                     boot_timeout=a.boot_timeout, machine=a.qemu_machine,
                     retries=SERIAL_RETRIES if a.transport == "serial" else 0) as dut:
        device_name = dut.device_name()
        with tqdm(total=len(inputs), desc=f"{combination} accuracy",
                  unit="window" if prof.windowed else "sample",
                  file=sys.stderr, mininterval=0.5 if tty else 30) as bar:
            device_out = device_outputs(dut, samples, prof, num_outputs, a.timeout, bar, printed)
        sample_counts = dut.instructions.take(len(inputs)) if counted else None
        laps = latency_pass(dut, inputs[0], a.windows, a.inferences, a.warmup,
                            a.timeout, 1 if prof.windowed else prof.num_classes)
        latency_counts = (dut.instructions.take(a.windows * (a.warmup + a.inferences))
                          if counted else None)
        stack = dut.stack_peak()
    if stack is not None and stack[0] >= stack[1]:
        raise RuntimeError(f"the firmware on {device_name} used all {stack[1]} bytes of its "
                           f"reserved stack (its RAM below may be overwritten): reserve more "
                           f"(STACK_BYTES in firmware/ports/cortex-m/cortex-m.mk)")

    dev_pred, ora_pred = device_out.argmax(axis=1), oracle_out.argmax(axis=1)
    n = len(samples)
    exact = np.all(device_out == oracle_out, axis=1)
    scored = (anomaly_result(device_out, oracle_out, samples, prof, oracle.output_scale,
                             oracle.output_zero_point, printed) if prof.windowed else None)
    latency_ms = statistics.median(laps) / 1000.0
    clock = ("host CLOCK_MONOTONIC timestamps (m-lap-us)" if a.transport == "pty"
             else "device timer timestamps (m-lap-us)")
    metrics = {
        "benchmark": a.benchmark, "device": a.device, "bits": int(bits),
        "combination": combination, "profile": prof.name,
        **_configuration(quant, int(bits), m),
        "dataset": testset_info(Path(a.testset)).get("dataset", "not recorded (plain EnergyRunner folder)"),
        "device_name": device_name, "transport": a.transport,
        **(_quality(scored, n, oracle_mod.version()) if scored else {
            "accuracy": metric(float(np.mean(dev_pred == labels)), "measured",
                               "top-1 on device over serial (infer 1 0, argmax of int8 outputs)",
                               samples=n),
            "accuracy_oracle": metric(float(np.mean(ora_pred == labels)), "simulated",
                                      f"tflite-micro {oracle_mod.version()} interpreter, same samples",
                                      samples=n),
            "oracle_agreement": metric(float(np.mean(dev_pred == ora_pred)), "measured",
                                       "fraction of samples whose device top-1 equals the oracle's",
                                       samples=n)}),
        "oracle_bitexact": metric(float(np.mean(exact)), "measured",
                                  f"fraction of {'windows' if scored else 'samples'} whose int8 "
                                  f"outputs equal the oracle's exactly", samples=len(inputs)),
        "latency_method": a.latency_method,
        **({"board": a.board} if a.board else {}),
        "latency_ms": metric(latency_ms, "measured",
                             f"{clock}, median of {a.windows} windows × {a.inferences} inferences "
                             f"(after {a.warmup} warm-up) on {samples[0].file}"
                             + (" (its first window)" if prof.windowed else ""),
                             windows_ms=[x / 1000.0 for x in laps],
                             window_seconds=[x * a.inferences / 1e6 for x in laps]),
        "memory": _memory(codegen, build, model_bytes, stack),
        "provenance": {
            "model": {"path": str(model_path), "sha256": model_sha},
            "firmware": ({"path": str(firmware), "sha256": firmware_sha} if firmware
                         else {"url": a.url}),
            "codegen": ({"path": str(a.codegen), "sha256": sha256_file(a.codegen)}
                        if a.codegen else None),
            "build": ({"path": str(a.build_info), "sha256": sha256_file(a.build_info),
                       **{k: build[k] for k in ("port", "compiler", "compiler_version", "cflags",
                                                "ldflags") if k in build}}
                      if a.build_info else None),
            "testset": {"path": str(a.testset), "sha256": er.folder_sha256(a.testset),
                        "samples": n},
            "git_commit": git_commit(),
            "tools": {**tool_versions("tinysweep", "tflite-micro", "numpy", "pyserial"),
                      "python": platform.python_version()},
            "platform": platform.platform(),
            "timestamp": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        },
    }
    macs = _find(codegen, "macs")
    if isinstance(macs, int):
        metrics["macs"] = metric(macs, "static", "multiply-accumulates per inference "
                                                 "(model.json)")
    if counted:
        metrics.update(_counted_metrics(a, samples, sample_counts, latency_counts,
                                        macs if isinstance(macs, int) else None))
    elif min(metrics["latency_ms"]["window_seconds"]) < 10:
        metrics["latency_ms"]["note"] = "windows shorter than the EEMBC runner's 10 s minimum"
    if not counted and a.power_w:  # a real board: its published power x the measured latency
        metrics["energy_uj"] = metric(
            a.power_w * 1e3 * latency_ms, "estimated",
            f"estimate: {a.power_w * 1e3:g} mW ({a.power_source}) × the measured latency; not "
            f"measured (EEMBC's EnergyRunner with an energy monitor measures it: energy mode)",
            power_w=a.power_w)

    with atomic_dir(out) as tmp:
        write_json_atomic(tmp / "metrics.json", metrics)
        (tmp / "predictions.csv").write_text(
            _clip_table(scored, prof, samples, device_out, oracle_out) if scored else
            _sample_table(samples, dev_pred, ora_pred, device_out, oracle_out, exact, sample_counts))
    return metrics


def _clip_table(scored, prof, samples, device_out, oracle_out) -> str:
    """ad01: one row per clip (scores, windows, the device's printed window MSE)."""
    from tinysweep.byo import results_csv
    return results_csv({**scored, "profile": prof.name, "samples": samples,
                        "device": device_out, "oracle": oracle_out})


def _sample_table(samples, dev_pred, ora_pred, device_out, oracle_out, exact, sample_counts) -> str:
    counted = sample_counts is not None
    rows = io.StringIO()
    w = csv.writer(rows, lineterminator="\n")
    w.writerow(["file", "label", "device", "oracle", "agree", "outputs_equal",
                "device_outputs", "oracle_outputs"] + (["instructions"] if counted else []))
    for i, (s, d, o, do, oo, eq) in enumerate(zip(samples, dev_pred, ora_pred, device_out,
                                                   oracle_out, exact)):
        w.writerow([s.file, s.label, int(d), int(o), int(d == o), int(eq),
                    " ".join(map(str, do.tolist())), " ".join(map(str, oo.tolist()))]
                   + ([sample_counts[i]] if counted else []))
    return rows.getvalue()


def _quality(scored, clips, oracle_version) -> dict:
    """ad01's quality metrics: AUC of the clip scores on the device and on the oracle."""
    how = ("AUC (scikit-learn roc_auc_score, anomaly = 1) of clip scores = mean over the "
           "clip's windows of the reconstruction MSE")
    return {
        "auc": metric(scored["accuracy"], "measured",
                      f"{how}, from the device's int8 outputs over serial (every window: db "
                      f"load 2560, infer 1 0)", samples=clips, windows=scored["windows"]),
        "auc_oracle": metric(scored["oracle_accuracy"], "simulated",
                             f"{how}, tflite-micro {oracle_version} interpreter on the same "
                             f"windows (quantized as the firmware does)", samples=clips,
                             windows=scored["windows"]),
        "oracle_agreement": metric(scored["agreement"], "measured",
                                   "fraction of clips whose device score equals the oracle's",
                                   samples=clips)}


def _counted_metrics(a, samples, sample_counts, latency_counts, macs) -> dict:
    """Exact instruction counts of an emulated board and the estimates made from them."""
    from tinysweep.emulator import MARKER_OVERHEAD, estimate
    if len(set(latency_counts)) != 1:
        raise ValueError(f"the same input gave different instruction counts "
                         f"({min(latency_counts)}..{max(latency_counts)}): the count is not exact")
    insns = latency_counts[0]
    plugin = (f"QEMU {a.qemu_machine} with -icount shift=0, TCG plugin firmware/qemu-plugin/"
              f"insn_count.c between the marker calls around tsn_model_invoke (includes "
              f"{MARKER_OVERHEAD} marker instructions)")
    out = {"instructions": metric(
        insns, "exact", f"{plugin}; identical in all {len(latency_counts)} inferences of the "
        f"latency pass on {samples[0].file}",
        samples_min=min(sample_counts), samples_max=max(sample_counts),
        samples_mean=float(np.mean(sample_counts)))}
    if macs:
        out["instructions_per_mac"] = metric(insns / macs, "exact",
                                             f"instructions / {macs} MACs (model.json)")
    if a.latency_method == "instructions":
        est = estimate(insns, a.clock_hz, a.cpi, a.power_w)
        out["latency_ms"] = metric(
            est["latency_ms"], "estimated",
            f"estimate from the exact instruction count: {insns} instructions × CPI {a.cpi} "
            f"({a.cpi_source}) / {a.clock_hz / 1e6:g} MHz ({a.board or a.device}); not measured",
            instructions=insns, cpi=a.cpi, clock_hz=a.clock_hz)
        if est["energy_uj"] is not None:
            out["energy_uj"] = metric(
                est["energy_uj"], "estimated",
                f"estimate: {a.power_w * 1e3:g} mW ({a.power_source}) × the estimated latency; "
                f"not measured", power_w=a.power_w)
        else:
            out["energy_note"] = f"energy not estimated: {a.power_source}"
    return out


def main(argv=None):
    ap = Parser(prog="measure", description=__doc__.splitlines()[0])
    ap.add_argument("--benchmark", required=True, choices=sorted(er.BENCHMARK_PROFILES))
    ap.add_argument("--device", required=True, help="device name in the matrix (e.g. host)")
    ap.add_argument("--transport", choices=["pty", "qemu", "serial"], default="pty")
    ap.add_argument("--firmware", help="host firmware binary (pty), Cortex-M ELF (qemu) or the "
                                       "image flashed (serial)")
    ap.add_argument("--qemu-machine", help="qemu-system-arm machine (--transport qemu)")
    ap.add_argument("--board", help="the board the device represents (name, for the record)")
    ap.add_argument("--latency-method", choices=["measured", "instructions"], default="measured")
    ap.add_argument("--clock-hz", type=float, help="core clock of the latency estimate")
    ap.add_argument("--cpi", type=float, help="cycles per instruction of the latency estimate")
    ap.add_argument("--cpi-source", default="", help="where --cpi comes from")
    ap.add_argument("--power-w", type=float, help="board power during inference (energy estimate)")
    ap.add_argument("--power-source", default="", help="where --power-w comes from")
    ap.add_argument("--url", help="serial port URL for --transport serial")
    ap.add_argument("--baud", type=int, default=115200)
    ap.add_argument("--model", required=True)
    ap.add_argument("--codegen", help="model.json written by stages/convert.py")
    ap.add_argument("--build-info", help="build.json written by stages/build_firmware.py")
    ap.add_argument("--testset", required=True, help="EnergyRunner folder")
    ap.add_argument("--windows", type=int, default=5)
    ap.add_argument("--inferences", type=int, default=70)
    ap.add_argument("--warmup", type=int, default=10)
    ap.add_argument("--timeout", type=float, default=60.0,
                    help="seconds any one device command may take (infer N W included)")
    ap.add_argument("--boot-timeout", type=float, default=10.0)
    ap.add_argument("--quantize-info", help="quantize.json written by stages/quantize.py (the "
                                            "bits configuration: name, bits, method, options)")
    ap.add_argument("--bits", type=int, help="default: from --quantize-info, model.json or the "
                                             "combination name")
    ap.add_argument("--combination", help="default: the name of --out")
    ap.add_argument("--out", required=True)
    a = ap.parse_args(argv)
    if a.transport == "pty" and not a.firmware:
        ap.error("--transport pty needs --firmware")
    if a.transport == "serial" and not a.url:
        ap.error("--transport serial needs --url")
    if a.transport == "qemu" and not (a.firmware and a.qemu_machine):
        ap.error("--transport qemu needs --firmware and --qemu-machine")
    if a.latency_method == "instructions" and (a.transport != "qemu" or not a.clock_hz
                                               or not a.cpi):
        ap.error("--latency-method instructions needs --transport qemu, --clock-hz and --cpi")
    try:
        m = measure(a)
    except (OSError, ValueError, DeviceError) as e:
        sys.exit(f"measure: {e}")
    except KeyboardInterrupt:
        print("measure: interrupted; nothing written", file=sys.stderr)
        sys.exit(130)
    quality = "auc" if "auc" in m else "accuracy"
    print(f"measure: {m['combination']}: {'AUC' if quality == 'auc' else 'accuracy'} "
          f"{m[quality]['value']:.4f} on device, {m[quality + '_oracle']['value']:.4f} oracle, agreement "
          f"{m['oracle_agreement']['value']:.4f}, bit-exact {m['oracle_bitexact']['value']:.4f}, "
          f"latency {m['latency_ms']['value']:.3f} ms ({m['latency_ms']['method']})"
          + (f", {m['instructions']['value']} instructions" if "instructions" in m else "")
          + f" -> {a.out}")


if __name__ == "__main__":
    main()
