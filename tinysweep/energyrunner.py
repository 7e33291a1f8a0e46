"""EnergyRunner dataset folders: one `.bin` per sample and a `y_labels.csv`.

`y_labels.csv` has no header; each line is `file,num_classes,class` (ad01 appends window and
stride bytes: `file,2,label,2560,512`). This is what the official MLPerf Tiny runners feed a
device, so a folder written here can also be used with EEMBC's EnergyRunner.
"""
from __future__ import annotations

import csv
import hashlib
import io
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

LABELS_FILE = "y_labels.csv"


@dataclass(frozen=True)
class Profile:
    name: str            # the device's m-model-[...] string
    input_bytes: int     # bytes of one .bin
    dtype: str           # element type stored in the .bin
    shape: tuple         # model input shape without the batch dimension
    num_classes: int
    class_names: tuple = field(default=())
    windowed: bool = False  # ad01: a .bin is a clip, sent to the device window by window


PROFILES = {
    "kws01": Profile("kws01", 490, "int8", (49, 10, 1), 12,
                     ("down", "go", "left", "no", "off", "on", "right", "stop", "up", "yes",
                      "silence", "unknown")),
    "ic01": Profile("ic01", 3072, "uint8", (32, 32, 3), 10,
                    ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse",
                     "ship", "truck")),
    "vww01": Profile("vww01", 27648, "uint8", (96, 96, 3), 2, ("non_person", "person")),
    # input_bytes: one window of 5 log-mel frames x 128 float32; a .bin holds a whole clip
    "ad01": Profile("ad01", 2560, "float32", (640,), 2, ("normal", "anomaly"), windowed=True),
}

BENCHMARK_PROFILES = {"kws": "kws01", "ic": "ic01", "vww": "vww01", "ad": "ad01"}


def profile(name: str) -> Profile:
    try:
        return PROFILES[name]
    except KeyError:
        raise ValueError(f"unknown or unsupported profile {name!r}; known: "
                         f"{', '.join(sorted(PROFILES))}") from None


@dataclass(frozen=True)
class Sample:
    file: str
    data: bytes
    num_classes: int
    label: int
    extra: tuple = ()  # further y_labels.csv columns (ad01 window/stride)


def sample_filename(index: int, label: int, prof: Profile | None = None) -> str:
    """`tst_000042_yes_9.bin`, the naming of the official KWS files."""
    name = prof.class_names[label] if prof and label < len(prof.class_names) else "class"
    return f"tst_{index:06d}_{name}_{label}.bin"


def write_folder(folder, samples, num_classes: int, input_bytes: int | None = None,
                 extra: tuple = ()):
    """Write (file name, bytes, label) triples into `folder` (which must exist, e.g. the
    temporary folder of tinysweep.io.atomic_dir); `extra` columns end every y_labels.csv line
    (ad01: window and stride bytes). Returns the number of samples."""
    folder = Path(folder)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    seen = set()
    for name, data, label in samples:
        if "/" in name or "," in name or not name.endswith(".bin") or name in seen:
            raise ValueError(f"bad or repeated sample file name {name!r}")
        if input_bytes is not None and len(data) != input_bytes:
            raise ValueError(f"{name}: {len(data)} bytes, the profile needs {input_bytes}")
        if not 0 <= int(label) < num_classes:
            raise ValueError(f"{name}: label {label} outside 0..{num_classes - 1}")
        seen.add(name)
        (folder / name).write_bytes(bytes(data))
        writer.writerow([name, num_classes, int(label), *extra])
    if not seen:
        raise ValueError("no samples to write")
    (folder / LABELS_FILE).write_text(out.getvalue())
    return len(seen)


def read_folder(folder, input_bytes: int | None = None) -> list[Sample]:
    """The samples listed in `folder/y_labels.csv`, in file order; every .bin must exist."""
    folder = Path(folder)
    labels = folder / LABELS_FILE
    if not labels.is_file():
        raise FileNotFoundError(f"{labels} not found: not an EnergyRunner folder")
    samples = []
    with open(labels, newline="") as f:
        for lineno, row in enumerate(csv.reader(f), 1):
            if not row or not "".join(row).strip():
                continue
            if len(row) < 3:
                raise ValueError(f"{labels}:{lineno}: expected 'file,num_classes,class', got {row!r}")
            name, num_classes, label = row[0].strip(), row[1].strip(), row[2].strip()
            try:
                num_classes, label = int(num_classes), int(label)
            except ValueError:
                raise ValueError(f"{labels}:{lineno}: num_classes and class must be integers, "
                                 f"got {row!r}") from None
            if not 0 <= label < num_classes:
                raise ValueError(f"{labels}:{lineno}: class {label} is outside 0..{num_classes - 1} "
                                 f"(num_classes {num_classes}), got {row!r}")
            path = folder / name
            if not path.is_file():
                raise FileNotFoundError(f"{labels}:{lineno}: {name} not found in {folder}")
            data = path.read_bytes()
            if input_bytes is not None and len(data) != input_bytes:
                raise ValueError(f"{path}: {len(data)} bytes, expected {input_bytes}")
            samples.append(Sample(name, data, num_classes, label, tuple(c.strip() for c in row[3:])))
    if not samples:
        raise ValueError(f"{labels} lists no samples")
    return samples


def folder_sha256(folder) -> str:
    """One digest over y_labels.csv and every sample it lists (names and bytes)."""
    h = hashlib.sha256()
    folder = Path(folder)
    h.update((folder / LABELS_FILE).read_bytes())
    for s in read_folder(folder):
        h.update(s.file.encode() + b"\0" + hashlib.sha256(s.data).digest())
    return h.hexdigest()


def windows(sample: Sample, prof: Profile) -> list[bytes]:
    """ad01: the windows of one clip in the order the official runner sends them. y_labels.csv
    gives window and stride bytes after the label (`file,2,label,2560,512`)."""
    if len(sample.extra) < 2:
        raise ValueError(f"{sample.file}: {prof.name} lines need window and stride bytes "
                         f"after the label (file,2,label,{prof.input_bytes},512)")
    try:
        size, stride = int(sample.extra[0]), int(sample.extra[1])
    except ValueError:
        raise ValueError(f"{sample.file}: window and stride bytes must be integers, got "
                         f"{sample.extra[:2]!r}") from None
    if size != prof.input_bytes:
        raise ValueError(f"{sample.file}: windows of {size} bytes, {prof.name} models take "
                         f"{prof.input_bytes}")
    if stride <= 0 or stride % 4:
        raise ValueError(f"{sample.file}: stride of {stride} bytes is not a positive multiple of 4")
    if len(sample.data) < size:
        raise ValueError(f"{sample.file}: {len(sample.data)} bytes, shorter than one window ({size})")
    return [sample.data[i:i + size] for i in range(0, len(sample.data) - size + 1, stride)]


def model_input(data: bytes, prof: Profile) -> np.ndarray:
    """A sample's bytes as the int8 tensor the model takes: kws01 bytes are int8 already;
    ic01 / vww01 bytes are uint8 pixels and the model's int8 input is pixel - 128."""
    if prof.dtype == "int8":
        x = np.frombuffer(data, dtype=np.int8)
    elif prof.dtype == "uint8":
        x = (np.frombuffer(data, dtype=np.uint8).astype(np.int16) - 128).astype(np.int8)
    else:
        raise ValueError(f"profile {prof.name}: {prof.dtype} inputs are not supported")
    return x.reshape(prof.shape)


def quantize_inputs(x: np.ndarray, scale: float, zero_point: int) -> np.ndarray:
    """float features -> int8 with the model's input quantization, as TFLM's QUANTIZE (and
    the firmware's tsn_quantize_f32_s8): round(x / scale) with the division in float32, half
    away from zero, + zero point, clamped to [-128, 127]. NaN -> zero point."""
    v = (np.asarray(x, dtype=np.float32) / np.float32(scale)).astype(np.float64)
    v = np.nan_to_num(np.clip(v, -2.0 ** 24, 2.0 ** 24), nan=0.0)
    q = np.sign(v) * np.floor(np.abs(v) + 0.5) + int(zero_point)
    return np.clip(q, -128, 127).astype(np.int8)


def window_floats(window: bytes) -> np.ndarray:
    """An ad01 window's bytes as the float32 values (little-endian) the device receives."""
    return np.frombuffer(window, dtype="<f4")


def stratified_subset(labels: np.ndarray, n: int, seed: int) -> np.ndarray:
    """Sorted indices of a fixed, seeded, class-stratified subset of `n` samples.

    n = 0 -> every index. Otherwise each class gets its proportional share (largest
    remainders break ties, smallest class index first) drawn without replacement with
    numpy's PCG64 seeded by `seed`; the same inputs always give the same subset."""
    labels = np.asarray(labels).reshape(-1)
    total = len(labels)
    if n == 0:
        return np.arange(total)
    if not 0 < n <= total:
        raise ValueError(f"asked for {n} samples, the split has {total}")
    classes, counts = np.unique(labels, return_counts=True)
    exact = counts * n / total
    share = np.floor(exact).astype(int)
    order = sorted(range(len(classes)), key=lambda i: (-(exact[i] - share[i]), i))
    for i in order[:n - share.sum()]:
        share[i] += 1
    rng = np.random.default_rng(seed)
    picked = [rng.choice(np.flatnonzero(labels == c), size=k, replace=False)
              for c, k in zip(classes, share) if k]
    return np.sort(np.concatenate(picked))
