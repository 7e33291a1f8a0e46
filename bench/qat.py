"""Benchmark: QAT against PTQ at the same weight bits: simulated test accuracy and QAT time.

    python bench/qat.py [--bench kws ic ad] [--root DIR] [--bits 2 4] [--epochs N] [--lr X]
                        [--batch-size N] [--range mse] [--json out.json]

For every benchmark (float model, features and calibration set found or made as
bench/quant_methods.py does) and bit-width b: PTQ with min-max and with the best PTQ method
(MSE range, bias correction, first/last layers at 8 bits), then QAT: tinysweep.quant.qat_finetune
of the float model on the training split (validation split to pick the epoch) with the
configuration below, then `ptq(..., range minmax)` of the result, whose weights are already on
the grid. Every .tflite is scored on the WHOLE test split by LiteRT without delegates
("simulated"; ad: AUC). Printed beside: QAT seconds (wall) against float training time on
this machine under its present load (two float epochs timed now, scaled to the train stage's
epochs).
Figures, not assertions: the goal is w2 QAT within 5 points of float top-1.
"""
import argparse
import importlib.util
import json
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]

# the QAT configuration measured (params quantize.configs entry of a "<b>qat" name)
QAT = {"method": "qat", "range": "mse", "granularity": "per_channel",
       "layers": {"first": 8, "last": 8}, "qat": {"epochs": 3, "learning_rate": 1e-3}}


def _methods():
    path = REPO / "bench" / "quant_methods.py"
    spec = importlib.util.spec_from_file_location("quant_methods", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def float_training_seconds(model, features, batch: int, epochs: int) -> float:
    """Float training time (Adam, the loss QAT uses) on this machine under its present load:
    two epochs timed, the first (tracing included, as in QAT) + (epochs - 1) x the second."""
    from tinysweep.quant.qat import _loss_of, _task
    from tinysweep.tfcompat import keras
    x, y = features["x_train"], features["y_train"]
    task = _task(model, x, y)
    clone = keras.models.clone_model(model)
    clone.set_weights(model.get_weights())
    clone.compile(keras.optimizers.Adam(1e-4), _loss_of(model, task, None))
    ends = [time.perf_counter()]
    stamp = keras.callbacks.LambdaCallback(on_epoch_end=lambda *_: ends.append(time.perf_counter()))
    clone.fit(x, x if task == "reconstruct" else y, batch_size=batch, epochs=2, verbose=0,
              callbacks=[stamp])
    first, second = ends[1] - ends[0], ends[2] - ends[1]
    return first + (epochs - 1) * second


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--bench", nargs="+", default=["kws", "ic", "ad"])
    p.add_argument("--root", type=Path, default=REPO)
    p.add_argument("--bits", nargs="+", type=int, default=[2, 4])
    p.add_argument("--epochs", type=int, default=QAT["qat"]["epochs"])
    p.add_argument("--lr", type=float, default=QAT["qat"]["learning_rate"])
    p.add_argument("--batch-size", type=int, help="default: the benchmark's training batch size")
    p.add_argument("--range", default=QAT["range"], help="QAT's weight range setting")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--json", type=Path, help="also write the rows here")
    a = p.parse_args(argv)
    import yaml
    from tinysweep.quant import QuantConfig, ptq, qat_finetune
    from tinysweep.tfcompat import keras
    qm = _methods()
    params_file = a.root / "params.yaml"
    params = yaml.safe_load((params_file if params_file.is_file() else REPO / "params.yaml")
                            .read_text())
    rows = []
    for bench in a.bench:
        model_path, features_path = qm.ensure_inputs(a.root, bench)
        model = keras.models.load_model(model_path)
        features = np.load(features_path)
        calibration = qm.calibration_set(features, bench, params)
        score, metric = qm.scorer(features, bench)
        ref = qm.float_metric(a.root, bench, model, features)
        train_json = a.root / "models" / bench / "train.json"
        train = json.loads(train_json.read_text()) if train_json.is_file() else {}
        batch = a.batch_size or train.get("batch_size") or params["train"][bench]["batch_size"]
        scale = 1.0 if metric == "AUC" else 100.0
        float_seconds = float_training_seconds(
            model, features, batch, train.get("epochs", params["train"][bench]["epochs"]))
        print(f"\n{bench}: {metric}, test split {len(features['y_test'])}; float {ref:.4f} "
              f"(trained {train.get('epochs', '?')} epochs in {train.get('train_seconds', '?')} s)",
              flush=True)
        print(f"float training would take ~{float_seconds:.0f} s now (two epochs timed)")
        print(f"{'bench':6} {'bits':>4} {'method':16} {metric:>7} {'vs float':>9} {'seconds':>8}")

        def report(bits, label, value, seconds, **extra):
            print(f"{bench:6} {bits:>4} {label:16} {value:7.4f} {(value - ref) * scale:+9.2f} "
                  f"{seconds:8.1f}", flush=True)
            rows.append({"bench": bench, "bits": bits, "method": label, "metric": metric,
                         "value": value, "float": ref, "delta": (value - ref) * scale,
                         "seconds": seconds, "how": "simulated, LiteRT without delegates",
                         **extra})

        for bits in a.bits:
            for label in ("minmax", "mse+bc+fl8"):
                start = time.perf_counter()
                buf, _ = ptq(model, calibration, QuantConfig.from_params(str(bits),
                                                                         qm.METHODS[label]))
                report(bits, f"ptq {label}", score(buf), time.perf_counter() - start)
            entry = dict(QAT, range=a.range,
                         qat={"epochs": a.epochs, "learning_rate": a.lr, "batch_size": batch})
            config = QuantConfig.from_params(f"{bits}qat", entry)
            record = {}
            start = time.perf_counter()
            tuned = qat_finetune(model, config, features["x_train"], features["y_train"],
                                 features["x_val"], features["y_val"], seed=a.seed,
                                 record=record, progress=lambda line: print("  " + line))
            buf, info = ptq(tuned, calibration, config.replace(range="minmax"))
            # on the grid QAT trained for: PTQ's rounding error is float rounding only
            sqnr = min((l["sqnr_db"] or np.inf) for l in info["layers"])
            print(f"  QAT weights through min-max PTQ: lowest layer SQNR {sqnr:.0f} dB")
            seconds = time.perf_counter() - start
            print(f"  QAT took {record['seconds'] / float_seconds:.2f} x float training time "
                  f"({record['seconds']:.1f} s; with PTQ {seconds:.1f} s)")
            report(bits, "qat", score(buf), seconds, ptq_sqnr_db=sqnr,
                   float_train_seconds_now=float_seconds,
                   options=config.options(), float_train_seconds=train.get("train_seconds"),
                   qat={k: record[k] for k in ("val_history", "epoch_kept", "seconds")})
    if a.json:
        a.json.write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
