"""Accuracy of a device on an EnergyRunner folder, beside the tflite-micro oracle.

Shared by stages/measure.py and `python -m tinysweep evaluate`: the test-set checks, the
oracle's outputs and the device's accuracy pass (tinysweep.runner.accuracy_pass).
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from tinysweep import energyrunner as er
from tinysweep.runner import DeviceError, accuracy_pass


def testset_info(folder) -> dict:
    """testset.json of an exported folder; {} for a plain EnergyRunner folder."""
    try:
        return json.loads((Path(folder) / "testset.json").read_text())
    except (OSError, ValueError):
        return {}


def check_testset(folder, oracle) -> None:
    """A test set is quantized for one input scale / zero point: refuse another model's."""
    info = testset_info(folder)
    scale, zp = info.get("input_scale"), info.get("input_zero_point")
    if scale is not None and (abs(scale - oracle.input_scale) > 1e-6 * abs(oracle.input_scale)
                              or zp != oracle.input_zero_point):
        raise ValueError(f"{folder} was quantized with input scale {scale}, zero point {zp}; "
                         f"the model takes {oracle.input_scale}, {oracle.input_zero_point}: "
                         f"export the test set for this model")


def check_classes(folder, samples, prof: er.Profile) -> None:
    wrong = [s.file for s in samples if s.num_classes != prof.num_classes]
    if wrong:
        raise ValueError(f"{folder}: {wrong[0]} does not have {prof.num_classes} classes, "
                         f"as {prof.name} does")


def device_inputs(samples, prof: er.Profile) -> list[bytes]:
    """What the runner sends, in order: each sample's bytes as the .bin holds them (ic01/vww01:
    uint8 pixels, which the device turns into pixel - 128 as MLPerf's reference ports do), or
    (ad01) every window of every clip."""
    if prof.windowed:
        return [w for s in samples for w in er.windows(s, prof)]
    return [s.data for s in samples]


def oracle_outputs(oracle, samples, prof: er.Profile) -> np.ndarray:
    """int8 outputs [inputs, outputs] of the tflite-micro interpreter, one row per
    device_inputs() entry; ad01 windows are quantized as the firmware does."""
    if prof.windowed:
        inputs = (er.quantize_inputs(er.window_floats(w), oracle.input_scale, oracle.input_zero_point)
                  for w in device_inputs(samples, prof))
    else:
        inputs = (er.model_input(s.data, prof) for s in samples)
    return np.stack([oracle.predict_one(x) for x in inputs])


def device_outputs(dut, samples, prof: er.Profile, num_outputs: int, timeout: float,
                   progress=None, results: list | None = None) -> np.ndarray:
    """The device's int8 outputs, one row per device_inputs() entry (refuses a device running
    another model); `results` receives each m-results list."""
    model = dut.profile()["model"]
    if model != prof.name:
        raise DeviceError(f"device on {dut.name} runs {model}, the test set is {prof.name}")
    num_results = 1 if prof.windowed else prof.num_classes
    return accuracy_pass(dut, device_inputs(samples, prof), num_outputs, num_results,
                         timeout, progress, results)


def reconstruction_mse(outputs: np.ndarray, windows: list[bytes], scale: float,
                       zero_point: int) -> np.ndarray:
    """ad01 window scores: mean squared error between each dequantized int8 output and the
    float window it reconstructs (what the firmware prints, computed here in float64)."""
    x = np.stack([er.window_floats(w) for w in windows]).astype(np.float64)
    y = (np.asarray(outputs, np.float64) - zero_point) * float(np.float32(scale))
    return np.mean((y - x) ** 2, axis=1)


def clip_scores(window_scores: np.ndarray, samples, prof: er.Profile) -> np.ndarray:
    """ad01 clip scores: the mean of each clip's window scores, as the official runner."""
    counts = [len(er.windows(s, prof)) for s in samples]
    bounds = np.cumsum([0] + counts)
    return np.array([window_scores[a:b].mean() for a, b in zip(bounds[:-1], bounds[1:])])


def auc(labels, scores) -> float:
    """Area under the ROC curve (scikit-learn), anomaly = label 1."""
    from sklearn.metrics import roc_auc_score
    labels = np.asarray(labels)
    if len(set(labels.tolist())) != 2:
        raise ValueError("AUC needs both normal (0) and anomalous (1) clips in the test set")
    return float(roc_auc_score(labels, scores))


def check_printed_mse(printed, computed) -> None:
    """The MSE the device prints (3 decimals, float32) must match the one computed here from
    its int8 outputs: a mismatch means the firmware scores windows differently."""
    for i, (values, mse) in enumerate(zip(printed, computed)):
        if abs(values[0] - mse) > 5e-4 + 1e-4 * mse:
            raise RuntimeError(f"window {i}: the device printed MSE {values[0]}, its outputs "
                               f"give {mse:.6f}")


def anomaly_result(device, oracle_out, samples, prof: er.Profile, scale: float, zero_point: int,
                   printed=None) -> dict:
    """ad01 scoring of device and oracle int8 outputs (one row per window of every clip):
    clip scores (mean window MSE), their AUCs ('accuracy' / 'oracle_accuracy', metric 'AUC'),
    the fraction of clips with equal scores ('agreement'); `printed`, the device's m-results,
    is checked against its outputs."""
    inputs = device_inputs(samples, prof)
    dev_windows = reconstruction_mse(device, inputs, scale, zero_point)
    if printed is not None:
        check_printed_mse(printed, dev_windows)
    dev_clips = clip_scores(dev_windows, samples, prof)
    ora_clips = clip_scores(reconstruction_mse(oracle_out, inputs, scale, zero_point), samples, prof)
    labels = np.array([s.label for s in samples])
    return {"metric": "AUC", "windows": len(inputs),
            "device_window_mse": [v[0] for v in printed] if printed is not None else
            [float(v) for v in dev_windows],
            "device_scores": dev_clips, "oracle_scores": ora_clips,
            "accuracy": auc(labels, dev_clips), "oracle_accuracy": auc(labels, ora_clips),
            "agreement": float(np.mean(dev_clips == ora_clips))}
