"""Stage `quantize`: full-integer post-training quantization of a float model.

python stages/quantize.py --model models/kws/float.keras --features data/kws/features.npz \
    --bits 8 --calibration-samples 120 --seed 0 --out models/kws/w8/model.tflite \
    --metrics models/kws/w8/quantize.json

Calibration clips are drawn (seeded, without replacement) from the validation split, as MLPerf
Tiny does (120 clips for KWS); a smaller validation split is used whole (noted on stderr).
The metrics json holds the model's sha256 and size, the calibration count, the input/output
scale and zero point, and the int8 test accuracy (LiteRT, default delegates off; inputs
quantized with round-to-nearest), or for ad the int8 test AUC (the benchmark's int8_metrics).

Image benchmarks (features.npz holds `pixel_scale`: ic, vww) must take int8 = pixel - 128, as
the EnergyRunner ic01/vww01 files assume: the input range is pinned to 0..255 x pixel_scale (if
no calibration image reaches both ends, one image gets one darkest and one brightest value)
and the converted input scale and zero point are checked.
"""
import sys
from pathlib import Path

import numpy as np

from tinysweep.benchmarks import InputError, get
from tinysweep.cli import Parser
from tinysweep.io import sha256_bytes, write_bytes_atomic, write_json_atomic

ALLOWED_BITS = (8,)


def _quant(detail) -> dict:
    scale, zero_point = detail["quantization"]
    return {"scale": float(scale), "zero_point": int(zero_point),
            "dtype": np.dtype(detail["dtype"]).name, "shape": [int(d) for d in detail["shape"]]}


def int8_accuracy(tflite: bytes, x: np.ndarray, y: np.ndarray) -> float:
    """Top-1 accuracy of an int8 model on float inputs x (quantized with its input params)."""
    from ai_edge_litert.interpreter import Interpreter, OpResolverType
    it = Interpreter(model_content=tflite, experimental_op_resolver_type=
                     OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
    it.allocate_tensors()
    inp, out = it.get_input_details()[0], it.get_output_details()[0]
    scale, zero_point = inp["quantization"]
    q = np.clip(np.round(x / scale) + zero_point, -128, 127).astype(np.int8)
    hits = 0
    for xi, yi in zip(q, y):
        it.set_tensor(inp["index"], xi[None])
        it.invoke()
        hits += int(it.get_tensor(out["index"])[0].argmax() == yi)
    return hits / len(y)


def pin_pixel_range(calibration: np.ndarray, pixel_scale: float) -> tuple[np.ndarray, bool]:
    """Calibration inputs whose range is exactly 0..255 x pixel_scale (so the converter picks
    input scale = pixel_scale, zero point -128); True when a value had to be set."""
    lo, hi = np.float32(0.0), np.float32(255.0 * pixel_scale)
    if calibration.min() < lo or calibration.max() > hi:
        raise InputError(f"image features outside 0..{hi:g} (pixel_scale {pixel_scale:g}): "
                         f"not pixels x pixel_scale")
    if calibration.min() == lo and calibration.max() == hi:
        return calibration, False
    out = calibration.copy()
    out[0].flat[0], out[0].flat[1] = lo, hi
    return out, True


def check_pixel_input(tflite: bytes, pixel_scale: float) -> None:
    from tinysweep.oracle import input_quantization
    scale, zero_point, _ = input_quantization(tflite)
    if zero_point != -128 or abs(scale - pixel_scale) > 1e-6 * pixel_scale:
        raise InputError(f"the model's input scale {scale:g} / zero point {zero_point} do not "
                         f"map pixels to pixel - 128 (want {pixel_scale:g} / -128)")


def quantize(model_path, features, out, metrics_path, *, bits: int, calibration_samples: int,
             seed: int) -> dict:
    """Quantize, write the .tflite and its metrics json; return the metrics."""
    if bits not in ALLOWED_BITS:
        raise InputError(f"--bits {bits} is not supported yet "
                         f"(allowed: {', '.join(map(str, ALLOWED_BITS))})")
    if calibration_samples < 1:
        raise InputError(f"--calibration-samples must be at least 1, got {calibration_samples}")
    for path in (model_path, features):
        if not Path(path).is_file():
            raise InputError(f"{path} not found")
    with np.load(features) as f:
        if not {"x_val", "x_test", "y_test"} <= set(f.files):
            raise InputError(f"{features} lacks x_val, x_test or y_test")
        x_val, x_test, y_test = f["x_val"], f["x_test"], f["y_test"]
        # a benchmark with its own int8 metric (ad: AUC of clip scores) names itself
        bench = str(f["benchmark"]) if "benchmark" in f.files else None
        pixel_scale = float(f["pixel_scale"]) if "pixel_scale" in f.files else None
    used = min(calibration_samples, len(x_val))
    if used < calibration_samples:                  # tiny test configurations
        print(f"quantize: note: {features} has only {used} validation samples; calibrating "
              f"with all of them (asked for {calibration_samples})", file=sys.stderr)
    from tinysweep.quantize import quantize_int8
    from tinysweep.tfcompat import keras
    model = keras.models.load_model(model_path)
    rng = np.random.default_rng(seed)
    picks = np.sort(rng.choice(len(x_val), size=used, replace=False))
    calibration, pinned = x_val[picks], False
    if pixel_scale is not None:
        calibration, pinned = pin_pixel_range(calibration, pixel_scale)
    tflite = quantize_int8(model, calibration)
    if pixel_scale is not None:
        check_pixel_input(tflite, pixel_scale)
    write_bytes_atomic(out, tflite)

    from ai_edge_litert.interpreter import Interpreter
    it = Interpreter(model_content=tflite)
    metrics = {
        "model": str(model_path), "bits": bits, "seed": seed,
        "sha256": sha256_bytes(tflite), "size_bytes": len(tflite),
        "calibration_samples": int(used), "calibration_requested": int(calibration_samples),
        "calibration_split": "val",
        **({"calibration_pixel_range": "pinned to 0..255 (two values set in one image)"
            if pinned else "reached by the calibration images"} if pixel_scale is not None else {}),
        "input": _quant(it.get_input_details()[0]), "output": _quant(it.get_output_details()[0]),
    }
    module = get(bench) if bench else None
    if hasattr(module, "int8_metrics"):
        metrics.update(module.int8_metrics(tflite, {"x_test": x_test, "y_test": y_test}))
    else:
        metrics["test_accuracy_int8"] = int8_accuracy(tflite, x_test, y_test)
    write_json_atomic(metrics_path, metrics)
    return metrics


def main(argv=None) -> int:
    p = Parser(prog="quantize", description=__doc__.splitlines()[0])
    p.add_argument("--model", required=True, help="float model (.keras)")
    p.add_argument("--features", required=True, help="features .npz (x_val for calibration)")
    p.add_argument("--bits", type=int, required=True, help="weight/activation bits (8)")
    p.add_argument("--calibration-samples", type=int, default=120)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", required=True, help="output .tflite")
    p.add_argument("--metrics", required=True, help="output metrics .json")
    a = p.parse_args(argv)
    try:
        m = quantize(a.model, a.features, a.out, a.metrics, bits=a.bits,
                     calibration_samples=a.calibration_samples, seed=a.seed)
    except (ValueError, OSError) as e:
        print(f"quantize: {e}", file=sys.stderr)
        return 1
    score = (f"int8 test AUC {m['test_auc_int8']:.4f}" if m.get("metric") == "AUC"
             else f"int8 test accuracy {m['test_accuracy_int8']:.4f}")
    print(f"quantize: {a.out}: {m['size_bytes']} bytes, {score}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
