"""AD benchmark: log-mel front end, windows, synthetic machine sounds, ToyCar download."""
import csv
import hashlib
import io
import json
import socket
import tempfile
import zipfile

import numpy as np
import pytest

from test_download import Server
from tinysweep import audio
from tinysweep.benchmarks import InputError, ad, get
from tinysweep.download import ChecksumMismatch, DatasetMissing


def test_registry_and_labels():
    assert get("ad") is ad and ad.CLASSES == ("normal", "anomaly")
    assert ad.WINDOW == 640 and ad.WINDOW * 4 == 2560


def test_mel_filterbank_is_librosas_slaney_bank():
    # librosa: hz_to_mel(1000) = 15, hz_to_mel(8000) = 15 + ln(8) / (ln(6.4) / 27)
    assert ad._hz_to_mel(1000.0) == pytest.approx(15.0)
    assert ad._hz_to_mel(8000.0) == pytest.approx(15 + np.log(8) / (np.log(6.4) / 27))
    assert ad._mel_to_hz(ad._hz_to_mel([200.0, 3000.0])) == pytest.approx([200.0, 3000.0])
    fb = ad.mel_filterbank()
    assert fb.shape == (128, 513) and fb.dtype == np.float32 and (fb >= 0).all()
    peaks = fb.argmax(axis=1)
    assert (np.diff(peaks) >= 0).all() and peaks[-1] > 480
    # Slaney normalisation: every triangle has unit area in Hz (wide ones sample it well)
    assert fb[64:].sum(axis=1) * (16000 / 1024) == pytest.approx(np.ones(64), rel=0.02)


def test_log_mel_frames_levels_and_tone():
    t = np.arange(16000) / 16000
    hiss = np.random.default_rng(0).normal(0, 0.01, 16000)
    tone = (np.sin(2 * np.pi * 1000 * t) * 0.25 + hiss).astype(np.float32)
    frames = ad.log_mel(tone)
    assert frames.shape == (1 + 16000 // 512, 128) and frames.dtype == np.float32
    fb_peak_hz = ad.mel_filterbank().argmax(axis=1) * 16000 / 1024
    assert abs(fb_peak_hz[frames[10].argmax()] - 1000) < 50
    # power 2, 10·log10: doubling the amplitude adds 6.02 dB in every bin
    assert ad.log_mel(2 * tone)[10] - frames[10] == pytest.approx(np.full(128, 20 * np.log10(2)), abs=1e-3)
    assert ad.log_mel(np.zeros(16000))[10] == pytest.approx(10 * np.log10(np.float32(2.0 ** -52)))
    # int16 input is scaled to [-1, 1) as librosa.load does
    assert ad.log_mel((tone * 32768).astype(np.int16)) == pytest.approx(frames, abs=0.1)
    with pytest.raises(InputError, match="too short"):
        ad.log_mel(np.zeros(100))


def test_windows_are_five_consecutive_frames():
    frames = np.arange(9 * 128, dtype=np.float32).reshape(9, 128)
    w = ad.windows(frames)
    assert w.shape == (5, 640)
    for i in range(5):
        assert np.array_equal(w[i], frames[i:i + 5].reshape(-1))
    # the EnergyRunner ad01 layout: window i starts i frames (512 bytes) into the clip
    raw = frames.astype("<f4").tobytes()
    assert w[3].astype("<f4").tobytes() == raw[3 * 512:3 * 512 + 2560]
    with pytest.raises(InputError, match="fewer than one window"):
        ad.windows(frames[:4])


def test_offline_plan_and_render():
    plan = ad.plan_offline(20, 6, 1.0, seed=3)
    assert plan == ad.plan_offline(20, 6, 1.0, seed=3) and plan != ad.plan_offline(20, 6, 1.0, seed=4)
    by = {(s.split, s.label): 0 for s in plan}
    for s in plan:
        by[(s.split, s.label)] += 1
        assert (s.fault in ad.FAULTS) == (s.label == "anomaly") and 1 <= s.machine_id <= 4
    assert by == {("train", "normal"): 18, ("val", "normal"): 2, ("test", "normal"): 3,
                  ("test", "anomaly"): 3}
    clip = ad.render(plan[0])
    assert clip.dtype == np.int16 and clip.shape == (16000,) and np.array_equal(clip, ad.render(plan[0]))
    with pytest.raises(InputError, match="at least 2"):
        ad.plan_offline(1, 6, 1.0, 0)


@pytest.mark.parametrize("fault", ad.FAULTS)
def test_each_fault_changes_the_log_mel(fault):
    normal = ad.ClipSpec(0, "test", "normal", 2, "", 1.0, 99)
    broken = ad.ClipSpec(0, "test", "anomaly", 2, fault, 1.0, 99)
    a, b = ad.log_mel(ad.render(normal)), ad.log_mel(ad.render(broken))
    assert np.mean(np.abs(a - b)) > 1.0        # dB, averaged over every bin


def test_offline_dataset_and_features(tmp_path):
    s = ad.make_offline(tmp_path / "raw", 10, 4, 0.5, seed=1, progress=False)
    assert s["counts"] == {"train": {"normal": 9, "anomaly": 0}, "val": {"normal": 1, "anomaly": 0},
                           "test": {"normal": 2, "anomaly": 2}}
    (tmp_path / "raw" / "dataset.json").write_text(json.dumps(s))
    f = ad.make_features(tmp_path / "raw", progress=False)
    frames = 1 + 8000 // 512
    assert f["x_train"].shape == (9 * (frames - 4), 640) and f["x_val"].shape == (frames - 4, 640)
    assert f["x_test"].shape == (4, frames, 128) and list(f["y_test"]) == [0, 0, 1, 1]
    assert str(f["dataset"]).startswith("synthetic stand-in") and str(f["benchmark"]) == "ad"
    assert not f["y_train"].any()


# ---- ToyCar: pinned archives from a local HTTP server with the real layout ---------------------
def toycar_zip(ids=(1, 2), train=4, test=3, extra=False) -> bytes:
    """A small zip shaped like dev_data_ToyCar.zip (extra: like eval_data_train_ToyCar.zip)."""
    rng = np.random.default_rng(len(ids))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for mid in ids:
            names = [f"ToyCar/train/normal_id_{mid:02d}_{i:08d}.wav" for i in range(train)]
            if not extra:
                names += [f"ToyCar/test/{label}_id_{mid:02d}_{i:08d}.wav"
                          for label in ("normal", "anomaly") for i in range(test)]
            for name in names:
                with tempfile.TemporaryDirectory() as tmp:
                    audio.write_wav(f"{tmp}/x.wav", rng.integers(-2000, 2000, 8000).astype(np.int16))
                    zf.write(f"{tmp}/x.wav", name)
    return buf.getvalue()


@pytest.fixture(scope="module")
def toycar_server():
    s = Server()
    s.files["/dev_data_ToyCar.zip"] = toycar_zip()
    s.files["/eval_data_train_ToyCar.zip"] = toycar_zip(ids=(5,), extra=True)
    yield s
    s.close()


def _sha(data):
    return hashlib.sha256(data).hexdigest()


def test_toycar_is_downloaded_verified_and_split(toycar_server, tmp_path):
    s = toycar_server
    summary = ad.make_dataset(
        tmp_path / "raw", "toycar", seed=0, test_clips=8, download_dir=tmp_path / "dl",
        url=s.url + "/dev_data_ToyCar.zip", sha256=_sha(s.files["/dev_data_ToyCar.zip"]),
        extra_url=s.url + "/eval_data_train_ToyCar.zip",
        extra_sha256=_sha(s.files["/eval_data_train_ToyCar.zip"]), progress=False)
    # 12 normal training clips (ids 1, 2, 5), 1 held out; a stratified 8 of the 12 test clips
    assert summary["counts"] == {"train": {"normal": 11, "anomaly": 0},
                                 "val": {"normal": 1, "anomaly": 0},
                                 "test": {"normal": 4, "anomaly": 4}}
    rows = list(csv.DictReader(open(tmp_path / "raw" / "manifest.csv")))
    assert {r["machine_id"] for r in rows if r["split"] != "test"} == {"1", "2", "5"}
    assert all((tmp_path / "raw" / r["path"]).is_file() for r in rows)
    assert (tmp_path / "dl" / "dev_data_ToyCar.zip").is_file()
    (tmp_path / "raw" / "dataset.json").write_text(json.dumps(summary))
    f = ad.make_features(tmp_path / "raw", progress=False)
    assert f["x_test"].shape == (8, 16, 128) and str(f["dataset"]).startswith("ToyADMOS ToyCar")


def test_toycar_wrong_digest_and_no_network(toycar_server, tmp_path):
    with pytest.raises(ChecksumMismatch, match="expected sha256 " + "0" * 64):
        ad.make_dataset(tmp_path / "raw", "toycar", seed=0, download_dir=tmp_path / "dl",
                        url=toycar_server.url + "/dev_data_ToyCar.zip", sha256="0" * 64,
                        progress=False)
    assert not (tmp_path / "raw").exists() and not list((tmp_path / "dl").iterdir())
    with socket.socket() as sock:              # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(DatasetMissing) as e:
        ad.make_dataset(tmp_path / "raw", "toycar", seed=0, download_dir=tmp_path / "dl",
                        url=f"http://127.0.0.1:{port}/dev_data_ToyCar.zip", sha256="0" * 64,
                        progress=False)
    assert str(e.value).startswith(
        f"dataset {ad.TOYCAR_NAME} is not present; connect to the network or put "
        f"dev_data_ToyCar.zip at {tmp_path / 'dl' / 'dev_data_ToyCar.zip'}")
    with pytest.raises(InputError, match="needs --url, --sha256"):
        ad.make_dataset(tmp_path / "raw", "toycar", seed=0)
    with pytest.raises(InputError, match="allowed: offline, toycar"):
        ad.make_dataset(tmp_path / "raw", "nope", seed=0)


def test_dataset_stage_fetches_toycar_and_fails_offline_in_one_line(toycar_server, tmp_path):
    from helpers import run_stage
    s, dev = toycar_server, "/dev_data_ToyCar.zip"
    args = ["--benchmark", "ad", "--source", "toycar", "--seed", 0, "--test-clips", 0,
            "--download-dir", tmp_path / "dl", "--sha256", _sha(s.files[dev]), "--no-progress"]
    run = run_stage("dataset.py", *args, "--url", s.url + dev, "--out", tmp_path / "raw")
    assert run.returncode == 0, run.stderr
    info = json.loads((tmp_path / "raw" / "dataset.json").read_text())
    assert info["benchmark"] == "ad" and info["source"] == "toycar"
    assert info["counts"]["test"] == {"normal": 6, "anomaly": 6}
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    (tmp_path / "dl" / "dev_data_ToyCar.zip").unlink()
    run = run_stage("dataset.py", *args, "--url", f"http://127.0.0.1:{port}{dev}",
                    "--out", tmp_path / "raw2")
    assert run.returncode == 1 and run.stderr.count("\n") == 1
    assert run.stderr.startswith(f"dataset: dataset {ad.TOYCAR_NAME} is not present; connect "
                                 f"to the network or put dev_data_ToyCar.zip at ")
    assert not (tmp_path / "raw2").exists()
