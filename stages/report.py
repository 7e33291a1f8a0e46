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

An MLflow server that cannot be reached does not fail the stage: logging is tried
--tracking-attempts times (waits --tracking-backoff s, doubled each time; each request times
out after --tracking-timeout s), then one line on stderr says what failed and summary.json's
"tracking" entry records it ({"recorded": false, "error": ..., "at": time}); the workflow runs
the stage again on the next `snakemake`, and what is already logged is not logged twice.
"""
import sys
from datetime import datetime, timezone

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
    ap.add_argument("--tracking-attempts", type=int, default=4,
                    help="tries to log to MLflow before recording that it was not logged")
    ap.add_argument("--tracking-backoff", type=float, default=5.0,
                    help="seconds before the second try, doubled before each next one")
    ap.add_argument("--tracking-timeout", type=int, default=30,
                    help="seconds each MLflow HTTP request may take")
    ap.add_argument("--title", default="tinysweep report")
    ap.add_argument("--ablation", nargs="*", default=[],
                    help="PTQ ablation tables (results/ablation/<bench>_w<bits>.csv)")
    a = ap.parse_args(argv)
    try:
        results = report.load_results(a.results)
        tables = [ablation.read_table(path) for path in a.ablation]
        figures = report.sweep_figures(results)
        write_text_atomic(a.summary, report.summary_csv(results))
        write_text_atomic(a.html, report.render_html(results, a.title, tables, figures))
    except (OSError, ValueError) as e:
        sys.exit(f"report: {e}")
    outputs = ", ".join(x for x in (a.summary, a.json, a.html) if x)
    print(f"report: {len(results)} combinations -> {outputs}")
    tracked = {"recorded": False, "uri": a.tracking_uri}
    if a.tracking_uri.lower() != "none":
        from tinysweep import tracking
        where = f"report: MLflow ({a.tracking_uri})"
        try:
            lines = tracking.with_retries(lambda: _track(a, results, figures, tables),
                                          a.tracking_attempts, a.tracking_backoff,
                                          say=lambda text: print(f"{where}: {text}"))
            print("\n".join(lines))
            tracked["recorded"] = True
        except Exception as e:  # MLflow raises its own exception types
            tracked["error"] = tracking.one_line(e)
            tracked["at"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
            print(f"{where}: not recorded ({tracked['error']}); the result files are complete; "
                  "the next `snakemake` logs them", file=sys.stderr)
    if a.json:  # last: it says whether MLflow holds the results
        try:
            write_json_atomic(a.json, {**report.summary_json(results), "tracking": tracked})
        except OSError as e:
            sys.exit(f"report: {e}")


def _track(a, results, figures, tables) -> list[str]:
    """Log the results and the report's run; the lines to print."""
    from tinysweep import tracking
    lines = []
    logged = tracking.log_results(results, a.tracking_uri, a.experiment, a.tracking_timeout)
    for combination, run_id, created, warnings in logged:
        state = "logged as run" if created else "already logged, run"
        lines.append(f"report: {combination}: {state} {run_id} (experiment {a.experiment})")
        lines += [f"report: {combination}: warning: {w}" for w in warnings]
    run_id, created = tracking.log_report(a.tracking_uri, a.experiment, figures,
                                          [t["source"] for t in tables], a.html,
                                          a.tracking_timeout)
    state = "logged as run" if created else "already logged, run"
    lines.append(f"report: figures and ablation tables: {state} {run_id} "
                 f"(experiment {a.experiment})")
    return lines


if __name__ == "__main__":
    main()
