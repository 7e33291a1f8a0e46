"""Static activation-arena planning.

Every activation buffer is live over a closed interval of operator indices [first, last]. Buffers
are placed greedily, largest first (TFLM's GreedyMemoryPlanner order), each at the lowest aligned
offset that does not overlap any already placed buffer whose interval intersects its own
(first fit). The arena size is the highest end offset, rounded up to the alignment.

`plan_model` derives the intervals from a model: a tensor lives from the operator producing it to
the last operator reading it; RESHAPE and SQUEEZE outputs alias their input (same bytes, no copy), so a
reshape chain is one buffer whose interval is the union. The model's inputs and outputs are live
for the whole invocation: the input stays intact across repeated inferences and the output stays
readable after `tsn_model_invoke` returns.
"""
from __future__ import annotations

from dataclasses import dataclass

from tinysweep.codegen.reader import Model

ALIAS_OPS = ("RESHAPE", "SQUEEZE")


@dataclass(frozen=True)
class Request:
    key: int          # a stable identifier (the root tensor index for models)
    size: int         # bytes
    first: int        # first operator index at which the buffer must hold its data
    last: int         # last operator index (inclusive)

    def overlaps_in_time(self, other: "Request") -> bool:
        return self.first <= other.last and other.first <= self.last


@dataclass(frozen=True)
class Plan:
    offsets: dict[int, int]          # key -> byte offset in the arena
    requests: tuple[Request, ...]
    arena_bytes: int                 # peak (highest end), rounded up to the alignment
    alignment: int

    @property
    def lower_bound(self) -> int:
        """The most bytes simultaneously live at any operator (no plan can do better)."""
        return live_peak(self.requests)


def _align(x: int, alignment: int) -> int:
    return (x + alignment - 1) // alignment * alignment


def live_peak(requests) -> int:
    points = {r.first for r in requests}
    return max((sum(r.size for r in requests if r.first <= t <= r.last) for t in points), default=0)


def plan_arena(requests, alignment: int = 16) -> Plan:
    """Greedy-by-size, first-fit placement of `requests` (keys must be unique)."""
    requests = tuple(requests)
    if len({r.key for r in requests}) != len(requests):
        raise ValueError("duplicate request keys")
    for r in requests:
        if r.size < 0 or r.first > r.last:
            raise ValueError(f"bad request {r}")
    order = sorted(requests, key=lambda r: (-r.size, r.first, r.key))
    placed: list[tuple[int, Request]] = []
    offsets: dict[int, int] = {}
    for r in order:
        candidate = 0
        conflicts = sorted(((off, p) for off, p in placed if p.overlaps_in_time(r) and p.size > 0),
                           key=lambda x: x[0])
        for off, p in conflicts:
            if candidate + r.size <= off:
                break                                   # fits in the gap before p
            candidate = max(candidate, _align(off + p.size, alignment))
        offsets[r.key] = candidate
        placed.append((candidate, r))
    peak = max((offsets[r.key] + r.size for r in requests), default=0)
    return Plan(offsets=offsets, requests=requests, arena_bytes=_align(peak, alignment),
                alignment=alignment)


def check_plan(plan: Plan) -> None:
    """Raise AssertionError if two buffers live at the same time share a byte."""
    rs = plan.requests
    for i, a in enumerate(rs):
        oa = plan.offsets[a.key]
        assert oa % plan.alignment == 0, f"{a} misaligned at {oa}"
        assert oa + a.size <= plan.arena_bytes, f"{a} beyond the arena"
        for b in rs[i + 1:]:
            ob = plan.offsets[b.key]
            if a.overlaps_in_time(b) and a.size and b.size:
                assert oa + a.size <= ob or ob + b.size <= oa, f"{a}@{oa} overlaps {b}@{ob}"


@dataclass(frozen=True)
class ModelPlan:
    plan: Plan
    root: dict[int, int]             # activation tensor index -> the tensor whose buffer it uses
    offsets: dict[int, int]          # activation tensor index -> arena offset

    @property
    def arena_bytes(self) -> int:
        return self.plan.arena_bytes


def tensor_bytes(model: Model, index: int) -> int:
    t = model.tensor(index)
    size = {"INT8": 1, "UINT8": 1, "INT16": 2, "INT32": 4, "FLOAT32": 4}.get(t.type)
    if size is None:
        raise ValueError(f"tensor {index} ({t.name}): no arena size for type {t.type}")
    return t.elements * size


def plan_model(model: Model, alignment: int = 16) -> ModelPlan:
    """Arena plan for the model's activation (non-constant) tensors."""
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
    for op in model.operators:
        if op.opcode in ALIAS_OPS and op.inputs and op.inputs[0] in activations:
            root[op.outputs[0]] = find(op.inputs[0])
    root = {i: find(i) for i in activations}

    first: dict[int, int] = {}
    last: dict[int, int] = {}

    def touch(i: int, t: int):
        r = root[i]
        first[r] = min(first.get(r, t), t)
        last[r] = max(last.get(r, t), t)

    for op in model.operators:
        for i in (*op.inputs, *op.outputs):
            if i in activations:
                touch(i, op.index)
    for i in (*model.inputs, *model.outputs):
        touch(i, 0)
        touch(i, max(n_ops - 1, 0))

    sizes: dict[int, int] = {}
    for i in activations:
        sizes[root[i]] = max(sizes.get(root[i], 0), tensor_bytes(model, i))
    requests = [Request(r, sizes[r], first[r], last[r]) for r in sorted(sizes)]
    plan = plan_arena(requests, alignment)
    offsets = {i: plan.offsets[root[i]] for i in sorted(activations)}
    return ModelPlan(plan=plan, root=dict(sorted(root.items())), offsets=offsets)
