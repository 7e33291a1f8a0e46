"""Arena planner: no two live buffers share a byte; peaks on handmade lifetimes; the model plan."""
import random

import pytest

from tinysweep.codegen.planner import Request, check_plan, live_peak, plan_arena, plan_model
from tinysweep.codegen.reader import read_tflite


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
