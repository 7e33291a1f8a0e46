"""Sub-byte weight packing, exactly as TFLite stores INT4 (TensorType 17) and INT2 (19).

INT4: two values per byte, element 2k in the LOW nibble, 2k+1 in the HIGH nibble. INT2: four per
byte, element 4k+j in bits [2j, 2j+2) (LSB first). Values are two's complement, sign-extended on
unpacking (INT4 [-8, 7], INT2 [-2, 1]), as tensor_utils::UnpackPackedIntToInt8; the stream runs
on across rows and a trailing partial byte is zero-padded.

The *grid* an int8 weight tensor must lie on to be packed at generation time is the symmetric
narrow range |q| <= 2^(b-1) - 1: [-7, 7] for 4 bits (what tfmot's n-bit QAT emits) and {-1, 0, 1}
(ternary) for 2 bits. The packed formats could also hold -8 / -2, but an int8 model using them is
not a symmetric b-bit model; real INT4/INT2 tensors from a flatbuffer are taken as stored.
"""
from __future__ import annotations

import numpy as np

BITS = (4, 2)
RANGE = {4: (-8, 7), 2: (-2, 1)}             # what the packed formats hold


def grid_limit(bits: int) -> int:
    """Largest |q| of the symmetric b-bit grid: 7 for 4 bits, 1 for 2 bits."""
    return (1 << (bits - 1)) - 1


def packed_size(elements: int, bits: int) -> int:
    return (elements * bits + 7) // 8


def pack(values, bits: int) -> bytes:
    """Pack int values (any shape, flattened in C order) into TFLite INT4/INT2 bytes."""
    if bits not in BITS:
        raise ValueError(f"bits {bits}: only 4 or 2")
    v = np.asarray(values, dtype=np.int64).reshape(-1)
    lo, hi = RANGE[bits]
    if v.size and (v.min() < lo or v.max() > hi):
        raise ValueError(f"values outside [{lo}, {hi}] cannot be packed in {bits} bits")
    per = 8 // bits
    u = (v & ((1 << bits) - 1)).astype(np.uint8)
    u = np.concatenate([u, np.zeros((-len(u)) % per, np.uint8)]).reshape(-1, per)
    out = np.zeros(len(u), np.uint8)
    for j in range(per):
        out |= (u[:, j] << (bits * j)).astype(np.uint8)
    return out.tobytes()


def unpack(data: bytes, elements: int, bits: int) -> np.ndarray:
    """The int8 values of a packed INT4/INT2 stream of `elements` elements."""
    if bits not in BITS:
        raise ValueError(f"bits {bits}: only 4 or 2")
    if len(data) < packed_size(elements, bits):
        raise ValueError(f"{len(data)} bytes hold fewer than {elements} {bits}-bit values")
    b = np.frombuffer(bytes(data), np.uint8)
    per = 8 // bits
    parts = [(b >> (bits * j)) & ((1 << bits) - 1) for j in range(per)]
    u = np.stack(parts, axis=1).reshape(-1)[:elements].astype(np.int16)
    half = 1 << (bits - 1)
    return ((u ^ half) - half).astype(np.int8)


__all__ = ["BITS", "RANGE", "grid_limit", "packed_size", "pack", "unpack"]
