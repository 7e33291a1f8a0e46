"""Anomaly detection (MLPerf Tiny ad01): machine sounds, log-mel windows, FC autoencoder, AUC.

Two sources of raw audio, one layout: a folder with ``manifest.csv`` (columns
`MANIFEST_COLUMNS`, `path` relative to the folder) and the 16 kHz mono WAV clips it names.

- ``offline``: synthetic machine sounds rendered locally (a motor hum whose speed drifts, with
  harmonics, a gear whine and noise; four machine ids like ToyCar's). Anomalous test clips add
  one fault: bearing clicks, shifted (inharmonic) partials or amplitude modulation. Training
  and validation clips are normal only; deterministic from the seed. A stand-in: read its AUCs
  as relative.
- ``toycar``: ToyADMOS ToyCar of DCASE 2020 task 2 (`dev_data_ToyCar.zip`, optionally
  `eval_data_train_ToyCar.zip` for more normal training clips), as MLPerf Tiny trains on it:
  ``ToyCar/train/normal_id_0X_*.wav`` for training (10 % held out for validation),
  ``ToyCar/test/{normal,anomaly}_id_0X_*.wav`` for the test.

Features (MLPerf Tiny / DCASE 2020 baseline, librosa-equivalent in numpy): power
mel-spectrogram with n_fft 1024, hop 512, 128 Slaney mel bands (0-8 kHz, Slaney-normalised),
periodic Hann window, centred frames with reflect padding (librosa 0.6-0.8, which the baseline
pins), then 10·log10(mel + sys.float_info.epsilon). Five consecutive frames make one 640-value
window; windows advance one frame. Clip score = mean over its windows of MSE(reconstruction,
window); the metric is the AUC (scikit-learn, anomaly = 1).
"""
import csv
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from tinysweep import audio
from tinysweep.benchmarks import (InputError, check_recipe, describe_source, split_class_counts,
                                  step_learning_rate, write_manifest)

CLASSES = ("normal", "anomaly")                 # ad01 labels 0, 1
SPLITS = ("train", "val", "test")
MANIFEST_COLUMNS = ("path", "label", "split", "machine_id", "anomaly")
SAMPLE_RATE = 16000
N_FFT, HOP, N_MELS, FRAMES, POWER = 1024, 512, 128, 5, 2.0
WINDOW = FRAMES * N_MELS                         # 640 values, 2,560 bytes as float32
VAL_FRACTION = 0.1
# dataset.ad keys the toycar source uses too (tinysweep.workflow passes them)
DATASET_OPTIONS = {
    "train_clips": ("int", "offline: normal clips for training + validation"),
    "test_clips": ("int", "test clips (toycar: 0 = all)"),
    "clip_seconds": ("float", "offline: seconds per clip"),
    "url": ("str", "toycar: archive URL"),
    "sha256": ("str", "toycar: archive sha256"),
    "download_dir": ("str", "toycar: where the archives are kept"),
    "extra_url": ("str", "toycar: archive of extra normal training clips"),
    "extra_sha256": ("str", "toycar: its sha256"),
}
TRAIN_OPTIONS = {}

# ---------------------------------------------------------------- log-mel (librosa-equivalent)
_MEL = None


def _hz_to_mel(f):
    """Slaney mel scale (librosa htk=False): linear below 1 kHz, logarithmic above."""
    f = np.asarray(f, dtype=np.float64)
    mel = f / (200.0 / 3)
    log_region = f >= 1000.0
    log_mel_value = 15.0 + np.log(np.maximum(f, 1e-10) / 1000.0) / (np.log(6.4) / 27.0)
    return np.where(log_region, log_mel_value, mel)


def _mel_to_hz(m):
    m = np.asarray(m, dtype=np.float64)
    return np.where(m >= 15.0, 1000.0 * np.exp((np.log(6.4) / 27.0) * (m - 15.0)), m * 200.0 / 3)


def mel_filterbank(sr: int = SAMPLE_RATE, n_fft: int = N_FFT, n_mels: int = N_MELS) -> np.ndarray:
    """librosa.filters.mel(sr, n_fft, n_mels) with its defaults (fmin 0, fmax sr/2, Slaney
    scale and area normalisation): [n_mels, n_fft // 2 + 1] float32."""
    fft_freqs = np.linspace(0, sr / 2, n_fft // 2 + 1)
    mel_f = _mel_to_hz(np.linspace(_hz_to_mel(0.0), _hz_to_mel(sr / 2), n_mels + 2))
    fdiff = np.diff(mel_f)
    ramps = np.subtract.outer(mel_f, fft_freqs)
    lower = -ramps[:-2] / fdiff[:-1, None]
    upper = ramps[2:] / fdiff[1:, None]
    weights = np.maximum(0, np.minimum(lower, upper))
    weights *= (2.0 / (mel_f[2:n_mels + 2] - mel_f[:n_mels]))[:, None]
    return weights.astype(np.float32)


def log_mel(wav: np.ndarray) -> np.ndarray:
    """Log-mel frames [1 + len // 512, 128] (float32) of a clip; int16 samples are scaled to
    [-1, 1) as librosa.load does."""
    global _MEL
    if _MEL is None:
        _MEL = mel_filterbank()
    x = np.asarray(wav)
    x = x.astype(np.float32) / 32768.0 if x.dtype == np.int16 else x.astype(np.float32)
    if len(x) <= N_FFT // 2:
        raise InputError(f"a clip of {len(x)} samples is too short for log-mel frames")
    x = np.pad(x, N_FFT // 2, mode="reflect")
    n = 1 + (len(x) - N_FFT) // HOP
    frames = np.lib.stride_tricks.as_strided(x, (n, N_FFT), (x.strides[0] * HOP, x.strides[0]))
    hann = (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(N_FFT) / N_FFT)).astype(np.float32)
    power = np.abs(np.fft.rfft(frames * hann, axis=1)) ** POWER
    mel = power.astype(np.float32) @ _MEL.T
    # the baseline's 20 / power * log10(mel + sys.float_info.epsilon), on librosa's float32 mel
    return (10.0 * np.log10(mel + np.float32(sys.float_info.epsilon))).astype(np.float32)


def windows(frames: np.ndarray) -> np.ndarray:
    """Every 5-consecutive-frame window of [F, 128] frames: [F - 4, 640], frame-major (the
    EnergyRunner ad01 layout: window i = the 640 floats from frame i on)."""
    frames = np.ascontiguousarray(frames, dtype=np.float32)
    if len(frames) < FRAMES:
        raise InputError(f"{len(frames)} frames are fewer than one window ({FRAMES})")
    view = np.lib.stride_tricks.sliding_window_view(frames, (FRAMES, N_MELS))
    return view[:, 0].reshape(-1, WINDOW)


# ---------------------------------------------------------------- offline (synthetic) source
FAULTS = ("clicks", "shifted_harmonics", "modulation")
MACHINES = 4   # machine ids, as ToyCar's dev set has 01-04


@dataclass(frozen=True)
class ClipSpec:
    """Everything that decides one synthetic clip; rendering it is deterministic."""
    index: int
    split: str
    label: str          # normal | anomaly
    machine_id: int
    fault: str          # '' for normal clips
    seconds: float
    seed: int

    @property
    def path(self) -> str:
        return f"clips/{self.split}/{self.label}_id_{self.machine_id:02d}_{self.index:06d}.wav"


def machine_profile(machine_id: int) -> dict:
    """The fixed character of one machine: base speed, harmonic amplitudes, whine, noise."""
    rng = np.random.default_rng([7, machine_id])
    return {"f0": float(rng.uniform(90, 150)),
            "harmonics": rng.uniform(0.2, 1.0, 12) / np.arange(1, 13) ** 0.7,
            "whine_hz": float(rng.uniform(1800, 3200)),
            "noise": float(rng.uniform(0.15, 0.3))}


def plan_offline(train_clips: int, test_clips: int, seconds: float, seed: int) -> list[ClipSpec]:
    """The clips of the offline set, fully determined by the arguments: `train_clips` normal
    clips (VAL_FRACTION of them for validation), `test_clips` test clips, half anomalous."""
    if train_clips < 2 or test_clips < 2:
        raise InputError(f"the offline ad set needs at least 2 training and 2 test clips, got "
                         f"{train_clips} and {test_clips}")
    n_val = max(1, round(VAL_FRACTION * train_clips))
    n_anomaly = test_clips // 2
    rng = np.random.default_rng([seed, 11])
    plan = ([("train", "normal")] * (train_clips - n_val) + [("val", "normal")] * n_val
            + [("test", "normal")] * (test_clips - n_anomaly) + [("test", "anomaly")] * n_anomaly)
    return [ClipSpec(index=i, split=split, label=label,
                     machine_id=int(rng.integers(1, MACHINES + 1)),
                     fault=str(rng.choice(FAULTS)) if label == "anomaly" else "",
                     seconds=seconds, seed=int(rng.integers(2**31)))
            for i, (split, label) in enumerate(plan)]


def render(spec: ClipSpec) -> np.ndarray:
    """The int16 clip of `spec`: motor hum with drifting speed, harmonics, whine and noise,
    plus the clip's fault for anomalies."""
    from tinysweep.benchmarks.kws import make_noise
    rng = np.random.default_rng(spec.seed)
    m = machine_profile(spec.machine_id)
    n = int(round(spec.seconds * SAMPLE_RATE))
    t = np.arange(n) / SAMPLE_RATE
    # speed: the machine's base +-4 %, a slow drift of up to 3 %
    speed = m["f0"] * rng.uniform(0.96, 1.04)
    drift = rng.uniform(0.005, 0.03) * np.sin(2 * np.pi * rng.uniform(0.1, 0.5) * t
                                              + rng.uniform(0, 6.3))
    f0 = speed * (1 + drift)
    phase = 2 * np.pi * np.cumsum(f0) / SAMPLE_RATE
    amps = m["harmonics"] * rng.uniform(0.85, 1.15, len(m["harmonics"]))
    partials = np.arange(1, len(amps) + 1, dtype=np.float64)
    if spec.fault == "shifted_harmonics":       # a worn gear: partials off the harmonic series
        partials = partials + rng.uniform(0.3, 0.6) * (partials > 1)
    x = sum(a * np.sin(k * phase + rng.uniform(0, 6.3)) for k, a in zip(partials, amps))
    x = x + 0.15 * np.sin(2 * np.pi * m["whine_hz"] / m["f0"] * phase)
    rms = np.sqrt(np.mean(x ** 2))
    x = x + m["noise"] * rms * make_noise(str(rng.choice(("white", "pink"))), n, rng)
    if spec.fault == "clicks":                  # bearing damage: ringing impulses, 6-20 per s
        rate, ring_hz = rng.uniform(6, 20), rng.uniform(2500, 5000)
        k = np.arange(int(0.01 * SAMPLE_RATE)) / SAMPLE_RATE
        ring = np.sin(2 * np.pi * ring_hz * k) * np.exp(-k * 900)
        times = np.arange(0, spec.seconds, 1 / rate)
        pulses = np.zeros(n)
        pulses[(times * SAMPLE_RATE).astype(int)] = rng.uniform(0.5, 1.5, len(times))
        x = x + rng.uniform(0.6, 1.2) * rms * np.convolve(pulses, ring)[:n]
    if spec.fault == "modulation":              # a loose part: the level beats at 3-10 Hz
        x = x * (1 + rng.uniform(0.4, 0.7) * np.sin(2 * np.pi * rng.uniform(3, 10) * t))
    x *= rng.uniform(0.2, 0.6) * 32767 / np.max(np.abs(x))
    return np.round(x).astype(np.int16)


def make_offline(out_dir, train_clips: int, test_clips: int, clip_seconds: float, seed: int,
                 progress: bool = True) -> dict:
    """Render the offline set into the empty folder `out_dir`; return its summary."""
    out_dir = Path(out_dir)
    specs = plan_offline(train_clips, test_clips, clip_seconds, seed)
    for split in SPLITS:
        (out_dir / "clips" / split).mkdir(parents=True, exist_ok=True)
    for spec in tqdm(specs, desc="render", unit="clip", file=sys.stderr, disable=not progress):
        audio.write_wav(out_dir / spec.path, render(spec))
    rows = [{"path": s.path, "label": s.label, "split": s.split, "machine_id": s.machine_id,
             "anomaly": s.fault} for s in specs]
    write_manifest(out_dir / "manifest.csv", rows, MANIFEST_COLUMNS)
    return {"source": "offline", "train_clips": train_clips, "test_clips": test_clips,
            "clip_seconds": clip_seconds, "seed": seed, "sample_rate": SAMPLE_RATE,
            "faults": list(FAULTS), "counts": split_class_counts(rows, SPLITS, CLASSES)}


# ---------------------------------------------------------------- ToyADMOS ToyCar source
TOYCAR_NAME = "ToyADMOS ToyCar (DCASE 2020 task 2)"


def toycar_manifest(roots, seed: int, test_clips: int = 0) -> list[dict]:
    """Manifest rows of extracted ToyCar folders (`roots`: {path prefix: folder holding
    ToyCar/}): train/normal_* (VAL_FRACTION held out, seeded) and test/{normal,anomaly}_*
    (a seeded class-stratified subset of `test_clips`, 0 = all)."""
    from tinysweep.energyrunner import stratified_subset
    train, test = [], []
    for prefix, root in roots.items():
        base = Path(root) / "ToyCar"
        if not base.is_dir():
            raise InputError(f"{root} is not a ToyCar archive's content: ToyCar/ is missing")
        for split, into in (("train", train), ("test", test)):
            for wav in sorted((base / split).glob("*.wav")):
                label = wav.name.split("_id_")[0]
                if label not in CLASSES or "_id_" not in wav.name:
                    raise InputError(f"{wav}: not a ToyCar clip name (normal_id_NN_*.wav, "
                                     f"anomaly_id_NN_*.wav)")
                if split == "train" and label != "normal":
                    raise InputError(f"{wav}: training clips must be normal")
                into.append({"path": f"{prefix}ToyCar/{split}/{wav.name}", "label": label,
                             "split": split, "machine_id": int(wav.name.split("_id_")[1][:2])})
    if not train or not test:
        folders = ", ".join(map(str, roots.values()))
        raise InputError(f"{folders}: no ToyCar/train or ToyCar/test clips")
    rng = np.random.default_rng([seed, 12])
    val = set(rng.choice(len(train), size=max(1, round(VAL_FRACTION * len(train))),
                         replace=False).tolist())
    for i, row in enumerate(train):
        row["split"] = "val" if i in val else "train"
    labels = np.array([CLASSES.index(r["label"]) for r in test])
    keep = stratified_subset(labels, min(test_clips, len(test)), seed)
    return train + [test[i] for i in keep]


def make_toycar(out_dir, url: str, sha256: str, download_dir, seed: int, test_clips: int = 0,
                extra_url: str | None = None, extra_sha256: str | None = None,
                progress: bool = True) -> dict:
    """Download (resumably, verified) and extract ToyCar (dev, optionally the extra training
    archive) into `out_dir` and write its manifest."""
    import os
    from tinysweep.download import extract, fetch
    out_dir, roots = Path(out_dir), {}
    archives = (("toycar_dev", url, sha256), ("toycar_extra", extra_url, extra_sha256))
    for key, u, digest in archives:
        if not u:
            continue
        archive = fetch(u, Path(download_dir) / os.path.basename(u.split("?")[0]), digest,
                        name=TOYCAR_NAME, progress=progress)
        roots[f"{key}/"] = extract(archive, out_dir / key, progress=progress)
    rows = toycar_manifest(roots, seed, test_clips)
    write_manifest(out_dir / "manifest.csv", rows, MANIFEST_COLUMNS)
    return {"source": "toycar", "url": url, "sha256": sha256, "extra_url": extra_url or "",
            "extra_sha256": extra_sha256 or "", "seed": seed, "test_clips": test_clips,
            "counts": split_class_counts(rows, SPLITS, CLASSES)}


def make_dataset(out_dir, source: str, *, seed: int, train_clips: int | None = None,
                 test_clips: int | None = None, clip_seconds: float | None = None,
                 url: str | None = None, sha256: str | None = None, download_dir=None,
                 extra_url: str | None = None, extra_sha256: str | None = None,
                 progress: bool = True, **unused) -> dict:
    if source == "offline":
        missing = [f for f, v in (("--train-clips", train_clips), ("--test-clips", test_clips),
                                  ("--clip-seconds", clip_seconds)) if v is None]
        if missing:
            raise InputError(f"--source offline needs {', '.join(missing)}")
        return make_offline(out_dir, train_clips, test_clips, clip_seconds, seed, progress=progress)
    if source == "toycar":
        missing = [f for f, v in (("--url", url), ("--sha256", sha256),
                                  ("--download-dir", download_dir)) if not v]
        if extra_url and not extra_sha256:
            missing.append("--extra-sha256")
        if missing:
            raise InputError(f"--source toycar needs {', '.join(missing)}")
        return make_toycar(out_dir, url, sha256, download_dir, seed, test_clips or 0,
                           extra_url, extra_sha256, progress=progress)
    raise InputError(f"unknown source {source!r} for ad (allowed: offline, toycar)")


# ---------------------------------------------------------------- features
DATA_DESCRIPTIONS = {
    "offline": "synthetic stand-in: machine hum rendered locally (drifting speed, harmonics, "
               "noise) with synthetic faults (bearing clicks, shifted harmonics, amplitude "
               "modulation); read its AUCs as relative, not as ToyCar figures",
    "toycar": "ToyADMOS ToyCar, DCASE 2020 task 2 (real recordings), MLPerf Tiny ad01",
}


def read_manifest(raw_dir) -> list[dict]:
    path = Path(raw_dir) / "manifest.csv"
    if not path.is_file():
        raise InputError(f"{path} not found (run stages/dataset.py first)")
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    for i, row in enumerate(rows, start=2):
        if row.get("label") not in CLASSES or row.get("split") not in SPLITS:
            raise InputError(f"{path}:{i}: bad label {row.get('label')!r} or split "
                             f"{row.get('split')!r}")
        if row["split"] != "test" and row["label"] != "normal":
            raise InputError(f"{path}:{i}: {row['split']} clips must be normal")
    return rows


def describe_dataset(raw_dir) -> str:
    return describe_source(raw_dir, DATA_DESCRIPTIONS)


def make_features(raw_dir, progress: bool = True) -> dict:
    """features.npz arrays: x_train / x_val float32 [windows, 640] of normal clips (y = 0);
    x_test float32 [clips, frames, 128] log-mel frames of whole test clips (cut to the
    shortest), y_test int64 clip labels (1 = anomaly); classes; dataset; benchmark."""
    raw_dir = Path(raw_dir)
    rows = read_manifest(raw_dir)
    frames = {s: [] for s in SPLITS}
    labels = []
    for row in tqdm(rows, desc="log-mel", unit="clip", file=sys.stderr, disable=not progress):
        try:
            wav, rate = audio.read_wav(raw_dir / row["path"])
        except (OSError, EOFError, ValueError) as e:
            raise InputError(f"cannot read {raw_dir / row['path']}: {e}") from None
        if rate != SAMPLE_RATE:
            raise InputError(f"{raw_dir / row['path']}: {rate} Hz, expected {SAMPLE_RATE}")
        frames[row["split"]].append(log_mel(wav))
        if row["split"] == "test":
            labels.append(CLASSES.index(row["label"]))
    out = {"classes": np.array(CLASSES), "dataset": np.array(describe_dataset(raw_dir)),
           "benchmark": np.array("ad")}
    for s in SPLITS:
        if not frames[s]:
            raise InputError(f"{raw_dir / 'manifest.csv'}: no clips in the {s} split")
    for s in ("train", "val"):
        out[f"x_{s}"] = np.concatenate([windows(f) for f in frames[s]])
        out[f"y_{s}"] = np.zeros(len(out[f"x_{s}"]), dtype=np.int64)
    shortest = min(len(f) for f in frames["test"])
    out["x_test"] = np.stack([f[:shortest] for f in frames["test"]])
    out["y_test"] = np.array(labels, dtype=np.int64)
    return out


# ---------------------------------------------------------------- model, training, metric
def build_autoencoder():
    """The MLPerf Tiny reference FC autoencoder 640-128x4-8-128x4-640."""
    from tinysweep.benchmarks.reference_models import build_ad
    return build_ad()[0]


build_model = build_autoencoder


def predict(model, x: np.ndarray, batch_size: int = 4096) -> np.ndarray:
    return np.concatenate([model(x[i:i + batch_size], training=False).numpy()
                           for i in range(0, len(x), batch_size)])


def clip_auc(reconstruct, clips: np.ndarray, labels: np.ndarray) -> tuple[float, np.ndarray]:
    """(AUC, clip scores): each clip's score is the mean over its windows of the MSE between
    `reconstruct(windows)` and the windows (tinysweep.evaluation's definitions)."""
    from tinysweep.evaluation import auc
    scores = []
    for frames in clips:
        w = windows(frames)
        scores.append(float(np.mean(np.mean((reconstruct(w).astype(np.float64) - w) ** 2, axis=1))))
    scores = np.array(scores)
    return auc(labels, scores), scores


def train(features, *, epochs: int, batch_size: int, learning_rates, lr_boundaries, seed: int,
          progress: bool = True):
    """Train the autoencoder on normal windows (Adam, MSE: the MLPerf recipe); (model, metrics).
    Metrics: validation MSE and the float AUC on the test clips."""
    from tinysweep.tfcompat import keras, tf
    check_recipe(epochs, batch_size, learning_rates, lr_boundaries)
    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()
    model = build_autoencoder()
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=learning_rates[0]), loss="mse")
    bar = tqdm(total=epochs, desc="train", unit="epoch", file=sys.stderr, disable=not progress)

    class Progress(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            bar.set_postfix(loss=f"{logs['loss']:.3f}", val_loss=f"{logs['val_loss']:.3f}")
            bar.update(1)

    x_train, x_val = features["x_train"], features["x_val"]
    t0 = time.time()
    with bar:
        history = model.fit(
            x_train, x_train, batch_size=batch_size, epochs=epochs, shuffle=True, verbose=0,
            validation_data=(x_val, x_val),
            callbacks=[keras.callbacks.LearningRateScheduler(
                lambda e: step_learning_rate(e, learning_rates, lr_boundaries)), Progress()])
    train_seconds = time.time() - t0
    t0 = time.time()
    test_auc, _ = clip_auc(lambda w: predict(model, w), features["x_test"], features["y_test"])
    val_mse = float(np.mean((predict(model, x_val).astype(np.float64) - x_val) ** 2))
    metrics = {
        "metric": "AUC", "test_auc": test_auc, "val_mse": val_mse,
        "epochs": epochs, "batch_size": batch_size, "learning_rates": list(learning_rates),
        "lr_boundaries": list(lr_boundaries), "seed": seed,
        "params": int(model.count_params()),
        "samples": {"train_windows": int(len(x_train)), "val_windows": int(len(x_val)),
                    "test_clips": int(len(features["y_test"])),
                    "test_windows_per_clip": int(features["x_test"].shape[1] - FRAMES + 1)},
        "train_seconds": round(train_seconds, 2),
        "seconds_per_epoch": round(train_seconds / epochs, 2),
        "eval_seconds": round(time.time() - t0, 2),
        "history": {k: [round(float(v), 5) for v in vals] for k, vals in history.history.items()},
    }
    return model, metrics


def int8_metrics(tflite: bytes, features) -> dict:
    """The int8 model's AUC on the test clips (LiteRT, default delegates off): every window
    quantized with the model's input parameters (as the firmware does), the int8 output
    dequantized, clip score = mean window MSE."""
    from ai_edge_litert.interpreter import Interpreter, OpResolverType
    from tinysweep.energyrunner import quantize_inputs
    it = Interpreter(model_content=tflite, experimental_op_resolver_type=
                     OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
    it.allocate_tensors()
    inp, out = it.get_input_details()[0], it.get_output_details()[0]
    (in_scale, in_zp), (out_scale, out_zp) = inp["quantization"], out["quantization"]

    def reconstruct(w):
        q = quantize_inputs(w, in_scale, in_zp)
        y = np.empty(q.shape, dtype=np.int8)
        for i, row in enumerate(q):
            it.set_tensor(inp["index"], row[None])
            it.invoke()
            y[i] = it.get_tensor(out["index"])[0]
        return (y.astype(np.float64) - out_zp) * float(np.float32(out_scale))

    value, _ = clip_auc(reconstruct, features["x_test"], features["y_test"])
    return {"metric": "AUC", "test_auc_int8": value}
