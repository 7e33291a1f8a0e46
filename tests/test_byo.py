"""Bring your own model: `python -m tinysweep codegen` and `evaluate`, end to end on the host."""
import csv
import subprocess
import sys

import numpy as np
import pytest

from helpers import REPO
from tinysweep import energyrunner as er
from tinysweep import oracle


def tinysweep(*args):
    return subprocess.run([sys.executable, "-m", "tinysweep", *map(str, args)],
                          capture_output=True, text=True, cwd=REPO)


def test_codegen(small_kws_tflite, tmp_path):
    run = tinysweep("codegen", small_kws_tflite, "--profile", "kws01", "--out", tmp_path / "c")
    assert run.returncode == 0, run.stderr
    assert {p.name for p in (tmp_path / "c").iterdir()} == {"model.c", "model.h", "model.json"}
    last = run.stdout.splitlines()[-1]
    tflm = oracle.arena_bytes(small_kws_tflite.read_bytes())
    assert last.startswith("codegen: 9 ops, ") and "MACs" in last and "B weights" in last
    assert f"tflite-micro arena {tflm:,} B" in last and "lower bound" in last
    assert "CONV_2D" in run.stdout and "(aliased, no code)" in run.stdout


def test_codegen_errors_are_one_line(tmp_path):
    run = tinysweep("codegen", tmp_path / "missing.tflite", "--profile", "kws01", "--out",
                    tmp_path / "c")
    assert run.returncode == 1 and run.stderr.strip().count("\n") == 0
    assert run.stderr.startswith("codegen: model file")
    run = tinysweep("codegen", "--profile", "kws01")
    assert run.returncode == 1 and run.stderr.startswith("codegen: ")
    run = tinysweep("nonsense")
    assert run.returncode == 1 and run.stderr.startswith("tinysweep: usage")


@pytest.fixture(scope="module")
def testset(small_kws_tflite, tmp_path_factory):
    folder = tmp_path_factory.mktemp("testset")
    rng = np.random.default_rng(5)
    samples = [(f"s{i}.bin", rng.integers(-128, 128, 490, dtype=np.int8).tobytes(), i % 12)
               for i in range(6)]
    er.write_folder(folder, samples, 12, 490)
    return folder, samples


def test_evaluate(small_kws_tflite, host_firmware, testset, tmp_path):
    folder, samples = testset
    out = tmp_path / "results.csv"
    run = tinysweep("evaluate", "--model", small_kws_tflite, "--firmware", host_firmware,
                    "--testset", folder, "--out", out)
    assert run.returncode == 0, run.stderr
    rows = list(csv.DictReader(out.open()))
    assert [r["file"] for r in rows] == [s[0] for s in samples]
    expected = oracle.predict(small_kws_tflite.read_bytes(),
                              np.stack([np.frombuffer(s[1], np.int8) for s in samples]))
    for r, e in zip(rows, expected):
        assert r["device_outputs"] == " ".join(map(str, e.tolist())) == r["oracle_outputs"]
        assert r["agree"] == r["outputs_equal"] == "1"
    accuracy = np.mean(expected.argmax(axis=1) == [s[2] for s in samples])
    last = run.stdout.splitlines()[-1]
    assert last == (f"evaluate: kws01, 6 samples: top-1 accuracy {accuracy:.4f} on device, "
                    f"{accuracy:.4f} tflite-micro; agreement 1.0000, bit-exact outputs 1.0000")
    assert run.stdout.startswith("file,label,device,oracle")


def test_evaluate_errors_are_one_line(small_kws_tflite, host_firmware, tmp_path):
    run = tinysweep("evaluate", "--model", small_kws_tflite, "--testset", tmp_path)
    assert run.returncode == 1 and run.stderr == "evaluate: --transport pty needs --firmware\n"
    run = tinysweep("evaluate", "--model", small_kws_tflite, "--firmware", host_firmware,
                    "--testset", tmp_path)
    assert run.returncode == 1 and run.stderr.strip().count("\n") == 0
    assert "not an EnergyRunner folder" in run.stderr
