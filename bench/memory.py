"""Benchmark: tinysweep's static activation arena beside its lower bound and tflite-micro's arena.

    python bench/memory.py [--cache DIR]

Models (random weights, int8 PTQ on random inputs): the MLPerf Tiny KWS DS-CNN
(tinysweep.benchmarks.kws.build_dscnn), MobileNetV1 α=0.25 at 96×96×3 (the VWW reference:
'same' padding, no PAD ops) and ResNet-8 (the IC reference). For every model: the arena of the
generated C (or, when code generation does not support one of its ops, of the planner run on the
reader's tensor lifetimes), the exact lower bound of any plan over those lifetimes (the most
bytes live at one op), tflite-micro's arena total split into its planned (non-persistent)
tensor area and its persistent buffers, and the ratios. Also two what-ifs of the planner: without
the in-place convolutions and the fused chains ("no in-place": the previous engine's arenas; the
in-place ADD alone changes none of these three) and with the model input allowed to
die at its last reader ("input free": the harness loads the input once and may invoke N times,
so the generated code keeps it intact; this column says what that guarantee costs). Figures, not
assertions. "chains": ops run fused by tsn_conv_chain_s8 (conv + ADD, producer -> consumer).
"""
import argparse
import hashlib
import re
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]


def dscnn():
    from tinysweep.benchmarks import kws
    return kws.build_dscnn(), (49, 10, 1), 10.0


def mobilenet_v1_025():
    """MLPerf Tiny VWW reference (mlcommons/tiny vww/vww_model.py): MobileNetV1 α=0.25, 96×96×3."""
    from tinysweep.tfcompat import keras
    L = keras.layers
    x = inp = L.Input((96, 96, 3))

    def conv_bn(x, filters, kernel, stride):
        x = L.Conv2D(filters, kernel, strides=stride, padding="same", )(x)
        x = L.BatchNormalization()(x)
        return L.ReLU()(x)

    def dw_bn(x, stride):
        x = L.DepthwiseConv2D(3, strides=stride, padding="same", )(x)
        x = L.BatchNormalization()(x)
        return L.ReLU()(x)

    x = conv_bn(x, 8, 3, 2)
    for filters, stride in ((16, 1), (32, 2), (32, 1), (64, 2), (64, 1), (128, 2), (128, 1),
                            (128, 1), (128, 1), (128, 1), (128, 1), (256, 2), (256, 1)):
        x = dw_bn(x, stride)
        x = conv_bn(x, filters, 1, 1)
    x = L.AveragePooling2D(pool_size=(x.shape[1], x.shape[2]))(x)
    x = L.Flatten()(x)
    # no softmax: with random weights the two logits hardly vary and their int8 scale is too
    # small for TFLM's (and tsn's) softmax; the arena is the same to 16 bytes
    x = L.Dense(2)(x)
    return keras.Model(inp, x, name="mobilenet_v1_025"), (96, 96, 3), 100.0


def resnet8():
    """MLPerf Tiny IC reference (mlcommons/tiny ic/keras_model.py): ResNet-8, CIFAR-10."""
    from tinysweep.tfcompat import keras
    L = keras.layers
    x = inp = L.Input((32, 32, 3))
    x = L.Conv2D(16, 3, padding="same")(x)
    x = L.BatchNormalization()(x)
    x = L.Activation("relu")(x)
    for filters, stride in ((16, 1), (32, 2), (64, 2)):
        y = L.Conv2D(filters, 3, strides=stride, padding="same")(x)
        y = L.BatchNormalization()(y)
        y = L.Activation("relu")(y)
        y = L.Conv2D(filters, 3, padding="same")(y)
        y = L.BatchNormalization()(y)
        if stride != 1:
            x = L.Conv2D(filters, 1, strides=stride, padding="same")(x)
        x = L.Activation("relu")(L.add([x, y]))
    x = L.AveragePooling2D(pool_size=x.shape[1:3])(x)
    x = L.Flatten()(x)
    x = L.Dense(10, activation="softmax")(x)
    return keras.Model(inp, x, name="resnet8"), (32, 32, 3), 50.0


MODELS = {"kws DS-CNN": dscnn, "vww MobileNetV1-0.25": mobilenet_v1_025, "ic ResNet-8": resnet8}


def int8_model(name: str, cache: Path | None) -> bytes:
    """The int8 .tflite of MODELS[name], cached in `cache` (the build takes seconds)."""
    path = cache / (re.sub(r"[^A-Za-z0-9]+", "_", name) + ".tflite") if cache else None
    if path is not None and path.is_file():
        return path.read_bytes()
    from tinysweep.quantize import quantize_int8
    from tinysweep.tfcompat import keras
    keras.utils.set_random_seed(0)
    model, shape, spread = MODELS[name]()
    calib = np.random.default_rng(0).normal(0, spread, (16, *shape)).astype(np.float32)
    data = quantize_int8(model, calib)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return data


_TFLM_LINES = {
    "total": r"Arena allocation total (\d+) bytes",
    "head": r"Arena allocation head (\d+) bytes",
    "tail": r"Arena allocation tail (\d+) bytes",
}


def tflm_arena(tflite: bytes) -> dict:
    """tflite-micro's arena: 'total' = head + tail. The head is the planned, non-persistent
    area (activation tensors and kernel scratch buffers, reused across ops); the tail holds the
    persistent buffers (tensor structs, per-channel quantization, op data, the plan itself).
    Run in a child process: tflite-micro aborts the process on some models."""
    import subprocess
    import tempfile
    with tempfile.NamedTemporaryFile(suffix=".tflite") as f:
        f.write(tflite)
        f.flush()
        code = ("import sys; from tinysweep import oracle\n"
                "interp = oracle._interpreter(open(sys.argv[1], 'rb').read())\n"
                "interp.print_allocations()\n")
        run = subprocess.run([sys.executable, "-c", code, f.name], capture_output=True, text=True)
    out = {"text": run.stderr if run.returncode == 0 else
           f"tflite-micro failed (exit status {run.returncode}): {run.stderr[-300:]}"}
    for key, pattern in _TFLM_LINES.items():
        m = re.search(pattern, run.stderr)
        out[key] = int(m.group(1)) if m else None
    return out


def measure(name: str, tflite: bytes) -> dict:
    from tinysweep.codegen import Unsupported, generate
    from tinysweep.codegen.generate import ARENA_ALIGNMENT
    from tinysweep.codegen.planner import check_plan, plan_model
    from tinysweep.codegen.reader import read_tflite_bytes
    model = read_tflite_bytes(tflite)
    mp = plan_model(model, ARENA_ALIGNMENT)
    check_plan(mp.plan)
    try:
        info = generate(model, "bench").info
        source, arena = "generated C", info["arena_bytes"]
        assert arena == mp.arena_bytes
    except Unsupported as e:
        source, arena = f"planner only ({e})", mp.arena_bytes
    no_inplace = plan_model(model, ARENA_ALIGNMENT, inplace_convs=False, fuse=False)
    input_free = plan_model(model, ARENA_ALIGNMENT, keep_input=False)
    for p in (no_inplace, input_free):
        check_plan(p.plan)
    tflm = tflm_arena(tflite)
    return {"model": name, "source": source, "arena": arena, "lower_bound": mp.plan.lower_bound,
            "no_inplace": no_inplace.arena_bytes, "input_free": input_free.arena_bytes,
            "inplace_ops": len(mp.inplace), "chains": len(mp.chains),
            "tflm_total": tflm["total"], "tflm_head": tflm["head"], "tflm_tail": tflm["tail"],
            "ops": len(model.operators), "sha256": hashlib.sha256(tflite).hexdigest()[:12]}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cache", type=Path, help="folder caching the int8 .tflite files")
    ap.add_argument("--verbose", action="store_true", help="print tflite-micro's allocation log")
    a = ap.parse_args(argv)
    rows = []
    for name in MODELS:
        tflite = int8_model(name, a.cache)
        rows.append(measure(name, tflite))
        if a.verbose:
            print(tflm_arena(tflite)["text"], file=sys.stderr)
    print(f"{'model':22s} {'tinysweep':>10s} {'lower bd':>9s} {'TFLM total':>11s} "
          f"{'TFLM head':>10s} {'TFLM tail':>10s} {'ratio':>6s} {'bound/TFLM':>11s} "
          f"{'no in-place':>12s} {'ratio':>6s} {'input free':>11s} {'ratio':>6s} "
          f"{'in-place ops':>12s} {'chains':>6s}")
    for r in rows:
        if r["tflm_total"] is None:
            print(f"{r['model']:22s} {r['arena']:10,d} {r['lower_bound']:9,d} "
                  f"{'(tflite-micro failed on this model)':>40s}")
            continue
        print(f"{r['model']:22s} {r['arena']:10,d} {r['lower_bound']:9,d} {r['tflm_total']:11,d} "
              f"{r['tflm_head']:10,d} {r['tflm_tail']:10,d} {r['arena'] / r['tflm_total']:6.3f} "
              f"{r['lower_bound'] / r['tflm_total']:11.3f} {r['no_inplace']:12,d} "
              f"{r['no_inplace'] / r['tflm_total']:6.3f} {r['input_free']:11,d} "
              f"{r['input_free'] / r['tflm_total']:6.3f} {r['inplace_ops']:12d} {r['chains']:6d}")
    print("ratio = tinysweep arena / TFLM total; TFLM head = planned tensors + scratch, "
          "tail = persistent buffers")
    for r in rows:
        if not r["source"].startswith("generated"):
            print(f"{r['model']}: {r['source']}")


if __name__ == "__main__":
    main()
