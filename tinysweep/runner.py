"""Host side of the MLPerf Tiny performance-mode serial protocol.

`Dut` talks to a device under test over any pyserial URL (a pty path, socket://host:port,
/dev/ttyACM0): ASCII commands ended by '%', answers are CR LF lines closed by 'm-ready'.
`open_device` starts the host firmware (transport "pty"), an emulated board in QEMU (transport
"qemu", tinysweep/emulator.py) or opens a board's serial port (transport "serial") and always
closes and reaps what it started.

Parsing is strict on purpose: a truncated or malformed `m-results` / `m-outputs` line, a
missing lap or an out-of-order `infer` sequence is an error, never a result.

A serial line can drop, duplicate, corrupt or delay bytes, be cut, and the device can reset.
The accuracy pass accepts a sample only when its input was verified (`db crc`) before `infer`,
its m-results equal a second `results` read, its outputs two agreeing `outputs` reads and the
device still holds its input afterwards (no reset in between); a boot banner in the middle of a
session is a reset. With `retries` > 0 the runner retries only what is safe to repeat
(idempotent reads; a `db` transfer, restarted from `db load`; a whole sample) and otherwise
fails with one line naming the port, the fault and the last line the device said (README
"Serial faults").
"""
from __future__ import annotations

import contextlib
import functools
import os
import re
import zlib
import selectors
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import serial

READY = "m-ready"
_POLL = 0.05  # seconds a single port read may block
DB_CHUNK = 31  # bytes per `db` line, as the official runner (65 chars + '%' < 80-char buffer)

_NUMBER = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
_RESULTS = re.compile(rf"m-results-\[({_NUMBER}(?:,{_NUMBER})*)\]")
_OUTPUTS = re.compile(r"m-outputs-\[(-?\d+(?:,-?\d+)*)\]")
_LAP = re.compile(r"m-lap-us-(\d+)")
_CRC = re.compile(r"m-db-crc32-\[(\d+),([0-9a-f]{8})\]")
_STACK = re.compile(r"m-stack-\[(?:(\d+),(\d+)|unknown)\]")
_NAME = re.compile(r"m-name-dut-\[(.*)\]")
# Lines a device prints only when it boots: seen inside a session, the device has reset.
BOOT_LINES = ("m-timestamp-mode-", "m-init-done")
# Protocol text is printable ASCII, tab, CR, LF. A wrong baud rate turns every byte into others,
# mostly outside it: this many such bytes without a protocol line in between stop the command.
_TEXT = frozenset(range(0x20, 0x7F)) | {0x09, 0x0A, 0x0D}
NOISE_LIMIT = 32
ENERGY_BANNER = "m-timestamp-mode-energy"
SERIAL_RETRIES = 3  # attempts after the first on a real board's line (bench/serial_faults.py)


class DeviceError(RuntimeError):
    """The device answered with an error (`e-[...]`) or could not be reached."""


class LineLost(DeviceError):
    """The port itself failed (cut, closed, unplugged): a reopen may mend it."""


class CommandRefused(DeviceError):
    """The device answered a command with an error line (`e-[...]`)."""


class DeviceTimeout(DeviceError):
    """The device did not close a command with 'm-ready' in time."""


class ProtocolError(DeviceError):
    """The device answered, but not as the protocol says."""


class NoiseError(ProtocolError):
    """Bytes that are not protocol text: a wrong baud rate, not a fault that a retry mends."""


class DeviceReset(ProtocolError):
    """The device printed its boot banner in the middle of a session: its state is gone."""


def parse_results(lines: list[str], expected: int | None = None, where: str = "?") -> list[float]:
    """The values of the one complete `m-results-[v,v,...]` line among `lines` (answer lines
    without their CR LF; a line without its line end never gets here). Anything else — no or
    several m-results lines, a missing bracket, an empty or non-numeric value, the wrong count
    — is a ProtocolError, never a result."""
    found = [line for line in lines if line.startswith("m-results-")]
    if len(found) != 1:
        raise ProtocolError(f"device on {where}: expected one m-results line, got "
                            f"{len(found)} in {lines!r}")
    m = _RESULTS.fullmatch(found[0])
    if not m:
        raise ProtocolError(f"device on {where}: malformed m-results line {found[0]!r}")
    values = [float(v) for v in m.group(1).split(",")]
    if expected is not None and len(values) != expected:
        raise ProtocolError(f"device on {where}: {len(values)} result values, expected "
                            f"{expected}: {found[0]!r}")
    return values


def _seconds(t: float) -> str:
    return f"{t:.0f} s" if t >= 10 or t == int(t) else f"{t:.2g} s"


class Dut:
    """A device under test behind an open pyserial port (or any object with read/write/
    in_waiting/close and a `port` or `name`).

    `command()` returns the lines of one answer up to (not including) 'm-ready'.
    """

    def __init__(self, port, timeout: float = 10.0, name: str | None = None, retries: int = 0,
                 retry_time: float | None = None):
        self.port = port
        self.timeout = timeout
        self.retries = retries  # attempts after the first, where a retry is safe (0: none)
        # seconds all attempts of one operation may take (default: each may time out once)
        self.retry_time = max(60.0, (retries + 1) * timeout) if retry_time is None else retry_time
        self._reopen = None  # from_url: reopens the port after the line was cut
        self.name = name or getattr(port, "port", None) or getattr(port, "name", None) or "?"
        self.last_line: str | None = None
        self._buf = b""
        self._noise = bytearray()  # non-text bytes since the last protocol line or command
        self._desynced = False
        self.process = None  # set by open_device for a started firmware
        self.instructions = None  # emulated boards: the InstructionLog of every inference
        if getattr(port, "timeout", None) != _POLL:
            port.timeout = _POLL  # short reads; deadlines are kept here, not by the port

    @classmethod
    def from_url(cls, url: str, baud: int = 115200, timeout: float = 10.0, **retry) -> "Dut":
        def open_port():
            try:
                return serial.serial_for_url(url, baudrate=baud, timeout=_POLL)
            except (serial.SerialException, OSError, ValueError) as e:
                raise DeviceError(f"cannot open device port {url}: {e}") from None
        dut = cls(open_port(), timeout=timeout, name=url, **retry)
        dut._reopen = open_port
        return dut

    def close(self):
        with contextlib.suppress(Exception):
            self.port.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # ---- line transport -------------------------------------------------------------------
    def _read_some(self) -> bytes:
        """Bytes available now, or the first ones arriving within the port's short timeout."""
        try:
            data = self.port.read(1)  # returns at the first byte, or after the port's timeout
            if data:
                waiting = self.port.in_waiting
                if waiting:
                    data += self.port.read(waiting)
            return data
        except (serial.SerialException, OSError) as e:
            raise LineLost(f"device on {self.name} stopped responding "
                              f"(last line: {self._last()}): {e}") from None

    def _last(self) -> str:
        return repr(self.last_line) if self.last_line is not None else "none"

    def _noise_report(self) -> str:
        """What a wrong baud rate looks like: bytes outside protocol text, and the rate used."""
        baud = getattr(self.port, "baudrate", None)
        return (f"received {len(self._noise)} bytes that are not protocol text (last: "
                f"{bytes(self._noise[-12:]).hex(' ')}): wrong baud rate? (port opened at "
                f"{baud} baud; the firmware's rate is params.yaml devices.<id>.baud, 9600 for "
                f"energy-mode firmware)")

    def _next_line(self, deadline: float) -> str | None:
        """The next non-empty line, or None when the deadline passes first."""
        while True:
            while b"\n" in self._buf:
                raw, self._buf = self._buf.split(b"\n", 1)
                line = raw.decode("ascii", "replace").strip("\r").strip()
                if line:
                    self.last_line = line
                    if line.startswith(("m-", "e-")):
                        self._noise.clear()
                    return line
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            data = self._read_some()
            self._noise += bytes(b for b in data if b not in _TEXT)
            if len(self._noise) >= NOISE_LIMIT:
                self._desynced = True
                raise NoiseError(f"device on {self.name}: {self._noise_report()}")
            self._buf += data

    def _discard_stale(self):
        """Drop bytes that arrived outside any command (a late answer, line noise); a boot
        banner among them means the device reset: DeviceReset."""
        stale, self._buf = self._buf, b""
        self._noise.clear()
        try:
            waiting = self.port.in_waiting
            if waiting:
                stale += self.port.read(waiting)
        except (serial.SerialException, OSError):
            pass
        for boot in BOOT_LINES:
            if boot.encode() in stale:
                raise DeviceReset(f"device on {self.name} reset between commands (it printed "
                                  f"{boot}…); last line: {self._last()}")

    def read_until_ready(self, timeout: float, what: str) -> list[str]:
        deadline = time.monotonic() + timeout
        lines = []
        while True:
            line = self._next_line(deadline)
            if line is None:
                self._desynced = True
                partial = self._buf.decode("ascii", "replace").strip()
                raise DeviceTimeout(f"device on {self.name} did not answer {what} within "
                                    f"{_seconds(timeout)}; last line: {self._last()}"
                                    + (f", then {partial[:60]!r} without a line end" if partial else "")
                                    + (f"; {self._noise_report()}" if self._noise else ""))
            if line == READY:
                boot = [x for x in lines if x.startswith(BOOT_LINES)]
                if boot:
                    raise DeviceReset(f"device on {self.name} reset during {what} (it printed "
                                      f"{boot[0]!r}); last line: {self._last()}")
                return lines
            lines.append(line)

    def command(self, text: str, timeout: float | None = None) -> list[str]:
        """Send `text%`; return the answer's lines. An `e-[...]` line raises CommandRefused."""
        if self._desynced:
            raise DeviceError(f"device on {self.name} is out of step after an earlier timeout; "
                              f"restart it")
        if len(text) + 1 > 80:
            raise ValueError(f"command longer than the device's 80-character buffer: {text[:20]}…")
        self._discard_stale()
        self._write((text + "%").encode("ascii"))
        lines = self.read_until_ready(self.timeout if timeout is None else timeout, repr(text))
        errors = [line for line in lines if line.startswith("e-")]
        if errors:
            raise CommandRefused(f"device on {self.name} refused {text[:40]!r}: {errors[0]}")
        return lines

    def wait_boot(self, timeout: float, quiet: float = 0.5) -> list[str]:
        """Wait until the device answers: its boot banner up to 'm-ready', or else `name`.

        Opening a serial port flushes its input, so all or part of a banner printed before the
        port was open may be gone. Lines are read while they keep coming (at most `quiet`
        seconds apart); without a complete banner, `name%` is sent once a second until the
        device answers it or `timeout` runs out. Returns the lines seen."""
        deadline = time.monotonic() + timeout
        lines = []
        while True:
            line = self._next_line(min(deadline, time.monotonic() + quiet))
            if line is None:
                break
            if line == READY:
                return self._check_mode(lines)
            lines.append(line)
        saw_name = False
        while True:
            self._write(b"name%")
            attempt = min(deadline, time.monotonic() + 1.0)
            while (line := self._next_line(attempt)) is not None:
                lines.append(line)
                if line.startswith("m-name-dut-["):
                    saw_name = True
                elif line == READY and saw_name:
                    return self._check_mode(lines)
            if time.monotonic() >= deadline:
                self._desynced = True
                raise DeviceTimeout(f"device on {self.name} did not answer 'name' within "
                                    f"{_seconds(timeout)} of opening the port; last line: "
                                    f"{self._last()}"
                                    + (f"; {self._noise_report()}" if self._noise else ""))

    def _check_mode(self, lines: list[str]) -> list[str]:
        if ENERGY_BANNER in lines:
            raise ProtocolError(f"device on {self.name} runs energy-mode firmware ({ENERGY_BANNER}: "
                                f"timestamps are pin edges for EEMBC's EnergyRunner); flash a "
                                f"performance-mode build (energy_mode: false) to measure it here")
        return lines

    # ---- protocol --------------------------------------------------------------------------
    def _expect(self, lines, pattern, what):
        for line in lines:
            m = re.fullmatch(pattern, line)
            if m:
                return m
        raise ProtocolError(f"device on {self.name}: no {what} line (/{pattern}/) in the answer "
                            f"{lines!r}")

    def device_name(self) -> str:
        return self.retrying("'name'", lambda: self._expect(
            self.command("name"), _NAME.pattern, "name").group(1))

    def profile(self) -> dict:
        def once():
            lines = self.command("profile")
            return {"profile": self._expect(lines, r"m-profile-\[(.*)\]", "profile").group(1),
                    "model": self._expect(lines, r"m-model-\[(.*)\]", "model").group(1)}
        return self.retrying("'profile'", once)

    def timestamp(self) -> int:
        return self.retrying("'timestamp'", lambda: int(self._expect(
            self.command("timestamp"), _LAP.pattern, "timestamp").group(1)))

    # ---- safe retries ----------------------------------------------------------------------
    def retrying(self, what: str, attempt):
        """attempt(), and again after a resync() when a DeviceError broke it — at most
        `retries` more times and within `retry_time` seconds; only for operations that are
        safe to repeat. A wrong baud rate, or the same error twice in a row (a device that
        means it, not a line fault), is not retried. The error that ends it is one line naming
        the port, the fault and the device's last line."""
        if self.retries <= 0:
            return attempt()
        start = time.monotonic()
        deadline = start + self.retry_time
        errors = []
        for n in range(1, self.retries + 2):
            try:
                if n > 1 or self._desynced:
                    self.resync(deadline)
                return attempt()
            except NoiseError:
                raise
            except DeviceError as e:
                errors.append(e)
                if (n > self.retries or time.monotonic() >= deadline
                        or (n > 1 and str(e) == str(errors[-2]))):
                    break
        first = f" (first fault: {str(errors[0])[:300]})" if len(errors) > 1 else ""
        last = errors[-1]
        raise type(last)(f"{last}; gave up on {what} after {len(errors)} attempt"
                         f"{'s' if len(errors) > 1 else ''} in {_seconds(time.monotonic() - start)}"
                         f"{first}") from None

    def resync(self, deadline: float | None = None):
        """Back to a clean command boundary after a fault: reopen a port that was cut, send a
        lone '%' (ends a command whose '%' was lost), wait for its m-ready (a running command
        finishes first), then require an exact `name` answer; until `deadline`."""
        if self._noise and self._desynced and len(self._noise) >= NOISE_LIMIT:
            raise DeviceError(f"device on {self.name} is out of step: {self._noise_report()}")
        deadline = time.monotonic() + self.retry_time if deadline is None else deadline
        why = "no answer"
        while (left := deadline - time.monotonic()) > 0:
            try:
                if self._reopen is not None and not getattr(self.port, "is_open", True):
                    self.port = self._reopen()
                self._desynced = False
                self._discard_stale()
                self._write(b"%")
                with contextlib.suppress(DeviceTimeout, DeviceReset):
                    self.read_until_ready(min(left, self.timeout), "a lone '%'")
                self._desynced = False
                lines = self.command("name", timeout=min(max(left, 0.1), self.timeout))
                if len(lines) == 1 and _NAME.fullmatch(lines[0]):
                    return
                why = f"'name' answered {lines!r}"
            except NoiseError:
                raise
            except DeviceError as e:
                why = str(e)
                if self._reopen is not None and isinstance(e, LineLost):
                    self.close()  # reopened on the next round
                time.sleep(0.05)
        self._desynced = True
        raise DeviceTimeout(f"device on {self.name} did not get back in step: {why}")

    def _write(self, data: bytes):
        try:
            self.port.write(data)
            self.port.flush()
        except (serial.SerialException, OSError) as e:
            raise LineLost(f"cannot write to device on {self.name}: {e}") from None

    def load(self, data: bytes, verify: bool = False):
        """Send an input with `db load N` and `db HEX` lines of 31 bytes (the official way);
        `verify`: check it with `db crc`. With retries, a failed transfer is restarted from
        `db load` and always verified."""
        data = bytes(data)
        self.retrying("the db transfer", lambda: self._transfer(data, verify or self.retries > 0))

    def _transfer(self, data: bytes, verify: bool):
        data = bytes(data)
        if not data:
            raise ValueError("nothing to load")
        self._expect(self.command(f"db load {len(data)}"), rf"m-\[Expecting {len(data)} bytes\]",
                     "'Expecting N bytes'")
        for i in range(0, len(data), DB_CHUNK):
            lines = self.command("db " + data[i:i + DB_CHUNK].hex())
            last = i + DB_CHUNK >= len(data)
            if last:
                self._expect(lines, r"m-load-done", "m-load-done")
            elif "m-load-done" in lines:
                raise ProtocolError(f"device on {self.name} reported m-load-done after "
                                    f"{i + DB_CHUNK} of {len(data)} bytes")
        if verify:
            self.check_loaded(data)

    def check_loaded(self, data: bytes):
        """The device holds exactly `data` since its last `db load` (`db crc`: count and
        CRC-32), or ProtocolError; after a reset it holds nothing."""
        try:
            lines = self.command("db crc")
        except CommandRefused as e:
            raise DeviceError(f"{e} (firmware older than `db crc`: rebuild and flash it)") from None
        m = self._expect(lines, _CRC.pattern, "db crc")
        count, crc = int(m.group(1)), int(m.group(2), 16)
        if count != len(data) or crc != zlib.crc32(data):
            raise ProtocolError(f"device on {self.name} holds {count} bytes with CRC-32 "
                                f"{crc:08x}, not the {len(data)} sent ({zlib.crc32(data):08x})")

    def stack_peak(self) -> tuple[int, int] | None:
        """(most stack used since boot, bytes reserved) by the firmware's `stack` command, or
        None where the port cannot tell (the host) or the firmware predates the command. Safe to
        repeat: retried as `name` is."""
        def attempt():
            try:
                lines = self.command("stack")
            except CommandRefused:
                return None
            m = self._expect(lines, _STACK.pattern, "stack")
            return None if m.group(1) is None else (int(m.group(1)), int(m.group(2)))
        return self.retrying("'stack'", attempt)

    def db_print(self) -> bytes:
        out = bytearray()
        for line in self.command("db print"):
            if line.startswith("m-buffer-"):
                parts = line[len("m-buffer-"):].split("-")
                if not all(re.fullmatch(r"[0-9a-fA-F]{2}", p) for p in parts):
                    raise ProtocolError(f"device on {self.name}: malformed db print line {line!r}")
                out += bytes(int(p, 16) for p in parts)
        return bytes(out)

    def _parse_results(self, lines, expected: int | None) -> list[float]:
        return parse_results(lines, expected, self.name)

    def infer(self, n: int = 1, warmup: int = 0, timeout: float | None = None,
              expected: int | None = None) -> tuple[list[float], list[int]]:
        """`infer N W`: (result scores, [start µs, end µs])."""
        if n < 1 or warmup < 0:
            raise ValueError(f"infer needs n >= 1 and warmup >= 0, got {n}, {warmup}")
        text = f"infer {n} {warmup}"
        lines = self.command(text, timeout=timeout)
        order = [rf"m-warmup-start-{warmup}", r"m-warmup-done", rf"m-infer-start-{n}",
                 _LAP.pattern, _LAP.pattern, r"m-infer-done", r"m-results-.*"]
        protocol = [line for line in lines if line.startswith("m-")]
        if len(protocol) != len(order) or not all(
                re.fullmatch(p, line) for p, line in zip(order, protocol)):
            hint = ("" if any(_LAP.fullmatch(line) for line in protocol) else
                    " (no m-lap-us timestamps: energy-mode firmware?)")
            raise ProtocolError(f"device on {self.name}: {text!r} answered out of sequence{hint}: "
                                f"{lines!r}")
        laps = [int(_LAP.fullmatch(line).group(1)) for line in protocol[3:5]]
        if laps[1] < laps[0]:
            raise ProtocolError(f"device on {self.name}: timestamps go backwards {laps}")
        return self._parse_results(lines, expected), laps

    def results(self, expected: int | None = None) -> list[float]:
        return self.retrying("'results'", lambda: self._results_once(expected))

    def _results_once(self, expected: int | None = None) -> list[float]:
        return self._parse_results(self.command("results"), expected)

    def outputs(self, expected: int | None = None) -> np.ndarray:
        """The raw int8 outputs of the last inference (tinysweep extension `outputs`)."""
        return self.retrying("'outputs'", lambda: self._outputs_once(expected))

    def _outputs_once(self, expected: int | None = None) -> np.ndarray:
        lines = [line for line in self.command("outputs") if line.startswith("m-outputs-")]
        if len(lines) != 1:
            raise ProtocolError(f"device on {self.name}: expected one m-outputs line, got {lines!r}")
        m = _OUTPUTS.fullmatch(lines[0])
        if not m:
            raise ProtocolError(f"device on {self.name}: malformed m-outputs line {lines[0]!r}")
        values = [int(v) for v in m.group(1).split(",")]
        if any(v < -128 or v > 127 for v in values):
            raise ProtocolError(f"device on {self.name}: m-outputs value outside int8: {lines[0]!r}")
        if expected is not None and len(values) != expected:
            raise ProtocolError(f"device on {self.name}: {len(values)} outputs, expected "
                                f"{expected}: {lines[0]!r}")
        return np.asarray(values, dtype=np.int8)


# ---- device launch --------------------------------------------------------------------------
def _die_with_parent(parent: int | None = None):
    """Child pre-exec: ask Linux to kill the firmware if this process dies without cleaning
    up (SIGKILL from outside): no orphans even then. `parent`: the starting process's pid; a
    child whose parent died between fork and prctl exits at once."""
    try:
        import ctypes
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except Exception:
        pass
    if parent is not None and os.getppid() != parent:
        os._exit(1)


def _tail(path, limit=2000) -> str:
    try:
        text = Path(path).read_text(errors="replace").strip()
    except OSError:
        return ""
    return text[-limit:]


class HostProcess:
    """The host firmware as a child process: its pty path, stderr file and shutdown."""

    def __init__(self, firmware, boot_timeout: float):
        self.firmware = str(firmware)
        if not os.path.isfile(self.firmware):
            raise DeviceError(f"firmware {self.firmware} is missing")
        # "Flash" the image: run a private executable copy, as a board runs what was written to
        # it. Artifact stores need not keep the exec bit (DVC restores files inside output
        # folders without it, and its hardlinked cache files are read-only).
        self.flash_dir = tempfile.mkdtemp(prefix="tinysweep-host-")
        image = os.path.join(self.flash_dir, "firmware")
        shutil.copyfile(self.firmware, image)
        os.chmod(image, 0o700)
        self.stderr = tempfile.TemporaryFile()
        self.stdout_lines: list[str] = []
        self.proc = subprocess.Popen([image], stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, stderr=self.stderr,
                                     preexec_fn=functools.partial(_die_with_parent, os.getpid())
                                     if os.name == "posix" else None)
        try:
            self.pty = self._read_pty_line(boot_timeout)
        except BaseException:
            self.stop()
            raise
        self._drain = threading.Thread(target=self._drain_stdout, daemon=True)
        self._drain.start()

    def stderr_text(self) -> str:
        try:
            self.stderr.seek(0)
            return self.stderr.read().decode(errors="replace").strip()[-2000:]
        except (OSError, ValueError):
            return ""

    def describe(self) -> str:
        rc = self.proc.poll()
        state = "is still running" if rc is None else f"exited with code {rc}"
        err = self.stderr_text()
        return f"firmware {self.firmware} {state}" + (f"; stderr: {err!r}" if err else "; no stderr")

    def _read_pty_line(self, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        buf = b""
        sel = selectors.DefaultSelector()
        sel.register(self.proc.stdout, selectors.EVENT_READ)
        try:
            while b"\n" not in buf:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise DeviceError(f"firmware {self.firmware} printed no 'pty: /dev/pts/N' line "
                                      f"within {_seconds(timeout)}; stdout: {buf.decode(errors='replace')!r}; "
                                      f"{self.describe()}")
                if sel.select(min(left, 0.1)):
                    chunk = os.read(self.proc.stdout.fileno(), 4096)
                    if not chunk:
                        time.sleep(0.05)  # let the exit code and stderr settle
                        raise DeviceError(f"firmware {self.firmware} closed stdout before printing "
                                          f"its pty line; {self.describe()}")
                    buf += chunk
        finally:
            sel.close()
        line, rest = buf.split(b"\n", 1)
        line = line.decode(errors="replace").strip()
        self.stdout_lines.extend(rest.decode(errors="replace").splitlines())
        m = re.fullmatch(r"pty: (\S+)", line)
        if not m:
            raise DeviceError(f"firmware {self.firmware} printed {line!r} instead of "
                              f"'pty: /dev/pts/N'; {self.describe()}")
        return m.group(1)

    def _drain_stdout(self):
        with contextlib.suppress(Exception):
            for raw in iter(self.proc.stdout.readline, b""):
                self.stdout_lines.append(raw.decode(errors="replace").rstrip())

    def stop(self, grace: float = 3.0):
        """SIGTERM; a second SIGTERM (the host firmware exits at once on it, even inside a
        long `infer`); SIGKILL as a last resort. Always reaps the process."""
        for signal_, wait in ((signal.SIGTERM, 0.3), (signal.SIGTERM, grace), (signal.SIGKILL, None)):
            if self.proc.poll() is not None:
                break
            with contextlib.suppress(ProcessLookupError):
                self.proc.send_signal(signal_)
            try:
                self.proc.wait(wait)
            except subprocess.TimeoutExpired:
                pass
        with contextlib.suppress(Exception):
            self.proc.stdout.close()
        shutil.rmtree(self.flash_dir, ignore_errors=True)


@contextlib.contextmanager
def open_device(transport: str, firmware=None, url: str | None = None, baud: int = 115200,
                timeout: float = 10.0, boot_timeout: float = 10.0, machine: str | None = None,
                plugin=None, retries: int = 0, retry_time: float | None = None):
    """Yield a connected `Dut`.

    transport "pty": start the host firmware binary, read its `pty: /dev/pts/N` line, open
    that port and wait for the boot banner; the process is terminated and reaped on exit,
    whatever happens in the block (exceptions, KeyboardInterrupt).
    transport "qemu": start `firmware` (a Cortex-M ELF) on QEMU `machine` with the instruction-
    counting `plugin` (default: insn_count.so beside the firmware) and connect to its UART;
    `dut.instructions` then reads the exact instruction count of every inference. QEMU is
    stopped and reaped on exit, whatever happens in the block.
    transport "serial": open `url` (a real board, already flashed and running).
    `retries`, `retry_time`: the Dut's safe retries after line faults (0: fail at the first)."""
    retry = {"retries": retries, "retry_time": retry_time}
    if transport == "pty":
        if firmware is None:
            raise ValueError("transport 'pty' needs the firmware binary")
        proc = HostProcess(firmware, boot_timeout)
        dut = None
        try:
            dut = Dut.from_url(proc.pty, baud=baud, timeout=timeout, **retry)
            dut.process = proc.proc  # the firmware's Popen, for diagnostics
            # the banner is printed at once and usually flushed when the port opens: probe soon
            dut.wait_boot(boot_timeout, quiet=0.05)
            yield dut
        except DeviceError as e:
            if proc.proc.poll() is not None or proc.stderr_text():
                raise type(e)(f"{e}; {proc.describe()}") from e
            raise
        finally:
            if dut is not None:
                dut.close()
            proc.stop()
            proc.stderr.close()
    elif transport == "qemu":
        if firmware is None or not machine:
            raise ValueError("transport 'qemu' needs the firmware ELF and the QEMU machine")
        from tinysweep.emulator import Qemu
        emu = Qemu(firmware, machine, plugin, boot_timeout)
        dut = None
        try:
            try:
                port = emu.connect(baud)
            except (serial.SerialException, OSError) as e:
                raise DeviceError(f"cannot connect to {emu.url}: {e}") from None
            dut = Dut(port, timeout=timeout, name=f"{emu.url} (qemu {machine})", **retry)
            dut.process = emu.proc
            dut.instructions = emu.counts
            dut.wait_boot(boot_timeout, quiet=0.2)
            yield dut
        except DeviceError as e:
            raise type(e)(f"{e}; {emu.describe()}") from e
        finally:
            if dut is not None:
                dut.close()
            emu.stop()
    elif transport == "serial":
        if not url:
            raise ValueError("transport 'serial' needs the port URL (e.g. /dev/ttyACM0)")
        dut = Dut.from_url(url, baud=baud, timeout=timeout, **retry)
        try:
            try:
                dut.wait_boot(boot_timeout)
            except DeviceTimeout as e:  # nothing started here: say what to check
                raise DeviceTimeout(f"{e}; is a board flashed with this build, running and "
                                    f"connected there at {baud} baud?") from None
            yield dut
        finally:
            dut.close()
    else:
        raise ValueError(f"unknown transport {transport!r} (expected 'pty', 'qemu' or 'serial')")


# ---- measurement passes ----------------------------------------------------------------------
def accuracy_pass(dut: Dut, inputs, num_outputs: int, num_results: int | None = None,
                  timeout: float | None = None, progress=None, results: list | None = None
                  ) -> np.ndarray:
    """The official accuracy run: for every input, load it, `infer 1 0`, then read the raw
    int8 outputs. Returns an int8 array [samples, num_outputs]; `results`, if given, receives
    each m-results list.

    A sample counts only when one attempt shows all of: the input verified (`db crc`) before
    `infer`, its m-results equal to a second `results` read, two equal `outputs` reads, and the
    input still there afterwards (a device that reset in between holds nothing). With
    `dut.retries`, a sample that fails this is redone from `db load`."""
    out = []
    for data in inputs:
        data = bytes(data)
        values, outputs = dut.retrying("a sample (db load, infer 1 0, results, outputs)",
                                       lambda: _sample(dut, data, num_outputs, num_results, timeout))
        if results is not None:
            results.append(values)
        out.append(outputs)
        if progress is not None:
            progress.update(1)
    return np.stack(out) if out else np.zeros((0, num_outputs), np.int8)


def _sample(dut: Dut, data: bytes, num_outputs: int, num_results: int | None,
            timeout: float | None) -> tuple[list[float], np.ndarray]:
    """One attempt at one input of the accuracy pass: every value read twice and compared."""
    dut._transfer(data, verify=True)
    values, _ = dut.infer(1, 0, timeout=timeout, expected=num_results)
    outputs = dut._outputs_once(expected=num_outputs)
    again = dut._results_once(expected=num_results)
    if again != values:
        raise ProtocolError(f"device on {dut.name}: 'results' read {again} after 'infer' "
                            f"printed {values}; last line: {dut._last()}")
    if not np.array_equal(dut._outputs_once(expected=num_outputs), outputs):
        raise ProtocolError(f"device on {dut.name}: two 'outputs' reads differ; last line: "
                            f"{dut._last()}")
    dut.check_loaded(data)
    return values, outputs


def latency_pass(dut: Dut, data: bytes, windows: int, inferences: int, warmup: int,
                 timeout: float | None = None, num_results: int | None = None) -> list[float]:
    """EEMBC runner timing: per window, `infer N W` and (Δ device timestamp) / N.
    Returns the per-window latencies in microseconds."""
    if windows < 1:
        raise ValueError("windows must be >= 1")
    data = bytes(data)
    dut.load(data, verify=True)
    lat = []
    for _ in range(windows):
        attempts = []

        def once():
            attempts.append(1)  # a retried window reloads the input first
            return _window(dut, data, inferences, warmup, timeout, num_results, len(attempts) > 1)
        lat.append(dut.retrying(f"'infer {inferences} {warmup}'", once))
    return lat


def _window(dut: Dut, data: bytes, inferences: int, warmup: int, timeout: float | None,
            num_results: int | None, reload: bool) -> float:
    """One timed window; the input is checked afterwards (a reset would have replaced it)."""
    if reload:
        dut._transfer(data, verify=True)
    _, (t0, t1) = dut.infer(inferences, warmup, timeout=timeout, expected=num_results)
    if t1 <= t0:
        raise ProtocolError(f"device on {dut.name}: {inferences} inferences took "
                            f"{t1 - t0} µs; the timer does not advance")
    if dut.retries:
        dut.check_loaded(data)
    return (t1 - t0) / inferences
