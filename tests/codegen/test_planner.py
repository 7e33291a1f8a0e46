"""Arena planner: no two live buffers share a byte; peaks on handmade lifetimes; the model plan."""
import random

import pytest

from tinysweep.codegen.planner import (ALIAS_OPS, FITS, INPLACE_OPS, ORDERS, Request, check_plan,
                                        live_peak, place, plan_arena, plan_model, tensor_bytes)
from tinysweep.codegen.reader import Model, Operator, Tensor, read_tflite


def test_chain_reuses_memory():
    # a 4-op chain: each tensor is read by the next op only
    reqs = [Request(0, 100, 0, 1), Request(1, 200, 1, 2), Request(2, 50, 2, 3), Request(3, 16, 3, 3)]
    plan = plan_arena(reqs, alignment=16)
    check_plan(plan)
    # largest first: B@0; A (live with B) after B at 208; C (live with B) at 208; D (live with C) at 0
    assert plan.offsets == {1: 0, 0: 208, 2: 208, 3: 0}
    assert plan.arena_bytes == 320            # 208 + 100 -> 308, rounded up to 16
    assert live_peak(reqs) == 300


def test_first_fit_fills_a_gap():
    # X is dead when Y and Z live: both go where X was, side by side
    reqs = [Request(10, 1000, 0, 0), Request(11, 600, 1, 1), Request(12, 400, 1, 1)]
    plan = plan_arena(reqs, alignment=16)
    check_plan(plan)
    assert plan.offsets == {10: 0, 11: 0, 12: 608}
    assert plan.arena_bytes == 1008


def test_gap_between_buffers_is_used():
    # A@0 (0..2), B above it (0..2); C (1..1) is also live with both: goes on top;
    # D (3..3) overlaps nothing: goes to 0
    reqs = [Request(0, 64, 0, 2), Request(1, 64, 0, 2), Request(2, 32, 1, 1), Request(3, 128, 3, 3)]
    plan = plan_arena(reqs)
    check_plan(plan)
    assert plan.offsets[3] == 0
    assert plan.arena_bytes == max(160, 128)
    # a hole: E lives only with the buffer at 64, so it fits below it at 0
    reqs = [Request(0, 64, 0, 0), Request(1, 64, 0, 1), Request(2, 48, 1, 1)]
    plan = plan_arena(reqs)
    check_plan(plan)
    assert plan.offsets == {0: 0, 1: 64, 2: 0}
    assert plan.arena_bytes == 128


def test_all_live_at_once_stack_up_aligned():
    reqs = [Request(k, size, 0, 5) for k, size in enumerate([1, 17, 33, 100])]
    plan = plan_arena(reqs, alignment=16)
    check_plan(plan)
    assert plan.offsets == {3: 0, 2: 112, 1: 160, 0: 192}   # largest first, each aligned
    assert plan.arena_bytes == 208
    assert all(off % 16 == 0 for off in plan.offsets.values())


def test_random_lifetimes_never_overlap():
    rng = random.Random(0)
    for trial in range(50):
        reqs = []
        for k in range(rng.randint(1, 40)):
            first = rng.randint(0, 30)
            reqs.append(Request(k, rng.randint(1, 5000), first, first + rng.randint(0, 8)))
        plan = plan_arena(reqs, alignment=rng.choice([1, 4, 16]))
        check_plan(plan)
        assert plan.arena_bytes >= live_peak(reqs)
        again = plan_arena(list(reversed(reqs)), alignment=plan.alignment)
        assert again.offsets == plan.offsets  # independent of the order of the requests


def test_check_plan_catches_an_overlap():
    plan = plan_arena([Request(0, 64, 0, 1), Request(1, 64, 1, 2)])
    bad = type(plan)(offsets={0: 0, 1: 32}, requests=plan.requests, arena_bytes=128,
                     alignment=16)
    with pytest.raises(AssertionError, match="overlaps"):
        check_plan(bad)


def test_bad_requests_are_refused():
    with pytest.raises(ValueError):
        plan_arena([Request(0, 1, 3, 2)])
    with pytest.raises(ValueError):
        plan_arena([Request(0, 1, 0, 0), Request(0, 2, 0, 0)])


def test_model_plan(small_kws_tflite):
    model = read_tflite(small_kws_tflite)
    mp = plan_model(model)
    check_plan(mp.plan)
    ops = model.operators
    reshape = next(op for op in ops if op.opcode == "RESHAPE")
    # RESHAPE aliases: output at the input's offset, one buffer for both
    assert mp.offsets[reshape.outputs[0]] == mp.offsets[reshape.inputs[0]]
    assert mp.root[reshape.outputs[0]] == mp.root[reshape.inputs[0]]
    # the model input and output are live for the whole invocation: nothing else touches them
    (inp,), (out,) = model.inputs, model.outputs
    reqs = {r.key: r for r in mp.plan.requests}
    for t in (inp, out):
        r = reqs[mp.root[t]]
        assert (r.first, r.last) == (0, len(ops) - 1)
    # every activation is 16-byte aligned and fits; constants are not in the arena
    for t, off in mp.offsets.items():
        assert off % 16 == 0 and off + model.tensor(t).elements <= mp.arena_bytes
        assert not model.tensor(t).is_constant
    # the 25x5x8 activations ping-pong between two 1000-byte slots, next to the input
    assert mp.arena_bytes == 1008 + 1008 + 496 + 16
    assert mp.plan.lower_bound <= mp.arena_bytes
    # the softmax overwrites the logits in place (they die there)
    softmax = next(op for op in ops if op.opcode == "SOFTMAX")
    assert mp.offsets[softmax.outputs[0]] == mp.offsets[softmax.inputs[0]]
    simulate(model, mp)


def test_every_strategy_is_safe_and_the_smallest_is_kept():
    rng = random.Random(1)
    for trial in range(40):
        reqs = []
        for k in range(rng.randint(1, 30)):
            first = rng.randint(0, 20)
            reqs.append(Request(k, rng.randint(0, 3000), first, first + rng.randint(0, 6)))
        alignment = rng.choice([1, 16])
        sizes = []
        for order in ORDERS:
            for fit in FITS:
                plan = place(reqs, order, fit, alignment)
                check_plan(plan)
                sizes.append(plan.arena_bytes)
        best = plan_arena(reqs, alignment)
        assert best.arena_bytes == min(sizes) and best.arena_bytes >= live_peak(reqs)


def test_best_fit_takes_the_tightest_gap():
    # size order: A (96, op 0) at 0; B, C, D (32) above it at 96, 128, 160; C dies at op 0.
    # E (32, ops 1..2) conflicts with B and D only: gaps [0, 96) and [128, 160)
    reqs = [Request(0, 96, 0, 0), Request(1, 32, 0, 2), Request(2, 32, 0, 0), Request(3, 32, 0, 2),
            Request(4, 32, 1, 2)]
    first, best = place(reqs, "size", "first"), place(reqs, "size", "best")
    for plan in (first, best):
        check_plan(plan)
        assert plan.offsets[1] == 96 and plan.offsets[3] == 160 and plan.arena_bytes == 192
    assert first.offsets[4] == 0 and best.offsets[4] == 128
    assert best.strategy == "size/best"


def random_model(rng: random.Random, n_ops: int) -> Model:
    """A random single-subgraph int8 DAG: generic ops reading 1-2 earlier activations (and a
    constant), RESHAPEs, SOFTMAXes (in-place candidates), random sizes."""
    tensors = [Tensor(0, "in", "INT8", (rng.randint(1, 300),), None, None),
               Tensor(1, "w", "INT8", (4,), None, b"\0" * 4)]
    ops = []
    produced = [0]
    for k in range(n_ops):
        kind = rng.choice(["CONV_2D", "CONV_2D", "ADD", "RESHAPE", "SOFTMAX"])
        x = rng.choice(produced[-4:] if rng.random() < 0.8 else produced)
        xs = tensors[x].elements
        if kind in ("RESHAPE", "SOFTMAX"):
            shape, inputs = (xs,), (x,)
        elif kind == "ADD":
            shape, inputs = (xs,), (x, rng.choice(produced))
        else:
            shape, inputs = (rng.randint(1, 300),), (x, 1)
        y = len(tensors)
        tensors.append(Tensor(y, f"t{y}", "INT8", shape, None, None))
        ops.append(Operator(k, kind, 1, inputs, (y,), None))
        produced.append(y)
    return Model(sha256="0" * 64, schema_version=3, description="", tensors=tuple(tensors),
                 operators=tuple(ops), inputs=(0,), outputs=(produced[-1],), subgraph_count=1)


def simulate(model: Model, mp) -> None:
    """Run the plan: every op checks that each activation it reads still holds that tensor's
    value in every byte, then writes its outputs. RESHAPE's output is its input's value; an
    in-place op reads its input before writing (as the kernels do). Finally the model input
    and output must be intact."""
    value = {}
    arena = [None] * mp.arena_bytes

    def holds(i):
        off, n = mp.offsets[i], tensor_bytes(model, i)
        return all(b == value[i] for b in arena[off:off + n])

    for i in model.inputs:
        value[i] = ("input", i)
        arena[mp.offsets[i]:mp.offsets[i] + tensor_bytes(model, i)] = \
            [value[i]] * tensor_bytes(model, i)
    for op in model.operators:
        for i in op.inputs:
            if i >= 0 and not model.tensor(i).is_constant:
                assert holds(i), f"node {op.index} reads clobbered tensor {i}"
        for o in op.outputs:
            value[o] = value[op.inputs[0]] if op.opcode in ALIAS_OPS else ("op", op.index, o)
            off, n = mp.offsets[o], tensor_bytes(model, o)
            arena[off:off + n] = [value[o]] * n
    for i in (*model.inputs, *model.outputs):
        assert holds(i), f"model input/output {i} clobbered"


def test_random_models_execute_correctly_on_their_plan():
    rng = random.Random(2)
    inplace = 0
    for trial in range(150):
        model = random_model(rng, rng.randint(1, 25))
        mp = plan_model(model)
        check_plan(mp.plan)
        simulate(model, mp)
        assert mp.plan.lower_bound <= mp.arena_bytes
        inplace += sum(op.opcode in INPLACE_OPS and mp.root[op.outputs[0]] == mp.root[op.inputs[0]]
                       for op in model.operators)
    assert inplace > 10                     # the in-place path was exercised


def test_simulation_catches_a_bad_plan():
    model = random_model(random.Random(3), 6)
    mp = plan_model(model)
    bad = type(mp)(plan=mp.plan, root=mp.root, offsets={i: 0 for i in mp.offsets})
    with pytest.raises(AssertionError, match="clobbered"):
        simulate(model, bad)


def test_inplace_only_when_the_input_dies():
    t = lambda i, n: Tensor(i, f"t{i}", "INT8", (n,), None, None)  # noqa: E731
    # t1 = conv(t0); t2 = softmax(t1); t3 = add(t1, t2): t1 is read after the softmax
    model = Model("0" * 64, 3, "", (t(0, 10), t(1, 12), t(2, 12), t(3, 12)),
                  (Operator(0, "CONV_2D", 1, (0,), (1,), None),
                   Operator(1, "SOFTMAX", 1, (1,), (2,), None),
                   Operator(2, "ADD", 1, (1, 2), (3,), None)), (0,), (3,), 1)
    mp = plan_model(model)
    assert mp.root[2] == 2 and mp.offsets[2] != mp.offsets[1]
    simulate(model, mp)
    # without the ADD the softmax may overwrite t1
    model = Model("0" * 64, 3, "", model.tensors[:3], model.operators[:2], (0,), (2,), 1)
    mp = plan_model(model)
    assert mp.root[2] == 1 and mp.offsets[2] == mp.offsets[1]
    simulate(model, mp)
    # never over the model input
    model = Model("0" * 64, 3, "", (t(0, 12), t(1, 12)),
                  (Operator(0, "SOFTMAX", 1, (0,), (1,), None),), (0,), (1,), 1)
    mp = plan_model(model)
    assert mp.offsets[1] != mp.offsets[0]
