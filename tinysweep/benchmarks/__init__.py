"""The MLPerf Tiny benchmarks tinysweep knows, by short name (`--benchmark kws`).

A benchmark module provides what the generic stages call:

- ``CLASSES``: class names in the benchmark's official label order;
- ``make_dataset(out_dir, source, **options)``: fill an empty folder with the raw data set and
  its ``manifest.csv`` (stages/dataset.py);
- ``make_features(raw_dir, progress=True) -> dict``: the arrays of ``features.npz``
  (stages/features.py): ``x_train/x_val/x_test`` float32, ``y_*`` int64, ``classes``;
- ``train(features, *, epochs, batch_size, learning_rates, lr_boundaries, seed, **extra)
  -> (model, metrics)`` (stages/train.py);
- ``build_model()``: the untrained float Keras model ``train`` fits (params' quantize layers
  name its layers, checked before training: `architecture`);
- ``DATASET_OPTIONS`` / ``TRAIN_OPTIONS``: the benchmark's own stage options beyond the common
  ones, ``{name: (kind, help)}`` with kind one of `OPTION_KINDS`; the stages add them to their
  command line and the workflow passes the matching keys of params.yaml ``dataset.<name>`` /
  ``train.<name>`` (tinysweep/workflow.py).

Optional: ``int8_metrics(tflite, features) -> dict`` replaces stages/quantize.py's top-1 with the
benchmark's own int8 metric (ad: AUC; features.npz then names its ``benchmark``).
"""
import argparse
import importlib
import sys

_MODULES = {
    "kws": "tinysweep.benchmarks.kws",
    "ad": "tinysweep.benchmarks.ad",
    "ic": "tinysweep.benchmarks.ic",
    "vww": "tinysweep.benchmarks.vww",
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


def predict(model, x, batch_size: int = 256):
    """Model outputs in inference mode, batch by batch (eager: no graph tracing for a few calls)."""
    import numpy as np
    return np.concatenate([model(x[i:i + batch_size], training=False).numpy()
                           for i in range(0, len(x), batch_size)])


def fit_classifier(model, features, fit_args: dict, *, epochs: int, schedule, record: dict,
                   progress: bool = True):
    """Compile `model` (Adam, sparse CE), fit it for `epochs` with the learning rate
    schedule(epoch) on fit_args (x/y arrays or a tf.data set, plus batch_size/shuffle) and a
    progress bar; return its metrics: val/test accuracy (test per class), `record` (the recipe),
    parameters, sample counts, timings and the per-epoch history."""
    import time

    import numpy as np
    from tqdm import tqdm

    from tinysweep.tfcompat import keras
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=schedule(0)),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=False),
                  metrics=["accuracy"])
    bar = tqdm(total=epochs, desc="train", unit="epoch", file=sys.stderr, disable=not progress)

    class Progress(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            bar.set_postfix(loss=f"{logs['loss']:.3f}", acc=f"{logs['accuracy']:.3f}",
                            val_acc=f"{logs['val_accuracy']:.3f}")
            bar.update(1)

    t0 = time.time()
    with bar:
        history = model.fit(**fit_args, epochs=epochs, verbose=0,
                            validation_data=(features["x_val"], features["y_val"]),
                            callbacks=[keras.callbacks.LearningRateScheduler(schedule), Progress()])
    train_seconds = time.time() - t0
    t0 = time.time()
    pred = {s: predict(model, features[f"x_{s}"]).argmax(-1) for s in ("val", "test")}
    y_test = features["y_test"]
    classes = [str(c) for c in features["classes"]]
    return {
        "val_accuracy": float(np.mean(pred["val"] == features["y_val"])),
        "test_accuracy": float(np.mean(pred["test"] == y_test)),
        "test_accuracy_per_class": {c: float(np.mean(pred["test"][y_test == k] == k))
                                    for k, c in enumerate(classes) if (y_test == k).any()},
        "epochs": epochs, **record,
        "params": int(model.count_params()),
        "samples": {s: int(len(features[f"y_{s}"])) for s in ("train", "val", "test")},
        "train_seconds": round(train_seconds, 2),
        "seconds_per_epoch": round(train_seconds / epochs, 2),
        "eval_seconds": round(time.time() - t0, 2),
        "history": {k: [round(float(v), 5) for v in vals] for k, vals in history.history.items()},
    }


def write_manifest(path, rows, columns) -> None:
    """manifest.csv of a raw audio set: one row per clip, `columns` in order ('' if absent)."""
    import csv
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=columns, lineterminator="\n")
        w.writeheader()
        for row in rows:
            w.writerow({k: row.get(k, "") for k in columns})


def split_class_counts(rows, splits, classes) -> dict:
    """{split: {class: clips}} of manifest rows."""
    out = {s: {c: 0 for c in classes} for s in splits}
    for r in rows:
        out[r["split"]][r["label"]] += 1
    return out


def describe_source(raw_dir, descriptions: dict, beside: str = "the manifest") -> str:
    """One line saying what a raw set is: descriptions[source] of its dataset.json (`beside`:
    the file it sits next to, named when it is missing)."""
    import json
    from pathlib import Path
    try:
        source = json.loads((Path(raw_dir) / "dataset.json").read_text())["source"]
    except (OSError, ValueError, KeyError):
        return f"not recorded (no dataset.json beside {beside})"
    return descriptions.get(source, source)


def names() -> list[str]:
    return sorted(_MODULES)


def get(name: str):
    """The module of benchmark `name`; InputError for names tinysweep does not know."""
    if name not in _MODULES:
        raise InputError(f"unknown benchmark {name!r} (known: {', '.join(names())})")
    return importlib.import_module(_MODULES[name])


def architecture(name: str):
    """Benchmark `name`'s untrained float Keras model, its layers named as in the model the
    train stage saves: Keras numbers default layer names per graph, and the train stage builds
    its model first thing in a fresh process; a fresh graph here does the same."""
    from tinysweep.tfcompat import tf
    with tf.Graph().as_default():
        # random ops (dropout) need a seed once a training in this process enabled op
        # determinism; this graph is only looked at, never run
        tf.random.set_seed(0)
        return get(name).build_model()


def _bool(text: str) -> bool:
    if text.lower() in ("true", "1", "yes"):
        return True
    if text.lower() in ("false", "0", "no"):
        return False
    raise ValueError(f"not a boolean: {text!r}")


def parse_floats(text: str) -> list[float]:
    return [float(v) for v in text.split(",") if v.strip()]


def parse_ints(text: str) -> list[int]:
    return [int(v) for v in text.split(",") if v.strip()]


# Kinds of declared options and how a command line spells them (lists: comma-separated).
OPTION_KINDS = {"int": int, "float": float, "str": str, "bool": _bool, "floats": parse_floats,
                "ints": parse_ints}


def add_options(parser, options: dict) -> None:
    """Add a benchmark's declared options ({name: (kind, help)}) to an argparse parser."""
    for name, (kind, help_text) in options.items():
        parser.add_argument(f"--{name.replace('_', '-')}", type=OPTION_KINDS[kind],
                            help=help_text)


def parse_with_options(parser, argv, attribute: str):
    """Parse `argv` with the options `attribute` (DATASET_OPTIONS, TRAIN_OPTIONS) of the
    benchmark it names added: (namespace, module, {option: value given})."""
    argv = sys.argv[1:] if argv is None else list(argv)
    # only --benchmark matters here; --help waits for the benchmark's options
    probe = argparse.ArgumentParser(add_help=False)
    probe.add_argument("--benchmark")
    known, _ = probe.parse_known_args(argv)
    if known.benchmark is None:                  # usage error or plain --help
        return parser.parse_args(argv), None, {}
    try:
        module = get(known.benchmark)
    except InputError as e:
        parser.error(str(e))
    options = getattr(module, attribute, {})
    add_options(parser, options)
    args = parser.parse_args(argv)
    given = {k: getattr(args, k) for k in options if getattr(args, k) is not None}
    return args, module, given
