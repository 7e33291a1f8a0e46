"""Put an int8 .tflite's weights onto the symmetric b-bit grid, so it is a b-bit model.

    onto_grid(tflite_bytes, bits=4) -> tflite_bytes
    onto_grid(tflite_bytes, bits=[8, 4, 2, ...]) -> tflite_bytes   (per weight op: mixed precision)

Every CONV_2D, DEPTHWISE_CONV_2D and FULLY_CONNECTED int8 filter is requantized with a b-bit
scale per quantization channel (per tensor when the filter has one scale): for channel c with
m_c = max|q_c|, the factor f_c = m_c / L (L = 2^(b-1) - 1: 7 for 4 bits, 1 for 2 bits), the
new values q'_c = clamp(round(q_c / f_c), -L, L) and the new scale s'_c = s_c * f_c (float32),
so q' * s' approximates q * s and the grid is used to its full range. A channel already on the
grid (m_c <= L, all zero included) is left as it is (f_c = 1). The int32 bias keeps its TFLite
meaning (scale = input scale * filter scale): b'_c = round(b_c / f_c), its scales rewritten.

The result is still an ordinary int8 .tflite that any TFLite interpreter runs; its weights lie
on the grid, so `convert --weight-bits b` packs them (tinysweep.codegen.packing) and the
interpreter's outputs are the exact reference for the packed engine. Weights already stored as
INT4/INT2 tensors are left alone.
"""
from __future__ import annotations

import numpy as np

from tinysweep.codegen.packing import grid_limit

WEIGHT_OPS = (3, 4, 9)  # BuiltinOperator CONV_2D, DEPTHWISE_CONV_2D, FULLY_CONNECTED
INT8 = 9                # TensorType


def edit_tflite(buf: bytes, edit) -> bytes:
    """Unpack a .tflite into the flatbuffer object API, apply edit(model), pack it again."""
    import flatbuffers
    from ai_edge_litert import schema_py_generated as schema
    m = schema.ModelT.InitFromPackedBuf(buf, 0)
    edit(m)
    b = flatbuffers.Builder(1024)
    b.Finish(m.Pack(b), file_identifier=b"TFL3")
    return bytes(b.Output())


def weight_ops(m):
    """(subgraph, operator) for every CONV_2D / DEPTHWISE_CONV_2D / FULLY_CONNECTED of model m
    (flatbuffer object API)."""
    for sg in m.subgraphs:
        for op in sg.operators:
            code = m.operatorCodes[op.opcodeIndex]
            if max(code.builtinCode, code.deprecatedBuiltinCode) in WEIGHT_OPS:
                yield sg, op


def tensor_data(m, tensor, dtype) -> np.ndarray:
    """A writable copy of a tensor's buffer as `dtype` values (flatbuffer object API)."""
    return np.frombuffer(bytes(bytearray(m.buffers[tensor.buffer].data)), dtype).copy()


def grid_factors(q: np.ndarray, axis: int | None, limit: int) -> np.ndarray:
    """Per-channel factors f = max(max|q_c| / limit, 1) along `axis` (one factor if None)."""
    a = np.abs(q.astype(np.int64))
    m = a.max() if axis is None else a.max(axis=tuple(i for i in range(q.ndim) if i != axis))
    return np.maximum(np.atleast_1d(m).astype(np.float64) / limit, 1.0)


def onto_grid(buf: bytes, bits) -> bytes:
    """The .tflite `buf` with every int8 weight tensor requantized onto the b-bit grid; `bits`
    one width (4 or 2) for all, or one per weight op in graph order (8 leaves the op as it is)."""
    def edit(m):
        ops = list(weight_ops(m))
        per_op = [bits] * len(ops) if isinstance(bits, int) else list(bits)
        if len(per_op) != len(ops) or any(b not in (8, 4, 2) for b in per_op) or bits == 8:
            raise ValueError(f"bits {bits}: 4 or 2, or one of 8/4/2 for each of the "
                             f"{len(ops)} weight ops")
        done = set()
        for (sg, op), b in zip(ops, per_op):
            t = sg.tensors[op.inputs[1]]
            if t.type != INT8 or id(t) in done or b == 8:
                continue
            limit = grid_limit(b)
            done.add(id(t))
            scale = np.asarray(t.quantization.scale, np.float32)
            q = tensor_data(m, t, np.int8).reshape(tuple(t.shape))
            axis = int(t.quantization.quantizedDimension) if scale.size > 1 else None
            f = grid_factors(q, axis, limit)
            shape = [1] * q.ndim
            if axis is not None:
                shape[axis] = -1
            new = np.clip(np.round(q / f.reshape(shape)), -limit, limit).astype(np.int8)
            m.buffers[t.buffer].data = np.frombuffer(new.tobytes(), np.uint8)
            s = (scale.astype(np.float64) * f).astype(np.float32)
            t.quantization.scale = [float(v) for v in s]
            if len(op.inputs) > 2 and op.inputs[2] >= 0:
                bt = sg.tensors[op.inputs[2]]
                b = tensor_data(m, bt, np.int32).astype(np.float64)
                b = np.clip(np.round(b / np.broadcast_to(f, b.shape)), -2**31, 2**31 - 1)
                m.buffers[bt.buffer].data = np.frombuffer(b.astype(np.int32).tobytes(), np.uint8)
                s_in = np.float32(sg.tensors[op.inputs[0]].quantization.scale[0])
                n = len(bt.quantization.scale)
                sb = s if s.size == n else np.broadcast_to(s[:1] if n == 1 else s, (n,))
                bt.quantization.scale = [float(np.float32(s_in * v)) for v in sb]
    return edit_tflite(buf, edit)


__all__ = ["edit_tflite", "weight_ops", "tensor_data", "grid_factors", "onto_grid"]
