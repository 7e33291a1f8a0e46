"""Arena planner: no two live buffers share a byte; peaks on handmade lifetimes; the model plan."""
import random

import pytest

from tinysweep.codegen.planner import (ALIAS_OPS, FITS, INPLACE_OPS, ORDERS, Request, check_plan,
                                        inplace_kernel, inplace_scratch_bytes, live_peak, place,
                                        plan_arena, plan_model, tensor_bytes)
from tinysweep.codegen.reader import (Conv2DOptions, DepthwiseConv2DOptions, Model, Operator,
                                      Tensor, read_tflite)


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


def test_buffers_whose_size_varies_over_time():
    # A is 64 bytes over ops 0..1 and 256 over ops 2..3 (an in-place chain): B (ops 0..1) fits
    # beside A's small part, C (ops 2..3) must go above A's large part
    a = Request(0, 256, 0, 3, ((64, 0, 1), (256, 2, 3)))
    reqs = [a, Request(1, 192, 0, 1), Request(2, 32, 2, 3)]
    plan = plan_arena(reqs, alignment=16)
    check_plan(plan)
    assert live_peak(reqs) == 288 and plan.arena_bytes == 288
    assert plan.offsets == {0: 0, 1: 64, 2: 256}
    # check_plan sees piece overlaps only where the pieces live together
    bad = type(plan)(offsets={0: 0, 1: 32, 2: 256}, requests=plan.requests, arena_bytes=288,
                     alignment=16)
    with pytest.raises(AssertionError, match="overlaps"):
        check_plan(bad)
    with pytest.raises(ValueError, match="bad piece"):
        plan_arena([Request(0, 64, 0, 3, ((128, 0, 1),))])


def test_random_varying_sizes_never_overlap():
    rng = random.Random(4)
    for trial in range(60):
        reqs = []
        for k in range(rng.randint(1, 25)):
            first = rng.randint(0, 20)
            cuts = sorted(rng.sample(range(first, first + 9), rng.randint(1, 3)))
            pieces, start = [], first
            for end in cuts:
                pieces.append((rng.randint(0, 3000), start, end))
                start = end + rng.choice([0, 1]) if end + 1 <= cuts[-1] else end
            size = max(p[0] for p in pieces)
            reqs.append(Request(k, size, first, max(p[2] for p in pieces), tuple(pieces)))
        for order in ORDERS:
            for fit in FITS:
                plan = place(reqs, order, fit, rng.choice([1, 16]))
                check_plan(plan)
                assert plan.arena_bytes >= live_peak(reqs)
        # as fixed-size buffers the same requests need at least as much
        fixed = [Request(r.key, r.size, r.first, r.last) for r in reqs]
        assert live_peak(fixed) >= live_peak(reqs)


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
    # the depthwise and pointwise convolutions run in place: the 25x5x8 activations share one
    # 1000-byte buffer, next to the input, the output and the depthwise scratch (3 rows of 5)
    dw_pw = [op.index for op in ops if op.opcode == "DEPTHWISE_CONV_2D"
             or (op.opcode == "CONV_2D" and model.tensor(op.inputs[1]).shape[1:3] == (1, 1))]
    assert len(dw_pw) == 4 and sorted(mp.inplace) == dw_pw
    assert mp.arena_bytes == 1008 + 496 + 16 + 16
    assert mp.plan.lower_bound <= mp.arena_bytes
    # without in-place convolutions they ping-pong between two 1000-byte slots
    off = plan_model(model, inplace_convs=False)
    assert off.arena_bytes == 1008 + 1008 + 496 + 16
    simulate(model, off)
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


def simulate(model: Model, mp, keep_input: bool = True) -> None:
    """Run the plan: every op checks that each activation it reads still holds that tensor's
    value in every byte, then writes its outputs. RESHAPE's output is its input's value; an
    in-place op reads its input before writing (as the kernels do); an in-place convolution
    (mp.inplace) must have its output at its input's offset, fills its scratch with junk, then
    writes its output. Finally the model output (and, with keep_input, the input) must be
    intact."""
    value = {}
    arena = [None] * mp.arena_bytes

    def holds(i):
        off, n = mp.offsets[i], tensor_bytes(model, i)
        return all(b == value[i] for b in arena[off:off + n])

    for i in model.inputs:
        value[i] = ("input", i)
        arena[mp.offsets[i]:mp.offsets[i] + tensor_bytes(model, i)] = \
            [value[i]] * tensor_bytes(model, i)
    chain_of = {i: cp for cp in mp.chains.values() for i in cp.chain.ops}
    for op in model.operators:
        cp = chain_of.get(op.index)
        if cp is not None:                # the whole chain runs at its consumer
            if op.index == cp.chain.consumer:
                run_chain(model, mp, cp, holds, value, arena)
            continue
        for i in op.inputs:
            if i >= 0 and not model.tensor(i).is_constant:
                assert holds(i), f"node {op.index} reads clobbered tensor {i}"
        if op.index in mp.inplace:
            x, y = op.inputs[0], op.outputs[0]
            assert mp.offsets[x] == mp.offsets[y], f"in-place node {op.index} moves its data"
            assert inplace_scratch_bytes(model, op) == mp.inplace[op.index][1]
            off, n = mp.inplace[op.index]
            assert off + n <= mp.arena_bytes
            arena[off:off + n] = [("scratch", op.index)] * n
        for o in op.outputs:
            value[o] = value[op.inputs[0]] if op.opcode in ALIAS_OPS else ("op", op.index, o)
            off, n = mp.offsets[o], tensor_bytes(model, o)
            arena[off:off + n] = [value[o]] * n
    for i in (*(model.inputs if keep_input else ()), *model.outputs):
        assert holds(i), f"model input/output {i} clobbered"


def run_chain(model, mp, cp, holds, value, arena) -> None:
    """A chain reads its input (and the ADD's other input) and writes its output; its window and
    row scratch get junk; the tensors inside it have no buffer. Its output may be written over
    its own input only as the ADD's output over a residual (the kernel checks the row order)."""
    c, ops = cp.chain, model.operators
    first, consumer = ops[c.producer if c.producer is not None else c.consumer], ops[c.consumer]
    reads = [first.inputs[0]]
    out = consumer.outputs[0]
    if c.add is not None:
        add = ops[c.add]
        reads.append(add.inputs[1 - add.inputs.index(out)])
        assert out not in mp.offsets, "the consumer output of a chain with an ADD has a buffer"
        out = add.outputs[0]
        assert mp.offsets[out] == mp.offsets[reads[1]], "the ADD output is not over its input"
    if c.producer is not None:
        assert ops[c.producer].outputs[0] not in mp.offsets, "a producer output has a buffer"
    for i in reads:
        assert holds(i), f"chain at node {c.consumer} reads clobbered tensor {i}"
    for at, n, part in ((cp.window_at, c.window_bytes, "window"), (cp.row_at, c.row_bytes, "row")):
        if n:
            assert at + n <= mp.arena_bytes
            arena[at:at + n] = [(part, c.consumer)] * n
    value[out] = ("op", c.consumer, out)
    off, n = mp.offsets[out], tensor_bytes(model, out)
    arena[off:off + n] = [value[out]] * n


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


# ---- in-place convolutions ---------------------------------------------------------------

def _t(i, shape, ttype="INT8"):
    return Tensor(i, f"t{i}", ttype, tuple(shape), None, None)


def _w(i, shape, ttype="INT8"):
    n = 1
    for d in shape:
        n *= d
    return Tensor(i, f"w{i}", ttype, tuple(shape), None, b"\0" * n)


def _conv_opts(stride=1):
    return Conv2DOptions("SAME", stride, stride, 1, 1, "NONE")


def _dw_opts(stride=1, mult=1):
    return DepthwiseConv2DOptions("SAME", stride, stride, 1, 1, mult, "NONE")


def random_conv_model(rng: random.Random, n_ops: int) -> Model:
    """A random int8 DAG of 4-D tensors: 1x1 convolutions (stride 1: in-place candidates,
    channels shrinking or growing; stride 2: not), 3x3 convolutions, depthwise convolutions
    (stride 1 or 2, multiplier 1: candidates; multiplier 2: not), ADDs, RESHAPEs, SOFTMAXes."""
    tensors = [_t(0, (1, rng.randint(1, 9), rng.randint(1, 9), rng.randint(1, 12)))]
    ops, produced = [], [0]

    def new(shape):
        tensors.append(_t(len(tensors), shape))
        return len(tensors) - 1

    def weight(shape):
        tensors.append(_w(len(tensors), shape))
        return len(tensors) - 1

    for k in range(n_ops):
        kind = rng.choice(["PW", "PW", "PW_S2", "CONV3", "DW", "DW", "DW_M2", "ADD", "RESHAPE",
                           "SOFTMAX"])
        x = rng.choice(produced[-3:] if rng.random() < 0.8 else produced)
        n, h, w, c = tensors[x].shape
        oc = rng.randint(1, 24)
        opts = None
        if kind in ("PW", "PW_S2", "CONV3"):
            s = 2 if kind == "PW_S2" else 1
            kk = 3 if kind == "CONV3" else 1
            inputs = (x, weight((oc, kk, kk, c)))
            shape, opts, opcode = (n, -(-h // s), -(-w // s), oc), _conv_opts(s), "CONV_2D"
        elif kind in ("DW", "DW_M2"):
            s, m = rng.choice([1, 2]), (2 if kind == "DW_M2" else 1)
            inputs = (x, weight((1, 3, 3, c * m)))
            shape, opts, opcode = (n, -(-h // s), -(-w // s), c * m), _dw_opts(s, m), \
                "DEPTHWISE_CONV_2D"
        elif kind == "ADD":
            inputs, shape, opcode = (x, rng.choice(produced)), (n, h, w, c), "ADD"
        elif kind == "RESHAPE":
            inputs, shape, opcode = (x,), (1, 1, 1, n * h * w * c), "RESHAPE"
        else:
            inputs, shape, opcode = (x,), (n, h, w, c), "SOFTMAX"
        y = new(shape)
        ops.append(Operator(k, opcode, 1, inputs, (y,), opts))
        produced.append(y)
    return Model(sha256="0" * 64, schema_version=3, description="", tensors=tuple(tensors),
                 operators=tuple(ops), inputs=(0,), outputs=(produced[-1],), subgraph_count=1)


@pytest.mark.parametrize("keep_input", [True, False])
def test_random_models_with_inplace_convolutions_execute_correctly(keep_input):
    rng = random.Random(7)
    counts = {"pw_shrink": 0, "pw_grow": 0, "dw_s1": 0, "dw_s2": 0, "conv": 0, "chain": 0}
    for trial in range(200):
        model = random_conv_model(rng, rng.randint(1, 20))
        mp = plan_model(model, keep_input=keep_input)
        counts["chain"] += len(mp.chains)  # producer -> consumer chains, where they pay
        check_plan(mp.plan)
        simulate(model, mp, keep_input=keep_input)
        assert mp.plan.lower_bound <= mp.arena_bytes
        off = plan_model(model, inplace_convs=False, keep_input=keep_input)
        assert not off.inplace
        simulate(model, off, keep_input=keep_input)
        for k in mp.inplace:
            op = model.operators[k]
            x, y = model.tensor(op.inputs[0]), model.tensor(op.outputs[0])
            if keep_input:
                assert op.inputs[0] not in model.inputs
            if inplace_kernel(model, op)[0] == "tsn_conv2d_inplace_s8":
                counts["conv"] += 1
            elif op.opcode == "CONV_2D":
                counts["pw_grow" if y.shape[3] > x.shape[3] else "pw_shrink"] += 1
            else:
                counts["dw_s1" if op.options.stride_h == 1 else "dw_s2"] += 1
    assert min(counts.values()) > 10, counts


def test_inplace_convolutions_on_a_mobilenet_block():
    # input -> 3x3 conv (8 ch) -> dw s1 -> pw 8->16 (grows) -> dw s2 -> pw 16->4 (shrinks) -> out
    tensors = (_t(0, (1, 8, 8, 3)), _w(1, (8, 3, 3, 3)), _t(2, (1, 8, 8, 8)), _w(3, (1, 3, 3, 8)),
               _t(4, (1, 8, 8, 8)), _w(5, (16, 1, 1, 8)), _t(6, (1, 8, 8, 16)),
               _w(7, (1, 3, 3, 16)), _t(8, (1, 4, 4, 16)), _w(9, (4, 1, 1, 16)),
               _t(10, (1, 4, 4, 4)))
    ops = (Operator(0, "CONV_2D", 1, (0, 1), (2,), _conv_opts()),
           Operator(1, "DEPTHWISE_CONV_2D", 1, (2, 3), (4,), _dw_opts()),
           Operator(2, "CONV_2D", 1, (4, 5), (6,), _conv_opts()),
           Operator(3, "DEPTHWISE_CONV_2D", 1, (6, 7), (8,), _dw_opts(2)),
           Operator(4, "CONV_2D", 1, (8, 9), (10,), _conv_opts()))
    model = Model("0" * 64, 3, "", tensors, ops, (0,), (10,), 1)
    mp = plan_model(model)
    check_plan(mp.plan)
    simulate(model, mp)
    # the 3x3 conv reads the model input: not in place; the four others chain in one buffer
    assert sorted(mp.inplace) == [1, 2, 3, 4]
    # scratch: the depthwise kernels a ring of 3 input rows, the 1x1 kernels one output pixel
    assert {k: n for k, (_, n) in mp.inplace.items()} == {1: 24, 2: 16, 3: 24, 4: 4}
    assert mp.root[2] == mp.root[4] == mp.root[6] == mp.root[8] == mp.root[10]
    # arena: input 192 + the shared buffer (1024, the 8x8x16 tensor) + a 24-byte scratch, aligned
    assert mp.arena_bytes == 192 + 1024 + 32
    assert mp.arena_bytes == -(-mp.plan.lower_bound // 16) * 16       # optimal
    off = plan_model(model, inplace_convs=False, fuse=False)
    simulate(model, off)
    assert off.arena_bytes == 192 + 512 + 1024 + 64      # pw 8->16: its input and output
    # without in-place kernels the pw 8->16 -> dw s2 chain pays: a 3-row window, no 8x8x16 tensor
    chained = plan_model(model, inplace_convs=False)
    simulate(model, chained)
    assert [(c.chain.producer, c.chain.consumer) for c in chained.chains.values()] == [(2, 3)]
    assert chained.arena_bytes < off.arena_bytes
    # the model input may be overwritten only in the what-if
    what_if = plan_model(model, keep_input=False)
    simulate(model, what_if, keep_input=False)
    # the shared buffer is 512 bytes until the pw 8->16, so the peak is 1024 + a 24-byte scratch
    assert sorted(what_if.inplace) == [1, 2, 3, 4] and what_if.arena_bytes == 1024 + 32
    assert what_if.arena_bytes == -(-what_if.plan.lower_bound // 16) * 16
    # an INT4 filter: the packed 1x1 kernel, in place too, with one input row of scratch
    int4 = tensors[:5] + (_w(5, (16, 1, 1, 8), "INT4"),) + tensors[6:]
    int4_model = Model("0" * 64, 3, "", int4, ops, (0,), (10,), 1)
    packed = plan_model(int4_model)
    simulate(int4_model, packed)
    assert packed.inplace[2][1] == 8 * 8
    # not in place: a tensor read again later
    reread = ops[:4] + (Operator(4, "ADD", 1, (8, 6), (10,), None),)
    tensors2 = tensors[:10] + (_t(10, (1, 4, 4, 16)),)
    mp2 = plan_model(Model("0" * 64, 3, "", tensors2, reread, (0,), (10,), 1))
    assert 3 not in mp2.inplace and 2 in mp2.inplace


def test_add_overwrites_whichever_input_dies():
    # t1 = conv(t0); t2 = conv(t1); t3 = conv(t2); t4 = add(t1, t3); t5 = conv(t4) (a residual):
    # both ADD inputs die at the ADD: the output takes the first one's buffer
    t = lambda i, n: Tensor(i, f"t{i}", "INT8", (n,), None, None)  # noqa: E731
    tensors = tuple(t(i, 64) for i in range(6))
    ops = (Operator(0, "CONV_2D", 1, (0,), (1,), None), Operator(1, "CONV_2D", 1, (1,), (2,), None),
           Operator(2, "CONV_2D", 1, (2,), (3,), None), Operator(3, "ADD", 1, (1, 3), (4,), None),
           Operator(4, "CONV_2D", 1, (4,), (5,), None))
    mp = plan_model(Model("0" * 64, 3, "", tensors, ops, (0,), (5,), 1))
    simulate(Model("0" * 64, 3, "", tensors, ops, (0,), (5,), 1), mp)
    assert mp.root[4] == mp.root[1]
    # t1 read again later: the ADD overwrites its second input instead
    ops2 = ops[:4] + (Operator(4, "ADD", 1, (4, 1), (5,), None),)
    model2 = Model("0" * 64, 3, "", tensors, ops2, (0,), (5,), 1)
    mp2 = plan_model(model2)
    simulate(model2, mp2)
    assert mp2.root[4] == mp2.root[3] and mp2.root[4] != mp2.root[1]
