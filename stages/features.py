"""Stage `features`: model inputs of every split, from a raw set's manifest.

python stages/features.py --benchmark kws --raw data/kws/raw --out data/kws/features.npz

The .npz holds x_train/x_val/x_test (float32; kws: [N, 49, 10, 1] MLPerf MFCCs; ad: 640-value
log-mel windows of normal clips for train/val, whole test clips as log-mel frames
[clips, frames, 128]), y_train/y_val/y_test (int64) and classes (str, in the benchmark's
official label order).
"""
import sys
import time

from tinysweep import benchmarks
from tinysweep.cli import Parser
from tinysweep.io import save_npz


def make_features(benchmark: str, raw, out, progress: bool = True) -> dict:
    """Compute the features of raw set `raw` and write them to `out` (.npz); return them."""
    arrays = benchmarks.get(benchmark).make_features(raw, progress=progress)
    save_npz(out, arrays)
    return arrays


def main(argv=None) -> int:
    p = Parser(prog="features", description=__doc__.splitlines()[0])
    p.add_argument("--benchmark", required=True, help="benchmark short name, e.g. kws")
    p.add_argument("--raw", required=True, help="raw set folder (holds manifest.csv)")
    p.add_argument("--out", required=True, help="output .npz")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    a = p.parse_args(argv)
    t0 = time.time()
    try:
        arrays = make_features(a.benchmark, a.raw, a.out, progress=not a.no_progress)
    except (ValueError, OSError) as e:
        print(f"features: {e}", file=sys.stderr)
        return 1
    sizes = ", ".join(f"{s} {len(arrays['y_' + s])}" for s in ("train", "val", "test"))
    print(f"features: {a.out}: {sizes}, x {arrays['x_train'].shape[1:]} "
          f"in {time.time() - t0:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
