"""Keyword spotting (MLPerf Tiny kws01): classes, data sets, DS-CNN and its training recipe.

Two sources of raw audio, one layout: a folder with ``manifest.csv`` (columns `MANIFEST_COLUMNS`;
`path` relative to the folder, `start` = first sample of the 1 s clip) and the audio it names.

- ``offline``: keywords synthesised with espeak-ng (8 English accents × 98 voice variants,
  speed 110–220 wpm, pitch 20–80, a random offset in the second, white/pink/brown/hum noise at
  SNR 0–45 dB), split by voice so validation and test voices never occur in training.
  A stand-in for Speech Commands: use it for relative effects, not absolute accuracy.
- ``speech_commands``: Speech Commands v2 with its reference validation/testing lists;
  silence cut from ``_background_noise_`` and unknown drawn from the other 25 words, each
  10 % of the keyword clips of the split, as the TensorFlow reference (input_data.py) does.
"""
import csv
import math
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from tinysweep import audio
from tinysweep.benchmarks import (InputError, check_recipe, describe_source, fit_classifier,
                                  split_class_counts, step_learning_rate, write_manifest)

KEYWORDS = ("down", "go", "left", "no", "off", "on", "right", "stop", "up", "yes")
CLASSES = KEYWORDS + ("silence", "unknown")          # MLPerf Tiny label order 0..11
# The other words of Speech Commands v2: the "unknown" class.
UNKNOWN_WORDS = ("backward", "bed", "bird", "cat", "dog", "eight", "five", "follow", "forward",
                 "four", "happy", "house", "learn", "marvin", "nine", "one", "seven", "sheila",
                 "six", "three", "tree", "two", "visual", "wow", "zero")
SPLITS = ("train", "val", "test")
MANIFEST_COLUMNS = ("path", "start", "label", "split", "speaker", "word", "speed", "pitch",
                    "noise", "snr_db")
# Stage options beyond the common ones (tinysweep.benchmarks.add_options).
DATASET_OPTIONS = {
    "clips_per_class": ("int", "offline: clips per class, all splits"),
    "url": ("str", "speech_commands: archive URL"),
    "sha256": ("str", "speech_commands: archive sha256"),
    "download_dir": ("str", "speech_commands: where the archive is kept"),
}
TRAIN_OPTIONS = {}

# ---------------------------------------------------------------- offline (espeak-ng) source
ACCENTS = ("en", "en-us", "en-gb-scotland", "en-gb-x-gbclan", "en-gb-x-rp", "en-gb-x-gbcwmd",
           "en-029", "en-us-nyc")
# espeak-ng 1.51 voice variants (!v); 'caleb' and 'klatt6' sound exactly like 'klatt',
# 'Mr serious' has a space: left out.
VARIANTS = (
    "Alex", "Alicia", "Andrea", "Andy", "Annie", "AnxiousAndy", "Demonic", "Denis", "Diogo",
    "Gene", "Gene2", "Henrique", "Hugo", "Jacky", "Lee", "Marco", "Mario", "Michael", "Mike",
    "Nguyen", "RicishayMax", "RicishayMax2", "RicishayMax3", "Storm", "Tweaky", "UniRobot",
    "adam", "anika", "anikaRobot", "announcer", "antonio", "aunty", "belinda", "benjamin",
    "boris", "croak", "david", "ed", "edward", "edward2", "f1", "f2", "f3", "f4", "f5", "fast",
    "grandma", "grandpa", "gustave", "iven", "iven2", "iven3", "iven4", "john", "kaukovalta",
    "klatt", "klatt2", "klatt3", "klatt4", "klatt5", "linda", "m1", "m2", "m3", "m4", "m5",
    "m6", "m7", "m8", "marcelo", "max", "michel", "miguel", "norbert", "pablo", "paul", "pedro",
    "quincy", "rob", "robert", "robosoft", "robosoft2", "robosoft3", "robosoft4", "robosoft5",
    "robosoft6", "robosoft7", "robosoft8", "sandro", "shelby", "steph", "steph2", "steph3",
    "travis", "victor", "whisper", "whisperf", "zac")
SPEED_WPM = (110, 220)
PITCH = (20, 80)
SNR_DB = (0.0, 45.0)
NOISES = ("white", "pink", "brown", "hum")
ENDINGS = ("", ".", "!", "?", ",")       # punctuation changes espeak-ng's intonation
VAL_FRACTION = TEST_FRACTION = 0.1


@dataclass(frozen=True)
class ClipSpec:
    """Everything that decides one synthetic clip; rendering it is deterministic."""
    index: int
    split: str
    label: str
    word: str          # '' for silence
    voice: str         # 'accent+variant', '' for silence
    text: str
    speed: int
    pitch: int
    noise: str
    snr_db: float
    gain: float        # peak level of the clip, fraction of int16 full scale
    place: float       # where the word sits in the free time of the second, 0..1
    seed: int

    @property
    def path(self) -> str:
        return f"clips/{self.split}/{self.label}/{self.index:06d}.wav"


def split_counts(clips_per_class: int) -> dict:
    if clips_per_class < 3:
        raise InputError(f"--clips-per-class must be at least 3 (one per split), "
                         f"got {clips_per_class}")
    n_val = max(1, round(VAL_FRACTION * clips_per_class))
    n_test = max(1, round(TEST_FRACTION * clips_per_class))
    return {"train": clips_per_class - n_val - n_test, "val": n_val, "test": n_test}


def split_voices(seed: int) -> dict:
    """Voices ('accent+variant') of each split: 80/10/10 of the variants of every accent."""
    rng = np.random.default_rng([seed, 1])
    out = {s: [] for s in SPLITS}
    for accent in ACCENTS:
        variants = list(rng.permutation(VARIANTS))
        n_val = n_test = round(len(variants) * VAL_FRACTION)
        out["test"] += [f"{accent}+{v}" for v in variants[:n_test]]
        out["val"] += [f"{accent}+{v}" for v in variants[n_test:n_test + n_val]]
        out["train"] += [f"{accent}+{v}" for v in variants[n_test + n_val:]]
    return out


def plan_offline(clips_per_class: int, seed: int) -> list[ClipSpec]:
    """The clips of the offline set, fully determined by (clips_per_class, seed)."""
    counts, voices = split_counts(clips_per_class), split_voices(seed)
    rng = np.random.default_rng([seed, 2])
    specs = []
    for split in SPLITS:
        for label in CLASSES:
            for _ in range(counts[split]):
                word = {"silence": "", "unknown": None}.get(label, label)
                if word is None:
                    word = str(rng.choice(UNKNOWN_WORDS))
                specs.append(ClipSpec(
                    index=len(specs), split=split, label=label, word=word,
                    voice=str(rng.choice(voices[split])) if word else "",
                    text=word + str(rng.choice(ENDINGS)) if word else "",
                    speed=int(rng.integers(SPEED_WPM[0], SPEED_WPM[1] + 1)),
                    pitch=int(rng.integers(PITCH[0], PITCH[1] + 1)),
                    noise=str(rng.choice(NOISES)), snr_db=round(float(rng.uniform(*SNR_DB)), 2),
                    gain=float(rng.uniform(0.1, 0.9)), place=float(rng.uniform()),
                    seed=int(rng.integers(2**31))))
    return specs


def espeak(text: str, voice: str, speed: int, pitch: int) -> np.ndarray:
    """espeak-ng speech as float samples at 16 kHz."""
    from scipy.signal import resample_poly
    try:
        out = subprocess.run(["espeak-ng", "-v", voice, "-s", str(speed), "-p", str(pitch),
                              "--stdout", text], capture_output=True, check=True).stdout
    except FileNotFoundError:
        raise InputError("espeak-ng is not installed (Debian: apt-get install espeak-ng)") from None
    except subprocess.CalledProcessError as e:
        raise InputError(f"espeak-ng failed for voice {voice}: "
                         f"{e.stderr.decode(errors='replace').strip()}") from None
    rate = int.from_bytes(out[24:28], "little")
    data = out[out.index(b"data") + 8:]
    wav = np.frombuffer(data[:len(data) // 2 * 2], dtype="<i2").astype(np.float64)
    g = math.gcd(audio.SAMPLE_RATE, rate)
    return resample_poly(wav, audio.SAMPLE_RATE // g, rate // g)


def make_noise(kind: str, n: int, rng) -> np.ndarray:
    """Unit-RMS noise: white, pink (1/f), brown (1/f², above 20 Hz) or mains hum + hiss."""
    if kind == "hum":
        t = np.arange(n) / audio.SAMPLE_RATE
        f0 = rng.choice([50.0, 60.0])
        x = sum(rng.uniform(0.2, 1.0) / k
                * np.sin(2 * np.pi * f0 * k * t + rng.uniform(0, 2 * np.pi)) for k in range(1, 9))
        x = x / np.sqrt(np.mean(x ** 2)) + 0.03 * rng.standard_normal(n)
    else:
        x = rng.standard_normal(n)
        if kind != "white":
            f = np.fft.rfftfreq(n, 1 / audio.SAMPLE_RATE)
            shape = np.zeros_like(f)
            shape[1:] = 1 / np.sqrt(f[1:]) if kind == "pink" else 1 / np.maximum(f[1:], 20.0)
            x = np.fft.irfft(np.fft.rfft(x) * shape, n)
    return x / np.sqrt(np.mean(x ** 2))


def trim(speech: np.ndarray, threshold: float = 0.02) -> np.ndarray:
    """Speech without leading/trailing silence (10 ms margin), at most 1 s long."""
    loud = np.flatnonzero(np.abs(speech) > threshold * np.max(np.abs(speech)))
    margin = audio.SAMPLE_RATE // 100
    return speech[max(0, loud[0] - margin):loud[-1] + margin][:audio.CLIP_SAMPLES]


def render(spec: ClipSpec) -> np.ndarray:
    """The int16 clip [16000] of `spec`."""
    n = audio.CLIP_SAMPLES
    rng = np.random.default_rng(spec.seed)
    noise = make_noise(spec.noise, n, rng)
    if spec.word:
        speech = trim(espeak(spec.text, spec.voice, spec.speed, spec.pitch))
        start = int(spec.place * (n - len(speech)))
        clip = np.zeros(n)
        clip[start:start + len(speech)] = speech
        speech_rms = np.sqrt(np.mean(speech ** 2))
        clip += noise * speech_rms * 10 ** (-spec.snr_db / 20)
    else:
        clip = noise
    clip *= spec.gain * 32767 / np.max(np.abs(clip))
    return np.round(clip).astype(np.int16)


def make_offline(out_dir, clips_per_class: int, seed: int, workers: int = 2,
                 progress: bool = True) -> dict:
    """Synthesise the offline set into the empty folder `out_dir`; return its summary
    (deterministic: the same arguments give the same bytes, summary included)."""
    out_dir = Path(out_dir)
    specs = plan_offline(clips_per_class, seed)
    for split in SPLITS:
        for label in CLASSES:
            (out_dir / "clips" / split / label).mkdir(parents=True, exist_ok=True)

    def job(spec):
        audio.write_wav(out_dir / spec.path, render(spec))

    # espeak-ng runs as a subprocess and numpy releases the GIL: threads keep both cores busy.
    with ThreadPoolExecutor(workers) as pool:
        for _ in tqdm(pool.map(job, specs), total=len(specs), desc="synthesise", unit="clip",
                      file=sys.stderr, disable=not progress):
            pass
    rows = [{"path": s.path, "start": 0, "label": s.label, "split": s.split, "speaker": s.voice,
             "word": s.word, "speed": s.speed, "pitch": s.pitch, "noise": s.noise,
             "snr_db": s.snr_db} for s in specs]
    write_manifest(out_dir / "manifest.csv", rows, MANIFEST_COLUMNS)
    espeak_version = subprocess.run(["espeak-ng", "--version"], capture_output=True,
                                    text=True).stdout.strip()
    return {"source": "offline", "clips_per_class": clips_per_class, "seed": seed,
            "espeak_ng": espeak_version, "counts": split_class_counts(rows, SPLITS, CLASSES),
            "voices": {s: len(v) for s, v in split_voices(seed).items()}}


# ---------------------------------------------------------------- Speech Commands v2 source
SPEECH_COMMANDS_URL = "http://download.tensorflow.org/data/speech_commands_v0.02.tar.gz"
# torchaudio _CHECKSUMS and TFDS speech_commands/checksums.tsv (2,428,923,189 bytes)
SPEECH_COMMANDS_SHA256 = "af14739ee7dc311471de98f5f9d2c9191b18aedfe957f4a6ff791c709868ff58"
BACKGROUND = "_background_noise_"
NOISE_SPANS = {"train": (0.0, 0.8), "val": (0.8, 0.9), "test": (0.9, 1.0)}


def speech_commands_manifest(root, seed: int, silence_fraction: float = 0.1,
                             unknown_fraction: float = 0.1, prefix: str = "") -> list[dict]:
    """Manifest rows of an extracted Speech Commands v2 folder (paths get `prefix`).

    Splits come from validation_list.txt / testing_list.txt; each split gets
    ceil(fraction × keyword clips) unknown clips (drawn from the other words of that split)
    and as many silence clips cut from the background noise recordings, whose first 80 % /
    next 10 % / last 10 % feed train / val / test, so no noise second is shared."""
    root = Path(root)
    lists = {}
    for split, name in (("val", "validation_list.txt"), ("test", "testing_list.txt")):
        if not (root / name).is_file():
            raise InputError(f"{root} is not a Speech Commands v2 folder: {name} is missing")
        lists.update({line.strip(): split for line in (root / name).read_text().splitlines()
                      if line.strip()})
    rng = np.random.default_rng([seed, 3])
    known = {s: [] for s in SPLITS}
    others = {s: [] for s in SPLITS}
    for word_dir in sorted(p for p in root.iterdir() if p.is_dir() and p.name != BACKGROUND):
        for wav in sorted(word_dir.glob("*.wav")):
            rel = f"{word_dir.name}/{wav.name}"
            split = lists.get(rel, "train")
            row = {"path": prefix + rel, "start": 0, "split": split, "word": word_dir.name,
                   "speaker": wav.name.split("_nohash_")[0],
                   "label": word_dir.name if word_dir.name in KEYWORDS else "unknown"}
            (known if word_dir.name in KEYWORDS else others)[split].append(row)
    noises = sorted((root / BACKGROUND).glob("*.wav"))
    if not noises:
        raise InputError(f"{root} is not a Speech Commands v2 folder: no {BACKGROUND}/*.wav")
    lengths = [audio.wav_frames(p) for p in noises]
    rows = []
    for split in SPLITS:
        if not known[split]:
            raise InputError(f"{root}: no keyword clips in the {split} split")
        rows += known[split]
        n_unknown = min(len(others[split]), math.ceil(unknown_fraction * len(known[split])))
        picks = rng.choice(len(others[split]), size=n_unknown, replace=False)
        rows += [others[split][i] for i in sorted(picks)]
        for _ in range(math.ceil(silence_fraction * len(known[split]))):
            k = int(rng.integers(len(noises)))
            lo, hi = (int(f * lengths[k]) for f in NOISE_SPANS[split])
            start = int(rng.integers(lo, max(lo, hi - audio.CLIP_SAMPLES) + 1))
            rows.append({"path": f"{prefix}{BACKGROUND}/{noises[k].name}", "start": start,
                         "split": split, "label": "silence", "word": "", "speaker": "",
                         "noise": noises[k].stem})
    return rows


def make_speech_commands(out_dir, url: str, sha256: str, download_dir, seed: int,
                         progress: bool = True) -> dict:
    """Download (resumably, verified) and extract Speech Commands v2 into `out_dir`."""
    from tinysweep.download import extract, fetch
    archive = fetch(url, Path(download_dir) / os.path.basename(url), sha256,
                    name="Speech Commands v2", progress=progress)
    extract(archive, Path(out_dir) / "speech_commands", progress=progress)
    rows = speech_commands_manifest(Path(out_dir) / "speech_commands", seed,
                                    prefix="speech_commands/")
    write_manifest(Path(out_dir) / "manifest.csv", rows, MANIFEST_COLUMNS)
    return {"source": "speech_commands", "url": url, "sha256": sha256, "seed": seed,
            "counts": split_class_counts(rows, SPLITS, CLASSES)}


def make_dataset(out_dir, source: str, *, seed: int, clips_per_class: int | None = None,
                 url: str | None = None, sha256: str | None = None, download_dir=None,
                 progress: bool = True) -> dict:
    if source == "offline":
        if clips_per_class is None:
            raise InputError("--source offline needs --clips-per-class")
        return make_offline(out_dir, clips_per_class, seed, progress=progress)
    if source == "speech_commands":
        missing = [f for f, v in (("--url", url), ("--sha256", sha256),
                                  ("--download-dir", download_dir)) if not v]
        if missing:
            raise InputError(f"--source speech_commands needs {', '.join(missing)}")
        return make_speech_commands(out_dir, url, sha256, download_dir, seed, progress=progress)
    raise InputError(f"unknown source {source!r} for kws (allowed: offline, speech_commands)")


# ---------------------------------------------------------------- features
def read_manifest(raw_dir) -> list[dict]:
    path = Path(raw_dir) / "manifest.csv"
    if not path.is_file():
        raise InputError(f"{path} not found (run stages/dataset.py first)")
    with open(path, newline="") as f:
        reader = csv.DictReader(f)
        columns = reader.fieldnames or []
        missing = [c for c in ("path", "start", "label", "split") if c not in columns]
        if missing:
            raise InputError(f"{path} lacks the column(s) {', '.join(missing)}")
        rows = list(reader)
    for i, row in enumerate(rows, start=2):
        if row.get("label") not in CLASSES or row.get("split") not in SPLITS:
            raise InputError(f"{path}:{i}: bad label {row.get('label')!r} or split "
                             f"{row.get('split')!r}")
    return rows


def load_clips(raw_dir, rows, progress: bool = True) -> np.ndarray:
    """int16 clips [len(rows), 16000] named by manifest rows (each file read once)."""
    raw_dir = Path(raw_dir)
    out = np.zeros((len(rows), audio.CLIP_SAMPLES), dtype=np.int16)
    order = sorted(range(len(rows)), key=lambda i: rows[i]["path"])
    cached_path, cached = None, None
    for i in tqdm(order, desc="read clips", unit="clip", file=sys.stderr, disable=not progress):
        if rows[i]["path"] != cached_path:
            cached_path = rows[i]["path"]
            try:
                cached, rate = audio.read_wav(raw_dir / cached_path)
            except (OSError, EOFError, ValueError) as e:
                raise InputError(f"cannot read {raw_dir / cached_path}: {e}") from None
            if rate != audio.SAMPLE_RATE:
                raise InputError(f"{raw_dir / cached_path}: {rate} Hz, "
                                 f"expected {audio.SAMPLE_RATE}")
        out[i] = audio.fit_clip(cached, int(rows[i]["start"] or 0))
    return out


# What each source is, carried with the features to every result and report.
DATA_DESCRIPTIONS = {
    "offline": "synthetic stand-in: keywords spoken by espeak-ng, held-out voices; models "
               "trained on it score about 50 % on real speech, so read its numbers as relative",
    "speech_commands": "Speech Commands v2 (real speech), MLPerf Tiny splits",
}


def describe_dataset(raw_dir) -> str:
    """One line saying what the raw set is, from its dataset.json."""
    return describe_source(raw_dir, DATA_DESCRIPTIONS)


def make_features(raw_dir, progress: bool = True) -> dict:
    """features.npz arrays: x_* float32 [N, 49, 10, 1], y_* int64, classes (MLPerf order),
    dataset (what the data is, one line)."""
    rows = read_manifest(raw_dir)
    clips = load_clips(raw_dir, rows, progress)
    with tqdm(total=len(rows), desc="mfcc", unit="clip", file=sys.stderr,
              disable=not progress) as bar:
        x = audio.mfcc(clips, progress=bar.update)[..., None]
    y = np.array([CLASSES.index(r["label"]) for r in rows], dtype=np.int64)
    split = np.array([r["split"] for r in rows])
    out = {"classes": np.array(CLASSES), "dataset": np.array(describe_dataset(raw_dir))}
    for s in SPLITS:
        if not (split == s).any():
            raise InputError(f"{Path(raw_dir) / 'manifest.csv'}: no clips in the {s} split")
        out[f"x_{s}"], out[f"y_{s}"] = x[split == s], y[split == s]
    return out


# ---------------------------------------------------------------- model and training recipe
def build_dscnn(input_shape=(audio.NUM_FRAMES, audio.NUM_MFCC, 1), classes: int = len(CLASSES),
                filters: int = 64, weight_decay: float = 1e-4):
    """The MLPerf Tiny reference DS-CNN (keras_model.py, model_name='ds_cnn').

    As in the reference, the L2 penalty reaches the Conv2D kernels only: the reference passes
    `kernel_regularizer` to DepthwiseConv2D, which Keras ignores (it wants
    `depthwise_regularizer`)."""
    from tinysweep.tfcompat import keras
    L = keras.layers
    l2 = keras.regularizers.l2(weight_decay)
    x = inputs = L.Input(shape=input_shape)
    x = L.Conv2D(filters, (10, 4), strides=(2, 2), padding="same", kernel_regularizer=l2)(x)
    x = L.BatchNormalization()(x)
    x = L.Activation("relu")(x)
    x = L.Dropout(rate=0.2)(x)
    for _ in range(4):
        x = L.DepthwiseConv2D(depth_multiplier=1, kernel_size=(3, 3), padding="same")(x)
        x = L.BatchNormalization()(x)
        x = L.Activation("relu")(x)
        x = L.Conv2D(filters, (1, 1), padding="same", kernel_regularizer=l2)(x)
        x = L.BatchNormalization()(x)
        x = L.Activation("relu")(x)
    x = L.Dropout(rate=0.4)(x)
    x = L.AveragePooling2D(pool_size=(input_shape[0] // 2, input_shape[1] // 2))(x)  # (24, 5)
    x = L.Flatten()(x)
    outputs = L.Dense(classes, activation="softmax")(x)
    return keras.Model(inputs, outputs, name="ds_cnn")


build_model = build_dscnn  # (default input shape and classes: those of both sources)


def train(features, *, epochs: int, batch_size: int, learning_rates, lr_boundaries, seed: int,
          progress: bool = True):
    """Train the DS-CNN with the MLPerf recipe (Adam, step LR, sparse CE); (model, metrics).

    No augmentation at training time: the offline clips already carry noise at random SNR and a
    random offset. Deterministic for a seed (op determinism on)."""
    from tinysweep.tfcompat import keras, tf
    check_recipe(epochs, batch_size, learning_rates, lr_boundaries)
    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()
    model = build_dscnn(input_shape=features["x_train"].shape[1:],
                        classes=len(features["classes"]))
    metrics = fit_classifier(
        model, features, {"x": features["x_train"], "y": features["y_train"],
                          "batch_size": batch_size, "shuffle": True},
        epochs=epochs, progress=progress,
        schedule=lambda e: step_learning_rate(e, learning_rates, lr_boundaries),
        record={"batch_size": batch_size, "learning_rates": list(learning_rates),
                "lr_boundaries": list(lr_boundaries), "seed": seed})
    return model, metrics

