"""Build the firmware for one port and one generated model (stages/convert.py output).

    python stages/build_firmware.py --port host --model-dir models/kws/w8/c \
        --out build/kws_host_w8 [--cflags="-O3"]
    python stages/build_firmware.py --port mps2-an386 --model-dir models/kws/w8/c \
        --out build/kws_m4_w8 --cflags="-O2 -mcpu=cortex-m4 ..." \
        --board "NUCLEO-L4R5ZI" --flash-bytes 2097152 --ram-bytes 655360
    python stages/build_firmware.py --port nucleo-l4r5zi ... --baud 115200 [--energy-mode]

Runs `make -C firmware` into a temporary sibling folder that replaces --out only on success:
--out then holds `firmware` and `build.json` (firmware sha256, model sha256, compiler and
version, effective flags, section sizes from `size`). --cflags are appended to the Makefile's
defaults (-std=c99 -O2 -Wall -Wextra -Werror), so a later -O wins.

With --board/--flash-bytes/--ram-bytes (a microcontroller port) the linker holds the image to
the represented board's memory, build.json gets the flash split (weights / code / constants)
and RAM split (arena / stack / other) read from the ELF, and a model that does not fit stops
the build with one line "needs X KB flash / Y KB RAM, <board> has ...", computed from the
sizes (the image is linked once more without the limit to measure it). A real board's build
also writes firmware.bin (from the flash origin) and firmware.hex, recorded with their sha256.
"""
import json
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

from tinysweep import config, elf
from tinysweep.cli import Parser
from tinysweep.io import atomic_dir, git_commit, sha256_file, write_json_atomic

REPO = Path(__file__).resolve().parents[1]
FIRMWARE = REPO / "firmware"


class BuildError(Exception):
    pass


def _make_vars(base_cmd, names) -> dict:
    """Values of Makefile variables, one `make print-NAME` line each."""
    run = subprocess.run(base_cmd + ["-s", "--no-print-directory"] + [f"print-{n}" for n in names],
                         capture_output=True, text=True)
    lines = run.stdout.splitlines()
    if run.returncode != 0 or len(lines) != len(names):
        raise BuildError(f"make cannot report its settings: {run.stderr.strip() or run.stdout!r}")
    return {n: line.strip() for n, line in zip(names, lines)}


def _first_line(cmd) -> str:
    if not cmd or not cmd[0]:
        return "unknown"
    try:
        run = subprocess.run(cmd, capture_output=True, text=True)
    except OSError as e:
        return f"unavailable ({e.strerror})"
    return (run.stdout or run.stderr).strip().splitlines()[0] if (run.stdout or run.stderr) else ""


def _sizes(size_tool: str, binary: Path) -> dict:
    """Berkeley `size` output: text, data, bss (bytes) and their total."""
    if not size_tool.strip():
        raise BuildError("the Makefile names no SIZE tool")
    run = subprocess.run(shlex.split(size_tool) + [str(binary)], capture_output=True, text=True)
    if run.returncode != 0:
        raise BuildError(f"{size_tool} failed on {binary.name}: {run.stderr.strip()}")
    row = run.stdout.strip().splitlines()[-1].split()
    text, data, bss, total = (int(v) for v in row[:4])
    return {"text": text, "data": data, "bss": bss, "total": total}


def _model_sha(model_dir: Path) -> str | None:
    try:
        return json.loads((model_dir / "model.json").read_text()).get("sha256")
    except (OSError, ValueError):
        pass
    m = re.search(r'#define TSN_MODEL_SHA256 "([0-9a-f]{64})"', (model_dir / "model.h").read_text())
    return m.group(1) if m else None


def _kb(n: int) -> str:
    return f"{n / 1024:,.1f} KB"


def _fit_error(memory: dict, board: dict) -> str | None:
    """One line when the image does not fit the board, else None."""
    if memory["flash_bytes"] <= board["flash_bytes"] and memory["ram_bytes"] <= board["ram_bytes"]:
        return None
    return (f"the firmware needs {_kb(memory['flash_bytes'])} flash / {_kb(memory['ram_bytes'])} "
            f"RAM (weights {_kb(memory['flash']['weights'])}, arena {_kb(memory['ram']['arena'])}, "
            f"stack {_kb(memory['ram']['stack'])}), {board['name']} has "
            f"{_kb(board['flash_bytes'])} flash / {_kb(board['ram_bytes'])} RAM")


def _overflow_memory(base: list, binary: Path) -> dict | None:
    """Sizes of an image the linker refused for the board: link again keeping the output."""
    subprocess.run(base + ["EXTRA_LDFLAGS=-Wl,--noinhibit-exec"], capture_output=True, text=True)
    return elf.memory(binary) if binary.is_file() else None


def build_firmware(port: str, model_dir, out, cflags: str = "", jobs: int = 2,
                   board: dict | None = None, baud: int | None = None,
                   energy_mode: bool = False) -> dict:
    """Build firmware/ports/<port> with the model in `model_dir` into `out`; return build.json.
    `board` (name, flash_bytes, ram_bytes): the represented board a microcontroller port is
    linked for. `baud`: a real board's UART rate; `energy_mode`: EEMBC energy-mode firmware."""
    model_dir = Path(model_dir).resolve()
    ports = config.ports()
    if port not in ports:
        raise ValueError(f"unknown port '{port}' (firmware/ports has: {', '.join(ports)})")
    for name in ("model.c", "model.h"):
        if not (model_dir / name).is_file():
            raise FileNotFoundError(f"{model_dir / name} does not exist (run stages/convert.py)")
    with atomic_dir(out) as tmp:
        tmp = tmp.resolve()
        base = ["make", "-C", str(FIRMWARE), f"PORT={port}", f"MODEL_DIR={model_dir}",
                f"BUILD_DIR={tmp}", f"EXTRA_CFLAGS={cflags}"]
        if board:
            base += [f"FLASH_BYTES={board['flash_bytes']}", f"RAM_BYTES={board['ram_bytes']}"]
        if baud:
            base.append(f"BAUD={baud}")
        if energy_mode:
            base.append("ENERGY_MODE=1")
        run = subprocess.run(base + [f"-j{jobs}"], capture_output=True, text=True)
        if run.returncode != 0:
            sys.stderr.write(run.stdout + run.stderr)
            if board and re.search(r"overflowed|will not fit", run.stderr):
                memory = _overflow_memory(base, tmp / "firmware")
                if memory and _fit_error(memory, board):
                    raise BuildError(_fit_error(memory, board))
            errors = [l.split("*** ", 1)[-1].removesuffix(".  Stop.") if "***" in l else l
                      for l in run.stderr.splitlines() if "error" in l.lower() or "***" in l]
            raise BuildError(f"make failed (exit {run.returncode}): "
                             f"{errors[0].strip() if errors else 'see the output above'}")
        v = _make_vars(base, ["CC", "CFLAGS", "EXTRA_CFLAGS", "CPPFLAGS", "LDFLAGS", "LDLIBS",
                              "SIZE"])
        binary = tmp / "firmware"
        info = {
            "port": port,
            "firmware": "firmware",
            "firmware_sha256": sha256_file(binary),
            "model_sha256": _model_sha(model_dir),
            "model_dir": str(model_dir),
            "compiler": v["CC"],
            "compiler_version": _first_line(shlex.split(v["CC"]) + ["--version"]),
            "cflags": " ".join(x for x in (v["CFLAGS"], v["EXTRA_CFLAGS"]) if x),
            "extra_cflags": v["EXTRA_CFLAGS"],
            "ldflags": " ".join(x for x in (v["LDFLAGS"], v["LDLIBS"]) if x),
            "size_tool": v["SIZE"],
            "sizes": _sizes(v["SIZE"], binary),
            "git_commit": git_commit(REPO),
            "energy_mode": bool(energy_mode),
        }
        if baud:
            info["baud"] = baud
        for image in ("firmware.bin", "firmware.hex"):  # a real board's flashable images
            if (tmp / image).is_file():
                info.setdefault("images", {})[image] = sha256_file(tmp / image)
        if board:
            memory = elf.memory(binary, size=v["SIZE"])
            error = _fit_error(memory, board)
            if error:  # the linker script should have refused it; the sizes decide
                raise BuildError(error)
            info["board"] = dict(board)
            info["memory"] = memory
        shutil.rmtree(tmp / "obj", ignore_errors=True)
        write_json_atomic(tmp / "build.json", info)
    return info


def _join_option_values(argv, options=("--cflags",)):
    """`--cflags -O2` -> `--cflags=-O2`: argparse would take '-O2' for an option."""
    out, i = [], 0
    while i < len(argv):
        if argv[i] in options and i + 1 < len(argv):
            out.append(f"{argv[i]}={argv[i + 1]}")
            i += 2
        else:
            out.append(argv[i])
            i += 1
    return out


def main(argv=None):
    ap = Parser(prog="build_firmware", description=__doc__.splitlines()[0])
    ap.add_argument("--port", required=True, help="a folder of firmware/ports (host, ...)")
    ap.add_argument("--model-dir", required=True, help="folder with model.c and model.h")
    ap.add_argument("--out", required=True, help="build folder to create (replaced if present)")
    ap.add_argument("--cflags", default="", help="extra compiler flags, appended to the defaults")
    ap.add_argument("--jobs", type=int, default=2, help="parallel compile jobs (make -j)")
    ap.add_argument("--board", help="the represented board's name (microcontroller ports)")
    ap.add_argument("--flash-bytes", type=int, help="the represented board's flash")
    ap.add_argument("--ram-bytes", type=int, help="the represented board's RAM")
    ap.add_argument("--baud", type=int, help="a real board's UART rate (firmware PORT_BAUD)")
    ap.add_argument("--energy-mode", action="store_true",
                    help="EEMBC energy-mode firmware (timestamps on the board's pin)")
    a = ap.parse_args(_join_option_values(sys.argv[1:] if argv is None else list(argv)))
    given = [x is not None for x in (a.board, a.flash_bytes, a.ram_bytes)]
    if any(given) and not all(given):
        ap.error("--board, --flash-bytes and --ram-bytes go together")
    board = ({"name": a.board, "flash_bytes": a.flash_bytes, "ram_bytes": a.ram_bytes}
             if all(given) else None)
    try:
        info = build_firmware(a.port, a.model_dir, a.out, a.cflags, a.jobs, board, a.baud,
                              a.energy_mode)
    except (OSError, ValueError, BuildError, elf.ElfError) as e:
        sys.exit(f"build_firmware: {e}")
    s = info["sizes"]
    if board:
        m = info["memory"]
        print(f"build_firmware: {a.port} for {board['name']}: flash {m['flash_bytes']} B "
              f"(weights {m['flash']['weights']}, code {m['flash']['code']}, constants "
              f"{m['flash']['constants']}) of {board['flash_bytes']}, RAM {m['ram_bytes']} B "
              f"(arena {m['ram']['arena']}, stack {m['ram']['stack']}, other "
              f"{m['ram']['other']}) of {board['ram_bytes']} -> {a.out}")
    else:
        print(f"build_firmware: {a.port} firmware text {s['text']} B, data {s['data']} B, "
              f"bss {s['bss']} B -> {a.out}")


if __name__ == "__main__":
    main()
