"""Bring your own model: `python -m tinysweep codegen` and `evaluate`, end to end on the host."""
import csv
import subprocess
import sys

import numpy as np
import pytest

from helpers import REPO
from tinysweep import energyrunner as er
from tinysweep import oracle


def tinysweep(*args):
    return subprocess.run([sys.executable, "-m", "tinysweep", *map(str, args)],
                          capture_output=True, text=True, cwd=REPO)


def test_codegen(small_kws_tflite, tmp_path):
    run = tinysweep("codegen", small_kws_tflite, "--profile", "kws01", "--out", tmp_path / "c")
    assert run.returncode == 0, run.stderr
    assert {p.name for p in (tmp_path / "c").iterdir()} == {"model.c", "model.h", "model.json"}
    last = run.stdout.splitlines()[-1]
    tflm = oracle.arena_bytes(small_kws_tflite.read_bytes())
    assert last.startswith("codegen: 9 ops, ") and "MACs" in last and "B weights" in last
    assert f"tflite-micro arena {tflm:,} B" in last and "lower bound" in last
    assert "CONV_2D" in run.stdout and "(aliased, no code)" in run.stdout


def test_codegen_errors_are_one_line(tmp_path):
    run = tinysweep("codegen", tmp_path / "missing.tflite", "--profile", "kws01", "--out",
                    tmp_path / "c")
    assert run.returncode == 1 and run.stderr.strip().count("\n") == 0
    assert run.stderr.startswith("codegen: model file")
    run = tinysweep("codegen", "--profile", "kws01")
    assert run.returncode == 1 and run.stderr.startswith("codegen: ")
    run = tinysweep("nonsense")
    assert run.returncode == 1 and run.stderr.startswith("tinysweep: usage")


@pytest.fixture(scope="module")
def testset(small_kws_tflite, tmp_path_factory):
    folder = tmp_path_factory.mktemp("testset")
    rng = np.random.default_rng(5)
    samples = [(f"s{i}.bin", rng.integers(-128, 128, 490, dtype=np.int8).tobytes(), i % 12)
               for i in range(6)]
    er.write_folder(folder, samples, 12, 490)
    return folder, samples


def test_evaluate(small_kws_tflite, host_firmware, testset, tmp_path):
    folder, samples = testset
    out = tmp_path / "results.csv"
    run = tinysweep("evaluate", "--model", small_kws_tflite, "--firmware", host_firmware,
                    "--testset", folder, "--out", out)
    assert run.returncode == 0, run.stderr
    rows = list(csv.DictReader(out.open()))
    assert [r["file"] for r in rows] == [s[0] for s in samples]
    expected = oracle.predict(small_kws_tflite.read_bytes(),
                              np.stack([np.frombuffer(s[1], np.int8) for s in samples]))
    for r, e in zip(rows, expected):
        assert r["device_outputs"] == " ".join(map(str, e.tolist())) == r["oracle_outputs"]
        assert r["agree"] == r["outputs_equal"] == "1"
    accuracy = np.mean(expected.argmax(axis=1) == [s[2] for s in samples])
    last = run.stdout.splitlines()[-1]
    assert last == (f"evaluate: kws01, 6 samples: top-1 accuracy {accuracy:.4f} on device, "
                    f"{accuracy:.4f} tflite-micro; agreement 1.0000, bit-exact outputs 1.0000")
    assert run.stdout.startswith("file,label,device,oracle")


def test_evaluate_errors_are_one_line(small_kws_tflite, host_firmware, tmp_path):
    run = tinysweep("evaluate", "--model", small_kws_tflite, "--testset", tmp_path)
    assert run.returncode == 1 and run.stderr == "evaluate: --transport pty needs --firmware\n"
    run = tinysweep("evaluate", "--model", small_kws_tflite, "--firmware", host_firmware,
                    "--testset", tmp_path)
    assert run.returncode == 1 and run.stderr.strip().count("\n") == 0
    assert "not an EnergyRunner folder" in run.stderr


# ---- ad01: every window of every clip, clip score = mean window MSE, AUC ------------------------
FRAMES, MELS = 8, 128  # a short clip: 8 frames -> 4 windows of 5 frames, stride one frame


@pytest.fixture(scope="module")
def small_ad(tmp_path_factory):
    """A small 640-in/640-out autoencoder (random weights, int8 in and out) and its host device."""
    from tinysweep.quantize import quantize_int8
    from tinysweep.tfcompat import keras
    from helpers import build_host_firmware
    keras.utils.set_random_seed(3)
    L = keras.layers
    inp = L.Input((640,))
    x = L.Dense(32, activation="relu")(inp)
    x = L.Dense(8, activation="relu")(x)
    out = L.Dense(640)(L.Dense(32, activation="relu")(x))
    calib = np.random.default_rng(3).normal(-20, 8, (32, 640)).astype(np.float32)
    root = tmp_path_factory.mktemp("ad_device")
    tflite = root / "ad.tflite"
    tflite.write_bytes(quantize_int8(keras.Model(inp, out), calib))
    return tflite, build_host_firmware(tflite, root, profile="ad01")


@pytest.fixture(scope="module")
def ad_testset(tmp_path_factory):
    folder = tmp_path_factory.mktemp("ad01")
    rng = np.random.default_rng(4)
    clips = []
    for i, label in enumerate([0, 1, 0, 1, 1]):
        frames = rng.normal(-20, 8 if label == 0 else 14, (FRAMES, MELS)).astype("<f4")
        clips.append((f"clip_{i}.bin", frames.tobytes(), label))
    er.write_folder(folder, clips, 2, extra=(2560, 512))
    return folder, clips


def test_evaluate_ad01_scores_windows_and_reports_auc(small_ad, ad_testset, tmp_path):
    tflite, firmware = small_ad
    folder, clips = ad_testset
    out = tmp_path / "ad.csv"
    run = tinysweep("evaluate", "--model", tflite, "--firmware", firmware, "--testset", folder,
                    "--out", out)
    assert run.returncode == 0, run.stderr
    o = oracle.Oracle(tflite.read_bytes())
    scores = []
    for _, data, _ in clips:  # the official runner's scoring, from tflite-micro's outputs
        frames = np.frombuffer(data, "<f4").reshape(FRAMES, MELS)
        mse = []
        for start in range(FRAMES - 4):
            window = frames[start:start + 5].reshape(-1)
            y = o.predict_one(er.quantize_inputs(window, o.input_scale, o.input_zero_point))
            mse.append(np.mean(((y.astype(np.float64) - o.output_zero_point) *
                                float(np.float32(o.output_scale)) - window) ** 2))
        scores.append(np.mean(mse))
    from sklearn.metrics import roc_auc_score
    auc = roc_auc_score([c[2] for c in clips], scores)
    rows = list(csv.DictReader(out.open()))
    assert [r["file"] for r in rows] == [c[0] for c in clips]
    for r, score in zip(rows, scores):
        assert r["windows"] == "4" and r["scores_equal"] == r["outputs_equal"] == "1"
        assert float(r["oracle_score"]) == pytest.approx(score, abs=1e-6)
        printed = [float(v) for v in r["device_window_mse"].split()]  # the device's m-results
        assert np.mean(printed) == pytest.approx(score, abs=1e-3)
    assert run.stdout.splitlines()[-1] == (
        f"evaluate: ad01, 5 clips (20 windows): AUC {auc:.4f} on device, {auc:.4f} tflite-micro; "
        f"equal clip scores 1.0000, bit-exact outputs 1.0000")


def test_ad01_device_takes_float_windows(small_ad):
    from tinysweep.runner import DeviceError, open_device
    _, firmware = small_ad
    with open_device("pty", firmware) as dut:
        assert dut.profile()["model"] == "ad01"
        window = np.linspace(-40, 10, 640).astype("<f4").tobytes()
        dut.load(window, verify=True)  # db print reads back the float bytes
        values, _ = dut.infer(1, 0, expected=1)
        assert values[0] >= 0
        with pytest.raises(DeviceError, match="exceeds the input size of 2560 bytes"):
            dut.command("db load 2561")


def test_ad01_folder_errors_name_the_clip(tmp_path):
    er.write_folder(tmp_path, [("a.bin", bytes(2000), 0)], 2, extra=(2560, 512))
    sample = er.read_folder(tmp_path)[0]
    with pytest.raises(ValueError, match="a.bin: 2000 bytes, shorter than one window"):
        er.windows(sample, er.PROFILES["ad01"])
    er.write_folder(tmp_path, [("b.bin", bytes(2560), 0)], 2)
    with pytest.raises(ValueError, match="b.bin: ad01 lines need window and stride bytes"):
        er.windows(er.read_folder(tmp_path)[0], er.PROFILES["ad01"])
