"""Build the firmware for one port and one generated model (stages/convert.py output).

    python stages/build_firmware.py --port host --model-dir models/kws/w8/c \
        --out build/kws_host_w8 [--cflags="-O3"]

Runs `make -C firmware` into a temporary sibling folder that replaces --out only on success:
--out then holds `firmware` and `build.json` (firmware sha256, model sha256, compiler and
version, effective flags, section sizes from `size`). --cflags are appended to the Makefile's
defaults (-std=c99 -O2 -Wall -Wextra -Werror), so a later -O wins.
"""
import json
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

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


def build_firmware(port: str, model_dir, out, cflags: str = "", jobs: int = 2) -> dict:
    """Build firmware/ports/<port> with the model in `model_dir` into `out`; return build.json."""
    model_dir = Path(model_dir).resolve()
    ports = sorted(p.name for p in (FIRMWARE / "ports").iterdir() if p.is_dir())
    if port not in ports:
        raise ValueError(f"unknown port '{port}' (firmware/ports has: {', '.join(ports)})")
    for name in ("model.c", "model.h"):
        if not (model_dir / name).is_file():
            raise FileNotFoundError(f"{model_dir / name} does not exist (run stages/convert.py)")
    with atomic_dir(out) as tmp:
        tmp = tmp.resolve()
        base = ["make", "-C", str(FIRMWARE), f"PORT={port}", f"MODEL_DIR={model_dir}",
                f"BUILD_DIR={tmp}", f"EXTRA_CFLAGS={cflags}"]
        run = subprocess.run(base + [f"-j{jobs}"], capture_output=True, text=True)
        if run.returncode != 0:
            sys.stderr.write(run.stdout + run.stderr)
            errors = [l for l in run.stderr.splitlines() if "error" in l.lower()]
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
        }
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
    a = ap.parse_args(_join_option_values(sys.argv[1:] if argv is None else list(argv)))
    try:
        info = build_firmware(a.port, a.model_dir, a.out, a.cflags, a.jobs)
    except (OSError, ValueError, BuildError) as e:
        sys.exit(f"build_firmware: {e}")
    s = info["sizes"]
    print(f"build_firmware: {a.port} firmware text {s['text']} B, data {s['data']} B, "
          f"bss {s['bss']} B -> {a.out}")


if __name__ == "__main__":
    main()
