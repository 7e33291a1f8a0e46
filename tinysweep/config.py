"""params.yaml: validation with one-line errors, and the benchmark x device x bits matrix."""
import copy
import fnmatch
import re
from dataclasses import dataclass
from pathlib import Path

import jsonschema
import yaml

SCHEMA = Path(__file__).resolve().parents[1] / "schemas" / "params.schema.yaml"
PORTS = Path(__file__).resolve().parents[1] / "firmware" / "ports"
SHARED_PORT_DIRS = {"cortex-m"}  # code shared by ports, not a port

# MLPerf Tiny model ids, as the device reports them in `profile` (m-model-[...]).
PROFILES = {"kws": "kws01", "vww": "vww01", "ic": "ic01", "ad": "ad01"}

ENERGY_MODE_BAUD = 9600  # EEMBC energy mode: the IO manager's UART rate

# A bits configuration's name: its default weight bit-width, optionally a variant suffix
# (8, 4, 4qat, 2mix); quantize.configs defines what each name means.
CONFIG_NAME = r"[2-8](?:[a-z][a-z0-9]*)?"
# what a target may say after _w: looser than CONFIG_NAME, so that `w9` reaches
# parse_combination and its one-line error instead of Snakemake's "no rule to produce"
TARGET_BITS = r"[0-9][a-z0-9]*"
COMBINATION = re.compile(rf"^(?P<bench>[a-z0-9]+)_(?P<device>[a-z0-9]+)_w(?P<bits>{TARGET_BITS})$")
# layer rules of quantize.configs.<name>.layers (any other key names a layer)
LAYER_RULES = ("first", "last")


class ConfigError(ValueError):
    """A one-line message naming the key (or target) and what is allowed."""


@dataclass(frozen=True)
class Combination:
    bench: str
    device: str
    config: str          # bits configuration name (quantize.configs)

    @property
    def name(self) -> str:
        return f"{self.bench}_{self.device}_w{self.config}"

    @property
    def weight_bits(self) -> int:
        return weight_bits(self.config)


def weight_bits(config_name: str) -> int:
    """The default weight bit-width of a configuration: its leading digit."""
    return int(str(config_name)[0])


def _key(path) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def _allowed(schema) -> str:
    if "enum" in schema:
        return ", ".join(str(v) for v in schema["enum"])
    if "properties" in schema:
        return ", ".join(schema["properties"])
    return ""


def _one_line(error: jsonschema.ValidationError, source: str) -> str:
    key = _key(error.absolute_path)
    v = error.validator
    if "x-error" in error.schema:  # the schema says what the value must be
        if "propertyNames" in error.absolute_schema_path:   # a key of `key`
            return f"{source}: {key} has a key {error.instance!r}, which is not {error.schema['x-error']}"
        return f"{source}: {key} = {error.instance!r} is not {error.schema['x-error']}"
    if v == "enum":
        return f"{source}: {key} = {error.instance!r} is not allowed (allowed: {_allowed(error.schema)})"
    if v == "additionalProperties":
        extra = sorted(set(error.instance) - set(error.schema.get("properties", {})))
        allowed = _allowed(error.schema)
        return (f"{source}: unknown key {key + '.' if error.absolute_path else ''}{extra[0]}"
                + (f" (allowed: {allowed})" if allowed else ""))
    if v == "required":
        missing = error.message.split("'")[1]
        return f"{source}: {key} is missing the key '{missing}'"
    if v == "pattern" and key.startswith("dataset") and key.endswith("sha256"):
        return f"{source}: {key} must be the archive's 64-hex-digit sha256"
    return f"{source}: {key} = {error.instance!r}: {error.message.split(' is ')[-1] if ' is ' in error.message else error.message}"


def _normalized(config: dict) -> dict:
    """A copy with the bits configuration names as strings: YAML reads `- 8` and `8:` as
    integers, `4qat` as a string."""
    config = copy.deepcopy(config)
    matrix, quantize = config.get("matrix"), config.get("quantize")
    if isinstance(matrix, dict) and isinstance(matrix.get("bits"), list):
        matrix["bits"] = [_name(b) for b in matrix["bits"]]
    if isinstance(quantize, dict) and isinstance(quantize.get("configs"), dict):
        quantize["configs"] = {_name(k): v for k, v in quantize["configs"].items()}
    return config


def _name(value):
    # bool is an int to Python: keep it as it is, for the schema to refuse
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


def validate(config: dict, source: str = "params.yaml") -> dict:
    """The configuration with bits configuration names as strings; ConfigError (one line)
    unless it is a valid tinysweep configuration."""
    config = _normalized(config)
    schema = yaml.safe_load(SCHEMA.read_text())
    errors = list(jsonschema.Draft202012Validator(schema).iter_errors(config))
    if errors:
        raise ConfigError(_one_line(jsonschema.exceptions.best_match(errors), source))
    _check_devices(config["devices"], source)
    _check_configs(config, source)
    matrix = config["matrix"]
    for device in matrix["devices"]:
        if device not in config["devices"]:
            raise ConfigError(f"{source}: matrix.devices names '{device}', which the devices section "
                              f"does not define (defined: {', '.join(config['devices'])})")
        if config["devices"][device].get("energy_mode"):
            raise ConfigError(energy_mode_error(device, source))
    _check_external(config.get("external") or {}, source)
    for bench in matrix["benchmarks"]:
        for stage in ("dataset", "train"):
            if bench not in config[stage]:
                raise ConfigError(f"{source}: {stage}.{bench} is missing (matrix.benchmarks lists {bench})")
        _check_pinned(config["dataset"][bench], f"dataset.{bench}", source)
        train = config["train"][bench]
        if len(train["learning_rates"]) != len(train["lr_boundaries"]) + 1:
            raise ConfigError(f"{source}: train.{bench}.learning_rates needs exactly one more value than "
                              f"lr_boundaries ({len(train['learning_rates'])} vs {len(train['lr_boundaries'])})")
        if train["lr_boundaries"] != sorted(set(train["lr_boundaries"])):
            raise ConfigError(f"{source}: train.{bench}.lr_boundaries must be strictly increasing epochs")
        for stage, key in (("quantize", "calibration_samples"), ("measure", "test_samples")):
            value = config[stage][key]
            if isinstance(value, dict) and bench not in value:
                raise ConfigError(f"{source}: {stage}.{key} has no value for {bench} "
                                  f"(matrix.benchmarks lists it; give one number or one per "
                                  f"benchmark)")
    return config


EXTERNAL_ONLY = {"input_scale": ("kws",), "input_zero_point": ("kws",),
                 "pixel_scale": ("ic", "vww")}


def _check_external(external: dict, source: str):
    """Models trained elsewhere: every file and folder exists and has the right form, before
    any work (paths relative to the repository root)."""
    for bench, e in external.items():
        key = f"external.{bench}"
        model = Path(e["model"])
        if model.is_dir() and not (model / "saved_model.pb").is_file():
            raise ConfigError(f"{source}: {key}.model = {e['model']!r} is a folder without "
                              f"saved_model.pb (want a .keras or .h5 file or a SavedModel folder)")
        suffix_ok = model.suffix in (".keras", ".h5", ".hdf5")
        if not model.exists() or (model.is_file() and not suffix_ok):
            raise ConfigError(f"{source}: {key}.model = {e['model']!r} "
                              f"{'is not a .keras or .h5 file' if model.exists() else 'not found'}"
                              f" (want a .keras or .h5 file or a SavedModel folder)")
        for name in ("testset", "calibration"):
            if name in e and not (Path(e[name]) / "y_labels.csv").is_file():
                raise ConfigError(f"{source}: {key}.{name} = {e[name]!r} has no y_labels.csv "
                                  f"(want an EnergyRunner folder: .bin files + y_labels.csv)")
        for name, benches in EXTERNAL_ONLY.items():
            if name in e and bench not in benches:
                raise ConfigError(f"{source}: {key}.{name} applies to {' and '.join(benches)} "
                                  f"only; remove it")
        if ("input_scale" in e) != ("input_zero_point" in e):
            raise ConfigError(f"{source}: {key} needs input_scale and input_zero_point together "
                              f"(how its kws01 .bin files were quantized)")


def _check_configs(config: dict, source: str):
    """Every swept bits configuration is defined and means something tinysweep.quant can do.
    (Layer names are checked per benchmark model by tinysweep.workflow, before any training.)"""
    defined = config["quantize"]["configs"]
    for name in config["matrix"]["bits"]:
        if name not in defined:
            raise ConfigError(f"{source}: matrix.bits names '{name}', which quantize.configs does "
                              f"not define (defined: {', '.join(defined)})")
    for name in config["matrix"]["bits"]:
        quant_config(name, defined[name], source)


def quant_config(name: str, entry: dict, source: str = "params.yaml"):
    """tinysweep.quant.QuantConfig of quantize.configs.<name>, or ConfigError."""
    from tinysweep.quant import QuantConfig, QuantConfigError
    try:
        return QuantConfig.from_params(name, entry)
    except QuantConfigError as e:
        raise ConfigError(f"{source}: {e}") from None  # (e names quantize.configs.<name>)


def energy_mode_error(device: str, source: str = "params.yaml") -> str:
    return (f"{source}: devices.{device}.energy_mode = true: its firmware is for EEMBC's "
            f"EnergyRunner (timestamps on a pin), tinysweep cannot measure it; build it with "
            f"`snakemake build/<benchmark>_{device}_w<bits>`, or set energy_mode: false")


def _check_pinned(dataset: dict, key: str, source: str):
    """A real source whose archive digest is still null (nothing published to pin, e.g.
    ToyCar's md5-only Zenodo record) stops here, before any download."""
    real = dataset.get(dataset["source"]) if dataset["source"] != "offline" else None
    for name in ("sha256", "extra_sha256"):
        url = (real or {}).get("url" if name == "sha256" else "extra_url")
        if url and name in real and real[name] is None:
            raise ConfigError(f"{source}: {key}.{dataset['source']}.{name} is not set: no sha256 is "
                              f"published for {url.rsplit('/', 1)[-1]}; download it, check it against "
                              f"the md5 in the comment beside the key, and put its sha256sum there")


def ports() -> list[str]:
    """The port folders of firmware/ports/."""
    return sorted(p.name for p in PORTS.iterdir() if p.is_dir() and p.name not in SHARED_PORT_DIRS)


def _check_devices(devices: dict, source: str):
    known = ports()
    for name, d in devices.items():
        if d["port"] not in known:
            raise ConfigError(f"{source}: devices.{name}.port = {d['port']!r} is not a folder of "
                              f"firmware/ports (allowed: {', '.join(known)})")
        if d["transport"] == "qemu" and d["qemu_machine"] != d["port"]:
            raise ConfigError(f"{source}: devices.{name}.qemu_machine = {d['qemu_machine']!r} is not "
                              f"the machine of its port {d['port']!r} (a port folder is one QEMU "
                              f"machine's memory map and UART): set qemu_machine: {d['port']}")
        if d.get("energy_mode") and (d["transport"] != "serial" or d["baud"] != ENERGY_MODE_BAUD):
            raise ConfigError(f"{source}: devices.{name}.energy_mode = true needs transport: serial "
                              f"and baud: {ENERGY_MODE_BAUD} (EEMBC energy mode's rate)")
        if d["latency_method"] == "instructions" and d["transport"] != "qemu":
            raise ConfigError(f"{source}: devices.{name}.latency_method = 'instructions' needs "
                              f"transport: qemu (only an emulator counts instructions); "
                              f"use measured")


def load(path="params.yaml") -> dict:
    try:
        config = yaml.safe_load(Path(path).read_text())
    except FileNotFoundError:
        raise ConfigError(f"{path} not found: run from the repository root") from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise ConfigError(f"{path}: not valid YAML{where}: {getattr(e, 'problem', e)}") from None
    return validate(config or {}, str(path))


def combinations(config: dict) -> list[Combination]:
    m = config["matrix"]
    return [Combination(b, d, str(w)) for b in m["benchmarks"] for d in m["devices"] for w in m["bits"]]


def parse_combination(name: str, config: dict) -> Combination:
    """The combination a target names, or a one-line error saying what params.yaml declares."""
    m = COMBINATION.match(name)
    declared = ", ".join(c.name for c in combinations(config))
    if not m:
        raise ConfigError(f"target results/{name} is not <benchmark>_<device>_w<bits> (declared: {declared})")
    c = Combination(m["bench"], m["device"], m["bits"])
    axes = config["matrix"]
    # any device the devices section defines may be targeted; matrix.devices is what a plain
    # run (and a glob target) sweeps
    unknown = [f"unknown {axis} '{value}' (params.yaml {where}: {', '.join(str(a) for a in allowed)})"
               for axis, value, allowed, where in (
                   ("benchmark", c.bench, axes["benchmarks"], "matrix declares"),
                   ("device", c.device, list(config["devices"]), "devices section defines"),
                   ("bits configuration", c.config, [str(b) for b in axes["bits"]], "matrix declares"))
               if value not in allowed]
    if unknown:  # every wrong part at once, on one line
        raise ConfigError(f"target results/{name}: {'; '.join(unknown)}")
    return c


def expand_glob(pattern: str, config: dict) -> list[Combination]:
    """Combinations whose result folder matches a shell glob such as 'kws_*'."""
    hits = [c for c in combinations(config) if fnmatch.fnmatchcase(c.name, pattern)]
    if not hits:
        declared = ", ".join(c.name for c in combinations(config))
        raise ConfigError(f"target results/{pattern} matches no combination of params.yaml (declared: {declared})")
    return hits
