"""Benchmark matrix: the four MLPerf Tiny reference models × 8-, 4- and 2-bit weights.

    python bench/engine_matrix.py [--models kws,vww,ic,ad] [--bits 8,4,2] [--quick]

Models: tinysweep.benchmarks.reference_models (random weights, int8 PTQ on random inputs); at
4 and 2 bits every CONV_2D / DEPTHWISE_CONV_2D / FULLY_CONNECTED filter is requantized onto the
grid (|q| <= 7, {-1, 0, 1}) with per-channel scales (tinysweep.weight_grid) and generated with
`--weight-bits` (packed). For each: weight bytes as stored in flash, machine code of the
generated model.c plus the kernels it calls (.text, host compiler and flags), the engine's static
arena beside tflite-micro's arena, and time per inference of the host firmware (its own timer,
over the serial protocol) beside tflite-micro's Python interpreter and LiteRT without delegates
on the same (int8, on-grid) model, on this machine in the same run. Figures, not assertions.
"""
import argparse
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from tinysweep.benchmarks.timing import (build_host, code_bytes, engine_latency_us,  # noqa: E402
                                         litert_timer, time_per_call)

# (engine inferences per window, tflite-micro calls per window) — full / quick
REPEATS = {"kws": ((100, 10), (20, 2)), "vww": ((40, 4), (8, 1)), "ic": ((40, 4), (8, 1)),
           "ad": ((400, 40), (80, 8))}


def measure(name: str, bits: int, int8: bytes, quick: bool, tmp: Path) -> dict:
    from tinysweep import oracle
    from tinysweep.benchmarks.reference_models import MODELS
    from tinysweep.weight_grid import onto_grid
    tflite = int8 if bits == 8 else onto_grid(int8, bits)
    root = tmp / f"{name}_w{bits}"
    info, firmware = build_host(tflite, MODELS[name][1], root, bits)
    code = code_bytes(root / "c", info, root / "obj")
    o = oracle.Oracle(tflite)
    x = np.random.default_rng(1).integers(-128, 128, o.input_shape, dtype=np.int8)
    n_engine, n_tflm = REPEATS[name][quick]
    engine_us = engine_latency_us(firmware, x, n_engine, windows=3 if quick else 5)
    tflm_us = time_per_call(lambda: o.predict_one(x), n_tflm) * 1e6
    litert_us = time_per_call(litert_timer(tflite, x, delegates=False), n_engine) * 1e6
    return {"model": name, "bits": bits, "macs": info["macs"],
            "weights": info["weights_bytes"], "stored_bits": info["weights_stored_bits"],
            "code_model": code["model"], "code_kernels": code["kernels"],
            "arena": info["arena_bytes"], "tflm_arena": oracle.arena_bytes(tflite),
            "engine_us": engine_us, "tflm_us": tflm_us, "litert_us": litert_us}


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.machine()


def table(rows) -> str:
    head = ("model", "w", "MACs", "weights B", "code B (model+kern)", "arena B", "TFLM arena B",
            "×", "engine µs", "TFLM µs", "×", "LiteRT µs", "×")
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        cells = (r["model"], f"w{r['bits']}", f"{r['macs'] / 1e6:.2f} M", f"{r['weights']:,}",
                 f"{r['code_model'] + r['code_kernels']:,} ({r['code_model']:,}+{r['code_kernels']:,})",
                 f"{r['arena']:,}", f"{r['tflm_arena']:,}", f"{r['tflm_arena'] / r['arena']:.2f}",
                 f"{r['engine_us']:,.0f}", f"{r['tflm_us']:,.0f}",
                 f"{r['tflm_us'] / r['engine_us']:.1f}", f"{r['litert_us']:,.0f}",
                 f"{r['litert_us'] / r['engine_us']:.2f}")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv=None):
    from tinysweep.benchmarks.reference_models import MODELS, reference_int8
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", default=",".join(MODELS), help="comma-separated: kws,vww,ic,ad")
    ap.add_argument("--bits", default="8,4,2", help="comma-separated weight widths: 8,4,2")
    ap.add_argument("--quick", action="store_true", help="short timing windows")
    a = ap.parse_args(argv)
    names = [n for n in a.models.split(",") if n]
    bits = [int(b) for b in a.bits.split(",") if b]
    for n in names:
        if n not in MODELS:
            ap.error(f"unknown model {n!r}: one of {', '.join(MODELS)}")
    for b in bits:
        if b not in (8, 4, 2):
            ap.error(f"--bits {b}: only 8, 4, 2")

    t0 = time.time()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in names:
            int8 = reference_int8(n)
            for b in bits:
                rows.append(measure(n, b, int8, a.quick, Path(tmp)))
                print(f"  {n} w{b} done ({time.time() - t0:.0f} s)", file=sys.stderr, flush=True)
    print(f"{cpu_name()}, {os.cpu_count()} cores, {platform.system()}, "
          f"{time.strftime('%Y-%m-%d')}{', quick' if a.quick else ''}; µs per inference; "
          f"× = TFLM or LiteRT / engine; code = .text of model.c + called kernels")
    print(table(rows))


if __name__ == "__main__":
    main()
