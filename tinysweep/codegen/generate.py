"""Lower a model (reader.Model) to typed kernel steps, then render model.c / model.h / model.json.

Every quantization parameter is computed here with tinysweep.quant_math, exactly as TFLM's
Prepare() does; the C code only holds constants and one straight-line sequence of tsn_* calls.
The output depends only on the .tflite bytes, the profile string and weight_bits (byte-identical
reruns).

Sub-byte weights: real INT4/INT2 weight tensors stay packed (TFLite's layout, see
tinysweep.codegen.packing) and run on the tsn_*_s4 / tsn_*_s2 kernels. With weight_bits 4 or 2,
int8 (or wider packed) weight tensors are packed at generation time; each must lie on the b-bit
grid |q| <= 2^(b-1) - 1, or generation stops naming the tensor. With weight_bits "auto", each
weight tensor is stored at the narrowest width whose grid holds it (2 if |q| <= 1, 4 if <= 7,
else as stored): a mixed-precision model (layers at 8, 4 and 2 bits) needs no list of layers.
"""
from __future__ import annotations

import dataclasses
import json
import re
from dataclasses import dataclass
from pathlib import Path

import jinja2
import numpy as np

from tinysweep import quant_math
from tinysweep.codegen import Unsupported
from tinysweep.codegen.packing import grid_limit, pack
from tinysweep.codegen.planner import ChainPlan, ModelPlan, inplace_kernel, plan_model
from tinysweep.codegen.reader import Model, Operator, Tensor, read_tflite

GENERATOR = "tinysweep.codegen 1"
TEMPLATES = Path(__file__).parent / "templates"
ACTIVATIONS = ("NONE", "RELU", "RELU6")
SOFTMAX_OUTPUT_SCALE = float(np.float32(1.0 / 256.0))
SOFTMAX_OUTPUT_ZERO_POINT = -128
ARENA_ALIGNMENT = 16
# float32 <-> int8 conversions the generated code offers only at the model's edges
EDGE_OPS = {"QUANTIZE": "input", "DEQUANTIZE": "output"}


# ---------------------------------------------------------------------------------------------
# typed steps (what the templates render)

@dataclass(frozen=True)
class Dims:
    n: int
    h: int
    w: int
    c: int


@dataclass(frozen=True)
class Requant:
    multipliers: tuple[int, ...]
    shifts: tuple[int, ...]

    @property
    def per_channel(self) -> int:
        return int(len(self.multipliers) > 1)


@dataclass(frozen=True)
class ConstArray:
    """A constant tensor emitted once as a C array."""
    name: str
    ctype: str            # "int8_t" | "int32_t"
    values: tuple[int, ...]   # for bits < 8: the packed bytes, as int8
    comment: str
    bits: int = 8         # weights: 8, or 4 / 2 when values are TFLite-packed INT4 / INT2
    grid_bits: int | None = None  # weights: bits the widest value needs (8, 4 or 2)

    @property
    def nbytes(self) -> int:
        return len(self.values) * (1 if self.ctype == "int8_t" else 4)


@dataclass(frozen=True)
class ConvStep:          # CONV_2D and DEPTHWISE_CONV_2D
    node: int
    opcode: str
    function: str        # tsn_conv2d_s8 | tsn_depthwise_conv2d_s8
    comment: str
    input_offset: int
    output_offset: int
    stride_h: int
    stride_w: int
    pad_top: int
    pad_left: int
    dilation_h: int
    dilation_w: int
    depth_multiplier: int
    act_min: int
    act_max: int
    requant: Requant
    input_dims: Dims
    filter_dims: Dims
    output_dims: Dims
    filter: str
    bias: str | None
    input_at: int        # arena offsets
    output_at: int
    macs: int
    kind: str = "conv"
    scratch_at: int | None = None   # in-place kernels: arena offset of the scratch buffer
    scratch_bytes: int = 0


@dataclass(frozen=True)
class FcStep:
    node: int
    opcode: str
    comment: str
    input_offset: int
    output_offset: int
    act_min: int
    act_max: int
    requant: Requant
    batches: int
    input_depth: int
    output_depth: int
    weights: str
    bias: str | None
    input_at: int
    output_at: int
    macs: int
    function: str = "tsn_fully_connected_s8"   # or _s4 / _s2 (packed weights)
    kind: str = "fc"


@dataclass(frozen=True)
class PoolStep:
    node: int
    opcode: str
    comment: str
    stride_h: int
    stride_w: int
    filter_h: int
    filter_w: int
    pad_top: int
    pad_left: int
    act_min: int
    act_max: int
    input_dims: Dims
    output_dims: Dims
    input_at: int
    output_at: int
    macs: int = 0
    kind: str = "avgpool"


@dataclass(frozen=True)
class SoftmaxStep:
    node: int
    opcode: str
    comment: str
    input_multiplier: int
    input_left_shift: int
    diff_min: int
    rows: int
    depth: int
    input_at: int
    output_at: int
    macs: int = 0
    kind: str = "softmax"


@dataclass(frozen=True)
class AddStep:           # ADD of two same-shape int8 tensors (fused activation in act_min/max)
    node: int
    opcode: str
    comment: str
    input1_offset: int
    input2_offset: int
    output_offset: int
    left_shift: int
    input1_multiplier: int
    input1_shift: int
    input2_multiplier: int
    input2_shift: int
    output_multiplier: int
    output_shift: int
    act_min: int
    act_max: int
    size: int
    input1_at: int
    input2_at: int
    output_at: int
    macs: int = 0
    kind: str = "add"


@dataclass(frozen=True)
class MeanStep:          # MEAN over H and W of a 4-D tensor
    node: int
    opcode: str
    comment: str
    input_offset: int
    output_offset: int
    multiplier: int
    shift: int
    input_dims: Dims
    input_at: int
    output_at: int
    macs: int = 0
    kind: str = "mean"


@dataclass(frozen=True)
class PadStep:           # PAD with the zero point
    node: int
    opcode: str
    comment: str
    pad_n: int
    pad_h: int
    pad_w: int
    pad_c: int
    pad_value: int
    input_dims: Dims
    output_dims: Dims
    input_at: int
    output_at: int
    macs: int = 0
    kind: str = "pad"


@dataclass(frozen=True)
class AliasStep:         # RESHAPE, SQUEEZE: the output shares the input's bytes, no code
    node: int
    opcode: str
    comment: str
    macs: int = 0
    kind: str = "alias"


@dataclass(frozen=True)
class ChainStep:         # [producer conv ->] consumer conv [-> residual ADD]: tsn_conv_chain_s8
    node: int            # the consumer's node (the chain runs there)
    opcode: str
    comment: str
    producer: ConvStep | None   # *_at of unmaterialized tensors are None
    consumer: ConvStep
    add: dict | None     # the ADD's tsn_add_params (quant_math.add_params)
    add_node: int | None
    conv_is_input1: int  # with add: the consumer output is the ADD's first input
    input_at: int        # the chain's input
    output_at: int       # the consumer output, or with add the ADD's other input and output
    window_at: int | None
    window_bytes: int
    row_at: int | None
    row_bytes: int
    macs: int            # the consumer's (the producer's are counted on its own node)
    function: str = "tsn_conv_chain_s8"
    kind: str = "chain"


@dataclass(frozen=True)
class FusedStep:         # an op computed by an earlier step's fused kernel: no code of its own
    node: int
    opcode: str
    comment: str
    fused_into: int      # the node whose kernel computes it
    macs: int = 0
    kind: str = "fused"


Step = (ConvStep | FcStep | PoolStep | SoftmaxStep | AddStep | MeanStep | PadStep | AliasStep
        | ChainStep | FusedStep)


@dataclass(frozen=True)
class IoInfo:
    tensor: int
    name: str
    shape: tuple[int, ...]
    scale: float
    zero_point: int
    bytes: int
    offset: int


@dataclass(frozen=True)
class Generated:
    model_c: str
    model_h: str
    info: dict           # the contents of model.json

    @property
    def model_json(self) -> str:
        return json.dumps(self.info, indent=2, sort_keys=True) + "\n"

    def write(self, out_dir) -> None:
        """Write model.c, model.h, model.json into `out_dir` (plain writes: callers wanting
        atomicity pass a temporary folder, see stages/convert.py)."""
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        (out / "model.c").write_text(self.model_c)
        (out / "model.h").write_text(self.model_h)
        (out / "model.json").write_text(self.model_json)


# ---------------------------------------------------------------------------------------------
# lowering

class _Lowering:
    def __init__(self, model: Model, plan: ModelPlan | None, weight_bits: int = 8,
                 narrowed: frozenset[int] = frozenset()):
        self.model = model
        self.plan = plan
        self.weight_bits = weight_bits
        self.narrowed = narrowed   # weight tensors packed by narrow_weights (weight_bits auto)
        self.consts: dict[int, ConstArray] = {}
        # node index -> operator position in the plan (edge removal leaves gaps in node numbers)
        self.position = {op.index: k for k, op in enumerate(model.operators)}

    # -- helpers ------------------------------------------------------------------------------
    def tensor(self, i: int) -> Tensor:
        return self.model.tensor(i)

    def unsupported(self, op: Operator, detail: str, ttype: str | None = None) -> Unsupported:
        """ttype: the tensor type to name; default the type of the op's first input."""
        if ttype is None:
            ttype = self.tensor(op.inputs[0]).type if op.inputs and op.inputs[0] >= 0 else "none"
        t = ttype.lower()
        return Unsupported(f"op {op.opcode} ({t}, {detail}) at node {op.index} is not supported")

    def require(self, cond: bool, op: Operator, detail: str) -> None:
        if not cond:
            raise self.unsupported(op, detail)

    def at(self, i: int) -> int:
        return self.plan.offsets[i]

    def activation(self, op: Operator, i: int, what: str) -> Tensor:
        """An int8, per-tensor-quantized activation tensor."""
        self.require(i >= 0, op, f"missing {what}")
        t = self.tensor(i)
        self.require(t.type == "INT8", op, f"{what} is {t.type.lower()}; only int8 tensors")
        self.require(not t.is_constant, op, f"constant {what}")
        self.require(t.quant is not None and len(t.quant.scale) == 1, op,
                     f"{what} without per-tensor quantization")
        return t

    def const(self, op: Operator, i: int, what: str, ctype: str) -> str:
        t = self.tensor(i)
        want = {"int8_t": "INT8", "int32_t": "INT32"}[ctype]
        self.require(t.type == want, op, f"{what} is {t.type.lower()}, expected {want.lower()}")
        self.require(t.is_constant, op, f"non-constant {what}")
        if i not in self.consts:
            values = tuple(int(v) for v in t.array().reshape(-1))
            shape = "x".join(str(d) for d in t.shape)
            comment = f"tensor {i}: {_comment_safe(t.name)} ({want.lower()} {shape})"
            self.consts[i] = ConstArray(f"tensor_{i}", ctype, values, comment)
        return self.consts[i].name

    def weights(self, op: Operator, i: int, what: str) -> tuple[str, int]:
        """A weight tensor as a C array: (name, storage bits 8/4/2). Packed INT4/INT2 tensors
        are kept as stored; with weight_bits < the stored width, the values are packed to
        weight_bits bits if they all lie on its grid, else Unsupported naming the tensor."""
        t = self.tensor(i)
        self.require(t.type in ("INT8", "INT4", "INT2"), op,
                     f"{what} is {t.type.lower()}, expected int8, int4 or int2")
        self.require(t.is_constant, op, f"non-constant {what}")
        if i not in self.consts:
            q = t.array().reshape(-1).astype(np.int64)
            widest = int(np.abs(q).max()) if q.size else 0
            grid_bits = min(8, widest.bit_length() + 1)
            stored = t.bits or 8
            bits = stored if self.weight_bits >= stored else self.weight_bits
            if bits < stored and widest > grid_limit(bits):
                raise self.unsupported(op, f"{what} tensor {i} {_comment_safe(t.name)!r} is off "
                                           f"the {bits}-bit grid: |q| up to {widest} > "
                                           f"{grid_limit(bits)}")
            shape = "x".join(str(d) for d in t.shape)
            if bits == 8:
                values = tuple(int(v) for v in q)
                kind = "int8"
            else:
                values = tuple(int(v) for v in np.frombuffer(pack(q, bits), np.int8))
                kind = f"int{bits} packed {8 // bits} per byte"
                if i in self.narrowed:
                    kind += ", the narrowest grid holding it"
                elif t.bits:
                    kind += ", as stored"
            comment = f"tensor {i}: {_comment_safe(t.name)} ({kind} {shape})"
            self.consts[i] = ConstArray(f"tensor_{i}", "int8_t", values, comment, bits, grid_bits)
        c = self.consts[i]
        return c.name, c.bits

    @staticmethod
    def dims4(t: Tensor) -> Dims:
        return Dims(*t.shape)

    def fused(self, op: Operator, act: str, out: Tensor) -> tuple[int, int]:
        self.require(act in ACTIVATIONS, op, f"fused activation {act}")
        return quant_math.activation_range(act, out.quant.scale[0], out.quant.zero_point[0])

    def spatial(self, op: Operator, padding: str, in_size: int, k: int, stride: int,
                dilation: int, out_size: int, axis: str) -> int:
        """Leading padding; checks the output size the way TFLite computes it."""
        self.require(stride >= 1, op, f"stride {stride}")
        if padding == "SAME":
            out, pad = quant_math.same_padding(in_size, k, stride, dilation)
        elif padding == "VALID":
            out, pad = quant_math.valid_output(in_size, k, stride, dilation), 0
        else:
            raise self.unsupported(op, f"padding {padding}")
        self.require(out == out_size, op, f"output {axis} {out_size}, expected {out}")
        return pad

    def filter_quant(self, op: Operator, f: Tensor, channels: int, axis: int) -> tuple[float, ...]:
        q = f.quant
        self.require(q is not None, op, "unquantized weights")
        self.require(all(z == 0 for z in q.zero_point), op, "weights zero point not 0")
        if q.per_channel:
            self.require(len(q.scale) == channels and q.axis == axis, op,
                         f"{len(q.scale)} weight scales on axis {q.axis}")
        return q.scale

    def bias(self, op: Operator, channels: int) -> str | None:
        if len(op.inputs) < 3 or op.inputs[2] < 0:
            return None
        b = self.tensor(op.inputs[2])
        self.require(b.elements == channels, op, f"bias of {b.elements} values for {channels}")
        return self.const(op, op.inputs[2], "bias", "int32_t")

    # -- ops ----------------------------------------------------------------------------------
    HANDLERS = {"CONV_2D": "conv", "DEPTHWISE_CONV_2D": "conv",
                "FULLY_CONNECTED": "fully_connected", "AVERAGE_POOL_2D": "avgpool",
                "MAX_POOL_2D": "avgpool", "SOFTMAX": "softmax", "RESHAPE": "reshape",
                "SQUEEZE": "reshape", "ADD": "add", "MEAN": "mean", "PAD": "pad"}

    def precheck(self, op: Operator) -> None:
        """Known op, int8 data input and outputs."""
        if op.opcode in EDGE_OPS:
            raise self.unsupported(op, f"only at the model's {EDGE_OPS[op.opcode]} edge")
        if op.opcode not in self.HANDLERS:
            raise self.unsupported(op, "no tsn kernel")
        for i in (*op.inputs[:1], *op.outputs):
            if i >= 0 and self.tensor(i).type != "INT8":
                raise self.unsupported(op, "only int8 tensors", self.tensor(i).type)

    def lower(self, op: Operator) -> Step:
        self.precheck(op)
        return getattr(self, self.HANDLERS[op.opcode])(op)

    def chained(self, op: Operator) -> tuple[ChainPlan | None, str | None]:
        """(the chain op belongs to, its role: producer / consumer / add), or (None, None)."""
        position = self.position[op.index]
        for cp in self.plan.chains.values():
            c = cp.chain
            for role in ("producer", "consumer", "add"):
                if getattr(c, role) == position:
                    return cp, role
        return None, None

    def conv(self, op: Operator) -> ConvStep | ChainStep | FusedStep:
        cp, role = self.chained(op)
        if role == "consumer":
            return self.chain(op, cp)
        if role == "producer":
            step = self.conv_step(op, materialized=False)
            consumer = self.model.operators[cp.chain.consumer]
            return FusedStep(node=op.index, opcode=op.opcode, fused_into=consumer.index,
                             macs=step.macs,
                             comment=f"{step.comment}; computed by node {consumer.index}")
        step = self.conv_step(op)
        if step.scratch_at is not None and "_inplace_s" not in step.function:
            # packed weights in place: a lone chain copying input rows into a window
            return ChainStep(node=op.index, opcode=op.opcode, producer=None, consumer=step,
                             comment=f"{step.comment}; in place through a window of input rows",
                             add=None, add_node=None, conv_is_input1=1, input_at=step.input_at,
                             output_at=step.output_at, window_at=step.scratch_at,
                             window_bytes=step.scratch_bytes, row_at=None, row_bytes=0,
                             macs=step.macs)
        return step

    def chain(self, op: Operator, cp: ChainPlan) -> ChainStep:
        c = cp.chain
        ops = self.model.operators
        producer = (None if c.producer is None
                    else self.conv_step(ops[c.producer], materialized=False))
        consumer = self.conv_step(op, materialized=False)
        add = p = None
        y = op.outputs[0]
        output_at = self.at(y) if c.add is None else None
        is_input1 = 1
        if c.add is not None:
            add = ops[c.add]
            _, _, out, p = self.add_operands(add)
            other = add.inputs[1 - add.inputs.index(y)]
            is_input1 = int(add.inputs[0] == y)
            output_at = self.at(other)
            assert self.at(out.index) == output_at
        first = ops[c.producer] if c.producer is not None else op
        nodes = " -> ".join(str(ops[i].index) for i in c.ops)
        return ChainStep(node=op.index, opcode=op.opcode, producer=producer, consumer=consumer,
                         comment=f"{consumer.comment}; chain of nodes {nodes} run row by row",
                         add=p, add_node=None if add is None else add.index,
                         conv_is_input1=is_input1, input_at=self.at(first.inputs[0]),
                         output_at=output_at, window_at=cp.window_at, window_bytes=c.window_bytes,
                         row_at=cp.row_at, row_bytes=c.row_bytes, macs=consumer.macs)

    def conv_step(self, op: Operator, materialized: bool = True) -> ConvStep:
        """materialized=False: a chain member; its unmaterialized tensors get no offset."""
        depthwise = op.opcode == "DEPTHWISE_CONV_2D"
        o = op.options
        self.require(len(op.inputs) >= 2 and len(op.outputs) == 1, op, "inputs/outputs")
        x = self.activation(op, op.inputs[0], "input")
        y = self.activation(op, op.outputs[0], "output")
        f = self.tensor(op.inputs[1])
        self.require(len(x.shape) == 4 and len(y.shape) == 4 and len(f.shape) == 4, op,
                     "tensors not 4-D")
        self.require(o.dilation_h == 1 and o.dilation_w == 1, op,
                     f"dilation {o.dilation_h}x{o.dilation_w}")
        xd, yd, fd = self.dims4(x), self.dims4(y), self.dims4(f)
        self.require(xd.n == yd.n, op, "batch changes")
        if depthwise:
            self.require(fd.n == 1 and fd.c == yd.c, op, f"filter shape {f.shape}")
            self.require(yd.c % xd.c == 0, op, f"{yd.c} output channels from {xd.c}")
            multiplier = yd.c // xd.c
            macs = yd.n * yd.h * yd.w * yd.c * fd.h * fd.w
            scales = self.filter_quant(op, f, yd.c, 3)
        else:
            self.require(fd.c == xd.c, op, f"grouped convolution ({xd.c} input channels, "
                                           f"filter depth {fd.c})")
            self.require(fd.n == yd.c, op, f"filter shape {f.shape}")
            multiplier = 1
            macs = yd.n * yd.h * yd.w * yd.c * fd.h * fd.w * fd.c
            scales = self.filter_quant(op, f, yd.c, 0)
        pad_top = self.spatial(op, o.padding, xd.h, fd.h, o.stride_h, 1, yd.h, "height")
        pad_left = self.spatial(op, o.padding, xd.w, fd.w, o.stride_w, 1, yd.w, "width")
        mults, shifts = quant_math.conv_per_channel_multipliers(x.quant.scale[0], scales,
                                                                y.quant.scale[0])
        act_min, act_max = self.fused(op, o.activation, y)
        filt, bits = self.weights(op, op.inputs[1], "filter")
        function = f"tsn_{'depthwise_conv2d' if depthwise else 'conv2d'}_s{bits}"
        scratch_at, scratch_bytes = self.plan.inplace.get(self.position[op.index], (None, 0))
        if scratch_at is not None:   # the planner gave the output the input's buffer
            assert self.at(x.index) == self.at(y.index)
            kernel, scratch = inplace_kernel(self.model, op, self.weight_bits != 8)
            assert scratch == scratch_bytes
            if kernel != "tsn_conv_chain_s8":  # (the chain kernel calls `function` per row)
                assert bits == 8 or kernel in ("tsn_depthwise_conv2d_inplace_s8",
                                               "tsn_conv2d_1x1_inplace_s8")
                function = kernel.replace("_s8", f"_s{bits}")
        return ConvStep(
            node=op.index, opcode=op.opcode, function=function,
            scratch_at=scratch_at, scratch_bytes=scratch_bytes,
            comment=_describe(op, x, y, f"{fd.h}x{fd.w} s{o.stride_h}x{o.stride_w} {o.padding} "
                                        f"{o.activation}"),
            input_offset=-x.quant.zero_point[0], output_offset=y.quant.zero_point[0],
            stride_h=o.stride_h, stride_w=o.stride_w, pad_top=pad_top, pad_left=pad_left,
            dilation_h=1, dilation_w=1, depth_multiplier=multiplier,
            act_min=act_min, act_max=act_max, requant=Requant(tuple(mults), tuple(shifts)),
            input_dims=xd, filter_dims=fd, output_dims=yd,
            filter=filt, bias=self.bias(op, yd.c),
            input_at=self.plan.offsets.get(x.index) if not materialized else self.at(x.index),
            output_at=self.plan.offsets.get(y.index) if not materialized else self.at(y.index),
            macs=macs)

    def fully_connected(self, op: Operator) -> FcStep:
        o = op.options
        self.require(len(op.inputs) >= 2 and len(op.outputs) == 1, op, "inputs/outputs")
        x = self.activation(op, op.inputs[0], "input")
        y = self.activation(op, op.outputs[0], "output")
        w = self.tensor(op.inputs[1])
        self.require(o.weights_format == "DEFAULT", op, f"weights format {o.weights_format}")
        self.require(len(w.shape) == 2, op, f"weights shape {w.shape}")
        out_depth, in_depth = w.shape
        self.require(in_depth > 0 and x.elements % in_depth == 0, op,
                     f"input of {x.elements} values for depth {in_depth}")
        batches = x.elements // in_depth
        self.require(y.elements == batches * out_depth, op, f"output shape {y.shape}")
        scales = self.filter_quant(op, w, out_depth, 0)
        if len(scales) > 1:   # TFLM: per-channel FC multipliers are formed in double
            mults, shifts = quant_math.conv_per_channel_multipliers(x.quant.scale[0], scales,
                                                                    y.quant.scale[0])
        else:
            m, s = quant_math.fc_per_tensor_multiplier(x.quant.scale[0], scales[0],
                                                       y.quant.scale[0])
            mults, shifts = [m], [s]
        act_min, act_max = self.fused(op, o.activation, y)
        weights, bits = self.weights(op, op.inputs[1], "weights")
        return FcStep(
            node=op.index, opcode=op.opcode,
            comment=_describe(op, x, y, f"{in_depth}->{out_depth} {o.activation}"),
            input_offset=-x.quant.zero_point[0], output_offset=y.quant.zero_point[0],
            act_min=act_min, act_max=act_max, requant=Requant(tuple(mults), tuple(shifts)),
            batches=batches, input_depth=in_depth, output_depth=out_depth,
            weights=weights, bias=self.bias(op, out_depth),
            input_at=self.at(x.index), output_at=self.at(y.index),
            macs=batches * in_depth * out_depth, function=f"tsn_fully_connected_s{bits}")

    def avgpool(self, op: Operator) -> PoolStep:
        o = op.options
        x = self.activation(op, op.inputs[0], "input")
        y = self.activation(op, op.outputs[0], "output")
        self.require(len(x.shape) == 4 and len(y.shape) == 4, op, "tensors not 4-D")
        xd, yd = self.dims4(x), self.dims4(y)
        self.require(xd.n == yd.n and xd.c == yd.c, op, f"output shape {y.shape}")
        pad_top = self.spatial(op, o.padding, xd.h, o.filter_h, o.stride_h, 1, yd.h, "height")
        pad_left = self.spatial(op, o.padding, xd.w, o.filter_w, o.stride_w, 1, yd.w, "width")
        act_min, act_max = self.fused(op, o.activation, y)
        if op.opcode == "MAX_POOL_2D":
            self.require(x.quant == y.quant, op, "input and output quantization differ")
        return PoolStep(
            kind="maxpool" if op.opcode == "MAX_POOL_2D" else "avgpool",
            node=op.index, opcode=op.opcode,
            comment=_describe(op, x, y, f"{o.filter_h}x{o.filter_w} s{o.stride_h}x{o.stride_w} "
                                        f"{o.padding} {o.activation}"),
            stride_h=o.stride_h, stride_w=o.stride_w, filter_h=o.filter_h, filter_w=o.filter_w,
            pad_top=pad_top, pad_left=pad_left, act_min=act_min, act_max=act_max,
            input_dims=xd, output_dims=yd, input_at=self.at(x.index), output_at=self.at(y.index))

    def softmax(self, op: Operator) -> SoftmaxStep:
        x = self.activation(op, op.inputs[0], "input")
        y = self.activation(op, op.outputs[0], "output")
        self.require(x.shape == y.shape and len(x.shape) >= 1, op, "shape changes")
        self.require(y.quant.scale[0] == SOFTMAX_OUTPUT_SCALE
                     and y.quant.zero_point[0] == SOFTMAX_OUTPUT_ZERO_POINT, op,
                     f"output scale {y.quant.scale[0]!r} zero point {y.quant.zero_point[0]}")
        beta = op.options.beta
        try:
            mult, shift, diff_min = quant_math.softmax_params(x.quant.scale[0], beta)
        except ValueError as e:
            raise self.unsupported(op, str(e)) from None
        depth = x.shape[-1]
        return SoftmaxStep(
            node=op.index, opcode=op.opcode, comment=_describe(op, x, y, f"beta {beta!r}"),
            input_multiplier=int(mult), input_left_shift=int(shift), diff_min=int(diff_min),
            rows=x.elements // depth, depth=depth,
            input_at=self.at(x.index), output_at=self.at(y.index))

    def add_operands(self, op: Operator) -> tuple[Tensor, Tensor, Tensor, dict]:
        """(input 1, input 2, output, tsn_add_params fields) of an ADD."""
        self.require(len(op.inputs) == 2 and len(op.outputs) == 1, op, "inputs/outputs")
        a = self.activation(op, op.inputs[0], "input 1")
        b = self.activation(op, op.inputs[1], "input 2")
        y = self.activation(op, op.outputs[0], "output")
        self.require(a.shape == b.shape == y.shape, op,
                     f"broadcasting {'x'.join(map(str, a.shape))} + {'x'.join(map(str, b.shape))}")
        act = op.options.activation
        self.require(act in ACTIVATIONS, op, f"fused activation {act}")
        return a, b, y, quant_math.add_params(a.quant.scale[0], a.quant.zero_point[0],
                                              b.quant.scale[0], b.quant.zero_point[0],
                                              y.quant.scale[0], y.quant.zero_point[0], act)

    def add(self, op: Operator) -> AddStep | FusedStep:
        a, b, y, p = self.add_operands(op)
        act = op.options.activation
        cp, _ = self.chained(op)
        if cp is not None:
            conv = self.model.operators[cp.chain.consumer]
            return FusedStep(node=op.index, opcode=op.opcode, fused_into=conv.index,
                             comment=_describe(op, a, y, f"{act}; computed by node {conv.index}"))
        return AddStep(node=op.index, opcode=op.opcode, comment=_describe(op, a, y, act),
                       size=y.elements, input1_at=self.at(a.index), input2_at=self.at(b.index),
                       output_at=self.at(y.index), **p)

    def mean(self, op: Operator) -> MeanStep:
        self.require(len(op.inputs) == 2 and len(op.outputs) == 1, op, "inputs/outputs")
        x = self.activation(op, op.inputs[0], "input")
        y = self.activation(op, op.outputs[0], "output")
        axis_t = self.tensor(op.inputs[1])
        self.require(axis_t.is_constant and axis_t.type == "INT32", op, "non-constant axis")
        axes = sorted(int(v) % max(len(x.shape), 1) for v in axis_t.array().reshape(-1))
        self.require(len(x.shape) == 4 and axes == [1, 2], op, f"axes {axes} of a "
                     f"{len(x.shape)}-D tensor; only H and W of 4-D")
        xd = self.dims4(x)
        self.require(y.elements == xd.n * xd.c, op, f"output shape {y.shape}")
        mult, shift = quant_math.mean_params(x.quant.scale[0], y.quant.scale[0], xd.h * xd.w)
        return MeanStep(node=op.index, opcode=op.opcode,
                        comment=_describe(op, x, y, "over H, W"),
                        input_offset=-x.quant.zero_point[0], output_offset=y.quant.zero_point[0],
                        multiplier=mult, shift=shift, input_dims=xd,
                        input_at=self.at(x.index), output_at=self.at(y.index))

    def pad(self, op: Operator) -> PadStep:
        self.require(len(op.inputs) == 2 and len(op.outputs) == 1, op, "inputs/outputs")
        x = self.activation(op, op.inputs[0], "input")
        y = self.activation(op, op.outputs[0], "output")
        pads_t = self.tensor(op.inputs[1])
        self.require(pads_t.is_constant and pads_t.type in ("INT32", "INT64"), op,
                     "non-constant paddings")
        self.require(len(x.shape) == 4 and len(y.shape) == 4 and pads_t.shape == (4, 2), op,
                     "tensors not 4-D")
        pads = [[int(v) for v in row] for row in pads_t.array()]
        self.require(all(v >= 0 for row in pads for v in row), op, f"negative padding {pads}")
        self.require(all(x.shape[k] + pads[k][0] + pads[k][1] == y.shape[k] for k in range(4)),
                     op, f"output shape {y.shape}")
        self.require(x.quant == y.quant, op, "input and output quantization differ")
        return PadStep(node=op.index, opcode=op.opcode,
                       comment=_describe(op, x, y, f"paddings {pads}"),
                       pad_n=pads[0][0], pad_h=pads[1][0], pad_w=pads[2][0], pad_c=pads[3][0],
                       pad_value=y.quant.zero_point[0], input_dims=self.dims4(x),
                       output_dims=self.dims4(y), input_at=self.at(x.index),
                       output_at=self.at(y.index))

    def reshape(self, op: Operator) -> AliasStep:
        x = self.activation(op, op.inputs[0], "input")
        y = self.activation(op, op.outputs[0], "output")
        self.require(x.elements == y.elements, op, f"{x.elements} -> {y.elements} elements")
        self.require(x.quant == y.quant, op, "quantization changes")
        assert self.at(x.index) == self.at(y.index)
        return AliasStep(node=op.index, opcode=op.opcode,
                         comment=_describe(op, x, y, "aliased in place, no code"))


def _comment_safe(text: str) -> str:
    text = text.encode("ascii", "backslashreplace").decode("ascii")
    return text.replace("*/", "*\\/").replace("/*", "/\\*")


def _describe(op: Operator, x: Tensor, y: Tensor, detail: str) -> str:
    shape = lambda t: "x".join(str(d) for d in t.shape)  # noqa: E731
    return _comment_safe(f"node {op.index}: {op.opcode} {shape(x)} -> {shape(y)}, {detail}")


# ---------------------------------------------------------------------------------------------
# model-level checks and rendering

def _model_unsupported(detail: str) -> Unsupported:
    return Unsupported(f"model ({detail}) is not supported")


def _io(model: Model, index: int, offset: int, what: str) -> IoInfo:
    t = model.tensor(index)
    if t.type != "INT8" or t.quant is None or len(t.quant.scale) != 1:
        raise _model_unsupported(f"{what} {t.name!r} is {t.type.lower()}"
                                 f"{'' if t.quant else ' unquantized'}; only int8 per-tensor")
    return IoInfo(tensor=index, name=t.name, shape=t.shape, scale=t.quant.scale[0],
                  zero_point=t.quant.zero_point[0], bytes=t.elements, offset=offset)


def c_float(x: float) -> str:
    """A C float literal that parses back to exactly the float32 value `x`."""
    text = repr(float(np.float32(x)))
    if "e" not in text and "." not in text:
        text += ".0"
    return text + "f"


def c_ints(values, per_line: int = 16, width: int = 4) -> str:
    """Comma-separated integers, `per_line` a line, each line indented by 4 spaces."""
    values = [int(v) for v in values]
    w = max(width, max((len(str(v)) for v in values), default=1))
    lines = []
    for i in range(0, len(values), per_line):
        lines.append("    " + ", ".join(f"{v:>{w}}" for v in values[i:i + per_line]) + ",")
    return "\n".join(lines)


PROFILE_RE = re.compile(r"[A-Za-z0-9_.\-]{1,32}")


AUTO = "auto"
WEIGHT_BITS = (8, 4, 2, AUTO)
WEIGHT_OPS = ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED")


def storage_bits(widest: int) -> int:
    """The narrowest storage width whose symmetric grid holds values |q| <= widest."""
    return next((b for b in (2, 4) if widest <= grid_limit(b)), 8)


def narrow_weights(model: Model) -> tuple[Model, frozenset[int]]:
    """`model` with every weight tensor (filter of a conv, depthwise conv or fully connected)
    whose values fit a narrower grid than its storage repacked as an INT4/INT2 tensor, and
    the indices of those tensors. Values are unchanged: the arithmetic is the same."""
    tensors, narrowed = list(model.tensors), set()
    for op in model.operators:
        if op.opcode not in WEIGHT_OPS or len(op.inputs) < 2 or op.inputs[1] < 0:
            continue
        t = tensors[op.inputs[1]]
        if t.type not in ("INT8", "INT4", "INT2") or not t.is_constant or t.index in narrowed:
            continue
        q = t.array().reshape(-1).astype(np.int64)
        bits = storage_bits(int(np.abs(q).max()) if q.size else 0)
        if bits < (t.bits or 8):
            tensors[t.index] = dataclasses.replace(t, type=f"INT{bits}", data=pack(q, bits))
            narrowed.add(t.index)
    return dataclasses.replace(model, tensors=tuple(tensors)), frozenset(narrowed)


def stored_weights_bytes(model: Model) -> dict:
    """Flash of the weight ops' constants as weight_bits "auto" stores them: {"bytes": filters
    at their storage width + int32 biases, "by_bits": {"8"/"4"/"2": filter bytes}}."""
    model, _ = narrow_weights(model)
    filters, biases = {}, {}
    for op in model.operators:
        if op.opcode not in WEIGHT_OPS or len(op.inputs) < 2 or op.inputs[1] < 0:
            continue
        f = model.tensor(op.inputs[1])
        if f.is_constant:
            filters[f.index] = f
        if len(op.inputs) > 2 and op.inputs[2] >= 0 and model.tensor(op.inputs[2]).is_constant:
            biases[op.inputs[2]] = len(model.tensor(op.inputs[2]).data)
    by_bits = {}
    for f in filters.values():
        bits = f.bits or 8
        by_bits[str(bits)] = by_bits.get(str(bits), 0) + (len(f.data) if bits < 8 else f.elements)
    return {"bytes": sum(by_bits.values()) + sum(biases.values()), "by_bits": by_bits}


def generate(model: Model, profile: str, weight_bits: int | str = 8) -> Generated:
    """Lower `model` to C. Raises Unsupported for anything the tsn kernels cannot run.

    weight_bits: 8 keeps weights as stored (int8, or packed INT4/INT2); 4 or 2 packs every
    wider weight tensor to that many bits, which requires its values on the grid
    |q| <= 2^(bits-1) - 1 (7 or 1); "auto" stores each weight tensor at the narrowest width
    whose grid holds it (narrow_weights)."""
    if not PROFILE_RE.fullmatch(profile):
        raise ValueError(f"profile {profile!r}: 1-32 characters of [A-Za-z0-9_.-]")
    if weight_bits not in WEIGHT_BITS:
        raise ValueError(f"weight_bits {weight_bits!r}: one of 8, 4, 2, auto")
    requested, narrowed = weight_bits, frozenset()
    if weight_bits == AUTO:   # then kept as stored: INT4/INT2 tensors run on packed kernels
        model, narrowed = narrow_weights(model)
        weight_bits = 8
    if model.subgraph_count != 1:
        raise _model_unsupported(f"{model.subgraph_count} subgraphs; only 1")
    if len(model.inputs) != 1 or len(model.outputs) != 1:
        raise _model_unsupported(f"{len(model.inputs)} inputs and {len(model.outputs)} outputs; "
                                 "only 1 and 1")
    if not model.operators:
        raise _model_unsupported("no operators")

    # float32 edges: a QUANTIZE of the float input and a DEQUANTIZE into the float output become
    # tsn_model_quantize_input / tsn_model_dequantize_output; the int8 core is planned and run
    model, edges = _split_edges(model)
    if not model.operators:
        raise _model_unsupported("no operators besides QUANTIZE/DEQUANTIZE")

    # every activation an op reads must be produced earlier or be the model input
    available = set(model.inputs)
    for op in model.operators:
        for i in op.inputs:
            if i < 0 or model.tensor(i).is_constant:
                continue
            if i not in available:
                t = model.tensor(i).type.lower()
                raise Unsupported(f"op {op.opcode} ({t}, reads tensor {i} before it is written) "
                                  f"at node {op.index} is not supported")
        available.update(op.outputs)

    # reject unknown ops and non-int8 tensors before planning (the planner sizes int8 only)
    probe = _Lowering(model, None)
    for op in model.operators:
        probe.precheck(op)
    # plan on consecutive operator indices (edge removal leaves gaps); lowering keeps node numbers
    # packed weights: in-place convolutions through the packed kernels (inplace_kernel)
    plan = plan_model(dataclasses.replace(model, operators=tuple(
        dataclasses.replace(op, index=k) for k, op in enumerate(model.operators))), ARENA_ALIGNMENT,
        packed=weight_bits != 8)
    lowering = _Lowering(model, plan, weight_bits, narrowed)
    steps = [lowering.lower(op) for op in model.operators]

    inp = _io(model, model.inputs[0], plan.offsets[model.inputs[0]], "input")
    out = _io(model, model.outputs[0], plan.offsets[model.outputs[0]], "output")
    consts = [lowering.consts[k] for k in sorted(lowering.consts)]
    weights_bytes = sum(c.nbytes for c in consts)
    convs = [c for s in steps for c in ((s.producer, s.consumer) if s.kind == "chain" else (s,))
             if c is not None]
    requant_bytes = sum(8 * len(c.requant.multipliers) for c in convs if hasattr(c, "requant"))
    macs = sum(s.macs for s in steps)
    # weight_bits (model.json): bits of the widest weight value — 8 for int8 PTQ, 4 when every
    # weight lies on the int4 grid — whatever the storage; weights_stored_bits: the widest
    # storage width in flash (8, 4 or 2); weight_bits_requested: the generate() argument;
    # weights_by_bits: weight tensors and their elements / bytes at each storage width.
    filters = [c for c in consts if c.grid_bits is not None]
    grid_bits = max((c.grid_bits for c in filters if c.values), default=None)
    stored_bits = max((c.bits for c in filters), default=None)

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES)),
                             undefined=jinja2.StrictUndefined, trim_blocks=True,
                             lstrip_blocks=True, keep_trailing_newline=True, autoescape=False)
    env.filters["c_ints"] = c_ints
    env.filters["c_float"] = c_float
    ctx = dict(generator=GENERATOR, sha256=model.sha256, profile=profile, steps=steps,
               consts=consts, input=inp, output=out, arena_bytes=plan.arena_bytes,
               arena_alignment=ARENA_ALIGNMENT, weights_bytes=weights_bytes, macs=macs,
               edges=edges)
    model_h = env.get_template("model.h.j2").render(**ctx)
    model_c = env.get_template("model.c.j2").render(**ctx)

    def io_json(io: IoInfo) -> dict:
        return {"tensor": io.tensor, "name": io.name, "shape": list(io.shape), "dtype": "int8",
                "scale": io.scale, "zero_point": io.zero_point, "bytes": io.bytes,
                "arena_offset": io.offset}

    info = {
        "generator": GENERATOR,
        "sha256": model.sha256,
        "profile": profile,
        "arena_bytes": plan.arena_bytes,
        "arena_lower_bound": plan.plan.lower_bound,
        "arena_alignment": ARENA_ALIGNMENT,
        "weights_bytes": weights_bytes,
        "requant_bytes": requant_bytes,
        "macs": macs,
        "weight_bits": grid_bits,
        "weight_bits_requested": requested,
        "weights_stored_bits": stored_bits,
        "weights_by_bits": {str(b): {"tensors": len(cs), "bytes": sum(c.nbytes for c in cs)}
                            for b in (8, 4, 2) for cs in [[c for c in filters if c.bits == b]]
                            if cs},
        "ops": [{"node": s.node, "op": s.opcode, "macs": s.macs, "kernel": _kernel(s),
                 **({"fused_into": s.fused_into} if s.kind == "fused" else {})}
                for s in steps],
        "float_edges": {k: {"node": op.index, "op": op.opcode, "kernel": EDGE_KERNELS[op.opcode]}
                        for k, op in edges.items()},
        "input": io_json(inp),
        "output": io_json(out),
        "arena": [{"tensor": i, "name": model.tensor(i).name, "offset": off,
                   "bytes": model.tensor(i).elements, "buffer_of": plan.root[i]}
                  for i, off in plan.offsets.items()],
        "scratch": [{"node": s.node, "offset": s.scratch_at, "bytes": s.scratch_bytes}
                    for s in steps if getattr(s, "scratch_at", None) is not None]
        + [{"node": s.node, "offset": at, "bytes": n, "use": use} for s in steps
           if s.kind == "chain" for use, at, n in (("window", s.window_at, s.window_bytes),
                                                    ("row", s.row_at, s.row_bytes)) if n],
    }
    return Generated(model_c=model_c, model_h=model_h, info=info)


EDGE_KERNELS = {"QUANTIZE": "tsn_quantize_f32_s8", "DEQUANTIZE": "tsn_dequantize_s8_f32"}


def _split_edges(model: Model) -> tuple[Model, dict[str, Operator]]:
    """Remove a leading float32->int8 QUANTIZE of the model input and a trailing int8->float32
    DEQUANTIZE producing the model output; the int8 tensors between become the model's I/O."""
    ops = list(model.operators)
    inputs, outputs, edges = model.inputs, model.outputs, {}
    t = model.tensor

    def affine(i):
        q = t(i).quant
        return t(i).type == "INT8" and q is not None and len(q.scale) == 1

    first = ops[0] if ops else None
    if (first is not None and first.opcode == "QUANTIZE" and first.inputs == inputs
            and t(inputs[0]).type == "FLOAT32" and len(first.outputs) == 1
            and affine(first.outputs[0])
            and all(first.outputs[0] not in (op.outputs) for op in ops[1:])):
        edges["input"] = ops.pop(0)
        inputs = first.outputs
    last = ops[-1] if ops else None
    if (last is not None and last.opcode == "DEQUANTIZE" and last.outputs == outputs
            and t(outputs[0]).type == "FLOAT32" and len(last.inputs) == 1
            and affine(last.inputs[0]) and last.inputs[0] not in inputs):
        edges["output"] = ops.pop()
        outputs = last.inputs
    if not edges:
        return model, edges
    return dataclasses.replace(model, operators=tuple(ops), inputs=inputs, outputs=outputs), edges


def _kernel(step: Step) -> str | None:
    return {"conv": getattr(step, "function", None), "fc": getattr(step, "function", None),
            "chain": "tsn_conv_chain_s8", "fused": None,
            "avgpool": "tsn_avgpool_s8", "maxpool": "tsn_maxpool_s8", "softmax": "tsn_softmax_s8",
            "add": "tsn_add_s8", "mean": "tsn_mean_s8", "pad": "tsn_pad_s8",
            "alias": None}[step.kind]


def generate_file(path, profile: str, weight_bits: int | str = 8) -> Generated:
    return generate(read_tflite(path), profile, weight_bits)


__all__ = ["generate", "generate_file", "narrow_weights", "stored_weights_bytes", "Generated", "Dims", "Requant", "ConvStep", "FcStep",
           "PoolStep", "SoftmaxStep", "AddStep", "MeanStep", "PadStep", "AliasStep", "ChainStep",
           "FusedStep",
           "c_float", "c_ints"]
