"""Emulated boards: a Cortex-M firmware in qemu-system-arm, its UART on a local TCP socket,
and the exact instruction count of every inference.

QEMU runs with `-icount shift=0` (virtual time: 1 instruction = 1 ns, so the firmware's
timestamps are repeatable but are not the represented board's time) and the project's TCG
plugin (firmware/qemu-plugin/insn_count.c, built next to the firmware) that appends one line
per model invocation to a file: the instructions executed between the firmware's marker
functions. `Qemu` starts, connects and always stops and reaps QEMU; `InstructionLog` reads the
counts; `estimate` turns counts into the latency and energy estimates the devices declare.
"""
from __future__ import annotations

import contextlib
import functools
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import serial

from tinysweep import elf

QEMU = "qemu-system-arm"
PLUGIN = "insn_count.so"
MARKERS = ("tsn_marker_invoke_begin", "tsn_marker_invoke_end")
# Interrupt handlers not counted (the plugin's skip=): where they interrupt an inference
# depends on host timing, so counting them would break run-to-run identity.
UNCOUNTED = ("SysTick_Handler",)
MARKER_OVERHEAD = 3  # begin's `bx lr`, the `bl` to the model, the `bl` to end (plugin doc)


class EmulatorError(RuntimeError):
    pass


def _free_port() -> int:
    """A TCP port free now on 127.0.0.1 (the kernel picks it; QEMU binds it a moment later,
    so a start that loses the race is retried)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class InstructionLog:
    """The plugin's output file: one instruction count per inference, in order."""

    def __init__(self, path):
        self.path = Path(path)
        self._seen = 0

    def all(self) -> list[int]:
        try:
            text = self.path.read_text()
        except FileNotFoundError:
            return []
        lines = text.split("\n")
        return [int(x) for x in lines[:-1]]  # the last piece may be a line being written

    def take(self, expected: int | None = None, timeout: float = 5.0) -> list[int]:
        """Counts written since the last take(); waits (up to `timeout`) for `expected` of them."""
        deadline = time.monotonic() + timeout
        while True:
            counts = self.all()[self._seen:]
            if expected is None or len(counts) >= expected or time.monotonic() > deadline:
                break
            time.sleep(0.01)
        if expected is not None and len(counts) != expected:
            raise EmulatorError(f"the instruction-count plugin logged {len(counts)} inferences, "
                                f"expected {expected} ({self.path})")
        self._seen += len(counts)
        return counts


class Qemu:
    """qemu-system-arm running `firmware` on `machine`, its UART0 on 127.0.0.1:`port`."""

    def __init__(self, firmware, machine: str, plugin=None, boot_timeout: float = 10.0,
                 attempts: int = 3):
        from tinysweep.runner import DeviceError, _die_with_parent  # runner imports us lazily
        self.firmware = Path(firmware)
        if not self.firmware.is_file():
            raise DeviceError(f"firmware {self.firmware} is missing")
        qemu = shutil.which(QEMU)
        if qemu is None:
            raise DeviceError(f"{QEMU} not found: install the Debian package qemu-system-arm "
                              f"(apt-get install --no-install-recommends qemu-system-arm)")
        self.plugin = Path(plugin) if plugin else self.firmware.with_name(PLUGIN)
        if not self.plugin.is_file():
            raise DeviceError(f"the instruction-count plugin {self.plugin} is missing: rebuild "
                              f"the firmware (stages/build_firmware.py builds it for Cortex-M ports)")
        try:
            begin, end = (elf.address(self.firmware, name) for name in MARKERS)
            symbols = elf.symbols(self.firmware)
        except elf.ElfError as e:
            raise DeviceError(str(e)) from None
        skips = "".join(f",skip={symbols[n][0] & ~1:#x}:{symbols[n][1]}" for n in UNCOUNTED
                        if n in symbols and symbols[n][1] > 0)
        self.dir = tempfile.mkdtemp(prefix="tinysweep-qemu-")
        self.counts = InstructionLog(os.path.join(self.dir, "instructions.txt"))
        self.stderr_path = os.path.join(self.dir, "qemu.log")
        self.machine = machine
        self.proc = None
        self.port = None
        try:
            for attempt in range(attempts):
                self.port = _free_port()
                cmd = [qemu, "-M", machine, "-nographic", "-monitor", "none",
                       "-icount", "shift=0",
                       "-semihosting-config", "enable=on,target=native",
                       "-kernel", str(self.firmware),
                       "-plugin", f"{self.plugin},begin={begin:#x},end={end:#x},"
                                  f"out={self.counts.path}{skips}",
                       "-serial", f"tcp:127.0.0.1:{self.port},server=on,wait=on,nodelay=on"]
                self.command = cmd
                with open(self.stderr_path, "wb") as err:
                    self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=err,
                                                 stderr=subprocess.STDOUT,
                                                 preexec_fn=functools.partial(_die_with_parent,
                                                                              os.getpid()))
                if self._wait_listening(boot_timeout):
                    return
                if "Address already in use" not in self.log() or attempt == attempts - 1:
                    raise DeviceError(f"{QEMU} -M {machine} did not open its UART socket within "
                                      f"{boot_timeout:.0f} s; {self.describe()}")
                self.stop(remove=False)
        except BaseException:
            self.stop()
            raise

    @property
    def url(self) -> str:
        return f"socket://127.0.0.1:{self.port}"

    def _wait_listening(self, timeout: float) -> bool:
        """True once QEMU listens on its port (it waits for us before running the firmware)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            with open("/proc/net/tcp") as f:
                hexport = f":{self.port:04X} "
                if any(hexport in line and line.split()[3] == "0A" for line in f):  # LISTEN
                    return True
            time.sleep(0.02)
        return False

    def log(self) -> str:
        try:
            return Path(self.stderr_path).read_text(errors="replace").strip()[-2000:]
        except OSError:
            return ""

    def describe(self) -> str:
        rc = self.proc.poll() if self.proc else None
        state = "is still running" if rc is None else f"exited with code {rc}"
        log = self.log()
        return f"{QEMU} -M {self.machine} {state}" + (f"; its output: {log!r}" if log else "")

    def connect(self, baud: int):
        return serial.serial_for_url(self.url, baudrate=baud, timeout=0.05)

    def stop(self, grace: float = 3.0, remove: bool = True):
        """SIGTERM, then SIGKILL; always reaps QEMU. Removes the temporary folder."""
        if self.proc is not None:
            for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, None)):
                if self.proc.poll() is not None:
                    break
                with contextlib.suppress(ProcessLookupError):
                    self.proc.send_signal(sig)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    self.proc.wait(wait)
        if remove:
            shutil.rmtree(self.dir, ignore_errors=True)


def estimate(instructions: float, clock_hz: float, cpi: float, watts: float | None) -> dict:
    """Latency (ms) = instructions x CPI / clock; energy (µJ) = power x latency."""
    seconds = instructions * cpi / clock_hz
    return {"latency_ms": seconds * 1e3,
            "energy_uj": None if watts is None else watts * seconds * 1e6}
