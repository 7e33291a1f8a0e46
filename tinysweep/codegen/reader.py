"""Read a .tflite flatbuffer into typed, immutable dataclasses.

Uses the schema module that ships with LiteRT (no TensorFlow import: ~0.2 s). Only what code
generation needs is kept: tensors (type, shape, quantization, constant bytes), operators (builtin
name, inputs/outputs, typed options for the ops the generator knows; `None` for the others), the
subgraph's inputs and outputs, and the sha256 of the file.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from ai_edge_litert import schema_py_generated as schema

from tinysweep.codegen.packing import unpack
from tinysweep.io import sha256_bytes


def _enum_names(cls) -> dict[int, str]:
    return {v: k for k, v in vars(cls).items() if not k.startswith("_") and isinstance(v, int)}


TENSOR_TYPES = _enum_names(schema.TensorType)
BUILTIN_OPS = _enum_names(schema.BuiltinOperator)
ACTIVATIONS = _enum_names(schema.ActivationFunctionType)
PADDINGS = _enum_names(schema.Padding)

# numpy dtype and element size of the tensor types whose bytes the generator may read
NUMPY_TYPES = {"INT8": np.int8, "UINT8": np.uint8, "INT16": np.int16, "INT32": np.int32,
               "INT64": np.int64, "FLOAT32": np.float32, "FLOAT16": np.float16, "BOOL": np.bool_}
# packed sub-byte types (bytes kept packed in Tensor.data; array() unpacks to int8)
PACKED_BITS = {"INT4": 4, "INT2": 2}


@dataclass(frozen=True)
class Quantization:
    scale: tuple[float, ...]        # float32 values, as stored
    zero_point: tuple[int, ...]
    axis: int                       # quantized dimension (meaningful when len(scale) > 1)

    @property
    def per_channel(self) -> bool:
        return len(self.scale) > 1


@dataclass(frozen=True)
class Tensor:
    index: int
    name: str
    type: str                       # "INT8", "INT32", "FLOAT32", ... (schema TensorType name)
    shape: tuple[int, ...]
    quant: Quantization | None
    data: bytes | None              # constant contents (little endian), None for activations
    is_variable: bool = False

    @property
    def is_constant(self) -> bool:
        return self.data is not None

    @property
    def elements(self) -> int:
        return math.prod(self.shape)

    @property
    def bits(self) -> int | None:
        """4 or 2 for a packed INT4/INT2 tensor, else None."""
        return PACKED_BITS.get(self.type)

    def array(self) -> np.ndarray:
        """Constant contents as a numpy array of the tensor's shape (INT4/INT2: unpacked int8)."""
        if self.data is None:
            raise ValueError(f"tensor {self.index} ({self.name}) has no constant data")
        if self.bits:
            try:
                return unpack(self.data, self.elements, self.bits).reshape(self.shape)
            except ValueError as e:
                raise ValueError(f"tensor {self.index} ({self.name}): {e}") from None
        if self.type not in NUMPY_TYPES:
            raise ValueError(f"tensor {self.index} ({self.name}): no numpy view of {self.type}")
        return np.frombuffer(self.data, dtype=np.dtype(NUMPY_TYPES[self.type]).newbyteorder("<")
                             ).reshape(self.shape)


@dataclass(frozen=True)
class Conv2DOptions:
    padding: str                    # "SAME" | "VALID"
    stride_h: int
    stride_w: int
    dilation_h: int
    dilation_w: int
    activation: str                 # "NONE" | "RELU" | "RELU6" | ...


@dataclass(frozen=True)
class DepthwiseConv2DOptions:
    padding: str
    stride_h: int
    stride_w: int
    dilation_h: int
    dilation_w: int
    depth_multiplier: int
    activation: str


@dataclass(frozen=True)
class Pool2DOptions:
    padding: str
    stride_h: int
    stride_w: int
    filter_h: int
    filter_w: int
    activation: str


@dataclass(frozen=True)
class FullyConnectedOptions:
    activation: str
    weights_format: str             # "DEFAULT" | "SHUFFLED4x16INT8"
    keep_num_dims: bool
    asymmetric_quantize_inputs: bool


@dataclass(frozen=True)
class SoftmaxOptions:
    beta: float


@dataclass(frozen=True)
class ReshapeOptions:
    new_shape: tuple[int, ...] | None


@dataclass(frozen=True)
class AddOptions:
    activation: str


@dataclass(frozen=True)
class ReducerOptions:           # MEAN
    keep_dims: bool


@dataclass(frozen=True)
class SqueezeOptions:
    squeeze_dims: tuple[int, ...]


OpOptions = (Conv2DOptions | DepthwiseConv2DOptions | Pool2DOptions | FullyConnectedOptions
             | SoftmaxOptions | ReshapeOptions | AddOptions | ReducerOptions | SqueezeOptions
             | None)


@dataclass(frozen=True)
class Operator:
    index: int
    opcode: str                     # builtin name ("CONV_2D"), or "CUSTOM:<code>"
    version: int
    inputs: tuple[int, ...]         # tensor indices; -1 = optional input absent
    outputs: tuple[int, ...]
    options: OpOptions


@dataclass(frozen=True)
class Model:
    sha256: str
    schema_version: int
    description: str
    tensors: tuple[Tensor, ...]
    operators: tuple[Operator, ...]
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]
    subgraph_count: int

    def tensor(self, index: int) -> Tensor:
        return self.tensors[index]


def _str(x) -> str:
    if x is None:
        return ""
    return x.decode("utf-8", "replace") if isinstance(x, bytes) else str(x)


def _ints(x) -> tuple[int, ...]:
    return tuple(int(v) for v in x) if x is not None else ()


def _activation(opts) -> str:
    return ACTIVATIONS.get(int(opts.fusedActivationFunction), str(opts.fusedActivationFunction))


def _options(opcode: str, opts):
    if opts is None:
        return {"RESHAPE": ReshapeOptions(None), "ADD": AddOptions("NONE"),
                "MEAN": ReducerOptions(False), "SQUEEZE": SqueezeOptions(())}.get(opcode)
    if opcode == "CONV_2D":
        return Conv2DOptions(PADDINGS[opts.padding], int(opts.strideH), int(opts.strideW),
                             int(opts.dilationHFactor), int(opts.dilationWFactor),
                             _activation(opts))
    if opcode == "DEPTHWISE_CONV_2D":
        return DepthwiseConv2DOptions(PADDINGS[opts.padding], int(opts.strideH), int(opts.strideW),
                                      int(opts.dilationHFactor), int(opts.dilationWFactor),
                                      int(opts.depthMultiplier), _activation(opts))
    if opcode in ("AVERAGE_POOL_2D", "MAX_POOL_2D", "L2_POOL_2D"):
        return Pool2DOptions(PADDINGS[opts.padding], int(opts.strideH), int(opts.strideW),
                             int(opts.filterHeight), int(opts.filterWidth), _activation(opts))
    if opcode == "FULLY_CONNECTED":
        fmt = _enum_names(schema.FullyConnectedOptionsWeightsFormat)
        return FullyConnectedOptions(_activation(opts), fmt.get(int(opts.weightsFormat), "?"),
                                     bool(opts.keepNumDims), bool(opts.asymmetricQuantizeInputs))
    if opcode == "SOFTMAX":
        return SoftmaxOptions(float(opts.beta))
    if opcode == "RESHAPE":
        return ReshapeOptions(_ints(opts.newShape) if opts.newShape is not None else None)
    if opcode == "ADD":
        return AddOptions(_activation(opts))
    if opcode == "MEAN":
        return ReducerOptions(bool(opts.keepDims))
    if opcode == "SQUEEZE":
        return SqueezeOptions(_ints(opts.squeezeDims))
    return None


def _quant(q) -> Quantization | None:
    if q is None or q.scale is None or len(q.scale) == 0:
        return None
    zps = _ints(q.zeroPoint) if q.zeroPoint is not None else (0,) * len(q.scale)
    scales = tuple(float(np.float32(s)) for s in q.scale)
    return Quantization(scales, zps, int(q.quantizedDimension))


def read_tflite_bytes(buf: bytes) -> Model:
    """Parse .tflite contents. Only the first subgraph is read (the others are counted)."""
    buf = bytes(buf)
    if len(buf) < 8 or buf[4:8] != b"TFL3":
        raise ValueError("not a .tflite flatbuffer (no TFL3 file identifier): give an int8 "
                         ".tflite written by the TFLite converter")
    try:
        m = schema.ModelT.InitFromPackedBuf(buf, 0)
    except Exception as e:  # flatbuffers raises struct.error, IndexError, ... on corrupt data
        raise ValueError(f"corrupt or truncated .tflite flatbuffer ({type(e).__name__}: {e}; "
                         f"{len(buf)} bytes): convert or copy the model again") from None
    if not m.subgraphs:
        raise ValueError("the .tflite holds no subgraph")
    sg = m.subgraphs[0]

    def buffer_bytes(index: int) -> bytes | None:
        if index <= 0 or index >= len(m.buffers or []):
            return None
        b = m.buffers[index]
        if b.data is not None and len(b.data) > 0:
            return bytes(np.asarray(b.data, dtype=np.uint8))
        if b.offset and b.offset > 1:  # data stored after the flatbuffer (models > 2 GB)
            return buf[b.offset:b.offset + b.size]
        return None

    tensors = []
    for i, t in enumerate(sg.tensors or []):
        tensors.append(Tensor(
            index=i, name=_str(t.name), type=TENSOR_TYPES.get(int(t.type), f"TYPE{t.type}"),
            shape=_ints(t.shape), quant=_quant(t.quantization), data=buffer_bytes(int(t.buffer)),
            is_variable=bool(t.isVariable)))

    codes = []
    for c in m.operatorCodes or []:
        code = max(int(c.builtinCode), int(c.deprecatedBuiltinCode))
        name = BUILTIN_OPS.get(code, f"BUILTIN{code}")
        if name == "CUSTOM":
            name = "CUSTOM:" + _str(c.customCode)
        codes.append((name, int(c.version)))

    operators = []
    for i, op in enumerate(sg.operators or []):
        name, version = codes[op.opcodeIndex]
        operators.append(Operator(index=i, opcode=name, version=version, inputs=_ints(op.inputs),
                                  outputs=_ints(op.outputs),
                                  options=_options(name, op.builtinOptions)))

    return Model(sha256=sha256_bytes(buf), schema_version=int(m.version),
                 description=_str(m.description), tensors=tuple(tensors),
                 operators=tuple(operators), inputs=_ints(sg.inputs), outputs=_ints(sg.outputs),
                 subgraph_count=len(m.subgraphs))


def read_tflite(path) -> Model:
    return read_tflite_bytes(Path(path).read_bytes())
