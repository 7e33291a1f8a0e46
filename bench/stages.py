"""Benchmark: wall time of every pipeline stage, per benchmark, from Snakemake's benchmark files.

    python bench/stages.py [--dir benchmarks]

Every rule of rules/*.smk writes `benchmarks/<rule>/<target>.tsv` (Snakemake's `benchmark:`
directive: wall seconds, peak memory) when it runs; this prints them as a table: one row per
benchmark (kws, vww, ic, ad, ...), one column per stage, the sum per row, and the stages shared
by all (report). Run it after `make run` / `dvc repro` / `snakemake`. Sums add up stage times:
with --cores 2 the stages of different benchmarks overlap, so the run's wall time is lower.
Figures, not assertions.
"""
import argparse
import csv
from pathlib import Path

STAGES = ("dataset", "features", "train", "quantize", "convert", "export_testset", "firmware",
          "measure")


def read(folder: Path) -> dict:
    """{(stage, target): (seconds, max RSS MB)} of every benchmark file under `folder`."""
    out = {}
    for tsv in sorted(folder.glob("*/*.tsv")):
        with open(tsv, newline="") as f:
            rows = list(csv.DictReader(f, delimiter="\t"))
        if rows:
            rss = rows[-1].get("max_rss", "NA")
            out[(tsv.parent.name, tsv.stem)] = (float(rows[-1]["s"]),
                                                float(rss) if rss not in ("", "NA") else None)
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dir", type=Path, default=Path("benchmarks"),
                    help="Snakemake's benchmark folder (default: benchmarks)")
    a = ap.parse_args(argv)
    times = read(a.dir)
    if not times:
        raise SystemExit(f"stages: no benchmark files under {a.dir}/ (run the pipeline first)")
    benches = sorted({target.split("_")[0] for stage, target in times if stage in STAGES})
    print(f"{'benchmark':10s}" + "".join(f"{s:>15s}" for s in STAGES) + f"{'sum s':>9s}")
    total = 0.0
    for bench in benches:
        row, cells = 0.0, []
        for stage in STAGES:
            secs = sum(t for (st, target), (t, _) in times.items()
                       if st == stage and target.split("_")[0] == bench)
            row += secs
            cells.append(f"{secs:15.1f}")
        total += row
        print(f"{bench:10s}" + "".join(cells) + f"{row:9.1f}")
    shared = {st: t for (st, target), (t, _) in times.items() if st not in STAGES}
    for stage, secs in sorted(shared.items()):
        total += secs
        print(f"{stage}: {secs:.1f} s")
    peak = max((m for _, m in times.values() if m is not None), default=None)
    print(f"sum of stage times: {total:.1f} s ({total / 60:.1f} min; stages of different "
          f"benchmarks overlap with --cores 2)" + (f"; peak memory of one stage {peak:.0f} MB"
                                                     if peak else ""))


if __name__ == "__main__":
    main()
