"""Weight range setting: the symmetric scale of each channel (or tensor) for b-bit weights.

The grid is |q| <= L = 2^(b-1) - 1 and w ~ s * q with s = clip / L, where clip is
- minmax: max |w| (nothing clipped; what the TFLite converter does at 8 bits),
- percentile: the given percentile of |w| (outliers clipped),
- mse: the clip among 100 candidates in [0.2, 1] x max |w| minimising the squared rounding +
  clipping error of the weights (per channel: each channel its own).
"""
from __future__ import annotations

import numpy as np

MSE_CANDIDATES = np.linspace(0.2, 1.0, 100)


def grid_limit(bits: int) -> int:
    return (1 << (bits - 1)) - 1


def channels(w: np.ndarray, axis: int | None) -> np.ndarray:
    """w as [channels, values] (one row when axis is None)."""
    w = np.asarray(w, np.float64)
    return w.reshape(1, -1) if axis is None else np.moveaxis(w, axis, 0).reshape(w.shape[axis], -1)


def broadcast(v: np.ndarray, ndim: int, axis: int | None) -> np.ndarray:
    """Per-channel values shaped to broadcast against a weight tensor of `ndim` dims."""
    shape = [1] * ndim
    if axis is not None:
        shape[axis] = -1
    return np.asarray(v).reshape(shape)


def round_to_grid(w: np.ndarray, scale: np.ndarray, limit: int) -> np.ndarray:
    return np.clip(np.round(w / scale), -limit, limit)


def clip_values(w: np.ndarray, axis: int | None, bits: int, method: str,
                percentile: float = 99.99) -> np.ndarray:
    """The clip (largest representable |w|) of every channel, or a 1-element array."""
    rows = np.abs(channels(w, axis))
    peak = rows.max(axis=1)
    if method == "minmax":
        return peak
    if method == "percentile":
        return np.minimum(np.percentile(rows, percentile, axis=1), peak)
    if method == "mse":
        limit = grid_limit(bits)
        clips = MSE_CANDIDATES[:, None] * peak[None, :]                      # [A, C]
        s = np.where(clips > 0, clips / limit, 1.0)[:, :, None]
        signed = channels(w, axis)[None]
        err = ((signed - s * np.clip(np.round(signed / s), -limit, limit)) ** 2).sum(axis=2)
        return clips[err.argmin(axis=0), np.arange(len(peak))]
    raise ValueError(f"unknown range method {method!r}")


def scales(clip: np.ndarray, bits: int) -> np.ndarray:
    """float32 scales clip / L; an all-zero channel gets the largest scale of the tensor (or 1)
    so that its bias stays representable."""
    clip = np.asarray(clip, np.float64)
    fallback = clip.max() if clip.size and clip.max() > 0 else float(grid_limit(bits))
    return (np.where(clip > 0, clip, fallback) / grid_limit(bits)).astype(np.float32)


def sqnr_db(w: np.ndarray, w_hat: np.ndarray) -> float | None:
    noise = float(((np.asarray(w, np.float64) - w_hat) ** 2).sum())
    signal = float((np.asarray(w, np.float64) ** 2).sum())
    return None if noise == 0 or signal == 0 else round(10 * np.log10(signal / noise), 2)


__all__ = ["grid_limit", "channels", "broadcast", "round_to_grid", "clip_values", "scales",
           "sqnr_db", "MSE_CANDIDATES"]
