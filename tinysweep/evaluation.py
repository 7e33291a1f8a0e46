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


def oracle_outputs(oracle, samples, prof: er.Profile) -> np.ndarray:
    """int8 outputs [samples, outputs] of the tflite-micro interpreter."""
    return np.stack([oracle.predict_one(er.model_input(s.data, prof)) for s in samples])


def device_outputs(dut, samples, prof: er.Profile, num_outputs: int, timeout: float,
                   progress=None) -> np.ndarray:
    """The device's int8 outputs for every sample (refuses a device running another model)."""
    model = dut.profile()["model"]
    if model != prof.name:
        raise DeviceError(f"device on {dut.name} runs {model}, the test set is {prof.name}")
    return accuracy_pass(dut, (s.data for s in samples), num_outputs, prof.num_classes,
                         timeout, progress)
