"""Benchmark: the generated C engine on the host device beside tflite-micro and LiteRT.

    python bench/engine.py [--model models/kws/w8/model.tflite] [--inferences 200]

Prints, for one int8 model (default: the trained KWS model if the pipeline made it, else the
MLPerf Tiny reference DS-CNN with random weights): time per inference of the host firmware
(its own µs timer, over the serial protocol), of the tflite-micro Python interpreter, and of
LiteRT with and without its default delegates, all on this machine in the same run; and the
engine's static arena beside tflite-micro's arena. Figures, not assertions.
"""
import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
DEFAULT_MODEL = REPO / "models" / "kws" / "w8" / "model.tflite"


def reference_kws_model() -> bytes:
    """The MLPerf Tiny DS-CNN, random weights, int8 PTQ on random MFCC-range inputs."""
    from tinysweep.benchmarks import kws
    from tinysweep.quantize import quantize_int8
    calibration = np.random.default_rng(0).normal(0, 10, (64, 49, 10, 1)).astype(np.float32)
    return quantize_int8(kws.build_dscnn(), calibration)


def time_per_call(fn, repeats: int) -> float:
    """Median over 5 windows of the mean seconds per call (the EEMBC way)."""
    fn()
    windows = []
    for _ in range(5):
        t0 = time.perf_counter()
        for _ in range(repeats):
            fn()
        windows.append((time.perf_counter() - t0) / repeats)
    return statistics.median(windows)


def litert_timer(tflite: bytes, x: np.ndarray, delegates: bool):
    from ai_edge_litert.interpreter import Interpreter, OpResolverType
    kind = OpResolverType.AUTO if delegates else OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
    it = Interpreter(model_content=tflite, experimental_op_resolver_type=kind, num_threads=1)
    it.allocate_tensors()
    index = it.get_input_details()[0]["index"]

    def call():
        it.set_tensor(index, x)
        it.invoke()
    return call


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", help="an int8 .tflite (default: the pipeline's KWS model or the reference DS-CNN)")
    ap.add_argument("--profile", default="kws01")
    ap.add_argument("--inferences", type=int, default=200, help="inferences per timing window")
    a = ap.parse_args(argv)

    from tinysweep import oracle, runner
    if a.model:
        tflite, source = Path(a.model).read_bytes(), a.model
    elif DEFAULT_MODEL.exists():
        tflite, source = DEFAULT_MODEL.read_bytes(), str(DEFAULT_MODEL.relative_to(REPO))
    else:
        tflite, source = reference_kws_model(), "MLPerf Tiny DS-CNN, random weights"

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        (tmp / "model.tflite").write_bytes(tflite)
        for cmd in (["stages/convert.py", "--model", tmp / "model.tflite", "--profile", a.profile, "--out", tmp / "c"],
                    ["stages/build_firmware.py", "--port", "host", "--model-dir", tmp / "c", "--out", tmp / "build"]):
            subprocess.run([sys.executable, *map(str, cmd)], cwd=REPO, check=True, capture_output=True)
        info = json.loads((tmp / "c" / "model.json").read_text())

        o = oracle.Oracle(tflite)
        x = np.random.default_rng(1).integers(-128, 128, o.input_shape, dtype=np.int8)
        with runner.open_device("pty", tmp / "build" / "firmware") as dut:
            engine_us = statistics.median(runner.latency_pass(dut, x.tobytes(), 5, a.inferences, 10))

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
