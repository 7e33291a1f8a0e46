"""Post-training quantization of a Keras float model to int8 activations and b-bit weights.

    ptq(model, calibration, config) -> (.tflite bytes, info)

Activations, input and output come from the TFLite converter's full-int8 calibration, exactly
as `tinysweep.quantize.quantize_int8` makes them. Every CONV_2D / DEPTHWISE_CONV_2D /
FULLY_CONNECTED filter is then re-made from the BN-folded FLOAT filter of the same op (a float
conversion of the same model) at its layer's bits: symmetric grid |q| <= 2^(b-1) - 1, a scale
per output channel or per tensor from the configuration's range setting, optionally learned
rounding (AdaRound) and an empirically corrected bias, all fitted on the calibration inputs.
The int32 bias keeps TFLite's meaning (scale = input scale x filter scale).

An 8-bit layer with min-max per-channel scales keeps the converter's own int8 filter, so the
configuration 8 / minmax / per_channel / no corrections returns the converter's model unchanged.
"""
from __future__ import annotations

import time

import numpy as np

from tinysweep.quant import graph, ranges
from tinysweep.quant.config import QuantConfig, QuantConfigError
from tinysweep.quant.layers import op_layer_names, resolve_layer_bits, weight_layers


def _note(progress, text: str) -> None:
    if progress is not None:
        progress(text)


def keeps_converter_filter(config: QuantConfig, bits: int) -> bool:
    """An 8-bit min-max per-channel filter is the converter's (AdaRound is for fewer bits)."""
    return bits == 8 and config.range == "minmax" and config.granularity == "per_channel"


def _quantize_op(op: graph.WeightOp, bits: int, config: QuantConfig):
    """(int8 values, float32 scales, clip ratio) of op's filter by nearest rounding."""
    if keeps_converter_filter(config, bits):
        return op.q8, op.s8, 1.0
    axis = op.axis if config.granularity == "per_channel" else None
    clip = ranges.clip_values(op.w, axis, bits, config.range, config.percentile)
    s = ranges.scales(clip, bits)
    if op.b is not None:      # the int32 bias must hold b / (input scale x s)
        need = np.abs(op.b).max(initial=0) if axis is None else np.abs(op.b)
        s = np.maximum(s, (need / (op.input_scale * (2**31 - 2))).astype(np.float32))
    sb = ranges.broadcast(s.astype(np.float64), op.w.ndim, axis)
    q = ranges.round_to_grid(op.w, sb, ranges.grid_limit(bits)).astype(np.int8)
    peak = ranges.channels(op.w, axis).__abs__().max(axis=1)
    ratio = float(np.mean(np.where(peak > 0, clip / np.where(peak > 0, peak, 1), 1.0)))
    return q, s, ratio


def ptq(model, calibration: np.ndarray, config: QuantConfig, *, progress=None
        ) -> tuple[bytes, dict]:
    """Keras float model + float calibration inputs (one per row) -> (.tflite bytes, info)."""
    if not isinstance(config, QuantConfig):
        raise TypeError("config must be a QuantConfig")
    layer_bits = resolve_layer_bits(model, config)       # bad layer names fail before any work
    calibration = np.asarray(calibration, np.float32)
    if len(calibration) < 1:
        raise QuantConfigError("ptq needs at least one calibration input")
    start = time.perf_counter()
    _note(progress, f"converting ({len(calibration)} calibration inputs)")
    int8_buf, float_buf = graph.conversions(model, calibration)
    ops = graph.weight_op_pairs(int8_buf, float_buf)
    names = op_layer_names([op.names for op in ops], weight_layers(model))
    fitted = None
    if config.bias_correction or config.adaround:
        from tinysweep.quant.fit import fit_layers
        fitted = fit_layers(ops, names, layer_bits, config, calibration, float_buf,
                            _quantize_op, progress=progress)
    results, axes, layers, shared = {}, {}, [], {}
    for op, name in zip(ops, names):
        bits = layer_bits[name]
        if op.filter_key in shared:                     # a filter two ops share: quantized once
            q, s, ratio = shared[op.filter_key]
        elif fitted is not None:
            q, s, ratio = fitted[op.index]["q"], fitted[op.index]["s"], fitted[op.index]["clip_ratio"]
        else:
            q, s, ratio = _quantize_op(op, bits, config)
        shared[op.filter_key] = (q, s, ratio)
        bias = op.b if fitted is None else fitted[op.index]["b"]
        axis = op.axis if s.size > 1 else None
        kept = q is op.q8 and (fitted is None or bias is op.b)
        if not kept:
            results[op.index], axes[op.index] = (q, s, bias), op.axis
        w_hat = q.astype(np.float64) * ranges.broadcast(s.astype(np.float64), q.ndim, axis)
        entry = {"name": name, "op": op.kind, "bits": bits, "weights": int(op.w.size),
                 "shape": list(op.w.shape),
                 "granularity": "per_channel" if s.size > 1 else "per_tensor",
                 "range": config.range if not kept else "minmax (converter)",
                 "clip_ratio": round(ratio, 4), "max_abs_q": int(np.abs(q.astype(int)).max()),
                 "sqnr_db": ranges.sqnr_db(op.w, w_hat)}
        if fitted is not None:
            entry.update(fitted[op.index]["info"])
        layers.append(entry)
    tflite = graph.write(int8_buf, results, axes) if results else int8_buf
    info = {"config": config.name, "method": config.method, "bits": config.bits,
            "options": config.options(), "calibration_samples": int(len(calibration)),
            "layers": layers, "seconds": round(time.perf_counter() - start, 2)}
    _note(progress, f"done in {info['seconds']} s")
    return tflite, info


__all__ = ["ptq", "keeps_converter_filter"]
