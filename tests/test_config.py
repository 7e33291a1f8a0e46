"""params.yaml validation: every bad value stops with one line naming the key and what is allowed."""
import copy

import pytest
import yaml

from tinysweep import config as cfg

PARAMS = yaml.safe_load((cfg.SCHEMA.parents[1] / "params.yaml").read_text())
# the shipped params with a fixed two-benchmark matrix: expectations independent of the default
KWS_AD = copy.deepcopy(PARAMS)
KWS_AD["matrix"]["benchmarks"] = ["kws", "ad"]


def with_change(path, value):
    c = copy.deepcopy(PARAMS)
    node = c
    for key in path[:-1]:
        node = node[key]
    if value is KeyError:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return c


def test_shipped_params_are_valid():
    cfg.validate(copy.deepcopy(PARAMS))


@pytest.mark.parametrize("path, value, expected", [
    (("matrix", "bits"), [9], "matrix.bits[0] = '9' is not a bits configuration name: a weight bit-width 2-8"),
    (("matrix", "bits"), ["4-mix"], "matrix.bits[0] = '4-mix' is not a bits configuration name"),
    (("matrix", "bits"), [3], "matrix.bits names '3', which quantize.configs does not define (defined: 8, 4, 2)"),
    (("quantize", "configs", "4", "method"), "gptq", "quantize.configs.4.method = 'gptq' is not allowed (allowed: ptq, qat)"),
    (("quantize", "configs", "4", "range"), "max", "quantize.configs.4.range = 'max' is not allowed (allowed: minmax, percentile, mse)"),
    (("quantize", "configs", "4", "granularity"), "per_row", "quantize.configs.4.granularity = 'per_row' is not allowed (allowed: per_channel, per_tensor)"),
    (("quantize", "configs", "4", "layers", "first"), 9, "quantize.configs.4.layers.first = 9 is not a weight bit-width (an integer 2-8)"),
    (("quantize", "configs", "4", "layers", "first"), 1, "quantize.configs.4.layers.first = 1 is not a weight bit-width"),
    (("quantize", "configs", "4", "rounding"), "up", "unknown key quantize.configs.4.rounding (allowed: method, range, percentile, granularity"),
    (("quantize", "configs", "2", "qat"), KeyError, "quantize.configs.2 is missing the key 'qat'"),
    (("quantize", "configs", "9"), {"method": "ptq"}, "quantize.configs has a key '9', which is not a bits configuration name"),
    (("matrix", "benchmarks"), ["speech"], "matrix.benchmarks[0] = 'speech' is not allowed (allowed: kws, vww, ic, ad)"),
    (("matrix", "devices"), ["m9"], "matrix.devices names 'm9', which the devices section does not define (defined: host, m4, m7, m33, m55, nucleo)"),
    (("train", "kws", "epochs"), 0, "train.kws.epochs = 0"),
    (("train", "kws", "epochs"), "ten", "train.kws.epochs = 'ten'"),
    (("train", "kws", "lr_boundaries"), [10], "train.kws.learning_rates needs exactly one more value than lr_boundaries"),
    (("train", "kws", "lr_boundaries"), [13, 10], "must be strictly increasing"),
    (("train", "kws", "seed"), KeyError, "train.kws is missing the key 'seed'"),
    (("dataset", "kws", "source"), "youtube", "dataset.kws.source = 'youtube' is not allowed (allowed: offline, speech_commands)"),
    (("measure", "latency", "windowz"), 3, "unknown key measure.latency.windowz (allowed: windows, inferences, warmup)"),
    (("devices", "host", "transport"), "usb", "devices.host.transport = 'usb' is not allowed (allowed: pty, qemu, serial)"),
    (("devices", "m4", "board"), KeyError, "devices.m4 is missing the key 'board'"),
    (("devices", "m4", "cpi"), KeyError, "devices.m4 is missing the key 'cpi'"),
    (("devices", "m4", "board", "ram_bytes"), 0, "devices.m4.board.ram_bytes = 0"),
    (("devices", "m4", "port"), "stm32", "devices.m4.port = 'stm32' is not a folder of firmware/ports (allowed: host, mps2-an386"),
    (("devices", "m4", "transport"), "pty", "devices.m4.latency_method = 'instructions' needs transport: qemu"),
    (("devices", "m4", "transport"), "serial", "devices.m4 is missing the key 'url'"),
    (("devices", "nucleo", "baud"), KeyError, "devices.nucleo is missing the key 'baud'"),
    (("devices", "nucleo", "energy_mode"), True, "devices.nucleo.energy_mode = true needs transport: serial and baud: 9600"),
    (("devices", "nucleo", "energy_mode"), "yes", "devices.nucleo.energy_mode = 'yes'"),
])
def test_bad_values_give_one_line(path, value, expected):
    with pytest.raises(cfg.ConfigError) as e:
        cfg.validate(with_change(path, value))
    message = str(e.value)
    assert expected in message
    assert "\n" not in message and message.startswith("params.yaml: ")


def test_energy_mode_devices_are_built_not_measured():
    c = with_change(("devices", "nucleo", "baud"), 9600)
    c["devices"]["nucleo"]["energy_mode"] = True
    cfg.validate(copy.deepcopy(c))  # defined (its firmware can be built) ...
    c["matrix"]["devices"] = ["host", "nucleo"]
    with pytest.raises(cfg.ConfigError, match=r"^params.yaml: devices.nucleo.energy_mode = true: "
                                              r"its firmware is for EEMBC's EnergyRunner"):
        cfg.validate(c)  # ... but not swept


def test_bad_yaml_names_the_line(tmp_path):
    p = tmp_path / "params.yaml"
    p.write_text("matrix:\n  bits: [8\n")
    with pytest.raises(cfg.ConfigError, match=r"params.yaml: not valid YAML at line \d+"):
        cfg.load(p)


def test_combinations_and_targets():
    c = copy.deepcopy(KWS_AD)
    c["devices"]["other"] = dict(c["devices"]["host"])
    c["matrix"]["devices"] = ["host", "other"]
    names = [x.name for x in cfg.combinations(c)]
    assert names == [f"{b}_{d}_w{w}" for b in ("kws", "ad") for d in ("host", "other")
                     for w in (8, 4, 2)]
    assert cfg.parse_combination("kws_other_w8", c) == cfg.Combination("kws", "other", "8")
    assert [x.name for x in cfg.expand_glob("kws_*", c)] == names[:6]
    assert [x.name for x in cfg.expand_glob("*_host_w8", c)] == ["kws_host_w8", "ad_host_w8"]
    # a defined device outside the matrix may be targeted; globs sweep the matrix only
    assert cfg.parse_combination("kws_m4_w8", c) == cfg.Combination("kws", "m4", "8")
    assert "kws_m4_w8" not in [x.name for x in cfg.expand_glob("kws_*", c)]


def test_configuration_names_with_variants():
    c = copy.deepcopy(KWS_AD)
    c["quantize"]["configs"]["4qat"] = {"method": "qat", "qat": {"epochs": 1}}
    c["matrix"]["bits"] = [8, "4qat"]   # YAML: 8 is an integer, 4qat a string
    c = cfg.validate(c)
    assert c["matrix"]["bits"] == ["8", "4qat"]
    combination = cfg.parse_combination("kws_host_w4qat", c)
    assert combination == cfg.Combination("kws", "host", "4qat")
    assert combination.weight_bits == 4 and combination.name == "kws_host_w4qat"
    assert [x.name for x in cfg.expand_glob("kws_*_w4*", c)] == ["kws_host_w4qat"]


@pytest.mark.parametrize("target, expected", [
    ("vww_host_w8", "unknown benchmark 'vww' (params.yaml matrix declares: kws, ad)"),
    ("kws_m9_w8", "unknown device 'm9' (params.yaml devices section defines: host, m4, m7, m33, m55, nucleo)"),
    ("kws_host_w3", "unknown bits configuration '3' (params.yaml matrix declares: 8, 4, 2)"),
    ("kws_host_w4x", "unknown bits configuration '4x' (params.yaml matrix declares: 8, 4, 2)"),
    ("kws_host_w9", "unknown bits configuration '9' (params.yaml matrix declares: 8, 4, 2)"),
    ("kws-host-8", "is not <benchmark>_<device>_w<bits> (declared: kws_host_w8, kws_host_w4, "),
])
def test_unknown_targets_are_named(target, expected):
    with pytest.raises(cfg.ConfigError, match=expected.replace("(", r"\(").replace(")", r"\)")):
        cfg.parse_combination(target, KWS_AD)


def test_glob_matching_nothing():
    with pytest.raises(cfg.ConfigError, match=r"results/ic_\* matches no combination"):
        cfg.expand_glob("ic_*", KWS_AD)
