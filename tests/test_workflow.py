"""End to end: the real pipeline on a tiny configuration, through DVC and Snakemake, in a copy
of the repository (a fresh git clone as a user would have it)."""
import base64
import copy
import csv
import hashlib
import json
import os
import random
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from helpers import group_members, interruptible, wait_group_gone

REPO = Path(__file__).resolve().parents[1]
COPIED = ["Snakefile", "rules", "schemas", "stages", "tinysweep", "firmware", "envs", "dvc.yaml",
          "params.yaml", ".dvc/config", ".dvcignore", ".gitignore", "profiles"]

# The tiny configuration: seconds per stage, same code paths as the default.
TINY = {
    "matrix": {"benchmarks": ["kws"], "bits": [8]},
    "dataset": {"kws": {"clips_per_class": 10}},
    "train": {"kws": {"epochs": 2, "batch_size": 16, "learning_rates": [0.002, 0.001], "lr_boundaries": [1]}},
    "quantize": {"calibration_samples": 16, "configs": {"4": {"adaround_iterations": 50}}},
    "measure": {"latency": {"windows": 3, "inferences": 4, "warmup": 1}, "timeout_s": 30},
    # the kws ablation table at w4 (part of the default target), with few AdaRound steps
    "report": {"ablation": {"benchmarks": ["kws"], "calibration_sizes": []}},
}


def merge(base, extra):
    out = copy.deepcopy(base)
    for key, value in extra.items():
        out[key] = merge(out[key], value) if isinstance(value, dict) and key in out else value
    return out


def run(cmd, cwd, check=True, timeout=900):
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}:{os.environ['PATH']}", DVC_NO_ANALYTICS="1")
    p = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, shell=isinstance(cmd, str))
    if check and p.returncode != 0:
        raise AssertionError(f"{cmd} exited {p.returncode}\n{p.stdout[-3000:]}\n{p.stderr[-3000:]}")
    return p


def planned_jobs(dry_run_output: str) -> set:
    """Rule names of the 'Job stats' table of `snakemake -n`."""
    table = dry_run_output.split("Job stats:")[1].split("total")[0]
    return {m.group(1) for m in re.finditer(r"^(\w+)\s+\d+\s*$", table, re.M)}


def write_params(ws, extra=None):
    params = merge(yaml.safe_load((REPO / "params.yaml").read_text()), merge(TINY, extra or {}))
    (ws / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))


def make_clone(ws, extra=None):
    for name in COPIED:
        src, dst = REPO / name, ws / name
        dst.parent.mkdir(parents=True, exist_ok=True)
        if src.is_dir():
            shutil.copytree(src, dst, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
        else:
            shutil.copy2(src, dst)
    write_params(ws, extra)
    run("git init -q && git add -A && git -c user.name=t -c user.email=t@t commit -qm tiny", ws)
    return ws


@pytest.fixture(scope="module")
def clone(tmp_path_factory):
    return make_clone(tmp_path_factory.mktemp("clone"))


def test_glob_target_on_fresh_clone_plans_every_matching_combination(clone):
    p = run(["snakemake", "-n", "results/kws_*"], clone)
    assert "measure" in p.stdout and "results/kws_host_w8" in p.stdout
    assert not list((clone / "results").glob("*")) if (clone / "results").exists() else True


@pytest.mark.parametrize("target, message", [
    ("results/vww_host_w8", "target results/vww_host_w8: unknown benchmark 'vww' (params.yaml matrix declares: kws)"),
    ("results/kws_m9_w8", "unknown device 'm9'"),
    ("results/kws_host_w9", "target results/kws_host_w9: unknown bits configuration '9' (params.yaml matrix declares: 8)"),
    ("results/ad_*", "target results/ad_* matches no combination of params.yaml (declared: kws_host_w8)"),
])
def test_unknown_targets_stop_with_one_line(clone, target, message):
    p = run(["snakemake", "-n", target], clone, check=False)
    assert p.returncode != 0
    assert message in (p.stdout + p.stderr).strip().splitlines()[-1]


def test_a_model_trained_elsewhere_replaces_training(tmp_path, clone):
    """params `external`: the quantize stage takes the imported model, train does not run."""
    from tinysweep import energyrunner as er
    folder = tmp_path / "kws01"
    folder.mkdir()
    er.write_folder(folder, [("s0.bin", bytes(490), 0)], 12, 490)
    (tmp_path / "m.h5").write_bytes(b"checked by import_model")
    extra = tmp_path / "external.yaml"
    extra.write_text(yaml.safe_dump({"external": {"kws": {"model": str(tmp_path / "m.h5"),
                                                          "testset": str(folder)}}}))
    p = run(["snakemake", "-n", "results/kws_host_w8", "--configfile", str(extra)], clone)
    jobs = planned_jobs(p.stdout)
    assert "import_model" in jobs and "train" not in jobs, p.stdout
    extra.write_text(yaml.safe_dump({"external": {"kws": {"model": "nothing.h5",
                                                          "testset": str(folder)}}}))
    p = run(["snakemake", "-n", "--configfile", str(extra)], clone, check=False)
    assert p.returncode != 0 and p.stderr.strip().splitlines()[-1] == (
        "params.yaml: external.kws.model = 'nothing.h5' not found (want a .keras or .h5 file or "
        "a SavedModel folder)")


def test_invalid_params_stop_before_any_work(tmp_path, clone):
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({"matrix": {"bits": [3]}}))
    p = run(["snakemake", "-n", "--configfile", str(bad)], clone, check=False)
    assert p.returncode != 0
    assert p.stderr.strip().splitlines()[-1] == ("params.yaml: matrix.bits names '3', which "
                                                 "quantize.configs does not define (defined: 8, 4, 2)")


@pytest.mark.slow
def test_dvc_repro_runs_the_real_pipeline_and_is_reproducible(clone):
    run(["dvc", "repro"], clone, timeout=1500)
    result = clone / "results" / "kws_host_w8"
    metrics = json.loads((result / "metrics.json").read_text())
    # Device accuracy equals the tflite-micro interpreter's, sample for sample.
    with open(result / "predictions.csv") as f:
        rows = list(csv.DictReader(f))
    assert rows and all(r["device"] == r["oracle"] for r in rows)
    assert metrics["accuracy"]["value"] == metrics["accuracy_oracle"]["value"]
    assert metrics["accuracy"]["method"] == "measured" and metrics["latency_ms"]["method"] == "measured"
    assert metrics["latency_ms"]["value"] > 0
    summary = list(csv.DictReader(open(clone / "results" / "summary.csv")))
    assert [r["combination"] for r in summary] == ["kws_host_w8"]
    report = (clone / "results" / "report.html").read_text()
    assert "<img" in report
    # the offline data says what it is, in the results and the report
    assert metrics["dataset"].startswith("synthetic stand-in") and "synthetic stand-in" in report
    assert not [p for p in (clone / "results").rglob("*") if "partial" in p.name]

    # Nothing left to do, for DVC and for Snakemake.
    assert "didn't change" in run(["dvc", "repro"], clone).stdout
    assert "Nothing to be done" in run(["snakemake", "-n"], clone).stdout
    # The glob target finds everything built and leaves no marker behind.
    run(["snakemake", "--cores", "1", "results/kws_*"], clone)
    assert sorted(p.name for p in (clone / "results").iterdir()) == [
        "ablation", "kws_host_w8", "report.html", "summary.csv", "summary.json"]

    # One MLflow run per combination, one for the report's figures; reporting again does not
    # duplicate them.
    run(["snakemake", "--cores", "1", "--forcerun", "report"], clone)
    with sqlite3.connect(clone / "mlflow.db") as db:
        kinds = db.execute("select t.key, t.value from runs r join tags t on t.run_uuid = r.run_uuid "
                           "where r.lifecycle_stage = 'active' and t.key in "
                           "('tinysweep.combination', 'tinysweep.kind')").fetchall()
        assert sorted(kinds) == [("tinysweep.combination", "kws_host_w8"), ("tinysweep.kind", "report")]

    # Changing a measurement param re-runs only what depends on it.
    write_params(clone, {"measure": {"latency": {"windows": 2}}})
    plan = run(["snakemake", "-n"], clone).stdout
    assert planned_jobs(plan) == {"measure", "report", "all"}, plan

    # A DVC experiment with one parameter changed re-measures (DVC restores the outputs from
    # its cache first, without exec bits: the host firmware must still run).
    run("git checkout -q params.yaml && git add -A && git -c user.name=t -c user.email=t@t commit -qm ran", clone)
    run(["dvc", "exp", "run", "-S", "measure.latency.windows=2"], clone, timeout=600)
    metrics = json.loads((result / "metrics.json").read_text())
    assert len(metrics["latency_ms"]["windows_ms"]) == 2


# Runs killed at a seeded random point: while a chosen stage runs, a moment into it. What the
# kills interrupt is deleted first and rebuilt (convert, export_testset, firmware, measure).
REDONE = ["models/kws/w8/c", "models/kws/w8/testset", "build/kws_host_w8", "results/kws_host_w8"]
KILLS = {  # id: (command, signal, to the run's whole process group (a terminal's Ctrl-C) or its first process)
    "dvc-ctrl-c": (["dvc", "repro"], signal.SIGINT, True),
    "sigterm": (["snakemake", "--cores", "2", "results/kws_host_w8"], signal.SIGTERM, False),
    "sigkill": (["snakemake", "--cores", "2", "results/kws_host_w8"], signal.SIGKILL, False),
}  # SIGKILL of a stage itself: tests/stages/test_back_stages.py


def fingerprint(ws: Path, path: str) -> dict:
    """What a re-run must reproduce: every file's bytes; of a result the accuracy and the device
    outputs (not host latency), of a build everything but the commit it records."""
    root = ws / path
    if path.startswith("results/"):
        metrics = json.loads((root / "metrics.json").read_text())
        with open(root / "predictions.csv") as f:
            rows = [{k: v for k, v in r.items() if "latency" not in k} for r in csv.DictReader(f)]
        return {"accuracy": metrics["accuracy"], "oracle": metrics["accuracy_oracle"], "rows": rows}
    out = {}
    for f in sorted(p for p in root.rglob("*") if p.is_file()):
        data = f.read_bytes()
        if f.name == "build.json":
            data = json.dumps({k: v for k, v in json.loads(data).items() if k != "git_commit"}).encode()
        out[str(f.relative_to(root))] = hashlib.sha256(data).hexdigest()
    return out


def incomplete_marks(ws) -> set:
    """Outputs Snakemake marked incomplete (--rerun-incomplete redoes them)."""
    marks = ws / ".snakemake" / "incomplete"
    return {base64.b64decode(m.name).decode() for m in marks.iterdir()} if marks.is_dir() else set()


def start_and_kill(cmd, ws, sig, whole_group, stage, delay):
    """Start `cmd` in its own process group; `delay` s after stages/<stage>.py starts, send `sig`."""
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}:{os.environ['PATH']}", DVC_NO_ANALYTICS="1")
    p = subprocess.Popen(cmd, cwd=ws, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         text=True, start_new_session=True, preexec_fn=interruptible)
    while p.poll() is None and not any(f"stages/{stage}.py" in m for m in group_members(p.pid)):
        time.sleep(0.01)
    time.sleep(delay)
    assert p.poll() is None, f"{cmd} ended before the kill {delay:.2f} s into {stage}"
    os.killpg(p.pid, sig) if whole_group else p.send_signal(sig)
    return p, p.communicate(timeout=120)[0]


@pytest.mark.slow
@pytest.mark.parametrize("kill", KILLS)
def test_a_killed_run_leaves_nothing_complete_and_resumes_to_the_same_results(clone, kill):
    """After the run above (or after building it here): no process of the killed run survives
    (stages, host firmware), what exists is what an uninterrupted run made, and the re-run the
    README's way (`dvc repro`, or Snakemake with --rerun-incomplete) gives the same results."""
    cmd, sig, whole_group = KILLS[kill]
    run(["snakemake", "--cores", "2", "results/kws_host_w8"], clone, timeout=900)
    baseline = {path: fingerprint(clone, path) for path in REDONE}
    rng = random.Random(f"tinysweep {kill}")
    stage, delay = rng.choice(["convert", "export_testset", "build_firmware", "measure"]), rng.uniform(0, 0.3)
    run(["rm", "-rf", *REDONE], clone)
    p, log = start_and_kill(cmd, clone, sig, whole_group, stage, delay)
    where = f"{kill} {delay:.2f} s into {stage}, exit {p.returncode}:\n{log[-1500:]}"
    assert not (left := wait_group_gone(p.pid)), f"left running after {where}: {left}"
    for path in set(REDONE) - incomplete_marks(clone):
        if (clone / path).exists():
            assert fingerprint(clone, path) == baseline[path], f"{path} after {where}"
    again = run(cmd if cmd[0] == "dvc" else [*cmd, "--rerun-incomplete"], clone, timeout=600)
    for path in REDONE:
        assert fingerprint(clone, path) == baseline[path], f"{path} after {where}, then:\n{again.stdout[-1500:]}"
    assert not [f for f in (clone / "results").rglob("*") if "partial" in f.name], where


@pytest.fixture
def slurm_cluster(tmp_path_factory):
    """A real one-node SLURM cluster (tests/slurm_cluster.py): partitions cpu (default) and
    boards, node feature tinysweep-host; stopped (jobs cancelled, daemons by PID, newest first)
    whatever the test did."""
    import slurm_cluster as sc
    if os.geteuid() != 0:
        pytest.skip("the SLURM test starts slurmd and munged: it needs root (CI runs as root)")
    cluster = sc.Cluster(tmp_path_factory.mktemp("slurm"), partitions=("cpu", "boards"),
                         features="tinysweep-host")
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()


SLURM_SECONDS = 330  # hard limit of the run through SLURM (timeout -k)


@pytest.mark.slow
@pytest.mark.slurm
def test_the_pipeline_through_slurm_gives_the_local_results(clone, slurm_cluster, tmp_path,
                                                            monkeypatch):
    """`snakemake --profile profiles/slurm` on a real cluster: every job an sbatch job with the
    profile's resources, the measure job where the device entry says (partition, node feature);
    the same accuracy and device outputs as the local run above. The new checkout starts from
    the local run's dataset and features; training on (the plugin polls job states at growing
    intervals: a job costs 12 to 33 s here)."""
    run(["snakemake", "--cores", "2", "results/kws_host_w8"], clone)  # done above: nothing to do
    placed = {"devices": {"host": {"slurm": {"partition": "boards",
                                             "constraint": "tinysweep-host"}}}}
    ws = make_clone(tmp_path / "clone", placed)
    shutil.copytree(clone / "data" / "datasets", ws / "data" / "datasets")  # keeps mtimes
    monkeypatch.setenv("SLURM_CONF", str(slurm_cluster.conf))
    # squeue: this cluster keeps no accounting for sacct; status checks from the first second
    p = run(["timeout", "-k", "10", str(SLURM_SECONDS), "snakemake", "--profile", "profiles/slurm",
             "--slurm-status-command", "squeue", "--slurm-init-seconds-before-status-checks", "1",
             "results/kws_host_w8"], ws, check=False, timeout=SLURM_SECONDS + 30)
    assert p.returncode == 0, (f"snakemake --executor slurm exited {p.returncode} "
                               f"(124 or -9: over {SLURM_SECONDS} s)"
                               f"\n{p.stdout[-3000:]}\n{p.stderr[-3000:]}")
    local, remote = clone / "results" / "kws_host_w8", ws / "results" / "kws_host_w8"
    assert (remote / "predictions.csv").read_text() == (local / "predictions.csv").read_text()
    ml, mr = (json.loads((d / "metrics.json").read_text()) for d in (local, remote))
    for key in ("accuracy", "accuracy_oracle", "oracle_bitexact", "memory"):
        assert mr[key] == ml[key], key

    jobs = {j["Comment"].split("_wildcards_")[0]: j for j in slurm_cluster.jobs()}
    assert set(jobs) == {"rule_train", "rule_quantize", "rule_convert", "rule_export_testset",
                         "rule_firmware", "rule_measure"}
    assert all(j["JobState"] == "COMPLETED" for j in jobs.values()), jobs
    measure, convert, firmware = jobs["rule_measure"], jobs["rule_convert"], jobs["rule_firmware"]
    assert (measure["Partition"], measure["Features"]) == ("boards", "tinysweep-host")
    assert (firmware["Partition"], firmware["Features"]) == ("cpu", "(null)")
    # the profile's resources: firmware's and train's own, the default for the others
    assert (firmware["MinMemoryNode"], firmware["TimeLimit"]) == ("1000M", "00:10:00")
    assert (convert["MinMemoryNode"], convert["TimeLimit"]) == ("2000M", "00:30:00")
    train = jobs["rule_train"]
    assert (train["NumCPUs"], train["MinMemoryNode"], train["TimeLimit"]) == ("2", "4000M", "04:00:00")


@pytest.mark.slow
def test_emulated_board_gives_the_host_accuracy_with_exact_counts(clone):
    """After the run above: an emulated board reuses the model and measures on QEMU: the same
    predictions as the host, exact counts, labelled estimates."""
    # matrix.devices is [host]: a device the devices section defines may still be targeted
    run(["snakemake", "--cores", "2", "results/kws_m4_w8"], clone, timeout=600)
    host, m4 = (clone / "results" / f"kws_{d}_w8" for d in ("host", "m4"))
    rows = {d.name: list(csv.DictReader(open(d / "predictions.csv"))) for d in (host, m4)}
    assert [r["device_outputs"] for r in rows[m4.name]] == [r["device_outputs"] for r in rows[host.name]]
    m = json.loads((m4 / "metrics.json").read_text())
    assert m["instructions"]["method"] == "exact" and m["instructions"]["value"] > 0
    assert all(int(r["instructions"]) > 0 for r in rows[m4.name])
    assert m["latency_ms"]["method"] == m["energy_uj"]["method"] == "estimated"
    assert "not measured" in m["latency_ms"]["detail"] and "MLPerf Tiny" in m["energy_uj"]["detail"]
    assert m["memory"]["flash_weights_bytes"]["value"] == m["memory"]["weights_bytes"]["value"]
    assert m["memory"]["ram_bytes"]["value"] <= m["memory"]["ram_bytes"]["board_bytes"]
    stack = m["memory"]["ram_stack_peak_bytes"]
    assert stack["method"] == "measured" and 0 < stack["value"] < stack["reserved_bytes"]
    assert "ram_stack_peak_bytes" not in json.loads((host / "metrics.json").read_text())["memory"]


# The bit-width sweep, tiny: w4 by PTQ with mixed precision (first/last layers 8 bits, one
# pointwise conv 2 bits), w2 by QAT for one epoch.
TINY_SWEEP = {
    "matrix": {"bits": [8, 4, 2]},
    "quantize": {"configs": {
        "4": {"method": "ptq", "range": "mse", "granularity": "per_channel",
              "bias_correction": False, "adaround": False,
              "layers": {"first": 8, "last": 8, "conv2d_2": 2}},
        "2": {"method": "qat", "range": "minmax", "granularity": "per_channel",
              "layers": {"first": 8, "last": 8}, "qat": {"epochs": 1, "learning_rate": 0.0001}}}},
}


@pytest.mark.slow
def test_bit_width_sweep_device_accuracy_equals_simulated(clone):
    """w4 (PTQ, mixed precision) and w2 (QAT) on the host device: device outputs equal
    tflite-micro's sample for sample, and the device accuracy equals the simulated accuracy
    of quantize.json (tflite-micro on the whole test split: the samples measured)."""
    write_params(clone, TINY_SWEEP)
    try:
        bad = dict(TINY_SWEEP["quantize"]["configs"]["4"], layers={"conv2d_9": 2})
        (clone / "bad.yaml").write_text(yaml.safe_dump({"quantize": {"configs": {"4": bad}}}))
        p = run(["snakemake", "-n", "results/kws_host_w4", "--configfile", "bad.yaml"], clone,
                check=False)
        assert p.returncode != 0 and p.stderr.strip().splitlines()[-1].startswith(
            "params.yaml: quantize.configs.4.layers: 'conv2d_9' matches no layer; layers with "
            "weights: conv2d, depthwise_conv2d, conv2d_1,")
        run(["snakemake", "--cores", "2", "results/kws_host_w4", "results/kws_host_w2"], clone,
            timeout=900)
    finally:
        run("git checkout -q params.yaml && rm -f bad.yaml", clone)
    expected_bits = {"4": {8, 4, 2}, "2": {8, 2}}
    for name, method in (("4", "ptq"), ("2", "qat")):
        result = clone / "results" / f"kws_host_w{name}"
        m = json.loads((result / "metrics.json").read_text())
        q = json.loads((clone / "models" / "kws" / f"w{name}" / "quantize.json").read_text())
        rows = list(csv.DictReader(open(result / "predictions.csv")))
        assert rows and all(r["device_outputs"] == r["oracle_outputs"] for r in rows)
        assert m["oracle_bitexact"]["value"] == 1.0
        assert m["accuracy"]["value"] == m["accuracy_oracle"]["value"] == q["test_accuracy_sim"]["value"]
        assert m["accuracy"]["samples"] == q["test_samples"]
        assert (m["config"], m["weight_bits"], m["bits"], m["method"]) == (name, int(name), int(name), method)
        assert m["options"] == q["options"] and m["options"]["method"] == method
        assert set(m["layer_bits"].values()) == expected_bits[name]
        assert m["layer_bits"]["conv2d"] == m["layer_bits"]["dense"] == 8
        codegen = json.loads((clone / "models" / "kws" / f"w{name}" / "c" / "model.json").read_text())
        assert set(codegen["weights_by_bits"]) == {str(b) for b in expected_bits[name]}
        assert m["memory"]["weights_bytes"]["value"] == q["weights_bytes_packed"]
    assert q["qat"]["epochs"] == 1 and q["ptq_range"] == "minmax"


# ad on a tiny set: 1 s clips (28 windows each), 6 test clips, 2 epochs
TINY_AD = {"matrix": {"benchmarks": ["kws", "ad"]},
           "dataset": {"ad": {"train_clips": 12, "test_clips": 6, "clip_seconds": 1.0}},
           "train": {"ad": {"epochs": 2, "batch_size": 64}}}


@pytest.mark.slow
def test_ad_device_auc_equals_tflite_micro_and_the_exported_folder_reimports(clone):
    write_params(clone, TINY_AD)
    try:
        run(["snakemake", "--cores", "2", "results/ad_host_w8"], clone, timeout=900)
    finally:
        run("git checkout -q params.yaml", clone)
    result = clone / "results" / "ad_host_w8"
    m = json.loads((result / "metrics.json").read_text())
    assert "accuracy" not in m and m["auc"]["method"] == "measured"
    assert m["auc"]["value"] == m["auc_oracle"]["value"] and m["oracle_bitexact"]["value"] == 1.0
    assert m["auc"]["samples"] == 6 and m["auc"]["windows"] == 6 * 28
    assert m["dataset"].startswith("synthetic stand-in")
    rows = list(csv.DictReader(open(result / "predictions.csv")))
    assert len(rows) == 6 and all(r["scores_equal"] == r["outputs_equal"] == "1" for r in rows)
    testset = clone / "models" / "ad" / "w8" / "testset"
    assert (testset / "y_labels.csv").read_text().splitlines()[0].endswith(",2,0,2560,512")
    # the exported EnergyRunner folder, re-imported, gives the same AUC
    p = run([sys.executable, "-m", "tinysweep", "evaluate", "--model", "models/ad/w8/model.tflite",
             "--firmware", "build/ad_host_w8/firmware", "--testset", str(testset)], clone)
    assert p.stdout.splitlines()[-1].startswith(
        f"evaluate: ad01, 6 clips (168 windows): AUC {m['auc']['value']:.4f} on device, "
        f"{m['auc']['value']:.4f} tflite-micro")
    from tinysweep import report
    summary = report.summary_csv(report.load_results([result]))
    assert "auc,auc_method" in summary and "accuracy," not in summary


# ic and vww on tiny sets: the digits' full 1797 images (5 s to make), 10 rendered scenes a class.
TINY_IMAGES = {
    "matrix": {"benchmarks": ["kws", "ic", "vww"]},
    "dataset": {"vww": {"images_per_class": 10}},
    "train": {b: {"epochs": 1, "batch_size": 16, "learning_rates": [0.002], "lr_boundaries": []}
              for b in ("ic", "vww")},
    "measure": {"test_samples": {"kws": 0, "ic": 20, "vww": 0}},
}


@pytest.mark.slow
def test_image_benchmarks_run_on_the_host_device(tmp_path):
    """ic and vww through Snakemake: pixel .bin files, device outputs equal tflite-micro's, and
    the exported EnergyRunner folder re-imported by `evaluate` gives the same accuracy."""
    ws = make_clone(tmp_path / "ws", TINY_IMAGES)
    run(["snakemake", "--cores", "2", "results/ic_host_w8", "results/vww_host_w8"], ws, timeout=900)
    for bench, size, stand_in in (("ic", 3072, "stand-in"), ("vww", 27648, "synthetic")):
        result = ws / "results" / f"{bench}_host_w8"
        metrics = json.loads((result / "metrics.json").read_text())
        rows = list(csv.DictReader(open(result / "predictions.csv")))
        assert rows and all(r["device_outputs"] == r["oracle_outputs"] for r in rows)
        assert metrics["accuracy"]["value"] == metrics["accuracy_oracle"]["value"]
        assert metrics["profile"] == f"{bench}01" and metrics["dataset"].startswith(stand_in)
        testset = ws / "models" / bench / "w8" / "testset"
        assert {p.stat().st_size for p in testset.glob("*.bin")} == {size}
        p = run([sys.executable, "-m", "tinysweep", "evaluate", "--model",
                 f"models/{bench}/w8/model.tflite", "--firmware", f"build/{bench}_host_w8/firmware",
                 "--testset", str(testset)], ws)
        accuracy = metrics["accuracy"]["value"]
        assert p.stdout.strip().splitlines()[-1].startswith(
            f"evaluate: {bench}01, {len(rows)} samples: top-1 accuracy {accuracy:.4f} on device, "
            f"{accuracy:.4f} tflite-micro; agreement 1.0000, bit-exact outputs 1.0000")
    assert len(rows) == 4                      # vww: the whole test split, 2 of 10 a class
