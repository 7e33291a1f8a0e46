"""Simulated quality of an int8 model: the tflite-micro interpreter on a whole test split.

"Simulated" in every results file means this: tinysweep.oracle (TFLM's reference kernels, what
the device is bit-exact with) on the host, float features quantized with the model's input
scale and zero point as the exported test set and the firmware do.
"""
from __future__ import annotations

import numpy as np

from tinysweep import oracle as oracle_mod
from tinysweep.energyrunner import quantize_inputs


def quality(tflite: bytes, x_test: np.ndarray, y_test: np.ndarray) -> dict:
    """{"metric", "value", "samples", "method", "detail"}: top-1 accuracy, or for clips of
    frames (ad: x_test [clips, frames, mels]) the AUC of the clip scores (mean window MSE)."""
    o = oracle_mod.Oracle(tflite)
    detail = f"tflite-micro {oracle_mod.version()} interpreter on the host, whole test split"
    y = np.asarray(y_test).reshape(-1)
    if np.asarray(x_test).ndim == 3 and int(np.prod(o.input_shape)) != np.prod(x_test.shape[1:]):
        from tinysweep.benchmarks.ad import clip_auc

        def reconstruct(w):
            q = quantize_inputs(w, o.input_scale, o.input_zero_point)
            out = np.stack([o.predict_one(row) for row in q]).astype(np.float64)
            return (out - o.output_zero_point) * float(np.float32(o.output_scale))
        value, _ = clip_auc(reconstruct, x_test, y)
        return {"metric": "AUC", "value": float(value), "samples": int(len(y)),
                "method": "simulated", "detail": detail + " (clip AUC, every window)"}
    q = quantize_inputs(np.asarray(x_test).reshape(len(y), -1), o.input_scale,
                        o.input_zero_point)
    top1 = np.array([o.predict_one(row).argmax() for row in q])
    return {"metric": "top-1 accuracy", "value": float(np.mean(top1 == y)),
            "samples": int(len(y)), "method": "simulated", "detail": detail}
