"""Build the tsn C engine into a shared library once per session and wrap it with ctypes.

The wrappers take and return numpy arrays; each returns (status, output). The engine is built
twice: the portable C kernels, and a twin with the Cortex-M DSP path forced on
(TSN_DSP_EMULATE: the same DSP code, its few SIMD instructions emulated in C). Every
convolution / fully-connected call runs on both and must agree bit for bit, so each test that
checks a kernel against tflite-micro checks its DSP path too."""
import ctypes as C
import subprocess
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]
ENGINE = REPO / "firmware" / "engine"
PROBE = Path(__file__).with_name("requant_probe.c")
CFLAGS = ["-shared", "-fPIC", "-O2", "-std=c99", "-Wall", "-Wextra", "-Werror"]
DSP_CFLAGS = ["-DTSN_DSP_EMULATE"]  # the DSP path (src/tsn_dsp.h) on the host

TSN_OK = 0
TSN_ERROR_ARGUMENT = -1

_i32 = C.c_int32
_p_i8 = C.POINTER(C.c_int8)
_p_i32 = C.POINTER(C.c_int32)


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


class PoolParams(C.Structure):
    _fields_ = [(name, _i32) for name in (
        "stride_h", "stride_w", "filter_h", "filter_w", "pad_top", "pad_left", "act_min",
        "act_max")]


class SoftmaxParams(C.Structure):
    _fields_ = [(name, _i32) for name in ("input_multiplier", "input_left_shift", "diff_min")]


def _ptr(a, ctype):
    return None if a is None else a.ctypes.data_as(C.POINTER(ctype))


def _i8(a):
    return np.ascontiguousarray(a, dtype=np.int8)


def _i32a(a):
    return np.ascontiguousarray(a, dtype=np.int32)


def _dims(shape):
    shape = tuple(int(s) for s in shape)
    assert len(shape) == 4, shape
    return Dims(*shape)


class Engine:
    """ctypes view of libtsn: one method per public kernel, plus the math probes."""

    def __init__(self, path: Path, twin: "Engine | None" = None):
        self.twin = twin  # the DSP build: conv / depthwise / FC calls are repeated on it
        self.lib = lib = C.CDLL(str(path))
        lib.tsn_conv2d_s8.argtypes = [C.POINTER(ConvParams), C.POINTER(Requant), C.POINTER(Dims),
                                      _p_i8, C.POINTER(Dims), _p_i8, _p_i32, C.POINTER(Dims), _p_i8]
        lib.tsn_depthwise_conv2d_s8.argtypes = lib.tsn_conv2d_s8.argtypes
        lib.tsn_fully_connected_s8.argtypes = [C.POINTER(FcParams), C.POINTER(Requant), _i32, _i32,
                                               _p_i8, _i32, _p_i8, _p_i32, _p_i8]
        lib.tsn_avgpool_s8.argtypes = [C.POINTER(PoolParams), C.POINTER(Dims), _p_i8,
                                       C.POINTER(Dims), _p_i8]
        lib.tsn_softmax_s8.argtypes = [C.POINTER(SoftmaxParams), _i32, _i32, _p_i8, _p_i8]
        for name in ("tsn_conv2d_s8", "tsn_depthwise_conv2d_s8", "tsn_fully_connected_s8",
                     "tsn_avgpool_s8", "tsn_softmax_s8"):
            getattr(lib, name).restype = C.c_int
        for name, nargs in (("tsn_probe_srdhm", 2), ("tsn_probe_rounding_divide_by_pot", 2),
                            ("tsn_probe_requantize", 3), ("tsn_probe_exp_on_negative_values_q5", 1)):
            getattr(lib, name).argtypes = [_i32] * nargs
            getattr(lib, name).restype = _i32
        lib.tsn_probe_get_reciprocal.argtypes = [_i32, _i32, _p_i32]
        lib.tsn_probe_get_reciprocal.restype = _i32

    @staticmethod
    def _requant(multipliers, shifts, per_channel):
        m, s = _i32a(multipliers), _i32a(shifts)
        return Requant(_ptr(m, C.c_int32), _ptr(s, C.c_int32), int(per_channel)), (m, s)

    def _twin_agrees(self, name, result, *args):
        """Repeat a kernel call on the DSP twin; its status and output must equal result's."""
        if self.twin is not None:
            status, out = getattr(self.twin, name)(*args)
            assert status == result[0] and np.array_equal(out, result[1]), \
                f"{name}: the DSP path differs from the portable C"
        return result

    def _conv_like(self, fn, params, x, filt, bias, multipliers, shifts, per_channel, out_shape):
        x, filt = _i8(x), _i8(filt)
        bias = None if bias is None else _i32a(bias)
        out = np.zeros(out_shape, dtype=np.int8)
        rq, keep = self._requant(multipliers, shifts, per_channel)
        status = fn(C.byref(ConvParams(**params)), C.byref(rq), C.byref(_dims(x.shape)),
                    _ptr(x, C.c_int8), C.byref(_dims(filt.shape)), _ptr(filt, C.c_int8),
                    _ptr(bias, C.c_int32), C.byref(_dims(out_shape)), _ptr(out, C.c_int8))
        del keep
        return status, out

    def conv2d(self, params, x, filt, bias, multipliers, shifts, out_shape, per_channel=True):
        """x NHWC, filt OHWI (int8), bias int32 or None; params: ConvParams fields."""
        return self._twin_agrees("conv2d", self._conv_like(
            self.lib.tsn_conv2d_s8, params, x, filt, bias, multipliers, shifts, per_channel,
            out_shape), params, x, filt, bias, multipliers, shifts, out_shape, per_channel)

    def depthwise_conv2d(self, params, x, filt, bias, multipliers, shifts, out_shape,
                         per_channel=True):
        """x NHWC, filt 1HW(C*M) (int8), bias int32 or None."""
        return self._twin_agrees("depthwise_conv2d", self._conv_like(
            self.lib.tsn_depthwise_conv2d_s8, params, x, filt, bias, multipliers, shifts,
            per_channel, out_shape), params, x, filt, bias, multipliers, shifts, out_shape,
            per_channel)

    def fully_connected(self, params, x, weights, bias, multipliers, shifts, per_channel=False):
        """x [batches][in], weights [out][in], bias int32 [out] or None."""
        return self._twin_agrees("fully_connected", self._fully_connected(
            params, x, weights, bias, multipliers, shifts, per_channel), params, x, weights, bias,
            multipliers, shifts, per_channel)

    def _fully_connected(self, params, x, weights, bias, multipliers, shifts, per_channel):
        x, weights = _i8(x), _i8(weights)
        bias = None if bias is None else _i32a(bias)
        batches, depth = x.shape
        out = np.zeros((batches, weights.shape[0]), dtype=np.int8)
        rq, keep = self._requant(multipliers, shifts, per_channel)
        status = self.lib.tsn_fully_connected_s8(
            C.byref(FcParams(**params)), C.byref(rq), batches, depth, _ptr(x, C.c_int8),
            weights.shape[0], _ptr(weights, C.c_int8), _ptr(bias, C.c_int32), _ptr(out, C.c_int8))
        del keep
        return status, out

    def avgpool(self, params, x, out_shape):
        return self._twin_agrees("avgpool", self._avgpool(params, x, out_shape), params, x,
                                 out_shape)

    def _avgpool(self, params, x, out_shape):
        x = _i8(x)
        out = np.zeros(out_shape, dtype=np.int8)
        status = self.lib.tsn_avgpool_s8(C.byref(PoolParams(**params)), C.byref(_dims(x.shape)),
                                         _ptr(x, C.c_int8), C.byref(_dims(out_shape)),
                                         _ptr(out, C.c_int8))
        return status, out

    def softmax(self, params, x):
        """Softmax over the last axis of x (any rank)."""
        x = _i8(x)
        out = np.zeros_like(x)
        depth = x.shape[-1]
        status = self.lib.tsn_softmax_s8(C.byref(SoftmaxParams(**params)), x.size // depth, depth,
                                         _ptr(x, C.c_int8), _ptr(out, C.c_int8))
        return status, out

    # math probes (tests/firmware/requant_probe.c)
    def srdhm(self, a, b):
        return self.lib.tsn_probe_srdhm(a, b)

    def rounding_divide_by_pot(self, x, exponent):
        return self.lib.tsn_probe_rounding_divide_by_pot(x, exponent)

    def requantize(self, x, multiplier, shift):
        return self.lib.tsn_probe_requantize(x, multiplier, shift)

    def exp_on_negative_values_q5(self, a):
        return self.lib.tsn_probe_exp_on_negative_values_q5(a)

    def get_reciprocal(self, x, integer_digits):
        bits = C.c_int32(0)
        r = self.lib.tsn_probe_get_reciprocal(x, integer_digits, C.byref(bits))
        return r, bits.value


def _engine_build(out_dir: Path, extra_sources=(), extra_cflags=()):
    """(gcc command, library path) compiling every engine source (firmware/engine/src/*.c) plus
    extra_sources into a .so."""
    sources = sorted(str(p) for p in (ENGINE / "src").glob("*.c")) + [str(s) for s in extra_sources]
    lib = out_dir / "libtsn.so"
    return ["gcc", *CFLAGS, *extra_cflags, f"-I{ENGINE / 'include'}", f"-I{ENGINE / 'src'}",
            *sources, "-o", str(lib)], lib


def build_engines(*builds) -> list:
    """Run the (command, library) builds at once; their library paths."""
    procs = [(subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True),
              cmd) for cmd, _ in builds]
    for proc, cmd in procs:
        _, err = proc.communicate()
        if proc.returncode != 0:
            pytest.fail(f"engine build failed:\n{' '.join(cmd)}\n{err}", pytrace=False)
    return [lib for _, lib in builds]


def build_engine(out_dir: Path, extra_sources=(), extra_cflags=()) -> Path:
    """Compile every engine source (firmware/engine/src/*.c) plus extra_sources into a .so."""
    return build_engines(_engine_build(out_dir, extra_sources, extra_cflags))[0]


@pytest.fixture(scope="session")
def engine(tmp_path_factory) -> Engine:
    portable, dsp = build_engines(
        _engine_build(tmp_path_factory.mktemp("tsn_engine"), [PROBE]),
        _engine_build(tmp_path_factory.mktemp("tsn_engine_dsp"), [PROBE], DSP_CFLAGS))
    return Engine(portable, twin=Engine(dsp))
