"""The four front stages as the workflow runs them: real CLIs, a tiny KWS configuration."""
import functools
import hashlib
import http.server
import json
import subprocess
import sys
import tarfile
import threading
import zipfile

import numpy as np
import pytest

from tinysweep import audio
from tinysweep.benchmarks import kws

REPO = __import__("pathlib").Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def stage(name, *args, cwd):
    return subprocess.run([sys.executable, str(REPO / "stages" / f"{name}.py"), *map(str, args)],
                          cwd=cwd, capture_output=True, text=True, timeout=300)


def ok(result):
    assert result.returncode == 0, result.stderr[-2000:]
    return result


def one_line_error(result, prefix):
    """Exit status 1 and one error line, the last on stderr (TensorFlow's start-up chatter
    may come before it)."""
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    stage_name = prefix.split(":")[0] + ":"
    assert lines[-1].startswith(prefix), result.stderr[-2000:]
    assert [line for line in lines if line.startswith(stage_name)] == lines[-1:]
    return lines[-1]


@pytest.fixture(scope="module")
def offline_run(tmp_path_factory):
    """dataset → features → train → quantize, 8 clips per class, 1 epoch."""
    d = tmp_path_factory.mktemp("front")
    ok(stage("dataset", "--benchmark", "kws", "--source", "offline", "--out", "data/kws/raw",
             "--clips-per-class", 8, "--seed", 0, cwd=d))
    ok(stage("features", "--benchmark", "kws", "--raw", "data/kws/raw",
             "--out", "data/kws/features.npz", cwd=d))
    ok(stage("train", "--benchmark", "kws", "--features", "data/kws/features.npz",
             "--out", "models/kws/float.keras", "--metrics", "models/kws/train.json",
             "--epochs", 1, "--batch-size", 32, "--learning-rates", "5e-4,1e-4,2e-5",
             "--lr-boundaries", "12,24", "--seed", 0, cwd=d))
    ok(stage("quantize", "--model", "models/kws/float.keras", "--features",
             "data/kws/features.npz", "--train-metrics", "models/kws/train.json",
             "--config", json.dumps({"name": "8", **W8}), "--calibration-samples", 16,
             "--seed", 0, "--out", "models/kws/w8/model.tflite",
             "--metrics", "models/kws/w8/quantize.json", cwd=d))
    return d


W8 = {"method": "ptq", "range": "minmax", "granularity": "per_channel"}


def test_dataset_output(offline_run):
    raw = offline_run / "data/kws/raw"
    summary = json.loads((raw / "dataset.json").read_text())
    assert summary["benchmark"] == "kws" and summary["source"] == "offline"
    assert summary["counts"]["train"]["yes"] == 6 and summary["counts"]["test"]["unknown"] == 1
    lines = (raw / "manifest.csv").read_text().splitlines()
    assert len(lines) == 1 + 96 and len(list(raw.glob("clips/*/*/*.wav"))) == 96
    assert not [p for p in (offline_run / "data/kws").iterdir() if ".partial" in p.name]
    # same arguments, same bytes (DVC then sees an unchanged output)
    ok(stage("dataset", "--benchmark", "kws", "--source", "offline", "--out", "again",
             "--clips-per-class", 8, "--seed", 0, "--no-progress", cwd=offline_run))
    files = sorted(p.relative_to(raw) for p in raw.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(offline_run / "again")
                           for p in (offline_run / "again").rglob("*") if p.is_file())
    for f in files:
        assert (raw / f).read_bytes() == (offline_run / "again" / f).read_bytes(), f


def test_features_npz(offline_run):
    with zipfile.ZipFile(offline_run / "data/kws/features.npz") as zf:   # no timestamps
        assert {i.date_time for i in zf.infolist()} == {(1980, 1, 1, 0, 0, 0)}
    with np.load(offline_run / "data/kws/features.npz") as f:
        assert sorted(f.files) == sorted(["classes", "dataset", "x_train", "y_train", "x_val",
                                          "y_val", "x_test", "y_test"])
        assert str(f["dataset"]).startswith("synthetic stand-in: keywords spoken by espeak-ng")
        assert f["x_train"].shape == (72, 49, 10, 1) and f["x_train"].dtype == np.float32
        assert f["x_test"].shape == (12, 49, 10, 1) and f["y_val"].dtype == np.int64
        assert list(f["classes"]) == ["down", "go", "left", "no", "off", "on", "right", "stop",
                                      "up", "yes", "silence", "unknown"]


def test_train_and_quantize_outputs(offline_run):
    m = json.loads((offline_run / "models/kws/train.json").read_text())
    assert m["epochs"] == 1 and m["params"] == 24_908 and 0 <= m["test_accuracy"] <= 1
    assert {"val_accuracy", "train_seconds", "seconds_per_epoch", "history"} <= set(m)
    q = json.loads((offline_run / "models/kws/w8/quantize.json").read_text())
    tflite = (offline_run / "models/kws/w8/model.tflite").read_bytes()
    assert q["sha256"] == hashlib.sha256(tflite).hexdigest() and q["size_bytes"] == len(tflite)
    assert q["calibration_samples"] == 12 and q["calibration_requested"] == 16  # val: 12 clips
    assert q["input"]["dtype"] == q["output"]["dtype"] == "int8"
    assert q["input"]["shape"] == [1, 49, 10, 1] and q["input"]["scale"] > 0
    assert q["output"]["scale"] == pytest.approx(1 / 256) and q["output"]["zero_point"] == -128
    # the bits configuration, simulated and float accuracy on the whole test split
    assert (q["config"], q["bits"], q["method"]) == ("8", 8, "ptq")
    assert q["options"]["range"] == "minmax" and q["test_samples"] == 12
    assert q["test_accuracy_sim"]["method"] == "simulated"
    assert q["float_accuracy"]["value"] == m["test_accuracy"]
    assert set(q["weights_bytes_by_bits"]) == {"8"}


def test_bad_inputs_give_one_line_errors(offline_run):
    d = offline_run
    w8 = json.dumps({"name": "8", **W8})
    msg = one_line_error(stage("quantize", "--model", "models/kws/float.keras", "--features",
                               "data/kws/features.npz", "--config",
                               json.dumps({"name": "4", "method": "gptq"}), "--out", "x.tflite",
                               "--metrics", "x.json", cwd=d), "quantize:")
    assert msg == "quantize: quantize.configs.4.method: 'gptq' is not one of ptq, qat"
    msg = one_line_error(stage("quantize", "--model", "models/kws/float.keras", "--features",
                               "data/kws/features.npz", "--config",
                               json.dumps({"name": "4", "layers": {"conv9": 2}}), "--out",
                               "x.tflite", "--metrics", "x.json", cwd=d), "quantize:")
    assert msg.startswith("quantize: quantize.configs.4.layers: 'conv9' matches no layer; "
                          "layers with weights: conv2d, depthwise_conv2d, ")
    one_line_error(stage("quantize", "--model", "models/kws/float.keras", "--features",
                         "data/kws/features.npz", "--config", w8, "--calibration-samples", 0,
                         "--out", "x.tflite", "--metrics", "x.json", cwd=d), "quantize: --calib")
    one_line_error(stage("quantize", "--model", "nothing.keras", "--features",
                         "data/kws/features.npz", "--config", w8, "--out", "x.tflite",
                         "--metrics", "x.json", cwd=d), "quantize: nothing.keras not found")
    one_line_error(stage("dataset", "--benchmark", "vvv", "--source", "offline", "--out", "o",
                         "--clips-per-class", 8, cwd=d), "dataset: unknown benchmark 'vvv'")
    one_line_error(stage("dataset", "--benchmark", "kws", "--source", "offline", "--out", "o",
                         cwd=d), "dataset: --source offline needs --clips-per-class")
    one_line_error(stage("features", "--benchmark", "kws", "--raw", "nowhere", "--out", "f.npz",
                         cwd=d), "features: nowhere/manifest.csv not found")
    one_line_error(stage("train", "--benchmark", "kws", "--features", "data/kws/features.npz",
                         "--out", "m.keras", "--metrics", "m.json", "--epochs", 1,
                         "--batch-size", 8, "--learning-rates", "1e-3,1e-4", cwd=d),
                   "train: 2 learning rates need 1 lr boundaries")
    one_line_error(stage("train", "--benchmark", "kws", cwd=d), "train: the following arguments")
    assert not (d / "o").exists() and not (d / "m.keras").exists()


def test_speech_commands_source_end_to_end(tmp_path):
    """Download a Speech-Commands-shaped archive from a local server, extract, manifest, MFCC."""
    root = tmp_path / "src"
    rng = np.random.default_rng(0)
    val, test = [], []
    for w in ("yes", "no", "stop", "cat", "tree"):
        (root / w).mkdir(parents=True)
        for i in range(10):
            name = f"{w}/s{i}_nohash_0.wav"
            audio.write_wav(root / name, rng.integers(-2000, 2000, 15000).astype(np.int16))
            (val if i == 1 else test if i == 2 else []).append(name)
    (root / "validation_list.txt").write_text("\n".join(val))
    (root / "testing_list.txt").write_text("\n".join(test))
    (root / "_background_noise_").mkdir()
    audio.write_wav(root / "_background_noise_/pink_noise.wav",
                    rng.integers(-500, 500, 16000 * 15).astype(np.int16))
    serve = tmp_path / "www"
    serve.mkdir()
    with tarfile.open(serve / "sc.tar.gz", "w:gz") as tar:
        for p in sorted(root.rglob("*")):
            tar.add(p, arcname="./" + str(p.relative_to(root)), recursive=False)
    digest = hashlib.sha256((serve / "sc.tar.gz").read_bytes()).hexdigest()

    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(serve))
    handler.log_message = lambda *a: None
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True).start()
    url = f"http://127.0.0.1:{httpd.server_address[1]}/sc.tar.gz"
    try:
        args = ["--benchmark", "kws", "--source", "speech_commands", "--out", "raw", "--url", url,
                "--download-dir", "downloads", "--seed", 0, "--no-progress"]
        msg = one_line_error(stage("dataset", *args, "--sha256", "1" * 64, cwd=tmp_path),
                             "dataset: checksum mismatch")
        assert digest in msg and "1" * 64 in msg
        ok(stage("dataset", *args, "--sha256", digest, cwd=tmp_path))
    finally:
        httpd.shutdown()
        httpd.server_close()
    assert (tmp_path / "downloads/sc.tar.gz").is_file()
    summary = json.loads((tmp_path / "raw/dataset.json").read_text())
    assert summary["counts"]["val"]["yes"] == 1 and summary["counts"]["train"]["stop"] == 8
    assert summary["counts"]["train"]["unknown"] == summary["counts"]["train"]["silence"] == 3
    f = kws.make_features(tmp_path / "raw", progress=False)     # the CLI: see offline_run
    assert f["x_train"].shape == (30, 49, 10, 1) and np.isfinite(f["x_train"]).all()
    # offline, the verified archive is enough
    ok(stage("dataset", *args, "--sha256", digest, cwd=tmp_path))
