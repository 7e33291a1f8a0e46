"""Stage `import_model`: a float Keras model trained elsewhere, in place of the train stage.

    python stages/import_model.py --benchmark kws --model downloads/kws_ref_model.h5 \
        --testset downloads/kws01 [--calibration FOLDER] [--input-scale S --input-zero-point Z]
        [--pixel-scale P] [--train-features data/datasets/kws/features.npz] \
        --out models/kws/external/float.keras --features-out models/kws/external/features.npz \
        --metrics models/kws/external/train.json

Loads the model (.keras, .h5 or SavedModel folder), turns the EnergyRunner folders into the
float inputs it takes (tinysweep/external.py says how per profile) and writes what the
quantize and export stages read after `train`: the model as .keras, a features.npz whose
x_val/y_val are the calibration set and x_test/y_test the evaluation set (x_train/y_train: the
benchmark's own training split, with --train-features, for QAT), and a train.json-shaped
record with the float model's figure on the evaluation set. Outputs are written atomically.
"""
import sys

from tinysweep import external
from tinysweep.cli import Parser
from tinysweep.io import save_keras_atomic, save_npz, write_json_atomic


def main(argv=None):
    ap = Parser(prog="import_model", description=__doc__.splitlines()[0])
    ap.add_argument("--benchmark", required=True, choices=["kws", "vww", "ic", "ad"])
    ap.add_argument("--model", required=True, help=".keras / .h5 file or SavedModel folder")
    ap.add_argument("--testset", required=True, help="EnergyRunner folder: evaluation set")
    ap.add_argument("--calibration", help="EnergyRunner folder to calibrate on (default: testset)")
    ap.add_argument("--input-scale", type=float, help="kws01: scale of the int8 .bin files")
    ap.add_argument("--input-zero-point", type=int, help="kws01: their zero point")
    ap.add_argument("--pixel-scale", type=float, help="ic01/vww01: float input = pixel x this")
    ap.add_argument("--train-features", help="the benchmark's features.npz (training split)")
    ap.add_argument("--out", required=True, help="the model as .keras")
    ap.add_argument("--features-out", required=True, help="features .npz to write")
    ap.add_argument("--metrics", required=True, help="train.json-shaped record to write")
    a = ap.parse_args(argv)
    options = {k: v for k, v in (("input_scale", a.input_scale),
                                 ("input_zero_point", a.input_zero_point),
                                 ("pixel_scale", a.pixel_scale)) if v is not None}
    try:
        model, arrays, record = external.build(a.benchmark, a.model, a.testset, options,
                                               a.calibration, a.train_features)
    except (OSError, ValueError) as e:
        sys.exit(f"import_model: {e}")
    save_npz(a.features_out, arrays)
    save_keras_atomic(model, a.out)
    write_json_atomic(a.metrics, record)
    figure = (f"AUC {record['test_auc']:.4f}" if record.get("metric") == "AUC"
              else f"top-1 {record['test_accuracy']:.4f}")
    print(f"import_model: {a.model}: float {figure} on {record['testset']['samples']} samples "
          f"of {a.testset} -> {a.out}")


if __name__ == "__main__":
    main()
