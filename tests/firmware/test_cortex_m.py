"""Emulated boards: the same firmware (harness + engine + generated model) built for each
Cortex-M device of params.yaml, run in QEMU behind the same runner and protocol as the host
device; bit-exact with tflite-micro, exact and repeatable instruction counts, memory figures
from the ELF, one-line errors for a model that does not fit and a missing toolchain."""
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from tinysweep import emulator
from tinysweep.runner import DeviceError, open_device

from helpers import assert_device_equals_tflm, build_board_firmware, run_stage

REPO = Path(__file__).resolve().parents[2]
DUT_CHECK = Path("/work/shared/tools/dut-check.py")
PARAMS = yaml.safe_load((REPO / "params.yaml").read_text())
BOARDS = [d for d, e in PARAMS["devices"].items() if e["transport"] == "qemu"]

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def boards(tmp_path_factory, small_kws_tflite):
    """{device id: (device entry, firmware ELF)}, built lazily."""
    cache = {}

    def get(device):
        if device not in cache:
            cache[device] = build_board_firmware(small_kws_tflite,
                                                 tmp_path_factory.mktemp(f"board_{device}"), device)
        return cache[device]
    return get


def inputs(n, seed=0):
    return list(np.random.default_rng(seed).integers(-128, 128, (n, 49, 10, 1), dtype=np.int8))


@pytest.mark.parametrize("device", BOARDS)
def test_board_is_bitexact_with_tflite_micro_and_counts_exactly(device, boards, small_kws_tflite):
    entry, firmware = boards(device)
    xs = inputs(3)
    qemu = {"transport": "qemu", "machine": entry["qemu_machine"]}
    first = assert_device_equals_tflm(firmware, small_kws_tflite.read_bytes(), xs, device, **qemu)
    # input 0: 2 warm-ups + 3 inferences, then one each for inputs 1 and 2
    assert len(first) == 7 and len(set(first[:5])) == 1, first
    again = assert_device_equals_tflm(firmware, small_kws_tflite.read_bytes(), xs, device, **qemu)
    assert again == first  # identical runs, identical counts
    macs = json.loads((firmware.parents[1] / "c" / "model.json").read_text())["macs"]
    assert 1 < first[0] / macs < 100  # instructions per MAC of portable C kernels


def test_memory_figures_come_from_the_elf(boards):
    entry, firmware = boards("m4")
    build = json.loads(firmware.with_name("build.json").read_text())
    model = json.loads((firmware.parents[1] / "c" / "model.json").read_text())
    mem = build["memory"]
    assert mem["flash"]["weights"] == model["weights_bytes"]
    assert mem["ram"]["arena"] == model["arena_bytes"]
    assert sum(mem["flash"].values()) == mem["flash_bytes"] <= entry["board"]["flash_bytes"]
    assert sum(mem["ram"].values()) == mem["ram_bytes"] <= entry["board"]["ram_bytes"]
    assert build["board"]["name"] == entry["board"]["name"]


def test_stack_high_water_mark_is_measured(boards, small_kws_tflite, host_firmware):
    entry, firmware = boards("m4")
    with open_device("qemu", firmware, machine=entry["qemu_machine"], timeout=20) as dut:
        before = dut.stack_peak()
        dut.load(inputs(1, seed=5)[0].tobytes())
        dut.infer(1, 0, expected=12)
        used, reserved = dut.stack_peak()
    assert reserved == 8192 and 0 < before[0] < used < reserved  # inference went deeper
    with open_device("pty", host_firmware, timeout=20) as dut:
        assert dut.stack_peak() is None  # the host's OS grows its stack: nothing to paint


def test_board_passes_the_protocol_checker(boards, tmp_path):
    if not DUT_CHECK.is_file():
        pytest.skip(f"{DUT_CHECK} not available")
    entry, firmware = boards("m4")
    sample = tmp_path / "sample.bin"
    sample.write_bytes(np.random.default_rng(7).integers(0, 256, 490, dtype=np.uint8).tobytes())
    emu = emulator.Qemu(firmware, entry["qemu_machine"])
    try:
        run = subprocess.run([sys.executable, str(DUT_CHECK), emu.url, "--input", str(sample),
                              "--classes", "12", "--timeout", "20"],
                             capture_output=True, text=True, timeout=120)
        assert run.returncode == 0, run.stdout + run.stderr
        assert run.stdout.strip().splitlines()[-1] == "10 passed, 0 failed", run.stdout
    finally:
        emu.stop()
    assert emu.proc.poll() is not None  # stopped and reaped


def test_serial_transport_drives_the_m4_board_by_its_url(boards, small_kws_tflite):
    """A real board's measurement path (transport serial: open a URL, start nothing) against
    Cortex-M4 firmware that is running, reached by its socket:// URL."""
    from tinysweep import oracle
    entry, firmware = boards("m4")
    emu = emulator.Qemu(firmware, entry["qemu_machine"])
    try:
        with open_device("serial", url=emu.url, timeout=20) as dut:
            assert dut.device_name() == "tinysweep-mps2-an386"
            x = inputs(1, seed=4)[0]
            dut.load(x.tobytes(), verify=True)
            dut.infer(1, 0, expected=12)
            np.testing.assert_array_equal(dut.outputs(expected=12),
                                          oracle.predict(small_kws_tflite.read_bytes(), x.reshape(-1)))
    finally:
        emu.stop()


def test_qemu_is_stopped_when_the_block_raises(boards):
    entry, firmware = boards("m4")
    with pytest.raises(KeyboardInterrupt):
        with open_device("qemu", firmware, machine=entry["qemu_machine"]) as dut:
            proc = dut.process
            raise KeyboardInterrupt
    assert proc.poll() is not None


# A process holding QEMU open, as the measure stage does (stop_with_parent armed by its parser).
HOLDER = """
import sys, time
from tinysweep.cli import Parser
from tinysweep.runner import open_device
Parser(prog="holder").parse_args([])
with open_device("qemu", sys.argv[1], machine=sys.argv[2]) as dut:
    print(dut.process.pid, flush=True)
    time.sleep(60)
"""


@pytest.mark.parametrize("killed", ["stage", "job-shell"])
def test_qemu_dies_with_a_stage_killed_by_sigkill(boards, killed):
    """SIGKILL of the stage (QEMU's PR_SET_PDEATHSIG), or of the job shell that started it (the
    stage's SIGTERM on its parent's death unwinds and stops QEMU): no QEMU left behind."""
    import signal
    import time
    entry, firmware = boards("m4")
    argv = [sys.executable, "-c", HOLDER, str(firmware), entry["qemu_machine"]]
    if killed == "job-shell":
        argv = ["bash", "-c", '"$@"; true', "job", *argv]
    p = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True, cwd=REPO)
    qemu = int(p.stdout.readline())
    p.send_signal(signal.SIGKILL)
    p.wait()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            if Path(f"/proc/{qemu}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z":
                break
        except FileNotFoundError:
            break
        time.sleep(0.05)
    else:
        raise AssertionError(f"qemu-system-arm {qemu} still runs after the {killed} was killed")


def test_a_model_too_big_for_the_board_stops_the_build_with_one_line(boards, tmp_path):
    entry, firmware = boards("m4")
    run = run_stage("build_firmware.py", "--port", entry["port"], f"--cflags={entry['cflags']}",
                    "--board", "TinyBoard", "--flash-bytes", "16384", "--ram-bytes", "12288",
                    "--model-dir", firmware.parents[1] / "c", "--out", tmp_path / "b")
    assert run.returncode == 1
    last = run.stderr.strip().splitlines()[-1]
    assert last.startswith("build_firmware: the firmware needs ") and "KB flash / " in last
    assert last.endswith("TinyBoard has 16.0 KB flash / 12.0 KB RAM"), last
    assert not (tmp_path / "b").exists()


def test_missing_tools_name_the_debian_package(boards, tmp_path, monkeypatch):
    entry, firmware = boards("m4")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    os.symlink("/usr/bin/make", bin_dir / "make")  # make without the cross compiler
    run = subprocess.run(["make", "-C", str(REPO / "firmware"), f"PORT={entry['port']}",
                          "MODEL_DIR=/nonexistent", "print-CC"], capture_output=True, text=True,
                         env={"PATH": str(bin_dir)})
    assert "install the Debian package gcc-arm-none-eabi" in run.stderr
    monkeypatch.setenv("PATH", str(bin_dir))
    with pytest.raises(DeviceError, match="install the Debian package qemu-system-arm"):
        emulator.Qemu(firmware, entry["qemu_machine"])


def test_evaluate_runs_an_energyrunner_folder_on_a_board(boards, small_kws_tflite, tmp_path):
    from tinysweep import energyrunner as er
    entry, firmware = boards("m4")
    rng = np.random.default_rng(5)
    er.write_folder(tmp_path, [(f"s{i}.bin", rng.integers(-128, 128, 490, dtype=np.int8).tobytes(),
                                i % 12) for i in range(4)], 12, 490)
    run = subprocess.run([sys.executable, "-m", "tinysweep", "evaluate", "--model",
                          str(small_kws_tflite), "--transport", "qemu", "--machine",
                          entry["qemu_machine"], "--firmware", str(firmware), "--testset",
                          str(tmp_path)], capture_output=True, text=True, cwd=REPO)
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines()[-1].endswith("agreement 1.0000, bit-exact outputs 1.0000")
