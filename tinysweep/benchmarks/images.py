"""What the image benchmarks (ic, vww) share: the raw layout, splits, features, real archives
and the training loop with MLPerf Tiny's augmentation.

Raw layout: a folder with ``images.npz`` (``images`` uint8 [N, H, W, 3] RGB, ``labels`` int64,
``split`` str: train/val/test) beside dataset.json. Features are the pixels as float32, times
the benchmark's ``pixel_scale`` (ic 1: raw pixels, as MLPerf's ResNet-8; vww 1/255, as MLPerf's
MobileNet): a model quantized with input scale = pixel_scale and zero point -128 takes
int8 = pixel - 128, the input EnergyRunner's ic01/vww01 files assume (stages/quantize.py makes
sure of it).
"""
import tempfile
from pathlib import Path

import numpy as np
from tinysweep.benchmarks import (InputError, check_recipe, describe_source, fit_classifier,
                                  step_learning_rate)
from tinysweep.io import save_npz

SPLITS = ("train", "val", "test")
RAW_FILE = "images.npz"
# Training options of every image benchmark (MLPerf's ImageDataGenerator arguments).
AUGMENT_OPTIONS = {
    "lr_decay": ("float", "learning rate x lr_decay^epoch on top of the step schedule"),
    "rotation_deg": ("float", "augmentation: random rotation up to this many degrees"),
    "shift": ("float", "augmentation: random shift up to this fraction of width/height"),
    "zoom": ("float", "augmentation: random zoom up to this fraction"),
    "flip": ("bool", "augmentation: random horizontal flips"),
}


def source_options(real_source: str) -> dict:
    """Dataset options every image benchmark takes: split shares, the real source's archive."""
    return {
        "val_fraction": ("float", "share of each class held out for validation"),
        "test_fraction": ("float", "share of each class held out for testing"),
        "url": ("str", f"{real_source}: archive URL"),
        "sha256": ("str", f"{real_source}: archive sha256"),
        "download_dir": ("str", f"{real_source}: where the archive is kept"),
    }


def stratified_split(labels, val_fraction: float, test_fraction: float, seed: int) -> np.ndarray:
    """Split name per sample: per class, a seeded val_fraction / test_fraction share (at least
    one each, none for a fraction of 0), the rest train."""
    labels = np.asarray(labels)
    rng = np.random.default_rng([seed, 7])
    split = np.full(len(labels), "train", dtype=object)
    for c in np.unique(labels):
        index = rng.permutation(np.flatnonzero(labels == c))
        n_val = max(1, round(val_fraction * len(index)))
        n_test = max(1, round(test_fraction * len(index))) if test_fraction > 0 else 0
        if n_val + n_test >= len(index):
            raise InputError(f"class {c} has {len(index)} samples: too few for a train, val "
                             f"and test share")
        split[index[:n_test]] = "test"
        split[index[n_test:n_test + n_val]] = "val"
    return split.astype(str)


def counts(labels, split, classes) -> dict:
    return {s: {c: int(np.sum((split == s) & (labels == k))) for k, c in enumerate(classes)}
            for s in SPLITS}


def write_raw(out_dir, images: np.ndarray, labels, split, classes) -> dict:
    """images.npz into `out_dir`; returns the per-split class counts."""
    labels, split = np.asarray(labels, np.int64), np.asarray(split).astype(str)
    if images.dtype != np.uint8 or images.ndim != 4 or images.shape[-1] != 3:
        raise InputError(f"images must be uint8 [N, H, W, 3], got {images.dtype} {images.shape}")
    save_npz(Path(out_dir) / RAW_FILE, {"images": images, "labels": labels, "split": split})
    return counts(labels, split, classes)


def fetch_and_extract(url: str, sha256: str, download_dir, name: str, progress: bool):
    """The archive at `url` (pinned sha256, kept in download_dir, resumable), extracted into a
    temporary folder: a context manager giving that folder's Path."""
    from tinysweep.download import extract, fetch
    if not (url and sha256 and download_dir):
        raise InputError(f"{name} needs --url, --sha256 and --download-dir "
                         f"(params.yaml dataset.<benchmark>.<source>)")
    archive = fetch(url, Path(download_dir) / Path(url.split("?")[0]).name, sha256, name=name,
                    progress=progress)
    tmp = tempfile.TemporaryDirectory(dir=download_dir, prefix=".extract-")
    extract(archive, Path(tmp.name) / "x", progress=progress)
    return _Extracted(tmp, archive)


class _Extracted:
    def __init__(self, tmp, archive: Path):
        self.tmp, self.archive = tmp, archive

    def __enter__(self) -> Path:
        return Path(self.tmp.name) / "x"

    def __exit__(self, exc_type, exc, tb):
        self.tmp.cleanup()
        root = str(Path(self.tmp.name) / "x")
        if isinstance(exc, InputError) and root in str(exc):  # name the archive, not a temp folder
            raise InputError(str(exc).replace(root, f"the archive {self.archive}")) from None


def describe_dataset(raw_dir, descriptions: dict) -> str:
    """One line saying what the raw set is, from its dataset.json."""
    return describe_source(raw_dir, descriptions, beside=RAW_FILE)


def make_features(raw_dir, classes, pixel_scale: float, descriptions: dict,
                  shape=None) -> dict:
    """features.npz arrays: x_* float32 pixels x pixel_scale, y_* int64, classes, dataset,
    pixel_scale."""
    path = Path(raw_dir) / RAW_FILE
    if not path.is_file():
        raise InputError(f"{path} not found (run stages/dataset.py first)")
    with np.load(path) as f:
        if not {"images", "labels", "split"} <= set(f.files):
            raise InputError(f"{path} lacks images, labels or split")
        images, labels, split = f["images"], f["labels"], f["split"]
    if shape is not None and images.shape[1:] != tuple(shape):
        raise InputError(f"{path}: images are {images.shape[1:]}, the model takes {tuple(shape)}")
    if len(labels) and not 0 <= labels.min() <= labels.max() < len(classes):
        raise InputError(f"{path}: labels outside 0..{len(classes) - 1}")
    out = {"classes": np.array(classes),
           "dataset": np.array(describe_dataset(raw_dir, descriptions)),
           "pixel_scale": np.array(pixel_scale, np.float32)}
    for s in SPLITS:
        if not (split == s).any():
            raise InputError(f"{path}: no images in the {s} split")
        out[f"x_{s}"] = images[split == s].astype(np.float32) * np.float32(pixel_scale)
        out[f"y_{s}"] = labels[split == s].astype(np.int64)
    return out


def augmenter(seed: int, rotation_deg: float = 0.0, shift: float = 0.0, zoom: float = 0.0,
              flip: bool = False):
    """MLPerf's ImageDataGenerator augmentation as Keras preprocessing layers (None: none)."""
    from tinysweep.tfcompat import keras
    L = keras.layers
    layers = []
    if flip:
        layers.append(L.RandomFlip("horizontal", seed=seed))
    if rotation_deg:
        layers.append(L.RandomRotation(rotation_deg / 360.0, fill_mode="nearest", seed=seed + 1))
    if shift:
        layers.append(L.RandomTranslation(shift, shift, fill_mode="nearest", seed=seed + 2))
    if zoom:
        layers.append(L.RandomZoom(zoom, zoom, fill_mode="nearest", seed=seed + 3))
    return keras.Sequential(layers) if layers else None


def train_classifier(build_model, features, *, epochs: int, batch_size: int, learning_rates,
                     lr_boundaries, seed: int, lr_decay: float = 1.0, rotation_deg: float = 0.0,
                     shift: float = 0.0, zoom: float = 0.0, flip: bool = False,
                     progress: bool = True):
    """Train build_model() on features with Adam, sparse CE, the step schedule x
    lr_decay^epoch and the augmentation; (model, metrics). Deterministic for a seed (op
    determinism on)."""
    from tinysweep.tfcompat import keras, tf
    check_recipe(epochs, batch_size, learning_rates, lr_boundaries)
    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()
    model = build_model()
    aug = augmenter(seed, rotation_deg, shift, zoom, flip)
    data = tf.data.Dataset.from_tensor_slices((features["x_train"], features["y_train"]))
    data = data.shuffle(len(features["y_train"]), seed=seed, reshuffle_each_iteration=True)
    data = data.batch(batch_size)
    if aug is not None:
        data = data.map(lambda x, y: (aug(x, training=True), y))
    metrics = fit_classifier(
        model, features, {"x": data.prefetch(2)}, epochs=epochs, progress=progress,
        schedule=lambda e: step_learning_rate(e, learning_rates, lr_boundaries) * lr_decay ** e,
        record={"batch_size": batch_size, "learning_rates": list(learning_rates),
                "lr_boundaries": list(lr_boundaries), "lr_decay": lr_decay, "seed": seed,
                "augmentation": {"rotation_deg": rotation_deg, "shift": shift, "zoom": zoom,
                                 "flip": bool(flip)}})
    return model, metrics
