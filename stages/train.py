"""Stage `train`: the benchmark's float model, trained on features.npz with a fixed seed.

python stages/train.py --benchmark kws --features data/kws/features.npz \
    --out models/kws/float.keras --metrics models/kws/train.json --epochs 15 --batch-size 100 \
    --learning-rates 5e-4,1e-4,2e-5 --lr-boundaries 12,24 --seed 0

Further options are the benchmark's own (TRAIN_OPTIONS of its module, e.g. ic/vww
augmentation; `--benchmark X --help` lists them).

The metrics json holds float val/test accuracy (and per class), epochs, schedule, parameter
count, sample counts, timings and the per-epoch history.
"""
import sys
from pathlib import Path

import numpy as np

from tinysweep import benchmarks
from tinysweep.cli import Parser
from tinysweep.io import save_keras_atomic, write_json_atomic

KEYS = ("x_train", "y_train", "x_val", "y_val", "x_test", "y_test", "classes")


def load_features(path) -> dict:
    if not Path(path).is_file():
        raise benchmarks.InputError(f"{path} not found (run stages/features.py first)")
    with np.load(path) as f:
        missing = [k for k in KEYS if k not in f.files]
        if missing:
            raise benchmarks.InputError(f"{path} lacks {', '.join(missing)}")
        return {k: f[k] for k in KEYS}


def train(benchmark: str, features, out, metrics_path, **recipe) -> dict:
    """Train, then write the model (.keras) and its metrics json; return the metrics."""
    if Path(out).suffix != ".keras":
        raise benchmarks.InputError(f"--out must end in .keras, got {out}")
    benchmarks.check_recipe(recipe["epochs"], recipe["batch_size"], recipe["learning_rates"],
                            recipe["lr_boundaries"])
    module = benchmarks.get(benchmark)
    model, metrics = module.train(load_features(features), **recipe)
    metrics = {"benchmark": benchmark, "features": str(features), **metrics}
    save_keras_atomic(model, out)
    write_json_atomic(metrics_path, metrics)
    return metrics


def main(argv=None) -> int:
    p = Parser(prog="train", description=__doc__.splitlines()[0])
    p.add_argument("--benchmark", required=True, help="benchmark short name, e.g. kws")
    p.add_argument("--features", required=True, help="features .npz")
    p.add_argument("--out", required=True, help="output model (.keras)")
    p.add_argument("--metrics", required=True, help="output metrics .json")
    p.add_argument("--epochs", type=int, required=True)
    p.add_argument("--batch-size", type=int, required=True)
    p.add_argument("--learning-rates", type=benchmarks.parse_floats, required=True,
                   help="e.g. 5e-4,1e-4,2e-5")
    p.add_argument("--lr-boundaries", type=benchmarks.parse_ints, default=[],
                   help="epochs, e.g. 12,24")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    a, _, extra = benchmarks.parse_with_options(p, argv, "TRAIN_OPTIONS")
    try:
        m = train(a.benchmark, a.features, a.out, a.metrics, epochs=a.epochs,
                  batch_size=a.batch_size, learning_rates=a.learning_rates,
                  lr_boundaries=a.lr_boundaries, seed=a.seed, progress=not a.no_progress,
                  **extra)
    except (ValueError, OSError) as e:
        print(f"train: {e}", file=sys.stderr)
        return 1
    score = (f"float test AUC {m['test_auc']:.4f}" if m.get("metric") == "AUC"
             else f"float val {m['val_accuracy']:.4f}, test {m['test_accuracy']:.4f}")
    print(f"train: {a.out}: {score} after {m['epochs']} epochs in {m['train_seconds']:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
