"""tinysweep.report and stages/report.py (without MLflow; see test_tracking.py)."""
import base64
import csv
import io
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tinysweep import report

REPO = Path(__file__).resolve().parents[1]


def make_result(root: Path, bench="kws", device="host", bits=8, acc=0.9, lat=2.5, **extra):
    """A results/<combination> folder laid out as stages/measure.py writes it."""
    combo = f"{bench}_{device}_w{bits}"
    folder = root / combo
    folder.mkdir(parents=True)
    m = {
        "benchmark": bench, "device": device, "bits": bits, "combination": combo,
        "accuracy": {"value": acc, "method": "measured", "detail": "top-1 on device", "samples": 20},
        "accuracy_oracle": {"value": acc, "method": "simulated", "detail": "tflite-micro"},
        "oracle_agreement": {"value": 1.0, "method": "measured", "detail": "top-1 equal"},
        "latency_ms": {"value": lat, "method": "measured", "detail": "median of 5 windows"},
        "memory": {"arena_bytes": {"value": 5000, "method": "static", "detail": "codegen"},
                   "oracle_arena_bytes": {"value": 5104, "method": "simulated", "detail": "tflm"}},
        "provenance": {"model": {"path": "m.tflite", "sha256": "ab" * 32},
                       "firmware": {"path": "fw", "sha256": "cd" * 32},
                       "git_commit": "deadbeef", "timestamp": "2026-01-01T00:00:00+00:00"},
        **extra,
    }
    (folder / "metrics.json").write_text(json.dumps(m, indent=2))
    (folder / "predictions.csv").write_text("file,label,device,oracle\na.bin,1,1,1\n")
    return folder


def test_summary_has_a_method_beside_every_metric(tmp_path):
    dirs = [make_result(tmp_path, bits=4, acc=0.8, lat=2.0), make_result(tmp_path, bits=8)]
    results = report.load_results(dirs)
    assert [r.combination for r in results] == ["kws_host_w8", "kws_host_w4"]  # wide bits first
    rows = list(csv.DictReader(io.StringIO(report.summary_csv(results))))
    assert len(rows) == 2
    cols = list(rows[0])
    assert cols[:4] == ["combination", "benchmark", "device", "bits"]
    for name in ("accuracy", "accuracy_oracle", "oracle_agreement", "latency_ms", "arena_bytes",
                 "oracle_arena_bytes"):
        assert cols[cols.index(name) + 1] == f"{name}_method"
    assert rows[1]["accuracy"] == "0.8" and rows[1]["accuracy_method"] == "measured"
    assert rows[0]["oracle_arena_bytes_method"] == "simulated"
    assert rows[0]["arena_bytes_method"] == "static"
    assert rows[0]["model_sha256"] == "ab" * 32 and rows[0]["samples"] == "20"


def test_missing_metric_is_blank_not_zero(tmp_path):
    a = make_result(tmp_path, bits=8)
    b = make_result(tmp_path, bits=4, energy_uj={"value": 12.5, "method": "estimated",
                                                  "detail": "P_board x latency"})
    rows = list(csv.DictReader(io.StringIO(report.summary_csv(report.load_results([a, b])))))
    assert rows[0]["energy_uj"] == "" and rows[1]["energy_uj_method"] == "estimated"


def test_html_is_self_contained_with_plots(tmp_path):
    results = report.load_results([make_result(tmp_path, bits=4, acc=0.8, lat=2.0),
                                   make_result(tmp_path, bits=8)])
    page = report.render_html(results)
    assert page.startswith("<!DOCTYPE html>")
    pngs = re.findall(r'<img alt="[^"]*" src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)
    assert len(pngs) == 4 and all(base64.b64decode(p)[:8] == b"\x89PNG\r\n\x1a\n" for p in pngs)
    assert not re.search(r'(src|href)="(?!data:)', page)  # nothing fetched from anywhere
    assert "<script" not in page
    assert "kws_host_w4" in page and "simulated" in page and "static" in page
    assert page == report.render_html(results)  # byte-stable: no timestamps, stable PNGs


def test_html_escapes(tmp_path):
    d = make_result(tmp_path)
    m = json.loads((d / "metrics.json").read_text())
    m["accuracy"]["detail"] = "<script>alert(1)</script>"
    (d / "metrics.json").write_text(json.dumps(m))
    page = report.render_html(report.load_results([d]))
    assert "<script>alert" not in page and "&lt;script&gt;" in page


def test_load_errors(tmp_path):
    with pytest.raises(ValueError, match="cannot read"):
        report.load_result(tmp_path / "nothing")
    d = make_result(tmp_path)
    with pytest.raises(ValueError, match="appears twice"):
        report.load_results([d, d])
    (d / "metrics.json").write_text("{}")
    with pytest.raises(ValueError, match="lacks combination, benchmark, device, bits"):
        report.load_result(d)


def test_stage_writes_outputs_and_fails_cleanly(tmp_path):
    d = make_result(tmp_path / "results")
    out = tmp_path / "out"
    cmd = [sys.executable, str(REPO / "stages" / "report.py"), "--results", str(d),
           "--summary", str(out / "summary.csv"), "--json", str(out / "summary.json"),
           "--html", str(out / "report.html"), "--tracking-uri", "none"]
    run = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == (f"report: 1 combinations -> {out / 'summary.csv'}, "
                                  f"{out / 'summary.json'}, {out / 'report.html'}")
    assert (out / "summary.csv").is_file() and (out / "report.html").is_file()
    summary = json.loads((out / "summary.json").read_text())
    assert summary["kws_host_w8"]["accuracy"] == 0.9
    assert summary["kws_host_w8"]["arena_bytes"] == 5000
    assert summary["kws_host_w8"]["method"]["latency_ms"] == "measured"
    assert summary["kws_host_w8"]["method"]["oracle_arena_bytes"] == "simulated"
    bad = tmp_path / "bad"
    run = subprocess.run(cmd[:3] + [str(tmp_path / "missing")] + [
        "--summary", str(bad / "summary.csv"), "--json", str(bad / "summary.json"),
        "--html", str(bad / "report.html"), "--tracking-uri", "none"],
        capture_output=True, text=True, cwd=tmp_path)
    assert run.returncode == 1 and run.stderr.startswith("report: cannot read")
    assert not bad.exists() or not any(bad.iterdir())


def test_ad_reports_its_auc_beside_top1(tmp_path):
    kws = make_result(tmp_path)
    ad = tmp_path / "ad_host_w8"
    ad.mkdir()
    m = json.loads((kws / "metrics.json").read_text())
    for key in ("accuracy", "accuracy_oracle"):
        del m[key]
    m.update(benchmark="ad", combination="ad_host_w8",
             auc={"value": 0.875, "method": "measured", "detail": "AUC of clip scores", "samples": 6},
             auc_oracle={"value": 0.875, "method": "simulated", "detail": "tflite-micro"})
    (ad / "metrics.json").write_text(json.dumps(m))
    results = report.load_results([kws, ad])
    rows = {r["combination"]: r for r in csv.DictReader(io.StringIO(report.summary_csv(results)))}
    assert rows["ad_host_w8"]["auc"] == "0.875" and rows["ad_host_w8"]["accuracy"] == ""
    assert rows["ad_host_w8"]["samples"] == "6" and rows["kws_host_w8"]["auc"] == ""
    assert report.metric_names(results)[:4] == ["accuracy", "accuracy_oracle", "auc", "auc_oracle"]
    assert report.plot_accuracy_latency(results)        # both on one plot, the axis names both
    assert "0.875" in report.render_html(results)
