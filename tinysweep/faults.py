"""A fault-injecting serial line: a TCP proxy between the runner and a real device.

The runner connects to `FaultProxy.url` (socket://127.0.0.1:PORT, any pyserial URL works for
it); the proxy forwards bytes to and from a device it starts — the host firmware on its pty
(`HostDevice`) or a Cortex-M firmware in QEMU (`QemuDevice`, its UART on a TCP socket) — and
applies the faults it was armed with at given byte offsets of either direction:

  drop       remove `size` bytes                duplicate  send `size` bytes twice
  corrupt    XOR `size` bytes with a mask       delay      hold the stream for `seconds`
  cut        close the runner's connection      reset      restart the device (host: kill and
             (it may reconnect)                            start the firmware; QEMU: restart)

`plan(kind, seed, traffic)` picks one fault deterministically from a seed: its direction and
its offset within the bytes a fault-free run sends each way (`FaultProxy.traffic`).
Used by tests/test_faults.py and bench/serial_faults.py.
"""
from __future__ import annotations

import contextlib
import os
import random
import selectors
import signal
import socket
import termios
import threading
import time
import tty
from dataclasses import dataclass

KINDS = ("drop", "duplicate", "corrupt", "delay", "cut", "reset")
TO_DEVICE, FROM_DEVICE = "to-device", "from-device"
DIRECTIONS = (TO_DEVICE, FROM_DEVICE)


@dataclass(frozen=True)
class Fault:
    kind: str
    direction: str
    offset: int  # index of the first byte it hits, counted in that direction since arm()
    size: int = 1  # bytes dropped, duplicated or corrupted
    seconds: float = 0.0  # delay
    mask: int = 0x01  # corrupt: XOR of each byte hit

    def __str__(self):
        extra = {"delay": f" {self.seconds:.2f} s", "cut": "", "reset": ""}.get(
            self.kind, f" {self.size} B" + (f" ^{self.mask:02x}" if self.kind == "corrupt" else ""))
        return f"{self.kind}{extra} at byte {self.offset} {self.direction}"


def plan(kind: str, seed: int, traffic: dict[str, int], max_delay: float = 3.0) -> Fault:
    """One fault of `kind`, the same for the same seed: a direction, an offset uniformly within
    that direction's `traffic` bytes, a size of 1-4 bytes, a delay of 0.1-`max_delay` s."""
    if kind not in KINDS:
        raise ValueError(f"unknown fault kind {kind!r} (expected one of {', '.join(KINDS)})")
    rng = random.Random(f"{kind}:{seed}")
    direction = rng.choice(DIRECTIONS)
    return Fault(kind, direction, rng.randrange(max(1, traffic[direction])),
                 size=rng.randint(1, 4), seconds=round(rng.uniform(0.1, max_delay), 3),
                 mask=rng.randrange(1, 256))


class HostDevice:
    """The host firmware (runner.HostProcess) and a raw fd on its pty."""

    def __init__(self, firmware, boot_timeout: float = 10.0):
        self.firmware, self.boot_timeout = firmware, boot_timeout
        self.proc = self.fd = None
        self.start()

    def start(self):
        from tinysweep.runner import HostProcess
        self.proc = HostProcess(self.firmware, self.boot_timeout)
        self.fd = os.open(self.proc.pty, os.O_RDWR | os.O_NOCTTY)
        tty.setraw(self.fd, termios.TCSANOW)  # TCSANOW: keep the boot banner already queued
        os.set_blocking(self.fd, False)

    def fileno(self):
        return self.fd

    def recv(self) -> bytes:
        try:
            return os.read(self.fd, 4096)
        except BlockingIOError:
            return b""
        except OSError:  # EIO: the firmware is gone
            return None

    def send(self, data: bytes):
        while data:
            try:
                data = data[os.write(self.fd, data):]
            except BlockingIOError:
                time.sleep(0.001)

    def alive(self) -> bool:
        return self.proc is not None and self.proc.proc.poll() is None

    def stop(self):
        if self.fd is not None:
            with contextlib.suppress(OSError):
                os.close(self.fd)
            self.fd = None
        if self.proc is not None:
            self.proc.stop()
            self.proc.stderr.close()
            self.proc = None

    def restart(self):
        self.stop()
        self.start()


class QemuDevice:
    """A Cortex-M firmware in QEMU (tinysweep.emulator.Qemu), connected to its UART socket."""

    def __init__(self, firmware, machine: str, boot_timeout: float = 10.0):
        self.firmware, self.machine, self.boot_timeout = firmware, machine, boot_timeout
        self.emu = self.sock = None
        self.start()

    def start(self):
        from tinysweep.emulator import Qemu
        self.emu = Qemu(self.firmware, self.machine, None, self.boot_timeout)
        self.sock = socket.create_connection(("127.0.0.1", self.emu.port), timeout=self.boot_timeout)
        self.sock.setblocking(False)

    def fileno(self):
        return self.sock.fileno()

    def recv(self) -> bytes:
        try:
            return self.sock.recv(4096) or None
        except BlockingIOError:
            return b""
        except OSError:
            return None

    def send(self, data: bytes):
        with contextlib.suppress(OSError):
            self.sock.setblocking(True)
            self.sock.sendall(data)
            self.sock.setblocking(False)

    def alive(self) -> bool:
        return self.emu is not None and self.emu.proc.poll() is None

    def stop(self):
        if self.sock is not None:
            with contextlib.suppress(OSError):
                self.sock.close()
            self.sock = None
        if self.emu is not None:
            self.emu.stop()
            self.emu = None

    def restart(self):
        self.stop()
        self.start()


class FaultProxy:
    """Listens on 127.0.0.1 (one runner connection at a time) and forwards to `device`,
    applying the armed faults. Stop it with stop() (or use it as a context manager): it also
    stops the device."""

    def __init__(self, device):
        self.device = device
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"socket://127.0.0.1:{self.listener.getsockname()[1]}"
        self.client = None
        self._lock = threading.RLock()  # one forwarding step, or arm(), at a time
        self._stop = False
        self.arm([])
        self.thread = threading.Thread(target=self._serve, daemon=True, name="fault-proxy")
        self.thread.start()

    def arm(self, faults):
        """Start counting bytes from 0 in both directions; apply `faults` at their offsets.
        A device that died since (a failed restart) is started again first."""
        with self._lock:
            if not self.device.alive():
                self.device.restart()
            self.faults = sorted(faults, key=lambda f: f.offset)
            self.traffic = {d: 0 for d in DIRECTIONS}
            self.fired: list[Fault] = []
            self._held = {d: (0.0, b"") for d in DIRECTIONS}  # (release time, bytes)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()

    def stop(self):
        self._stop = True
        self.thread.join(5)
        with contextlib.suppress(OSError):
            self.listener.close()
        self._drop_client()
        self.device.stop()

    def _drop_client(self):
        if self.client is not None:
            with contextlib.suppress(OSError):
                self.client.close()
            self.client = None

    # ---- forwarding ------------------------------------------------------------------------
    def _serve(self):
        while not self._stop:
            try:
                with self._lock:
                    self._step()
            except Exception:  # keep serving: a fault must never take the proxy down
                time.sleep(0.01)

    def _step(self):
        sel = selectors.DefaultSelector()
        try:
            sel.register(self.listener, selectors.EVENT_READ, "accept")
            if self.client is not None:
                sel.register(self.client, selectors.EVENT_READ, TO_DEVICE)
            if self.device.fileno() is not None:
                sel.register(self.device, selectors.EVENT_READ, FROM_DEVICE)
            events = sel.select(0.01)
        finally:
            sel.close()
        for key, _ in events:
            if key.data == "accept":
                conn, _ = self.listener.accept()
                self._drop_client()  # a new connection replaces the old one, as on a cable
                conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                self.client = conn
            elif key.data == TO_DEVICE:
                try:
                    data = self.client.recv(4096)
                except OSError:
                    data = b""
                if not data:
                    self._drop_client()
                else:
                    self._pass(TO_DEVICE, data)
            else:
                data = self.device.recv()
                if data is None:  # the device is gone (it stays so: the runner times out)
                    time.sleep(0.01)
                elif data:
                    self._pass(FROM_DEVICE, data)
        self._release()

    def _pass(self, direction: str, data: bytes):
        """Apply the faults that fall in this chunk, then queue what is left for sending."""
        start = self.traffic[direction]
        self.traffic[direction] += len(data)
        hits = [f for f in self.faults if f.direction == direction
                and start <= f.offset < start + len(data)]
        for f in hits:
            self.faults.remove(f)
        out = bytearray()
        pos = 0
        for f in hits:
            at = f.offset - start
            out += data[pos:at]
            pos = at
            self.fired.append(f)
            if f.kind == "drop":
                pos = at + f.size
            elif f.kind == "duplicate":
                out += data[at:at + f.size] * 2
                pos = at + f.size
            elif f.kind == "corrupt":
                out += bytes(b ^ f.mask for b in data[at:at + f.size])
                pos = at + f.size
            elif f.kind == "delay":
                self._queue(direction, bytes(out))
                out.clear()
                release, held = self._held[direction]
                self._held[direction] = (max(release, time.monotonic()) + f.seconds, held)
            elif f.kind == "cut":  # the rest of the chunk is lost with the connection
                self._queue(direction, bytes(out))
                self._release(force=True)
                self._drop_client()
                return
            elif f.kind == "reset":  # bytes in flight are lost with the device's state
                self._queue(direction, bytes(out))
                self._release(force=True)
                self.device.restart()
                return
        out += data[pos:]
        self._queue(direction, bytes(out))

    def _queue(self, direction: str, data: bytes):
        release, held = self._held[direction]
        self._held[direction] = (release, held + data)

    def _release(self, force: bool = False):
        for direction in DIRECTIONS:
            release, held = self._held[direction]
            if held and (force or time.monotonic() >= release):
                self._held[direction] = (release, b"")
                if direction == TO_DEVICE:
                    self.device.send(held)
                elif self.client is not None:
                    with contextlib.suppress(OSError):
                        self.client.sendall(held)


# ---- runs through the proxy -------------------------------------------------------------------
OUTCOMES = ("correct", "failed cleanly", "wrong", "unclean error")


def session(url: str, inputs, num_outputs: int, num_results: int | None, timeout: float,
            retries: int = 3, retry_time: float = 30.0):
    """What the measure stage does on a device, through `url`: get in step, `profile`, the
    accuracy pass. Returns (int8 outputs, m-results lists)."""
    from tinysweep.runner import Dut, accuracy_pass
    with Dut.from_url(url, timeout=timeout, retries=retries, retry_time=retry_time) as dut:
        dut.resync()
        dut.profile()
        results = []
        outputs = accuracy_pass(dut, inputs, num_outputs, num_results, timeout=timeout,
                                results=results)
    return outputs, results


def baseline(proxy: FaultProxy, **session_args):
    """The fault-free session's (outputs, m-results) and its traffic in each direction: the
    second of two sessions (the first may also carry the boot banner), which must agree."""
    import numpy as np
    proxy.arm([])
    first = session(proxy.url, **session_args)
    proxy.arm([])
    expected = session(proxy.url, **session_args)
    if not (np.array_equal(first[0], expected[0]) and first[1] == expected[1]):
        raise AssertionError("two fault-free sessions gave different results")
    return expected, dict(proxy.traffic)


def run(proxy: FaultProxy, faults, expected, using=session, **session_args
        ) -> tuple[str, str | None, list]:
    """One session (`using`, default session()) under `faults`: (outcome, error text, faults
    that fired). Outcomes:
    correct (outputs and m-results equal `expected`, the fault-free session's), failed cleanly
    (a one-line DeviceError naming the port), wrong (other values: must never happen), unclean
    error (any other exception or message: a bug)."""
    from tinysweep.runner import DeviceError
    import numpy as np
    proxy.arm(faults)
    try:
        outputs, results = using(proxy.url, **session_args)
    except DeviceError as e:
        text = str(e)
        clean = "\n" not in text and proxy.url in text
        return ("failed cleanly" if clean else "unclean error"), text, list(proxy.fired)
    except Exception as e:  # reported, not raised: the table counts it
        return "unclean error", f"{type(e).__name__}: {e}", list(proxy.fired)
    same = np.array_equal(outputs, expected[0]) and results == expected[1]
    return ("correct" if same else "wrong"), None, list(proxy.fired)


# ---- command line ------------------------------------------------------------------------------
def parse_fault(text: str) -> Fault:
    """KIND:DIRECTION:OFFSET[:AMOUNT] (AMOUNT: bytes, or seconds for delay), e.g.
    drop:to-device:40:2."""
    parts = text.split(":")
    try:
        kind, direction, offset = parts[0], parts[1], int(parts[2])
        amount = parts[3] if len(parts) > 3 else None
        if kind not in KINDS or direction not in DIRECTIONS or offset < 0 or len(parts) > 4:
            raise ValueError
        if kind == "delay":
            return Fault(kind, direction, offset, seconds=float(amount or 1.0))
        return Fault(kind, direction, offset, size=int(amount or 1))
    except (ValueError, IndexError):
        raise ValueError(f"--fault {text!r}: expected KIND:DIRECTION:OFFSET[:AMOUNT] with KIND "
                         f"one of {', '.join(KINDS)} and DIRECTION "
                         f"{' or '.join(DIRECTIONS)}") from None


def main(argv=None):
    """`python -m tinysweep.faults FIRMWARE [--machine M] [--fault ...]`: start the device behind
    the proxy, print its URL, forward until interrupted (e.g. for dut-check.py URL)."""
    from tinysweep.cli import Parser
    ap = Parser(prog="faults", description=main.__doc__.splitlines()[0])
    ap.add_argument("firmware", help="host firmware binary, or a Cortex-M ELF with --machine")
    ap.add_argument("--machine", help="QEMU machine (e.g. mps2-an386) for an emulated board")
    ap.add_argument("--fault", action="append", default=[], help="KIND:DIRECTION:OFFSET[:AMOUNT]")
    a = ap.parse_args(argv)
    try:
        plan_ = [parse_fault(f) for f in a.fault]
    except ValueError as e:
        ap.error(str(e))
    from tinysweep.runner import DeviceError
    try:
        device = QemuDevice(a.firmware, a.machine) if a.machine else HostDevice(a.firmware)
    except DeviceError as e:
        ap.exit(1, f"faults: {e}\n")
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # stop as on Ctrl-C, cleaned up
    with FaultProxy(device) as proxy:
        proxy.arm(plan_)
        print(proxy.url, flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            while True:
                time.sleep(1)
    print(f"faults fired: {', '.join(map(str, proxy.fired)) or 'none'}")


if __name__ == "__main__":
    main()
