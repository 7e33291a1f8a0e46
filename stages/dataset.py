"""Stage `dataset`: the raw audio set of a benchmark, with its manifest.csv.

python stages/dataset.py --benchmark kws --source offline --out data/kws/raw \
    --clips-per-class 1500 --seed 0
python stages/dataset.py --benchmark kws --source speech_commands --out data/kws/raw \
    --url URL --sha256 HEX --download-dir data/downloads --seed 0
python stages/dataset.py --benchmark ad --source offline --out data/ad/raw \
    --train-clips 240 --test-clips 40 --clip-seconds 2 --seed 1

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
    p.add_argument("--source", required=True, help="kws: offline | speech_commands; "
                                                   "ad: offline | toycar")
    p.add_argument("--out", required=True, help="output folder (replaced when complete)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--clips-per-class", type=int, help="offline: clips per class, all splits")
    p.add_argument("--url", help="speech_commands: archive URL")
    p.add_argument("--sha256", help="speech_commands: archive sha256")
    p.add_argument("--download-dir", help="speech_commands: where the archive is kept")
    p.add_argument("--train-clips", type=int, help="ad offline: normal clips, train + val")
    p.add_argument("--test-clips", type=int, help="ad: test clips (toycar: 0 = all)")
    p.add_argument("--clip-seconds", type=float, help="ad offline: seconds per clip")
    p.add_argument("--extra-url", help="ad toycar: archive of extra normal training clips")
    p.add_argument("--extra-sha256", help="ad toycar: its sha256")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    a = p.parse_args(argv)
    options = {k: v for k, v in vars(a).items()
               if v is not None and k not in ("benchmark", "source", "out", "seed", "no_progress")}
    t0 = time.time()
    try:
        summary = make_dataset(a.benchmark, a.source, a.out, seed=a.seed,
                               progress=not a.no_progress, **options)
    except (ValueError, OSError) as e:
        print(f"dataset: {e}", file=sys.stderr)
        return 1
    counts = summary["counts"]
    print(f"dataset: {a.out}: " + ", ".join(f"{s} {sum(c.values())}" for s, c in counts.items())
          + f" clips in {time.time() - t0:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
