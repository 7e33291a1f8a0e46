"""In-place convolutions: tsn_conv2d_1x1_inplace_s8, tsn_conv2d_inplace_s8 and
tsn_depthwise_conv2d_inplace_s8.

Each is checked bit for bit against its out-of-place kernel (tsn_conv2d_s8 /
tsn_depthwise_conv2d_s8) on random parameters — odd channel counts, channels shrinking and
growing, stride 2, batches, per-tensor and per-channel requantization, clamps — with guard bytes
around the data buffer and the scratch; and against tflite-micro on converted one-op models.
"""
import ctypes as C
import zlib

import numpy as np
import pytest

from firmware.conftest import ConvParams, Dims, _dims, _i8, _i32a, _p_i8, _p_i32, _ptr
from firmware.test_kernels import (_convert, _randomize, _rng, conv_kernel_args, parse_single_op,
                                   random_inputs, run_tflm)

pytestmark = [
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),
    pytest.mark.filterwarnings("ignore:Statistics for quantized inputs:UserWarning"),
]

GUARD = 64
SENTINEL = 0x5A


@pytest.fixture(scope="module")
def lib(engine):
    for lib in (engine.lib, engine.twin.lib):
        for name in ("tsn_conv2d_1x1_inplace_s8", "tsn_depthwise_conv2d_inplace_s8",
                     "tsn_conv2d_inplace_s8", "tsn_depthwise_conv2d_inplace_s4",
                     "tsn_depthwise_conv2d_inplace_s2", "tsn_conv2d_1x1_inplace_s4",
                     "tsn_conv2d_1x1_inplace_s2"):
            fn = getattr(lib, name)
            fn.argtypes = [C.POINTER(ConvParams), C.c_void_p, C.POINTER(Dims), C.POINTER(Dims),
                           _p_i8, _p_i32, C.POINTER(Dims), _p_i8, _p_i8]
            fn.restype = C.c_int
    return engine.lib


def run_inplace(engine, lib, depthwise, params, x, filt, bias, mults, shifts, per_channel,
                out_shape, packed=None):
    """Run the in-place kernel on a copy of x inside a guarded buffer; returns (status, output,
    guards intact). With the engine's DSP twin too: status, output and guards must agree."""
    result = _run_inplace(engine, lib, depthwise, params, x, filt, bias, mults, shifts,
                          per_channel, out_shape, packed)
    if lib is engine.lib and engine.twin is not None:
        twin = _run_inplace(engine, engine.twin.lib, depthwise, params, x, filt, bias, mults,
                            shifts, per_channel, out_shape, packed)
        assert twin[0] == result[0] and twin[2] == result[2] and np.array_equal(twin[1],
                                                                                result[1]), \
            "in-place kernel: the DSP path differs from the portable C"
    return result


def _run_inplace(engine, lib, depthwise, params, x, filt, bias, mults, shifts, per_channel,
                 out_shape, packed=None):
    """packed: (bits, packed filter bytes) for the _s4/_s2 kernels."""
    x, filt = _i8(x), _i8(filt)
    bias = None if bias is None else _i32a(bias)
    in_bytes, out_bytes = x.size, int(np.prod(out_shape))
    data_bytes = max(in_bytes, out_bytes)
    if depthwise:   # a ring of (kh - 1) * dilation_h + 1 input rows (at most in_h)
        span = (filt.shape[1] - 1) * params["dilation_h"] + 1
        scratch_bytes = min(span, x.shape[1]) * x.shape[2] * (x.shape[3] if depthwise == "conv"
                                                              else 1)
    else:   # packed: one input row
        scratch_bytes = x.shape[2] * x.shape[3] if packed else out_shape[3]
    buf = np.full(GUARD + data_bytes + GUARD, SENTINEL, np.int8)
    buf[GUARD:GUARD + in_bytes] = x.reshape(-1)
    scratch = np.full(GUARD + scratch_bytes + GUARD, SENTINEL, np.int8)
    rq, keep = engine._requant(mults, shifts, per_channel)
    fn = (lib.tsn_conv2d_inplace_s8 if depthwise == "conv" else
          getattr(lib, f"tsn_depthwise_conv2d_inplace_s{packed[0] if packed else 8}") if depthwise
          else getattr(lib, f"tsn_conv2d_1x1_inplace_s{packed[0] if packed else 8}"))
    weights = filt if packed is None else np.frombuffer(packed[1], np.int8)
    data_ptr = C.cast(C.c_void_p(buf.ctypes.data + GUARD), _p_i8)
    scratch_ptr = C.cast(C.c_void_p(scratch.ctypes.data + GUARD), _p_i8)
    status = fn(C.byref(ConvParams(**params)), C.cast(C.pointer(rq), C.c_void_p),
                C.byref(_dims(x.shape)), C.byref(_dims(filt.shape)), _ptr(weights, C.c_int8),
                _ptr(bias, C.c_int32), C.byref(_dims(out_shape)), data_ptr, scratch_ptr)
    del keep
    out = buf[GUARD:GUARD + out_bytes].reshape(out_shape).copy()
    guards = (np.all(buf[:GUARD] == SENTINEL) and np.all(buf[GUARD + data_bytes:] == SENTINEL)
              and np.all(scratch[:GUARD] == SENTINEL)
              and np.all(scratch[GUARD + scratch_bytes:] == SENTINEL))
    return status, out, bool(guards)


def random_requant(rng, channels, per_channel):
    n = channels if per_channel else 1
    mults = rng.integers(1 << 30, (1 << 31) - 1, n)
    shifts = rng.integers(-12, 2, n)
    return mults, shifts


def random_params(rng, stride=1, pad_top=0, pad_left=0, depth_multiplier=0):
    lo = int(rng.choice([-128, -128, -40]))
    hi = int(rng.choice([127, 127, 60]))
    return dict(input_offset=int(rng.integers(-127, 129)),
                output_offset=int(rng.integers(-128, 128)),
                stride_h=stride, stride_w=stride, pad_top=pad_top, pad_left=pad_left,
                dilation_h=1, dilation_w=1, depth_multiplier=depth_multiplier,
                act_min=lo, act_max=hi)


POINTWISE_SHAPES = [
    # n, h, w, in_c, out_c
    (1, 5, 7, 8, 3), (1, 4, 4, 3, 3), (1, 3, 5, 5, 11), (2, 3, 3, 7, 2), (2, 2, 5, 3, 9),
    (1, 1, 1, 13, 1), (1, 1, 1, 1, 17), (1, 6, 6, 16, 32), (1, 6, 6, 64, 64), (3, 4, 2, 9, 9),
]


@pytest.mark.parametrize("shape", POINTWISE_SHAPES, ids=lambda s: "x".join(map(str, s)))
def test_pointwise_inplace_equals_out_of_place(engine, lib, shape):
    n, h, w, ic, oc = shape
    rng = np.random.default_rng(zlib.crc32(repr(shape).encode()))
    for per_channel in (True, False):
        for bias_on in (True, False):
            x = rng.integers(-128, 128, (n, h, w, ic), dtype=np.int8)
            filt = rng.integers(-127, 128, (oc, 1, 1, ic), dtype=np.int8)
            bias = rng.integers(-5000, 5000, oc).astype(np.int32) if bias_on else None
            mults, shifts = random_requant(rng, oc, per_channel)
            params = random_params(rng)
            st, ref = engine.conv2d(params, x, filt, bias, mults, shifts, (n, h, w, oc),
                                    per_channel=per_channel)
            assert st == 0
            st, out, guards = run_inplace(engine, lib, False, params, x, filt, bias, mults,
                                          shifts, per_channel, (n, h, w, oc))
            assert st == 0 and guards
            assert np.array_equal(out, ref)


DW_SHAPES = [
    # n, h, w, c, kh, kw, stride, padding
    (1, 9, 8, 5, 3, 3, 1, "SAME"), (1, 10, 9, 7, 3, 3, 2, "SAME"), (1, 9, 9, 3, 3, 3, 2, "VALID"),
    (1, 7, 8, 1, 3, 3, 1, "VALID"), (2, 6, 5, 3, 3, 3, 1, "SAME"), (2, 8, 8, 4, 3, 3, 2, "SAME"),
    (1, 25, 10, 3, 10, 4, 2, "SAME"), (1, 8, 7, 8, 5, 5, 1, "SAME"), (3, 5, 5, 9, 3, 3, 2, "SAME"),
    (1, 1, 1, 6, 3, 3, 1, "SAME"), (1, 11, 7, 5, 5, 5, 2, "VALID"), (1, 12, 12, 3, 5, 3, 2, "SAME"),
    (2, 7, 9, 6, 1, 1, 2, "SAME"), (1, 2, 9, 4, 3, 3, 1, "SAME"),
    # padded plane over 1 KB: the DSP path's window of rows, moved down twice or more
    (2, 40, 36, 3, 3, 3, 1, "SAME"), (1, 41, 37, 2, 3, 3, 2, "SAME"),
]


def _dw_geometry(h, w, kh, kw, stride, padding, dilation=1):
    from tinysweep import quant_math as qm
    if padding == "SAME":
        (oh, pt), (ow, pl) = (qm.same_padding(h, kh, stride, dilation),
                              qm.same_padding(w, kw, stride, dilation))
    else:
        oh, ow, pt, pl = (qm.valid_output(h, kh, stride, dilation),
                          qm.valid_output(w, kw, stride, dilation), 0, 0)
    return oh, ow, pt, pl


@pytest.mark.parametrize("shape", DW_SHAPES, ids=lambda s: "x".join(map(str, s)))
def test_depthwise_inplace_equals_out_of_place(engine, lib, shape):
    n, h, w, c, kh, kw, stride, padding = shape
    oh, ow, pt, pl = _dw_geometry(h, w, kh, kw, stride, padding)
    rng = np.random.default_rng(zlib.crc32(repr(shape).encode()))
    for per_channel in (True, False):
        for bias_on in (True, False):
            x = rng.integers(-128, 128, (n, h, w, c), dtype=np.int8)
            filt = rng.integers(-127, 128, (1, kh, kw, c), dtype=np.int8)
            bias = rng.integers(-5000, 5000, c).astype(np.int32) if bias_on else None
            mults, shifts = random_requant(rng, c, per_channel)
            params = random_params(rng, stride, pt, pl, depth_multiplier=1)
            st, ref = engine.depthwise_conv2d(params, x, filt, bias, mults, shifts,
                                              (n, oh, ow, c), per_channel=per_channel)
            assert st == 0
            st, out, guards = run_inplace(engine, lib, True, params, x, filt, bias, mults,
                                          shifts, per_channel, (n, oh, ow, c))
            assert st == 0 and guards
            assert np.array_equal(out, ref)


CONV_SHAPES = [
    # n, h, w, in_c, out_c, kh, kw, stride, padding, dilation
    (1, 8, 7, 5, 5, 3, 3, 1, "SAME", 1), (1, 9, 9, 7, 3, 3, 3, 1, "SAME", 1),
    (1, 10, 9, 3, 6, 3, 3, 2, "SAME", 1), (2, 8, 8, 4, 8, 1, 1, 2, "SAME", 1),
    (1, 11, 10, 6, 6, 5, 5, 1, "VALID", 1), (2, 6, 5, 3, 3, 3, 3, 1, "SAME", 1),
    (1, 9, 8, 4, 4, 3, 3, 1, "SAME", 2), (1, 2, 7, 3, 3, 3, 3, 1, "SAME", 1),
    (1, 16, 16, 16, 32, 3, 3, 2, "SAME", 1), (1, 32, 32, 16, 16, 3, 3, 1, "SAME", 1),
]


@pytest.mark.parametrize("shape", CONV_SHAPES, ids=lambda s: "x".join(map(str, s)))
def test_conv_inplace_equals_out_of_place(engine, lib, shape):
    n, h, w, ic, oc, kh, kw, stride, padding, dil = shape
    oh, ow, pt, pl = _dw_geometry(h, w, kh, kw, stride, padding, dil)
    rng = np.random.default_rng(zlib.crc32(repr(shape).encode()))
    for per_channel in (True, False):
        x = rng.integers(-128, 128, (n, h, w, ic), dtype=np.int8)
        filt = rng.integers(-127, 128, (oc, kh, kw, ic), dtype=np.int8)
        bias = rng.integers(-5000, 5000, oc).astype(np.int32) if per_channel else None
        mults, shifts = random_requant(rng, oc, per_channel)
        params = {**random_params(rng, stride, pt, pl), "dilation_h": dil, "dilation_w": dil}
        st, ref = engine.conv2d(params, x, filt, bias, mults, shifts, (n, oh, ow, oc),
                                per_channel=per_channel)
        assert st == 0
        st, out, guards = run_inplace(engine, lib, "conv", params, x, filt, bias, mults,
                                      shifts, per_channel, (n, oh, ow, oc))
        assert st == 0 and guards
        assert np.array_equal(out, ref)


def test_inplace_kernels_reject_illegal_shapes(engine, lib):
    rng = np.random.default_rng(5)
    # a 3x3 stride-1 conv growing 3 -> 4 channels would overwrite input rows not yet read
    xc = rng.integers(-128, 128, (1, 4, 4, 3), dtype=np.int8)
    pc = random_params(rng, 1, 1, 1)
    for oc, expect in ((3, 0), (4, -1)):
        wc = rng.integers(-127, 128, (oc, 3, 3, 3), dtype=np.int8)
        assert run_inplace(engine, lib, "conv", pc, xc, wc, None, [1 << 30], [0], False,
                           (1, 4, 4, oc))[0] == expect
    x = rng.integers(-128, 128, (1, 4, 4, 3), dtype=np.int8)
    m, s = [1 << 30], [0]
    pw = rng.integers(-127, 128, (2, 1, 1, 3), dtype=np.int8)
    p = random_params(rng)
    assert run_inplace(engine, lib, False, p, x, pw, None, m, s, False, (1, 4, 4, 2))[0] == 0
    for bad in ({**p, "stride_h": 2}, {**p, "pad_top": 1}):
        assert run_inplace(engine, lib, False, bad, x, pw, None, m, s, False, (1, 4, 4, 2))[0] == -1
    assert run_inplace(engine, lib, False, p, x, pw, None, m, s, False, (1, 2, 2, 2))[0] == -1
    assert run_inplace(engine, lib, False, p, x, np.zeros((2, 3, 3, 3), np.int8), None, m, s,
                       False, (1, 4, 4, 2))[0] == -1
    dw = rng.integers(-127, 128, (1, 3, 3, 3), dtype=np.int8)
    p = random_params(rng, 1, 1, 1, depth_multiplier=1)
    assert run_inplace(engine, lib, True, p, x, dw, None, m, s, False, (1, 4, 4, 3))[0] == 0
    assert run_inplace(engine, lib, True, {**p, "depth_multiplier": 2}, x,
                       np.zeros((1, 3, 3, 6), np.int8), None, m, s, False, (1, 4, 4, 6))[0] == -1
    # the output may not be taller or wider than the input
    assert run_inplace(engine, lib, True, p, x, dw, None, m, s, False, (1, 5, 4, 3))[0] == -1
    assert run_inplace(engine, lib, True, p, x, dw, None, m, s, False, (1, 2, 5, 3))[0] == -1
    # nor write over an input row it has not copied yet (here: leading padding 3 of a 3x3)
    assert run_inplace(engine, lib, True, {**p, "pad_top": 3}, x, dw, None, m, s, False,
                       (1, 4, 4, 3))[0] == -1


def test_depthwise_inplace_with_dilation(engine, lib):
    rng = np.random.default_rng(77)
    for h, w, c, k, stride, dil, padding in ((9, 8, 3, 3, 1, 2, "SAME"),
                                              (12, 10, 5, 3, 2, 2, "VALID"),
                                              (10, 10, 4, 3, 1, 3, "VALID")):
        oh, ow, pt, pl = _dw_geometry(h, w, k, k, stride, padding, dil)
        x = rng.integers(-128, 128, (1, h, w, c), dtype=np.int8)
        filt = rng.integers(-127, 128, (1, k, k, c), dtype=np.int8)
        bias = rng.integers(-5000, 5000, c).astype(np.int32)
        mults, shifts = random_requant(rng, c, True)
        params = {**random_params(rng, stride, pt, pl, depth_multiplier=1),
                  "dilation_h": dil, "dilation_w": dil}
        st, ref = engine.depthwise_conv2d(params, x, filt, bias, mults, shifts, (1, oh, ow, c))
        assert st == 0
        st, out, guards = run_inplace(engine, lib, True, params, x, filt, bias, mults, shifts,
                                      True, (1, oh, ow, c))
        assert st == 0 and guards and np.array_equal(out, ref)


# ---- against tflite-micro ------------------------------------------------------------------

TFLM_CASES = [
    # id, depthwise, input HWC, filters (pointwise), strides, padding, activation
    ("pw_8to3_relu", False, (6, 5, 8), 3, 1, "same", "relu"),
    ("pw_5to5", False, (7, 3, 5), 5, 1, "valid", None),
    ("pw_3to11_relu6", False, (4, 6, 3), 11, 1, "same", "relu6"),
    ("dw_s1_same_c5_relu", True, (9, 8, 5), None, 1, "same", "relu"),
    ("dw_s2_same_c7", True, (10, 9, 7), None, 2, "same", None),
    ("dw_s2_valid_c3_relu6", True, (9, 11, 3), None, 2, "valid", "relu6"),
    ("conv3x3_s1_6to6_relu", "conv", (8, 7, 6), 6, 1, "same", "relu"),
    ("conv3x3_s2_3to6", "conv", (9, 10, 3), 6, 2, "same", None),
    ("conv1x1_s2_5to9", "conv", (8, 8, 5), 9, 2, "same", None),
]


@pytest.mark.parametrize("case", TFLM_CASES, ids=[c[0] for c in TFLM_CASES])
def test_inplace_matches_tflm(engine, lib, case):
    from tinysweep.tfcompat import keras, tf
    cid, depthwise, in_shape, filters, stride, padding, act = case
    rng = _rng("inplace_" + cid)
    keras.utils.set_random_seed(int(rng.integers(1 << 30)))
    activation = {"relu": "relu", "relu6": tf.nn.relu6, None: None}[act]
    x = inp = keras.layers.Input(in_shape)
    if depthwise is True:
        y = keras.layers.DepthwiseConv2D(3, strides=stride, padding=padding,
                                         activation=activation)(x)
    else:
        k = 1 if depthwise is False or cid.startswith("conv1x1") else 3
        y = keras.layers.Conv2D(filters, k, strides=stride, padding=padding,
                                activation=activation)(x)
    model = keras.Model(inp, y)
    _randomize(model, rng)
    buf = _convert(model, rng, in_shape, sigma=float(rng.uniform(0.5, 4)))
    op = parse_single_op(buf)
    assert op.name == ("DEPTHWISE_CONV_2D" if depthwise is True else "CONV_2D")
    params, w, b, mults, shifts, per_channel = conv_kernel_args(op, depthwise=depthwise is True)
    xs = random_inputs(rng, in_shape)
    outs = []
    for xi in xs:
        st, out, guards = run_inplace(engine, lib, depthwise, params, xi[None], w, b, mults,
                                      shifts, per_channel, (1, *op.output.shape[1:]))
        assert st == 0 and guards
        outs.append(out[0])
    ref = run_tflm(buf, xs)
    assert np.array_equal(np.stack(outs), ref)


def test_add_in_place_over_either_input(engine):
    """tsn_add_s8 with the output aliasing input 1 or input 2 (the planner's in-place ADD) ==
    out of place."""
    from firmware.test_kernels_more import AddParams, More
    from tinysweep import quant_math as qm
    more = More(engine.lib, engine.twin.lib)
    rng = np.random.default_rng(9)
    for _ in range(5):
        p = qm.add_params(float(rng.uniform(0.01, 0.2)), int(rng.integers(-128, 128)),
                          float(rng.uniform(0.01, 0.2)), int(rng.integers(-128, 128)),
                          float(rng.uniform(0.02, 0.3)), int(rng.integers(-128, 128)), "RELU")
        a = rng.integers(-128, 128, 257, dtype=np.int8)
        b = rng.integers(-128, 128, 257, dtype=np.int8)
        st, ref = more.add(p, a, b)
        assert st == 0
        for which, lib in ((0, engine.lib), (1, engine.lib), (0, engine.twin.lib),
                           (1, engine.twin.lib)):
            x, y = a.copy(), b.copy()
            out = (x, y)[which]
            p8 = lambda v: v.ctypes.data_as(_p_i8)  # noqa: E731
            st = lib.tsn_add_s8(C.byref(AddParams(**p)), x.size, p8(x), p8(y), p8(out))
            assert st == 0 and np.array_equal(out, ref)


@pytest.mark.parametrize("bits", (4, 2))
def test_packed_depthwise_inplace_equals_int8(engine, lib, bits):
    """tsn_depthwise_conv2d_inplace_s4/_s2 (taps read packed) give the s8 in-place kernel's bytes
    on the same weights over the packed range, portable and DSP twin."""
    from tinysweep.codegen.packing import pack
    rng = np.random.default_rng(bits)
    for shape in DW_SHAPES:
        n, h, w, c, kh, kw, stride, padding = shape
        oh, ow, pt, pl = _dw_geometry(h, w, kh, kw, stride, padding)
        x = rng.integers(-128, 128, (n, h, w, c), dtype=np.int8)
        filt = rng.integers(-(1 << (bits - 1)), 1 << (bits - 1), (1, kh, kw, c), dtype=np.int8)
        bias = rng.integers(-5000, 5000, c).astype(np.int32)
        mults, shifts = random_requant(rng, c, True)
        params = random_params(rng, stride, pt, pl, depth_multiplier=1)
        args = (params, x, filt, bias, mults, shifts, True, (n, oh, ow, c))
        st, ref, _ = run_inplace(engine, lib, True, *args)
        st4, out, guards = run_inplace(engine, lib, True, *args,
                                       packed=(bits, pack(filt.reshape(-1), bits)))
        assert st == st4 == 0 and guards
        assert np.array_equal(out, ref)


# INT4's DSP path (in_c a multiple of 8, at most 256: one flat row over the buffer) both ways
# and with odd out_c; in_c 12 and 260 take the row-by-row path through the scratch row
PACKED_POINTWISE_SHAPES = POINTWISE_SHAPES + [
    (1, 5, 5, 64, 64), (1, 3, 6, 16, 40), (2, 3, 5, 48, 13), (1, 3, 3, 256, 264),
    (1, 2, 3, 260, 9), (1, 4, 5, 12, 20),
]


@pytest.mark.parametrize("bits", (4, 2))
def test_packed_pointwise_inplace_equals_int8(engine, lib, bits):
    """tsn_conv2d_1x1_inplace_s4/_s2 give the s8 kernel's bytes on the same weights over the
    packed range, portable and DSP twin, channels shrinking and growing."""
    from tinysweep.codegen.packing import pack
    rng = np.random.default_rng(40 + bits)
    for n, h, w, ic, oc in PACKED_POINTWISE_SHAPES:
        per_channel = bool(rng.integers(2))
        x = rng.integers(-128, 128, (n, h, w, ic), dtype=np.int8)
        filt = rng.integers(-(1 << (bits - 1)), 1 << (bits - 1), (oc, 1, 1, ic), dtype=np.int8)
        bias = rng.integers(-5000, 5000, oc).astype(np.int32) if per_channel else None
        mults, shifts = random_requant(rng, oc, per_channel)
        params, out_shape = random_params(rng), (n, h, w, oc)
        st, ref = engine.conv2d(params, x, filt, bias, mults, shifts, out_shape,
                                per_channel=per_channel)
        st_p, out, guards = run_inplace(engine, lib, False, params, x, filt, bias, mults, shifts,
                                        per_channel, out_shape,
                                        packed=(bits, pack(filt.reshape(-1), bits)))
        assert st == st_p == 0 and guards
        assert np.array_equal(out, ref), (n, h, w, ic, oc)
