"""A serial line that fails safely: the strict m-results parser, and every fault kind of the
fault-injecting proxy (tinysweep/faults.py) between the runner and a real device — the host
firmware on its pty and the m4 firmware in QEMU. Never a wrong result; a failure is one line
naming the port and the fault. The figures over many runs: bench/serial_faults.py."""
import numpy as np
import pytest

from tinysweep import faults
from tinysweep.runner import (DeviceError, DeviceReset, Dut, ProtocolError, latency_pass,
                              parse_results)

from helpers import build_board_firmware

INPUTS = [x.tobytes() for x in
          np.random.default_rng(5).integers(-128, 128, (2, 490)).astype(np.int8)]
SESSION = {"inputs": INPUTS, "num_outputs": 12, "num_results": 12, "timeout": 1.0}


# ---- the strict m-results parser --------------------------------------------------------------
def test_parser_accepts_one_complete_line():
    assert parse_results(["m-infer-done", "m-results-[0.000,0.996,-1.500]"], 3) == [0.0, 0.996, -1.5]


@pytest.mark.parametrize("lines, match", [
    (["m-results-[0.100,0.200"], "malformed"),                      # truncated: no bracket
    (["m-results-[0.100,0.2"], "malformed"),                        # cut inside a number
    (["m-results-[0.1\x0000,0.200]"], "malformed"),                 # a corrupted byte
    (["m-results-[0.100;0.200]"], "malformed"),                     # garbage separator
    (["m-results-[0.100,,0.200]"], "malformed"),                    # a dropped value
    (["m-results-[0.100,0.200]x"], "malformed"),                    # trailing garbage
    (["m-results-[]"], "malformed"),
    (["m-results-[0.100,0.200]"], "2 result values, expected 3"),   # wrong count
    (["m-results-[0.100,0.200,0.300,0.400]"], "4 result values, expected 3"),
    (["m-results-[0.1,0.2,0.3]", "m-results-[0.1,0.2,0.3]"], "one m-results line, got 2"),
    (["m-infer-done"], "one m-results line, got 0"),                # line never completed
])
def test_parser_refuses_anything_else(lines, match):
    with pytest.raises(ProtocolError, match=match) as e:
        parse_results(lines, 3, "PORT")
    assert str(e.value).startswith("device on PORT: ") and "\n" not in str(e.value)


def test_plan_is_seeded_and_within_the_traffic():
    traffic = {faults.TO_DEVICE: 100, faults.FROM_DEVICE: 50}
    for kind in faults.KINDS:
        plans = [faults.plan(kind, seed, traffic) for seed in range(20)]
        assert plans == [faults.plan(kind, seed, traffic) for seed in range(20)]
        assert all(0 <= f.offset < traffic[f.direction] for f in plans)
        assert {f.direction for f in plans} == set(faults.DIRECTIONS)
    with pytest.raises(ValueError, match="unknown fault kind 'melt'"):
        faults.plan("melt", 0, traffic)


# ---- every fault kind on real devices ---------------------------------------------------------
@pytest.fixture(scope="module")
def m4_firmware(tmp_path_factory, small_kws_tflite):
    return build_board_firmware(small_kws_tflite, tmp_path_factory.mktemp("faults_m4"), "m4")


@pytest.fixture(params=["host", "m4"])
def proxy(request, host_firmware):
    if request.param == "host":
        device = faults.HostDevice(host_firmware)
    else:
        entry, firmware = request.getfixturevalue("m4_firmware")
        device = faults.QemuDevice(firmware, entry["qemu_machine"])
    with faults.FaultProxy(device) as p:
        p.expected, p.clean_traffic = faults.baseline(p, **SESSION)
        yield p


def test_every_fault_kind_gives_the_fault_free_results_or_one_clean_line(proxy):
    seen = {}
    for kind in faults.KINDS:
        for seed in range(2):
            fault = faults.plan(kind, seed, proxy.clean_traffic, max_delay=1.5)
            outcome, error, fired = faults.run(proxy, [fault], proxy.expected, **SESSION)
            assert fired == [fault], f"{fault} did not fire"
            assert outcome in ("correct", "failed cleanly"), f"{fault}: {outcome}: {error}"
            seen[outcome] = seen.get(outcome, 0) + 1
    assert seen.get("correct", 0) >= 8  # most faults are mended by a safe retry


def test_a_line_that_keeps_failing_ends_in_one_line_naming_port_and_fault(proxy):
    cuts = [faults.Fault("corrupt", faults.FROM_DEVICE, offset, mask=0x20)
            for offset in range(400, 20000, 40)]
    outcome, error, fired = faults.run(proxy, cuts, proxy.expected,
                                       **{**SESSION, "retries": 2, "retry_time": 4.0})
    assert outcome == "failed cleanly" and fired, error
    assert error.startswith(f"device on {proxy.url}") and "\n" not in error
    assert "gave up on " in error and "attempts" in error


def test_a_reset_is_noticed_and_named_without_retries(proxy):
    # the restarted device's banner ends the wait at once; the timeout only bounds a slow restart
    # (2 s was too short for the host firmware's restart on a loaded machine)
    with Dut.from_url(proxy.url, timeout=10.0) as dut:
        dut.resync()
        dut.load(INPUTS[0], verify=True)
        proxy.arm([faults.Fault("reset", faults.TO_DEVICE, 0)])
        with pytest.raises(DeviceError) as e:
            dut.infer(1, 0)
            dut.check_loaded(INPUTS[0])  # the banner was lost: the input is gone
    msg = str(e.value)
    assert msg.startswith(f"device on {proxy.url}") and "\n" not in msg
    assert isinstance(e.value, DeviceReset) or "holds 0 bytes" in msg, msg


def test_a_latency_window_cut_short_by_a_reset_is_redone_on_the_reloaded_input(proxy):
    with Dut.from_url(proxy.url, timeout=2.0, retries=3, retry_time=20.0) as dut:
        dut.resync()
        proxy.arm([])
        dut.load(INPUTS[0])  # what latency_pass sends first: its size in bytes
        load = proxy.traffic[faults.TO_DEVICE]
        reset = faults.Fault("reset", faults.TO_DEVICE, load + len("infer 2 0%db crc%") + 3)
        proxy.arm([reset])  # inside the second window's 'infer 2 0'
        lat = latency_pass(dut, INPUTS[0], windows=3, inferences=2, warmup=0, timeout=2.0)
        assert proxy.fired == [reset] and len(lat) == 3 and all(x > 0 for x in lat)
        dut.check_loaded(INPUTS[0])


def test_command_line_faults_and_errors(tmp_path):
    assert faults.parse_fault("drop:to-device:40:2") == faults.Fault("drop", faults.TO_DEVICE, 40, size=2)
    assert faults.parse_fault("delay:from-device:7:0.5").seconds == 0.5
    for bad in ("melt:to-device:1", "drop:sideways:1", "drop:to-device:x", "drop:to-device:-1"):
        with pytest.raises(ValueError, match=r"expected KIND:DIRECTION:OFFSET\[:AMOUNT\]"):
            faults.parse_fault(bad)
    with pytest.raises(SystemExit) as e:
        faults.main([str(tmp_path / "missing")])
    assert e.value.code == 1
