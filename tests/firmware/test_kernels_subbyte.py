"""Packed sub-byte weight kernels (tsn_*_s4, tsn_*_s2) bit-exact against tflite-micro.

Each case converts a one-op Keras model with full int8 PTQ, then puts random weights on the
b-bit range into the flatbuffer (weight scales times 127 / 2^(b-1) and the bias requantized to
the new scale, so outputs keep their spread). tflite-micro runs that int8 model (exact for
on-grid int8), and for 4 bits also the same model with the weight tensor retyped to a real,
packed INT4 tensor; our kernel gets the TFLite-packed bytes. Ranges cover the whole packed
format ([-8, 7], [-2, 1]), so sign extension of every code is exercised. Odd channel counts
make rows straddle bytes.
"""
import ctypes as C
import importlib.util
from pathlib import Path

import numpy as np
import pytest

from tinysweep import quant_math as qm
from tinysweep.codegen.packing import RANGE, pack

pytestmark = [
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),
    pytest.mark.filterwarnings("ignore:Statistics for quantized inputs:UserWarning"),
]



def _sibling(name):
    """A module of this folder (pytest runs with --import-mode=importlib)."""
    spec = importlib.util.spec_from_file_location(f"_subbyte_{name}",
                                                  Path(__file__).with_name(f"{name}.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


_tk = _sibling("test_kernels")  # model building, flatbuffer editing and oracles
_activation, _convert, _randomize, _rng = _tk._activation, _tk._convert, _tk._randomize, _tk._rng
conv_kernel_args, mutate, parse_single_op = _tk.conv_kernel_args, _tk.mutate, _tk.parse_single_op
random_inputs, run_tflm = _tk.random_inputs, _tk.run_tflm

INT4, INT2 = 17, 19
_i32 = C.c_int32
_p_i8, _p_i32 = C.POINTER(C.c_int8), C.POINTER(C.c_int32)


# the tsn.h structs (the same layouts as tests/firmware/conftest.py's)
class Dims(C.Structure):
    _fields_ = [("n", _i32), ("h", _i32), ("w", _i32), ("c", _i32)]


class Requant(C.Structure):
    _fields_ = [("multiplier", _p_i32), ("shift", _p_i32), ("per_channel", _i32)]


class ConvParams(C.Structure):
    _fields_ = [(name, _i32) for name in (
        "input_offset", "output_offset", "stride_h", "stride_w", "pad_top", "pad_left",
        "dilation_h", "dilation_w", "depth_multiplier", "act_min", "act_max")]


class FcParams(C.Structure):
    _fields_ = [(name, _i32) for name in ("input_offset", "output_offset", "act_min", "act_max")]


@pytest.fixture(scope="module")
def tfmods():
    from tinysweep.tfcompat import keras, tf
    return tf, keras


def _fn(engine, name):
    f = getattr(engine.lib, name)
    if name.startswith("tsn_fully_connected"):
        f.argtypes = [C.POINTER(FcParams), C.POINTER(Requant), C.c_int32, C.c_int32, _p_i8,
                      C.c_int32, _p_i8, _p_i32, _p_i8]
    else:
        f.argtypes = [C.POINTER(ConvParams), C.POINTER(Requant), C.POINTER(Dims), _p_i8,
                      C.POINTER(Dims), _p_i8, _p_i32, C.POINTER(Dims), _p_i8]
    f.restype = C.c_int
    return f


def _arr(a, dtype):
    return np.ascontiguousarray(a, dtype=dtype)


def _ptr(a, ctype):
    return None if a is None else a.ctypes.data_as(C.POINTER(ctype))


def _rq(mults, shifts, per_channel):
    m, s = _arr(mults, np.int32), _arr(shifts, np.int32)
    return Requant(_ptr(m, C.c_int32), _ptr(s, C.c_int32), int(per_channel)), (m, s)


def _with_twin(run):
    """Repeat a packed-kernel call on the engine's DSP twin (tests/firmware/conftest.py): status
    and output must be the same bit for bit."""
    def both(engine, *args):
        status, out = run(engine, *args)
        if engine.twin is not None:
            twin = run(engine.twin, *args)
            assert twin[0] == status and np.array_equal(twin[1], out), \
                f"{args[0]}: the DSP path differs from the portable C"
        return status, out
    return both


@_with_twin
def run_conv(engine, name, params, x, fshape, packed, bias, mults, shifts, per_channel,
             out_shape):
    x = _arr(x, np.int8)
    f = np.frombuffer(packed, np.int8).copy()
    b = None if bias is None else _arr(bias, np.int32)
    out = np.zeros(out_shape, np.int8)
    rq, keep = _rq(mults, shifts, per_channel)
    status = _fn(engine, name)(C.byref(ConvParams(**params)), C.byref(rq), C.byref(Dims(*x.shape)),
                               _ptr(x, C.c_int8), C.byref(Dims(*fshape)), _ptr(f, C.c_int8),
                               _ptr(b, C.c_int32), C.byref(Dims(*out_shape)), _ptr(out, C.c_int8))
    del keep
    return status, out


GUARD, SENTINEL = 32, 0x5A


@_with_twin
def run_conv_1x1_inplace(engine, name, params, x, fshape, packed, bias, mults, shifts,
                         per_channel, out_shape):
    """The in-place 1x1 kernel on x in a buffer of max(in, out) bytes (scratch one input row),
    both between guard bytes that must stay intact; returns (status, output)."""
    x = _arr(x, np.int8)
    f = np.frombuffer(packed, np.int8).copy()
    b = None if bias is None else _arr(bias, np.int32)
    data_bytes, out_bytes = max(x.size, int(np.prod(out_shape))), int(np.prod(out_shape))
    buf = np.full(2 * GUARD + data_bytes, SENTINEL, np.int8)
    buf[GUARD:GUARD + x.size] = x.reshape(-1)
    scratch = np.full(2 * GUARD + x.shape[2] * x.shape[3], SENTINEL, np.int8)
    rq, keep = _rq(mults, shifts, per_channel)
    fn = getattr(engine.lib, name)
    fn.argtypes = [C.POINTER(ConvParams), C.POINTER(Requant), C.POINTER(Dims), C.POINTER(Dims),
                   _p_i8, _p_i32, C.POINTER(Dims), _p_i8, _p_i8]
    fn.restype = C.c_int
    at = lambda a: C.cast(C.c_void_p(a.ctypes.data + GUARD), _p_i8)  # noqa: E731
    status = fn(C.byref(ConvParams(**params)), C.byref(rq), C.byref(Dims(*x.shape)),
                C.byref(Dims(*fshape)), _ptr(f, C.c_int8), _ptr(b, C.c_int32),
                C.byref(Dims(*out_shape)), at(buf), at(scratch))
    del keep
    assert all(np.all(a[:GUARD] == SENTINEL) and np.all(a[a.size - GUARD:] == SENTINEL)
               for a in (buf, scratch)), f"{name} wrote outside its buffers"
    return status, buf[GUARD:GUARD + out_bytes].reshape(out_shape).copy()


@_with_twin
def run_fc(engine, name, params, x, out_depth, packed, bias, mults, shifts, per_channel):
    x = _arr(x, np.int8)
    f = np.frombuffer(packed, np.int8).copy()
    b = None if bias is None else _arr(bias, np.int32)
    out = np.zeros((x.shape[0], out_depth), np.int8)
    rq, keep = _rq(mults, shifts, per_channel)
    status = _fn(engine, name)(C.byref(FcParams(**params)), C.byref(rq), x.shape[0], x.shape[1],
                               _ptr(x, C.c_int8), out_depth, _ptr(f, C.c_int8),
                               _ptr(b, C.c_int32), _ptr(out, C.c_int8))
    del keep
    return status, out


def put_on_grid(buf, bits, rng):
    """Random weights over the packed range of `bits`, scales rescaled; returns the int8 model."""
    lo, hi = RANGE[bits]
    factor = 127.0 / (hi if bits == 4 else 1)

    def fn(mt, sg, op):
        t = sg.tensors[op.inputs[1]]
        w = rng.integers(lo, hi + 1, tuple(t.shape)).astype(np.int8)
        mt.buffers[t.buffer].data = np.frombuffer(w.tobytes(), np.uint8)
        s_old = np.asarray(t.quantization.scale, np.float32)
        s_new = (s_old * np.float32(factor)).astype(np.float32)
        t.quantization.scale = [float(s) for s in s_new]
        if len(op.inputs) > 2 and op.inputs[2] >= 0:
            bt = sg.tensors[op.inputs[2]]
            b = np.frombuffer(bytes(bytearray(mt.buffers[bt.buffer].data)), np.int32)
            b_new = np.round(b / factor).astype(np.int32)
            mt.buffers[bt.buffer].data = np.frombuffer(b_new.tobytes(), np.uint8)
            s_in = np.float32(sg.tensors[op.inputs[0]].quantization.scale[0])
            bt.quantization.scale = [float(np.float32(s_in * s)) for s in s_new]
    return mutate(buf, fn)


def retype_packed(buf, ttype, bits):
    """The same model with the weight tensor stored as a real packed INT4/INT2 tensor."""
    def fn(mt, sg, op):
        t = sg.tensors[op.inputs[1]]
        w = np.frombuffer(bytes(bytearray(mt.buffers[t.buffer].data)), np.int8)
        mt.buffers[t.buffer].data = np.frombuffer(pack(w, bits), np.uint8)
        t.type = ttype
    return mutate(buf, fn)


def check_case(op_name, buf, bits, xs, ours):
    ref = run_tflm(buf, xs)
    assert ref.shape == ours.shape
    bad = np.argwhere(ref != ours)
    assert bad.size == 0, (f"{op_name} s{bits}: {len(bad)} of {ref.size} outputs differ from "
                           f"tflite-micro (int8 on-grid); first at {tuple(bad[0])}")
    assert len(np.unique(ref)) > 4, "degenerate case: outputs barely vary"
    if bits == 4 and op_name == "FULLY_CONNECTED":
        # tflite-micro refuses per-channel INT4 FC weights (fully_connected_common.cc:98), and
        # TF 2.21 quantizes Dense per channel: record the refusal.
        with pytest.raises(RuntimeError, match="allocate"):
            run_tflm(retype_packed(buf, INT4, 4), xs[:1])
    elif bits == 4:  # the real INT4 model: tflite-micro unpacks it, must agree too
        ref4 = run_tflm(retype_packed(buf, INT4, 4), xs)
        assert np.array_equal(ref4, ours), f"{op_name} s4: differs from tflite-micro on INT4"


CONV_CASES = [
    # id, input HWC, filters, kernel, strides, padding, activation
    ("1x1_s1_valid_c3", (7, 9, 3), 5, (1, 1), (1, 1), "valid", "NONE"),
    ("1x1_s2_same_c16_relu6", (9, 8, 16), 3, (1, 1), (2, 2), "same", "RELU6"),
    ("1x1_s1_same_c16_to_40_relu", (5, 7, 16), 40, (1, 1), (1, 1), "same", "RELU"),
    ("1x1_s1_valid_c64_to_24_relu6", (6, 5, 64), 24, (1, 1), (1, 1), "valid", "RELU6"),
    ("3x3_s1_same_c5_relu", (8, 7, 5), 7, (3, 3), (1, 1), "same", "RELU"),
    ("3x3_s2_same_c7", (11, 10, 7), 4, (3, 3), (2, 2), "same", "NONE"),
    ("3x3_s2_valid_c3", (12, 9, 3), 5, (3, 3), (2, 2), "valid", "NONE"),
    ("10x4_s2_same_kws", (49, 10, 1), 7, (10, 4), (2, 2), "same", "RELU"),
]


@pytest.mark.parametrize("bits", [4, 2])
@pytest.mark.parametrize("case", CONV_CASES, ids=[c[0] for c in CONV_CASES])
def test_conv2d_packed_matches_tflm(engine, tfmods, case, bits):
    tf, keras = tfmods
    cid, in_shape, filters, kernel, strides, padding, act = case
    rng = _rng(f"{cid}/s{bits}")
    keras.utils.set_random_seed(int(rng.integers(1 << 30)))
    inp = keras.layers.Input(in_shape)
    y = keras.layers.Conv2D(filters, kernel, strides=strides, padding=padding,
                            activation=_activation(tf, act))(inp)
    model = keras.Model(inp, y)
    _randomize(model, rng)
    buf = put_on_grid(_convert(model, rng, in_shape, sigma=1.0), bits, rng)
    op = parse_single_op(buf)
    params, w, b, mults, shifts, per_channel = conv_kernel_args(op, depthwise=False)
    packed = pack(w, bits)
    assert len(packed) == (w.size * bits + 7) // 8
    xs = random_inputs(rng, in_shape)
    outs = []
    for xi in xs:
        status, out = run_conv(engine, f"tsn_conv2d_s{bits}", params, xi[None], w.shape, packed,
                               b, mults, shifts, per_channel, (1, *op.output.shape[1:]))
        assert status == 0
        outs.append(out[0])
    check_case("CONV_2D", buf, bits, xs, np.stack(outs))
    if kernel == strides == (1, 1):  # the in-place 1x1 kernel too (channels grow or shrink)
        for xi, out in zip(xs, outs):
            status, ours = run_conv_1x1_inplace(engine, f"tsn_conv2d_1x1_inplace_s{bits}",
                                                params, xi[None], w.shape, packed, b, mults,
                                                shifts, per_channel, (1, *op.output.shape[1:]))
            assert status == 0 and np.array_equal(ours[0], out)


DW_CASES = [
    ("3x3_s1_same_m1_c5_relu", (9, 8, 5), 1, (3, 3), (1, 1), "same", "RELU"),
    ("3x3_s2_valid_m2_c3", (9, 8, 3), 2, (3, 3), (2, 2), "valid", "NONE"),
    ("10x4_s2_same_m1_c7", (25, 10, 7), 1, (10, 4), (2, 2), "same", "RELU6"),
]


@pytest.mark.parametrize("bits", [4, 2])
@pytest.mark.parametrize("case", DW_CASES, ids=[c[0] for c in DW_CASES])
def test_depthwise_conv2d_packed_matches_tflm(engine, tfmods, case, bits):
    tf, keras = tfmods
    cid, in_shape, mult, kernel, strides, padding, act = case
    rng = _rng(f"dw/{cid}/s{bits}")
    keras.utils.set_random_seed(int(rng.integers(1 << 30)))
    inp = keras.layers.Input(in_shape)
    y = keras.layers.DepthwiseConv2D(kernel, strides=strides, padding=padding,
                                     depth_multiplier=mult, activation=_activation(tf, act))(inp)
    model = keras.Model(inp, y)
    _randomize(model, rng)
    buf = put_on_grid(_convert(model, rng, in_shape, sigma=1.0), bits, rng)
    op = parse_single_op(buf)
    params, w, b, mults, shifts, per_channel = conv_kernel_args(op, depthwise=True)
    packed = pack(w, bits)
    xs = random_inputs(rng, in_shape)
    outs = []
    for xi in xs:
        status, out = run_conv(engine, f"tsn_depthwise_conv2d_s{bits}", params, xi[None],
                               w.shape, packed, b, mults, shifts, per_channel,
                               (1, *op.output.shape[1:]))
        assert status == 0
        outs.append(out[0])
    check_case("DEPTHWISE_CONV_2D", buf, bits, xs, np.stack(outs))


FC_CASES = [("13_to_7_relu", 13, 7, "RELU"), ("33_to_10", 33, 10, "NONE")]


@pytest.mark.parametrize("bits", [4, 2])
@pytest.mark.parametrize("case", FC_CASES, ids=[c[0] for c in FC_CASES])
def test_fully_connected_packed_matches_tflm(engine, tfmods, case, bits):
    tf, keras = tfmods
    cid, depth, units, act = case
    rng = _rng(f"fc/{cid}/s{bits}")
    keras.utils.set_random_seed(int(rng.integers(1 << 30)))
    inp = keras.layers.Input((depth,))
    model = keras.Model(inp, keras.layers.Dense(units, activation=_activation(tf, act))(inp))
    _randomize(model, rng)
    buf = put_on_grid(_convert(model, rng, (depth,), sigma=1.0), bits, rng)
    op = parse_single_op(buf)
    x, w, b = op.inputs[:3]
    out = op.output
    assert len(w.scale) == units  # per channel (TF 2.21)
    mults, shifts = qm.conv_per_channel_multipliers(x.scale[0], w.scale, out.scale[0])
    act_min, act_max = qm.activation_range(act, out.scale[0], int(out.zero_point[0]))
    params = dict(input_offset=-int(x.zero_point[0]), output_offset=int(out.zero_point[0]),
                  act_min=act_min, act_max=act_max)
    xs = random_inputs(rng, (depth,))
    status, ours = run_fc(engine, f"tsn_fully_connected_s{bits}", params, xs, units,
                          pack(w.data, bits), b.data, mults, shifts, True)
    assert status == 0
    check_case("FULLY_CONNECTED", buf, bits, xs, ours)


def test_packed_kernels_reject_bad_arguments(engine):
    params = dict(input_offset=0, output_offset=0, stride_h=1, stride_w=1, pad_top=0, pad_left=0,
                  dilation_h=1, dilation_w=1, depth_multiplier=1, act_min=-128, act_max=127)
    x = np.zeros((1, 3, 3, 3), np.int8)
    for bits in (4, 2):
        status, _ = run_conv(engine, f"tsn_conv2d_s{bits}", dict(params, stride_h=0), x,
                             (2, 1, 1, 3), pack(np.zeros(6, np.int8), bits), None, [1 << 30] * 2,
                             [0, 0], True, (1, 3, 3, 2))
        assert status == -1
        status, _ = run_fc(engine, f"tsn_fully_connected_s{bits}",
                           dict(input_offset=0, output_offset=0, act_min=5, act_max=4),
                           np.zeros((1, 4), np.int8), 2, pack(np.zeros(8, np.int8), bits), None,
                           [1 << 30], [0], False)
        assert status == -1


def test_int2_real_tensor_acceptance_by_tflm(tfmods):
    """Record what the oracle accepts: a real INT2 FULLY_CONNECTED weight tensor."""
    tf, keras = tfmods
    rng = _rng("int2-acceptance")
    inp = keras.layers.Input((12,))
    model = keras.Model(inp, keras.layers.Dense(4)(inp))
    _randomize(model, rng)
    buf = retype_packed(put_on_grid(_convert(model, rng, (12,), sigma=1.0), 2, rng), INT2, 2)
    with pytest.raises(RuntimeError, match="allocate"):
        run_tflm(buf, random_inputs(rng, (12,), n=1))
