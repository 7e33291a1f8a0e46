"""Bit-exactness of the ADD, MAX_POOL_2D, MEAN, PAD, QUANTIZE and DEQUANTIZE kernels against
the tflite-micro Python interpreter.

As tests/firmware/test_kernels.py: a one-op Keras model with random weights, full int8 PTQ,
parameters read back from the flatbuffer (tinysweep.codegen.reader) and derived with
tinysweep.quant_math, the C kernel run through ctypes (the session's libtsn), every output byte
compared with tflite-micro's. LiteRT (delegates off) is compared too; LITERT_MAX_DIFF records
what it did (see firmware/engine/README.md).
"""
import ctypes as C
import zlib

import numpy as np
import pytest

from tinysweep import quant_math as qm
from tinysweep.codegen.reader import read_tflite_bytes

pytestmark = [
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),
    pytest.mark.filterwarnings("ignore:Statistics for quantized inputs:UserWarning"),
]

ARENA = 1 << 20
N_INPUTS = 4
LITERT_MAX_DIFF = {"ADD": 0, "MAX_POOL_2D": 0, "MEAN": 1, "PAD": 0}
LITERT_STATS = {op: {"values": 0, "differ": 0} for op in LITERT_MAX_DIFF}

_i32 = C.c_int32
_p_i8 = C.POINTER(C.c_int8)


class Dims(C.Structure):
    _fields_ = [("n", _i32), ("h", _i32), ("w", _i32), ("c", _i32)]


class AddParams(C.Structure):
    _fields_ = [(n, _i32) for n in (
        "input1_offset", "input2_offset", "output_offset", "left_shift", "input1_multiplier",
        "input1_shift", "input2_multiplier", "input2_shift", "output_multiplier", "output_shift",
        "act_min", "act_max")]


class PoolParams(C.Structure):
    _fields_ = [(n, _i32) for n in ("stride_h", "stride_w", "filter_h", "filter_w", "pad_top",
                                    "pad_left", "act_min", "act_max")]


class MeanParams(C.Structure):
    _fields_ = [(n, _i32) for n in ("input_offset", "output_offset", "multiplier", "shift")]


class PadParams(C.Structure):
    _fields_ = [(n, _i32) for n in ("pad_n", "pad_h", "pad_w", "pad_c", "pad_value")]


class AffineParams(C.Structure):
    _fields_ = [("scale", C.c_float), ("zero_point", _i32)]


def _p8(a):
    return a.ctypes.data_as(_p_i8)


def _d(shape):
    return Dims(*[int(v) for v in shape])


class More:
    """ctypes wrappers of the new kernels in the session's libtsn."""

    def __init__(self, lib, twin=None):
        self.lib = lib
        self.twin = None if twin is None else More(twin)  # the engine's DSP build: ADD repeated
        lib.tsn_add_s8.argtypes = [C.POINTER(AddParams), _i32, _p_i8, _p_i8, _p_i8]
        lib.tsn_maxpool_s8.argtypes = [C.POINTER(PoolParams), C.POINTER(Dims), _p_i8,
                                       C.POINTER(Dims), _p_i8]
        lib.tsn_mean_s8.argtypes = [C.POINTER(MeanParams), C.POINTER(Dims), _p_i8, _p_i8]
        lib.tsn_pad_s8.argtypes = [C.POINTER(PadParams), C.POINTER(Dims), _p_i8,
                                   C.POINTER(Dims), _p_i8]
        lib.tsn_quantize_f32_s8.argtypes = [C.POINTER(AffineParams), _i32,
                                            C.POINTER(C.c_float), _p_i8]
        lib.tsn_dequantize_s8_f32.argtypes = [C.POINTER(AffineParams), _i32, _p_i8,
                                              C.POINTER(C.c_float)]
        for name in ("tsn_add_s8", "tsn_maxpool_s8", "tsn_mean_s8", "tsn_pad_s8",
                     "tsn_quantize_f32_s8", "tsn_dequantize_s8_f32"):
            getattr(lib, name).restype = C.c_int

    def add(self, params, a, b):
        a, b = np.ascontiguousarray(a, np.int8), np.ascontiguousarray(b, np.int8)
        out = np.zeros_like(a)
        st = self.lib.tsn_add_s8(C.byref(AddParams(**params)), a.size, _p8(a), _p8(b), _p8(out))
        if self.twin is not None:
            twin = self.twin.add(params, a, b)
            assert twin[0] == st and np.array_equal(twin[1], out), \
                "tsn_add_s8: the DSP path differs from the portable C"
        return st, out

    def maxpool(self, params, x, out_shape):
        x = np.ascontiguousarray(x, np.int8)
        out = np.zeros(out_shape, np.int8)
        st = self.lib.tsn_maxpool_s8(C.byref(PoolParams(**params)), C.byref(_d(x.shape)), _p8(x),
                                     C.byref(_d(out_shape)), _p8(out))
        return st, out

    def mean(self, params, x):
        x = np.ascontiguousarray(x, np.int8)
        out = np.zeros((x.shape[0], x.shape[3]), np.int8)
        st = self.lib.tsn_mean_s8(C.byref(MeanParams(**params)), C.byref(_d(x.shape)), _p8(x),
                                  _p8(out))
        return st, out

    def pad(self, params, x, out_shape):
        x = np.ascontiguousarray(x, np.int8)
        out = np.zeros(out_shape, np.int8)
        st = self.lib.tsn_pad_s8(C.byref(PadParams(**params)), C.byref(_d(x.shape)), _p8(x),
                                 C.byref(_d(out_shape)), _p8(out))
        return st, out

    def quantize(self, scale, zp, x):
        x = np.ascontiguousarray(x, np.float32)
        out = np.zeros(x.shape, np.int8)
        st = self.lib.tsn_quantize_f32_s8(C.byref(AffineParams(scale, zp)), x.size,
                                          x.ctypes.data_as(C.POINTER(C.c_float)), _p8(out))
        return st, out

    def dequantize(self, scale, zp, q):
        q = np.ascontiguousarray(q, np.int8)
        out = np.zeros(q.shape, np.float32)
        st = self.lib.tsn_dequantize_s8_f32(C.byref(AffineParams(scale, zp)), q.size, _p8(q),
                                            out.ctypes.data_as(C.POINTER(C.c_float)))
        return st, out


@pytest.fixture(scope="module")
def more(engine):
    return More(engine.lib, engine.twin.lib)


@pytest.fixture(scope="module")
def keras():
    from tinysweep.tfcompat import keras
    return keras


# ---- conversion, oracles ---------------------------------------------------------------------

def _rng(case_id):
    return np.random.default_rng(zlib.crc32(case_id.encode()))


def convert(model, calib, float_io=False) -> bytes:
    """Full int8 PTQ; `calib` is a list of arrays, one per model input (rows = samples)."""
    from tinysweep.tfcompat import tf
    conv = tf.lite.TFLiteConverter.from_keras_model(model)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = lambda: ([c[k][None].astype(np.float32) for c in calib]
                                           for k in range(len(calib[0])))
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    if not float_io:
        conv.inference_input_type = tf.int8
        conv.inference_output_type = tf.int8
    return conv.convert()


def run_tflm(buf, inputs):
    """inputs: list over samples of lists over model inputs (arrays without the batch axis)."""
    from tflite_micro import runtime
    it = runtime.Interpreter.from_bytes(buf, arena_size=ARENA)
    outs = []
    for sample in inputs:
        for k, x in enumerate(sample):
            it.set_input(x[None], k)
        it.invoke()
        outs.append(np.array(it.get_output(0))[0])
    return np.stack(outs)


def run_litert(buf, inputs):
    from ai_edge_litert.interpreter import Interpreter, OpResolverType
    it = Interpreter(model_content=buf,
                     experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
    it.allocate_tensors()
    ins = sorted(it.get_input_details(), key=lambda d: d["index"])
    model_inputs = read_tflite_bytes(buf).inputs
    by_index = {d["index"]: d for d in ins}
    o_idx = it.get_output_details()[0]["index"]
    outs = []
    for sample in inputs:
        for k, x in enumerate(sample):
            it.set_tensor(by_index[model_inputs[k]]["index"], x[None])
        it.invoke()
        outs.append(it.get_tensor(o_idx)[0].copy())
    return np.stack(outs)


def random_int8(rng, shape, n=N_INPUTS):
    xs = [rng.integers(-128, 128, shape, dtype=np.int8) for _ in range(n)]
    return xs + [np.full(shape, -128, np.int8), np.full(shape, 127, np.int8)]


def single_op(buf, opcode):
    m = read_tflite_bytes(buf)
    assert [o.opcode for o in m.operators] == [opcode], [o.opcode for o in m.operators]
    return m, m.operators[0]


def check(opcode, buf, inputs, ours):
    ref = run_tflm(buf, inputs)
    ours = np.asarray(ours).reshape(ref.shape)
    bad = np.argwhere(ours != ref)
    assert bad.size == 0, (f"{opcode}: {len(bad)} of {ref.size} outputs differ from tflite-micro; "
                           f"first at {bad[0].tolist()}: ours {ours[tuple(bad[0])]}, "
                           f"tflite-micro {ref[tuple(bad[0])]}")
    lite = run_litert(buf, inputs)
    diffs = np.abs(lite.astype(np.int32) - ref.astype(np.int32))
    LITERT_STATS[opcode]["values"] += diffs.size
    LITERT_STATS[opcode]["differ"] += int((diffs != 0).sum())
    diff = int(diffs.max())
    assert diff <= LITERT_MAX_DIFF[opcode], f"{opcode}: LiteRT differs by up to {diff} LSB"


def set_quant(tensor_of_op, scale, zero_point):
    """Mutation: set the quantization of the op's output (or input k) in the flatbuffer."""
    import flatbuffers
    from ai_edge_litert import schema_py_generated as schema

    def apply(buf):
        m = schema.ModelT.InitFromPackedBuf(buf, 0)
        sg = m.subgraphs[0]
        t = sg.tensors[tensor_of_op(sg.operators[0])]
        t.quantization.scale, t.quantization.zeroPoint = [float(scale)], [int(zero_point)]
        b = flatbuffers.Builder(1024)
        b.Finish(m.Pack(b), file_identifier=b"TFL3")
        return bytes(b.Output())
    return apply


def set_activation(name):
    import flatbuffers
    from ai_edge_litert import schema_py_generated as schema

    def apply(buf):
        m = schema.ModelT.InitFromPackedBuf(buf, 0)
        op = m.subgraphs[0].operators[0]
        op.builtinOptions.fusedActivationFunction = getattr(schema.ActivationFunctionType, name)
        b = flatbuffers.Builder(1024)
        b.Finish(m.Pack(b), file_identifier=b"TFL3")
        return bytes(b.Output())
    return apply


# ---- ADD -------------------------------------------------------------------------------------

ADD_CASES = [
    # id, shape, sigma1, sigma2, relu, mutation
    ("same_scales", (6, 5, 7), 2.0, 2.0, False, None),
    ("scales_1_to_8", (6, 5, 7), 0.5, 4.0, False, None),
    ("scales_9_to_1_relu", (4, 4, 16), 9.0, 1.0, True, None),
    ("flat_relu", (37,), 1.5, 0.3, True, None),
    ("tiny_output_scale", (3, 3, 8), 1.0, 2.0, False,
     set_quant(lambda op: op.outputs[0], 0.004, 7)),
    ("relu6_clamp", (3, 5, 4), 3.0, 3.0, False, "relu6"),
]


@pytest.mark.parametrize("case", ADD_CASES, ids=[c[0] for c in ADD_CASES])
def test_add_matches_tflm(more, keras, case):
    cid, shape, s1, s2, relu, mutation = case
    rng = _rng(cid)
    L = keras.layers
    a, b = L.Input(shape), L.Input(shape)
    y = L.Add()([a, b])
    if relu:
        y = L.ReLU()(y)
    model = keras.Model([a, b], y)
    calib = [(rng.normal(0, s1, (16, *shape)) + s1 / 3).astype(np.float32),
             (rng.normal(0, s2, (16, *shape)) - s2 / 4).astype(np.float32)]
    buf = convert(model, calib)
    if mutation == "relu6":
        buf = set_activation("RELU6")(set_quant(lambda op: op.outputs[0], 0.05, -50)(buf))
    elif mutation is not None:
        buf = mutation(buf)
    m, op = single_op(buf, "ADD")
    t1, t2, to = (m.tensor(i) for i in (*op.inputs, op.outputs[0]))
    # map the op's inputs to the model's input order
    order = [m.inputs.index(i) for i in op.inputs]
    act = op.options.activation
    if relu:
        assert act == "RELU"
    params = qm.add_params(t1.quant.scale[0], t1.quant.zero_point[0], t2.quant.scale[0],
                           t2.quant.zero_point[0], to.quant.scale[0], to.quant.zero_point[0], act)
    if mutation == "relu6":
        assert (params["act_min"], params["act_max"]) == (-50, 70)
    samples = [[xa, xb] for xa, xb in zip(random_int8(rng, shape), random_int8(rng, shape)[::-1])]
    ours = []
    for sample in samples:
        st, out = more.add(params, sample[order[0]], sample[order[1]])
        assert st == 0
        ours.append(out)
    check("ADD", buf, samples, ours)


# ---- MAX_POOL_2D -----------------------------------------------------------------------------

MAXPOOL_CASES = [
    # id, input HWC, pool, strides, padding, mutation
    ("2x2_s2_valid", (8, 8, 4), (2, 2), (2, 2), "valid", None),
    ("3x3_s2_same_odd", (9, 7, 3), (3, 3), (2, 2), "same", None),
    ("3x3_s1_same", (6, 5, 5), (3, 3), (1, 1), "same", None),
    ("3x2_s2x1_same", (7, 6, 2), (3, 2), (2, 1), "same", None),
    ("2x2_s2_valid_odd_relu", (7, 9, 3), (2, 2), (2, 2), "valid", "RELU"),
    ("3x3_s2_same_relu6", (8, 8, 3), (3, 3), (2, 2), "same", "RELU6"),
]


@pytest.mark.parametrize("case", MAXPOOL_CASES, ids=[c[0] for c in MAXPOOL_CASES])
def test_maxpool_matches_tflm(more, keras, case):
    cid, shape, pool, strides, padding, act = case
    rng = _rng(cid)
    x = inp = keras.layers.Input(shape)
    model = keras.Model(inp, keras.layers.MaxPooling2D(pool, strides, padding)(x))
    buf = convert(model, [(rng.normal(0, 2, (16, *shape)) + 1).astype(np.float32)])
    if act is not None:
        # an activation needs the clamp to bite: zero point -20, scale so that 6.0 -> 100
        buf = set_activation(act)(set_quant(lambda op: op.outputs[0], 0.05, -20)(
            set_quant(lambda op: op.inputs[0], 0.05, -20)(buf)))
    m, op = single_op(buf, "MAX_POOL_2D")
    o = op.options
    x_t, y_t = m.tensor(op.inputs[0]), m.tensor(op.outputs[0])
    assert x_t.quant == y_t.quant
    pads = []
    for axis, (size, k, s) in enumerate(zip(shape[:2], (o.filter_h, o.filter_w),
                                            (o.stride_h, o.stride_w))):
        if o.padding == "SAME":
            out, pad = qm.same_padding(size, k, s)
        else:
            out, pad = qm.valid_output(size, k, s), 0
        assert out == y_t.shape[1 + axis]
        pads.append(pad)
    act_min, act_max = qm.activation_range(o.activation, y_t.quant.scale[0],
                                           y_t.quant.zero_point[0])
    if act == "RELU6":
        assert (act_min, act_max) == (-20, 100)
    params = dict(stride_h=o.stride_h, stride_w=o.stride_w, filter_h=o.filter_h,
                  filter_w=o.filter_w, pad_top=pads[0], pad_left=pads[1], act_min=act_min,
                  act_max=act_max)
    xs = random_int8(rng, shape)
    ours = []
    for xi in xs:
        st, out = more.maxpool(params, xi[None], y_t.shape)
        assert st == 0
        ours.append(out[0])
    check("MAX_POOL_2D", buf, [[xi] for xi in xs], ours)


# ---- MEAN (GlobalAveragePooling2D) -----------------------------------------------------------

MEAN_CASES = [
    # id, input HWC, keepdims, sigma, output quant (None: the converter's)
    ("8x8x16", (8, 8, 16), False, 2.0, None),
    ("3x3x64_keepdims", (3, 3, 64), True, 1.0, None),
    ("25x5x8", (25, 5, 8), False, 5.0, None),
    ("6x6x4_out_scale_x3", (6, 6, 4), False, 1.0, 3.0),
    ("5x7x6_out_scale_div5", (5, 7, 6), False, 2.0, 0.2),
    ("2x2x5_out_scale_div300", (2, 2, 5), False, 2.0, 1 / 300),
    ("1x1x9", (1, 1, 9), False, 1.0, 0.7),
]


@pytest.mark.parametrize("case", MEAN_CASES, ids=[c[0] for c in MEAN_CASES])
def test_mean_matches_tflm(more, keras, case):
    cid, shape, keepdims, sigma, out_factor = case
    rng = _rng(cid)
    x = inp = keras.layers.Input(shape)
    model = keras.Model(inp, keras.layers.GlobalAveragePooling2D(keepdims=keepdims)(x))
    buf = convert(model, [(rng.normal(0, sigma, (16, *shape)) + sigma / 2).astype(np.float32)])
    if out_factor is not None:
        s_in = read_tflite_bytes(buf).tensor(read_tflite_bytes(buf).inputs[0]).quant.scale[0]
        buf = set_quant(lambda op: op.outputs[0], s_in * out_factor, 5)(buf)
    m, op = single_op(buf, "MEAN")
    x_t, y_t = m.tensor(op.inputs[0]), m.tensor(op.outputs[0])
    assert tuple(int(v) for v in m.tensor(op.inputs[1]).array()) == (1, 2)
    assert op.options.keep_dims == keepdims
    mult, shift = qm.mean_params(x_t.quant.scale[0], y_t.quant.scale[0], shape[0] * shape[1])
    params = dict(input_offset=-x_t.quant.zero_point[0], output_offset=y_t.quant.zero_point[0],
                  multiplier=mult, shift=shift)
    xs = random_int8(rng, shape)
    ours = []
    for xi in xs:
        st, out = more.mean(params, xi[None])
        assert st == 0
        ours.append(out[0])
    check("MEAN", buf, [[xi] for xi in xs], ours)


# ---- PAD -------------------------------------------------------------------------------------

PAD_CASES = [
    # id, input HWC, ((top, bottom), (left, right))
    ("asym_1_2_0_3", (5, 4, 3), ((1, 2), (0, 3))),
    ("asym_2_0_1_1", (3, 6, 8), ((2, 0), (1, 1))),
    ("mobilenet_0_1_0_1", (8, 8, 4), ((0, 1), (0, 1))),
]


@pytest.mark.parametrize("case", PAD_CASES, ids=[c[0] for c in PAD_CASES])
def test_pad_matches_tflm(more, keras, case):
    cid, shape, padding = case
    rng = _rng(cid)
    x = inp = keras.layers.Input(shape)
    model = keras.Model(inp, keras.layers.ZeroPadding2D(padding)(x))
    # an offset input distribution: the zero point is far from 0, padding must use it
    buf = convert(model, [(rng.normal(0, 1, (16, *shape)) + 2.5).astype(np.float32)])
    m, op = single_op(buf, "PAD")
    x_t, y_t = m.tensor(op.inputs[0]), m.tensor(op.outputs[0])
    assert x_t.quant == y_t.quant and x_t.quant.zero_point[0] != 0
    paddings = m.tensor(op.inputs[1]).array()
    assert paddings.tolist() == [[0, 0], list(padding[0]), list(padding[1]), [0, 0]]
    params = dict(pad_n=int(paddings[0, 0]), pad_h=int(paddings[1, 0]), pad_w=int(paddings[2, 0]),
                  pad_c=int(paddings[3, 0]), pad_value=y_t.quant.zero_point[0])
    xs = random_int8(rng, shape)
    ours = []
    for xi in xs:
        st, out = more.pad(params, xi[None], y_t.shape)
        assert st == 0
        ours.append(out[0])
    check("PAD", buf, [[xi] for xi in xs], ours)


# ---- QUANTIZE / DEQUANTIZE at the edges of a float-I/O model ----------------------------------

def test_quantize_dequantize_edges_match_tflm(more, engine, keras):
    """float in -> QUANTIZE -> FULLY_CONNECTED -> DEQUANTIZE -> float out: our quantize, FC and
    dequantize kernels give tflite-micro's float outputs bit for bit, on inputs that include
    exact rounding ties, out-of-range values, and values straddling ties by one float ulp."""
    rng = _rng("quantize_edges")
    keras.utils.set_random_seed(5)
    x = inp = keras.layers.Input((12,))
    model = keras.Model(inp, keras.layers.Dense(5)(x))
    buf = convert(model, [rng.normal(0, 2, (32, 12)).astype(np.float32)], float_io=True)
    m = read_tflite_bytes(buf)
    assert [o.opcode for o in m.operators] == ["QUANTIZE", "FULLY_CONNECTED", "DEQUANTIZE"]
    q_op, fc_op, dq_op = m.operators
    assert m.tensor(m.inputs[0]).type == "FLOAT32" and m.tensor(m.outputs[0]).type == "FLOAT32"
    qt = m.tensor(q_op.outputs[0])
    s, zp = qt.quant.scale[0], qt.quant.zero_point[0]
    ties = ((np.arange(12) - 6 + 0.5) * np.float32(s)).astype(np.float32)
    samples = [rng.normal(0, 2, 12).astype(np.float32) for _ in range(4)]
    samples += [ties, np.nextafter(ties, np.float32(np.inf)), np.nextafter(ties, -np.inf),
                np.linspace(-1e3, 1e3, 12).astype(np.float32), np.zeros(12, np.float32)]
    w_t, y_t = m.tensor(fc_op.inputs[1]), m.tensor(fc_op.outputs[0])
    mults, shifts = qm.conv_per_channel_multipliers(s, w_t.quant.scale, y_t.quant.scale[0]) \
        if w_t.quant.per_channel else [[v] for v in qm.fc_per_tensor_multiplier(
            s, w_t.quant.scale[0], y_t.quant.scale[0])]
    bias = m.tensor(fc_op.inputs[2]).array() if len(fc_op.inputs) > 2 and fc_op.inputs[2] >= 0 \
        else None
    fc = dict(input_offset=-zp, output_offset=y_t.quant.zero_point[0], act_min=-128, act_max=127)
    ours = []
    for xi in samples:
        st, q = more.quantize(s, zp, xi)
        assert st == 0
        # the quantize kernel against a numpy transcription of TFLM's AffineQuantize
        y = xi / np.float32(s)
        expect = np.clip(np.array([qm.round_half_away(float(v)) for v in y]) + zp, -128, 127)
        assert np.array_equal(q, expect.astype(np.int8))
        st, yq = engine.fully_connected(fc, q[None], w_t.array(), bias, mults, shifts,
                                        per_channel=w_t.quant.per_channel)
        assert st == 0
        st, out = more.dequantize(y_t.quant.scale[0], y_t.quant.zero_point[0], yq[0])
        assert st == 0
        ours.append(out)
    ref = run_tflm(buf, [[xi] for xi in samples])
    assert np.array_equal(np.stack(ours).view(np.uint32), ref.view(np.uint32)), (ours, ref)


def test_new_kernels_reject_bad_arguments(more):
    x = np.zeros((1, 4, 4, 2), np.int8)
    pool = dict(stride_h=1, stride_w=1, filter_h=2, filter_w=2, pad_top=0, pad_left=0,
                act_min=-128, act_max=127)
    assert more.maxpool(pool, x, (1, 3, 3, 3))[0] == -1          # channel mismatch
    assert more.maxpool(dict(pool, stride_h=0), x, (1, 3, 3, 2))[0] == -1
    assert more.maxpool(dict(pool, pad_top=5), x, (1, 3, 3, 2))[0] == -1   # window all padding
    assert more.pad(dict(pad_n=0, pad_h=1, pad_w=0, pad_c=0, pad_value=0), x, (1, 4, 4, 2))[0] == -1
    assert more.pad(dict(pad_n=0, pad_h=0, pad_w=0, pad_c=0, pad_value=200), x, (1, 4, 4, 2))[0] == -1
    add = qm.add_params(0.1, 0, 0.1, 0, 0.1, 0)
    assert more.add(dict(add, left_shift=21), x, x)[0] == -1
    assert more.add(dict(add, act_min=5, act_max=4), x, x)[0] == -1
    assert more.quantize(0.0, 0, np.zeros(3, np.float32))[0] == -1
    assert more.lib.tsn_mean_s8(None, None, None, None) == -1
    assert more.lib.tsn_dequantize_s8_f32(None, 1, None, None) == -1


def test_litert_summary_more(record_property):
    """What LiteRT (delegates off) did relative to tflite-micro in this module (for the README)."""
    for op, st in LITERT_STATS.items():
        record_property(f"litert_{op}", f"{st['differ']} of {st['values']} differ")
        print(f"LiteRT vs tflite-micro {op}: {st['differ']} of {st['values']} outputs differ")
