"""Code generation: deterministic, sha-stamped C that compiles; clear refusals of what it lacks."""
import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tinysweep.codegen import Unsupported, generate, read_tflite, read_tflite_bytes

REPO = Path(__file__).resolve().parents[2]


def mutate(buf: bytes, edit) -> bytes:
    """Re-serialize a .tflite after `edit(ModelT)`: hand-made variants of a real model."""
    import flatbuffers
    from ai_edge_litert import schema_py_generated as schema
    m = schema.ModelT.InitFromPackedBuf(buf, 0)
    edit(m)
    b = flatbuffers.Builder(1024)
    b.Finish(m.Pack(b), file_identifier=b"TFL3")
    return bytes(b.Output())


@pytest.fixture(scope="module")
def kws_bytes(small_kws_tflite):
    return small_kws_tflite.read_bytes()


@pytest.fixture(scope="module")
def generated(kws_bytes):
    return generate(read_tflite_bytes(kws_bytes), "kws01")


def test_output_is_deterministic(kws_bytes, generated):
    again = generate(read_tflite_bytes(kws_bytes), "kws01")
    assert again.model_c == generated.model_c
    assert again.model_h == generated.model_h
    assert again.model_json == generated.model_json
    # a re-serialized but identical graph is a different file: different stamp, same code
    same_graph = mutate(kws_bytes, lambda m: None)
    other = generate(read_tflite_bytes(same_graph), "kws01")
    if same_graph != kws_bytes:
        assert other.info["sha256"] != generated.info["sha256"]
    strip = lambda s: re.sub(r"[0-9a-f]{64}", "SHA", s)  # noqa: E731
    assert strip(other.model_c) == strip(generated.model_c)


def test_sha256_stamps(kws_bytes, generated):
    import hashlib
    sha = hashlib.sha256(kws_bytes).hexdigest()
    assert f'#define TSN_MODEL_SHA256 "{sha}"' in generated.model_h
    assert f"Model sha256: {sha}" in generated.model_c.split("*/")[0]   # the header comment
    assert f"Model sha256: {sha}" in generated.model_h.split("*/")[0]
    assert generated.info["sha256"] == sha


def _macro(header: str, name: str) -> str:
    m = re.search(rf"^#define {name} (.+)$", header, re.M)
    assert m, f"{name} missing"
    return m.group(1).strip()


def test_generated_api(generated):
    h, info = generated.model_h, generated.info
    assert _macro(h, "TSN_MODEL_PROFILE") == '"kws01"'
    assert _macro(h, "TSN_MODEL_INPUT_BYTES") == "490"
    assert _macro(h, "TSN_MODEL_OUTPUT_COUNT") == "12"
    assert _macro(h, "TSN_MODEL_OUTPUT_SCALE") == "0.00390625f"
    assert _macro(h, "TSN_MODEL_OUTPUT_ZERO_POINT") == "(-128)"
    assert int(_macro(h, "TSN_MODEL_ARENA_BYTES")) == info["arena_bytes"]
    assert int(info["arena_bytes"]) % 16 == 0
    for proto in ("int8_t *tsn_model_input(void);", "const int8_t *tsn_model_output(void);",
                  "tsn_status tsn_model_invoke(void);"):
        assert proto in h
    c = generated.model_c
    assert "static int8_t tsn_arena[TSN_MODEL_ARENA_BYTES] TSN_ALIGNED(16);" in c
    # one checked kernel call per computing node, none for the RESHAPE
    calls = re.findall(r"status = (tsn_\w+)\(", c)
    # the depthwise and 1x1 convolutions run in place (their inputs die there)
    assert calls == ["tsn_conv2d_s8", "tsn_depthwise_conv2d_inplace_s8",
                     "tsn_conv2d_1x1_inplace_s8", "tsn_depthwise_conv2d_inplace_s8",
                     "tsn_conv2d_1x1_inplace_s8", "tsn_avgpool_s8",
                     "tsn_fully_connected_s8", "tsn_softmax_s8"]
    assert c.count("if (status != TSN_OK) {") == len(calls)
    assert "static const int8_t tensor_12[320]" in c      # weights are const arrays
    assert "malloc" not in c


def test_model_json(generated):
    info = json.loads(generated.model_json)
    # conv 25*5*8*40 + 2 dw 25*5*8*9 + 2 pw 25*5*8*8 + fc 8*12
    assert info["macs"] == 40000 + 2 * 9000 + 2 * 8000 + 96
    assert [o["macs"] for o in info["ops"]] == [40000, 9000, 8000, 9000, 8000, 0, 0, 96, 0]
    assert [o["op"] for o in info["ops"]][5:] == ["AVERAGE_POOL_2D", "RESHAPE", "FULLY_CONNECTED",
                                                  "SOFTMAX"]
    assert info["weights_bytes"] == 320 + 2 * 72 + 2 * 64 + 96 + 5 * 8 * 4   # int8 + int32 biases
    assert info["weight_bits"] == 8
    assert info["profile"] == "kws01"
    assert info["input"]["shape"] == [1, 49, 10, 1] and info["input"]["bytes"] == 490
    assert info["output"]["shape"] == [1, 12]
    assert info["output"]["scale"] == 1 / 256 and info["output"]["zero_point"] == -128
    assert info["arena_lower_bound"] <= info["arena_bytes"]
    # in-place convolutions: scratch buffers in the arena (3 input rows of 5 bytes for the
    # depthwise, 8 for the pointwise); their outputs sit at their inputs' offsets
    assert [(s["node"], s["bytes"]) for s in info["scratch"]] == [(1, 15), (2, 8), (3, 15),
                                                                  (4, 8)]
    assert all(s["offset"] % 16 == 0 and s["offset"] + s["bytes"] <= info["arena_bytes"]
               for s in info["scratch"])
    assert [o["kernel"] for o in info["ops"]][1:3] == ["tsn_depthwise_conv2d_inplace_s8",
                                                       "tsn_conv2d_1x1_inplace_s8"]


def test_generated_c_compiles_warning_free(generated, tmp_path):
    generated.write(tmp_path)
    run = subprocess.run(["gcc", "-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic",
                          "-fsyntax-only", f"-I{REPO / 'firmware/engine/include'}",
                          str(tmp_path / "model.c")], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr


def test_profile_must_be_a_plain_name(kws_bytes):
    with pytest.raises(ValueError, match="profile"):
        generate(read_tflite_bytes(kws_bytes), 'kws"01')


# ---- refusals ----------------------------------------------------------------------------------

def _set_conv0(**fields):
    def edit(m):
        opts = m.subgraphs[0].operators[0].builtinOptions
        for k, v in fields.items():
            setattr(opts, k, v)
    return edit


def test_dilated_conv_is_unsupported(kws_bytes):
    buf = mutate(kws_bytes, _set_conv0(dilationHFactor=2, dilationWFactor=2))
    with pytest.raises(Unsupported) as e:
        generate(read_tflite_bytes(buf), "kws01")
    assert str(e.value) == "op CONV_2D (int8, dilation 2x2) at node 0 is not supported"


def test_unsupported_fused_activation(kws_bytes):
    buf = mutate(kws_bytes, _set_conv0(fusedActivationFunction=4))   # TANH
    with pytest.raises(Unsupported, match=r"^op CONV_2D \(int8, fused activation TANH\) at node 0 "
                                          r"is not supported$"):
        generate(read_tflite_bytes(buf), "kws01")


def _convert(model, quantize):
    from tinysweep.quantize import quantize_int8
    from tinysweep.tfcompat import tf
    if quantize:
        calib = np.random.default_rng(0).normal(0, 1, (16, *model.input_shape[1:])).astype(np.float32)
        return quantize_int8(model, calib)
    return tf.lite.TFLiteConverter.from_keras_model(model).convert()


@pytest.fixture(scope="module")
def tanh_tflite(tmp_path_factory):
    from tinysweep.tfcompat import keras
    keras.utils.set_random_seed(0)
    inp = keras.layers.Input((8,))
    model = keras.Model(inp, keras.layers.Dense(4, activation="tanh")(inp))
    path = tmp_path_factory.mktemp("tanh") / "tanh.tflite"
    path.write_bytes(_convert(model, quantize=True))
    return path


def test_tanh_is_unsupported(tanh_tflite):
    model = read_tflite(tanh_tflite)
    node = [op.opcode for op in model.operators].index("TANH")
    with pytest.raises(Unsupported) as e:
        generate(model, "kws01")
    assert str(e.value) == f"op TANH (int8, no tsn kernel) at node {node} is not supported"


def test_float_model_is_unsupported(tmp_path):
    from tinysweep.tfcompat import keras
    inp = keras.layers.Input((8,))
    model = keras.Model(inp, keras.layers.Dense(4)(inp))
    with pytest.raises(Unsupported, match=r"^op FULLY_CONNECTED \(float32, only int8 tensors\) "
                                          r"at node 0 is not supported$"):
        generate(read_tflite_bytes(_convert(model, quantize=False)), "kws01")


# ---- the stage ---------------------------------------------------------------------------------

def _stage(*args):
    return subprocess.run([sys.executable, str(REPO / "stages/convert.py"), *map(str, args)],
                          capture_output=True, text=True, cwd=REPO)


def test_convert_stage_writes_identical_folders(small_kws_tflite, tmp_path):
    for out in ("a", "b"):
        run = _stage("--model", small_kws_tflite, "--profile", "kws01", "--out", tmp_path / out)
        assert run.returncode == 0, run.stderr
        assert sorted(p.name for p in (tmp_path / out).iterdir()) == ["model.c", "model.h",
                                                                     "model.json"]
    for name in ("model.c", "model.h", "model.json"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]   # no partial folders


def test_convert_stage_errors_are_one_line(tanh_tflite, tmp_path):
    run = _stage("--model", tmp_path / "missing.tflite", "--profile", "kws01", "--out", tmp_path / "o")
    assert run.returncode == 1
    assert run.stderr.strip().splitlines() == [
        f"convert: model file {tmp_path / 'missing.tflite'} does not exist"]
    run = _stage("--model", tanh_tflite, "--profile", "kws01", "--out", tmp_path / "o")
    assert run.returncode == 1
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and re.fullmatch(
        r"convert: op TANH \(int8, no tsn kernel\) at node \d+ is not supported", lines[0]), lines
    assert not (tmp_path / "o").exists()


# ---- ADD, MAX_POOL_2D, MEAN, PAD, SQUEEZE --------------------------------------------------------

@pytest.fixture(scope="module")
def ops_tflite_bytes():
    """Residual ADD (fused ReLU), PAD, MAX_POOL_2D, MEAN, dense, softmax."""
    from tinysweep.tfcompat import keras
    keras.utils.set_random_seed(4)
    L = keras.layers
    x = inp = L.Input((9, 8, 3))
    x = L.Conv2D(4, 3, padding="same")(x)
    y = L.Conv2D(4, 1)(x)
    x = L.ReLU()(L.Add()([x, y]))
    x = L.ZeroPadding2D(((1, 0), (0, 2)))(x)
    x = L.MaxPooling2D(2, 2)(x)
    x = L.GlobalAveragePooling2D()(x)
    x = L.Dense(3, activation="softmax")(x)
    return _convert(keras.Model(inp, x), quantize=True)


def test_new_ops_generate_and_compile(ops_tflite_bytes, tmp_path):
    model = read_tflite_bytes(ops_tflite_bytes)
    ops = [op.opcode for op in model.operators]
    assert {"ADD", "PAD", "MAX_POOL_2D", "MEAN"} <= set(ops), ops
    g = generate(model, "ic01")
    assert g.model_c == generate(model, "ic01").model_c           # deterministic
    calls = re.findall(r"status = (tsn_\w+)\(", g.model_c)
    for fn in ("tsn_add_s8", "tsn_pad_s8", "tsn_maxpool_s8", "tsn_mean_s8"):
        assert fn in calls
    kernels = {o["op"]: o["kernel"] for o in g.info["ops"]}
    assert kernels["ADD"] == "tsn_add_s8" and kernels["MEAN"] == "tsn_mean_s8"
    add = next(s for s in re.split(r"\n\n", g.model_c) if "tsn_add_params" in s)
    assert ".left_shift = 20" in add and ".act_max = 127" in add
    g.write(tmp_path)
    run = subprocess.run(["gcc", "-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic",
                          "-fsyntax-only", f"-I{REPO / 'firmware/engine/include'}",
                          str(tmp_path / "model.c")], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr


def test_broadcast_add_is_unsupported(ops_tflite_bytes):
    """A hand-made shape mismatch: ADD's second input replaced by the 9x8x3 model input."""
    import dataclasses
    m = read_tflite_bytes(ops_tflite_bytes)
    add = next(op for op in m.operators if op.opcode == "ADD")
    ops = tuple(dataclasses.replace(op, inputs=(op.inputs[0], m.inputs[0])) if op is add else op
                for op in m.operators)
    m = dataclasses.replace(m, operators=ops)
    with pytest.raises(Unsupported) as e:
        generate(m, "ic01")
    assert str(e.value) == (f"op ADD (int8, broadcasting 1x9x8x4 + 1x9x8x3) "
                            f"at node {add.index} is not supported")


# ---- float32 edges -------------------------------------------------------------------------------

def test_float_edges_are_bit_exact(tmp_path):
    """A float-I/O model (QUANTIZE -> conv, ADD ... -> DEQUANTIZE): the generated
    tsn_model_quantize_input / invoke / tsn_model_dequantize_output, built with the engine into a
    shared library, give tflite-micro's float outputs bit for bit."""
    import ctypes as C
    from tflite_micro import runtime
    from tinysweep.tfcompat import keras, tf
    keras.utils.set_random_seed(8)
    L = keras.layers
    x = inp = L.Input((6, 5, 2))
    x = L.Conv2D(3, 3, padding="same")(x)
    x = L.ReLU()(L.Add()([x, L.Conv2D(3, 1)(x)]))
    x = L.Dense(4)(L.Flatten()(x))
    rng = np.random.default_rng(3)
    conv = tf.lite.TFLiteConverter.from_keras_model(keras.Model(inp, x))
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = lambda: ([rng.normal(0, 2, (1, 6, 5, 2)).astype(np.float32)]
                                           for _ in range(16))
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    buf = conv.convert()                                   # float32 input and output
    model = read_tflite_bytes(buf)
    assert model.operators[0].opcode == "QUANTIZE" and model.operators[-1].opcode == "DEQUANTIZE"
    g = generate(model, "ic01")
    assert "tsn_status tsn_model_quantize_input(const float *input);" in g.model_h
    assert "tsn_status tsn_model_dequantize_output(float *output);" in g.model_h
    assert g.info["float_edges"]["input"]["node"] == 0
    assert g.info["float_edges"]["output"]["op"] == "DEQUANTIZE"
    assert g.info["input"]["dtype"] == "int8" and g.info["input"]["bytes"] == 60
    g.write(tmp_path)
    engine = REPO / "firmware" / "engine"
    lib = tmp_path / "libmodel.so"
    run = subprocess.run(["gcc", "-shared", "-fPIC", "-O2", "-std=c99", "-Wall", "-Wextra",
                          "-Werror", f"-I{engine / 'include'}", f"-I{engine / 'src'}",
                          f"-I{tmp_path}", str(tmp_path / "model.c"),
                          *sorted(map(str, (engine / "src").glob("*.c"))), "-o", str(lib)],
                         capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    so = C.CDLL(str(lib))
    it = runtime.Interpreter.from_bytes(buf, arena_size=1 << 20)
    f32p = C.POINTER(C.c_float)
    so.tsn_model_quantize_input.argtypes = [f32p]
    so.tsn_model_dequantize_output.argtypes = [f32p]
    for k in range(6):
        xin = (rng.normal(0, 3, (6, 5, 2)) * (k + 1)).astype(np.float32)
        out = np.zeros(4, np.float32)
        assert so.tsn_model_quantize_input(xin.ctypes.data_as(f32p)) == 0
        assert so.tsn_model_invoke() == 0
        assert so.tsn_model_dequantize_output(out.ctypes.data_as(f32p)) == 0
        it.set_input(xin[None], 0)
        it.invoke()
        ref = np.array(it.get_output(0)).reshape(-1).astype(np.float32)
        assert np.array_equal(out.view(np.uint32), ref.view(np.uint32)), (k, out, ref)


def test_quantize_inside_the_graph_is_unsupported(kws_bytes):
    """QUANTIZE anywhere but at the input edge keeps the standard refusal."""
    from ai_edge_litert import schema_py_generated as schema

    def edit(m):
        codes = m.operatorCodes
        op = m.subgraphs[0].operators[5]                  # the average pool
        c = schema.OperatorCodeT()
        c.builtinCode = c.deprecatedBuiltinCode = schema.BuiltinOperator.QUANTIZE
        c.version = 1
        codes.append(c)
        op.opcodeIndex = len(codes) - 1
        op.builtinOptionsType, op.builtinOptions = 0, None
    with pytest.raises(Unsupported) as e:
        generate(read_tflite_bytes(mutate(kws_bytes, edit)), "kws01")
    assert str(e.value) == ("op QUANTIZE (int8, only at the model's input edge) at node 5 "
                            "is not supported")
