"""Write the test split as an EnergyRunner folder, quantized for one model's input.

    python stages/export_testset.py --features data/kws/features.npz \
        --model models/kws/w8/model.tflite --profile kws01 --samples 0 --seed 0 \
        --out models/kws/w8/testset

--samples 0 exports the whole split; N > 0 a fixed, seeded, class-stratified subset. Features
are quantized with the model's input scale and zero point (round half away from zero, clamp).
ad01: one float32 .bin of log-mel frames per clip, sent to the device window by window.
ic01 / vww01 files hold uint8 RGB pixels, HWC (EnergyRunner's layout): the quantized int8 + 128,
checked to be the image's own pixels (features / pixel_scale).
Next to the .bin files and y_labels.csv, testset.json records where the folder came from.
"""
import sys
from pathlib import Path

import numpy as np

from tinysweep import energyrunner as er
from tinysweep import oracle
from tinysweep.cli import Parser
from tinysweep.io import atomic_dir, sha256_file, write_json_atomic


def load_split(features, split):
    with np.load(features) as data:
        keys = [f"x_{split}", f"y_{split}"]
        missing = [k for k in keys if k not in data.files]
        if missing:
            raise ValueError(f"{features} has no {', '.join(missing)} (it holds: {', '.join(data.files)})")
        x, y = data[keys[0]], data[keys[1]]
    y = np.argmax(y, axis=1) if y.ndim == 2 else y.reshape(-1)
    if len(x) != len(y):
        raise ValueError(f"{features}: {len(x)} x_{split} rows but {len(y)} labels")
    return x, y.astype(int)


def pixels(q: np.ndarray, x: np.ndarray, pixel_scale, features) -> np.ndarray:
    """uint8 pixels = int8 model input + 128, which must be the images' own pixels."""
    if pixel_scale is None:
        raise ValueError(f"{features} holds no pixel_scale: not image features")
    p = (q.astype(np.int16) + 128).astype(np.uint8)
    if not np.array_equal(p, np.round(x / np.float32(pixel_scale))):
        raise ValueError("the model's input quantization does not map pixels to pixel - 128: "
                         "quantize the model with stages/quantize.py (it pins the pixel range)")
    return p


def export(features, model, profile, samples, seed, out, split="test"):
    prof = er.profile(profile)
    if prof.dtype not in ("int8", "uint8") and not prof.windowed:
        raise ValueError(f"profile {profile}: only int8 features (kws01), uint8 images "
                         f"(ic01, vww01) and float clips (ad01) are exported so far")
    x, y = load_split(features, split)
    with np.load(features) as data:
        dataset = str(data["dataset"]) if "dataset" in data.files else "not recorded in the features"
        pixel_scale = float(data["pixel_scale"]) if "pixel_scale" in data.files else None
    if prof.windowed:
        return export_clips(features, model, prof, x, y, samples, seed, out, split, dataset)
    per_sample = int(np.prod(x.shape[1:]))
    if per_sample != prof.input_bytes:
        raise ValueError(f"{features}: x_{split} samples have {per_sample} values, "
                         f"{profile} needs {prof.input_bytes}")
    scale, zero_point, shape = oracle.input_quantization(Path(model).read_bytes())
    if int(np.prod(shape)) != per_sample:
        raise ValueError(f"{model} takes input {shape}, the features are {x.shape[1:]}")
    index = er.stratified_subset(y, samples, seed)
    q = er.quantize_inputs(x[index].reshape(len(index), -1), scale, zero_point)
    if prof.dtype == "uint8":
        q = pixels(q, x[index].reshape(len(index), -1), pixel_scale, features)
    rows = [(er.sample_filename(i, int(y[i]), prof), q[k].tobytes(), int(y[i]))
            for k, i in enumerate(index)]
    with atomic_dir(out) as tmp:
        er.write_folder(tmp, rows, prof.num_classes, prof.input_bytes)
        write_json_atomic(tmp / "testset.json", {
            "profile": profile, "split": split, "samples": len(rows), "dataset": dataset,
            "selection": "whole split" if samples == 0 else f"class-stratified, seed {seed}",
            "seed": seed, "indices": [int(i) for i in index],
            "features": {"path": str(features), "sha256": sha256_file(features)},
            "model": {"path": str(model), "sha256": sha256_file(model)},
            "input_scale": scale, "input_zero_point": zero_point,
            "quantization": "round half away from zero, then clamp to [-128, 127]",
        })
    return len(rows)


def export_clips(features, model, prof, x, y, samples, seed, out, split, dataset):
    """ad01: one .bin per clip, float32 little-endian log-mel frames [frames][mels]; y_labels.csv
    lines `file,2,label,<window bytes>,<stride bytes>` (stride = one frame). Not quantized: the
    device quantizes every window with the model's input parameters."""
    if x.ndim != 3:
        raise ValueError(f"{features}: x_{split} must be clips of frames [clips, frames, mels], "
                         f"got shape {x.shape}")
    stride = x.shape[2] * 4
    _, _, shape = oracle.input_quantization(Path(model).read_bytes())
    if int(np.prod(shape)) * 4 != prof.input_bytes or prof.input_bytes % stride:
        raise ValueError(f"{model} takes input {shape}; {prof.name} windows are "
                         f"{prof.input_bytes} bytes of whole {x.shape[2]}-value frames")
    if x.shape[1] * stride < prof.input_bytes:
        raise ValueError(f"{features}: clips of {x.shape[1]} frames are shorter than one window")
    index = er.stratified_subset(y, samples, seed)
    rows = [(er.sample_filename(i, int(y[i]), prof), x[i].astype("<f4").tobytes(), int(y[i]))
            for i in index]
    with atomic_dir(out) as tmp:
        er.write_folder(tmp, rows, prof.num_classes, extra=(prof.input_bytes, stride))
        write_json_atomic(tmp / "testset.json", {
            "profile": prof.name, "split": split, "samples": len(rows), "dataset": dataset,
            "selection": "whole split" if samples == 0 else f"class-stratified, seed {seed}",
            "seed": seed, "indices": [int(i) for i in index],
            "features": {"path": str(features), "sha256": sha256_file(features)},
            "model": {"path": str(model), "sha256": sha256_file(model)},
            "frames_per_clip": int(x.shape[1]), "window_bytes": prof.input_bytes,
            "stride_bytes": stride,
            "windows_per_clip": int((x.shape[1] * stride - prof.input_bytes) // stride + 1),
            "quantization": "none: float32 frames; the device quantizes each window with the "
                            "model's input scale and zero point",
        })
    return len(rows)


def main(argv=None):
    ap = Parser(prog="export_testset", description=__doc__.splitlines()[0])
    ap.add_argument("--features", required=True, help="features .npz with x_<split>, y_<split>")
    ap.add_argument("--model", required=True, help="the int8 .tflite whose input quantization to use")
    ap.add_argument("--profile", required=True, choices=sorted(er.PROFILES))
    ap.add_argument("--samples", type=int, default=0, help="0 = the whole split")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--split", default="test")
    ap.add_argument("--out", required=True)
    a = ap.parse_args(argv)
    try:
        n = export(a.features, a.model, a.profile, a.samples, a.seed, a.out, a.split)
    except (OSError, ValueError) as e:
        sys.exit(f"export_testset: {e}")
    print(f"export_testset: {n} samples -> {a.out}")


if __name__ == "__main__":
    main()
