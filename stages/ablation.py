"""Stage `ablation`: the PTQ method ablation of one benchmark at one weight bit-width.

    python stages/ablation.py --benchmark kws --model models/kws/float.keras \
        --features data/datasets/kws/features.npz --train-metrics models/kws/train.json \
        --bits 4 --best '{"range": "mse", ...}' --calibration-samples 120 \
        --calibration-sizes 32,500 --seed 1 --csv results/ablation/kws_w4.csv \
        --markdown results/ablation/kws_w4.md

Each row quantizes the float model with tinysweep.quant.ptq (one PTQ component switched: see
tinysweep/ablation.py) and scores it with the tflite-micro interpreter on the whole test split
(top-1, or clip AUC for ad), beside the float model's figure from --train-metrics. The CSV and
the markdown table are written atomically, when every row is done.
"""
import json
import sys
from pathlib import Path

import numpy as np

from tinysweep import ablation
from tinysweep.cli import Parser
from tinysweep.io import write_text_atomic


def float_quality(train_metrics) -> float | None:
    """The float model's test figure (train.json: test_auc for ad, else test_accuracy)."""
    m = json.loads(Path(train_metrics).read_text())
    key = "test_auc" if m.get("metric") == "AUC" else "test_accuracy"
    return m.get(key)


def run(a) -> list[dict]:
    for path in (a.model, a.features, a.train_metrics):
        if not Path(path).exists():
            raise ValueError(f"{path} not found")
    try:
        best = ablation.best_entry({str(a.bits): json.loads(a.best)} if a.best else {}, a.bits)
    except ValueError as e:
        raise ValueError(f"--best is not a JSON object: {e}") from None
    variant_list = ablation.variants(best, a.calibration_samples, a.calibration_sizes)
    from tinysweep.quant import QuantConfig
    for v in variant_list:          # a bad entry stops here, before any quantization
        QuantConfig.from_params(str(a.bits), v.entry)
    with np.load(a.features) as f:
        features = {k: f[k] for k in ("x_val", "x_test", "y_test")}
    from tinysweep.tfcompat import keras
    model = keras.models.load_model(a.model)

    def progress(i, n, row):
        print(f"ablation: {a.benchmark} w{a.bits} [{i}/{n}] {row['variant']}: "
              f"{row['metric']} {row['simulated']} ({row['ptq_seconds']} s PTQ)", file=sys.stderr)
    return ablation.run(model, features, a.bits, variant_list, a.seed,
                        float_quality(a.train_metrics), progress)


def main(argv=None):
    ap = Parser(prog="ablation", description=__doc__.splitlines()[0])
    ap.add_argument("--benchmark", required=True)
    ap.add_argument("--model", required=True, help="float Keras model")
    ap.add_argument("--features", required=True, help="features .npz (x_val, x_test, y_test)")
    ap.add_argument("--train-metrics", required=True, help="train.json (the float figure)")
    ap.add_argument("--bits", type=int, required=True, help="weight bits, 2..8")
    ap.add_argument("--best", default="", help="JSON quantize.configs entry of the best method "
                                              "(default: tinysweep.ablation.DEFAULT_BEST)")
    ap.add_argument("--calibration-samples", type=int, required=True)
    ap.add_argument("--calibration-sizes", default="",
                    help="comma-separated calibration set sizes to try with the best method")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--csv", required=True)
    ap.add_argument("--markdown", required=True)
    a = ap.parse_args(argv)
    try:
        a.calibration_sizes = [int(n) for n in a.calibration_sizes.split(",") if n.strip()]
    except ValueError:
        ap.error(f"--calibration-sizes must be comma-separated integers, "
                 f"got {a.calibration_sizes!r}")
    if not 2 <= a.bits <= 8 or a.calibration_samples < 1 or min(a.calibration_sizes, default=1) < 1:
        ap.error("--bits must be 2..8 and calibration sizes at least 1")
    try:
        rows = run(a)
    except (OSError, ValueError) as e:
        sys.exit(f"ablation: {e}")
    write_text_atomic(a.csv, ablation.to_csv(rows))
    write_text_atomic(a.markdown, ablation.to_markdown(rows, a.benchmark, a.bits))
    print(f"ablation: {a.benchmark} w{a.bits}: {len(rows)} variants -> {a.csv}, {a.markdown}")


if __name__ == "__main__":
    main()
