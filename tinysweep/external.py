"""Models trained elsewhere: a float Keras model and EnergyRunner folders in place of the
train stage and the benchmark's own test split.

An EnergyRunner folder becomes the float inputs the model takes:
- kws01 .bin files hold int8 MFCCs already quantized by some model's input: float =
  scale x (int8 - zero point), with the scale and zero point of params (external.kws), else of
  the folder's testset.json (a folder tinysweep exported), else MLPerf Tiny's kws_ref_model
  input (KWS_REFERENCE_INPUT: the official kws01 files);
- ic01 / vww01 .bin files hold uint8 RGB pixels, HWC: float = pixel x pixel_scale (params, else
  the benchmark's: ic 1, vww 1/255, as MLPerf's reference models take them);
- ad01 .bin files hold float32 log-mel frames, taken as they are; clips are cut to the
  shortest (features.npz holds clips of equal length), calibration uses every window of the
  normal clips.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from tinysweep import energyrunner as er
from tinysweep.benchmarks import InputError

# kws_ref_model.tflite of mlcommons/tiny (input_1: int8, scale, zero point), which quantized
# the official kws01 EnergyRunner files.
KWS_REFERENCE_INPUT = (0.5847029089927673, 83)


def kws_input_quantization(folder, options: dict) -> tuple[float, int, str]:
    """(scale, zero point, where they come from) of a kws01 folder's int8 .bin files."""
    if "input_scale" in options:
        return float(options["input_scale"]), int(options["input_zero_point"]), "params.yaml"
    info = Path(folder) / "testset.json"
    if info.is_file():
        t = json.loads(info.read_text())
        if "input_scale" in t:
            return float(t["input_scale"]), int(t["input_zero_point"]), f"{info}"
    return (*KWS_REFERENCE_INPUT, "MLPerf Tiny kws_ref_model.tflite input quantization "
                                  "(the official kws01 files)")


def bench_pixel_scale(bench: str) -> float:
    from tinysweep.benchmarks import get
    return float(get(bench).PIXEL_SCALE)


def read_set(folder, bench: str, options: dict) -> tuple[np.ndarray, np.ndarray, dict]:
    """(x float32, y int64, how) of an EnergyRunner folder of benchmark `bench`; ad: x is
    [clips, frames, 128] cut to the shortest clip."""
    prof = er.profile(er.BENCHMARK_PROFILES[bench])
    try:
        samples = er.read_folder(folder, None if prof.windowed else prof.input_bytes)
    except (OSError, ValueError) as e:
        raise InputError(f"{prof.name} folder {folder}: {e}") from None
    wrong = [s.file for s in samples if s.num_classes != prof.num_classes]
    if wrong:
        raise InputError(f"{folder}: {wrong[0]} lists {samples[0].num_classes} classes, "
                         f"{prof.name} has {prof.num_classes}")
    y = np.array([s.label for s in samples], dtype=np.int64)
    how = {"folder": str(folder), "profile": prof.name, "samples": len(samples),
           "sha256": er.folder_sha256(folder)}
    if prof.windowed:
        clips = [er.window_floats(s.data).reshape(-1, 128) for s in samples]
        frames = min(len(c) for c in clips)
        how["frames_per_clip"] = frames
        how["conversion"] = "float32 log-mel frames as stored" + (
            f"; clips cut to the shortest ({frames} frames)"
            if any(len(c) != frames for c in clips) else "")
        return np.stack([c[:frames] for c in clips]).astype(np.float32), y, how
    raw = np.stack([np.frombuffer(s.data, dtype=prof.dtype) for s in samples])
    if prof.dtype == "int8":
        scale, zero_point, source = kws_input_quantization(folder, options)
        x = (raw.astype(np.float32) - np.float32(zero_point)) * np.float32(scale)
        how["conversion"] = f"float = {scale!r} x (int8 - {zero_point}) ({source})"
        how.update(input_scale=scale, input_zero_point=zero_point)
    else:
        pixel_scale = float(options.get("pixel_scale", bench_pixel_scale(bench)))
        x = raw.astype(np.float32) * np.float32(pixel_scale)
        how["conversion"] = f"float = uint8 pixel x {pixel_scale!r}"
        how["pixel_scale"] = pixel_scale
    return x.reshape((len(samples), *prof.shape)), y, how


def calibration_inputs(bench: str, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Calibration rows as the quantize stage draws them from x_val: the samples, or (ad)
    every window of the normal clips."""
    if bench != "ad":
        return x, y
    from tinysweep.benchmarks.ad import windows
    normal = [windows(c) for c, label in zip(x, y) if label == 0]
    if not normal:
        raise InputError("the ad01 calibration folder has no normal clip (label 0)")
    w = np.concatenate(normal)
    return w, np.zeros(len(w), dtype=np.int64)


def check_model_input(model, bench: str, path) -> None:
    prof = er.profile(er.BENCHMARK_PROFILES[bench])
    shape = tuple(model.input_shape[1:])
    if int(np.prod([d or 0 for d in shape])) != int(np.prod(prof.shape)):
        raise InputError(f"{path} takes input {shape}, {prof.name} samples are {prof.shape}")


def load_model(path):
    """A float Keras model from a .keras or .h5 file or a SavedModel folder (tf_keras), compiled
    as saved when its loss and optimizer load, else uncompiled."""
    from tinysweep.tfcompat import keras
    try:
        try:
            return keras.models.load_model(path)
        except (ValueError, TypeError, KeyError):
            return keras.models.load_model(path, compile=False)
    except (OSError, ValueError, TypeError, KeyError, ImportError) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise InputError(f"cannot load the Keras model {path}: {first}; save it again with "
                         f"model.save() (.keras or .h5) or give its SavedModel folder") from None


def model_sha256(path) -> str:
    """sha256 of a model file, or of a SavedModel folder's files (names and bytes)."""
    import hashlib
    path = Path(path)
    if path.is_file():
        from tinysweep.io import sha256_file
        return sha256_file(path)
    h = hashlib.sha256()
    for f in sorted(p for p in path.rglob("*") if p.is_file()):
        h.update(str(f.relative_to(path)).encode() + b"\0" + Path(f).read_bytes())
    return h.hexdigest()


def float_quality(model, bench: str, x: np.ndarray, y: np.ndarray) -> dict:
    """train.json's figure of the float model on the given set: test_accuracy, or (ad)
    test_auc with metric "AUC"."""
    from tinysweep.benchmarks import predict
    if bench == "ad":
        from tinysweep.benchmarks.ad import clip_auc
        value, _ = clip_auc(lambda w: predict(model, w), x, y)
        return {"metric": "AUC", "test_auc": float(value)}
    top1 = predict(model, x).argmax(-1)
    return {"test_accuracy": float(np.mean(top1 == y))}


def build(bench: str, model_path, testset, options: dict, calibration=None,
          train_features=None) -> tuple[object, dict, dict]:
    """(model, features.npz arrays, train.json record) for a model trained elsewhere."""
    if not Path(model_path).exists():
        raise InputError(f"the Keras model {model_path} not found")
    x_test, y_test, test_how = read_set(testset, bench, options)
    if calibration:
        x_cal, y_cal, cal_how = read_set(calibration, bench, options)
    else:
        x_cal, y_cal, cal_how = x_test, y_test, {**test_how, "note": "the evaluation set"}
    x_val, y_val = calibration_inputs(bench, x_cal, y_cal)
    model = load_model(model_path)
    check_model_input(model, bench, model_path)
    prof = er.profile(er.BENCHMARK_PROFILES[bench])
    dataset = f"EnergyRunner folder {testset} (a model trained elsewhere: {model_path})"
    arrays = {"x_val": x_val, "y_val": y_val, "x_test": x_test, "y_test": y_test,
              "classes": np.array(prof.class_names), "dataset": np.array(dataset),
              "benchmark": np.array(bench)}
    if "pixel_scale" in test_how:
        arrays["pixel_scale"] = np.array(test_how["pixel_scale"], np.float32)
    if train_features is not None:
        with np.load(train_features) as f:
            x_train, y_train = f["x_train"], f["y_train"]
            if "pixel_scale" in arrays and "pixel_scale" in f.files:  # the model's pixel scale
                x_train = x_train * (arrays["pixel_scale"] / f["pixel_scale"])
        arrays.update(x_train=x_train.astype(np.float32), y_train=y_train)
    record = {"benchmark": bench, "source": "external", "model": str(model_path),
              "model_sha256": model_sha256(model_path), "params": int(model.count_params()),
              "testset": test_how, "calibration": cal_how,
              "training_data": str(train_features) if train_features else "not included (no QAT)",
              **float_quality(model, bench, x_test, y_test)}
    return model, arrays, record
