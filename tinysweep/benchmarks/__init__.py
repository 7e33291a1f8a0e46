"""The MLPerf Tiny benchmarks tinysweep knows, by short name (`--benchmark kws`).

A benchmark module provides what the generic stages call:

- ``CLASSES``: class names in the benchmark's official label order;
- ``make_dataset(out_dir, source, **options)``: fill an empty folder with the raw data set and
  its ``manifest.csv`` (stages/dataset.py);
- ``make_features(raw_dir, progress=True) -> dict``: the arrays of ``features.npz``
  (stages/features.py): ``x_train/x_val/x_test`` float32, ``y_*`` int64, ``classes``;
- ``train(features, *, epochs, batch_size, learning_rates, lr_boundaries, seed)
  -> (model, metrics)`` (stages/train.py).

Optional: ``int8_metrics(tflite, features) -> dict`` replaces stages/quantize.py's top-1 with the
benchmark's own int8 metric (ad: AUC; features.npz then names its ``benchmark``), and
``REAL_SOURCE_KEYS`` lists dataset keys a real source uses too (tinysweep/workflow.py).
"""
import importlib

_MODULES = {
    "kws": "tinysweep.benchmarks.kws",
    "ad": "tinysweep.benchmarks.ad",
}


class InputError(ValueError):
    """Bad user input (arguments, files): stages print it on one line and exit 1."""


def step_learning_rate(epoch: int, learning_rates, boundaries) -> float:
    """Step schedule: learning_rates[k] from epoch boundaries[k-1] on (epochs count from 0)."""
    return float(learning_rates[sum(epoch >= b for b in boundaries)])


def check_recipe(epochs: int, batch_size: int, learning_rates, boundaries) -> None:
    """InputError unless the training arguments make sense (cheap: call before loading data)."""
    if epochs < 1 or batch_size < 1:
        raise InputError(f"--epochs and --batch-size must be at least 1, got {epochs} and "
                         f"{batch_size}")
    if len(learning_rates) != len(boundaries) + 1:
        raise InputError(f"{len(learning_rates)} learning rates need {len(learning_rates) - 1} "
                         f"lr boundaries, got {len(boundaries)}")
    if any(lr <= 0 for lr in learning_rates):
        raise InputError(f"learning rates must be positive, got {list(learning_rates)}")
    if list(boundaries) != sorted(set(boundaries)) or any(b <= 0 for b in boundaries):
        raise InputError(f"lr boundaries must be increasing positive epochs, "
                         f"got {list(boundaries)}")


def names() -> list[str]:
    return sorted(_MODULES)


def get(name: str):
    """The module of benchmark `name`; InputError for names tinysweep does not know."""
    if name not in _MODULES:
        raise InputError(f"unknown benchmark {name!r} (known: {', '.join(names())})")
    return importlib.import_module(_MODULES[name])
