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
from dataclasses import dataclass, field
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
    "simulated": "computed on the host: the tflite-micro reference interpreter (int8 models), "
                 "TensorFlow (the float model)",
    "static": "read from code generation or build output",
    "exact": "counted exactly by the emulator (QEMU instruction-count plugin)",
    "estimated": "an estimate from a model, not a measurement",
}


@dataclass
class Result:
    folder: Path
    metrics: dict
    metrics_sha256: str
    quantize: dict = field(default_factory=dict)  # the model's quantize.json, when found

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
    return Result(folder, metrics, sha256_bytes(raw), _quantize_record(metrics))


def _quantize_record(metrics: dict) -> dict:
    """quantize.json beside the measured model (models/<bench>/w<config>/): the whole-test-split
    simulated accuracy and the float accuracy live there. {} when it is not found."""
    model = ((metrics.get("provenance") or {}).get("model") or {}).get("path")
    path = Path(model).parent / "quantize.json" if model else None
    if path is None or not path.is_file():
        return {}
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise ValueError(f"cannot read {path}: {e}") from None


def load_results(folders) -> list[Result]:
    results = [load_result(f) for f in folders]
    seen = {}
    for r in results:
        if r.combination in seen:
            raise ValueError(f"combination {r.combination} appears twice: {seen[r.combination]} "
                             f"and {r.folder}")
        seen[r.combination] = r.folder
    return sorted(results, key=lambda r: (r.metrics["benchmark"], r.metrics["device"],
                                          -weight_bits(r), str(r.metrics["bits"])))


def weight_bits(r: Result) -> int:
    """The configuration's default weight bit-width (metrics `weight_bits`; older results
    only have `bits`, the bit-width itself)."""
    return int(r.metrics.get("weight_bits", str(r.metrics["bits"])[0]))


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
    columns = (list(IDENTITY) + ["dataset"] + list(SWEEP_SUMMARY)
               + [c for n in names for c in (n, f"{n}_method")]
               + ["samples", "model_sha256", "firmware_sha256", "git_commit", "measured_at",
                  "results"])
    rows = []
    for r in results:
        m, flat = r.metrics, r.flat()
        prov = m.get("provenance") or {}
        row = {k: m[k] for k in IDENTITY}
        row["dataset"] = m.get("dataset", "")
        row.update(_sweep_summary(sweep_row(r)))
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


# the configuration and the whole-test-split figures of quantize.json (quality: top-1, or AUC)
SWEEP_SUMMARY = ("config", "weight_bits", "quant_method", "options", "quality_float",
                 "quality_float_method", "quality_sim", "quality_sim_method",
                 "quality_from_float")


def _sweep_summary(row: dict) -> dict:
    def value(m):
        return "" if m is None else m["value"]
    return {"config": row["config"], "weight_bits": row["weight_bits"],
            "quant_method": row["quant_method"],
            "options": json.dumps(row["options"], sort_keys=True) if row["options"] else "",
            "quality_float": value(row["float"]),
            "quality_float_method": row["float"]["method"] if row["float"] else "",
            "quality_sim": value(row["simulated"]),
            "quality_sim_method": row["simulated"]["method"] if row["simulated"] else "",
            "quality_from_float": value(row["from_float"])}


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


# ---- bit-width sweep --------------------------------------------------------------------------
def _number(v) -> float | None:
    """A quantize.json figure: a plain number or a metric dict {"value", ...}."""
    if isinstance(v, dict):
        v = v.get("value")
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else None


def _labelled(value, method, detail, **extra) -> dict | None:
    return None if value is None else {"value": value, "method": method, "detail": detail, **extra}


def _figure_of(m: dict, q: dict, key: str, method: str, detail: str) -> dict | None:
    """A quantize.json figure (in metrics.json first): a metric dict keeps its own method and
    detail; a plain number gets `method` and `detail`."""
    v = m.get(key, q.get(key))
    if isinstance(v, dict) and "method" in v and _number(v) is not None:
        return {"value": _number(v), "method": v["method"], "detail": v.get("detail", detail)}
    return _labelled(_number(v), method, detail)


def sweep_row(r: Result) -> dict:
    """One combination as the sweep plots see it: configuration, quantization method and
    options, weight bits, and each figure as a metric dict that keeps its method label."""
    m, flat, q = r.metrics, r.flat(), r.quantize
    key = quality_key(flat) or "accuracy"
    short = "auc" if key == "auc" else "accuracy"
    samples = q.get("test_samples")
    sim = _figure_of(m, q, f"test_{short}_sim", "simulated",
                     "tflite-micro interpreter, whole test split"
                     + (f" ({samples} samples)" if samples else "") + " (quantize.json)")
    flt = _figure_of(m, q, f"float_{short}", "simulated",
                     "the float Keras model on the host, whole test split (train.json)")
    weights = flat.get("weights_bytes") or _labelled(
        _number(q.get("weights_bytes_packed")), "static",
        "quantize.json weights_bytes_packed (weights at their storage width)")
    return {
        "combination": r.combination, "benchmark": m["benchmark"], "device": m["device"],
        "config": str(m.get("config", q.get("config", m["bits"]))),
        "weight_bits": weight_bits(r),
        "quant_method": str(m.get("method", q.get("method", "ptq"))),
        # bits and method have their own columns and params
        "options": {k: v for k, v in (m.get("options", q.get("options")) or {}).items()
                    if k not in ("bits", "method")},
        "quality": "AUC" if key == "auc" else "top-1 accuracy",
        "device_quality": flat.get(key),
        "simulated": sim,
        "float": flt,
        "from_float": _labelled(None if sim is None or flt is None
                                else sim["value"] - flt["value"], "simulated",
                                "simulated (tflite-micro) minus float, whole test split"),
        "weights_bytes": weights,
        "flash_bytes": flat.get("flash_bytes"),
        "latency_ms": flat.get("latency_ms"),
    }


def _scale(row) -> float:
    return 1.0 if row["quality"] == "AUC" else 100.0


def _quality_axis(rows) -> str:
    kinds = sorted({"AUC" if r["quality"] == "AUC" else "top-1 accuracy, %" for r in rows})
    return " / ".join(kinds)


def pareto_front(points) -> list[bool]:
    """For (cost, quality) pairs: True where no other point has lower-or-equal cost and
    higher-or-equal quality with one of them strictly better."""
    return [not any(c2 <= c and q2 >= q and (c2 < c or q2 > q) for c2, q2 in points)
            for c, q in points]


MARKERS = {"ptq": "o", "qat": "s"}


def _method_marker(method: str) -> str:
    return MARKERS.get(method, "D")


def _by(rows, key) -> dict:
    out = {}
    for row in rows:
        out.setdefault(row[key], []).append(row)
    return out


def _figure(panels: int, height: float = 4.0):
    from matplotlib.figure import Figure
    fig = Figure(figsize=(max(7.5, 4.2 * panels), height))
    return fig, [fig.add_subplot(1, panels, i + 1) for i in range(panels)]


def plot_accuracy_vs_bits(rows) -> str | None:
    """Per benchmark: quality vs weight bits, one marker shape per quantization method;
    hollow = simulated on the whole test split, filled = measured on each device; dashed =
    the float model."""
    rows = [r for r in rows if r["device_quality"] or r["simulated"]]
    if not rows:
        return None
    benches = _by(rows, "benchmark")
    fig, axes = _figure(len(benches))
    for ax, (bench, group) in zip(axes, sorted(benches.items())):
        k = _scale(group[0])
        for j, (method, mrows) in enumerate(sorted(_by(group, "quant_method").items())):
            color, marker = f"C{j}", _method_marker(method)
            sim = sorted({(r["weight_bits"], r["config"], r["simulated"]["value"])
                          for r in mrows if r["simulated"]})
            if sim:
                ax.plot([b for b, _, _ in sim], [k * v for _, _, v in sim], ls=":", color=color,
                        marker=marker, markerfacecolor="none", markersize=10,
                        label=f"{method}: simulated")
                for b, name, v in sim:
                    ax.annotate(name, (b, k * v), textcoords="offset points", xytext=(6, 4),
                                fontsize=8)
            dev = [r for r in mrows if r["device_quality"]]
            if dev:
                methods = "/".join(sorted({r["device_quality"]["method"] for r in dev}))
                ax.scatter([r["weight_bits"] for r in dev],
                           [k * r["device_quality"]["value"] for r in dev], color=color,
                           marker=marker, s=30, zorder=3, label=f"{method}: {methods} on device")
        floats = {r["float"]["value"] for r in group if r["float"]}
        for v in sorted(floats):
            ax.axhline(k * v, color="0.4", ls="--", lw=1,
                       label="float model" if v == min(floats) else None)
        ax.set_title(bench)
        ax.set_xlabel("weight bits")
        ax.set_ylabel("AUC" if k == 1 else "top-1 accuracy, %")
        ax.set_xticks(sorted({r["weight_bits"] for r in group}))
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=7, loc="best")
    fig.suptitle("Accuracy vs weight bits per quantization method")
    fig.tight_layout()
    return _png(fig)


def plot_flash_vs_bits(rows) -> str | None:
    """Per benchmark: weight bytes (static, code generation) and, on boards, the firmware's
    flash (static, ELF) vs weight bits."""
    rows = [r for r in rows if r["weights_bytes"] or r["flash_bytes"]]
    if not rows:
        return None
    benches = _by(rows, "benchmark")
    fig, axes = _figure(len(benches))
    for ax, (bench, group) in zip(axes, sorted(benches.items())):
        for j, (method, mrows) in enumerate(sorted(_by(group, "quant_method").items())):
            pts = sorted({(r["weight_bits"], r["config"], r["weights_bytes"]["value"])
                          for r in mrows if r["weights_bytes"]})
            ax.plot([b for b, _, _ in pts], [v / 1024 for _, _, v in pts], color=f"C{j}",
                    marker=_method_marker(method), label=f"{method}: weights (static)")
            for b, name, v in pts:
                ax.annotate(name, (b, v / 1024), textcoords="offset points", xytext=(6, 4),
                            fontsize=8)
        for j, (device, drows) in enumerate(sorted(_by(group, "device").items())):
            pts = sorted((r["weight_bits"], r["flash_bytes"]["value"]) for r in drows
                         if r["flash_bytes"])
            if pts:
                ax.plot([b for b, _ in pts], [v / 1024 for _, v in pts], color=f"C{j + 3}",
                        ls="--", marker="x", label=f"{device}: firmware flash (static, ELF)")
        ax.set_title(bench)
        ax.set_xlabel("weight bits")
        ax.set_ylabel("KiB")
        ax.set_xticks(sorted({r["weight_bits"] for r in group}))
        ax.set_ylim(bottom=0)
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=7, loc="best")
    fig.suptitle("Flash vs weight bits")
    fig.tight_layout()
    return _png(fig)


def _pareto_panel(ax, rows, cost_key, xlabel, scale):
    pts = [(r[cost_key]["value"], r["device_quality"]["value"]) for r in rows]
    front = pareto_front(pts)
    for r, (c, q), best in zip(rows, pts, front):
        ax.scatter([c], [scale * q], marker=_method_marker(r["quant_method"]), s=50, zorder=3,
                   color="C3" if best else "0.6", facecolors=None if best else "none")
        ax.annotate(r["config"], (c, scale * q), textcoords="offset points", xytext=(6, 4),
                    fontsize=8)
    line = sorted(p for p, best in zip(pts, front) if best)
    ax.step([c for c, _ in line], [scale * q for _, q in line], where="post", color="C3",
            lw=1, label="Pareto front")
    methods = "/".join(sorted({r[cost_key]["method"] for r in rows}))
    ax.set_xlabel(f"{xlabel} ({methods})")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=7, loc="lower right")


def _flash_key(rows) -> tuple[str, str]:
    if all(r["flash_bytes"] for r in rows):
        return "flash_bytes", "firmware flash, bytes"
    return "weights_bytes", "weights in flash, bytes"


def plot_pareto(rows) -> str | None:
    """Rows of one benchmark x device: quality (on the device) vs flash and vs latency, the
    Pareto front (more accurate for less cost) in red; None without device figures."""
    rows = [r for r in rows if r["device_quality"]]
    if not rows:
        return None
    bench, device = rows[0]["benchmark"], rows[0]["device"]
    fig, (a1, a2) = _figure(2)
    scale = _scale(rows[0])
    key, label = _flash_key(rows)
    with_flash = [r for r in rows if r[key]]
    if with_flash:
        _pareto_panel(a1, with_flash, key, label, scale)
    with_latency = [r for r in rows if r["latency_ms"]]
    if with_latency:
        _pareto_panel(a2, with_latency, "latency_ms", "latency per inference, ms", scale)
    quality = "AUC" if scale == 1 else "top-1 accuracy, %"
    how = "/".join(sorted({r["device_quality"]["method"] for r in rows}))
    for ax in (a1, a2):
        ax.set_ylabel(f"{quality} ({how} on the device)")
    fig.suptitle(f"{bench} on {device}: accuracy vs flash and latency")
    fig.tight_layout()
    return _png(fig)


def sweep_figures(results) -> list[tuple[str, str, str, str]]:
    """(file stem, heading, base64 PNG, caption) of every sweep figure that has data."""
    rows = [sweep_row(r) for r in results]
    out = []
    png = plot_accuracy_vs_bits(rows)
    if png:
        out.append(("accuracy_vs_bits", "Accuracy vs weight bits", png,
                    "Per benchmark and quantization method (marker shape). Hollow markers: "
                    "simulated by the tflite-micro interpreter on the whole test split; filled: "
                    "measured on each device (its test samples); dashed line: the float model "
                    "(ad: AUC, else top-1 accuracy). Labels are configuration names."))
    png = plot_flash_vs_bits(rows)
    if png:
        out.append(("flash_vs_bits", "Flash vs weight bits", png,
                    "Weight bytes at their storage width (static, code generation) and, on "
                    "boards, the firmware image's flash (static, from the ELF)."))
    for (bench, device), group in sorted(_by_pair(rows).items()):
        png = plot_pareto(group)
        if png:
            out.append((f"pareto_{bench}_{device}", f"Pareto: {bench} on {device}", png,
                        "Accuracy measured on the device vs flash (firmware flash on boards, "
                        "else weight bytes; static) and vs latency (the axis says measured or "
                        "estimated). Labels are configuration names; circle PTQ, square QAT; "
                        "red: the Pareto front, configurations no other beats on both axes."))
    return out


def _by_pair(rows) -> dict:
    out = {}
    for row in rows:
        out.setdefault((row["benchmark"], row["device"]), []).append(row)
    return out


def _options_text(options: dict) -> str:
    return ", ".join(f"{k}={json.dumps(v, sort_keys=True) if isinstance(v, dict) else v}"
                     for k, v in sorted(options.items()))


def sweep_table(results) -> list[dict]:
    """Rows of the HTML sweep table: identity, options and labelled cells."""
    out = []
    for r in results:
        row = sweep_row(r)
        scale = _scale(row)
        unit = "" if scale == 1 else " %"

        def cell(m, points=False):
            if not m:
                return None
            v = m["value"]
            text = (f"{scale * v:+.2f}{' points' if scale != 1 else ''}" if points else
                    f"{scale * v:.{4 if scale == 1 else 2}f}{unit}")
            return {"text": text, "method": m["method"], "detail": m.get("detail", "")}
        size = row["weights_bytes"]
        lat = row["latency_ms"]
        out.append({**{k: row[k] for k in ("combination", "benchmark", "device", "config",
                                           "weight_bits", "quant_method", "quality")},
                    "options": _options_text(row["options"]),
                    "cells": [cell(row["float"]), cell(row["simulated"]),
                              cell(row["from_float"], points=True), cell(row["device_quality"]),
                              size and {"text": f"{size['value']:,}", "method": size["method"],
                                        "detail": size.get("detail", "")},
                              lat and {"text": f"{lat['value']:.4g}", "method": lat["method"],
                                       "detail": lat.get("detail", "")}]})
    return out


SWEEP_COLUMNS = ("float", "simulated (whole test)", "vs float", "device", "weights bytes",
                 "latency ms")


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


def render_html(results, title: str = "tinysweep report", ablations=(), figures=None) -> str:
    """The report page. `ablations`: tables of tinysweep.ablation.read_table; `figures`: the
    sweep figures if already drawn (sweep_figures(results))."""
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
    if figures is None:
        figures = sweep_figures(results)
    plots += [(heading, png, caption) for _, heading, png, caption in figures]
    methods = sorted({m["method"] for r in results for m in r.flat().values()}
                     | ({"simulated"} if ablations else set()))
    # what the data of each benchmark is (a synthetic stand-in says so here)
    datasets = sorted({(r.metrics["benchmark"], r.metrics.get("dataset", "not recorded")) for r in results})
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(Path(__file__).parent),
                             autoescape=True, undefined=jinja2.StrictUndefined,
                             keep_trailing_newline=True)
    return env.get_template("report_template.html.j2").render(
        title=title, names=names, rows=rows, plots=plots, datasets=datasets,
        sweep=sweep_table(results), sweep_columns=SWEEP_COLUMNS, ablations=list(ablations),
        methods=[(m, METHODS.get(m, "")) for m in methods])
