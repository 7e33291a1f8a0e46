"""The NUCLEO-L4R5ZI port: no board here, so the build is checked (CI builds it): vector table at
the flash origin, image and memory figures within the board, flashable .bin/.hex, energy mode
selected at build time. Its measurement path (transport serial) is tested in test_runner.py and,
against the Cortex-M4 firmware in QEMU, in test_cortex_m.py."""
import json
import struct
import subprocess

import pytest

from tinysweep import elf

from helpers import REPO, build_board_firmware, run_stage

FLASH_ORIGIN, RAM_ORIGIN = 0x08000000, 0x20000000

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def nucleo(tmp_path_factory, small_kws_tflite):
    return build_board_firmware(small_kws_tflite, tmp_path_factory.mktemp("nucleo"), "nucleo")


def _strings(path) -> str:
    return subprocess.run(["strings", str(path)], capture_output=True, text=True).stdout


def test_vector_table_boots_from_flash(nucleo):
    entry, firmware = nucleo
    board = entry["board"]
    image = firmware.with_name("firmware.bin").read_bytes()
    initial_sp, reset = struct.unpack_from("<II", image, 0)
    assert elf.address(firmware, "cortex_m_vectors") == FLASH_ORIGIN  # first word of the .bin
    assert RAM_ORIGIN < initial_sp <= RAM_ORIGIN + board["ram_bytes"] and initial_sp % 8 == 0
    assert reset & 1 and FLASH_ORIGIN <= reset < FLASH_ORIGIN + board["flash_bytes"]  # Thumb
    assert reset & ~1 == elf.address(firmware, "Reset_Handler")


def test_image_and_memory_figures_fit_the_board(nucleo):
    entry, firmware = nucleo
    build = json.loads(firmware.with_name("build.json").read_text())
    model = json.loads((firmware.parents[1] / "c" / "model.json").read_text())
    mem, board = build["memory"], entry["board"]
    assert mem["flash"]["weights"] == model["weights_bytes"]
    assert mem["ram"]["arena"] == model["arena_bytes"] and mem["ram"]["stack"] == 8192
    assert sum(mem["flash"].values()) == mem["flash_bytes"] <= board["flash_bytes"]
    assert sum(mem["ram"].values()) == mem["ram_bytes"] <= board["ram_bytes"]
    # the .bin is the flash image: vector table to the end of the .data load image
    assert len(firmware.with_name("firmware.bin").read_bytes()) == mem["flash_bytes"]
    assert firmware.with_name("firmware.hex").read_text().startswith(":")
    assert set(build["images"]) == {"firmware.bin", "firmware.hex"}
    assert build["baud"] == 115200 and build["energy_mode"] is False
    assert not firmware.with_name("insn_count.so").exists()  # no QEMU plugin for a board


def test_energy_mode_is_a_build_option(nucleo, tmp_path):
    entry, firmware = nucleo
    assert "m-timestamp-mode-performance" in _strings(firmware)
    assert "port_timestamp_pulse" not in elf.symbols(firmware)  # D7 untouched
    # ENERGY_MODE=1 (build_firmware.py --energy-mode): the harness and the port objects, with the
    # Makefile's own flags (a full link is what the nucleo fixture checks)
    objs = [tmp_path / "obj" / "harness" / "harness.o",
            tmp_path / "obj" / "ports" / entry["port"] / "port_nucleo.o"]
    run = subprocess.run(["make", "-s", "-C", str(REPO / "firmware"), f"PORT={entry['port']}",
                          f"MODEL_DIR={firmware.parents[1] / 'c'}", f"BUILD_DIR={tmp_path}",
                          f"EXTRA_CFLAGS={entry['cflags']}", "FLASH_BYTES=1", "RAM_BYTES=1",
                          "ENERGY_MODE=1", "BAUD=9600", "-j2", *map(str, objs)],
                         capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    harness, port = (subprocess.run(["arm-none-eabi-nm", str(o)], capture_output=True,
                                    text=True).stdout for o in objs)
    assert "U port_timestamp_pulse" in harness and "T port_timestamp_pulse" in port
    text = _strings(objs[0])
    assert "m-timestamp-mode-energy" in text and "m-timestamp-mode-performance" not in text
    # a port without a timestamp pin refuses, in one line
    run = run_stage("build_firmware.py", "--port", "host", "--energy-mode", "--model-dir",
                    firmware.parents[1] / "c", "--out", tmp_path / "host")
    assert run.returncode == 1
    assert run.stderr.strip().splitlines()[-1] == (
        "build_firmware: make failed (exit 2): PORT=host has no energy mode (no timestamp pin): "
        "build it with ENERGY_MODE=0")
