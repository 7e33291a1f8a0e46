"""The functions the Snakemake rules call: stage arguments, targets, glob markers."""
import json
import json
import shlex
from types import SimpleNamespace

import pytest
import yaml

from tinysweep import config as cfg
from tinysweep.workflow import Helpers

PARAMS = yaml.safe_load((cfg.SCHEMA.parents[1] / "params.yaml").read_text())
KWS_HOST_W8 = SimpleNamespace(bench="kws", device="host", bits="8")


def test_stage_arguments_come_from_params():
    h = Helpers.checked(PARAMS)
    train = shlex.split(h.train_args(KWS_HOST_W8))
    assert train[train.index("--learning-rates") + 1] == "0.0005,0.0001,2e-05"
    assert train[train.index("--epochs") + 1] == str(PARAMS["train"]["kws"]["epochs"])
    assert "--source offline" in h.dataset_args(KWS_HOST_W8)
    assert shlex.split(h.build_args(KWS_HOST_W8)) == ["--port", "host", "--cflags=-O2"]
    assert h.measure_inputs(KWS_HOST_W8)["firmware"] == "build/kws_host_w8"
    assert h.profile(KWS_HOST_W8) == "kws01"


def test_quantize_arguments_carry_the_configuration():
    h = Helpers.checked(PARAMS)
    for name in ("8", "4", "2"):
        args = shlex.split(h.quantize_args(SimpleNamespace(bench="kws", bits=name)))
        config = json.loads(args[args.index("--config") + 1])
        entry = PARAMS["quantize"]["configs"][name]
        if entry["method"] == "qat":    # QAT steps like the float training unless told
            entry = {**entry, "qat": {"batch_size": PARAMS["train"]["kws"]["batch_size"],
                                      **entry["qat"]}}
        assert config == {"name": name, **entry}
        assert args[args.index("--calibration-samples") + 1] == "120"
    with pytest.raises(SystemExit, match=r"^unknown bits configuration '3' \(params.yaml matrix "
                                         r"declares: 8, 4, 2\)$"):
        h.quantize_args(SimpleNamespace(bench="kws", bits="3"))


def test_layer_names_are_checked_against_the_benchmark_model():
    """Before any training: the benchmark's Keras model is built (untrained) to check them."""
    params = yaml.safe_load(yaml.safe_dump(PARAMS))
    layers = params["quantize"]["configs"]["4"]["layers"]
    layers.update({"depthwise_conv2d_*": 4, "conv2d_1": 2})
    kws4 = SimpleNamespace(bench="kws", bits="4")
    assert "conv2d_1" in Helpers.checked(params).quantize_args(kws4)
    layers["conv2d_9"] = 4
    with pytest.raises(SystemExit, match=r"^params.yaml: quantize.configs.4.layers: 'conv2d_9' "
                                         r"matches no layer; layers with weights: conv2d, "
                                         r"depthwise_conv2d, conv2d_1, .*dense .*\(the kws "
                                         r"model\)$"):
        Helpers.checked(params).quantize_args(kws4)


def test_emulated_board_arguments_come_from_its_device_entry():
    params = yaml.safe_load(yaml.safe_dump(PARAMS))
    params["matrix"]["devices"] = ["host", "m4", "m55"]
    h = Helpers.checked(params)
    m4, board = SimpleNamespace(bench="kws", device="m4", bits="8"), params["devices"]["m4"]["board"]
    build = shlex.split(h.build_args(m4))
    assert build[:2] == ["--port", "mps2-an386"] and "-mcpu=cortex-m4" in build[2]
    assert build[build.index("--flash-bytes") + 1] == str(board["flash_bytes"])
    assert build[build.index("--ram-bytes") + 1] == str(board["ram_bytes"])
    measure = shlex.split(h.measure_args(m4))
    for key, value in (("--transport", "qemu"), ("--qemu-machine", "mps2-an386"),
                       ("--latency-method", "instructions"), ("--clock-hz", "120000000"),
                       ("--power-w", "0.041"), ("--board", board["name"])):
        assert measure[measure.index(key) + 1] == value
    m55 = shlex.split(h.measure_args(SimpleNamespace(bench="kws", device="m55", bits="8")))
    assert "--power-w" not in m55 and "--power-source" in m55  # no calibrated power: no energy
    assert "--qemu-machine" not in shlex.split(h.measure_args(KWS_HOST_W8))


def test_physical_boards_are_measured_one_job_at_a_time():
    params = yaml.safe_load(yaml.safe_dump(PARAMS))
    assert "nucleo" not in params["matrix"]["devices"]  # no board here; still targetable
    h = Helpers.checked(params)
    res = h.measure_resources()
    # emulators and the host take only a core; `constraint` places the job on a cluster
    assert list(res) == ["board_nucleo", "constraint"]
    assert [res["board_nucleo"](SimpleNamespace(device=d)) for d in ("nucleo", "m4")] == [1, 0]
    registered = {}
    workflow = SimpleNamespace(global_resources={}, register_resource=registered.__setitem__)
    h.register_board_limits(workflow)
    assert registered == {"board_nucleo": 1}
    registered.clear()
    workflow.global_resources = {"board_nucleo": 2}  # --resources board_nucleo=2 wins
    h.register_board_limits(workflow)
    assert registered == {}


def test_measure_jobs_land_where_the_device_entry_says_on_a_cluster():
    params = yaml.safe_load(yaml.safe_dump(PARAMS))
    params["devices"]["m4"]["slurm"] = {"partition": "qemu", "constraint": "arm"}
    res = Helpers.checked(params).measure_resources()
    assert [(res["slurm_partition"](SimpleNamespace(device=d)), res["constraint"](SimpleNamespace(device=d)))
            for d in ("m4", "nucleo", "host")] == [("qemu", "arm"), (None, "nucleo-l4r5zi"), (None, None)]
    for device in params["devices"].values():  # no device names a place: no such resources
        device.pop("slurm", None)
    assert list(Helpers.checked(params).measure_resources()) == ["board_nucleo"]
    params["devices"]["m4"]["slurm"] = {"partition": "a b"}
    with pytest.raises(cfg.ConfigError, match="devices.m4.slurm.partition"):
        cfg.validate(params)


def test_real_board_arguments_come_from_its_device_entry():
    params = yaml.safe_load(yaml.safe_dump(PARAMS))
    h = Helpers.checked(params)
    nucleo = SimpleNamespace(bench="kws", device="nucleo", bits="8")
    build = shlex.split(h.build_args(nucleo))
    assert build[:2] == ["--port", "nucleo-l4r5zi"] and "--energy-mode" not in build
    assert build[build.index("--baud") + 1] == "115200"
    measure = shlex.split(h.measure_args(nucleo))
    for key, value in (("--transport", "serial"), ("--url", "/dev/ttyACM0"), ("--baud", "115200"),
                       ("--latency-method", "measured"), ("--power-w", "0.041")):
        assert measure[measure.index(key) + 1] == value
    assert "--clock-hz" not in measure and "--qemu-machine" not in measure
    params["devices"]["nucleo"].update(energy_mode=True, baud=9600)
    h = Helpers.checked(params)
    build = shlex.split(h.build_args(nucleo))
    assert "--energy-mode" in build and build[build.index("--baud") + 1] == "9600"
    with pytest.raises(SystemExit, match=r"devices.nucleo.energy_mode = true: .*EnergyRunner"):
        h.measure_inputs(nucleo)


def test_real_dataset_arguments_carry_url_and_checksum():
    params = yaml.safe_load(yaml.safe_dump(PARAMS))
    params["dataset"]["kws"]["source"] = "speech_commands"
    args = shlex.split(Helpers.checked(params).dataset_args(KWS_HOST_W8))
    assert args[args.index("--sha256") + 1] == params["dataset"]["kws"]["speech_commands"]["sha256"]


def test_ad_dataset_arguments():
    ad = SimpleNamespace(bench="ad", device="host", bits="8")
    params = yaml.safe_load(yaml.safe_dump(PARAMS))
    offline = shlex.split(Helpers.checked(params).dataset_args(ad))
    assert dict(zip(offline[::2], offline[1::2])) == {
        "--source": "offline", "--seed": "1", "--train-clips": "240", "--test-clips": "40",
        "--clip-seconds": "2.0"}
    params["dataset"]["ad"]["source"] = "toycar"
    with pytest.raises(SystemExit, match=r"dataset.ad.toycar.sha256 is not set: no sha256 is "
                                         r"published for dev_data_ToyCar.zip"):
        Helpers.checked(params)
    toycar = params["dataset"]["ad"]["toycar"]
    toycar.update(sha256="a" * 64, extra_sha256="b" * 64)
    args = shlex.split(Helpers.checked(params).dataset_args(ad))
    assert args[args.index("--sha256") + 1] == "a" * 64 and args[args.index("--test-clips") + 1] == "40"
    # every scalar of the section goes along (the benchmark ignores the offline-only ones)
    assert args[args.index("--extra-url") + 1] == toycar["extra_url"]
    assert Helpers.checked(params).profile(ad) == "ad01"


def test_bad_inputs_exit_with_one_line():
    with pytest.raises(SystemExit, match="matrix.bits names '5', which quantize.configs"):
        Helpers.checked({**PARAMS, "matrix": {**PARAMS["matrix"], "bits": [5]}})
    kws_only = {**PARAMS, "matrix": {**PARAMS["matrix"], "benchmarks": ["kws"]}}
    with pytest.raises(SystemExit, match="unknown benchmark 'ic'"):
        Helpers(kws_only).measure_inputs(SimpleNamespace(bench="ic", device="host", bits="8"))
    with pytest.raises(SystemExit, match="unknown benchmark 'ic'"):
        Helpers(kws_only).dataset_args(SimpleNamespace(bench="ic"))


def test_glob_markers_are_removed_and_results_kept(tmp_path):
    (tmp_path / "kws_*").write_text("")
    (tmp_path / "kws_host_w8").mkdir()
    (tmp_path / "summary.csv").write_text("")
    Helpers.remove_glob_markers(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["kws_host_w8", "summary.csv"]


def test_image_benchmark_arguments_and_per_benchmark_counts():
    params = yaml.safe_load(yaml.safe_dump(PARAMS))
    params["matrix"]["benchmarks"] = ["kws", "ic", "vww"]
    params["dataset"]["vww"]["source"] = "coco_vww"
    h = Helpers.checked(params)
    ic, vww = SimpleNamespace(bench="ic", bits="8"), SimpleNamespace(bench="vww", bits="8")
    args = shlex.split(h.dataset_args(ic))
    assert args[args.index("--source") + 1] == "offline" and "--url" not in args
    assert args[args.index("--test-fraction") + 1] == str(params["dataset"]["ic"]["test_fraction"])
    args = shlex.split(h.dataset_args(vww))
    assert args[args.index("--sha256") + 1] == params["dataset"]["vww"]["coco_vww"]["sha256"]
    assert "--images-per-class" in args
    train = shlex.split(h.train_args(vww))
    assert train[train.index("--flip") + 1] == "True" and "--lr-decay" in train
    assert "--samples 100" in h.testset_args(vww) and "--samples 0" in h.testset_args(KWS_HOST_W8)
    assert "--calibration-samples 200" in h.quantize_args(ic)
    params["measure"]["test_samples"] = 7                     # one number for all
    assert "--samples 7" in Helpers.checked(params).testset_args(vww)
    params["measure"]["test_samples"] = {"kws": 0}
    with pytest.raises(SystemExit, match="measure.test_samples has no value for ic"):
        Helpers.checked(params)


def test_ablation_tables_and_arguments():
    params = yaml.safe_load(yaml.safe_dump(PARAMS))
    params["matrix"]["benchmarks"] = ["kws", "ad"]
    params["report"]["ablation"] = {"benchmarks": ["kws", "ic"], "bits": 4,
                                    "calibration_sizes": [16, 500]}
    h = Helpers.checked(params)
    assert h.ablation_tables() == ["results/ablation/kws_w4.csv"]   # ic is not swept
    w = SimpleNamespace(bench="kws", bits="4")
    assert h.ablation_inputs(w) == {"script": "stages/ablation.py",
                                    "model": "models/kws/float.keras",
                                    "features": "data/datasets/kws/features.npz",
                                    "train_metrics": "models/kws/train.json"}
    args = shlex.split(h.ablation_args(w))
    assert args[args.index("--calibration-sizes") + 1] == "16,500"
    assert args[args.index("--calibration-samples") + 1] == str(
        params["quantize"]["calibration_samples"]["kws"])
    best = json.loads(args[args.index("--best") + 1])
    assert best == params["quantize"]["configs"]["4"]
    params["report"]["ablation"]["calibration_sizes"] = []
    args = shlex.split(Helpers.checked(params).ablation_args(w))
    assert args[args.index("--calibration-sizes") + 1] == ""
    del params["report"]["ablation"]
    assert Helpers.checked(params).ablation_tables() == []


def test_locks_of_a_killed_snakemake_are_released_unless_one_runs_here(tmp_path):
    import subprocess
    import time
    from pathlib import Path
    locks = tmp_path / ".snakemake" / "locks"
    locks.mkdir(parents=True)
    workflow = SimpleNamespace(is_main_process=True, execution_settings=None)
    other = subprocess.Popen(["bash", "-c", "exec -a snakemake sleep 30"], cwd=tmp_path)
    cmdline = Path(f"/proc/{other.pid}/cmdline")
    while not cmdline.read_bytes().startswith(b"snakemake"):
        time.sleep(0.01)
    try:
        (locks / "0.input.lock").write_text("")
        Helpers.release_stale_locks(workflow, tmp_path)
        assert (locks / "0.input.lock").exists()  # a Snakemake runs here: its lock stays
    finally:
        other.kill()
        other.wait()
    Helpers.release_stale_locks(workflow, tmp_path)
    assert not list(locks.iterdir())
