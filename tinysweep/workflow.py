"""What the Snakemake rules ask of the configuration: stage arguments, targets, glob expansion.

Rules stay declarative: every param and input function they use is a method here, tested in
tests/test_workflow_helpers.py. Errors leave Snakemake as one line (sys.exit with the message).
"""
import functools
import shlex
import sys
from pathlib import Path

from tinysweep import config as cfg

GLOB_CHARS = "*?["


def _one_line_errors(fn):
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except cfg.ConfigError as e:
            sys.exit(str(e))
    return wrapper


def _args(**options) -> str:
    """--key value pairs, shell-quoted; lists become comma-separated values."""
    parts = []
    for key, value in options.items():
        if isinstance(value, (list, tuple)):
            value = ",".join(str(v) for v in value)
        parts += [f"--{key.replace('_', '-')}", shlex.quote(str(value))]
    return " ".join(parts)


class Helpers:
    def __init__(self, config: dict):
        self.config = config

    @classmethod
    @_one_line_errors
    def checked(cls, config: dict, source: str = "params.yaml") -> "Helpers":
        return cls(cfg.validate(config, source))

    # -- targets ---------------------------------------------------------------------------
    def result_dirs(self) -> list[str]:
        return [f"results/{c.name}" for c in cfg.combinations(self.config)]

    def wildcard_constraints(self) -> dict:
        return {"bench": "[a-z0-9]+", "device": "[a-z0-9]+", "bits": "[0-9]+",
                "pattern": r".*[\*\?\[].*"}

    @_one_line_errors
    def glob_inputs(self, wildcards) -> list[str]:
        return [f"results/{c.name}" for c in cfg.expand_glob(wildcards.pattern, self.config)]

    @staticmethod
    def remove_glob_markers(results="results"):
        """The marker files of glob targets ('results/kws_*') must not litter results/."""
        for path in Path(results).glob("*"):
            if any(ch in path.name for ch in GLOB_CHARS) and path.is_file():
                path.unlink()

    # -- per-stage arguments ----------------------------------------------------------------
    @_one_line_errors
    def combination(self, wildcards) -> cfg.Combination:
        return cfg.parse_combination(f"{wildcards.bench}_{wildcards.device}_w{wildcards.bits}", self.config)

    def measure_inputs(self, wildcards) -> dict:
        """Inputs of one measurement; an undeclared combination stops here with one line."""
        c = self.combination(wildcards)
        model = f"models/{c.bench}/w{c.bits}"
        return {"script": "stages/measure.py", "firmware": f"build/{c.name}",
                "model": f"{model}/model.tflite", "codegen": f"{model}/c", "testset": f"{model}/testset"}

    def profile(self, wildcards) -> str:
        return cfg.PROFILES[self.bench(wildcards)]

    @_one_line_errors
    def bench(self, wildcards) -> str:
        declared = self.config["matrix"]["benchmarks"]
        if wildcards.bench not in declared:
            raise cfg.ConfigError(f"unknown benchmark '{wildcards.bench}' (params.yaml matrix declares: "
                                  f"{', '.join(declared)})")
        return wildcards.bench

    def dataset_args(self, wildcards) -> str:
        d = self.config["dataset"][self.bench(wildcards)]
        if d["source"] == "offline":
            return _args(source="offline", clips_per_class=d["clips_per_class"], seed=d["seed"])
        real = d[d["source"]]
        return _args(source=d["source"], url=real["url"], sha256=real["sha256"],
                     download_dir=real["download_dir"])

    def train_args(self, wildcards) -> str:
        t = self.config["train"][self.bench(wildcards)]
        return _args(epochs=t["epochs"], batch_size=t["batch_size"], learning_rates=t["learning_rates"],
                     lr_boundaries=t["lr_boundaries"], seed=t["seed"])

    def quantize_args(self, wildcards) -> str:
        q = self.config["quantize"]
        return _args(bits=wildcards.bits, calibration_samples=q["calibration_samples"], seed=q["seed"])

    def testset_args(self, wildcards) -> str:
        m = self.config["measure"]
        return _args(profile=self.profile(wildcards), samples=m["test_samples"], seed=m["seed"])

    def device(self, wildcards) -> dict:
        return self.config["devices"][self.combination(wildcards).device]

    def build_args(self, wildcards) -> str:
        d = self.device(wildcards)
        # --cflags=... : flags start with '-', which argparse would take for an option
        return f"{_args(port=d['port'])} --cflags={shlex.quote(d['cflags'])}"

    def measure_args(self, wildcards) -> str:
        m = self.config["measure"]
        c = self.combination(wildcards)
        lat = m["latency"]
        return _args(benchmark=c.bench, device=c.device, bits=c.bits,
                     transport=self.device(wildcards)["transport"],
                     windows=lat["windows"], inferences=lat["inferences"], warmup=lat["warmup"],
                     timeout=m["timeout_s"])

    def report_args(self, wildcards=None) -> str:
        r = self.config["report"]
        return _args(tracking_uri=r["tracking_uri"], experiment=r["experiment"])
