"""Summarise measured combinations: summary.csv, a self-contained report.html, MLflow runs.

    python stages/report.py --results results/kws_host_w8 [more dirs] \
        --summary results/summary.csv --json results/summary.json --html results/report.html \
        --tracking-uri sqlite:///mlflow.db --experiment tinysweep

summary.csv has one row per combination and a <metric>_method column beside every metric;
summary.json (optional, for `dvc metrics show`) holds the same values and methods.
report.html embeds its plots (PNG, matplotlib Agg) and needs no network: the bit-width sweep
(accuracy and flash vs weight bits, Pareto fronts per benchmark x device) and the PTQ ablation
tables (--ablation results/ablation/<bench>_w<bits>.csv). Each combination is logged as one
MLflow run (config, method and options as params), unless a run with the same combination and
metrics.json hash exists already; the figures, ablation tables and report.html go to one more
run, tagged tinysweep.kind=report (--tracking-uri none skips MLflow). Files are written
atomically.
"""
import sys

from tinysweep import ablation, report
from tinysweep.cli import Parser
from tinysweep.io import write_json_atomic, write_text_atomic


def main(argv=None):
    ap = Parser(prog="report", description=__doc__.splitlines()[0])
    ap.add_argument("--results", nargs="+", required=True, help="results/<combination> folders")
    ap.add_argument("--summary", required=True, help="summary.csv to write")
    ap.add_argument("--html", required=True, help="report.html to write")
    ap.add_argument("--json", help="summary.json to write (DVC metrics: values and methods)")
    ap.add_argument("--tracking-uri", default="sqlite:///mlflow.db",
                    help="MLflow tracking URI, or 'none' to skip MLflow")
    ap.add_argument("--experiment", default="tinysweep")
    ap.add_argument("--title", default="tinysweep report")
    ap.add_argument("--ablation", nargs="*", default=[],
                    help="PTQ ablation tables (results/ablation/<bench>_w<bits>.csv)")
    a = ap.parse_args(argv)
    try:
        results = report.load_results(a.results)
        tables = [ablation.read_table(path) for path in a.ablation]
        figures = report.sweep_figures(results)
        write_text_atomic(a.summary, report.summary_csv(results))
        if a.json:
            write_json_atomic(a.json, report.summary_json(results))
        write_text_atomic(a.html, report.render_html(results, a.title, tables, figures))
    except (OSError, ValueError) as e:
        sys.exit(f"report: {e}")
    outputs = ", ".join(x for x in (a.summary, a.json, a.html) if x)
    print(f"report: {len(results)} combinations -> {outputs}")
    if a.tracking_uri.lower() == "none":
        return
    from tinysweep import tracking
    try:
        logged = tracking.log_results(results, a.tracking_uri, a.experiment)
    except Exception as e:  # MLflow raises its own exception types
        sys.exit(f"report: MLflow ({a.tracking_uri}): {type(e).__name__}: {e}")
    for combination, run_id, created, warnings in logged:
        state = "logged as run" if created else "already logged, run"
        print(f"report: {combination}: {state} {run_id} (experiment {a.experiment})")
        for w in warnings:
            print(f"report: {combination}: warning: {w}")
    try:
        run_id, created = tracking.log_report(a.tracking_uri, a.experiment, figures,
                                              [t["source"] for t in tables], a.html)
    except Exception as e:  # MLflow raises its own exception types
        sys.exit(f"report: MLflow ({a.tracking_uri}): {type(e).__name__}: {e}")
    state = "logged as run" if created else "already logged, run"
    print(f"report: figures and ablation tables: {state} {run_id} (experiment {a.experiment})")


if __name__ == "__main__":
    main()
