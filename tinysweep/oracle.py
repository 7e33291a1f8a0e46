"""The tflite-micro Python interpreter as the reference ("oracle") for the device.

tinysweep's engine is meant to be bit-exact with TFLM's reference kernels, so for the same
int8 input the device's int8 outputs should equal `predict()`'s.
"""
from __future__ import annotations

import contextlib
import ctypes
import os
import re
import sys
import tempfile

import numpy as np

_ARENA_LINE = re.compile(r"Arena allocation total (\d+) bytes")


def version() -> str:
    from importlib import metadata
    try:
        return metadata.version("tflite-micro")
    except metadata.PackageNotFoundError:
        return "unknown"


def _interpreter(tflite_bytes: bytes, arena_size: int | None = None):
    """A TFLM interpreter; without `arena_size`, grow the arena until the model fits."""
    from tflite_micro import runtime
    data = bytes(tflite_bytes)
    if arena_size is not None:
        return runtime.Interpreter.from_bytes(data, arena_size=int(arena_size))
    size = max(64 * 1024, 10 * len(data))
    while True:
        try:
            with _captured_stderr():  # a too-small arena logs to C stderr before raising
                return runtime.Interpreter.from_bytes(data, arena_size=size)
        except RuntimeError:
            if size >= 256 * 1024 * 1024:
                raise
            size *= 4


@contextlib.contextmanager
def _captured_stderr():
    """Redirect file descriptor 2 (C-level stderr) to a temporary file; yield a callable
    returning what was written."""
    libc = ctypes.CDLL(None)
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as tmp:
        captured = {}
        os.dup2(tmp.fileno(), 2)
        try:
            yield lambda: captured.get("text", "")
        finally:
            libc.fflush(None)
            os.dup2(saved, 2)
            os.close(saved)
            tmp.seek(0)
            captured["text"] = tmp.read().decode(errors="replace")


class Oracle:
    """One interpreter reused for many inputs."""

    def __init__(self, tflite_bytes: bytes, arena_size: int | None = None):
        self.interpreter = _interpreter(tflite_bytes, arena_size)
        inp = self.interpreter.get_input_details(0)
        out = self.interpreter.get_output_details(0)
        if inp["dtype"] is not np.int8 or out["dtype"] is not np.int8:
            raise ValueError(f"the oracle takes int8-in/int8-out models, this one is "
                             f"{np.dtype(inp['dtype']).name} in / {np.dtype(out['dtype']).name} out")
        self.input_shape = tuple(int(d) for d in inp["shape"])
        self.output_shape = tuple(int(d) for d in out["shape"])
        self.input_scale = float(inp["quantization_parameters"]["scales"][0])
        self.input_zero_point = int(inp["quantization_parameters"]["zero_points"][0])
        self.output_scale = float(out["quantization_parameters"]["scales"][0])
        self.output_zero_point = int(out["quantization_parameters"]["zero_points"][0])

    def predict_one(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x)
        if x.dtype != np.int8:
            raise TypeError(f"oracle inputs must be int8, got {x.dtype}")
        if x.size != int(np.prod(self.input_shape)):
            raise ValueError(f"input of {x.size} values, the model takes {self.input_shape}")
        self.interpreter.set_input(x.reshape(self.input_shape), 0)
        self.interpreter.invoke()
        return np.array(self.interpreter.get_output(0), dtype=np.int8).reshape(-1)


def predict(tflite_bytes: bytes, inputs: np.ndarray) -> np.ndarray:
    """int8 outputs for int8 inputs. `inputs` holds one sample (the model's input shape, with
    or without the batch dimension) or a batch [n, ...]; the result is [n, outputs] for a
    batch and [outputs] for one sample."""
    oracle = Oracle(tflite_bytes)
    x = np.asarray(inputs)
    per_sample = int(np.prod(oracle.input_shape))
    if x.size == per_sample:
        return oracle.predict_one(x)
    if x.size % per_sample:
        raise ValueError(f"inputs of {x.size} values are not a whole number of "
                         f"{oracle.input_shape} samples")
    return np.stack([oracle.predict_one(s) for s in x.reshape(-1, per_sample)])


def input_quantization(tflite_bytes: bytes) -> tuple[float, int, tuple]:
    """(scale, zero point, shape) of the model's first input."""
    o = Oracle(tflite_bytes)
    return o.input_scale, o.input_zero_point, o.input_shape


def arena_bytes(tflite_bytes: bytes) -> int:
    """Bytes of tensor arena TFLM allocates for the model (its RecordingMicroAllocator's
    'Arena allocation total', printed to C-level stderr by print_allocations())."""
    interp = _interpreter(tflite_bytes)
    with _captured_stderr() as text:
        interp.print_allocations()
    m = _ARENA_LINE.search(text())
    if not m:
        raise RuntimeError(f"tflite-micro printed no 'Arena allocation total' line: {text()[:300]!r}")
    return int(m.group(1))
