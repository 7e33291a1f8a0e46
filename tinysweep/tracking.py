"""MLflow: one run per measured combination, never twice for the same result.

Each run is tagged with its combination and the sha256 of its metrics.json; a run with both
tags equal (and still active) means the result is already logged and is skipped. A new
measurement (a changed metrics.json) becomes a new run. The identifying tag is written last,
so a run interrupted while logging is not taken for a complete one.

A combination's params include its bits configuration (config, weight_bits, method and every
option as options.<key>), so MLflow's compare view can plot accuracy against them; the sweep
figures, the ablation tables and report.html go to one run tagged tinysweep.kind=report,
logged again only when they change.

A tracking server may be down: with_retries tries again, a bounded number of times with a
doubling delay (MLflow's own HTTP retries are off, each request has a timeout), and the caller
records what was not logged; logging again later adds only what is missing.
"""
from __future__ import annotations

import base64
import json
import logging
import os
import re
import tempfile
import time
import warnings
from pathlib import Path

from tinysweep.io import sha256_bytes, sha256_file
from tinysweep.report import Result, flatten, sweep_row

TAG_COMBINATION = "tinysweep.combination"
TAG_METRICS_SHA = "tinysweep.metrics_sha256"
TAG_KIND = "tinysweep.kind"
TAG_REPORT_SHA = "tinysweep.report_sha256"


def _quiet():
    """MLflow and alembic log INFO lines (database creation, migrations) on stderr."""
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "WARNING")
    os.environ.setdefault("MLFLOW_ENABLE_ASYNC_LOGGING", "false")
    for name in ("mlflow", "alembic", "sqlalchemy"):
        logging.getLogger(name).setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", module=r"mlflow(\..*)?")


def client(tracking_uri: str, timeout_s: int | None = None):
    """An MlflowClient; timeout_s bounds each HTTP request and turns MLflow's own retries off
    (with_retries retries the whole logging instead)."""
    _quiet()
    if timeout_s is not None:
        os.environ["MLFLOW_HTTP_REQUEST_TIMEOUT"] = str(int(timeout_s))
        os.environ["MLFLOW_HTTP_REQUEST_MAX_RETRIES"] = "0"
    from mlflow.tracking import MlflowClient
    c = MlflowClient(tracking_uri=tracking_uri)
    _quiet()  # mlflow sets its logger up on import
    return c


def experiment_id(c, name: str) -> str:
    e = c.get_experiment_by_name(name)
    if e is None:
        return c.create_experiment(name)
    if e.lifecycle_stage != "active":
        raise ValueError(f"MLflow experiment {name!r} is deleted; restore it or pick another name")
    return e.experiment_id


def find_run(c, exp_id: str, combination: str, metrics_sha: str):
    runs = c.search_runs([exp_id], filter_string=(
        f"tags.`{TAG_COMBINATION}` = '{combination}' and tags.`{TAG_METRICS_SHA}` = '{metrics_sha}'"),
        max_results=1)
    return runs[0] if runs else None


def _artifact(entry: dict | None):
    """(path, problem) for a provenance entry {"path", "sha256"}: the file is logged only if
    it still is the one measured."""
    if not entry or not entry.get("path"):
        return None, None
    path = Path(entry["path"])
    if not path.is_file():
        return None, f"{path} no longer exists"
    if entry.get("sha256") and sha256_file(path) != entry["sha256"]:
        return None, f"{path} changed since it was measured"
    return path, None


def log_result(c, exp_id: str, result: Result) -> tuple[str, bool, list[str]]:
    """Log one combination. Returns (run id, created?, warnings)."""
    m = result.metrics
    existing = find_run(c, exp_id, result.combination, result.metrics_sha256)
    if existing is not None:
        return existing.info.run_id, False, []
    prov = m.get("provenance") or {}
    flat = flatten(m)
    tags = {
        TAG_COMBINATION: result.combination,
        "mlflow.runName": result.combination,
        "model_sha256": (prov.get("model") or {}).get("sha256", ""),
        "firmware_sha256": (prov.get("firmware") or {}).get("sha256", ""),
        "git_commit": prov.get("git_commit", ""),
        "measured_at": prov.get("timestamp", ""),
        "dataset": m.get("dataset", "not recorded"),
        **{f"method.{k}": v["method"] for k, v in flat.items()},
        **{f"how.{k}": str(v.get("detail", ""))[:5000] for k, v in flat.items()},
    }
    run = c.create_run(exp_id, tags=tags, run_name=result.combination)
    rid = problems = None
    try:
        rid, problems = run.info.run_id, []
        for k in ("benchmark", "device", "bits", "profile", "transport", "device_name", "board",
                  "latency_method"):
            if k in m:
                c.log_param(rid, k, m[k])
        samples = (m.get("accuracy") or m.get("auc") or {}).get("samples")
        if samples is not None:
            c.log_param(rid, "samples", samples)
        for k, v in flat.items():
            if isinstance(v["value"], (int, float)) and not isinstance(v["value"], bool):
                c.log_metric(rid, k, float(v["value"]))
        _log_sweep(c, rid, result)
        for name in ("metrics.json", "predictions.csv"):
            if (result.folder / name).is_file():
                c.log_artifact(rid, str(result.folder / name))
        for what in ("model", "firmware"):
            path, problem = _artifact(prov.get(what))
            if path:
                c.log_artifact(rid, str(path), artifact_path=what)
            elif problem:
                problems.append(f"{what} artifact not logged: {problem}")
        if problems:
            c.set_tag(rid, "artifact_warnings", "; ".join(problems))
        c.set_tag(rid, TAG_METRICS_SHA, result.metrics_sha256)  # last: marks the run complete
        c.set_terminated(rid, "FINISHED")
    except BaseException:
        c.set_terminated(run.info.run_id, "FAILED")
        raise
    return rid, True, problems


def sweep_params(result: Result) -> dict:
    """The bits configuration as MLflow params: config, weight_bits, method, options.<key>."""
    row = sweep_row(result)
    params = {"config": row["config"], "weight_bits": row["weight_bits"],
              "method": row["quant_method"]}
    for k, v in sorted(row["options"].items()):
        params[f"options.{k}"] = json.dumps(v, sort_keys=True) if isinstance(v, (dict, list)) else v
    return params


def _log_sweep(c, rid: str, result: Result) -> None:
    """Params of the bits configuration; the simulated and float figures of quantize.json as
    metrics (their method as tags, like every other metric)."""
    row = sweep_row(result)
    for k, v in sweep_params(result).items():
        c.log_param(rid, k, str(v)[:6000])
    for name, key in (("simulated", "test_quality_sim"), ("float", "float_quality"),
                      ("from_float", "quality_from_float")):
        m = row[name]
        if m:
            c.log_metric(rid, key, float(m["value"]))
            c.set_tag(rid, f"method.{key}", m["method"])
            c.set_tag(rid, f"how.{key}", m["detail"][:5000])


def _metric_key(text: str) -> str:
    """MLflow metric names take letters, digits, _ - . / and spaces."""
    return re.sub(r"[^A-Za-z0-9_\-./ ]+", "_", text).strip("_ ")


def log_report(tracking_uri: str, experiment: str, figures, ablation_tables,
               html, timeout_s: int | None = None) -> tuple[str, bool]:
    """One run holding the sweep figures (PNG), the ablation tables (CSV + markdown beside
    them, their simulated figures as metrics) and report.html; skipped when a run with the
    same content exists. Returns (run id, created?)."""
    from tinysweep import ablation
    files = [Path(p) for p in ablation_tables]
    files += [p.with_suffix(".md") for p in files if p.with_suffix(".md").is_file()]
    digest = sha256_bytes(b"".join(
        [name.encode() + base64.b64decode(png) for name, _, png, _ in figures]
        + [p.read_bytes() for p in files]))
    c = client(tracking_uri, timeout_s)
    exp_id = experiment_id(c, experiment)
    found = c.search_runs([exp_id], filter_string=(
        f"tags.`{TAG_KIND}` = 'report' and tags.`{TAG_REPORT_SHA}` = '{digest}'"), max_results=1)
    if found:
        return found[0].info.run_id, False
    run = c.create_run(exp_id, tags={TAG_KIND: "report", "mlflow.runName": "report"},
                       run_name="report")
    rid = run.info.run_id
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for name, _, png, _ in figures:
                path = Path(tmp) / f"{name}.png"
                path.write_bytes(base64.b64decode(png))
                c.log_artifact(rid, str(path), artifact_path="figures")
        for p in files:
            c.log_artifact(rid, str(p), artifact_path="ablation")
        for p in ablation_tables:
            table = ablation.read_table(p)
            for row in table["records"]:
                variant = re.sub(r"^\+ ", "with ", re.sub(r"^- ", "best without ", row["variant"]))
                key = _metric_key(f"ablation/{Path(p).stem}/{variant}")
                c.log_metric(rid, key, float(row["simulated"]))
            c.set_tag(rid, f"method.ablation/{Path(p).stem}", "simulated")
        if html and Path(html).is_file():
            c.log_artifact(rid, str(html))
        c.set_tag(rid, TAG_REPORT_SHA, digest)   # last: marks the run complete
        c.set_terminated(rid, "FINISHED")
    except BaseException:
        c.set_terminated(rid, "FAILED")
        raise
    return rid, True


def one_line(e: BaseException) -> str:
    """An exception as one line: its type and the first line of its message; a failed HTTP
    request as its URL and the network's reason (refused, timed out, unknown host), without
    urllib3's nested wrappers."""
    text = (str(e).strip().splitlines() or [""])[0]
    reason = re.findall(r"\[Errno [^\]]*\][^\"')]*|timed out[^\"')]*", text)
    if reason and " failed with exception " in text:
        text = f"{text.split(' failed with exception ')[0]} failed: {reason[-1].strip()}"
    return f"{type(e).__name__}: {text}".rstrip(": ")


def with_retries(action, attempts: int, backoff_s: float, say=print):
    """action() until it returns, at most `attempts` times, waiting backoff_s, 2 x backoff_s,
    ... between tries (`say` tells each). A ValueError (a configuration problem, e.g. a deleted
    experiment) is raised at once: trying again would not help."""
    for attempt in range(1, attempts + 1):
        try:
            return action()
        except ValueError:
            raise
        except Exception as e:  # MLflow raises its own exception types
            if attempt == attempts:
                raise
            delay = backoff_s * 2 ** (attempt - 1)
            say(f"attempt {attempt} of {attempts} failed ({one_line(e)}); retrying in {delay:g} s")
            time.sleep(delay)


def log_results(results, tracking_uri: str, experiment: str, timeout_s: int | None = None):
    """Log every result; returns [(combination, run id, created?, warnings)]."""
    c = client(tracking_uri, timeout_s)
    exp_id = experiment_id(c, experiment)
    return [(r.combination, *log_result(c, exp_id, r)) for r in results]
