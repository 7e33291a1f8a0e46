"""The Cortex-M DSP path (firmware/engine/src/tsn_dsp.h) against the portable C kernels.

The session engine has a DSP twin built with TSN_DSP_EMULATE (tests/firmware/conftest.py): every
conv / depthwise / fully-connected call made through it runs on both builds and must agree bit
for bit, so the tflite-micro comparisons of test_kernels.py and test_kernels_inplace.py cover
the DSP path too. Here: random shapes aimed at the DSP path's cases (pixel pairs, image borders
as zero-padded windows, windows longer than the 256 widened inputs, odd channel and filter
counts, chunks of 32 filters, filter rows of more than 4 taps, dilation, per-tensor and positive
shifts), and its requantization on millions of random values. Real Cortex-M instructions are
checked in QEMU (firmware/engine/README.md).
"""
import ctypes as C
import zlib

import numpy as np
import pytest

from tinysweep import quant_math as qm


def _requant(rng, channels, per_channel):
    n = channels if per_channel else 1
    kind = rng.integers(3)
    mults = (rng.integers(1 << 30, (1 << 31) - 1, n) if kind < 2 else
             rng.choice([1 << 30, (1 << 30) + 1, (1 << 31) - 1, 12345], n))
    shifts = rng.integers(-12, 3, n) if kind != 1 else rng.integers(-31, 31, n)
    return mults, shifts


def _params(rng, stride, pads, dil=(1, 1), mult=0):
    lo, hi = (-128, 127) if rng.integers(2) else (int(rng.integers(-128, 0)), int(rng.integers(1, 128)))
    return dict(input_offset=int(rng.integers(-127, 129)), output_offset=int(rng.integers(-128, 128)),
                stride_h=stride[0], stride_w=stride[1], pad_top=pads[0], pad_left=pads[1],
                dilation_h=dil[0], dilation_w=dil[1], depth_multiplier=mult, act_min=lo, act_max=hi)


def _geometry(rng, h, w, kh, kw, stride, dil):
    if rng.integers(2):   # SAME
        (oh, pt), (ow, pl) = (qm.same_padding(h, kh, stride[0], dil[0]),
                              qm.same_padding(w, kw, stride[1], dil[1]))
    else:
        oh, ow, pt, pl = (qm.valid_output(h, kh, stride[0], dil[0]),
                          qm.valid_output(w, kw, stride[1], dil[1]), 0, 0)
    return oh, ow, (pt, pl)


def test_dsp_requantization_equals_tsn_requantize(engine):
    fn = engine.twin.lib.tsn_probe_dsp_requant_mismatches
    fn.argtypes, fn.restype = [C.c_int32, C.c_uint32], C.c_int32
    assert fn(3_000_000, 12345) == 0


@pytest.mark.parametrize("seed", range(6))
def test_dsp_conv2d_random_shapes(engine, seed):
    rng = np.random.default_rng(100 + seed)
    for _ in range(12):
        kh, kw = int(rng.choice([1, 1, 2, 3, 3, 5, 10])), int(rng.choice([1, 1, 2, 3, 3, 4, 5]))
        stride = tuple(int(v) for v in rng.integers(1, 3, 2))
        dil = (1, 1) if rng.integers(4) else tuple(int(v) for v in rng.integers(1, 3, 2))
        ic = int(rng.choice([1, 2, 3, 4, 5, 8, 13, 16, 40, 300 // (kh * kw) + 1]))
        oc = int(rng.choice([1, 2, 3, 7, 8, 33, 40]))
        h = int(rng.integers(max(kh, 1), kh + 8)) + (dil[0] - 1) * (kh - 1)
        w = int(rng.integers(max(kw, 1), kw + 9)) + (dil[1] - 1) * (kw - 1)
        n = int(rng.integers(1, 3))
        oh, ow, pads = _geometry(rng, h, w, kh, kw, stride, dil)
        per_channel = bool(rng.integers(2))
        x = rng.integers(-128, 128, (n, h, w, ic), dtype=np.int8)
        filt = rng.integers(-127, 128, (oc, kh, kw, ic), dtype=np.int8)
        bias = rng.integers(-20000, 20000, oc).astype(np.int32) if rng.integers(2) else None
        mults, shifts = _requant(rng, oc, per_channel)
        status, _ = engine.conv2d(_params(rng, stride, pads, dil), x, filt, bias, mults, shifts,
                                  (n, oh, ow, oc), per_channel=per_channel)  # twin: bit-equal
        assert status == 0


# n, h, w, in_c, out_c, kh, kw, stride, dilation: stems (in_c not a multiple of 4: windows
# gathered, f_size % 4 = 0..3, the last filter's tail, out_w % 4 = 1..3, > 32 filters) and
# flat 1x1 convolutions (stride 1, unpadded: all pixels one row, h * w not a multiple of 4);
# stems' 4-pixel groups span output rows (KWS's 10x4 stride 2, 5 wide; 2 batches, 3 wide)
STEM_AND_FLAT = [
    (1, 9, 7, 3, 16, 3, 3, (2, 2), (1, 1)), (2, 12, 6, 1, 37, 10, 4, (2, 1), (1, 1)),
    (1, 13, 10, 1, 9, 10, 4, (2, 2), (1, 1)), (2, 7, 6, 3, 5, 3, 3, (2, 2), (1, 1)),
    (1, 6, 9, 3, 5, 3, 3, (1, 1), (1, 1)), (1, 8, 5, 1, 3, 3, 3, (1, 2), (2, 2)),
    (1, 5, 10, 5, 7, 5, 5, (1, 1), (1, 1)), (1, 4, 3, 2, 33, 2, 2, (1, 1), (1, 1)),
    (1, 7, 7, 3, 4, 1, 1, (1, 1), (1, 1)), (2, 3, 5, 8, 9, 1, 1, (1, 1), (1, 1)),
    (1, 5, 7, 4, 33, 1, 1, (1, 1), (1, 1)), (2, 1, 3, 16, 2, 1, 1, (1, 1), (1, 1)),
    # INT4 filters over 3 KB: unpacked in two chunks (gathered windows; pixel pairs)
    (1, 12, 5, 1, 80, 10, 4, (2, 2), (1, 1)), (1, 5, 6, 5, 30, 5, 5, (1, 1), (1, 1)),
]


@pytest.mark.parametrize("case", STEM_AND_FLAT, ids=lambda c: "x".join(map(str, c[:7])))
def test_dsp_conv2d_stems_and_flat_1x1(engine, case):
    from tinysweep.codegen.packing import RANGE, pack
    n, h, w, ic, oc, kh, kw, stride, dil = case
    rng = np.random.default_rng(zlib.crc32(repr(case).encode()))
    for same in (True, False):
        if same:
            (oh, pt), (ow, pl) = (qm.same_padding(h, kh, stride[0], dil[0]),
                                  qm.same_padding(w, kw, stride[1], dil[1]))
        else:
            oh, ow, pt, pl = (qm.valid_output(h, kh, stride[0], dil[0]),
                              qm.valid_output(w, kw, stride[1], dil[1]), 0, 0)
        per_channel = same
        mults, shifts = _requant(rng, oc, per_channel)
        params = _params(rng, stride, (pt, pl), dil)
        x = rng.integers(-128, 128, (n, h, w, ic), dtype=np.int8)
        bias = rng.integers(-20000, 20000, oc).astype(np.int32) if same else None
        filt = rng.integers(-127, 128, (oc, kh, kw, ic), dtype=np.int8)
        status, _ = engine.conv2d(params, x, filt, bias, mults, shifts, (n, oh, ow, oc),
                                  per_channel=per_channel)  # twin: bit-equal
        assert status == 0
        lo, hi = RANGE[4]
        filt4 = rng.integers(lo, hi + 1, (oc, kh, kw, ic))
        status, _ = _subbyte().run_conv(engine, "tsn_conv2d_s4", params, x, filt4.shape,
                                        pack(filt4, 4), bias, mults, shifts, per_channel,
                                        (n, oh, ow, oc))
        assert status == 0


@pytest.mark.parametrize("seed", range(4))
def test_dsp_depthwise_random_shapes(engine, seed):
    rng = np.random.default_rng(200 + seed)
    for _ in range(12):
        kh, kw = int(rng.choice([1, 3, 3, 5, 10])), int(rng.choice([1, 3, 3, 4, 5, 7, 11]))
        stride = tuple(int(v) for v in rng.integers(1, 3, 2))
        dil = (1, 1) if rng.integers(3) else (int(rng.integers(1, 3)), int(rng.integers(1, 3)))
        c, mult = int(rng.choice([1, 3, 5, 8, 16])), int(rng.choice([1, 1, 2, 3]))
        h = int(rng.integers(kh, kh + 9)) + (dil[0] - 1) * (kh - 1)
        w = int(rng.integers(kw, kw + 60)) + (dil[1] - 1) * (kw - 1)
        n = int(rng.integers(1, 3))
        oh, ow, pads = _geometry(rng, h, w, kh, kw, stride, dil)
        per_channel = bool(rng.integers(2))
        x = rng.integers(-128, 128, (n, h, w, c), dtype=np.int8)
        filt = rng.integers(-127, 128, (1, kh, kw, c * mult), dtype=np.int8)
        bias = rng.integers(-20000, 20000, c * mult).astype(np.int32) if rng.integers(2) else None
        mults, shifts = _requant(rng, c * mult, per_channel)
        status, _ = engine.depthwise_conv2d(_params(rng, stride, pads, dil, mult), x, filt, bias,
                                            mults, shifts, (n, oh, ow, c * mult),
                                            per_channel=per_channel)
        assert status == 0


def test_dsp_fully_connected_random_shapes(engine):
    rng = np.random.default_rng(300)
    for _ in range(40):
        batches = int(rng.integers(1, 6))
        depth = int(rng.choice([1, 3, 4, 7, 64, 255, 256, 257, 640, 1001]))
        units = int(rng.choice([1, 2, 5, 8, 33, 128]))
        per_channel = bool(rng.integers(2))
        mults, shifts = _requant(rng, units, per_channel)
        p = _params(rng, (1, 1), (0, 0))
        params = {k: p[k] for k in ("input_offset", "output_offset", "act_min", "act_max")}
        x = rng.integers(-128, 128, (batches, depth), dtype=np.int8)
        wts = rng.integers(-127, 128, (units, depth), dtype=np.int8)
        bias = rng.integers(-20000, 20000, units).astype(np.int32) if rng.integers(2) else None
        status, _ = engine.fully_connected(params, x, wts, bias, mults, shifts, per_channel)
        assert status == 0


def _subbyte():
    """tests/firmware/test_kernels_subbyte.py's ctypes runners (they compare the DSP twin)."""
    import importlib.util
    from pathlib import Path
    spec = importlib.util.spec_from_file_location(
        "_dsp_subbyte", Path(__file__).with_name("test_kernels_subbyte.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.mark.parametrize("bits", [4, 2])
def test_dsp_packed_kernels_random_shapes(engine, bits):
    from tinysweep.codegen.packing import RANGE, pack
    sub = _subbyte()
    rng = np.random.default_rng(400 + bits)
    lo, hi = RANGE[bits]
    for _ in range(10):   # conv: odd filter sizes start filters mid-byte; > 1 KB: portable
        kh, kw = int(rng.choice([1, 3, 5])), int(rng.choice([1, 3, 4]))
        ic, oc = int(rng.choice([1, 3, 7, 16, 50])), int(rng.choice([1, 5, 8, 33]))
        stride = (int(rng.integers(1, 3)),) * 2
        h, w = int(rng.integers(kh, kh + 7)), int(rng.integers(kw, kw + 7))
        oh, ow, pads = _geometry(rng, h, w, kh, kw, stride, (1, 1))
        per_channel = bool(rng.integers(2))
        mults, shifts = _requant(rng, oc, per_channel)
        filt = rng.integers(lo, hi + 1, (oc, kh, kw, ic))
        x = rng.integers(-128, 128, (1, h, w, ic), dtype=np.int8)
        bias = rng.integers(-20000, 20000, oc).astype(np.int32)
        status, _ = sub.run_conv(engine, f"tsn_conv2d_s{bits}", _params(rng, stride, pads), x,
                                 filt.shape, pack(filt, bits), bias, mults, shifts, per_channel,
                                 (1, oh, ow, oc))
        assert status == 0
        c, mult = int(rng.choice([1, 3, 8])), int(rng.choice([1, 2]))
        dfilt = rng.integers(lo, hi + 1, (1, kh, kw, c * mult))
        xd = rng.integers(-128, 128, (1, h, w, c), dtype=np.int8)
        dmults, dshifts = _requant(rng, c * mult, per_channel)
        status, _ = sub.run_conv(engine, f"tsn_depthwise_conv2d_s{bits}",
                                 _params(rng, stride, pads, mult=mult), xd, dfilt.shape,
                                 pack(dfilt, bits), None, dmults, dshifts, per_channel,
                                 (1, oh, ow, c * mult))
        assert status == 0
    for depth in (1, 3, 8, 129, 640, 1025):
        units, batches = int(rng.choice([1, 4, 9])), int(rng.integers(1, 4))
        wts = rng.integers(lo, hi + 1, (units, depth))
        mults, shifts = _requant(rng, units, True)
        p = _params(rng, (1, 1), (0, 0))
        params = {k: p[k] for k in ("input_offset", "output_offset", "act_min", "act_max")}
        x = rng.integers(-128, 128, (batches, depth), dtype=np.int8)
        status, _ = sub.run_fc(engine, f"tsn_fully_connected_s{bits}", params, x, units,
                               pack(wts, bits), None, mults, shifts, True)
        assert status == 0


@pytest.mark.parametrize("mode", ["plane", "window"])
@pytest.mark.parametrize("stride", [(1, 1), (2, 2), (1, 2)])
def test_dsp_depthwise_3x3_pairs(engine, mode, stride):
    """The 3x3 stride_w 1 / 2 path (src/tsn_dsp_dw.h: two outputs a pass, input offset in the
    bias, padded plane on the stack or a window of rows moved down when the plane is over 1 KB):
    odd and even widths down to 1, dilation_h, rows longer than the 128 outputs requantized at
    once, multiplier 2, SAME and VALID, full-range (the fast requantization; biases and shifts
    past its bounds too) and clamped outputs."""
    rng = np.random.default_rng(500 + 10 * stride[0] + stride[1] + 100 * (mode == "window"))
    for i in range(8):
        dil = (1 + (i % 3 == 2), 1)
        w = int(rng.choice([1, 2, 3, 5, 6, 48, 70, 130]))
        width = w + 4
        h = int(rng.integers(3 + 2 * (dil[0] - 1), 8)) if mode == "plane" else \
            int(rng.integers(1100 // width + 2, 1100 // width + 12))
        c, mult = int(rng.choice([1, 3, 8])), 1 + (i % 4 == 3)
        oh, ow, pads = _geometry(rng, h, w, 3, 3, stride, dil)
        if ow < 1 or oh < 1:
            continue
        per_channel = bool(rng.integers(2))
        params = _params(rng, stride, pads, dil, mult)
        if i % 2:
            params.update(act_min=-128, act_max=127)
        x = rng.integers(-128, 128, (1, h, w, c), dtype=np.int8)
        filt = rng.integers(-127, 128, (1, 3, 3, c * mult), dtype=np.int8)
        big = 1 << 30 if i == 5 else 20000  # beyond the SMMLAR requantization's bias bound
        bias = rng.integers(-big, big, c * mult).astype(np.int32) if rng.integers(2) else None
        mults = rng.integers(1 << 30, (1 << 31) - 1, c * mult if per_channel else 1)
        shifts = rng.integers(-24 if i == 7 else -12, 0, c * mult if per_channel else 1)
        status, _ = engine.depthwise_conv2d(params, x, filt, bias, mults, shifts,
                                            (1, oh, ow, c * mult), per_channel=per_channel)
        assert status == 0


def test_dsp_add_random_scales(engine):
    """tsn_add_s8's DSP loops (the larger input halved exactly; the other rescaled or halved
    too; any activation range and output requantization) equal the portable C."""
    from firmware.test_kernels_more import More
    more = More(engine.lib, engine.twin.lib)  # .add repeats every call on the twin
    rng = np.random.default_rng(500)
    for _ in range(60):
        s1 = float(rng.choice([1.0, rng.uniform(0.001, 1.0), rng.uniform(1.0, 300.0)]))
        s2 = s1 if rng.integers(4) == 0 else float(rng.uniform(0.002, 0.5))
        so = float(rng.uniform(0.002, 2.0)) * max(s1, s2)
        fused = str(rng.choice(["NONE", "RELU", "RELU6"]))
        zps = [int(v) for v in rng.integers(-128, 128, 3)]
        params = qm.add_params(s1, zps[0], s2, zps[1], so, zps[2], fused)
        if rng.integers(6) == 0:   # a left shift other than TFLM's 20 (the C loops)
            params["left_shift"] = int(rng.integers(0, 20))
        n = int(rng.integers(1, 70))
        a, b = (rng.integers(-128, 128, n, dtype=np.int8) for _ in range(2))
        assert more.add(params, a, b)[0] == 0
