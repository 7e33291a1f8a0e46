"""Helpers shared by test modules (tests/ is on sys.path, see pyproject.toml)."""
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def run_stage(script, *args, cwd=None):
    """Run stages/<script> with the test interpreter; returns the CompletedProcess."""
    return subprocess.run([sys.executable, str(REPO / "stages" / script), *map(str, args)],
                          capture_output=True, text=True, cwd=cwd or REPO)


def build_host_firmware(tflite, root, profile: str = "kws01"):
    """convert + build_firmware for the host port: root/c (generated model), root/build/firmware."""
    root = Path(root)
    firmware = root / "build" / "firmware"
    if not firmware.is_file():
        for args in (("convert.py", "--model", tflite, "--profile", profile, "--out", root / "c"),
                     ("build_firmware.py", "--port", "host", "--model-dir", root / "c",
                      "--out", root / "build", "--cflags=-O2")):
            run = run_stage(*args)
            assert run.returncode == 0, f"{args[0]} failed:\n{run.stdout}\n{run.stderr}"
    return firmware
