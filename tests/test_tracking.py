"""tinysweep.tracking: one MLflow run per combination, never duplicated, artifacts attached."""
import hashlib
import json
import runpy
import sys
from pathlib import Path

import pytest

from tinysweep import report, tracking

REPO = Path(__file__).resolve().parents[1]


def make_result(root: Path, bits: int, model: Path, firmware: Path, acc=0.9):
    combo = f"kws_host_w{bits}"
    folder = root / combo
    folder.mkdir(parents=True, exist_ok=True)
    sha = lambda p: hashlib.sha256(p.read_bytes()).hexdigest()  # noqa: E731
    m = {
        "benchmark": "kws", "device": "host", "bits": bits, "combination": combo,
        "accuracy": {"value": acc, "method": "measured", "detail": "on device", "samples": 20},
        "accuracy_oracle": {"value": acc, "method": "simulated", "detail": "tflite-micro"},
        "latency_ms": {"value": 2.5, "method": "measured", "detail": "median"},
        "memory": {"weights_bytes": {"value": 20000, "method": "static", "detail": "codegen"}},
        "provenance": {"model": {"path": str(model), "sha256": sha(model)},
                       "firmware": {"path": str(firmware), "sha256": sha(firmware)},
                       "git_commit": "deadbeef", "timestamp": "2026-01-01T00:00:00+00:00"},
    }
    (folder / "metrics.json").write_text(json.dumps(m, indent=2))
    (folder / "predictions.csv").write_text("file,label,device,oracle\na.bin,1,1,1\n")
    return folder


@pytest.fixture
def setup(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # MLflow puts artifacts under ./mlruns
    model, firmware = tmp_path / "model.tflite", tmp_path / "firmware"
    model.write_bytes(b"TFL3 model")
    firmware.write_bytes(b"\x7fELF firmware")
    dirs = [make_result(tmp_path / "results", b, model, firmware) for b in (8, 4)]
    return tmp_path, f"sqlite:///{tmp_path / 'mlflow.db'}", dirs, model


def _runs(uri):
    c = tracking.client(uri)
    exp = c.get_experiment_by_name("tinysweep")
    return c, c.search_runs([exp.experiment_id])


def _report_in_process(argv, capfd, monkeypatch):
    """stages/report.py as `python stages/report.py ARGV` would run it, minus a second
    interpreter start and MLflow import; capfd sees C-level and Python stderr alike."""
    monkeypatch.setattr(sys, "argv", ["report.py", *argv])
    runpy.run_path(str(REPO / "stages" / "report.py"), run_name="__main__")
    return capfd.readouterr()


def test_one_run_per_combination_no_duplicates(setup, capfd, monkeypatch):
    tmp, uri, dirs, model = setup
    argv = ["--results", *map(str, dirs), "--summary", "results/summary.csv",
            "--html", "results/report.html", "--tracking-uri", uri, "--experiment", "tinysweep"]
    # readable output: no MLflow / alembic log lines while the database is created
    first = _report_in_process(argv, capfd, monkeypatch)
    assert first.err == ""
    out = first.out.splitlines()
    assert out[0] == "report: 2 combinations -> results/summary.csv, results/report.html"
    assert out[1].startswith("report: kws_host_w8: logged as run ")
    assert out[2].startswith("report: kws_host_w4: logged as run ")

    assert out[3].startswith("report: figures and ablation tables: logged as run ")
    c, runs = _runs(uri)
    assert len(runs) == 3    # two combinations and the report's figures
    run = next(r for r in runs if r.data.tags.get(tracking.TAG_COMBINATION) == "kws_host_w8")
    assert run.info.run_id == out[1].split()[-3]
    assert run.info.status == "FINISHED" and run.info.run_name == "kws_host_w8"
    assert run.data.params == {"benchmark": "kws", "device": "host", "bits": "8", "samples": "20",
                               "config": "8", "weight_bits": "8", "method": "ptq"}
    assert run.data.metrics == {"accuracy": 0.9, "accuracy_oracle": 0.9, "latency_ms": 2.5,
                                "weights_bytes": 20000.0}
    tags = run.data.tags
    assert tags["method.accuracy"] == "measured" and tags["method.accuracy_oracle"] == "simulated"
    assert tags["method.weights_bytes"] == "static" and tags["git_commit"] == "deadbeef"
    assert tags["model_sha256"] == hashlib.sha256(model.read_bytes()).hexdigest()
    assert tags[tracking.TAG_METRICS_SHA] == hashlib.sha256(
        (dirs[0] / "metrics.json").read_bytes()).hexdigest()
    arts = {a.path for a in c.list_artifacts(run.info.run_id)}
    assert arts == {"metrics.json", "predictions.csv", "model", "firmware"}
    assert [a.path for a in c.list_artifacts(run.info.run_id, "model")] == ["model/model.tflite"]

    # the same results again: nothing new
    second = _report_in_process(argv, capfd, monkeypatch)
    assert second.err == ""
    assert second.out.splitlines()[1:] == [l.replace("logged as run", "already logged, run")
                                           for l in out[1:]]
    assert len(_runs(uri)[1]) == 3

    # a changed result is a new run, the old one stays; a changed model is not logged
    make_result(tmp / "results", 4, model, tmp / "firmware", acc=0.5)
    model.write_bytes(b"another model")
    third = tracking.log_results(report.load_results(dirs), uri, "tinysweep")
    assert [r[2] for r in third] == [False, True]
    assert third[1][3] == [f"model artifact not logged: {model} changed since it was measured"]
    c, runs = _runs(uri)
    assert len(runs) == 4
    new = c.get_run(third[1][1])
    assert new.data.metrics["accuracy"] == 0.5 and "artifact_warnings" in new.data.tags
    assert {a.path for a in c.list_artifacts(new.info.run_id)} == {
        "metrics.json", "predictions.csv", "firmware"}


def test_sweep_params_figures_and_ablation(tmp_path, monkeypatch):
    """A sub-8-bit configuration's params and quantize.json figures; the report run holds the
    figures, the ablation table and its figures as metrics, once."""
    sys.path.insert(0, str(REPO / "tests"))
    from test_report_sweep import ablation_rows, make_sweep_result
    from tinysweep import ablation
    monkeypatch.chdir(tmp_path)
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    results = report.load_results([make_sweep_result(tmp_path, c) for c in ("8", "4qat")])
    logged = tracking.log_results(results, uri, "tinysweep")
    c = tracking.client(uri)
    run = c.get_run(logged[1][1])
    assert run.data.params["config"] == "4qat" and run.data.params["method"] == "qat"
    assert run.data.params["weight_bits"] == "4" and run.data.params["options.qat_epochs"] == "5"
    assert run.data.metrics["test_quality_sim"] == 0.928
    assert run.data.metrics["quality_from_float"] == pytest.approx(0.928 - 0.932)
    assert run.data.tags["method.test_quality_sim"] == "simulated"
    table = tmp_path / "results" / "ablation" / "kws_w4.csv"
    table.parent.mkdir()
    table.write_text(ablation.to_csv(ablation_rows()))
    table.with_suffix(".md").write_text(ablation.to_markdown(ablation_rows(), "kws", 4))
    html = tmp_path / "report.html"
    html.write_text("<html></html>")
    figures = report.sweep_figures(results)
    rid, created = tracking.log_report(uri, "tinysweep", figures, [table], html)
    assert created and tracking.log_report(uri, "tinysweep", figures, [table], html) == (rid, False)
    arts = {a.path for a in c.list_artifacts(rid, "figures")}
    assert arts == {"figures/accuracy_vs_bits.png", "figures/flash_vs_bits.png",
                    "figures/pareto_kws_host.png"}
    assert {a.path for a in c.list_artifacts(rid, "ablation")} == {
        "ablation/kws_w4.csv", "ablation/kws_w4.md"}
    metrics = c.get_run(rid).data.metrics
    assert metrics["ablation/kws_w4/baseline_ min-max_ per-tensor_ no corrections"] == 0.5
    assert "ablation/kws_w4/with AdaRound" in metrics
    assert "ablation/kws_w4/best without bias correction" in metrics
    assert c.get_run(rid).data.tags["method.ablation/kws_w4"] == "simulated"


def _closed_port_uri() -> str:
    """An http URI on which nothing listens: the port was just free and is closed again."""
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}"


def test_a_down_server_does_not_fail_the_report_and_is_logged_later(setup, capfd, monkeypatch):
    """A tracking server that does not answer: tried again (bounded), then the result files are
    complete, one line says MLflow was not recorded and summary.json marks it, so that the next
    run (the workflow re-runs report while the mark is there) logs everything."""
    from tinysweep.workflow import Helpers
    tmp, sqlite_uri, dirs, _ = setup
    for var in ("MLFLOW_HTTP_REQUEST_TIMEOUT", "MLFLOW_HTTP_REQUEST_MAX_RETRIES"):
        monkeypatch.setenv(var, "")  # restored after the test: the stage sets them
    down = _closed_port_uri()
    refused = (f"MlflowException: API request to {down}/api/2.0/mlflow/experiments/get-by-name "
               "failed: [Errno 111] Connection refused")
    argv = ["--results", *map(str, dirs), "--summary", "results/summary.csv",
            "--json", "results/summary.json", "--html", "results/report.html",
            "--experiment", "tinysweep", "--tracking-attempts", "3", "--tracking-backoff", "0.1",
            "--tracking-timeout", "2"]
    out = _report_in_process(argv + ["--tracking-uri", down], capfd, monkeypatch)
    assert out.out.splitlines()[1:] == [
        f"report: MLflow ({down}): attempt 1 of 3 failed ({refused}); retrying in 0.1 s",
        f"report: MLflow ({down}): attempt 2 of 3 failed ({refused}); retrying in 0.2 s"]
    assert out.err == (f"report: MLflow ({down}): not recorded ({refused}); the result files "
                       "are complete; the next `snakemake` logs them\n")
    summary = json.loads((tmp / "results" / "summary.json").read_text())
    assert summary["kws_host_w8"]["accuracy"] == 0.9  # the results are all there
    assert all((tmp / "results" / name).is_file() for name in ("summary.csv", "report.html"))
    at = summary["tracking"].pop("at")  # each failure is new to the workflow: it tries again
    assert summary["tracking"] == {"recorded": False, "uri": down, "error": refused}
    assert Helpers.tracking_pending(summary=tmp / "results" / "summary.json") == (
        f"not recorded at {at}: {refused}")

    # the server is back: the next run logs what is missing and the mark goes
    out = _report_in_process(argv + ["--tracking-uri", sqlite_uri], capfd, monkeypatch)
    assert out.err == "" and len(_runs(sqlite_uri)[1]) == 3
    summary = json.loads((tmp / "results" / "summary.json").read_text())
    assert summary["tracking"] == {"recorded": True, "uri": sqlite_uri}
    assert Helpers.tracking_pending(summary=tmp / "results" / "summary.json") == ""


def test_an_unknown_host_is_one_line(monkeypatch):
    for var in ("MLFLOW_HTTP_REQUEST_TIMEOUT", "MLFLOW_HTTP_REQUEST_MAX_RETRIES"):
        monkeypatch.setenv(var, "")
    with pytest.raises(Exception) as e:
        tracking.log_results([], "http://tracking.invalid:5000", "tinysweep", timeout_s=2)
    line = tracking.one_line(e.value)  # the resolver's words vary: "Name or service not known"
    assert line.startswith("MlflowException: API request to http://tracking.invalid:5000/api/2.0/"
                           "mlflow/experiments/get-by-name failed: [Errno ")
    assert "\n" not in line and "HTTPConnectionPool" not in line
