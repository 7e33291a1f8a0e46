"""Benchmark: simulated test accuracy of float, w8 and each PTQ method combination at w4 / w2.

    python bench/quant_methods.py [--bench kws ic ad] [--root DIR] [--bits 4 2]
                                  [--methods mse+ar+bc ...] [--params-configs] [--json out.json]

For every benchmark: the float model models/<bench>/float.keras and data/datasets/<bench>/
features.npz under --root (default: this checkout; when missing they are made by
`snakemake models/<bench>/float.keras` with the params defaults). Calibration inputs are drawn
as the quantize stage draws them (params quantize.calibration_samples and seed, validation split;
image benchmarks pinned to the 0..255 pixel range). Every configuration goes through
tinysweep.quant.ptq; its .tflite is scored on the WHOLE test split by LiteRT without delegates
("simulated": stages/quantize.py int8_accuracy, ad: the benchmark's int8_metrics AUC). Float is
the train stage's figure (train.json), else the Keras model on the test split. Methods (labels
of METHODS): range minmax / percentile / mse, "/tensor" per-tensor scales (else per channel),
+bc bias correction, +ar AdaRound, +fl8 first and last layers at 8 bits. "seconds" is ptq's
time; the first row of a benchmark includes the two TFLite conversions every later row reuses. Figures, not
assertions: the table says which configuration meets the goal (w4 within 1.0 point of float
top-1, ad AUC within 0.03; w8 within 0.5).
"""
import argparse
import importlib.util
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import yaml

REPO = Path(__file__).resolve().parents[1]

# label -> quantize.configs entry (without the bit-width, which the name gives)
METHODS = {
    "minmax/tensor": {"range": "minmax", "granularity": "per_tensor"},
    "minmax": {"range": "minmax"},
    "percentile": {"range": "percentile"},
    "mse": {"range": "mse"},
    "mse+bc": {"range": "mse", "bias_correction": True},
    "mse+ar": {"range": "mse", "adaround": True},
    "mse+ar+bc": {"range": "mse", "adaround": True, "bias_correction": True},
    "mse+bc+fl8": {"range": "mse", "bias_correction": True, "layers": {"first": 8, "last": 8}},
    "mse+ar+fl8": {"range": "mse", "adaround": True, "layers": {"first": 8, "last": 8}},
    "mse+ar+bc+fl8": {"range": "mse", "adaround": True, "bias_correction": True,
                      "layers": {"first": 8, "last": 8}},
}


def _stage(name: str):
    spec = importlib.util.spec_from_file_location(f"stage_{name}", REPO / "stages" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def ensure_inputs(root: Path, bench: str) -> tuple[Path, Path]:
    model, features = root / "models" / bench / "float.keras", root / "data/datasets" / bench / "features.npz"
    if not (model.is_file() and features.is_file()):
        print(f"{bench}: making {model} with snakemake (params defaults)", flush=True)
        subprocess.run(["snakemake", "--cores", "2", str(model.relative_to(root)),
                        str(features.relative_to(root))], cwd=root, check=True)
    return model, features


def calibration_set(features, bench: str, params: dict) -> np.ndarray:
    q = params["quantize"]
    n = q["calibration_samples"]
    n = n[bench] if isinstance(n, dict) else n
    x_val = features["x_val"]
    rng = np.random.default_rng(q["seed"])
    picks = np.sort(rng.choice(len(x_val), size=min(n, len(x_val)), replace=False))
    calibration = x_val[picks]
    if "pixel_scale" in features.files:
        calibration, _ = _stage("quantize").pin_pixel_range(calibration, float(features["pixel_scale"]))
    return calibration


def scorer(features, bench: str):
    """tflite bytes -> simulated test metric (accuracy or AUC), and the metric's name."""
    from tinysweep.benchmarks import get
    module = get(bench)
    data = {"x_test": features["x_test"], "y_test": features["y_test"]}
    if hasattr(module, "int8_metrics"):
        return (lambda buf: module.int8_metrics(buf, data)["test_auc_int8"]), "AUC"
    int8_accuracy = _stage("quantize").int8_accuracy
    return (lambda buf: int8_accuracy(buf, data["x_test"], data["y_test"])), "top-1"


def float_metric(root: Path, bench: str, model, features) -> float:
    train = root / "models" / bench / "train.json"
    if train.is_file():
        t = json.loads(train.read_text())
        for key in ("test_accuracy", "test_auc"):
            if key in t:
                return float(t[key])
    x, y = features["x_test"], features["y_test"]
    if bench == "ad":
        from tinysweep.benchmarks.ad import clip_auc
        return clip_auc(lambda w: model.predict(w, verbose=0), x, y)[0]
    return float((model.predict(x, verbose=0).argmax(1) == y).mean())


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--bench", nargs="+", default=["kws", "ic", "ad"])
    p.add_argument("--root", type=Path, default=REPO)
    p.add_argument("--bits", nargs="+", type=int, default=[4, 2])
    p.add_argument("--methods", nargs="+", default=list(METHODS), choices=list(METHODS))
    p.add_argument("--params-configs", action="store_true",
                   help="also run the PTQ configurations of params quantize.configs")
    p.add_argument("--json", type=Path, help="also write the rows here")
    a = p.parse_args(argv)
    from tinysweep.quant import QuantConfig, ptq
    from tinysweep.tfcompat import keras
    params = yaml.safe_load((a.root / "params.yaml").read_text()) \
        if (a.root / "params.yaml").is_file() else yaml.safe_load((REPO / "params.yaml").read_text())
    rows = []
    for bench in a.bench:
        model_path, features_path = ensure_inputs(a.root, bench)
        model = keras.models.load_model(model_path)
        features = np.load(features_path)
        calibration = calibration_set(features, bench, params)
        score, metric = scorer(features, bench)
        ref = float_metric(a.root, bench, model, features)
        print(f"\n{bench}: {metric}, test split {len(features['y_test'])}, calibration "
              f"{len(calibration)}; float {ref:.4f}", flush=True)
        print(f"{'bench':6} {'bits':>4} {'method':16} {metric:>7} {'vs float':>9} {'seconds':>8}")
        runs = [("minmax", QuantConfig.from_params("8", {}))]
        runs += [(m, QuantConfig.from_params(str(b), METHODS[m])) for b in a.bits for m in a.methods]
        runs += [(f"params:{name}", QuantConfig.from_params(name, entry))      # once params has them
                 for name, entry in params["quantize"].get("configs", {}).items()
                 if a.params_configs and entry.get("method", "ptq") == "ptq"]
        for label, config in runs:
            bits = config.bits
            start = time.perf_counter()
            buf, info = ptq(model, calibration, config)
            seconds = time.perf_counter() - start
            value = score(buf)
            scale = 1.0 if metric == "AUC" else 100.0
            delta = (value - ref) * scale
            print(f"{bench:6} {bits:>4} {label:16} {value:7.4f} {delta:+9.2f} {seconds:8.1f}",
                  flush=True)
            rows.append({"bench": bench, "bits": bits, "method": label, "metric": metric,
                         "value": value, "float": ref, "delta": delta, "ptq_seconds": seconds,
                         "options": info["options"], "how": "simulated, LiteRT without delegates"})
    if a.json:
        a.json.write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
