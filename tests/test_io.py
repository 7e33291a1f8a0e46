"""tinysweep.io: a writer killed at any point leaves nothing that looks complete."""
import signal
import subprocess
import sys
import time

import pytest

from helpers import interruptible

# A stage's writer (every stage writes through atomic_path: bytes, json, npz, .keras; or
# atomic_dir: folders), with a stage's SIGTERM handling armed, stopped while it writes.
WRITER = """
import sys, time
from tinysweep.cli import Parser
from tinysweep.io import atomic_dir, atomic_path
Parser(prog="writer").parse_args([])
kind, target = sys.argv[1:]
try:
    if kind == "file":
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            print("writing", flush=True)
            time.sleep(30)
    else:
        with atomic_dir(target) as tmp:
            (tmp / "a.bin").write_bytes(b"half")
            print("writing", flush=True)
            time.sleep(30)
except KeyboardInterrupt:
    sys.exit("writer: interrupted; nothing written")
"""


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT, signal.SIGKILL], ids=lambda s: s.name)
@pytest.mark.parametrize("kind", ["file", "folder"])
def test_a_killed_writer_leaves_no_output_and_the_next_one_sweeps_its_leftovers(tmp_path, kind, sig):
    from tinysweep.io import atomic_dir, write_text_atomic
    target = tmp_path / "out" / ("metrics.json" if kind == "file" else "kws_host_w8")
    p = subprocess.Popen([sys.executable, "-c", WRITER, kind, str(target)], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True, preexec_fn=interruptible)
    assert p.stdout.readline() == "writing\n"
    p.send_signal(sig)
    _, err = p.communicate(timeout=10)
    assert p.returncode != 0 and not target.exists()
    left = [f.name for f in target.parent.iterdir()]
    if sig == signal.SIGKILL:  # no finally block runs: one hidden leftover, named by its pid
        assert len(left) == 1 and left[0].startswith(f".{target.name}.{p.pid}.") and left[0].endswith(".partial")
    else:
        assert left == [] and len(err.strip().splitlines()) == 1, err
    if kind == "file":
        write_text_atomic(target, "{}")
    else:
        with atomic_dir(target) as tmp:
            (tmp / "a.bin").write_bytes(b"whole")
    assert [f.name for f in target.parent.iterdir()] == [target.name]


def test_a_leftover_of_a_running_writer_is_kept(tmp_path):
    """Only leftovers of dead processes go: a writer running beside us keeps its file."""
    from tinysweep.io import write_text_atomic
    alive = subprocess.Popen(["sleep", "30"])
    try:
        mine = tmp_path / f".metrics.json.{alive.pid}.abc.partial"
        mine.write_text("in progress")
        write_text_atomic(tmp_path / "metrics.json", "{}")
        assert mine.exists()
    finally:
        alive.kill()
        alive.wait()
