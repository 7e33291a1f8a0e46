"""The repository's default DVC remote (.dvc/config): a folder beside the repository, where
`dvc push` puts what DVC tracks and `dvc pull` gets it back on another checkout."""
import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def dvc(*args, cwd):
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}:{os.environ['PATH']}",
               DVC_NO_ANALYTICS="1")
    p = subprocess.run(["dvc", *args], cwd=cwd, env=env, capture_output=True, text=True,
                       timeout=120)
    assert p.returncode == 0, f"dvc {' '.join(args)} exited {p.returncode}\n{p.stdout}\n{p.stderr}"
    return p


def checkout(ws: Path) -> Path:
    """A git repository holding the project's DVC configuration."""
    (ws / ".dvc").mkdir(parents=True)
    shutil.copy2(REPO / ".dvc" / "config", ws / ".dvc" / "config")
    shutil.copy2(REPO / ".dvcignore", ws / ".dvcignore")
    subprocess.run(["git", "init", "-q"], cwd=ws, check=True)
    return ws


def test_push_to_the_default_local_remote_and_pull_elsewhere(tmp_path):
    first = checkout(tmp_path / "machine_a")
    data = first / "models" / "kws"
    data.mkdir(parents=True)
    (data / "float.keras").write_bytes(os.urandom(4096))
    dvc("add", "models", cwd=first)
    assert dvc("push", cwd=first).stdout.strip() == "2 files pushed"  # the file, the folder list
    remote = tmp_path / "tinysweep-dvc-remote"  # beside the repository
    assert any(p.is_file() for p in remote.rglob("*"))

    # another machine: the same config and .dvc file, an empty cache
    second = checkout(tmp_path / "machine_b")
    shutil.copy2(first / "models.dvc", second / "models.dvc")
    assert "1 file added" in dvc("pull", cwd=second).stdout
    assert (second / "models" / "kws" / "float.keras").read_bytes() == (
        data / "float.keras").read_bytes()
