"""What the Snakemake rules ask of the configuration: stage arguments, targets, glob expansion.

Rules stay declarative: every param and input function they use is a method here, tested in
tests/test_workflow_helpers.py. Errors leave Snakemake as one line (sys.exit with the message).
"""
import functools
import json
import os
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
        return {"bench": "[a-z0-9]+", "device": "[a-z0-9]+", "bits": cfg.TARGET_BITS,
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

    @_one_line_errors
    def measure_inputs(self, wildcards) -> dict:
        """Inputs of one measurement; an undeclared combination stops here with one line."""
        c = self.combination(wildcards)
        if self.config["devices"][c.device].get("energy_mode"):
            raise cfg.ConfigError(cfg.energy_mode_error(c.device))
        model = f"models/{c.bench}/w{c.config}"
        return {"script": "stages/measure.py", "firmware": f"build/{c.name}",
                "model": f"{model}/model.tflite", "quantize": f"{model}/quantize.json",
                "codegen": f"{model}/c", "testset": f"{model}/testset"}

    def profile(self, wildcards) -> str:
        return cfg.PROFILES[self.bench(wildcards)]

    def _declared(self, axis: str, value: str, what: str) -> str:
        declared = self.config["matrix"][axis]
        if value not in declared:
            raise cfg.ConfigError(f"unknown {what} '{value}' (params.yaml matrix declares: "
                                  f"{', '.join(declared)})")
        return value

    @_one_line_errors
    def bench(self, wildcards) -> str:
        return self._declared("benchmarks", wildcards.bench, "benchmark")

    def dataset_args(self, wildcards) -> str:
        """Every scalar of dataset.<bench> (the benchmark's declared options), plus the keys of
        the selected real source's section (url, sha256, download_dir...)."""
        d = self.config["dataset"][self.bench(wildcards)]
        options = {k: v for k, v in d.items() if not isinstance(v, dict)}
        if d["source"] != "offline":
            options.update(d[d["source"]])
        # null: not set (e.g. ad's optional extra archive)
        return _args(**{k: v for k, v in options.items() if v is not None})

    def train_args(self, wildcards) -> str:
        return _args(**self.config["train"][self.bench(wildcards)])

    def per_benchmark(self, value, wildcards):
        """A value given once for all benchmarks, or per benchmark ({kws: 0, vww: 200}; that
        every swept benchmark has one is checked by tinysweep.config.validate)."""
        return value[self.bench(wildcards)] if isinstance(value, dict) else value

    @_one_line_errors
    def quant_config(self, wildcards) -> str:
        """The name of the bits configuration a job quantizes to (one line if undeclared)."""
        return self._declared("bits", wildcards.bits, "bits configuration")

    @_one_line_errors
    def quantize_args(self, wildcards) -> str:
        """--config: the configuration's params entry as JSON, with its name. Its layer names
        are checked against the benchmark's model here, while Snakemake builds the job graph:
        before any training."""
        q = self.config["quantize"]
        bench, name = self.bench(wildcards), self.quant_config(wildcards)
        entry = q["configs"][name]
        if entry.get("method") == "qat" and "batch_size" not in (entry.get("qat") or {}):
            # QAT steps like the float training unless the configuration says otherwise
            entry = {**entry, "qat": {**(entry.get("qat") or {}),
                                      "batch_size": self.config["train"][bench]["batch_size"]}}
        self.check_layer_names(bench, name)
        samples = self.per_benchmark(q["calibration_samples"], wildcards)
        return _args(config=json.dumps({"name": name, **entry}, sort_keys=True),
                     calibration_samples=samples, seed=q["seed"])

    def check_layer_names(self, bench: str, name: str) -> None:
        """ConfigError unless every layer quantize.configs.<name>.layers names (rules aside)
        is a layer with weights of the benchmark's model. Builds the model (TensorFlow: a few
        seconds) only when a layer is named."""
        layers = self.config["quantize"]["configs"][name].get("layers") or {}
        if all(key in cfg.LAYER_RULES for key in layers):
            return
        from tinysweep.quant import QuantConfigError, resolve_layer_bits
        config = cfg.quant_config(name, self.config["quantize"]["configs"][name])
        try:
            resolve_layer_bits(self._model(bench), config)
        except QuantConfigError as e:
            raise cfg.ConfigError(f"params.yaml: {e} (the {bench} model)") from None

    @functools.lru_cache(maxsize=None)
    def _model(self, bench: str):
        """The benchmark's float Keras model as the train stage builds it (untrained), or the
        model trained elsewhere that params `external` names."""
        entry = (self.config.get("external") or {}).get(bench)
        if entry:
            from tinysweep.external import load_model
            return load_model(entry["model"])
        from tinysweep.benchmarks import architecture
        return architecture(bench)

    def testset_args(self, wildcards) -> str:
        m = self.config["measure"]
        samples = self.per_benchmark(m["test_samples"], wildcards)
        return _args(profile=self.profile(wildcards), samples=samples, seed=m["seed"])

    def device(self, wildcards) -> dict:
        return self.config["devices"][self.combination(wildcards).device]

    def build_args(self, wildcards) -> str:
        d = self.device(wildcards)
        board = d.get("board")
        extra = (" " + _args(board=board["name"], flash_bytes=board["flash_bytes"],
                             ram_bytes=board["ram_bytes"])) if board else ""
        if "baud" in d:
            extra += " " + _args(baud=d["baud"])
        if d.get("energy_mode"):
            extra += " --energy-mode"
        # --cflags=... : flags start with '-', which argparse would take for an option
        return f"{_args(port=d['port'])} --cflags={shlex.quote(d['cflags'])}{extra}"

    def measure_args(self, wildcards) -> str:
        m = self.config["measure"]
        c = self.combination(wildcards)
        lat = m["latency"]
        d = self.device(wildcards)
        args = _args(benchmark=c.bench, device=c.device, transport=d["transport"],
                     windows=lat["windows"], inferences=lat["inferences"], warmup=lat["warmup"],
                     timeout=m["timeout_s"], latency_method=d["latency_method"])
        return " ".join([args] + [_args(**opts) for opts in self._device_measure_options(d)])

    @staticmethod
    def _device_measure_options(d: dict) -> list[dict]:
        """measure.py options a device's transport and latency method need."""
        opts = []
        if d["transport"] == "qemu":
            opts.append({"qemu_machine": d["qemu_machine"]})
        if d["transport"] == "serial":
            opts.append({"url": d["url"], "baud": d["baud"]})
            if d.get("power", {}).get("watts") is not None:  # energy estimated from latency
                opts.append({"power_w": d["power"]["watts"], "power_source": d["power"]["source"]})
        if "board" in d:
            opts.append({"board": d["board"]["name"]})
        if d["latency_method"] == "instructions":
            opts.append({"clock_hz": d["clock_hz"], "cpi": d["cpi"]["value"],
                         "cpi_source": d["cpi"]["source"], "power_source": d["power"]["source"]})
            if d["power"]["watts"] is not None:
                opts.append({"power_w": d["power"]["watts"]})
        return opts

    # -- scheduling -------------------------------------------------------------------------
    def physical_boards(self) -> list[str]:
        """Devices reached over a serial port (any defined one can be targeted, in the matrix
        or not): one job at a time on each."""
        return [d for d, entry in self.config["devices"].items() if entry["transport"] == "serial"]

    @staticmethod
    def board_resource(device: str) -> str:
        return f"board_{device}"

    def _uses_board(self, device: str, wildcards) -> int:
        return int(wildcards.device == device)

    def measure_resources(self) -> dict:
        """Resources of the measure rule: `board_<id>` = 1 for a job on physical board <id>
        (0 otherwise), limited to 1 by register_board_limits: jobs on one board run one at a
        time. Host and emulator jobs take only a core (threads 1): as many run at once as
        --cores allows."""
        resources = {self.board_resource(d): functools.partial(self._uses_board, d)
                     for d in self.physical_boards()}
        return resources | self.slurm_placement_resources()

    # Resource names snakemake-executor-plugin-slurm turns into sbatch -p and -C.
    SLURM_PLACEMENT = {"partition": "slurm_partition", "constraint": "constraint"}

    def slurm_placement_resources(self) -> dict:
        """On a SLURM cluster (profiles/slurm), a measure job runs where its device's
        `slurm` entry says: slurm_partition / constraint resources, present only when some
        device names one (a device without it: None, the cluster's default). Local runs
        ignore them."""
        named = {key for d in self.config["devices"].values() for key in d.get("slurm", {})}
        return {resource: functools.partial(self.slurm_placement, key)
                for key, resource in self.SLURM_PLACEMENT.items() if key in named}

    def slurm_placement(self, key: str, wildcards) -> str | None:
        return self.config["devices"][wildcards.device].get("slurm", {}).get(key)

    def register_board_limits(self, workflow):
        """Limit every `board_<id>` resource to 1, unless the command line set it
        (`--resources board_<id>=N`)."""
        for device in self.physical_boards():
            name = self.board_resource(device)
            if name not in workflow.global_resources:
                workflow.register_resource(name, 1)

    @staticmethod
    def release_stale_locks(workflow, folder="."):
        """A Snakemake killed with SIGKILL (or a power loss) leaves its locks behind, and the
        next run refuses to start until `snakemake --unlock`. Remove them when no other
        Snakemake runs in this folder on this machine: its stages died with it (rules `exec`
        them, tinysweep.cli.stop_with_parent), so `dvc repro` or a plain re-run resumes."""
        locks = list(Path(folder, ".snakemake", "locks").glob("*.lock"))
        settings = workflow.execution_settings  # None in a dry run
        if not locks or not workflow.is_main_process or (settings and not settings.lock):
            return
        if _other_snakemake_in(Path(folder).resolve()):
            return
        for lock in locks:
            lock.unlink(missing_ok=True)
        print("tinysweep: removed the locks a killed Snakemake left (no other Snakemake runs "
              "in this folder)", file=sys.stderr)

    def report_args(self, wildcards=None) -> str:
        """MLFLOW_TRACKING_URI, when set, names the tracking server instead of
        report.tracking_uri (a shared server of the lab: http://host:5000)."""
        r = self.config["report"]
        retry = r.get("tracking_retry") or {"attempts": 4, "backoff_s": 5, "timeout_s": 30}
        return _args(tracking_uri=os.environ.get("MLFLOW_TRACKING_URI") or r["tracking_uri"],
                     experiment=r["experiment"], tracking_attempts=retry["attempts"],
                     tracking_backoff=retry["backoff_s"], tracking_timeout=retry["timeout_s"])

    @staticmethod
    def tracking_pending(wildcards=None, summary: str = "results/summary.json") -> str:
        """When and why the last report's MLflow logging failed, while summary.json says it
        was not recorded, else "": as a param of the report rule, its change makes the next
        `snakemake` run the report again, which logs what is missing (once more after it
        succeeds, logging nothing new)."""
        try:
            tracked = json.loads(Path(summary).read_text()).get("tracking") or {}
        except (OSError, ValueError, AttributeError):
            return ""
        if "error" not in tracked:
            return ""
        return f"not recorded at {tracked.get('at')}: {tracked['error']}"

    @classmethod
    def warn_untracked(cls, summary: str = "results/summary.json"):
        """At the end of a run: one line when MLflow does not hold the results."""
        pending = cls.tracking_pending(summary=summary)
        if pending:
            print(f"tinysweep: MLflow {pending}; the result files are complete; the next "
                  "`snakemake` logs them", file=sys.stderr)

    # -- the PTQ ablation -------------------------------------------------------------------
    def ablation(self) -> dict:
        return self.config["report"].get("ablation") or {"benchmarks": [], "bits": 4,
                                                         "calibration_sizes": []}

    def ablation_tables(self) -> list[str]:
        """results/ablation/<bench>_w<bits>.csv of every listed benchmark the matrix sweeps."""
        a = self.ablation()
        return [f"results/ablation/{b}_w{a['bits']}.csv" for b in a["benchmarks"]
                if b in self.config["matrix"]["benchmarks"]]

    def ablation_inputs(self, wildcards) -> dict:
        return {"script": "stages/ablation.py", "model": self.float_model(wildcards),
                "features": self.features(wildcards),
                "train_metrics": self.train_metrics(wildcards)}

    def ablation_args(self, wildcards) -> str:
        import json
        q, a = self.config["quantize"], self.ablation()
        best = (q.get("configs") or {}).get(wildcards.bits)
        args = {"bits": wildcards.bits, "seed": q["seed"],
                "calibration_samples": self.per_benchmark(q["calibration_samples"], wildcards),
                "calibration_sizes": a["calibration_sizes"] or ""}
        if best:
            args["best"] = json.dumps(best, sort_keys=True)
        return _args(**args)

    # -- models trained elsewhere (params `external`) -----------------------------------------
    def external(self, wildcards) -> dict | None:
        return (self.config.get("external") or {}).get(self.bench(wildcards))

    def float_model(self, wildcards) -> str:
        """The float model the quantize stage starts from: trained here, or imported."""
        b = self.bench(wildcards)
        return (f"models/{b}/external/float.keras" if self.external(wildcards)
                else f"models/{b}/float.keras")

    def features(self, wildcards) -> str:
        """Calibration (x_val) and evaluation (x_test) data: the benchmark's, or the external
        model's EnergyRunner sets."""
        b = self.bench(wildcards)
        return (f"models/{b}/external/features.npz" if self.external(wildcards)
                else f"data/datasets/{b}/features.npz")

    def train_metrics(self, wildcards) -> str:
        b = self.bench(wildcards)
        return (f"models/{b}/external/train.json" if self.external(wildcards)
                else f"models/{b}/train.json")

    def needs_training_data(self, wildcards) -> bool:
        """QAT fine-tunes on the benchmark's training split: only then is it made for an
        external model (a QAT configuration in matrix.bits)."""
        configs = self.config["quantize"].get("configs") or {}
        return any((configs.get(str(name)) or {}).get("method") == "qat"
                   for name in self.config["matrix"]["bits"])

    @_one_line_errors
    def import_inputs(self, wildcards) -> dict:
        e = self.external(wildcards)
        if not e:
            raise cfg.ConfigError(f"params.yaml: external.{wildcards.bench} is not set: "
                                  f"models/{wildcards.bench}/external is made only for a model "
                                  f"trained elsewhere")
        inputs = {"script": "stages/import_model.py", "model": e["model"], "testset": e["testset"]}
        if "calibration" in e:
            inputs["calibration"] = e["calibration"]
        if self.needs_training_data(wildcards):
            inputs["train_features"] = f"data/datasets/{wildcards.bench}/features.npz"
        return inputs

    def import_args(self, wildcards) -> str:
        e, inputs = self.external(wildcards), self.import_inputs(wildcards)
        options = {k: inputs[k] for k in ("model", "testset", "calibration", "train_features")
                   if k in inputs}
        options.update({k: e[k] for k in ("input_scale", "input_zero_point", "pixel_scale")
                        if k in e})
        return _args(**options)


def _other_snakemake_in(folder: Path) -> bool:
    """Whether a Snakemake other than this one and its ancestors runs in `folder` (a process
    that cannot be inspected counts as one: locks are kept when in doubt)."""
    mine, pid = set(), os.getpid()
    while pid > 1:
        mine.add(pid)
        try:
            pid = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            break
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) in mine:
            continue
        try:
            argv = (proc / "cmdline").read_bytes().decode(errors="replace").split("\0")
            if not any("snakemake" in os.path.basename(a) for a in argv[:3]):
                continue
            if Path(os.readlink(proc / "cwd")) == folder:
                return True
        except FileNotFoundError:
            continue
        except OSError:
            return True
    return False

