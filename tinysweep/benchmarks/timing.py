"""Shared pieces of the engine benchmarks (bench/engine.py, bench/engine_matrix.py): build a
.tflite into the host firmware, time the firmware over the serial protocol, time tflite-micro's
Python interpreter and LiteRT on the same machine, and measure the code the model links.
Figures, not assertions."""
from __future__ import annotations

import json
import re
import shlex
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
ENGINE_SRC = REPO / "firmware" / "engine" / "src"


def time_per_call(fn, repeats: int) -> float:
    """Median over 5 windows of the mean seconds per call (the EEMBC way)."""
    fn()
    windows = []
    for _ in range(5):
        t0 = time.perf_counter()
        for _ in range(repeats):
            fn()
        windows.append((time.perf_counter() - t0) / repeats)
    return statistics.median(windows)


def litert_timer(tflite: bytes, x: np.ndarray, delegates: bool):
    """A no-argument callable: one LiteRT invoke on x (one thread; delegates on or off)."""
    from ai_edge_litert.interpreter import Interpreter, OpResolverType
    kind = OpResolverType.AUTO if delegates else OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
    it = Interpreter(model_content=tflite, experimental_op_resolver_type=kind, num_threads=1)
    it.allocate_tensors()
    index = it.get_input_details()[0]["index"]

    def call():
        it.set_tensor(index, x.reshape(it.get_input_details()[0]["shape"]))
        it.invoke()
    return call


def build_host(tflite: bytes, profile: str, root, weight_bits: int = 8) -> tuple[dict, Path]:
    """stages/convert.py (--weight-bits) + stages/build_firmware.py --port host into root:
    (model.json info, path of the firmware)."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    (root / "model.tflite").write_bytes(tflite)
    for cmd in (["stages/convert.py", "--model", root / "model.tflite", "--profile", profile,
                 "--out", root / "c", "--weight-bits", weight_bits],
                ["stages/build_firmware.py", "--port", "host", "--model-dir", root / "c",
                 "--out", root / "build"]):
        subprocess.run([sys.executable, *map(str, cmd)], cwd=REPO, check=True,
                       capture_output=True)
    return json.loads((root / "c" / "model.json").read_text()), root / "build" / "firmware"


def engine_latency_us(firmware, x: np.ndarray, inferences: int, windows: int = 5) -> float:
    """Median µs per inference of the host firmware (its own timer, `infer N W`)."""
    from tinysweep import runner
    with runner.open_device("pty", firmware) as dut:
        return statistics.median(runner.latency_pass(dut, x.tobytes(), windows, inferences,
                                                     min(10, inferences)))


def _make_var(name: str) -> str:
    run = subprocess.run(["make", "-s", "-C", str(REPO / "firmware"), "PORT=host",
                          "MODEL_DIR=/nonexistent", f"print-{name}"], capture_output=True,
                         text=True)
    return run.stdout.strip()


def code_bytes(model_dir, info: dict, workdir) -> dict:
    """Bytes of machine code (.text sections, `size -A`) of the generated model.c and of the
    engine kernels it links: those it calls and, transitively, those they call (the chain
    kernel calls the conv kernels of every weight width), each compiled alone with the host
    firmware's compiler and CFLAGS (weights and other constants live in .rodata: not counted)."""
    model_dir, workdir = Path(model_dir), Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    cc = shlex.split(_make_var("CC") or "cc")
    cflags = shlex.split(_make_var("CFLAGS") or "-std=c99 -O2")
    todo = [("model", model_dir / "model.c")]
    seen = {"model"}
    out = {}
    while todo:
        name, src = todo.pop()
        obj = workdir / f"{name}.o"
        subprocess.run([*cc, *cflags, f"-I{REPO / 'firmware/engine/include'}",
                        f"-I{ENGINE_SRC}", f"-I{model_dir}", "-c", str(src), "-o", str(obj)],
                       check=True, capture_output=True)
        sysv = subprocess.run(["size", "-A", str(obj)], check=True, capture_output=True,
                              text=True).stdout
        out[name] = sum(int(m.group(1)) for m in
                        re.finditer(r"^\.text\S*\s+(\d+)", sysv, re.MULTILINE))
        undefined = subprocess.run(["nm", "-u", str(obj)], check=True, capture_output=True,
                                   text=True).stdout.split()
        for sym in undefined:
            source = ENGINE_SRC / (sym.removeprefix("tsn_") + ".c")
            if sym.startswith("tsn_") and sym not in seen and source.is_file():
                seen.add(sym)
                todo.append((sym, source))
    return {"model": out.pop("model"), "kernels": sum(out.values()), "per_kernel": out}


__all__ = ["time_per_call", "litert_timer", "build_host", "engine_latency_us", "code_bytes"]
