"""Static activation-arena planning.

Every activation buffer is live over a closed interval of operator indices [first, last]; two
buffers conflict when their intervals intersect. `plan_arena` places every buffer at an aligned
offset so that no two conflicting buffers share a byte, and keeps the smallest of several greedy
plans: each strategy visits the buffers in one order (largest first as TFLM's
GreedyMemoryPlanner, longest-lived first, earliest first, largest size × lifetime first) and puts
each at the lowest offset that fits (first fit) or in the smallest gap that fits (best fit)
between the already placed buffers it conflicts with. The arena size is the highest end offset,
rounded up to the alignment. `lower_bound` is exact for these lifetimes: the most bytes live at
one operator, which no plan can beat.

`plan_model` derives the intervals from a model: a tensor lives from the operator producing it to
the last operator reading it. Buffers are shared, so that a chain of them is one buffer whose
interval is the union, where that is legal without copying:
- RESHAPE and SQUEEZE outputs alias their input (same bytes, no copy);
- the output of an op in INPLACE_OPS may overwrite its first input when that input is read by
  no later op, has the output's size, and is not the model input (kernels of these ops read
  element i, or a whole row, before writing element i / that row).
- in-place convolutions (`inplace_convs=True`): a CONV_2D or DEPTHWISE_CONV_2D with an in-place
  kernel (`inplace_kernel`: 1x1 stride 1; or output rows that never overtake the input rows read)
  may write its output over its first input under the same conditions except that the sizes
  may differ (the shared buffer is as large as its largest tensor while that tensor lives).
  Such an op also gets a scratch buffer in the arena, live at that op only.
- chains (`fuse=True`, tsn_conv_chain_s8): [producer conv ->] consumer conv [-> residual ADD]
  run row by row. A producer's output is never materialized (a window of the rows the consumer
  needs at once instead); with an ADD neither is the consumer's (one output row of scratch), and
  the ADD's output overwrites its other input, which must die there and must not share the
  chain input's buffer. The chain runs at the consumer's index: the producer's input lives
  until then. Every conv + ADD pair is fused; producer chains are kept when they shrink the
  arena.
The model's inputs and outputs are live for the whole invocation: the input stays intact across
repeated inferences (the harness loads it once and may invoke N times) and the output stays
readable after `tsn_model_invoke` returns. `keep_input=False` drops the first guarantee (the input
then dies at its last reader and may be overwritten): a what-if for measurements only.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from tinysweep.codegen.reader import Model
from tinysweep.quant_math import same_padding

ALIAS_OPS = ("RESHAPE", "SQUEEZE")
# ops whose tsn kernel is safe with output == input (softmax_s8: a row is read fully before
# it is written, and element c is read before
# it is written in the final loop); add_s8: element i of both inputs is read before output i is
# written, so the output may overwrite either input (the first that dies there)
INPLACE_OPS = ("SOFTMAX", "ADD")
# ops with an in-place kernel variant that needs a scratch buffer (see inplace_scratch_bytes)
INPLACE_CONV_OPS = ("CONV_2D", "DEPTHWISE_CONV_2D")


@dataclass(frozen=True)
class Request:
    key: int          # a stable identifier (the root tensor index for models)
    size: int         # bytes (the largest piece's)
    first: int        # first operator index at which the buffer must hold its data
    last: int         # last operator index (inclusive)
    # a buffer whose size varies over time: (size, first, last) pieces that all start at the
    # buffer's offset (the tensors of an in-place chain); empty: the one piece (size, first, last)
    pieces: tuple[tuple[int, int, int], ...] = ()

    def overlaps_in_time(self, other: "Request") -> bool:
        return self.first <= other.last and other.first <= self.last

    @property
    def segments(self) -> tuple[tuple[int, int, int], ...]:
        return self.pieces or ((self.size, self.first, self.last),)


def _conflicts(a: Request, b: Request):
    """(size in a, size in b) of every pair of non-empty pieces of a and b live at one op."""
    if not a.overlaps_in_time(b):
        return
    for sa, fa, la in a.segments:
        for sb, fb, lb in b.segments:
            if sa and sb and fa <= lb and fb <= la:
                yield sa, sb


@dataclass(frozen=True)
class Plan:
    offsets: dict[int, int]          # key -> byte offset in the arena
    requests: tuple[Request, ...]
    arena_bytes: int                 # peak (highest end), rounded up to the alignment
    alignment: int
    strategy: str = ""               # the ORDERS/FITS pair that produced it

    @property
    def lower_bound(self) -> int:
        """The most bytes simultaneously live at any operator (no plan can do better)."""
        return live_peak(self.requests)


def _align(x: int, alignment: int) -> int:
    return (x + alignment - 1) // alignment * alignment


def live_peak(requests) -> int:
    """The most bytes live at one op; a buffer counts with its largest piece live then."""
    points = {f for r in requests for _, f, _ in r.segments}
    return max((sum(max((s for s, f, la in r.segments if f <= t <= la), default=0)
                    for r in requests) for t in points), default=0)


ORDERS = {
    "size": lambda r: (-r.size, r.first, r.key),
    "lifetime": lambda r: (-(r.last - r.first), -r.size, r.first, r.key),
    "start": lambda r: (r.first, -r.size, r.key),
    "area": lambda r: (-r.size * (r.last - r.first + 1), -r.size, r.first, r.key),
}
FITS = ("first", "best")


def place(requests, order: str = "size", fit: str = "first", alignment: int = 16) -> Plan:
    """One greedy plan: visit `requests` in ORDERS[order]; put each at the lowest aligned offset
    clear of the placed buffers it conflicts with ("first") or in the smallest such gap that
    holds it, the space above all of them counting as an unbounded gap ("best")."""
    requests = _checked(requests)
    placed: list[tuple[int, Request]] = []
    offsets: dict[int, int] = {}
    for r in sorted(requests, key=ORDERS[order]):
        # offset o of r is forbidden in (off - size in r, off + size in p) for every pair of
        # pieces live together; swept by the lower end
        forbidden = sorted(((off - sr, off + sp, sr) for off, p in placed
                            for sr, sp in _conflicts(r, p)), key=lambda x: x[0])
        gaps = []                                         # (start, size) of free gaps
        candidate = 0
        for lo, hi, sr in forbidden:
            if candidate <= lo:
                gaps.append((candidate, lo + sr - candidate))
            candidate = max(candidate, _align(hi, alignment))
        top = candidate
        if fit == "first" or not gaps:
            offset = gaps[0][0] if gaps else top
        elif fit == "best":
            offset = min(gaps, key=lambda g: (g[1], g[0]))[0]
        else:
            raise ValueError(f"unknown fit {fit!r}")
        offsets[r.key] = offset
        placed.append((offset, r))
    peak = max((offsets[r.key] + r.size for r in requests), default=0)
    return Plan(offsets=offsets, requests=requests, arena_bytes=_align(peak, alignment),
                alignment=alignment, strategy=f"{order}/{fit}")


def _checked(requests) -> tuple[Request, ...]:
    requests = tuple(requests)
    if len({r.key for r in requests}) != len(requests):
        raise ValueError("duplicate request keys")
    for r in requests:
        if r.size < 0 or r.first > r.last:
            raise ValueError(f"bad request {r}")
        for size, first, last in r.pieces:
            if not (0 <= size <= r.size and r.first <= first <= last <= r.last):
                raise ValueError(f"bad piece {(size, first, last)} of {r}")
    return requests


def plan_arena(requests, alignment: int = 16) -> Plan:
    """The smallest plan of every ORDERS × FITS strategy (the first listed on ties); it does not
    depend on the order of `requests` (keys must be unique)."""
    requests = _checked(requests)
    best = None
    for order in ORDERS:
        for fit in FITS:
            plan = place(requests, order, fit, alignment)
            if best is None or plan.arena_bytes < best.arena_bytes:
                best = plan
            if best.arena_bytes <= _align(live_peak(requests), alignment):
                return best                               # cannot do better
    return best


def check_plan(plan: Plan) -> None:
    """Raise AssertionError if two buffers live at the same time share a byte."""
    rs = plan.requests
    for i, a in enumerate(rs):
        oa = plan.offsets[a.key]
        assert oa % plan.alignment == 0, f"{a} misaligned at {oa}"
        assert oa + a.size <= plan.arena_bytes, f"{a} beyond the arena"
        for b in rs[i + 1:]:
            ob = plan.offsets[b.key]
            for sa, sb in _conflicts(a, b):
                assert oa + sa <= ob or ob + sb <= oa, f"{a}@{oa} overlaps {b}@{ob}"


@dataclass(frozen=True)
class ChainPlan:
    chain: "Chain"
    window_at: int | None  # arena offset of the producer-row window (None: no producer)
    row_at: int | None     # arena offset of the consumer output row (None: no ADD)


@dataclass(frozen=True)
class ModelPlan:
    plan: Plan
    root: dict[int, int]             # activation tensor index -> the tensor whose buffer it uses
    offsets: dict[int, int]          # activation tensor index -> arena offset
    # operator index -> (scratch offset, scratch bytes) of the ops run by an in-place kernel
    inplace: dict[int, tuple[int, int]] = dataclasses.field(default_factory=dict)
    # consumer op index -> the chain run there by tsn_conv_chain_s8 and its scratch offsets
    chains: dict[int, "ChainPlan"] = dataclasses.field(default_factory=dict)

    @property
    def arena_bytes(self) -> int:
        return self.plan.arena_bytes


def tensor_bytes(model: Model, index: int) -> int:
    t = model.tensor(index)
    size = {"INT8": 1, "UINT8": 1, "INT16": 2, "INT32": 4, "FLOAT32": 4}.get(t.type)
    if size is None:
        raise ValueError(f"tensor {index} ({t.name}): no arena size for type {t.type}")
    return t.elements * size


def inplace_scratch_bytes(model: Model, op, packed: bool = False) -> int | None:
    """Scratch bytes of op's in-place kernel (inplace_kernel), or None when it has none."""
    k = inplace_kernel(model, op, packed)
    return None if k is None else k[1]


def _ring_fits(o, h: int, w: int, c: int, fh: int, oh: int, ow: int, oc: int) -> int | None:
    """Rows of the input ring of tsn_conv2d_inplace_s8 / tsn_depthwise_conv2d_inplace_s8 (c = 1
    per channel plane), or None when an output row would be written over an input row not yet
    copied (the kernels' own check)."""
    if o is None or o.stride_h < 1 or o.dilation_h < 1 or o.padding not in ("SAME", "VALID"):
        return None
    span = (fh - 1) * o.dilation_h + 1
    pad_top = same_padding(h, fh, o.stride_h, o.dilation_h)[1] if o.padding == "SAME" else 0
    for oy in range(oh):
        rows = min(h, max(0, oy * o.stride_h - pad_top + span))
        if (oy + 1) * ow * oc > rows * w * c:
            return None
    return min(span, h)


def inplace_kernel(model: Model, op, packed: bool = False) -> tuple[str, int] | None:
    """(tsn function, scratch bytes) of op's in-place kernel, or None when it has none.
    All need int8 input and output and a constant filter, 4-D (int8, INT4 or INT2: with packed
    weights, `packed` or an INT4/INT2 filter, the _s4/_s2 kernel):
    - CONV_2D 1x1, stride 1, one group: tsn_conv2d_1x1_inplace_s8, scratch out_c bytes (packed:
      one input row, in_w*in_c bytes);
    - other CONV_2D with packed weights: tsn_conv_chain_s8 with a window of min(span, in_h)
      whole input rows, for a chain layer (_layer) whose output rows never overtake the input
      rows copied;
    - other CONV_2D (one group) whose output rows never overtake the input rows read
      (e.g. SAME/VALID, out_w <= in_w, out_c <= in_c): tsn_conv2d_inplace_s8, scratch a ring of
      min(span, in_h) rows of in_w*in_c bytes, span = (kh - 1) * dilation_h + 1;
    - DEPTHWISE_CONV_2D, multiplier 1, under the same row condition per channel plane:
      tsn_depthwise_conv2d_inplace_s8, scratch min(span, in_h) rows of in_w bytes."""
    if op.opcode not in INPLACE_CONV_OPS or len(op.inputs) < 2 or len(op.outputs) != 1:
        return None
    sub_byte = packed or (op.inputs[1] >= 0 and model.tensor(op.inputs[1]).type in ("INT4", "INT2"))
    x, f, y = op.inputs[0], op.inputs[1], op.outputs[0]
    if x < 0 or f < 0 or y < 0:
        return None
    xt, ft, yt = model.tensor(x), model.tensor(f), model.tensor(y)
    if not (xt.type == yt.type == "INT8" and ft.type in ("INT8", "INT4", "INT2") and ft.is_constant
            and len(xt.shape) == len(yt.shape) == len(ft.shape) == 4):
        return None
    (n, h, w, c), (on, oh, ow, oc), (fn, fh, fw, fc) = xt.shape, yt.shape, ft.shape
    o = op.options
    if op.opcode == "CONV_2D":
        if not (fc == c and fn == oc and on == n and o is not None):
            return None
        if fh == fw == 1 and o.stride_h == o.stride_w == 1 and (oh, ow) == (h, w):
            return "tsn_conv2d_1x1_inplace_s8", w * c if sub_byte else oc
        if sub_byte:
            rows = _ring_fits(o, h, w, c, fh, oh, ow, oc) if _layer(model, op) else None
            return None if rows is None else ("tsn_conv_chain_s8", rows * w * c)
        rows = _ring_fits(o, h, w, c, fh, oh, ow, oc)
        return None if rows is None else ("tsn_conv2d_inplace_s8", rows * w * c)
    if not (fn == 1 and fc == oc == c and on == n and oh <= h and ow <= w):
        return None
    rows = _ring_fits(o, h, w, 1, fh, oh, ow, 1)
    return None if rows is None else ("tsn_depthwise_conv2d_inplace_s8", rows * w)


LAYER_OPS = ("CONV_2D", "DEPTHWISE_CONV_2D")


@dataclass(frozen=True)
class Chain:
    """Ops run together by tsn_conv_chain_s8: [producer] -> consumer -> [residual ADD]."""
    producer: int | None  # op index of a conv whose output only the consumer reads
    consumer: int         # op index of a conv
    add: int | None       # op index of the ADD right after the consumer
    window_bytes: int     # producer-output rows the consumer needs at once (0: no producer)
    row_bytes: int        # one consumer output row (0: no ADD)

    @property
    def ops(self) -> tuple[int, ...]:
        return tuple(i for i in (self.producer, self.consumer, self.add) if i is not None)


def _layer(model: Model, op) -> bool:
    """A conv the chain kernel runs row by row: CONV_2D (one group) or DEPTHWISE_CONV_2D, int8
    input/output, constant int8/INT4/INT2 filter, 4-D, batch 1, SAME/VALID, dilation 1."""
    if op.opcode not in LAYER_OPS or len(op.inputs) < 2 or len(op.outputs) != 1:
        return False
    x, f, y = op.inputs[0], op.inputs[1], op.outputs[0]
    if min(x, f, y) < 0 or op.options is None:
        return False
    xt, ft, yt = model.tensor(x), model.tensor(f), model.tensor(y)
    o = op.options
    return (xt.type == yt.type == "INT8" and ft.type in ("INT8", "INT4", "INT2") and ft.is_constant
            and len(xt.shape) == len(ft.shape) == len(yt.shape) == 4
            and xt.shape[0] == yt.shape[0] == 1 and o.padding in ("SAME", "VALID")
            and o.dilation_h == o.dilation_w == 1
            and (op.opcode == "DEPTHWISE_CONV_2D" or ft.shape[3] == xt.shape[3]))


def _only_reader(model: Model, tensor: int, reader) -> bool:
    return (tensor not in model.outputs and reader.inputs.count(tensor) == 1
            and not any(tensor in op.inputs for op in model.operators if op.index != reader.index))


def chain_candidates(model: Model) -> list[Chain]:
    """Structurally fusable chains, in op order: for every conv C, (C, the ADD after it) when
    C's output only feeds that ADD and the ADD's other input is another activation of the same
    shape; and (the conv P right before C, C[, ADD]) when P's output only feeds C. Whether the
    ADD may overwrite its other input is the planner's check."""
    ops = model.operators
    out = []
    for k, c in enumerate(ops):
        if not _layer(model, c):
            continue
        y = c.outputs[0]
        add = ops[k + 1] if k + 1 < len(ops) else None
        row = 0
        if (add is not None and add.opcode == "ADD" and len(add.inputs) == 2
                and len(add.outputs) == 1 and _only_reader(model, y, add)):
            other = add.inputs[1 - add.inputs.index(y)]
            ot, yt = model.tensor(other) if other >= 0 else None, model.tensor(y)
            if (ot is not None and not ot.is_constant and ot.type == "INT8"
                    and ot.shape == yt.shape == model.tensor(add.outputs[0]).shape
                    and other != c.inputs[0]):
                row = yt.shape[2] * yt.shape[3]
        if row:
            out.append(Chain(None, c.index, add.index, 0, row))
        p = ops[k - 1] if k > 0 else None
        if p is not None and _layer(model, p) and p.outputs[0] == c.inputs[0] \
                and _only_reader(model, p.outputs[0], c):
            _, h, w, ch = model.tensor(c.inputs[0]).shape
            span = model.tensor(c.inputs[1]).shape[1]
            window = min(span, h) * w * ch
            out.append(Chain(p.index, c.index, add.index if row else None, window, row))
    return out


def _rows_overwritable(model: Model, chain: Chain) -> bool:
    """With the ADD's output written over the chain's own input (a residual block's x): whether
    output row oy is always written after the last read of input rows <= oy (the kernel's check:
    tsn_conv_chain_s8 writes row oy once the rows it needs are computed)."""
    ops = model.operators
    first = ops[chain.producer if chain.producer is not None else chain.consumer]
    c = ops[chain.consumer]
    _, mid_h, _, _ = model.tensor(c.inputs[0]).shape
    out_h = model.tensor(c.outputs[0]).shape[1]
    span = model.tensor(c.inputs[1]).shape[1]

    def pad_top(op):
        x, f = model.tensor(op.inputs[0]), model.tensor(op.inputs[1])
        o = op.options
        return same_padding(x.shape[1], f.shape[1], o.stride_h, 1)[1] if o.padding == "SAME" else 0

    for oy in range(out_h):
        if chain.producer is not None:
            nxt = min(mid_h, oy * c.options.stride_h - pad_top(c) + span)  # rows computed so far
            end = mid_h
        else:
            nxt, end = oy + 1, out_h
        if nxt < end and nxt * first.options.stride_h - pad_top(first) <= oy:
            return False
    return True


def plan_model(model: Model, alignment: int = 16, inplace_convs: bool = True,
               keep_input: bool = True, fuse: bool = True, packed: bool = False) -> ModelPlan:
    """Arena plan for the model's activation (non-constant) tensors. inplace_convs: let the
    in-place convolutions share their input's buffer. keep_input=False: a
    what-if (see the module docstring); generated code always keeps the input.
    fuse: run chains (chain_candidates) with tsn_conv_chain_s8: every conv + residual ADD, and
    each producer -> consumer chain that makes the arena smaller (greedy, in op order).
    packed: the generator will pack the weights (in-place convolutions then use the packed
    kernels: the 1x1 and depthwise _s4/_s2 ones, the chain kernel for others, see
    inplace_kernel)."""
    args = (model, alignment, inplace_convs, keep_input, packed)
    if not fuse:
        return _plan_model(*args, ())
    candidates = chain_candidates(model)
    chosen = [c for c in candidates if c.producer is None]
    best = _plan_model(*args, chosen)
    if best is None:
        chosen, best = [], _plan_model(*args, ())
    for cand in (c for c in candidates if c.producer is not None):
        trial = [c for c in chosen if not set(c.ops) & set(cand.ops)] + [cand]
        plan = _plan_model(*args, trial)
        if plan is not None and plan.arena_bytes < best.arena_bytes:
            chosen, best = trial, plan
    return best


def _plan_model(model: Model, alignment: int, inplace_convs: bool, keep_input: bool,
                packed: bool, chains) -> ModelPlan | None:
    """The plan with these chains, or None when one of them is not legal here (its ADD's other
    input does not die at the ADD)."""
    n_ops = len(model.operators)
    root: dict[int, int] = {}

    def find(i: int) -> int:
        while root.get(i, i) != i:
            i = root[i]
        return i

    activations: set[int] = set()
    for op in model.operators:
        for i in (*op.inputs, *op.outputs):
            if i >= 0 and not model.tensor(i).is_constant:
                activations.add(i)
    activations.update(model.inputs)
    activations.update(model.outputs)
    for i in activations:
        root[i] = i
    last_read: dict[int, int] = {}
    for op in model.operators:
        for i in op.inputs:
            last_read[i] = op.index
    pinned = set(model.outputs)                           # live for the whole invocation
    if keep_input:
        pinned |= set(model.inputs)
    members: dict[int, set[int]] = {i: {i} for i in activations}
    by_consumer = {c.consumer: c for c in chains}
    in_chain = {i for c in chains for i in c.ops}
    ops = model.operators
    inplace: dict[int, int] = {}                          # op index -> scratch bytes
    for op in ops:
        chain = by_consumer.get(op.index)
        if chain is not None:
            if chain.producer is not None:                # its output is never materialized
                activations.discard(ops[chain.producer].outputs[0])
            if chain.add is not None:                     # nor is the consumer's
                add, y = ops[chain.add], op.outputs[0]
                other = add.inputs[1 - add.inputs.index(y)]
                group = members[find(other)]
                first = ops[chain.producer if chain.producer is not None else op.index]
                shared = find(other) == find(first.inputs[0])
                if (group & pinned or max(last_read.get(i, -1) for i in group) != add.index
                        or (shared and not (other == first.inputs[0]
                                            and _rows_overwritable(model, chain)))
                        or find(add.outputs[0]) != add.outputs[0]):
                    return None
                activations.discard(y)
                r = find(other)
                root[add.outputs[0]] = r
                members[r] |= members.pop(add.outputs[0], {add.outputs[0]})
            continue
        if op.index in in_chain:
            continue
        if not (op.inputs and op.outputs and op.inputs[0] in activations
                and op.outputs[0] in activations):
            continue
        y = op.outputs[0]

        def dies_here(x):
            group = members[find(x)]
            return (len(op.outputs) == 1 and op.inputs.count(x) == 1 and not (group & pinned)
                    and find(y) == y and max(last_read.get(i, -1) for i in group) == op.index)

        def same_size(x):
            return {tensor_bytes(model, i) for i in members[find(x)]} == {tensor_bytes(model, y)}

        x = op.inputs[0]
        if op.opcode == "ADD":        # over whichever input dies here (the first one)
            x = next((i for i in op.inputs[:2] if i in activations and dies_here(i)
                      and same_size(i)), x)
        scratch = inplace_scratch_bytes(model, op, packed) if inplace_convs else None
        if op.opcode in ALIAS_OPS:
            pass
        elif op.opcode in INPLACE_OPS and dies_here(x) and same_size(x):
            pass
        elif scratch is not None and dies_here(x):
            inplace[op.index] = scratch
        else:
            continue
        r = find(x)
        root[y] = r
        members[r] |= members.pop(y, {y})
    root = {i: find(i) for i in activations}

    first: dict[int, int] = {}                            # per tensor
    last: dict[int, int] = {}

    def touch(i: int, t: int):
        first[i] = min(first.get(i, t), t)
        last[i] = max(last.get(i, t), t)

    for op in model.operators:
        for i in (*op.inputs, *op.outputs):
            if i in activations:
                touch(i, op.index)
    for c in chains:                                      # the chain runs at its consumer
        if c.producer is not None:
            for i in ops[c.producer].inputs:
                if i in activations:
                    touch(i, c.consumer)
    for i in model.inputs:
        touch(i, 0)
        if keep_input:
            touch(i, max(n_ops - 1, 0))
    for i in model.outputs:
        touch(i, 0)
        touch(i, max(n_ops - 1, 0))

    # one request per buffer; a buffer shared by tensors of different sizes (an in-place chain)
    # is as large as its largest tensor while that tensor lives
    pieces: dict[int, list[tuple[int, int, int]]] = {}
    for i in sorted(activations):
        if i in first:
            pieces.setdefault(root[i], []).append((tensor_bytes(model, i), first[i], last[i]))
    requests = []
    for r in sorted(pieces):
        ps = tuple(sorted(set(pieces[r]), key=lambda x: (x[1], x[2], x[0])))
        size, lo, hi = max(p[0] for p in ps), min(p[1] for p in ps), max(p[2] for p in ps)
        uniform = all(p[0] == size for p in ps)
        requests.append(Request(r, size, lo, hi, () if uniform else ps))
    # scratch buffers (keys below every tensor index), live at their op only: in-place kernels'
    # at their op; a chain's window and row at its consumer
    scratch = {_scratch_key(k): (n, k) for k, n in inplace.items()}
    for c in chains:
        for part, n in enumerate((c.window_bytes, c.row_bytes)):
            if n:
                scratch[_scratch_key(c.consumer, part + 1)] = (n, c.consumer)
    requests += [Request(key, n, k, k) for key, (n, k) in sorted(scratch.items())]
    plan = plan_arena(requests, alignment)
    offsets = {i: plan.offsets[root[i]] for i in sorted(activations)}

    def at(key):
        return plan.offsets.get(key)

    return ModelPlan(plan=plan, root=dict(sorted(root.items())), offsets=offsets,
                     inplace={k: (at(_scratch_key(k)), n) for k, n in sorted(inplace.items())},
                     chains={c.consumer: ChainPlan(c, at(_scratch_key(c.consumer, 1)),
                                                   at(_scratch_key(c.consumer, 2)))
                             for c in chains})


def _scratch_key(op_index: int, part: int = 0) -> int:
    return -1 - 3 * op_index - part
