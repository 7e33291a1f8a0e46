"""Image classification (MLPerf Tiny ic01): CIFAR-10 classes, data sets, ResNet-8 and its recipe.

Two sources, one layout (tinysweep.benchmarks.images: images.npz, uint8 32x32x3 RGB):

- ``offline``: scikit-learn's bundled handwritten digits (1797 real 8x8 scans, 10 classes),
  upscaled to 32x32 and coloured (random stroke and background colours, offsets); digit k
  stands in for CIFAR-10 class k (0 = "airplane", ...). No network. A stand-in: it shows
  relative effects (bit-widths, devices), not CIFAR-10 accuracy.
- ``cifar10``: the CIFAR-10 python archive (pinned URL and sha256): data_batch_1..5 for
  training and validation (a seeded, class-stratified val share), test_batch as the test split
  (MLPerf Tiny evaluates 200 of its images).

Metric: top-1 over the 10 classes. Features are the raw pixels (0..255 float), as the
MLPerf Tiny reference trains ResNet-8.
"""
import pickle

import numpy as np

from tinysweep.benchmarks import InputError, images

CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship",
           "truck")                                   # CIFAR-10 label order 0..9
SPLITS = images.SPLITS
SHAPE = (32, 32, 3)
PIXEL_SCALE = 1.0                                     # features = raw pixels
CIFAR10_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
# Keras' cifar10.load_data pins the same digest (170,498,071 bytes; md5 c58f3010...).
CIFAR10_SHA256 = "6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce"
CIFAR10_DIR = "cifar-10-batches-py"

DATASET_OPTIONS = images.source_options("cifar10")     # cifar10 tests on its test_batch
TRAIN_OPTIONS = images.AUGMENT_OPTIONS

DATA_DESCRIPTIONS = {
    "offline": "stand-in: scikit-learn's handwritten digits (8x8 scans upscaled to 32x32, "
               "coloured), digit k standing for CIFAR-10 class k; read its numbers as relative",
    "cifar10": "CIFAR-10 (real images), test_batch as the test split",
}


# ---------------------------------------------------------------- offline (sklearn digits)
def render_digits(digits: np.ndarray, seed: int) -> np.ndarray:
    """uint8 [N, 32, 32, 3]: each 8x8 digit (0..16) upscaled bilinearly to 28x28, placed at a
    random offset in 32x32, stroke and background in random contrasting colours, mild noise.
    Every image spans 0..255 in at least one channel (darkest background / brightest stroke)."""
    from scipy.ndimage import zoom
    rng = np.random.default_rng([seed, 3])
    out = np.zeros((len(digits),) + SHAPE, np.uint8)
    for i, d in enumerate(digits):
        stroke = np.clip(zoom(d.reshape(8, 8) / 16.0, 3.5, order=1), 0, 1)     # 28x28
        canvas = np.zeros((32, 32))
        dy, dx = rng.integers(0, 5, 2)
        canvas[dy:dy + 28, dx:dx + 28] = stroke
        dark, bright = rng.uniform(0, 0.35, 3), rng.uniform(0.65, 1.0, 3)
        dark[rng.integers(3)], bright[rng.integers(3)] = 0.0, 1.0
        bg, fg = (dark, bright) if rng.random() < 0.5 else (bright, dark)
        img = bg + canvas[..., None] * (fg - bg) + rng.normal(0, 0.03, (32, 32, 3))
        out[i] = np.clip(np.round(img * 255), 0, 255).astype(np.uint8)
    return out


def make_offline(out_dir, seed: int, val_fraction: float, test_fraction: float) -> dict:
    from sklearn.datasets import load_digits
    digits = load_digits()
    labels = digits.target.astype(np.int64)
    split = images.stratified_split(labels, val_fraction, test_fraction, seed)
    counts = images.write_raw(out_dir, render_digits(digits.data, seed), labels, split, CLASSES)
    return {"source": "offline", "seed": seed, "val_fraction": val_fraction,
            "test_fraction": test_fraction, "origin": "sklearn.datasets.load_digits "
            "(UCI optical recognition of handwritten digits, 1797 images)", "counts": counts}


# ---------------------------------------------------------------- CIFAR-10
def read_cifar_batch(path) -> tuple[np.ndarray, np.ndarray]:
    """(uint8 [N, 32, 32, 3] HWC, int64 labels) of one CIFAR-10 python batch (pickled dict
    with b"data" [N, 3072] planar RGB and b"labels"). The archive's sha256 was verified."""
    try:
        with open(path, "rb") as f:
            batch = pickle.load(f, encoding="bytes")
        data, labels = np.asarray(batch[b"data"], np.uint8), np.asarray(batch[b"labels"])
    except (OSError, pickle.UnpicklingError, KeyError, EOFError) as e:
        raise InputError(f"{path} is not a CIFAR-10 python batch: {e}") from None
    return data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1).copy(), labels.astype(np.int64)


def cifar_images(root, val_fraction: float, seed: int):
    """images, labels, split of an extracted cifar-10-batches-py folder."""
    root = root / CIFAR10_DIR if (root / CIFAR10_DIR).is_dir() else root
    missing = [n for n in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
               if not (root / n).is_file()]
    if missing:
        raise InputError(f"{root} is not a CIFAR-10 python folder: {', '.join(missing)} missing")
    parts = [read_cifar_batch(root / f"data_batch_{i}") for i in range(1, 6)]
    x_train = np.concatenate([p[0] for p in parts])
    y_train = np.concatenate([p[1] for p in parts])
    x_test, y_test = read_cifar_batch(root / "test_batch")
    split = images.stratified_split(y_train, val_fraction, 0.0, seed)
    return (np.concatenate([x_train, x_test]), np.concatenate([y_train, y_test]),
            np.concatenate([split, np.full(len(y_test), "test")]))


def make_cifar10(out_dir, url, sha256, download_dir, seed: int, val_fraction: float,
                 progress: bool = True) -> dict:
    with images.fetch_and_extract(url, sha256, download_dir, "CIFAR-10", progress) as root:
        x, y, split = cifar_images(root, val_fraction, seed)
    counts = images.write_raw(out_dir, x, y, split, CLASSES)
    return {"source": "cifar10", "url": url, "sha256": sha256, "seed": seed,
            "val_fraction": val_fraction, "counts": counts}


def make_dataset(out_dir, source: str, *, seed: int, val_fraction: float = 0.1,
                 test_fraction: float = 0.15, url=None, sha256=None, download_dir=None,
                 progress: bool = True) -> dict:
    if source == "offline":
        return make_offline(out_dir, seed, val_fraction, test_fraction)
    if source == "cifar10":
        return make_cifar10(out_dir, url, sha256, download_dir, seed, val_fraction, progress)
    raise InputError(f"unknown source {source!r} for ic (allowed: offline, cifar10)")


def make_features(raw_dir, progress: bool = True) -> dict:
    return images.make_features(raw_dir, CLASSES, PIXEL_SCALE, DATA_DESCRIPTIONS, SHAPE)


# ---------------------------------------------------------------- model and training recipe
def build_model():
    """MLPerf Tiny's ResNet-8 (16/32/64 filters, 32x32x3, L2 1e-4)."""
    from tinysweep.benchmarks.reference_models import build_ic
    return build_ic()[0]


def train(features, **recipe):
    """ResNet-8 with the MLPerf recipe (Adam, lr x decay^epoch, augmentation);
    deterministic for a seed (images.train_classifier)."""
    return images.train_classifier(build_model, features, **recipe)
