"""Models trained elsewhere: a small Keras model saved as .keras, .h5 and SavedModel, and
EnergyRunner folders the tests make, through tinysweep.external, stages/import_model.py, the
params checks and the workflow's input functions."""
import json
import shlex
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import yaml

from tinysweep import config as cfg
from tinysweep import energyrunner as er
from tinysweep import external
from tinysweep.workflow import Helpers

REPO = Path(__file__).resolve().parents[1]
PARAMS = yaml.safe_load((REPO / "params.yaml").read_text())


def small_model(input_shape, outputs):
    from tinysweep.tfcompat import keras
    keras.utils.set_random_seed(3)
    x = inputs = keras.Input(input_shape)
    if len(input_shape) == 3:
        x = keras.layers.Conv2D(4, 3, strides=2, activation="relu")(x)
        x = keras.layers.GlobalAveragePooling2D()(x)
    x = keras.layers.Dense(outputs, activation="softmax" if outputs < 100 else None)(x)
    model = keras.Model(inputs, x)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    return model


@pytest.fixture(scope="module")
def kws_models(tmp_path_factory):
    """The same weights in the three formats."""
    root = tmp_path_factory.mktemp("models")
    model = small_model((49, 10, 1), 12)
    paths = {"keras": root / "m.keras", "h5": root / "m.h5", "savedmodel": root / "saved"}
    model.save(paths["keras"])
    model.save(paths["h5"])
    model.save(paths["savedmodel"], save_format="tf")
    return model, paths


def kws_folder(root, n=24, info=None):
    rng = np.random.default_rng(1)
    q = rng.integers(-128, 128, size=(n, 490), dtype=np.int8)
    labels = np.arange(n) % 12
    root.mkdir(parents=True)
    er.write_folder(root, [(er.sample_filename(i, int(y)), q[i].tobytes(), int(y))
                           for i, y in enumerate(labels)], 12, 490)
    if info:
        (root / "testset.json").write_text(json.dumps(info))
    return q, labels


@pytest.mark.parametrize("fmt", ["keras", "h5", "savedmodel"])
def test_every_format_gives_the_same_model_and_float_inputs(kws_models, tmp_path, fmt):
    from tinysweep.benchmarks import predict
    model, paths = kws_models
    q, labels = kws_folder(tmp_path / "kws01")
    loaded, arrays, record = external.build("kws", paths[fmt], tmp_path / "kws01", {})
    scale, zp = external.KWS_REFERENCE_INPUT
    want = ((q.astype(np.float32) - zp) * np.float32(scale)).reshape(-1, 49, 10, 1)
    np.testing.assert_array_equal(arrays["x_test"], want)
    np.testing.assert_array_equal(arrays["x_val"], want)      # calibrates on the same set
    np.testing.assert_array_equal(arrays["y_test"], labels)
    assert "x_train" not in arrays                             # PTQ only: no training data
    np.testing.assert_allclose(predict(loaded, want), predict(model, want), atol=1e-6)
    top1 = predict(model, want).argmax(-1)
    assert record["test_accuracy"] == pytest.approx(np.mean(top1 == labels))
    assert record["source"] == "external" and record["testset"]["samples"] == 24
    assert "kws_ref_model" in record["testset"]["conversion"]
    assert list(arrays["classes"]) == list(er.PROFILES["kws01"].class_names)


def test_kws_input_quantization_from_params_then_testset_json(tmp_path):
    q, _ = kws_folder(tmp_path / "ours", info={"input_scale": 0.25, "input_zero_point": -3})
    x, _, how = external.read_set(tmp_path / "ours", "kws", {})
    np.testing.assert_array_equal(x.reshape(len(q), -1), (q.astype(np.float32) + 3) * 0.25)
    assert how["input_scale"] == 0.25 and how["conversion"].endswith("testset.json)")
    x, _, how = external.read_set(tmp_path / "ours", "kws",
                                  {"input_scale": 0.5, "input_zero_point": 0})
    np.testing.assert_array_equal(x.reshape(len(q), -1), q.astype(np.float32) * 0.5)
    assert how["conversion"].endswith("(params.yaml)")


@pytest.mark.parametrize("bench, scale", [("ic", 1.0), ("vww", 1 / 255)])
def test_image_folders_hold_pixels(tmp_path, bench, scale):
    prof = er.profile(er.BENCHMARK_PROFILES[bench])
    pixels = np.random.default_rng(2).integers(0, 256, size=(4, prof.input_bytes), dtype=np.uint8)
    (tmp_path / "f").mkdir()
    er.write_folder(tmp_path / "f", [(f"s{i}.bin", p.tobytes(), i % 2) for i, p in enumerate(pixels)],
                    prof.num_classes, prof.input_bytes)
    x, y, how = external.read_set(tmp_path / "f", bench, {})
    assert x.shape == (4, *prof.shape) and how["pixel_scale"] == pytest.approx(scale)
    np.testing.assert_array_equal(x.reshape(4, -1), pixels.astype(np.float32) * np.float32(scale))
    x, _, _ = external.read_set(tmp_path / "f", bench, {"pixel_scale": 2.0})
    assert x.max() == 2.0 * pixels.max()


def test_ad_clips_and_calibration_windows(tmp_path):
    rng = np.random.default_rng(4)
    clips = [rng.normal(size=(frames, 128)).astype("<f4") for frames in (12, 10, 11)]
    (tmp_path / "ad01").mkdir()
    er.write_folder(tmp_path / "ad01", [(f"c{i}.bin", c.tobytes(), label) for i, (c, label)
                                        in enumerate(zip(clips, (0, 1, 0)))], 2, extra=(2560, 512))
    model = small_model((640,), 640)
    model_path = tmp_path / "ae.h5"
    model.save(model_path)
    _, arrays, record = external.build("ad", model_path, tmp_path / "ad01", {})
    assert arrays["x_test"].shape == (3, 10, 128)           # cut to the shortest clip
    np.testing.assert_array_equal(arrays["x_test"][0], clips[0][:10])
    assert arrays["x_val"].shape == ((10 - 4) + (10 - 4), 640)   # windows of the normal clips
    assert record["metric"] == "AUC" and 0 <= record["test_auc"] <= 1
    assert "cut to the shortest (10 frames)" in record["testset"]["conversion"]


def test_wrong_model_input_and_unloadable_model(kws_models, tmp_path):
    kws_folder(tmp_path / "kws01")
    bad = tmp_path / "bad.h5"
    small_model((640,), 8).save(bad)
    with pytest.raises(ValueError, match=r"bad.h5 takes input \(640,\), kws01 samples are \(49, 10, 1\)"):
        external.build("kws", bad, tmp_path / "kws01", {})
    junk = tmp_path / "junk.keras"
    junk.write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="cannot load the Keras model .*junk.keras"):
        external.build("kws", junk, tmp_path / "kws01", {})


def test_stage_writes_what_quantize_reads_and_calibrates_on_the_given_set(kws_models, tmp_path):
    _, paths = kws_models
    kws_folder(tmp_path / "kws01")
    kws_folder(tmp_path / "cal", n=12)
    out = tmp_path / "models" / "kws" / "external"
    cmd = [sys.executable, str(REPO / "stages" / "import_model.py"), "--benchmark", "kws",
           "--model", str(paths["h5"]), "--testset", str(tmp_path / "kws01"),
           "--calibration", str(tmp_path / "cal"), "--out", str(out / "float.keras"),
           "--features-out", str(out / "features.npz"), "--metrics", str(out / "train.json")]
    run = subprocess.run(cmd, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith(f"import_model: {paths['h5']}: float top-1 ")
    with np.load(out / "features.npz") as f:
        assert len(f["x_val"]) == 12 and len(f["x_test"]) == 24
    record = json.loads((out / "train.json").read_text())
    assert record["calibration"]["folder"] == str(tmp_path / "cal")
    # the quantize stage takes them as it takes train's outputs
    q = subprocess.run([sys.executable, str(REPO / "stages" / "quantize.py"), "--model",
                        str(out / "float.keras"), "--features", str(out / "features.npz"),
                        "--train-metrics", str(out / "train.json"),
                        "--config", json.dumps({"name": "8", "method": "ptq"}),
                        "--calibration-samples", "8", "--out",
                        str(tmp_path / "w8" / "model.tflite"), "--metrics",
                        str(tmp_path / "w8" / "quantize.json")], capture_output=True, text=True)
    assert q.returncode == 0, q.stderr
    quantized = json.loads((tmp_path / "w8" / "quantize.json").read_text())
    assert quantized["float_accuracy"]["value"] == record["test_accuracy"]
    assert quantized["test_accuracy_sim"]["samples"] == 24 and quantized["calibration_samples"] == 8
    bad = subprocess.run(cmd[:5] + [str(tmp_path / "missing.h5")] + cmd[6:],
                         capture_output=True, text=True)
    assert bad.returncode == 1
    assert bad.stderr.strip().splitlines()[-1] == (
        f"import_model: the Keras model {tmp_path / 'missing.h5'} not found")


def with_external(entry, bench="kws", bits=("8",)):
    params = yaml.safe_load(yaml.safe_dump(PARAMS))
    params["external"] = {bench: entry}
    params["matrix"]["bits"] = list(bits)
    return params


def test_params_errors_name_the_key_before_any_work(kws_models, tmp_path):
    _, paths = kws_models
    kws_folder(tmp_path / "kws01")
    ok = {"model": str(paths["savedmodel"]), "testset": str(tmp_path / "kws01")}
    cfg.validate(with_external(ok))
    (tmp_path / "empty").mkdir()
    for entry, bench, message in [
        ({**ok, "model": str(tmp_path / "nope.h5")}, "kws",
         f"external.kws.model = '{tmp_path / 'nope.h5'}' not found (want a .keras or .h5 file or a SavedModel folder)"),
        ({**ok, "model": str(tmp_path / "empty")}, "kws",
         f"external.kws.model = '{tmp_path / 'empty'}' is a folder without saved_model.pb"),
        ({**ok, "testset": str(tmp_path / "empty")}, "kws",
         f"external.kws.testset = '{tmp_path / 'empty'}' has no y_labels.csv"),
        ({**ok, "input_scale": 0.5}, "kws", "external.kws needs input_scale and input_zero_point together"),
        ({**ok, "pixel_scale": 0.5}, "kws", "external.kws.pixel_scale applies to ic and vww only"),
        ({**ok, "input_scale": 0.5, "input_zero_point": 1}, "ic", "external.ic.input_scale applies to kws only"),
        ({"model": ok["model"]}, "kws", "external.kws is missing the key 'testset'"),
    ]:
        with pytest.raises(cfg.ConfigError) as e:
            cfg.validate(with_external(entry, bench))
        assert message in str(e.value) and "\n" not in str(e.value)


def test_rules_take_the_imported_model_instead_of_training(kws_models, tmp_path):
    _, paths = kws_models
    kws_folder(tmp_path / "kws01")
    w = SimpleNamespace(bench="kws", device="host", bits="8")
    params = with_external({"model": str(paths["h5"]), "testset": str(tmp_path / "kws01"),
                            "input_scale": 0.5, "input_zero_point": 2})
    params["matrix"]["bits"] = [8, 4]   # no QAT configuration: no training data imported
    h = Helpers.checked(params)
    assert h.float_model(w) == "models/kws/external/float.keras"
    assert h.features(w) == "models/kws/external/features.npz"
    assert h.train_metrics(w) == "models/kws/external/train.json"
    assert h.import_inputs(w) == {"script": "stages/import_model.py", "model": str(paths["h5"]),
                                  "testset": str(tmp_path / "kws01")}
    args = shlex.split(h.import_args(w))
    assert args[args.index("--input-scale") + 1] == "0.5" and "--train-features" not in args
    # a QAT configuration fine-tunes on the benchmark's own training split
    qat = [name for name, c in PARAMS["quantize"]["configs"].items() if c["method"] == "qat"]
    h = Helpers.checked(with_external({"model": str(paths["h5"]), "testset": str(tmp_path / "kws01")},
                                      bits=["8"] + qat))
    assert h.import_inputs(w)["train_features"] == "data/datasets/kws/features.npz"
    args = shlex.split(h.import_args(w))
    assert args[args.index("--train-features") + 1] == "data/datasets/kws/features.npz"
    plain = Helpers.checked(PARAMS)
    assert plain.float_model(w) == "models/kws/float.keras"
    assert plain.features(w) == "data/datasets/kws/features.npz"
    with pytest.raises(SystemExit, match="external.kws is not set"):
        plain.import_inputs(w)


def test_qat_gets_the_benchmarks_training_split_at_the_models_pixel_scale(tmp_path):
    """ic features are raw pixels (pixel_scale 1); a model taking pixels / 255 gets its
    training split rescaled the same way as its EnergyRunner set."""
    prof = er.profile("ic01")
    pixels = np.random.default_rng(5).integers(0, 256, size=(3, prof.input_bytes), dtype=np.uint8)
    (tmp_path / "ic01").mkdir()
    er.write_folder(tmp_path / "ic01", [(f"s{i}.bin", p.tobytes(), i) for i, p in enumerate(pixels)],
                    10, prof.input_bytes)
    x_train = np.random.default_rng(6).integers(0, 256, size=(5, 32, 32, 3)).astype(np.float32)
    np.savez(tmp_path / "features.npz", x_train=x_train, y_train=np.arange(5),
             pixel_scale=np.float32(1.0))
    small_model((32, 32, 3), 10).save(tmp_path / "ic.h5")
    _, arrays, record = external.build("ic", tmp_path / "ic.h5", tmp_path / "ic01",
                                       {"pixel_scale": 1 / 255}, train_features=tmp_path / "features.npz")
    np.testing.assert_allclose(arrays["x_train"], x_train / 255, rtol=1e-6)
    np.testing.assert_array_equal(arrays["y_train"], np.arange(5))
    assert arrays["pixel_scale"] == np.float32(1 / 255)
    assert record["training_data"] == str(tmp_path / "features.npz")
