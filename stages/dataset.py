"""Stage `dataset`: a benchmark's raw data set (kws: audio + manifest.csv; ic, vww: images.npz).

python stages/dataset.py --benchmark kws --source offline --out data/kws/raw \
    --clips-per-class 1500 --seed 0
python stages/dataset.py --benchmark kws --source speech_commands --out data/kws/raw \
    --url URL --sha256 HEX --download-dir data/downloads --seed 0
python stages/dataset.py --benchmark ic --source offline --out data/ic/raw --seed 1
python stages/dataset.py --benchmark ad --source offline --out data/ad/raw \
    --train-clips 240 --test-clips 40 --clip-seconds 2 --seed 1

Options beyond --benchmark/--source/--seed/--out are the benchmark's own (DATASET_OPTIONS of
its module in tinysweep/benchmarks; `--benchmark X --help` lists them).

The output folder appears only when complete (built in a hidden sibling, then renamed);
dataset.json beside the manifest records the source and the counts per split and class.
Same arguments, same bytes (no timestamps inside), so DVC sees an unchanged output.
"""
import sys
import time

from tinysweep import benchmarks
from tinysweep.cli import Parser
from tinysweep.io import atomic_dir, write_json_atomic


def make_dataset(benchmark: str, source: str, out, *, seed: int, progress: bool = True,
                 **options) -> dict:
    """Build the raw set of `benchmark` from `source` into folder `out`; return its summary."""
    module = benchmarks.get(benchmark)
    with atomic_dir(out) as tmp:
        summary = {"benchmark": benchmark, **module.make_dataset(
            tmp, source, seed=seed, progress=progress, **options)}
        write_json_atomic(tmp / "dataset.json", summary)
    return summary


def main(argv=None) -> int:
    p = Parser(prog="dataset", description=__doc__.splitlines()[0])
    p.add_argument("--benchmark", required=True, help="benchmark short name, e.g. kws")
    p.add_argument("--source", required=True,
                   help="kws: offline | speech_commands; ic: offline | cifar10; "
                        "vww: offline | coco_vww")
    p.add_argument("--out", required=True, help="output folder (replaced when complete)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    a, _, options = benchmarks.parse_with_options(p, argv, "DATASET_OPTIONS")
    t0 = time.time()
    try:
        summary = make_dataset(a.benchmark, a.source, a.out, seed=a.seed,
                               progress=not a.no_progress, **options)
    except (ValueError, OSError) as e:
        print(f"dataset: {e}", file=sys.stderr)
        return 1
    counts = summary["counts"]
    print(f"dataset: {a.out}: " + ", ".join(f"{s} {sum(c.values())}" for s, c in counts.items())
          + f" samples in {time.time() - t0:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
