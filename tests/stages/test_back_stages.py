"""export_testset -> measure (real host device) -> report, through their command lines."""
import csv
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tinysweep import energyrunner as er
from tinysweep import oracle

from helpers import interruptible, run_stage

REPO = Path(__file__).resolve().parents[2]


def stage(*args, cwd=None):
    return run_stage(*args, cwd=cwd)


@pytest.fixture(scope="module")
def device(host_firmware, small_kws_tflite):
    fw = host_firmware
    return {"firmware": fw, "model": small_kws_tflite, "codegen": fw.parents[1] / "c" / "model.json",
            "build": fw.parent / "build.json"}


@pytest.fixture(scope="module")
def features(tmp_path_factory):
    rng = np.random.default_rng(7)
    path = tmp_path_factory.mktemp("features") / "features.npz"
    y = np.repeat(np.arange(12), 5)
    np.savez(path, x_test=rng.normal(0, 3, (60, 49, 10, 1)).astype(np.float32), y_test=y,
             classes=np.array(er.PROFILES["kws01"].class_names))
    return path


def test_export_testset(tmp_path, features, small_kws_tflite):
    out = tmp_path / "testset"
    run = stage("export_testset.py", "--features", features, "--model", small_kws_tflite,
                "--profile", "kws01", "--samples", 24, "--seed", 3, "--out", out)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == f"export_testset: 24 samples -> {out}"
    samples = er.read_folder(out, 490)
    info = json.loads((out / "testset.json").read_text())
    assert np.bincount([s.label for s in samples]).tolist() == [2] * 12
    scale, zp, _ = oracle.input_quantization(small_kws_tflite.read_bytes())
    with np.load(features) as f:
        x = f["x_test"]
    for s, i in zip(samples, info["indices"]):
        assert s.data == er.quantize_inputs(x[i].reshape(-1), scale, zp).tobytes()
        assert s.file == f"tst_{i:06d}_{er.PROFILES['kws01'].class_names[s.label]}_{s.label}.bin"
    again = tmp_path / "again"
    stage("export_testset.py", "--features", features, "--model", small_kws_tflite,
          "--profile", "kws01", "--samples", 24, "--seed", 3, "--out", again)
    assert er.folder_sha256(again) == er.folder_sha256(out)  # fixed and seeded
    whole = stage("export_testset.py", "--features", features, "--model", small_kws_tflite,
                  "--profile", "kws01", "--samples", 0, "--out", tmp_path / "whole")
    assert whole.stdout.strip().startswith("export_testset: 60 samples")
    bad = stage("export_testset.py", "--features", features, "--model", small_kws_tflite,
                "--profile", "kws01", "--samples", 61, "--out", tmp_path / "bad")
    assert bad.returncode == 1
    assert bad.stderr.strip() == "export_testset: asked for 61 samples, the split has 60"
    assert not (tmp_path / "bad").exists()


@pytest.fixture(scope="module")
def testset(tmp_path_factory, features, small_kws_tflite):
    out = tmp_path_factory.mktemp("ts") / "testset"
    run = stage("export_testset.py", "--features", features, "--model", small_kws_tflite,
                "--profile", "kws01", "--samples", 36, "--seed", 0, "--out", out)
    assert run.returncode == 0, run.stderr
    return out


def measure_args(device, testset, out, **over):
    args = {"--benchmark": "kws", "--device": "host", "--transport": "pty",
            "--firmware": device["firmware"], "--model": device["model"],
            "--codegen": device["codegen"], "--build-info": device["build"],
            "--testset": testset, "--windows": 3, "--inferences": 20, "--warmup": 2,
            "--timeout": 20, "--out": out, **over}
    return ["measure.py"] + [x for k, v in args.items() if v is not None for x in (k, v)]


def test_measure_and_report(tmp_path, device, testset):
    out = tmp_path / "results" / "kws_host_w8"
    run = stage(*measure_args(device, testset, out))
    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith("measure: kws_host_w8: accuracy ")
    assert sorted(p.name for p in out.parent.iterdir()) == ["kws_host_w8"]
    assert sorted(p.name for p in out.iterdir()) == ["metrics.json", "predictions.csv"]

    m = json.loads((out / "metrics.json").read_text())
    assert (m["benchmark"], m["device"], m["bits"], m["combination"], m["profile"]) == (
        "kws", "host", 8, "kws_host_w8", "kws01")
    for key, method in (("accuracy", "measured"), ("accuracy_oracle", "simulated"),
                        ("oracle_agreement", "measured"), ("oracle_bitexact", "measured"),
                        ("latency_ms", "measured"), ("macs", "static")):
        assert m[key]["method"] == method and m[key]["detail"], key
    for key, method in (("arena_bytes", "static"), ("weights_bytes", "static"),
                        ("oracle_arena_bytes", "simulated")):
        assert m["memory"][key]["method"] == method and m["memory"][key]["value"] > 0
    assert "CLOCK_MONOTONIC" in m["latency_ms"]["detail"]
    assert "median of 3 windows × 20 inferences" in m["latency_ms"]["detail"]
    assert len(m["latency_ms"]["windows_ms"]) == 3 and m["latency_ms"]["value"] > 0
    # the engine is bit-exact with TFLM: every sample agrees with the oracle, to the bit
    assert m["oracle_agreement"]["value"] == 1.0 and m["oracle_bitexact"]["value"] == 1.0
    assert m["accuracy"]["value"] == m["accuracy_oracle"]["value"]
    prov = m["provenance"]
    assert prov["model"]["sha256"] == json.loads(device["codegen"].read_text())["sha256"]
    assert prov["firmware"]["sha256"] == json.loads(device["build"].read_text())["firmware_sha256"]
    assert prov["testset"]["samples"] == 36 and prov["git_commit"] and prov["timestamp"]
    assert prov["tools"]["tflite-micro"] == oracle.version()

    rows = list(csv.DictReader((out / "predictions.csv").open()))
    assert len(rows) == 36 and list(rows[0])[:4] == ["file", "label", "device", "oracle"]
    acc = np.mean([r["device"] == r["label"] for r in rows])
    assert acc == pytest.approx(m["accuracy"]["value"])
    model = device["model"].read_bytes()
    first = er.read_folder(testset)[0]
    expect = oracle.predict(model, er.model_input(first.data, er.PROFILES["kws01"]))
    assert rows[0]["device_outputs"] == " ".join(map(str, expect.tolist()))
    assert int(rows[0]["device"]) == int(np.argmax(expect))

    # report over it (MLflow logging is covered by tests/test_tracking.py)
    r = stage("report.py", "--results", out, "--summary", tmp_path / "summary.csv",
              "--html", tmp_path / "report.html", "--tracking-uri", "none", cwd=tmp_path)
    assert r.returncode == 0 and r.stderr == "", r.stderr
    summary = list(csv.DictReader((tmp_path / "summary.csv").open()))
    assert summary[0]["combination"] == "kws_host_w8"
    assert summary[0]["latency_ms_method"] == "measured"
    assert summary[0]["accuracy_oracle_method"] == "simulated"
    assert "data:image/png;base64," in (tmp_path / "report.html").read_text()


def test_measure_a_running_board_over_serial(tmp_path, device, testset):
    """A real board's path (transport serial: a URL, nothing started; the device's own µs
    timer; an energy estimate from the board's power, labelled so), here against the host
    device already running, as a flashed board is."""
    from tinysweep.runner import HostProcess
    board = HostProcess(device["firmware"], boot_timeout=10)
    try:
        out = tmp_path / "kws_nucleo_w8"
        run = stage(*measure_args(device, testset, out, **{
            "--device": "nucleo", "--transport": "serial", "--url": board.pty, "--baud": 115200,
            "--power-w": 0.041, "--power-source": "published", "--windows": 1, "--inferences": 5}))
        assert run.returncode == 0, run.stderr
        m = json.loads((out / "metrics.json").read_text())
        assert m["transport"] == "serial" and m["oracle_bitexact"]["value"] == 1.0
        assert m["latency_ms"]["method"] == "measured"
        assert m["latency_ms"]["detail"].startswith("device timer timestamps (m-lap-us)")
        assert m["energy_uj"]["method"] == "estimated" and "published" in m["energy_uj"]["detail"]
        assert m["energy_uj"]["value"] == pytest.approx(41.0 * m["latency_ms"]["value"])
        # an energy-mode build is refused before the board is touched
        build = json.loads(device["build"].read_text())
        energy = tmp_path / "build.json"
        energy.write_text(json.dumps({**build, "energy_mode": True}))
        run = stage(*measure_args(device, testset, tmp_path / "e", **{
            "--transport": "serial", "--url": board.pty, "--build-info": energy}))
        assert run.returncode == 1 and not (tmp_path / "e").exists()
        assert run.stderr.strip() == (f"measure: {energy}: an energy-mode build (EEMBC "
                                      f"EnergyRunner, timestamps on a pin): tinysweep measures "
                                      f"performance-mode firmware")
    finally:
        board.stop()


def _no_partial(results: Path):
    return not results.exists() or not any(results.iterdir())


def test_measure_failures_leave_nothing(tmp_path, device, testset, small_kws_tflite):
    results = tmp_path / "results"
    # the device dies at start: one line naming the binary and its stderr
    dies = tmp_path / "dies"
    dies.write_text("#!/bin/sh\necho 'port_host: posix_openpt: No such device' >&2\nexit 1\n")
    dies.chmod(0o755)
    run = stage(*measure_args(device, testset, results / "kws_host_w8", **{
        "--firmware": dies, "--build-info": None}))
    assert run.returncode == 1
    err = run.stderr.strip().splitlines()
    assert err[-1].startswith(f"measure: firmware {dies} closed stdout before printing")
    assert "posix_openpt: No such device" in err[-1]
    assert _no_partial(results)

    # a test set exported for another input quantization is refused
    other = tmp_path / "other"
    other.mkdir()
    er.write_folder(other, [("a.bin", bytes(490), 1)], 12, 490)
    (other / "testset.json").write_text(json.dumps({"input_scale": 1.0, "input_zero_point": 0}))
    run = stage(*measure_args(device, other, results / "kws_host_w8"))
    assert run.returncode == 1 and "export the test set for this model" in run.stderr
    assert _no_partial(results)

    # a model that is not the one the firmware was generated from is refused
    wrong = tmp_path / "wrong.tflite"
    wrong.write_bytes(small_kws_tflite.read_bytes() + b"\0")
    run = stage(*measure_args(device, testset, results / "kws_host_w8", **{"--model": wrong}))
    assert run.returncode == 1 and "is not the one" in run.stderr and "rebuild" in run.stderr
    assert _no_partial(results)

    # a device that stops answering mid-run (timeout) leaves nothing either
    run = stage(*measure_args(device, testset, results / "kws_host_w8", **{
        "--inferences": 10**8, "--timeout": 1}))
    assert run.returncode == 1
    assert run.stderr.strip().splitlines()[-1].startswith("measure: device on /dev/pts/")
    assert "did not answer 'infer 100000000 2' within 1 s" in run.stderr
    assert _no_partial(results)


def _flashed_devices(parent: int) -> list[int]:
    """Pids of live host-device processes started by process `parent` (the runner runs a
    private copy of the firmware from a tinysweep-host-* folder)."""
    pids = []
    for proc in Path("/proc").iterdir():
        try:
            argv0 = (proc / "cmdline").read_bytes().split(b"\0")[0].decode()
            fields = (proc / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError, ValueError):
            continue
        if "tinysweep-host-" in argv0 and int(fields[1]) == parent and fields[0] != "Z":
            pids.append(int(proc.name))
    return pids


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


# How a measurement gets stopped: a workflow manager's SIGTERM, a terminal's Ctrl-C, SIGKILL of
# the stage, SIGKILL of the job that started it (the stage dies with its parent); and what the
# stage's stderr ends with then ("" for a SIGKILL: nothing runs).
STOPS = {"sigterm": ("stage", "SIGTERM", "measure: stopped by signal 15; nothing written"),
         "ctrl-c": ("stage", "SIGINT", "measure: interrupted; nothing written"),
         "sigkill": ("stage", "SIGKILL", ""),
         "parent-sigkill": ("parent", "SIGKILL", "measure: stopped by signal 15; nothing written")}


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory, device, testset):
    """predictions.csv of a measurement nothing stopped."""
    out = tmp_path_factory.mktemp("uninterrupted") / "kws_host_w8"
    run = stage(*measure_args(device, testset, out))
    assert run.returncode == 0, run.stderr
    return (out / "predictions.csv").read_text()


@pytest.mark.parametrize("stop", STOPS)
def test_measure_stopped_reaps_the_device_and_a_rerun_gives_the_same_outputs(tmp_path, device, testset,
                                                                           uninterrupted, stop):
    """The device process goes, nothing is written (a SIGKILL's hidden leftover is removed by
    the next run into the same folder), and a re-run measures what an uninterrupted run does."""
    import signal
    import time
    whom, sig, said = STOPS[stop]
    results = tmp_path / "results"
    args = measure_args(device, testset, results / "kws_host_w8",
                        **{"--inferences": 10**8, "--timeout": 60})
    argv = [sys.executable, str(REPO / "stages" / args[0]), *map(str, args[1:])]
    if whom == "parent":  # a job shell that execs nothing: measure is its child
        argv = ["bash", "-c", f'{sys.executable} "$@"; true', "job", *argv[1:]]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO,
                            preexec_fn=interruptible)
    stage_pid = proc.pid
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if whom == "parent":
            children = [int(c) for c in Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split()]
            stage_pid = children[0] if children else proc.pid
        if stage_pid != proc.pid or whom == "stage":
            if started := _flashed_devices(stage_pid):
                break
        time.sleep(0.05)
    assert started, "the measure stage started no host device"
    time.sleep(1.0)  # into the accuracy or latency pass
    proc.send_signal(getattr(signal, sig))
    _, err = proc.communicate(timeout=20)
    deadline = time.monotonic() + 20
    while (_alive(stage_pid) or any(_alive(pid) for pid in started)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(stage_pid) and not any(_alive(pid) for pid in started)
    if whom == "stage" and said:
        assert proc.returncode != 0 and err.strip().splitlines()[-1] == said
    assert not (results / "kws_host_w8").exists()
    assert _no_partial(results) or sig == "SIGKILL"   # SIGKILL leaves '.kws_host_w8.<pid>.*.partial'
    rerun = stage(*measure_args(device, testset, results / "kws_host_w8"))
    assert rerun.returncode == 0, rerun.stderr
    assert [p.name for p in results.iterdir()] == ["kws_host_w8"]
    assert (results / "kws_host_w8" / "predictions.csv").read_text() == uninterrupted


def test_export_testset_writes_pixels_and_refuses_other_input_scales(tmp_path):
    """ic01: the .bin bytes are the images' own pixels (int8 input + 128); a model whose input
    quantization does not map pixels to pixel - 128 is refused with one line."""
    from tinysweep.io import save_npz
    from tinysweep.quantize import quantize_int8
    from tinysweep.tfcompat import keras
    rng = np.random.default_rng(0)
    keras.utils.set_random_seed(0)
    inp = keras.layers.Input((32, 32, 3))
    x = keras.layers.Conv2D(4, 3, strides=4, activation="relu")(inp)
    x = keras.layers.Dense(10, activation="softmax")(keras.layers.Flatten()(x))
    model = keras.Model(inp, x)
    pixels = rng.integers(0, 256, (12, 32, 32, 3)).astype(np.float32)
    pixels[0, 0, 0, 0], pixels[0, 0, 0, 1] = 0, 255
    features = tmp_path / "f.npz"
    save_npz(features, {"x_test": pixels, "y_test": np.arange(12) % 10,
                        "pixel_scale": np.array(1.0, np.float32)})
    for name, calibration in (("pixels", pixels), ("halved", pixels / 2)):
        (tmp_path / f"{name}.tflite").write_bytes(quantize_int8(model, calibration))
    out = tmp_path / "testset"
    ok = stage("export_testset.py", "--features", features, "--model", tmp_path / "pixels.tflite",
               "--profile", "ic01", "--out", out)
    assert ok.returncode == 0, ok.stderr
    first = er.read_folder(out, 3072)[0]
    assert np.array_equal(np.frombuffer(first.data, np.uint8), pixels[0].reshape(-1))
    bad = stage("export_testset.py", "--features", features, "--model", tmp_path / "halved.tflite",
                "--profile", "ic01", "--out", tmp_path / "bad")
    assert bad.returncode == 1 and bad.stderr.strip().splitlines()[-1] == (
        "export_testset: the model's input quantization does not map pixels to pixel - 128: "
        "quantize the model with stages/quantize.py (it pins the pixel range)")
    assert not (tmp_path / "bad").exists()
