"""Benchmark: the generated C engine on the host device beside tflite-micro and LiteRT.

    python bench/engine.py [--model models/kws/w8/model.tflite] [--inferences 200]

Prints, for one int8 model (default: the trained KWS model if the pipeline made it, else the
MLPerf Tiny reference DS-CNN with random weights): time per inference of the host firmware
(its own µs timer, over the serial protocol), of the tflite-micro Python interpreter, and of
LiteRT with and without its default delegates, all on this machine in the same run; and the
engine's static arena beside tflite-micro's arena. Figures, not assertions.
"""
import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from tinysweep.benchmarks.timing import build_host, engine_latency_us, litert_timer, time_per_call  # noqa: E402

DEFAULT_MODEL = REPO / "models" / "kws" / "w8" / "model.tflite"


def reference_kws_model() -> bytes:
    """The MLPerf Tiny DS-CNN, random weights, int8 PTQ on random MFCC-range inputs."""
    from tinysweep.benchmarks import kws
    from tinysweep.quantize import quantize_int8
    calibration = np.random.default_rng(0).normal(0, 10, (64, 49, 10, 1)).astype(np.float32)
    return quantize_int8(kws.build_dscnn(), calibration)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", help="an int8 .tflite (default: the pipeline's KWS model or the reference DS-CNN)")
    ap.add_argument("--profile", default="kws01")
    ap.add_argument("--inferences", type=int, default=200, help="inferences per timing window")
    a = ap.parse_args(argv)

    from tinysweep import oracle
    if a.model:
        tflite, source = Path(a.model).read_bytes(), a.model
    elif DEFAULT_MODEL.exists():
        tflite, source = DEFAULT_MODEL.read_bytes(), str(DEFAULT_MODEL.relative_to(REPO))
    else:
        tflite, source = reference_kws_model(), "MLPerf Tiny DS-CNN, random weights"

    o = oracle.Oracle(tflite)
    x = np.random.default_rng(1).integers(-128, 128, o.input_shape, dtype=np.int8)
    with tempfile.TemporaryDirectory() as tmp:
        info, firmware = build_host(tflite, a.profile, tmp)
        engine_us = engine_latency_us(firmware, x, a.inferences)

    tflm_s = time_per_call(lambda: o.predict_one(x), max(1, a.inferences // 10))
    litert_ref_s = time_per_call(litert_timer(tflite, x, delegates=False), a.inferences)
    litert_xnn_s = time_per_call(litert_timer(tflite, x, delegates=True), a.inferences)
    tflm_arena = oracle.arena_bytes(tflite)

    print(f"model: {source} ({len(tflite)} B, {info['macs']:,} MACs, {len(info['ops'])} ops)")
    print(f"{'runtime':44s} {'µs/inference':>13s} {'× engine':>9s}")
    rows = [("tinysweep engine, host firmware (device timer)", engine_us),
            ("tflite-micro Python interpreter (invoke)", tflm_s * 1e6),
            ("LiteRT, builtin kernels, no delegates", litert_ref_s * 1e6),
            ("LiteRT, default delegates (XNNPACK)", litert_xnn_s * 1e6)]
    for name, us in rows:
        print(f"{name:44s} {us:13.1f} {us / engine_us:9.2f}")
    print(f"{'arena':44s} {'bytes':>13s} {'× engine':>9s}")
    for name, n in (("tinysweep static arena plan", info["arena_bytes"]), ("tflite-micro arena", tflm_arena)):
        print(f"{name:44s} {n:13,d} {n / info['arena_bytes']:9.2f}")


if __name__ == "__main__":
    main()
