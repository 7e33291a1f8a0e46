"""Summary table, plots and a self-contained HTML report over measured combinations.

Every metric in results/<combination>/metrics.json is {"value", "method", "detail", ...};
the summary keeps the method next to each value (`<metric>_method` columns) and the report
shows it, so a simulated or static number is never read as a measured one.
"""
from __future__ import annotations

import base64
import csv
import html
import io
import json
from dataclasses import dataclass
from pathlib import Path

from tinysweep.io import sha256_bytes

IDENTITY = ("combination", "benchmark", "device", "bits")
# shown first, in this order; any other metric follows alphabetically
METRIC_ORDER = ("accuracy", "accuracy_oracle", "auc", "auc_oracle", "oracle_agreement",
                "oracle_bitexact",
                "latency_ms", "energy_uj", "instructions", "instructions_per_mac",
                "flash_bytes", "ram_bytes", "arena_bytes", "oracle_arena_bytes", "weights_bytes",
                "macs")
METHODS = {
    "measured": "measured on the device",
    "simulated": "computed by the reference interpreter on the host",
    "static": "read from code generation or build output",
    "exact": "counted exactly by the emulator (QEMU instruction-count plugin)",
    "estimated": "an estimate from a model, not a measurement",
}


@dataclass
class Result:
    folder: Path
    metrics: dict
    metrics_sha256: str

    @property
    def combination(self) -> str:
        return self.metrics["combination"]

    def flat(self) -> dict:
        return flatten(self.metrics)


def load_result(folder) -> Result:
    folder = Path(folder)
    path = folder / "metrics.json"
    try:
        raw = path.read_bytes()
        metrics = json.loads(raw)
    except (OSError, ValueError) as e:
        raise ValueError(f"cannot read {path}: {e}") from None
    missing = [k for k in IDENTITY if k not in metrics]
    if missing:
        raise ValueError(f"{path} lacks {', '.join(missing)}")
    return Result(folder, metrics, sha256_bytes(raw))


def load_results(folders) -> list[Result]:
    results = [load_result(f) for f in folders]
    seen = {}
    for r in results:
        if r.combination in seen:
            raise ValueError(f"combination {r.combination} appears twice: {seen[r.combination]} "
                             f"and {r.folder}")
        seen[r.combination] = r.folder
    return sorted(results, key=lambda r: (r.metrics["benchmark"], r.metrics["device"],
                                          -int(r.metrics["bits"])))


def _is_metric(v) -> bool:
    return isinstance(v, dict) and "value" in v and "method" in v


def flatten(metrics: dict) -> dict:
    """{name: metric dict} for every top-level metric and every memory.* metric."""
    out = {k: v for k, v in metrics.items() if _is_metric(v)}
    for k, v in (metrics.get("memory") or {}).items():
        if _is_metric(v):
            out[k] = v
    return out


def metric_names(results) -> list[str]:
    names = {n for r in results for n in r.flat()}
    return [n for n in METRIC_ORDER if n in names] + sorted(names - set(METRIC_ORDER))


def summary_rows(results) -> tuple[list[str], list[dict]]:
    """Columns and rows of summary.csv: identity, then each metric with its *_method."""
    names = metric_names(results)
    columns = list(IDENTITY) + ["dataset"] + [c for n in names for c in (n, f"{n}_method")] + [
        "samples", "model_sha256", "firmware_sha256", "git_commit", "measured_at", "results"]
    rows = []
    for r in results:
        m, flat = r.metrics, r.flat()
        prov = m.get("provenance") or {}
        row = {k: m[k] for k in IDENTITY}
        row["dataset"] = m.get("dataset", "")
        for n in names:
            row[n] = flat[n]["value"] if n in flat else ""
            row[f"{n}_method"] = flat[n]["method"] if n in flat else ""
        row.update({
            "samples": (m.get("accuracy") or m.get("auc") or {}).get("samples", ""),
            "model_sha256": (prov.get("model") or {}).get("sha256", ""),
            "firmware_sha256": (prov.get("firmware") or {}).get("sha256", ""),
            "git_commit": prov.get("git_commit", ""),
            "measured_at": prov.get("timestamp", ""),
            "results": str(r.folder),
        })
        rows.append(row)
    return columns, rows


def summary_csv(results) -> str:
    columns, rows = summary_rows(results)
    out = io.StringIO()
    w = csv.DictWriter(out, fieldnames=columns, lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    return out.getvalue()


def summary_json(results) -> dict:
    """DVC metrics: {combination: {metric: value, ..., "method": {metric: method}}}."""
    out = {}
    for r in results:
        flat = r.flat()
        entry = {n: m["value"] for n, m in flat.items()
                 if isinstance(m["value"], (int, float)) and not isinstance(m["value"], bool)}
        entry["method"] = {n: flat[n]["method"] for n in entry}
        out[r.combination] = entry
    return out


# ---- plots ------------------------------------------------------------------------------------
def _png(fig) -> str:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    FigureCanvasAgg(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, metadata={"Software": None})  # byte-stable
    return base64.b64encode(buf.getvalue()).decode("ascii")


def quality_key(flat: dict) -> str | None:
    """The quality metric of a result: top-1 'accuracy', or 'auc' (ad)."""
    return next((k for k in ("accuracy", "auc") if k in flat), None)


def plot_accuracy_latency(results) -> str | None:
    """Top-1 accuracy (AUC x 100 for ad) vs latency, one colour per combination; filled =
    measured on the device, hollow = the oracle. Base64 PNG, or None if no result has both."""
    from matplotlib.figure import Figure
    pts = [(r.combination, r.flat()) for r in results]
    pts = [(c, {**f, "accuracy": f[quality_key(f)],
                **({"accuracy_oracle": f[quality_key(f) + "_oracle"]}
                   if quality_key(f) + "_oracle" in f else {})})
           for c, f in pts if "latency_ms" in f and quality_key(f)]
    kinds = sorted({"AUC x 100" if "auc" in f else "top-1 accuracy, %" for _, f in pts})
    if not pts:
        return None
    fig = Figure(figsize=(7.5, 4.8))
    ax = fig.add_subplot()
    colors = [f"C{i % 10}" for i in range(len(pts))]
    lat_methods = sorted({f["latency_ms"]["method"] for _, f in pts})
    for (name, f), color in zip(pts, colors):
        x = f["latency_ms"]["value"]
        marker = "o" if f["latency_ms"]["method"] == "measured" else "^"
        ax.scatter([x], [100 * f["accuracy"]["value"]], color=color, marker=marker, s=60,
                   zorder=3)
        if "accuracy_oracle" in f:
            ax.scatter([x], [100 * f["accuracy_oracle"]["value"]], facecolors="none",
                       edgecolors=color, marker=marker, s=140, zorder=2)
        ax.annotate(name, (x, 100 * f["accuracy"]["value"]), textcoords="offset points",
                    xytext=(6, 6), fontsize=8)
    from matplotlib.lines import Line2D
    acc_methods = " / ".join(sorted({f["accuracy"]["method"] for _, f in pts}))
    handles = [Line2D([], [], color="0.3", marker="o", ls="",
                      label=f"accuracy: {acc_methods} (on the device)"),
               Line2D([], [], color="0.3", marker="o", ls="", markerfacecolor="none",
                      markersize=10, label="accuracy: simulated (tflite-micro oracle)")]
    if len(lat_methods) > 1:
        handles.append(Line2D([], [], color="0.3", marker="^", ls="",
                              label="latency not measured on a device"))
    ax.legend(handles=handles, fontsize=8, loc="best")
    ax.set_xlabel(f"latency per inference, ms ({' / '.join(lat_methods)})")
    ax.set_ylabel(" / ".join(kinds))
    ax.set_title("Accuracy vs latency per combination")
    ax.grid(True, alpha=0.3)
    fig.tight_layout()
    return _png(fig)


def plot_memory(results) -> str | None:
    """Grouped bars of the memory metrics (bytes) per combination, method in the legend."""
    from matplotlib.figure import Figure
    keys = [k for k in ("arena_bytes", "oracle_arena_bytes", "weights_bytes", "flash_bytes",
                        "ram_bytes")
            if any(k in r.flat() for r in results)]
    if not keys:
        return None
    fig = Figure(figsize=(7.5, 0.6 * len(results) * len(keys) + 1.8))
    ax = fig.add_subplot()
    height = 0.8 / len(keys)
    for j, k in enumerate(keys):
        vals = [r.flat().get(k, {}).get("value", 0) for r in results]
        methods = sorted({r.flat()[k]["method"] for r in results if k in r.flat()})
        ax.barh([i + j * height for i in range(len(results))], vals, height=height,
                label=f"{k} ({', '.join(methods)})", color=f"C{j}")
    ax.set_yticks([i + height * (len(keys) - 1) / 2 for i in range(len(results))],
                  [r.combination for r in results])
    ax.invert_yaxis()
    ax.set_xlabel("bytes")
    ax.set_title("Memory per combination")
    ax.legend(fontsize=8, loc="best")
    ax.grid(True, axis="x", alpha=0.3)
    fig.tight_layout()
    return _png(fig)


# ---- HTML -------------------------------------------------------------------------------------
def _fmt(name, metric) -> str:
    v = metric["value"]
    if isinstance(v, float) and name.startswith(("accuracy", "oracle_")):
        return f"{100 * v:.2f} %"
    if isinstance(v, float):
        return f"{v:.4g}"
    if isinstance(v, int):
        return f"{v:,}"
    return html.escape(str(v))


def render_html(results, title: str = "tinysweep report") -> str:
    import jinja2
    names = metric_names(results)
    rows = []
    for r in results:
        flat = r.flat()
        cells = [({"text": _fmt(n, flat[n]), "method": flat[n]["method"],
                   "detail": flat[n].get("detail", "")} if n in flat else None) for n in names]
        rows.append({
            "id": {k: r.metrics[k] for k in IDENTITY},
            "cells": cells,
            "named": list(zip(names, cells)),
            "provenance": r.metrics.get("provenance") or {},
            "folder": str(r.folder),
        })
    plots = [p for p in (
        ("Accuracy vs latency", plot_accuracy_latency(results),
         "Filled markers: top-1 accuracy (ad: AUC) measured on the device; hollow: the tflite-micro "
         "oracle on the same samples. Latency: median per-inference time from the device's "
         "timestamps."),
        ("Memory", plot_memory(results),
         "Tensor arena planned by tinysweep's code generator (static), TFLM's arena for the "
         "same model (simulated) and weight bytes (static)."),
    ) if p[1]]
    methods = sorted({m["method"] for r in results for m in r.flat().values()})
    # what the data of each benchmark is (a synthetic stand-in says so here)
    datasets = sorted({(r.metrics["benchmark"], r.metrics.get("dataset", "not recorded")) for r in results})
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(Path(__file__).parent),
                             autoescape=True, undefined=jinja2.StrictUndefined,
                             keep_trailing_newline=True)
    return env.get_template("report_template.html.j2").render(
        title=title, names=names, rows=rows, plots=plots, datasets=datasets,
        methods=[(m, METHODS.get(m, "")) for m in methods])
