"""The MLPerf Tiny benchmarks tinysweep knows, by short name (`--benchmark kws`).

A benchmark module provides what the generic stages call:

- ``CLASSES``: class names in the benchmark's official label order;
- ``make_dataset(out_dir, source, **options)``: fill an empty folder with the raw data set and
  its ``manifest.csv`` (stages/dataset.py);
- ``make_features(raw_dir, progress=True) -> dict``: the arrays of ``features.npz``
  (stages/features.py): ``x_train/x_val/x_test`` float32, ``y_*`` int64, ``classes``;
- ``train(features, *, epochs, batch_size, learning_rates, lr_boundaries, seed, **extra)
  -> (model, metrics)`` (stages/train.py);
- ``DATASET_OPTIONS`` / ``TRAIN_OPTIONS``: the benchmark's own stage options beyond the common
  ones, ``{name: (kind, help)}`` with kind one of `OPTION_KINDS`; the stages add them to their
  command line and the workflow passes the matching keys of params.yaml ``dataset.<name>`` /
  ``train.<name>`` (tinysweep/workflow.py).
"""
import importlib

_MODULES = {
    "kws": "tinysweep.benchmarks.kws",
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


def names() -> list[str]:
    return sorted(_MODULES)


def get(name: str):
    """The module of benchmark `name`; InputError for names tinysweep does not know."""
    if name not in _MODULES:
        raise InputError(f"unknown benchmark {name!r} (known: {', '.join(names())})")
    return importlib.import_module(_MODULES[name])


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
    known, _ = parser.parse_known_args(argv)
    try:
        module = get(known.benchmark)
    except InputError as e:
        parser.error(str(e))
    options = getattr(module, attribute, {})
    add_options(parser, options)
    args = parser.parse_args(argv)
    given = {k: getattr(args, k) for k in options if getattr(args, k) is not None}
    return args, module, given
