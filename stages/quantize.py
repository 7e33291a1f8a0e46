"""Stage `quantize`: a float model to an int8 model whose weights lie on a bits configuration's
grids (int8 activations), by PTQ or by QAT fine-tuning then PTQ.

python stages/quantize.py --model models/kws/float.keras --features data/kws/features.npz \
    --train-metrics models/kws/train.json --config '{"name": "4", "method": "ptq", ...}' \
    --calibration-samples 120 --seed 1 --out models/kws/w4/model.tflite \
    --metrics models/kws/w4/quantize.json

--config is one entry of params quantize.configs with its name (tinysweep.quant.QuantConfig).
Method ptq: tinysweep.quant.ptq on the calibration inputs. Method qat: tinysweep.quant.
qat_finetune on the training split (validation split for choosing the epoch; seeded by --seed),
then ptq with range minmax, which lands on the grid QAT trained for.

Calibration clips are drawn (seeded, without replacement) from the validation split, as MLPerf
Tiny does (120 clips for KWS); a smaller validation split is used whole (noted on stderr).
The metrics json holds the model's sha256 and size, the calibration count, the input/output
scale and zero point, the int8 test accuracy (LiteRT, default delegates off; inputs quantized
with round-to-nearest) or for ad the int8 test AUC (the benchmark's int8_metrics); and for the
sweep: config, bits, method, options, layers (per weight layer: bits, range, SQNR...),
weights_bytes_packed (flash of the weights at their storage width, as convert stores them),
test_accuracy_sim / test_auc_sim (tflite-micro on the whole test split, inputs quantized as the
device's), float_accuracy / float_auc (from --train-metrics) and, for qat, what QAT did.

Image benchmarks (features.npz holds `pixel_scale`: ic, vww) must take int8 = pixel - 128, as
the EnergyRunner ic01/vww01 files assume: the input range is pinned to 0..255 x pixel_scale (if
no calibration image reaches both ends, one image gets one darkest and one brightest value)
and the converted input scale and zero point are checked.
"""
import json
import sys
from pathlib import Path

import numpy as np

from tinysweep.benchmarks import InputError, get
from tinysweep.cli import Parser
from tinysweep.io import sha256_bytes, write_bytes_atomic, write_json_atomic

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


def load_arrays(features, qat: bool) -> dict:
    """The arrays of features.npz the stage needs (the training split only for QAT)."""
    need = ["x_val", "x_test", "y_test"] + (["x_train", "y_train", "y_val"] if qat else [])
    with np.load(features) as f:
        missing = [k for k in need if k not in f.files]
        if missing:
            raise InputError(f"{features} lacks {', '.join(missing)}"
                             + (" (QAT fine-tunes on the training split)" if qat else ""))
        out = {k: f[k] for k in need}
        # a benchmark with its own int8 metric (ad: AUC of clip scores) names itself
        out["benchmark"] = str(f["benchmark"]) if "benchmark" in f.files else None
        out["pixel_scale"] = float(f["pixel_scale"]) if "pixel_scale" in f.files else None
    return out


def float_quality(train_metrics) -> dict:
    """float_accuracy / float_auc of the float model on the whole test split (train.json)."""
    if not train_metrics:
        return {}
    t = json.loads(Path(train_metrics).read_text())
    detail = f"the float Keras model on the host, whole test split ({train_metrics})"
    return {f"float_{short}": {"value": float(t[f"test_{short}"]), "method": "simulated",
                               "detail": detail}
            for short in ("accuracy", "auc") if isinstance(t.get(f"test_{short}"), (int, float))}


def finetune(model, config, data, seed: int) -> tuple[object, dict]:
    """QAT: the fine-tuned float model and what was done (qat_finetune tells a classifier
    from an autoencoder, ad's, by its data and model)."""
    from tinysweep.quant import qat_finetune
    record = {}
    tuned = qat_finetune(model, config, data["x_train"], data["y_train"], data["x_val"],
                         data["y_val"], seed=seed, progress=_note, record=record)
    return tuned, record


def _note(text: str) -> None:
    print(f"quantize: {text}", file=sys.stderr, flush=True)


def quantize(model_path, features, out, metrics_path, *, config, calibration_samples: int,
             seed: int, train_metrics=None) -> dict:
    """Quantize, write the .tflite and its metrics json; return the metrics."""
    from tinysweep.quant import ptq, resolve_layer_bits
    if calibration_samples < 1:
        raise InputError(f"--calibration-samples must be at least 1, got {calibration_samples}")
    for path in (model_path, features) + ((train_metrics,) if train_metrics else ()):
        if not Path(path).is_file():
            raise InputError(f"{path} not found")
    qat = config.method == "qat"
    data = load_arrays(features, qat)
    from tinysweep.tfcompat import keras
    model = keras.models.load_model(model_path)
    resolve_layer_bits(model, config)               # a layer name matching nothing: stop here
    x_val, pixel_scale = data["x_val"], data["pixel_scale"]
    used = min(calibration_samples, len(x_val))
    if used < calibration_samples:                  # tiny test configurations
        print(f"quantize: note: {features} has only {used} validation samples; calibrating "
              f"with all of them (asked for {calibration_samples})", file=sys.stderr)
    rng = np.random.default_rng(seed)
    picks = np.sort(rng.choice(len(x_val), size=used, replace=False))
    calibration, pinned = x_val[picks], False
    if pixel_scale is not None:
        calibration, pinned = pin_pixel_range(calibration, pixel_scale)
    qat_record = None
    if qat:
        _note(f"QAT fine-tuning, {config.qat_epochs} epochs on {len(data['x_train'])} "
              f"training samples")
        model, qat_record = finetune(model, config, data, seed)
    # after QAT the weights sit on the grid min-max finds again: nothing left to correct
    ptq_config = (config.replace(range="minmax", bias_correction=False, adaround=False)
                  if qat else config)
    tflite, info = ptq(model, calibration, ptq_config, progress=_note)
    if pixel_scale is not None:
        check_pixel_input(tflite, pixel_scale)
    write_bytes_atomic(out, tflite)

    from ai_edge_litert.interpreter import Interpreter

    from tinysweep.codegen import read_tflite_bytes
    from tinysweep.codegen.generate import stored_weights_bytes
    from tinysweep.simulate import quality
    it = Interpreter(model_content=tflite)
    stored = stored_weights_bytes(read_tflite_bytes(tflite))
    metrics = {
        "model": str(model_path), "config": config.name, "bits": config.bits,
        "method": config.method, "options": config.options(), "seed": seed,
        "sha256": sha256_bytes(tflite), "size_bytes": len(tflite),
        "calibration_samples": int(used), "calibration_requested": int(calibration_samples),
        "calibration_split": "val",
        **({"calibration_pixel_range": "pinned to 0..255 (two values set in one image)"
            if pinned else "reached by the calibration images"} if pixel_scale is not None else {}),
        "input": _quant(it.get_input_details()[0]), "output": _quant(it.get_output_details()[0]),
        "layers": info["layers"],
        "weights_bytes_packed": stored["bytes"],
        "weights_bytes_by_bits": stored["by_bits"],
        "ptq_seconds": info.get("seconds"),
        **({"qat": qat_record, "ptq_range": ptq_config.range} if qat else {}),
    }
    x_test, y_test = data["x_test"], data["y_test"]
    module = get(data["benchmark"]) if data["benchmark"] else None
    if hasattr(module, "int8_metrics"):
        metrics.update(module.int8_metrics(tflite, {"x_test": x_test, "y_test": y_test}))
    else:
        metrics["test_accuracy_int8"] = int8_accuracy(tflite, x_test, y_test)
    _note(f"tflite-micro on the {len(y_test)} test samples")
    sim = quality(tflite, x_test, y_test)
    short = "auc" if sim["metric"] == "AUC" else "accuracy"
    metrics[f"test_{short}_sim"] = {k: sim[k] for k in ("value", "method", "detail", "samples")}
    metrics["test_samples"] = sim["samples"]
    metrics.update(float_quality(train_metrics))
    write_json_atomic(metrics_path, metrics)
    return metrics


def main(argv=None) -> int:
    p = Parser(prog="quantize", description=__doc__.splitlines()[0])
    p.add_argument("--model", required=True, help="float model (.keras)")
    p.add_argument("--features", required=True,
                   help="features .npz (x_val for calibration, x_test to evaluate, x_train for QAT)")
    p.add_argument("--train-metrics", help="train.json of the float model (float accuracy)")
    p.add_argument("--config", required=True,
                   help="the bits configuration: a quantize.configs entry as JSON, with its name")
    p.add_argument("--calibration-samples", type=int, default=120)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", required=True, help="output .tflite")
    p.add_argument("--metrics", required=True, help="output metrics .json")
    a = p.parse_args(argv)
    from tinysweep.quant import QuantConfig
    try:
        entry = json.loads(a.config)
        if not isinstance(entry, dict) or "name" not in entry:
            raise InputError(f"--config {a.config!r} is not a JSON object with a name")
        config = QuantConfig.from_params(str(entry.pop("name")), entry)
        m = quantize(a.model, a.features, a.out, a.metrics, config=config,
                     calibration_samples=a.calibration_samples, seed=a.seed,
                     train_metrics=a.train_metrics)
    except (ValueError, OSError) as e:
        print(f"quantize: {e}", file=sys.stderr)
        return 1
    short = "auc" if "test_auc_sim" in m else "accuracy"
    print(f"quantize: {a.out}: w{m['config']} ({m['method']}), {m['size_bytes']} bytes, weights "
          f"{m['weights_bytes_packed']} B at their storage width, simulated test "
          f"{'AUC' if short == 'auc' else 'accuracy'} "
          f"{m[f'test_{short}_sim']['value']:.4f}"
          + (f" (float {m[f'float_{short}']['value']:.4f})" if f"float_{short}" in m else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
