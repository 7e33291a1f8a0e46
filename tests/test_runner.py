"""tinysweep.runner: the protocol client against the real host device, and fault cases the real
device cannot produce (silence, garbage, truncated lines) against a scripted peer on a pty."""
import os
import subprocess
import sys
import threading
import time
import tty
from pathlib import Path

import numpy as np
import pytest

from tinysweep import oracle
from tinysweep.runner import (DeviceError, DeviceTimeout, Dut, ProtocolError, accuracy_pass,
                              latency_pass, open_device)

REPO = Path(__file__).resolve().parents[1]


# ---- the real host device, built once per session -------------------------------------------
@pytest.fixture
def dut(host_firmware):
    with open_device("pty", host_firmware, timeout=10, boot_timeout=10) as d:
        yield d


def _inputs(n, seed=0):
    return np.random.default_rng(seed).integers(-128, 128, (n, 490)).astype(np.int8)


def test_real_device_identity(dut):
    assert dut.device_name()
    assert dut.profile() == {"profile": "ULPMark for tinyML Firmware V0.0.1", "model": "kws01"}
    t1 = dut.timestamp()
    time.sleep(0.01)
    assert dut.timestamp() > t1


def test_real_device_load_infer_outputs_match_oracle(dut, small_kws_tflite):
    model = small_kws_tflite.read_bytes()
    xs = _inputs(3)
    for x in xs:
        dut.load(x.tobytes(), verify=True)
        results, laps = dut.infer(1, 0, expected=12)
        assert len(results) == 12 and len(laps) == 2 and laps[1] >= laps[0]
        out = dut.outputs(expected=12)
        assert out.dtype == np.int8
        np.testing.assert_array_equal(out, oracle.predict(model, x))
        # m-results are the dequantized outputs with 3 decimals (scale 1/256, zero point -128)
        np.testing.assert_allclose(results, (out.astype(float) + 128) / 256, atol=6e-4)
        assert dut.results(expected=12) == results


def test_real_device_passes(dut, small_kws_tflite):
    xs = _inputs(4, seed=1)
    got = accuracy_pass(dut, [x.tobytes() for x in xs], num_outputs=12, num_results=12)
    np.testing.assert_array_equal(got, oracle.predict(small_kws_tflite.read_bytes(), xs))
    lat = latency_pass(dut, xs[0].tobytes(), windows=3, inferences=5, warmup=1)
    assert len(lat) == 3 and all(x > 0 for x in lat)


def test_real_device_error_and_wrong_count(dut):
    with pytest.raises(DeviceError, match=r"refused 'bogus': e-\[Unknown command: bogus\]"):
        dut.command("bogus")
    with pytest.raises(DeviceError, match="refused 'db load 100000'"):
        dut.load(bytes(100000))
    dut.load(bytes(490))
    dut.infer(1, 0)
    with pytest.raises(ProtocolError, match="12 outputs, expected 10"):
        dut.outputs(expected=10)


def test_real_device_timeout_names_port_and_last_line(host_firmware):
    with open_device("pty", host_firmware, timeout=10) as d:
        d.load(bytes(490))
        t = time.monotonic()
        with pytest.raises(DeviceTimeout) as e:
            d.infer(10**8, 0, timeout=0.5)
        msg = str(e.value)
        assert msg == (f"device on {d.name} did not answer 'infer 100000000 0' within 0.5 s; "
                       f"last line: 'm-infer-start-100000000'")
        assert "\n" not in msg and time.monotonic() - t < 2
        with pytest.raises(DeviceError, match="out of step"):
            d.device_name()
        proc = d.process
    assert proc.poll() is not None  # stopped even though it was busy inferring


def test_serial_transport_drives_a_running_device_by_url(host_firmware, small_kws_tflite):
    """Transport "serial" (a real board's path: open a URL, nothing started) against the host
    device, already running, reached by its pty path as a board by /dev/ttyACM0."""
    from tinysweep.runner import HostProcess
    board = HostProcess(host_firmware, boot_timeout=10)
    try:
        with open_device("serial", url=board.pty, baud=115200, timeout=10) as d:
            assert d.name == board.pty and d.process is None
            x = _inputs(1, seed=3)[0]
            d.load(x.tobytes(), verify=True)
            d.infer(1, 0, expected=12)
            np.testing.assert_array_equal(d.outputs(expected=12),
                                          oracle.predict(small_kws_tflite.read_bytes(), x))
        assert board.proc.poll() is None  # the runner does not own a board: still running
    finally:
        board.stop()


def test_process_reaped_on_exception_and_keyboard_interrupt(host_firmware):
    for exc in (RuntimeError("boom"), KeyboardInterrupt()):
        with pytest.raises(type(exc)):
            with open_device("pty", host_firmware) as d:
                proc = d.process
                raise exc
        assert proc.returncode is not None  # waited for: no zombie, no orphan
        with pytest.raises(ProcessLookupError):
            os.kill(proc.pid, 0)


def test_firmware_runs_from_a_read_only_artifact(host_firmware, tmp_path):
    """DVC restores files inside output folders without the exec bit (and its hardlinked
    cache is read-only): the image is flashed to a private executable copy."""
    image = tmp_path / "firmware"
    image.write_bytes(host_firmware.read_bytes())
    image.chmod(0o444)
    with open_device("pty", image) as d:
        assert d.device_name()
        flashed = d.process.args[0]
        assert flashed != str(image) and os.path.exists(flashed)
    assert not os.path.exists(flashed)  # the flashed copy is gone with the device


def test_launch_failures_name_the_binary(tmp_path):
    with pytest.raises(DeviceError, match="firmware .*nope is missing"):
        with open_device("pty", tmp_path / "nope"):
            pass
    dies = tmp_path / "dies"
    dies.write_text("#!/bin/sh\necho 'cannot open pty: no space' >&2\nexit 3\n")
    dies.chmod(0o755)
    with pytest.raises(DeviceError) as e:
        with open_device("pty", dies, boot_timeout=5):
            pass
    assert str(dies) in str(e.value) and "exited with code 3" in str(e.value)
    assert "cannot open pty: no space" in str(e.value)
    mute = tmp_path / "mute"
    mute.write_text("#!/bin/sh\necho starting >&2\nexec sleep 30\n")
    mute.chmod(0o755)
    t = time.monotonic()
    with pytest.raises(DeviceError, match=r"mute printed no 'pty: /dev/pts/N' line within 0.5 s.*starting"):
        with open_device("pty", mute, boot_timeout=0.5):
            pass
    assert time.monotonic() - t < 3


def test_open_device_arguments():
    with pytest.raises(ValueError, match="unknown transport"):
        with open_device("usb"):
            pass
    with pytest.raises(ValueError, match="needs the port URL"):
        with open_device("serial"):
            pass
    with pytest.raises(DeviceError, match="cannot open device port /dev/does-not-exist"):
        with open_device("serial", url="/dev/does-not-exist"):
            pass
    with pytest.raises(ValueError, match="needs the firmware ELF and the QEMU machine"):
        with open_device("qemu", "firmware"):
            pass


def test_instruction_log_reads_complete_lines_in_order(tmp_path):
    from tinysweep.emulator import EmulatorError, InstructionLog
    path = tmp_path / "counts.txt"
    log = InstructionLog(path)
    assert log.take() == []
    path.write_text("100\n101\n10")  # the plugin is still writing the third line
    assert log.take(2) == [100, 101]
    path.write_text("100\n101\n102\n")
    with pytest.raises(EmulatorError, match="logged 1 inferences, expected 2"):
        log.take(2, timeout=0.05)
    assert log.take(1) == [102]


def test_estimates_from_instruction_counts():
    from tinysweep.emulator import estimate
    e = estimate(12_000_000, clock_hz=120e6, cpi=1.5, watts=0.04)
    assert e["latency_ms"] == pytest.approx(150.0) and e["energy_uj"] == pytest.approx(6000.0)
    assert estimate(1, 1, 1, None)["energy_uj"] is None


# ---- scripted peer: fault cases only ---------------------------------------------------------
class Peer:
    """The far end of a real pty; answers each '%'-ended command with `script(cmd)` bytes."""

    def __init__(self, script):
        self.master, self.slave = os.openpty()
        tty.setraw(self.slave)
        self.path = os.ttyname(self.slave)
        self.script = script
        self.commands = []
        self._stop = False
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        import select
        buf = b""
        while not self._stop:
            if not select.select([self.master], [], [], 0.05)[0]:
                continue
            try:
                buf += os.read(self.master, 1024)
            except OSError:
                return
            while b"%" in buf:
                cmd, buf = buf.split(b"%", 1)
                self.commands.append(cmd.decode())
                answer = self.script(cmd.decode())
                if answer:
                    os.write(self.master, answer)

    def close(self):
        self._stop = True
        self.thread.join(1)
        os.close(self.master)
        os.close(self.slave)


@pytest.fixture
def peer():
    made = []

    def make(script):
        p = Peer(script)
        made.append(p)
        return p, Dut.from_url(p.path, timeout=0.5)
    yield make
    for p in made:
        p.close()


def lines(*ls):
    return b"".join(x if isinstance(x, bytes) else x.encode() + b"\r\n" for x in ls)


INFER_OK = ["m-warmup-start-0", "m-warmup-done", "m-infer-start-1", "m-lap-us-10",
            "m-lap-us-20", "m-infer-done"]


def test_silence_times_out_with_port_and_no_last_line(peer):
    p, d = peer(lambda cmd: b"")
    t = time.monotonic()
    with pytest.raises(DeviceTimeout) as e:
        d.command("name")
    assert str(e.value) == f"device on {p.path} did not answer 'name' within 0.5 s; last line: none"
    assert time.monotonic() - t < 1.5


def test_timeout_reports_last_line(peer):
    p, d = peer(lambda cmd: lines("m-warmup-start-0", "m-warmup-done"))
    with pytest.raises(DeviceTimeout, match=r"did not answer 'infer 1 0' within 0.5 s; "
                                            r"last line: 'm-warmup-done'$"):
        d.infer(1, 0)


@pytest.mark.parametrize("bad", [
    "m-results-[0.100,0.200",          # truncated: no closing bracket
    "m-results-[0.100,,0.200]",        # empty value
    "m-results-[0.100,0.2x0]",         # not a number
    "m-results-[]",                    # no values
    "m-results-0.100,0.200",           # no brackets
])
def test_malformed_results_are_errors(peer, bad):
    p, d = peer(lambda cmd: lines(*INFER_OK, bad, "m-ready"))
    with pytest.raises(ProtocolError, match="malformed m-results"):
        d.infer(1, 0)


def test_results_count_missing_and_duplicated(peer):
    p, d = peer(lambda cmd: lines(*INFER_OK, "m-results-[0.1,0.2]", "m-ready"))
    with pytest.raises(ProtocolError, match="2 result values, expected 12"):
        d.infer(1, 0, expected=12)
    p2, d2 = peer(lambda cmd: lines("m-results-[0.1]", "m-results-[0.2]", "m-ready"))
    with pytest.raises(ProtocolError, match="expected one m-results line, got 2"):
        d2.results()


@pytest.mark.parametrize("answer, match", [
    (INFER_OK[:4] + INFER_OK[5:] + ["m-results-[0.1]"], "out of sequence"),       # one lap
    (INFER_OK[:3] + ["m-lap-us-30", "m-lap-us-20", "m-infer-done", "m-results-[0.1]"],
     "timestamps go backwards"),
    (INFER_OK, "out of sequence"),                                                 # no results
    (["m-warmup-start-0", "m-warmup-done", "m-infer-start-7"] + INFER_OK[3:] + ["m-results-[0.1]"],
     "out of sequence"),                                                           # wrong N
])
def test_infer_sequence_is_checked(peer, answer, match):
    p, d = peer(lambda cmd: lines(*answer, "m-ready"))
    with pytest.raises(ProtocolError, match=match):
        d.infer(1, 0)


@pytest.mark.parametrize("bad, match", [
    ("m-outputs-[1,2,3", "malformed"),
    ("m-outputs-[1,,3]", "malformed"),
    ("m-outputs-[1,2.5,3]", "malformed"),
    ("m-outputs-[1,200,3]", "outside int8"),
    ("m-outputs-[1,2]", "2 outputs, expected 3"),
    ("m-results-[0.1,0.2,0.3]", "expected one m-outputs line"),
])
def test_malformed_outputs_are_errors(peer, bad, match):
    p, d = peer(lambda cmd: lines(bad, "m-ready"))
    with pytest.raises(ProtocolError, match=match):
        d.outputs(expected=3)


def test_garbage_around_a_valid_answer_is_tolerated(peer):
    p, d = peer(lambda cmd: lines(b"\xff\xfe\x00noise\r\n", "m-outputs-[-128,5,127]", b"\r\n",
                                  "m-ready"))
    np.testing.assert_array_equal(d.outputs(expected=3), np.array([-128, 5, 127], np.int8))


def test_error_line_raises(peer):
    p, d = peer(lambda cmd: lines("e-[Insufficent number of hex digits]", "m-ready"))
    with pytest.raises(DeviceError, match=r"refused 'db 123': e-\[Insufficent"):
        d.command("db 123")


def test_firmware_without_db_crc_is_told_to_rebuild(peer):
    # an error line answering `db crc` is old firmware; other failures pass through unchanged
    p, d = peer(lambda cmd: lines("e-[Unknown command: db crc]", "m-ready"))
    with pytest.raises(DeviceError, match=r"refused 'db crc'.*firmware older than `db crc`: "
                                          r"rebuild and flash it"):
        d.check_loaded(b"abc")


def test_load_chunks_like_the_official_runner(peer):
    state = {"n": 0, "got": b""}

    def script(cmd):
        if cmd.startswith("db load"):
            state["n"] = int(cmd.split()[2])
            return lines(f"m-[Expecting {state['n']} bytes]", "m-ready")
        state["got"] += bytes.fromhex(cmd.split()[1])
        return lines(*(["m-load-done"] if len(state["got"]) >= state["n"] else []), "m-ready")
    p, d = peer(script)
    data = bytes(range(256)) + bytes(234)
    d.load(data)
    assert state["got"] == data
    db = [c for c in p.commands if c.startswith("db ") and not c.startswith("db load")]
    assert len(db) == 16 and all(len(c) == 3 + 62 for c in db[:-1])
    assert all(len(c) + 1 <= 80 for c in p.commands)


def test_load_done_too_early_is_an_error(peer):
    def script(cmd):
        if cmd.startswith("db load"):
            return lines(f"m-[Expecting {cmd.split()[2]} bytes]", "m-ready")
        return lines("m-load-done", "m-ready")
    p, d = peer(script)
    with pytest.raises(ProtocolError, match="m-load-done after 31 of 100 bytes"):
        d.load(bytes(100))


def test_boot_probe_when_banner_was_flushed(peer):
    p, d = peer(lambda cmd: lines("m-name-dut-[scripted]", "m-ready") if cmd == "name" else b"")
    d.wait_boot(2, quiet=0.1)
    assert p.commands == ["name"]


def test_boot_banner_seen(peer):
    p, d = peer(lambda cmd: b"")
    os.write(p.master, lines("m-timestamp-mode-performance", "m-lap-us-5", "m-init-done", "m-ready"))
    assert d.wait_boot(2, quiet=0.5) == ["m-timestamp-mode-performance", "m-lap-us-5", "m-init-done"]
    assert p.commands == []


def test_boot_slow_device_answers_a_later_probe(peer):
    calls = []

    def script(cmd):  # still booting: the first probe is lost
        calls.append(cmd)
        return lines("m-name-dut-[slow]", "m-ready") if len(calls) > 1 else b""
    p, d = peer(script)
    os.write(p.master, b"\n")  # the tail of a flushed banner
    d.wait_boot(5, quiet=0.05)
    assert p.commands == ["name", "name"]


def test_boot_never_answers(peer):
    p, d = peer(lambda cmd: b"")
    with pytest.raises(DeviceTimeout, match=rf"^device on {p.path} did not answer 'name' within "
                                            rf"1.5 s of opening the port; last line: none$"):
        d.wait_boot(1.5, quiet=0.05)


def test_serial_board_that_never_answers_names_the_port(peer):
    p, _ = peer(lambda cmd: b"")
    with pytest.raises(DeviceTimeout) as e:
        with open_device("serial", url=p.path, boot_timeout=1.0):
            pass
    assert str(e.value) == (f"device on {p.path} did not answer 'name' within 1 s of opening "
                            f"the port; last line: none; is a board flashed with this build, "
                            f"running and connected there at 115200 baud?")


def uart_receive(data: bytes, sent_baud: int, read_baud: int) -> bytes:
    """What a UART receiver at read_baud makes of 8N1 bytes sent at sent_baud: sampled mid-bit
    after each falling edge, a byte per start bit, framing errors included (idle high)."""
    bits = [bit for b in data for bit in [0, *((b >> i) & 1 for i in range(8)), 1]] + [1] * 20
    end, period = len(bits) / sent_baud, 1.0 / read_baud

    def level(t):
        return bits[int(t * sent_baud)] if t < end else 1
    out, t = bytearray(), 0.0
    while t < end:
        if level(t) == 0 and level(t + period / 2) == 0:
            mid = t + period / 2
            out.append(sum(level(mid + (i + 1) * period) << i for i in range(8)))
            t = mid + 9 * period
            while t < end and level(t) == 0:  # a low stop bit: wait for the line to rise
                t += period / 16
        else:
            t += period / 16
    return bytes(out)


NAME_ANSWER = lines("m-name-dut-[tinysweep-nucleo-l4r5zi]", "m-ready")


def test_wrong_baud_is_detected_not_parsed(peer):
    assert uart_receive(NAME_ANSWER, 115200, 115200) == NAME_ANSWER  # the simulation is exact
    # firmware at 9600 (an energy-mode build), runner at 115200: ~2 noise bytes per byte
    p, _ = peer(lambda cmd: uart_receive(NAME_ANSWER, 9600, 115200))
    t = time.monotonic()
    with pytest.raises(ProtocolError) as e:
        with open_device("serial", url=p.path, baud=115200, boot_timeout=5):
            pass
    assert time.monotonic() - t < 2  # stopped at the noise, not at the timeout
    msg = str(e.value)
    assert msg.startswith(f"device on {p.path}: received ") and "\n" not in msg
    assert "bytes that are not protocol text (last: " in msg
    assert msg.endswith("wrong baud rate? (port opened at 115200 baud; the firmware's rate is "
                        "params.yaml devices.<id>.baud, 9600 for energy-mode firmware)")
    # firmware at 115200, runner at 9600: few bytes, reported with the timeout
    p, _ = peer(lambda cmd: uart_receive(NAME_ANSWER, 115200, 9600))
    with pytest.raises(DeviceTimeout, match=r"did not answer 'name' within 1 s of opening the "
                                            r"port; last line: .*; received \d+ bytes that are "
                                            r"not protocol text .*wrong baud rate\? \(port "
                                            r"opened at 9600 baud"):
        with open_device("serial", url=p.path, baud=9600, boot_timeout=1.0):
            pass


def test_results_at_the_wrong_baud_are_never_parsed(peer):
    answer = lines(*INFER_OK, "m-results-[0.1,0.2]", "m-ready")
    p, d = peer(lambda cmd: uart_receive(answer, 9600, 115200))
    with pytest.raises(ProtocolError, match="not protocol text"):
        d.infer(1, 0)
    with pytest.raises(DeviceError, match="out of step"):
        d.results()


def test_energy_mode_firmware_is_named(peer):
    p, d = peer(lambda cmd: b"")
    os.write(p.master, lines("m-timestamp-mode-energy", "m-init-done", "m-ready"))
    with pytest.raises(ProtocolError, match=r"runs energy-mode firmware \(m-timestamp-mode-energy"):
        d.wait_boot(2, quiet=0.5)
    # banner missed: an infer answer without timestamps says what it may be
    p, d = peer(lambda cmd: lines(*INFER_OK[:3], "m-infer-done", "m-results-[0.1]", "m-ready"))
    with pytest.raises(ProtocolError, match=r"out of sequence \(no m-lap-us timestamps: "
                                            r"energy-mode firmware\?\)"):
        d.infer(1, 0)


def test_timeout_mentions_a_partial_line(peer):
    p, d = peer(lambda cmd: b"m-warmup-start-0\r\nm-warm")
    with pytest.raises(DeviceTimeout, match=r"last line: 'm-warmup-start-0', then 'm-warm' "
                                            r"without a line end$"):
        d.infer(1, 0)
