"""Helpers shared by test modules (tests/ is on sys.path, see pyproject.toml)."""
import functools
import shlex
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

REPO = Path(__file__).resolve().parents[1]


def run_stage(script, *args, cwd=None):
    """Run stages/<script> with the test interpreter; returns the CompletedProcess."""
    return subprocess.run([sys.executable, str(REPO / "stages" / script), *map(str, args)],
                          capture_output=True, text=True, cwd=cwd or REPO)


def build_host_firmware(tflite, root, profile: str = "kws01", weight_bits: int = 8):
    """convert + build_firmware for the host port: root/c (generated model), root/build/firmware."""
    root = Path(root)
    firmware = root / "build" / "firmware"
    if not firmware.is_file():
        for args in (("convert.py", "--model", tflite, "--profile", profile, "--out", root / "c",
                      "--weight-bits", weight_bits),
                     ("build_firmware.py", "--port", "host", "--model-dir", root / "c",
                      "--out", root / "build", "--cflags=-O2")):
            run = run_stage(*args)
            assert run.returncode == 0, f"{args[0]} failed:\n{run.stdout}\n{run.stderr}"
    return firmware


@functools.lru_cache(maxsize=None)
def reference_int8(name: str) -> bytes:
    """tinysweep.benchmarks.reference_models.reference_int8(name), built once per test session
    (its Keras build and PTQ take seconds; several test files use the same models)."""
    from tinysweep.benchmarks import reference_models
    return reference_models.reference_int8(name)


def tflm_outputs(buf: bytes, xs):
    """tflite-micro's int8 outputs, one flattened row per input of xs."""
    import numpy as np
    from tflite_micro import runtime
    it = runtime.Interpreter.from_bytes(buf, arena_size=4 << 20)
    outs = []
    for x in xs:
        it.set_input(x[None], 0)
        it.invoke()
        outs.append(np.array(it.get_output(0)).reshape(-1))
    return np.stack(outs)


def host_outputs(firmware, xs, n_out):
    """The host device's int8 outputs (n_out each), one row per int8 input of xs."""
    import numpy as np
    from tinysweep.runner import open_device
    outs = []
    with open_device("pty", firmware, timeout=10, boot_timeout=10) as dut:
        for x in xs:
            dut.load(x.tobytes())
            dut.infer(1, 0)
            outs.append(dut.outputs(expected=n_out))
    return np.stack(outs)


def build_board_firmware(tflite, root, device: str, profile: str = "kws01", weight_bits: int = 8):
    """convert + build_firmware for a device of params.yaml (its port, flags and board):
    root/c, root/build/firmware; returns the device entry and the firmware path."""
    import yaml
    from tinysweep.workflow import Helpers
    root = Path(root)
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    params["matrix"]["devices"] = [device]
    args = Helpers.checked(params).build_args(SimpleNamespace(bench="kws", device=device, bits="8"))
    firmware = root / "build" / "firmware"
    if not firmware.is_file():
        for stage_args in (("convert.py", "--model", tflite, "--profile", profile, "--out", root / "c",
                            "--weight-bits", weight_bits),
                           ("build_firmware.py", *shlex.split(args), "--model-dir", root / "c",
                            "--out", root / "build")):
            run = run_stage(*stage_args)
            assert run.returncode == 0, f"{stage_args[0]} failed:\n{run.stdout}\n{run.stderr}"
    return params["devices"][device], firmware


def assert_device_equals_tflm(firmware, buf: bytes, xs, label: str, **device):
    """Every output of the device over the serial protocol (`db load`, `infer 1 0`,
    `outputs`) for every input of xs equals tflite-micro's on the .tflite `buf`. The first input
    runs 2 warm-ups and 3 inferences on one load: in-place kernels must never overwrite the
    model input. A board that tells its stack's high-water mark must not have used all of it.
    `device`: open_device's keywords (default: the host firmware over its pty).
    Returns the device's instruction counts (emulated boards) or None."""
    import numpy as np
    from tinysweep.codegen import read_tflite_bytes
    from tinysweep.runner import open_device
    expected = tflm_outputs(buf, xs)
    n_out = expected.shape[1]
    m = read_tflite_bytes(buf)
    assert n_out == m.tensor(m.outputs[0]).elements
    device = {"transport": "pty", **device}
    with open_device(device.pop("transport"), firmware, timeout=30.0, **device) as dut:
        model = dut.profile()["model"]
        ad01 = model == "ad01"  # takes float windows, prints one MSE
        for k, x in enumerate(xs):
            if ad01:
                data = _dequantized(buf, x)
            elif model in ("ic01", "vww01"):  # takes uint8 pixels, stores pixel - 128
                data = (x.astype(np.int16) + 128).astype(np.uint8).tobytes()
            else:
                data = x.tobytes()
            dut.load(data)
            dut.infer(3 if k == 0 else 1, 2 if k == 0 else 0, expected=1 if ad01 else n_out)
            got = dut.outputs(expected=n_out)
            diff = np.flatnonzero(got != expected[k])
            assert diff.size == 0, (f"{label} input {k}: {diff.size} of {n_out} outputs differ "
                                    f"from tflite-micro, first at {diff[0]}: "
                                    f"{got[diff[0]]} vs {expected[k][diff[0]]}")
        stack = dut.stack_peak()
        assert stack is None or stack[0] < stack[1], f"{label}: all {stack[1]} stack bytes used"
        return dut.instructions.take(5 + len(xs) - 1) if dut.instructions else None


def _dequantized(buf: bytes, x) -> bytes:
    """float32 bytes that the model's input QUANTIZE maps back to exactly the int8 values x."""
    import numpy as np
    from tinysweep import energyrunner as er
    from tinysweep.oracle import Oracle
    o = Oracle(buf)
    floats = ((x.astype(np.float32) - o.input_zero_point) * np.float32(o.input_scale)).astype("<f4")
    assert np.array_equal(er.quantize_inputs(floats, o.input_scale, o.input_zero_point), x)
    return floats.tobytes()


def weight_filters(buf: bytes):
    """[(int8 filter, scales, input scale, int32 bias or None)] of every weight op."""
    import numpy as np
    from tinysweep.quant.graph import read
    from tinysweep.weight_grid import weight_ops
    m = read(buf)
    out = []
    for sg, op in weight_ops(m):
        t = sg.tensors[op.inputs[1]]
        q = np.frombuffer(bytes(bytearray(m.buffers[t.buffer].data)), np.int8).reshape(t.shape)
        b = None
        if len(op.inputs) > 2 and op.inputs[2] >= 0:
            bt = sg.tensors[op.inputs[2]]
            b = (np.frombuffer(bytes(bytearray(m.buffers[bt.buffer].data)), np.int32),
                 np.asarray(bt.quantization.scale, np.float32))
        out.append((q, np.asarray(t.quantization.scale, np.float32),
                    np.float32(sg.tensors[op.inputs[0]].quantization.scale[0]), b))
    return out


def int8_inputs(buf: bytes, x):
    """Float inputs x quantized with the model's input scale and zero point."""
    import numpy as np
    from tinysweep import oracle
    o = oracle.Oracle(buf)
    return np.clip(np.round(x / o.input_scale) + o.input_zero_point, -128, 127).astype(np.int8)


def group_members(pgid: int) -> list[str]:
    """Live (not zombie) processes of process group `pgid`, as 'pid argv…' strings: what a
    killed run left behind (host firmware and QEMU stay in the group of the run they serve)."""
    out = []
    for proc in Path("/proc").iterdir():
        try:
            fields = (proc / "stat").read_text().rsplit(")", 1)[1].split()
            argv = (proc / "cmdline").read_bytes().decode(errors="replace").split("\0")
        except (OSError, IndexError):
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            out.append(f"{proc.name} {' '.join(argv)[:200]}")
    return out


def wait_group_gone(pgid: int, timeout: float = 20.0) -> list[str]:
    """group_members(pgid) once it is empty or `timeout` has passed."""
    import time
    deadline = time.monotonic() + timeout
    while (left := group_members(pgid)) and time.monotonic() < deadline:
        time.sleep(0.1)
    return left


def interruptible():
    """Popen preexec_fn: SIGINT back to its default, as in a terminal's foreground job. A suite
    started in the background without job control (`make test &`) hands its children SIGINT
    ignored, and a Python started so never raises KeyboardInterrupt: a Ctrl-C test would wait
    in vain."""
    import signal
    signal.signal(signal.SIGINT, signal.SIG_DFL)
