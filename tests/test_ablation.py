"""The PTQ ablation stage and the simulated figures it rests on (a tiny Keras model trained for
a few steps on a tiny features.npz the test makes)."""
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tinysweep import ablation, simulate

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """A small conv classifier on 12 x 8 x 1 inputs, its features.npz and train.json."""
    from tinysweep.tfcompat import keras
    root = tmp_path_factory.mktemp("tiny")
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, size=150)
    x = (rng.normal(size=(150, 12, 8, 1)) + y[:, None, None, None]).astype(np.float32)
    keras.utils.set_random_seed(1)
    model = keras.Sequential([keras.Input((12, 8, 1)), keras.layers.Conv2D(6, 3, activation="relu"),
                              keras.layers.DepthwiseConv2D(3, activation="relu"),
                              keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(3),
                              keras.layers.Softmax()])
    model.compile("adam", "sparse_categorical_crossentropy")
    model.fit(x[:100], y[:100], epochs=2, verbose=0)
    model.save(root / "float.keras")
    np.savez(root / "features.npz", x_val=x[100:120], y_val=y[100:120], x_test=x[120:],
             y_test=y[120:])
    top1 = model.predict(x[120:], verbose=0).argmax(-1)
    (root / "train.json").write_text(json.dumps({"test_accuracy": float(np.mean(top1 == y[120:]))}))
    return root, model, x, y


def test_simulated_top1_is_the_interpreters(tiny):
    """The simulated figure is tflite-micro's top-1, cross-checked with LiteRT's builtin
    kernels (their int8 outputs may differ by 1 LSB; the top-1 here does not)."""
    from ai_edge_litert.interpreter import Interpreter, OpResolverType
    from tinysweep.quant import QuantConfig, ptq
    root, model, x, y = tiny
    tflite, _ = ptq(model, x[100:120], QuantConfig.from_params("4", {"range": "mse"}))
    q = simulate.quality(tflite, x[120:], y[120:])
    it = Interpreter(model_content=tflite, experimental_op_resolver_type=
                     OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
    it.allocate_tensors()
    inp, out = it.get_input_details()[0], it.get_output_details()[0]
    from tinysweep.energyrunner import quantize_inputs
    hits = 0
    for xi, yi in zip(quantize_inputs(x[120:], *inp["quantization"]), y[120:]):
        it.set_tensor(inp["index"], xi[None])
        it.invoke()
        hits += int(it.get_tensor(out["index"])[0].argmax() == yi)
    assert q["value"] == hits / 30 and q["samples"] == 30 and q["method"] == "simulated"


@pytest.mark.slow
def test_stage_writes_both_tables_or_nothing(tiny, tmp_path):
    root, _, _, _ = tiny
    cmd = [sys.executable, str(REPO / "stages" / "ablation.py"), "--benchmark", "tiny",
           "--model", str(root / "float.keras"), "--features", str(root / "features.npz"),
           "--train-metrics", str(root / "train.json"), "--bits", "4",
           "--best", json.dumps({"method": "ptq", "range": "mse", "bias_correction": True,
                                 "adaround": True, "adaround_iterations": 20}),
           "--calibration-samples", "20", "--calibration-sizes", "8,500",
           "--csv", str(tmp_path / "tiny_w4.csv"), "--markdown", str(tmp_path / "tiny_w4.md")]
    run = subprocess.run(cmd, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    table = ablation.read_table(tmp_path / "tiny_w4.csv")
    groups = [r["group"] for r in table["records"]]
    assert groups.count("baseline + one") == len(ablation.COMPONENTS)
    # 500 calibration inputs: the 20-sample split is used whole, as the best row did: skipped
    assert groups.count("best - one") == 3 and groups.count("calibration") == 1
    records = table["records"]
    assert records[0]["variant"].startswith("baseline") and records[0]["granularity"] == "per_tensor"
    assert records[-1]["calibration_samples"] == "8"
    float_value = json.loads((root / "train.json").read_text())["test_accuracy"]
    for r in records:
        assert r["simulated_method"] == "simulated" and r["test_samples"] == "30"
        assert float(r["from_float"]) == pytest.approx(float(r["simulated"]) - float_value, abs=1e-5)
    assert (tmp_path / "tiny_w4.md").read_text().count("\n| ") == len(groups) + 1
    bad = subprocess.run(cmd[:-4] + ["--best", '{"range": "best"}', "--csv",
                                     str(tmp_path / "bad.csv"), "--markdown", str(tmp_path / "bad.md")],
                         capture_output=True, text=True)
    assert bad.returncode == 1 and bad.stderr.strip().splitlines()[-1].startswith(
        "ablation: quantize.configs.4.range: 'best' is not one of")
    assert not (tmp_path / "bad.csv").exists() and not (tmp_path / "bad.md").exists()
