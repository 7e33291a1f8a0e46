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
    """What the runner sends, in order: each sample, or (ad01) every window of every clip.
    ic01/vww01 pixels are sent as the model's int8 input (pixel - 128): the tsn harness stores
    the bytes it receives as the model input, where MLPerf's reference ports subtract 128 on
    the device (th_load_tensor); this is the one place to change when the harness does."""
    if prof.windowed:
        return [w for s in samples for w in er.windows(s, prof)]
    if prof.dtype == "uint8":
        return [er.model_input(s.data, prof).tobytes() for s in samples]
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
