"""The PTQ method ablation: each component of tinysweep.quant.ptq switched on and off at one
weight bit-width, scored by the tflite-micro interpreter on the whole test split.

Rows (groups): the baseline (min-max range, per-tensor scales, no corrections, every layer at
the bit-width); the baseline plus one component; the best configuration (params'
quantize.configs entry of that bit-width) and the best minus one component; the best with
other calibration set sizes. Every figure is "simulated" (tinysweep.simulate: the
tflite-micro interpreter, the device's oracle; LiteRT without delegates is faster but was not
bit-exact with it on a small int8 model with softmax, 1 LSB on one output in three).
"""
from __future__ import annotations

import csv
import io
import json
import time
from dataclasses import dataclass

import numpy as np

BASELINE = {"method": "ptq", "range": "minmax", "granularity": "per_tensor",
            "bias_correction": False, "adaround": False, "layers": {}}
# the best configuration when params define none for the bit-width (a PTQ entry is needed)
DEFAULT_BEST = {"method": "ptq", "range": "mse", "granularity": "per_channel",
                "bias_correction": True, "adaround": True, "layers": {"first": 8, "last": 8}}
# component -> (the value that turns it on in the baseline, its baseline value)
COMPONENTS = {
    "per-channel scales": ("granularity", "per_channel"),
    "percentile range": ("range", "percentile"),
    "MSE range": ("range", "mse"),
    "bias correction": ("bias_correction", True),
    "AdaRound": ("adaround", True),
    "first/last layer 8 bits": ("layers", {"first": 8, "last": 8}),
}
COLUMNS = ("group", "variant", "range", "granularity", "bias_correction", "adaround", "layers",
           "calibration_samples", "metric", "simulated", "simulated_method", "from_float",
           "float", "test_samples", "interpreter", "ptq_seconds")


@dataclass(frozen=True)
class Variant:
    group: str
    name: str
    entry: dict
    calibration_samples: int


def best_entry(configs: dict | None, bits: int) -> dict:
    """The params entry of the bit-width's plain configuration ("4"), if it is PTQ; else
    DEFAULT_BEST. Only the PTQ component keys are kept (QAT settings do not apply)."""
    entry = (configs or {}).get(str(bits))
    if not entry or entry.get("method", "ptq") != "ptq":
        entry = DEFAULT_BEST
    return {**BASELINE, **{k: v for k, v in entry.items() if not k.startswith("qat")}}


def _differs(entry: dict, key: str) -> bool:
    return entry.get(key, BASELINE[key]) != BASELINE[key]


def variants(best: dict, calibration_samples: int, calibration_sizes=()) -> list[Variant]:
    out = [Variant("baseline", "baseline: min-max, per-tensor, no corrections", BASELINE,
                   calibration_samples)]
    for name, (key, value) in COMPONENTS.items():
        entry = {**BASELINE, key: value}
        for setting in ("percentile", "adaround_iterations"):   # as the best method sets them
            if setting in best and entry[key] == best.get(key):
                entry[setting] = best[setting]
        out.append(Variant("baseline + one", f"+ {name}", entry, calibration_samples))
    out.append(Variant("best", "best", best, calibration_samples))
    for key, label in (("range", "range setting (min-max)"), ("granularity", "per-channel"),
                       ("bias_correction", "bias correction"), ("adaround", "AdaRound"),
                       ("layers", "8-bit layers")):
        if _differs(best, key):
            out.append(Variant("best - one", f"- {label}", {**best, key: BASELINE[key]},
                               calibration_samples))
    for n in calibration_sizes:
        if n != calibration_samples:
            out.append(Variant("calibration", f"best, {n} calibration samples", best, n))
    return out


def calibration_set(x_val: np.ndarray, n: int, seed: int) -> np.ndarray:
    """n inputs drawn without replacement (seeded) from the validation split, as the quantize
    stage draws them; a smaller split is used whole."""
    n = min(n, len(x_val))
    picks = np.sort(np.random.default_rng(seed).choice(len(x_val), size=n, replace=False))
    return x_val[picks]


def run(model, features: dict, bits: int, variant_list, seed: int, float_value: float | None,
        progress=None) -> list[dict]:
    """Quantize and score every variant; one table row (dict of COLUMNS) each."""
    from tinysweep.quant import QuantConfig, ptq
    from tinysweep.simulate import quality
    rows, done = [], set()
    for i, v in enumerate(variant_list):
        config = QuantConfig.from_params(str(bits), v.entry)  # the name gives the bits
        calibration = calibration_set(features["x_val"], v.calibration_samples, seed)
        if v.group == "calibration" and (json.dumps(v.entry, sort_keys=True),
                                         len(calibration)) in done:
            continue        # the validation split is smaller than asked: a row seen already
        done.add((json.dumps(v.entry, sort_keys=True), len(calibration)))
        t0 = time.time()
        tflite, _ = ptq(model, calibration, config)
        seconds = time.time() - t0
        q = quality(tflite, features["x_test"], features["y_test"])
        rows.append({
            "group": v.group, "variant": v.name, "range": config.range,
            "granularity": config.granularity, "bias_correction": config.bias_correction,
            "adaround": config.adaround, "layers": json.dumps(dict(config.layers), sort_keys=True),
            "calibration_samples": len(calibration), "metric": q["metric"],
            "simulated": round(q["value"], 6), "simulated_method": q["method"],
            "from_float": "" if float_value is None else round(q["value"] - float_value, 6),
            "float": "" if float_value is None else float_value,
            "test_samples": q["samples"], "interpreter": q["detail"],
            "ptq_seconds": round(seconds, 1)})
        if progress:
            progress(i + 1, len(variant_list), rows[-1])
    return rows


def to_csv(rows) -> str:
    out = io.StringIO()
    w = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    return out.getvalue()


def _score(row: dict, key: str) -> str:
    v = row[key]
    if v == "" or v is None:
        return "–"
    v = float(v)
    if row["metric"] == "AUC":
        return f"{v:+.4f}" if key == "from_float" else f"{v:.4f}"
    return f"{100 * v:+.2f}" if key == "from_float" else f"{100 * v:.2f} %"


MARKDOWN_COLUMNS = ("group", "variant", "range", "granularity", "bias correction", "AdaRound",
                    "8-bit layers", "calibration", "simulated", "vs float", "PTQ s")


def table_cells(row: dict) -> list[str]:
    layers = json.loads(row["layers"]) if row["layers"] else {}
    return [row["group"], row["variant"], row["range"], row["granularity"],
            "on" if str(row["bias_correction"]) == "True" else "off",
            "on" if str(row["adaround"]) == "True" else "off",
            ", ".join(f"{k}: {v}" for k, v in layers.items()) or "none",
            str(row["calibration_samples"]), _score(row, "simulated"), _score(row, "from_float"),
            str(row["ptq_seconds"])]


def to_markdown(rows, benchmark: str, bits: int) -> str:
    metric = rows[0]["metric"] if rows else "top-1 accuracy"
    unit = "AUC difference" if metric == "AUC" else "points"
    by = rows[0]["interpreter"] if rows else ""
    lines = [f"PTQ ablation, {benchmark} at w{bits}: {metric} simulated ({by}, "
             f"{rows[0]['test_samples'] if rows else 0} samples); vs float in {unit}.", "",
             "| " + " | ".join(MARKDOWN_COLUMNS) + " |",
             "|" + "---|" * len(MARKDOWN_COLUMNS)]
    lines += ["| " + " | ".join(table_cells(r)) + " |" for r in rows]
    return "\n".join(lines) + "\n"


def read_table(path) -> dict:
    """An ablation CSV as the report shows it (benchmark and bits from its file name,
    <bench>_w<bits>.csv)."""
    from pathlib import Path
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as e:
        raise ValueError(f"cannot read {path}: {e}") from None
    return read_table_text(text, path)


def read_table_text(text: str, path="ablation.csv") -> dict:
    """{"benchmark", "weight_bits", "source", "columns", "rows" (cells), "note", "records"}."""
    from pathlib import Path
    path = Path(path)
    rows = list(csv.DictReader(io.StringIO(text)))
    missing = set(COLUMNS) - set(rows[0] if rows else COLUMNS)
    if not rows or missing:
        raise ValueError(f"{path} is not an ablation table (no rows, or lacks "
                         f"{', '.join(sorted(missing))})")
    bench, _, bits = path.stem.rpartition("_w")
    metric = rows[0]["metric"]
    return {"benchmark": bench, "weight_bits": bits, "source": str(path),
            "columns": MARKDOWN_COLUMNS, "rows": [table_cells(r) for r in rows],
            "note": f"{metric} simulated: {rows[0]['interpreter']} "
                    f"({rows[0]['test_samples']} samples); vs float in "
                    f"{'AUC' if metric == 'AUC' else 'points'}; PTQ s: quantization time.",
            "records": rows}
