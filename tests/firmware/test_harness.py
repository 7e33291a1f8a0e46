"""Host firmware (harness + host port + generated model + tsn kernels) over its pseudo-terminal:
the shared protocol checker, protocol details, and bit-exactness against tflite-micro."""
import json
import os
import re
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import serial

from tinysweep.config import ports
from tinysweep.io import sha256_file

from helpers import build_host_firmware, run_stage

REPO = Path(__file__).resolve().parents[2]
DUT_CHECK = Path("/work/shared/tools/dut-check.py")

pytestmark = pytest.mark.slow


# ---- building ----------------------------------------------------------------------------------

def build_variety_tflite(path: Path) -> Path:
    """Op variants the KWS model lacks: VALID conv with stride 2 and fused RELU6, depthwise with
    depth multiplier 2 and unequal strides, SAME average pool with padding and fused RELU, two
    FULLY_CONNECTED with per-tensor weights (one fused RELU), softmax over 5 classes."""
    from tinysweep.tfcompat import keras, tf
    keras.utils.set_random_seed(3)
    L = keras.layers
    x = inp = L.Input((17, 13, 3))
    x = L.Conv2D(6, (3, 5), strides=2, padding="valid", activation="relu6")(x)
    x = L.DepthwiseConv2D(3, strides=(2, 1), padding="same", depth_multiplier=2)(x)
    x = L.AveragePooling2D(pool_size=(2, 3), strides=2, padding="same")(x)
    x = L.ReLU()(x)
    x = L.Flatten()(x)
    x = L.Dense(10, activation="relu")(x)
    x = L.Dense(5, activation="softmax")(x)
    model = keras.Model(inp, x)
    calib = np.random.default_rng(0).normal(0, 2, (32, 17, 13, 3)).astype(np.float32)
    conv = tf.lite.TFLiteConverter.from_keras_model(model)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = lambda: ([c[None]] for c in calib)
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    conv.inference_input_type = tf.int8
    conv.inference_output_type = tf.int8
    conv._experimental_disable_per_channel_quantization_for_dense_layers = True
    path.write_bytes(conv.convert())
    return path


@pytest.fixture(scope="module")
def variety(tmp_path_factory):
    root = tmp_path_factory.mktemp("variety_fw")
    tflite = build_variety_tflite(root / "variety.tflite")
    return tflite, build_host_firmware(tflite, root, "ic01")


# ---- talking to the device ---------------------------------------------------------------------

class HostDevice:
    """The firmware as a child process; `banner` is what it printed at boot."""

    def __init__(self, firmware: Path, timeout: float = 10.0):
        self.proc = subprocess.Popen([str(firmware)], stdout=subprocess.PIPE)
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        assert ready, "no 'pty:' line from the firmware"
        line = self.proc.stdout.readline().decode()
        assert line.startswith("pty: /dev/") and line.endswith("\n"), line
        self.path = line[len("pty: "):].strip()
        self.timeout = timeout
        # read the boot banner without pyserial (opening with pyserial flushes pending input)
        fd = os.open(self.path, os.O_RDWR | os.O_NOCTTY)
        try:
            raw, end = b"", time.monotonic() + timeout
            while not raw.endswith(b"m-ready\r\n") and time.monotonic() < end:
                if select.select([fd], [], [], 0.1)[0]:
                    raw += os.read(fd, 4096)
        finally:
            os.close(fd)
        self.banner = raw
        self.port = serial.Serial(self.path, 115200, timeout=0.02)

    def send(self, data: bytes, timeout=None) -> bytes:
        """Write raw bytes; return the raw answer up to and including 'm-ready\\r\\n'."""
        self.port.write(data)
        raw, end = b"", time.monotonic() + (timeout or self.timeout)
        while time.monotonic() < end:
            raw += self.port.read(self.port.in_waiting or 1)   # returns as soon as bytes came
            if raw.endswith(b"m-ready\r\n"):
                return raw
        raise TimeoutError(f"no m-ready; got {raw[-200:]!r}")

    def command(self, text: str, timeout=None) -> list[str]:
        raw = self.send((text + "%").encode("latin-1"), timeout)
        lines = raw.decode("ascii").split("\r\n")
        assert lines[-2:] == ["m-ready", ""], lines
        return lines[:-2]

    def reopen(self):
        self.port.close()
        self.port = serial.Serial(self.path, 115200, timeout=0.02)

    def load(self, data: bytes):
        assert self.command(f"db load {len(data)}") == [f"m-[Expecting {len(data)} bytes]"]
        for i in range(0, len(data), 31):
            answer = self.command("db " + data[i:i + 31].hex())
        assert answer == ["m-load-done"]

    def outputs(self) -> list[int]:
        (line,) = self.command("outputs")
        m = re.fullmatch(r"m-outputs-\[(-?\d+(?:,-?\d+)*)\]", line)
        assert m, line
        return [int(v) for v in m.group(1).split(",")]

    def stop(self, sig=signal.SIGTERM) -> int:
        self.port.close()
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            return self.proc.wait(5)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
            self.stdout_rest = self.proc.stdout.read()
            self.proc.stdout.close()


@pytest.fixture
def dut(host_firmware):
    d = HostDevice(host_firmware)
    yield d
    d.stop()


# ---- the shared checker -------------------------------------------------------------------------

def test_dut_check_passes(host_firmware, tmp_path):
    if not DUT_CHECK.is_file():
        pytest.skip(f"{DUT_CHECK} not available")
    sample = tmp_path / "sample.bin"
    sample.write_bytes(np.random.default_rng(7).integers(0, 256, 490, dtype=np.uint8).tobytes())
    d = HostDevice(host_firmware)
    try:
        t0 = time.monotonic()
        run = subprocess.run([sys.executable, str(DUT_CHECK), d.path, "--input", str(sample),
                              "--classes", "12"], capture_output=True, text=True, timeout=120)
        elapsed = time.monotonic() - t0
    finally:
        assert d.stop() == 0
    assert run.returncode == 0, run.stdout + run.stderr
    assert run.stdout.strip().splitlines()[-1] == "10 passed, 0 failed", run.stdout
    assert elapsed < 60


# ---- bit-exactness ------------------------------------------------------------------------------

def _inputs(shape, n, seed):
    rng = np.random.default_rng(seed)
    xs = [np.full(shape, -128, np.int8), np.full(shape, 127, np.int8),
          np.zeros(shape, np.int8)]
    xs += [np.clip(rng.normal(0, s, shape), -128, 127).astype(np.int8) for s in (5, 20, 60)]
    xs += [rng.integers(-128, 128, shape, dtype=np.int8) for _ in range(n - len(xs))]
    return xs


def _check_bit_exact(firmware, tflite, n=24, pixels=False):
    """pixels: the firmware is ic01/vww01, which takes uint8 pixels and stores pixel - 128."""
    from tflite_micro import runtime
    oracle = runtime.Interpreter.from_file(str(tflite), arena_size=256 * 1024)
    shape = tuple(oracle.get_input_details(0)["shape"])
    q = oracle.get_output_details(0)["quantization_parameters"]
    scale, zp = float(q["scales"][0]), int(q["zero_points"][0])
    d = HostDevice(firmware)
    try:
        for k, x in enumerate(_inputs(shape, n, seed=11)):
            d.load((x.astype(np.int16) + 128).astype(np.uint8).tobytes() if pixels else x.tobytes())
            lines = d.command("infer 1 0")
            oracle.set_input(x, 0)
            oracle.invoke()
            expected = oracle.get_output(0).reshape(-1).astype(int).tolist()
            assert d.outputs() == expected, f"input {k}"
            results = [float(v) for v in re.fullmatch(r"m-results-\[(.*)\]", lines[-1]).group(1).split(",")]
            np.testing.assert_allclose(results, (np.array(expected) - zp) * scale, atol=5.01e-4)
            assert all(re.fullmatch(r"-?\d+\.\d{3}", v) for v in lines[-1][11:-1].split(","))
    finally:
        assert d.stop() == 0


def test_bit_exact_with_tflite_micro_kws(host_firmware, small_kws_tflite):
    _check_bit_exact(host_firmware, small_kws_tflite)


def test_bit_exact_with_tflite_micro_op_variants(variety):
    tflite, firmware = variety
    _check_bit_exact(firmware, tflite, pixels=True)


def test_ic01_device_takes_pixels_and_prints_them_back(variety):
    _, firmware = variety
    d = HostDevice(firmware)
    try:
        pixels = bytes(range(256)) * 2
        d.load(pixels[:64])
        dump = d.command("db print")  # what was sent, not the stored pixel - 128
        assert bytes(int(h, 16) for l in dump for h in l[len("m-buffer-"):].split("-")) == pixels[:64]
    finally:
        assert d.stop() == 0


def test_repeated_inference_keeps_the_input(dut):
    x = np.random.default_rng(3).integers(-128, 128, 490, dtype=np.int8).tobytes()
    dut.load(x)
    dut.command("infer 1 0")
    first = dut.outputs()
    dut.command("infer 5 3")
    assert dut.outputs() == first
    dump = [l for l in dut.command("db print")]
    assert bytes(int(h, 16) for l in dump for h in l[len("m-buffer-"):].split("-")) == x


# ---- protocol details ---------------------------------------------------------------------------

def test_boot_banner_and_line_endings(dut):
    lines = dut.banner.split(b"\r\n")
    assert lines[0] == b"m-timestamp-mode-performance"
    assert re.fullmatch(rb"m-lap-us-\d+", lines[1])
    assert lines[2:] == [b"m-init-done", b"m-ready", b""]
    raw = dut.send(b"help%")
    assert b"\n" not in raw.replace(b"\r\n", b"") and b"\r" not in raw.replace(b"\r\n", b"")
    assert b"outputs" in raw


def test_identity(dut):
    assert dut.command("name") == ["m-name-dut-[tinysweep-host]"]
    assert dut.command("profile") == ["m-profile-[ULPMark for tinyML Firmware V0.0.1]",
                                      "m-model-[kws01]"]
    t = [int(dut.command("timestamp")[0][len("m-lap-us-"):]) for _ in range(3)]
    assert t[0] < t[1] < t[2]
    assert dut.command("") == []


def test_db_commands(dut):
    assert dut.command("db 00") == ["e-[Command 'db' requires 'db load N' first]"]
    assert dut.command("db load 491") == ["e-[Command 'db load' exceeds the input size of 490 bytes]"]
    assert dut.command("db load 0")[0].startswith("e-[")
    assert dut.command("db load -3")[0].startswith("e-[")
    assert dut.command("db load x")[0].startswith("e-[")
    assert dut.command("db load")[0].startswith("e-[")
    assert dut.command("db")[0].startswith("e-[")
    assert dut.command("db load 10") == ["m-[Expecting 10 bytes]"]
    assert dut.command("db 0011") == []
    assert dut.command("db 2233445") == ["e-[Insufficent number of hex digits]"]
    assert dut.command("db 22g3") == ["e-[Invalid hex digit 'g3']"]   # nothing stored
    assert dut.command("db 2233445566778899aabb") == ["m-load-done"]    # the rest is disregarded
    assert dut.command("db print") == ["m-buffer-00-11-22-33-44-55-66-77", "m-buffer-88-99"]
    assert dut.command("db cc")[0].startswith("e-[")                  # already complete
    assert dut.command("db load 8") == ["m-[Expecting 8 bytes]"]
    assert dut.command("db 0102 0304 05060708") == ["m-load-done"]       # several tokens
    assert dut.command("db print") == ["m-buffer-01-02-03-04-05-06-07-08"]


def test_infer_commands(dut):
    lines = dut.command("infer")
    assert lines[:3] == ["m-warmup-start-10", "m-warmup-done", "m-infer-start-1"]
    assert [l[:9] for l in lines[3:5]] == ["m-lap-us-"] * 2
    t1, t2 = (int(l[9:]) for l in lines[3:5])
    assert t2 >= t1
    assert lines[5] == "m-infer-done" and lines[6].startswith("m-results-[") and len(lines) == 7
    assert dut.command("infer 3 0")[:3] == ["m-warmup-start-0", "m-warmup-done", "m-infer-start-3"]
    for bad in ("infer 0", "infer -1", "infer x", "infer 99999999999"):
        assert dut.command(bad) == ["e-[Inference iterations must be >0]"], bad
    for bad in ("infer 1 -1", "infer 1 y"):
        assert dut.command(bad) == ["e-[Inference warmup must be >=0]"], bad
    assert dut.command("results") == [lines[6]]


def test_long_and_garbage_input(dut):
    assert dut.command("x" * 80) == ["e-[Unknown command: " + "x" * 80 + "]"]
    assert dut.command("x" * 81)[0].startswith("e-[Command too long")
    assert dut.command("y" * 5000)[0].startswith("e-[Command too long")
    raw = dut.send(b"\xff\x00\x80a%")
    assert raw == b"e-[Unknown command: ???a]\r\nm-ready\r\n"
    assert dut.command("name") == ["m-name-dut-[tinysweep-host]"]


def test_port_can_be_closed_and_reopened(dut):
    for _ in range(3):
        dut.reopen()
        assert dut.command("name") == ["m-name-dut-[tinysweep-host]"]
    dut.port.close()
    time.sleep(0.3)   # nobody has the port open: the device must keep running
    dut.reopen()
    assert dut.command("profile")[1] == "m-model-[kws01]"
    assert dut.proc.poll() is None


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signals_exit_cleanly(host_firmware, sig):
    d = HostDevice(host_firmware)
    assert d.command("name")
    t0 = time.monotonic()
    assert d.stop(sig) == 0
    assert time.monotonic() - t0 < 2
    assert d.stdout_rest == b""   # stdout held exactly the one 'pty:' line


def test_signal_during_a_long_inference_exits_at_once(host_firmware):
    d = HostDevice(host_firmware)
    d.port.write(b"infer 100000000 0%")       # hours of work; no answer awaited
    seen, end = b"", time.monotonic() + 10
    while b"m-infer-start-100000000\r\n" not in seen and time.monotonic() < end:
        seen += d.port.read(d.port.in_waiting or 1)
    assert seen.endswith(b"m-infer-start-100000000\r\n"), seen   # inside the timed loop now
    t0 = time.monotonic()
    assert d.stop(signal.SIGTERM) == 0
    assert time.monotonic() - t0 < 2


# ---- the build stage ----------------------------------------------------------------------------

def test_build_record(host_firmware):
    build_dir = host_firmware.parent
    info = json.loads((build_dir / "build.json").read_text())
    assert sorted(p.name for p in build_dir.iterdir()) == ["build.json", "firmware"]
    assert info["firmware_sha256"] == sha256_file(host_firmware)
    model_json = json.loads((build_dir.parent / "c" / "model.json").read_text())
    assert info["model_sha256"] == model_json["sha256"]
    assert info["port"] == "host" and info["extra_cflags"] == "-O2"
    assert info["cflags"].startswith("-std=c99") and "-Werror" in info["cflags"]
    assert info["compiler_version"] and set(info["sizes"]) == {"text", "data", "bss", "total"}
    assert info["sizes"]["text"] > model_json["weights_bytes"]


def test_build_stage_errors_are_one_line(host_firmware, tmp_path):
    model_dir = host_firmware.parent.parent / "c"
    run = run_stage("build_firmware.py", "--port", "nonesuch", "--model-dir", model_dir,
                    "--out", tmp_path / "b")
    assert run.returncode == 1
    assert run.stderr.strip().splitlines() == [
        "build_firmware: unknown port 'nonesuch' (firmware/ports has: " +
        ", ".join(ports()) + ")"]
    assert "cortex-m" not in ports() and {"host", "mps2-an386"} <= set(ports())  # shared code is no port
    run = run_stage("build_firmware.py", "--port", "host", "--model-dir", tmp_path / "nope",
                    "--out", tmp_path / "b")
    assert run.returncode == 1 and len(run.stderr.strip().splitlines()) == 1
    assert str(tmp_path / "nope" / "model.c") in run.stderr
    # a compile error: the compiler's output, then one closing line; no output folder
    bad = tmp_path / "bad"
    bad.mkdir()
    for name in ("model.h", "model.json"):
        (bad / name).write_bytes((model_dir / name).read_bytes())
    (bad / "model.c").write_text("#include \"model.h\"\nint broken(void) { return }\n")
    run = run_stage("build_firmware.py", "--port", "host", "--model-dir", bad, "--out", tmp_path / "b")
    assert run.returncode == 1
    assert run.stderr.strip().splitlines()[-1].startswith("build_firmware: make failed")
    assert not (tmp_path / "b").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".b.")]
