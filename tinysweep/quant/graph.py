"""The two TFLite conversions PTQ starts from and the edit that writes its weights back.

The converter is run twice on the same Keras model: full int8 (activation ranges from the
calibration set, int8 in/out) and plain float. Both fold BatchNorm into the filters and emit
the weight ops in the same order, so the float one gives every op's BN-folded float filter and
bias, and its interpreter gives the float activations that bias correction and AdaRound fit.
The pairing is checked: each int8 filter dequantized must lie within half a step of its float.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

from tinysweep.weight_grid import edit_tflite, tensor_data, weight_ops

OP_NAMES = {3: "CONV_2D", 4: "DEPTHWISE_CONV_2D", 9: "FULLY_CONNECTED"}
INT32, INT8, FLOAT32 = 2, 9, 0          # TensorType
ACTIVATIONS = {0: None, 1: "relu", 2: "relu_n1_to_1", 3: "relu6"}
_CACHE: dict[str, tuple[bytes, bytes]] = {}


def _schema():
    from ai_edge_litert import schema_py_generated as schema
    return schema


def read(buf: bytes):
    return _schema().ModelT.InitFromPackedBuf(buf, 0)


def convert_float(model) -> bytes:
    from tinysweep.tfcompat import tf
    return tf.lite.TFLiteConverter.from_keras_model(model).convert()


def _key(model, calibration: np.ndarray) -> str:
    h = hashlib.sha256(model.to_json().encode())
    for w in model.get_weights():
        h.update(np.ascontiguousarray(w).tobytes())
    h.update(np.ascontiguousarray(calibration, np.float32).tobytes())
    return h.hexdigest()


def conversions(model, calibration: np.ndarray) -> tuple[bytes, bytes]:
    """(int8 .tflite as quantize_int8 makes it, float .tflite) of the model; the last two models
    are remembered, so trying several configurations on one model converts it once."""
    from tinysweep.quantize import quantize_int8
    key = _key(model, calibration)
    if key not in _CACHE:
        while len(_CACHE) >= 2:
            _CACHE.pop(next(iter(_CACHE)))
        _CACHE[key] = (quantize_int8(model, calibration), convert_float(model))
    return _CACHE[key]


def _names(sg, op) -> list[str]:
    ids = [op.inputs[1], op.outputs[0]] + ([op.inputs[2]] if len(op.inputs) > 2 else [])
    return [sg.tensors[i].name.decode(errors="replace") for i in ids if i >= 0]


@dataclass
class WeightOp:
    """One CONV_2D / DEPTHWISE_CONV_2D / FULLY_CONNECTED of the paired conversions."""
    index: int                  # among the weight ops, in op order
    kind: str                   # CONV_2D | DEPTHWISE_CONV_2D | FULLY_CONNECTED
    names: list[str]            # float tensor names (filter, output, bias): the layer's name
    w: np.ndarray               # float filter, TFLite layout (conv [O,H,W,I], dw [1,H,W,C], fc [O,I])
    b: np.ndarray | None        # float bias
    axis: int                   # output-channel axis of the filter (0, or 3 for depthwise)
    q8: np.ndarray              # the converter's int8 filter and scales
    s8: np.ndarray
    input_scale: float          # int8 input activation scale
    activation: str | None      # fused activation
    options: object             # the float op's builtin options (strides, padding, dilation)
    float_input: int            # tensor indices in the float graph
    float_output: int
    filter_key: int             # the int8 filter tensor's index (shared filters)
    input_shape: tuple          # of the op's input tensor (batch of one)

    @property
    def channels(self) -> int:
        return self.w.shape[self.axis]


def weight_op_pairs(int8_buf: bytes, float_buf: bytes) -> list[WeightOp]:
    qm, fm = read(int8_buf), read(float_buf)
    qops, fops = list(weight_ops(qm)), list(weight_ops(fm))
    if len(qops) != len(fops):
        raise ValueError(f"the int8 and float conversions have {len(qops)} and {len(fops)} "
                         f"weight ops: cannot pair them")
    out = []
    for i, ((qsg, qop), (fsg, fop)) in enumerate(zip(qops, fops)):
        code = fm.operatorCodes[fop.opcodeIndex]
        kind = OP_NAMES[max(code.builtinCode, code.deprecatedBuiltinCode)]
        qt, ft = qsg.tensors[qop.inputs[1]], fsg.tensors[fop.inputs[1]]
        shape = tuple(int(d) for d in ft.shape)
        if qt.type != INT8 or ft.type != FLOAT32 or tuple(int(d) for d in qt.shape) != shape:
            raise ValueError(f"weight op {i} ({kind}): int8 filter {list(qt.shape)} type "
                             f"{qt.type} does not pair with float filter {list(shape)}")
        w = tensor_data(fm, ft, np.float32).reshape(shape)
        b = None
        if len(fop.inputs) > 2 and fop.inputs[2] >= 0:
            b = tensor_data(fm, fsg.tensors[fop.inputs[2]], np.float32)
        s8 = np.asarray(qt.quantization.scale, np.float32)
        axis = int(qt.quantization.quantizedDimension) if s8.size > 1 else \
            (3 if kind == "DEPTHWISE_CONV_2D" else 0)
        q8 = tensor_data(qm, qt, np.int8).reshape(shape)
        step = (s8.reshape([-1 if d == axis else 1 for d in range(w.ndim)])
                if s8.size > 1 else s8[0])
        if np.any(np.abs(q8 * step - w) > 0.51 * step + 1e-7):
            raise ValueError(f"weight op {i} ({kind} {list(shape)}): the int8 and float "
                             f"conversions hold different filters: cannot pair them")
        options = fop.builtinOptions
        out.append(WeightOp(
            index=i, kind=kind, names=_names(fsg, fop), w=w, b=b, axis=axis, q8=q8, s8=s8,
            input_scale=float(qsg.tensors[qop.inputs[0]].quantization.scale[0]),
            activation=ACTIVATIONS.get(getattr(options, "fusedActivationFunction", 0)),
            options=options, float_input=int(fop.inputs[0]), float_output=int(fop.outputs[0]),
            filter_key=int(qop.inputs[1]),
            input_shape=tuple(int(d) for d in fsg.tensors[fop.inputs[0]].shape)))
    return out


def _set_data(m, tensor, data: bytes) -> None:
    """Put `data` in the tensor's buffer, giving it a buffer of its own if it shares one."""
    users = sum(t.buffer == tensor.buffer for sg in m.subgraphs for t in sg.tensors)
    if users > 1:
        m.buffers.append(_schema().BufferT())
        tensor.buffer = len(m.buffers) - 1
    m.buffers[tensor.buffer].data = np.frombuffer(data, np.uint8)


def _quantization(scales, axis: int):
    qp = _schema().QuantizationParametersT()
    qp.scale = [float(v) for v in np.asarray(scales, np.float32)]
    qp.zeroPoint = [0] * len(qp.scale)
    qp.quantizedDimension = int(axis) if len(qp.scale) > 1 else 0
    return qp


def int32_bias(b: np.ndarray, input_scale: float, scales: np.ndarray) -> np.ndarray:
    """The bias in TFLite's int32 meaning: scale input scale x filter scale (float32 product)."""
    bs = (np.float32(input_scale) * np.asarray(scales, np.float32)).astype(np.float64)
    return np.clip(np.round(b / bs), -2**31, 2**31 - 1).astype(np.int32)


def _bias_tensor(m, sg, op, tensor_type: int):
    """The op's bias tensor; a layer that had none gets one (zero until written)."""
    if len(op.inputs) > 2 and op.inputs[2] >= 0:
        return sg.tensors[op.inputs[2]]
    t = sg.tensors[op.inputs[1]]
    bt = _schema().TensorT()
    bt.shape = [int(t.shape[3] if len(t.shape) == 4 and t.shape[0] == 1 else t.shape[0])]
    bt.type, bt.name = tensor_type, (t.name or b"w") + b"/bias_correction"
    m.buffers.append(_schema().BufferT())
    bt.buffer = len(m.buffers) - 1
    sg.tensors.append(bt)
    inputs = list(op.inputs) + [-1] * (3 - len(op.inputs))
    inputs[2] = len(sg.tensors) - 1
    op.inputs = inputs
    return bt


def write(int8_buf: bytes, results: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray | None]],
          axes: dict[int, int]) -> bytes:
    """The int8 model with weight op i's filter (int8 values, float32 scales) and float bias
    (None: no bias) replaced, for every i in results; the int32 bias is requantized."""
    def edit(m):
        ops = list(weight_ops(m))
        for i, (q, s, b) in results.items():
            sg, op = ops[i]
            t = sg.tensors[op.inputs[1]]
            _set_data(m, t, np.asarray(q, np.int8).tobytes())
            t.quantization = _quantization(s, axes[i])
            if b is None and len(op.inputs) > 2 and op.inputs[2] >= 0:   # keep its real values
                bt = sg.tensors[op.inputs[2]]
                b = tensor_data(m, bt, np.int32) * np.asarray(bt.quantization.scale, np.float64)
            if b is None:
                continue
            s_in = sg.tensors[op.inputs[0]].quantization.scale[0]
            bt = _bias_tensor(m, sg, op, INT32)
            _set_data(m, bt, int32_bias(b, s_in, s).tobytes())
            bt.quantization = _quantization(np.float32(s_in) * np.asarray(s, np.float32), 0)
    return edit_tflite(int8_buf, edit)


def set_float_weights(m, changes: dict[int, tuple[np.ndarray, np.ndarray | None]]) -> None:
    """In the float model m (object API), replace weight op i's filter and bias (None: keep)
    for every i in changes."""
    ops = list(weight_ops(m))
    for i, (w, b) in changes.items():
        sg, op = ops[i]
        _set_data(m, sg.tensors[op.inputs[1]], np.asarray(w, np.float32).tobytes())
        if b is not None:
            _set_data(m, _bias_tensor(m, sg, op, FLOAT32), np.asarray(b, np.float32).tobytes())


def pack(m) -> bytes:
    import flatbuffers
    b = flatbuffers.Builder(1024)
    b.Finish(m.Pack(b), file_identifier=b"TFL3")
    return bytes(b.Output())


__all__ = ["WeightOp", "conversions", "convert_float", "weight_op_pairs", "write", "set_float_weights", "pack", "int32_bias",
           "read", "OP_NAMES"]
