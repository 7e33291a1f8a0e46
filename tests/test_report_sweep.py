"""The bit-width sweep in the report: accuracy and flash vs weight bits, Pareto fronts, the
ablation tables (hand-made metrics shaped like what stages/measure.py and the quantize stage
write)."""
import base64
import json
import re
from pathlib import Path

import pytest

from tinysweep import ablation, report

# config name -> (weight bits, method, options, simulated, device, weights bytes, latency ms)
CONFIGS = {
    "8": (8, "ptq", {"range": "minmax", "granularity": "per_channel"}, 0.932, 0.93, 24320, 4.3),
    "4": (4, "ptq", {"range": "mse", "bias_correction": True, "layers": {"first": 8}},
          0.925, 0.92, 13100, 4.9),
    "4qat": (4, "qat", {"range": "minmax", "qat_epochs": 5}, 0.928, 0.93, 13100, 4.9),
    "2": (2, "ptq", {"range": "mse"}, 0.41, 0.40, 7600, 5.6),
    "2qat": (2, "qat", {"range": "minmax", "qat_epochs": 5}, 0.89, 0.9, 7600, 5.6),
}


def make_sweep_result(root: Path, config: str, bench="kws", device="host", flash=None,
                      quantize_json=True):
    """results/<combination>/metrics.json and models/<bench>/w<config>/quantize.json."""
    bits, method, options, sim, dev, weights, lat = CONFIGS[config]
    combo = f"{bench}_{device}_w{config}"
    model = root / "models" / bench / f"w{config}" / "model.tflite"
    model.parent.mkdir(parents=True, exist_ok=True)
    model.write_bytes(b"TFL3")
    key = "auc" if bench == "ad" else "accuracy"
    if quantize_json:
        (model.parent / "quantize.json").write_text(json.dumps({
            "config": config, "bits": bits, "method": method, "options": options,
            "weights_bytes_packed": weights, "test_samples": 1800,
            # as stages/quantize.py writes them: metric dicts
            f"test_{key}_sim": {"value": sim, "method": "simulated", "detail": "tflite-micro",
                                "samples": 1800},
            f"float_{key}": {"value": 0.932, "method": "simulated", "detail": "float Keras"}}))
    m = {"benchmark": bench, "device": device, "bits": config, "combination": combo,
         "config": config, "weight_bits": bits, "method": method, "options": options,
         key: {"value": dev, "method": "measured", "detail": "on the device", "samples": 100},
         f"{key}_oracle": {"value": dev, "method": "simulated", "detail": "tflite-micro"},
         "latency_ms": {"value": lat, "method": "estimated" if flash else "measured",
                        "detail": "median"},
         "memory": {"weights_bytes": {"value": weights, "method": "static", "detail": "codegen"},
                    **({"flash_bytes": {"value": flash, "method": "static", "detail": "ELF"}}
                       if flash else {})},
         "provenance": {"model": {"path": str(model), "sha256": "ab" * 32}}}
    folder = root / "results" / combo
    folder.mkdir(parents=True)
    (folder / "metrics.json").write_text(json.dumps(m))
    return folder


def test_pareto_front_keeps_what_nothing_beats():
    # (cost, quality): the third is beaten by the first (cheaper and better); ties are kept
    assert report.pareto_front([(1, 0.9), (2, 0.95), (3, 0.9), (1, 0.9)]) == [
        True, True, False, True]


def test_sweep_rows_keep_the_method_of_every_number(tmp_path):
    results = report.load_results([make_sweep_result(tmp_path, c) for c in CONFIGS])
    assert [report.weight_bits(r) for r in results] == [8, 4, 4, 2, 2]
    row = report.sweep_row(next(r for r in results if r.combination == "kws_host_w2qat"))
    assert (row["config"], row["weight_bits"], row["quant_method"]) == ("2qat", 2, "qat")
    assert row["simulated"]["value"] == 0.89 and row["simulated"]["method"] == "simulated"
    assert row["float"]["value"] == 0.932
    assert row["from_float"]["value"] == pytest.approx(0.89 - 0.932)
    assert row["device_quality"]["method"] == "measured"
    assert row["weights_bytes"]["method"] == "static"
    cells = report.sweep_table(results)[-1]["cells"]
    assert [c["text"] for c in cells[:3]] == ["93.20 %", "89.00 %", "-4.20 points"]
    assert [c["method"] for c in cells] == ["simulated", "simulated", "simulated", "measured",
                                           "static", "measured"]


def test_old_results_without_a_configuration_still_report(tmp_path):
    """metrics.json of before the sweep: bits only, no quantize.json."""
    d = make_sweep_result(tmp_path, "8", quantize_json=False)
    m = json.loads((d / "metrics.json").read_text())
    for k in ("config", "weight_bits", "method", "options"):
        del m[k]
    m["bits"] = 8
    (d / "metrics.json").write_text(json.dumps(m))
    row = report.sweep_row(report.load_result(d))
    assert (row["config"], row["weight_bits"], row["quant_method"]) == ("8", 8, "ptq")
    assert row["simulated"] is None and row["from_float"] is None


def test_figures_per_benchmark_and_device(tmp_path):
    dirs = [make_sweep_result(tmp_path, c) for c in CONFIGS]
    dirs += [make_sweep_result(tmp_path, c, device="m4", flash=60000 + CONFIGS[c][5])
             for c in ("8", "4")]
    dirs += [make_sweep_result(tmp_path, c, bench="ad") for c in ("8", "4")]
    figures = report.sweep_figures(report.load_results(dirs))
    assert [f[0] for f in figures] == ["accuracy_vs_bits", "flash_vs_bits", "pareto_ad_host",
                                       "pareto_kws_host", "pareto_kws_m4"]
    for _, _, png, _ in figures:
        assert base64.b64decode(png)[:8] == b"\x89PNG\r\n\x1a\n"


def ablation_rows():
    best = ablation.best_entry({"4": {"method": "ptq", "range": "mse", "granularity": "per_channel",
                                      "bias_correction": True, "adaround": False}}, 4)
    rows = []
    for i, v in enumerate(ablation.variants(best, 120, [16, 500])):
        rows.append({"group": v.group, "variant": v.name, "range": v.entry["range"],
                     "granularity": v.entry["granularity"],
                     "bias_correction": v.entry["bias_correction"],
                     "adaround": v.entry["adaround"], "layers": json.dumps(v.entry["layers"]),
                     "calibration_samples": v.calibration_samples, "metric": "top-1 accuracy",
                     "simulated": 0.5 + i / 100, "simulated_method": "simulated",
                     "from_float": 0.5 + i / 100 - 0.93, "float": 0.93, "test_samples": 1800,
                     "interpreter": "LiteRT builtin kernels without delegates",
                     "ptq_seconds": 1.5})
    return rows


def test_ablation_variants_toggle_one_component_at_a_time():
    best = ablation.best_entry({"4": {"method": "ptq", "range": "mse", "granularity": "per_channel",
                                      "bias_correction": True, "adaround": True,
                                      "layers": {"first": 8, "last": 8}}}, 4)
    vs = ablation.variants(best, 120, [16, 120])
    names = [v.name for v in vs]
    assert names[0].startswith("baseline") and vs[0].entry == ablation.BASELINE
    assert [v.name for v in vs if v.group == "baseline + one"] == [
        f"+ {c}" for c in ablation.COMPONENTS]
    assert len([v for v in vs if v.group == "best - one"]) == 5
    minus_bc = next(v for v in vs if v.name == "- bias correction")
    assert minus_bc.entry == {**best, "bias_correction": False}
    assert [v.calibration_samples for v in vs if v.group == "calibration"] == [16]
    # a QAT entry is not a PTQ method: the ablation falls back on the default best
    assert ablation.best_entry({"4": {"method": "qat", "qat": {"epochs": 2}}}, 4)["range"] == "mse"


def test_ablation_tables_in_csv_markdown_and_the_report(tmp_path):
    rows = ablation_rows()
    path = tmp_path / "kws_w4.csv"
    path.write_text(ablation.to_csv(rows))
    md = ablation.to_markdown(rows, "kws", 4)
    assert md.splitlines()[2].startswith("| group | variant |")
    assert "| baseline | baseline: min-max, per-tensor, no corrections | minmax | per_tensor |" in md
    assert "50.00 % | -43.00 |" in md
    table = ablation.read_table(path)
    assert (table["benchmark"], table["weight_bits"]) == ("kws", "4")
    results = report.load_results([make_sweep_result(tmp_path, c) for c in CONFIGS])
    page = report.render_html(results, ablations=[table])
    assert "PTQ ablation: kws at w4" in page and "+ AdaRound" in page
    assert "Bit-width sweep" in page and "-4.20 points" in page
    assert not re.search(r'(src|href)="(?!data:)', page) and "<script" not in page
    (tmp_path / "bad.csv").write_text("a,b\n1,2\n")
    with pytest.raises(ValueError, match="is not an ablation table"):
        ablation.read_table(tmp_path / "bad.csv")


def test_summary_csv_carries_the_configuration(tmp_path):
    import csv
    import io
    results = report.load_results([make_sweep_result(tmp_path, c) for c in ("8", "2qat")])
    rows = list(csv.DictReader(io.StringIO(report.summary_csv(results))))
    assert list(rows[0])[5:9] == ["config", "weight_bits", "quant_method", "options"]
    assert rows[1]["config"] == "2qat" and rows[1]["quant_method"] == "qat"
    assert json.loads(rows[1]["options"]) == CONFIGS["2qat"][2]
    assert rows[1]["quality_sim"] == "0.89" and rows[1]["quality_sim_method"] == "simulated"
    assert rows[1]["quality_float"] == "0.932"
