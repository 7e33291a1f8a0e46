"""The bad-input table: malformed inputs a user can hand tinysweep, each with the one-line error
it must get (the cause, and what to do), before work is wasted.

    pytest tests/test_bad_input.py          # every row of ROWS, plus a check of ELSEWHERE

A row is (id, kind, input, expected part of the message). Kinds:
  params   a change to the shipped params.yaml (key path, value or DELETE), as Snakemake loads it
  target   a result folder asked for, as the rules parse it
  cli      a command run as a user runs it: it fails, stderr is exactly one line (no traceback)
  keras    an external model file, as import_model loads it (in-process: TensorFlow is slow to
           start, and import_model's command line prints the same message)
Rows already tested beside the code they check are not run twice: ELSEWHERE lists them.
"""
import io
import random
import re
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path
from types import SimpleNamespace

import pytest

from tinysweep.workflow import Helpers

from test_config import PARAMS, with_change

REPO = Path(__file__).resolve().parents[1]
DELETE = KeyError   # with_change's marker of a key to delete

ROWS = [
    # -- params.yaml: wrong types, unknown keys, bad matrix values, bad device entries
    ("matrix-not-a-mapping", "params", (("matrix",), ["kws"]), "params.yaml: matrix = ['kws']: not of type 'object'"),
    ("bits-not-a-list", "params", (("matrix", "bits"), "eight"), "params.yaml: matrix.bits = 'eight': not of type 'array'"),
    ("bits-empty", "params", (("matrix", "bits"), []), "params.yaml: matrix.bits = []: [] should be non-empty"),
    ("bits-word", "params", (("matrix", "bits"), ["eight"]), "params.yaml: matrix.bits[0] = 'eight' is not a bits configuration name"),
    ("devices-not-names", "params", (("matrix", "devices"), [5]), "params.yaml: matrix.devices[0] = 5: not of type 'string'"),
    ("unknown-top-key", "params", (("colour",), "blue"), "params.yaml: unknown key colour (allowed: matrix, dataset, train, quantize, measure, devices, report, external)"),
    ("test-samples-word", "params", (("measure", "test_samples"), "all"), "params.yaml: measure.test_samples = 'all' is not a count (an integer, 0 = all) or one per benchmark"),
    ("calibration-word", "params", (("quantize", "calibration_samples"), "many"), "params.yaml: quantize.calibration_samples = 'many' is not a count (an integer >= 1) or one per benchmark"),
    ("timeout-zero", "params", (("measure", "timeout_s"), 0), "params.yaml: measure.timeout_s = 0: less than or equal to the minimum of 0"),
    ("no-devices", "params", (("devices",), {}), "params.yaml: devices = {}: {} should be non-empty"),
    ("device-id", "params", (("devices", "Bad Name"), {"transport": "pty"}), "params.yaml: devices has a key 'Bad Name', which is not a device id (lowercase letters and digits"),
    ("device-not-a-mapping", "params", (("devices", "host"), "pty"), "params.yaml: devices.host = 'pty': not of type 'object'"),
    ("device-no-transport", "params", (("devices", "host", "transport"), DELETE), "params.yaml: devices.host is missing the key 'transport'"),
    ("device-no-latency-method", "params", (("devices", "m4", "latency_method"), DELETE), "params.yaml: devices.m4 is missing the key 'latency_method'"),
    ("qemu-machine-unknown", "params", (("devices", "m4", "qemu_machine"), "mps2-an999"), "params.yaml: devices.m4.qemu_machine = 'mps2-an999' is not the machine of its port 'mps2-an386' (a port folder is one QEMU machine's memory map and UART): set qemu_machine: mps2-an386"),
    ("qemu-machine-missing", "params", (("devices", "m4", "qemu_machine"), DELETE), "params.yaml: devices.m4 is missing the key 'qemu_machine'"),
    ("flash-not-a-number", "params", (("devices", "m4", "board", "flash_bytes"), "2MB"), "params.yaml: devices.m4.board.flash_bytes = '2MB': not of type 'integer'"),
    ("ram-not-a-number", "params", (("devices", "m4", "board", "ram_bytes"), "lots"), "params.yaml: devices.m4.board.ram_bytes = 'lots': not of type 'integer'"),
    ("flash-negative", "params", (("devices", "m4", "board", "flash_bytes"), -1), "params.yaml: devices.m4.board.flash_bytes = -1: less than the minimum of 1"),
    ("clock-word", "params", (("devices", "m4", "clock_hz"), "fast"), "params.yaml: devices.m4.clock_hz = 'fast': not of type 'integer'"),
    ("cpi-scalar", "params", (("devices", "m4", "cpi"), 1.0), "params.yaml: devices.m4.cpi = 1.0: not of type 'object'"),
    ("baud-word", "params", (("devices", "nucleo", "baud"), "fast"), "params.yaml: devices.nucleo.baud = 'fast': not of type 'integer'"),
    ("url-number", "params", (("devices", "nucleo", "url"), 5), "params.yaml: devices.nucleo.url = 5: not of type 'string'"),
    # -- targets: every wrong part named at once, with what params.yaml allows
    ("target-all-wrong", "target", "foo_bar_w9", "target results/foo_bar_w9: unknown benchmark 'foo' (params.yaml matrix declares: kws, vww, ic, ad); unknown device 'bar' (params.yaml devices section defines: host, m4, m7, m33, m55, nucleo); unknown bits configuration '9' (params.yaml matrix declares: 8, 4, 2)"),
    ("target-device-and-bits", "target", "kws_m9_w3", "target results/kws_m9_w3: unknown device 'm9' (params.yaml devices section defines: host, m4, m7, m33, m55, nucleo); unknown bits configuration '3'"),
    ("snakemake-target", "cli", ["snakemake", "-n", "results/foo_bar_w9"], "target results/foo_bar_w9: unknown benchmark 'foo'"),
    # -- dataset archives, served by a local HTTP server (tests/test_download.py)
    ("archive-truncated-tar", "cli", ["dataset", "cut.tar.gz"], "cut.tar.gz is damaged (Compressed file ended before the end-of-stream marker was reached): delete it and run again to download it afresh, or check the sha256 pinned for it"),
    ("archive-truncated-zip", "cli", ["dataset", "cut.zip"], "cut.zip is neither a tar nor a zip archive, or is cut short: check the url and sha256 that name it in params.yaml"),
    ("archive-wrong-sha256", "cli", ["dataset", "wrongsha.tar.gz"], "checksum mismatch for wrongsha.tar.gz from http://127.0.0.1:"),
    ("archive-missing-members", "cli", ["dataset", "partial.tar.gz"], "is not a CIFAR-10 python folder: data_batch_2, data_batch_3, data_batch_4, data_batch_5, test_batch missing"),
    # -- model files
    ("tflite-truncated", "cli", ["convert", "cut"], "corrupt or truncated .tflite flatbuffer"),
    ("tflite-not-a-flatbuffer", "cli", ["convert", "text"], "not a .tflite flatbuffer (no TFL3 file identifier): give an int8 .tflite written by the TFLite converter"),
    ("tflite-other-schema", "cli", ["convert", "identifier"], "not a .tflite flatbuffer (no TFL3 file identifier)"),
    ("tflite-corrupt-root", "cli", ["convert", "root"], "corrupt or truncated .tflite flatbuffer"),
    ("keras-truncated", "keras", "cut", "file signature not found); save it again with model.save() (.keras or .h5) or give its SavedModel folder"),
    ("keras-no-weights", "keras", "noweights", "Expected a model.weights.h5 or model.weights.npz file.; save it again"),
    ("keras-bad-config", "keras", "badconfig", "cannot load the Keras model"),
    # -- EnergyRunner folders (y_labels.csv lines: file,num_classes,class[,...])
    ("labels-class-out-of-range", "cli", ["evaluate", "a.bin,12,15\n"], "y_labels.csv:1: class 15 is outside 0..11 (num_classes 12), got ['a.bin', '12', '15']"),
    ("labels-negative-class", "cli", ["evaluate", "a.bin,12,-1\n"], "y_labels.csv:1: class -1 is outside 0..11"),
    ("labels-missing", "cli", ["evaluate", None], "y_labels.csv not found: not an EnergyRunner folder"),
]

# Rows tested where the code lives (test file :: test, and how many inputs it covers).
ELSEWHERE = {
    "tests/test_config.py::test_bad_values_give_one_line": 30,   # params: enums, bits, ports, energy mode
    "tests/test_config.py::test_bad_yaml_names_the_line": 1,
    "tests/test_config.py::test_unknown_targets_are_named": 6,
    "tests/test_config.py::test_glob_matching_nothing": 1,
    "tests/test_workflow.py::test_unknown_targets_stop_with_one_line": 4,   # through snakemake
    "tests/test_workflow.py::test_invalid_params_stop_before_any_work": 1,
    "tests/test_external.py::test_params_errors_name_the_key_before_any_work": 1,
    "tests/test_external.py::test_wrong_model_input_and_unloadable_model": 2,
    "tests/test_download.py::test_checksum_mismatch_deletes_and_names_both_digests": 1,
    "tests/test_download.py::test_wrong_local_copy_is_deleted": 1,
    "tests/test_download.py::test_no_network_says_where_to_put_the_file": 1,
    "tests/test_download.py::test_http_error_and_bad_digest": 2,
    "tests/test_download.py::test_tar_refuses_members_escaping_the_target": 7,
    "tests/test_download.py::test_zip_refuses_traversal": 1,
    "tests/test_download.py::test_not_an_archive": 1,
    "tests/test_energyrunner.py::test_read_errors": 4,
    "tests/test_energyrunner.py::test_read_checks_sizes_and_folder": 2,
    "tests/codegen/test_reader.py::test_garbage_is_a_value_error": 3,
    "tests/codegen/test_generate.py::test_convert_stage_errors_are_one_line": 2,   # missing file, unsupported op (TANH)
    "tests/stages/test_back_stages.py::test_measure_failures_leave_nothing": 4,
}


def one_line(message: str, expected: str):
    assert "\n" not in message.strip() and "Traceback" not in message, message
    assert expected in message, message


def rows(kind):
    return [pytest.param(inp, expected, id=name) for name, k, inp, expected in ROWS if k == kind]


@pytest.mark.parametrize("change, expected", rows("params"))
def test_params(change, expected):
    with pytest.raises(SystemExit) as e:   # how Snakemake stops on it: Helpers.checked
        Helpers.checked(with_change(*change))
    one_line(str(e.value.code), expected)
    assert str(e.value.code).startswith(expected)


@pytest.mark.parametrize("target, expected", rows("target"))
def test_target(target, expected):
    bench, device, bits = re.fullmatch(r"([a-z0-9]+)_([a-z0-9]+)_w(\w+)", target).groups()
    with pytest.raises(SystemExit) as e:   # how the rules stop on it: Helpers.combination
        Helpers.checked(PARAMS).combination(SimpleNamespace(bench=bench, device=device, bits=bits))
    one_line(str(e.value.code), expected)


@pytest.fixture(scope="module")
def files(tmp_path_factory, small_kws_tflite):
    """The malformed inputs of the cli rows, and a server for the archives."""
    from test_download import Server
    root = tmp_path_factory.mktemp("bad")
    tflite = small_kws_tflite.read_bytes()
    models = {"cut": tflite[:len(tflite) // 3], "text": b"hello, not a model\n",
              "identifier": tflite[:4] + b"TOSA" + tflite[8:],
              "root": b"\xff\xff\xff\x7f" + tflite[4:]}
    for name, data in models.items():
        (root / f"{name}.tflite").write_bytes(data)
    partial = io.BytesIO()
    with tarfile.open(fileobj=partial, mode="w:gz") as tar:
        info = tarfile.TarInfo("cifar-10-batches-py/data_batch_1")
        info.size = 4
        tar.addfile(info, io.BytesIO(b"junk"))
    big = io.BytesIO()
    with tarfile.open(fileobj=big, mode="w:gz") as tar:
        info = tarfile.TarInfo("cifar-10-batches-py/data_batch_1")
        info.size = 50000
        tar.addfile(info, io.BytesIO(random.Random(0).randbytes(info.size)))  # incompressible
    whole_zip = io.BytesIO()
    with zipfile.ZipFile(whole_zip, "w") as zf:
        zf.writestr("cifar-10-batches-py/data_batch_1", b"junk" * 1000)
    server = Server()
    server.files = {"/partial.tar.gz": partial.getvalue(), "/wrongsha.tar.gz": partial.getvalue(),
                    "/cut.tar.gz": big.getvalue()[:len(big.getvalue()) // 2],
                    "/cut.zip": whole_zip.getvalue()[:200]}
    yield SimpleNamespace(root=root, tflite=small_kws_tflite, server=server)
    server.close()


def cli_argv(inp, files, tmp_path) -> tuple[list, Path]:
    """The command of a cli row and the folder it runs in."""
    from tinysweep.io import sha256_bytes
    kind, what = inp[0], inp[1]
    if kind == "dataset":
        data = files.server.files[f"/{what}"]
        digest = "0" * 64 if what.startswith("wrongsha") else sha256_bytes(data)
        return [sys.executable, str(REPO / "stages" / "dataset.py"), "--no-progress", "--benchmark",
                "ic", "--source", "cifar10", "--url", f"{files.server.url}/{what}", "--sha256", digest,
                "--download-dir", tmp_path / "downloads", "--out", tmp_path / "raw"], REPO
    if kind == "convert":
        return [sys.executable, str(REPO / "stages" / "convert.py"), "--model", files.root / f"{what}.tflite",
                "--profile", "kws01", "--out", tmp_path / "c"], REPO
    if kind == "evaluate":
        folder = tmp_path / "kws01"
        folder.mkdir()
        (folder / "a.bin").write_bytes(bytes(490))
        if what is not None:
            (folder / "y_labels.csv").write_text(what)
        return [sys.executable, "-m", "tinysweep", "evaluate", "--model", files.tflite, "--firmware",
                tmp_path / "no-firmware", "--testset", folder], REPO
    from test_workflow import make_clone   # a snakemake command: in a tiny clone
    return list(inp), make_clone(tmp_path / "clone")


@pytest.mark.parametrize("inp, expected", rows("cli"))
def test_cli(inp, expected, files, tmp_path):
    argv, cwd = cli_argv(inp, files, tmp_path)
    env = {"PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin", "PYTHONPATH": str(REPO),
           "HOME": str(tmp_path), "TF_CPP_MIN_LOG_LEVEL": "3"}
    p = subprocess.run([str(a) for a in argv], cwd=cwd, env=env, capture_output=True, text=True,
                       timeout=300)
    assert p.returncode != 0, p.stdout + p.stderr
    err = p.stderr.strip()
    if argv[0] == "snakemake":   # Snakemake's own banner comes first: the error is the last line
        assert "Traceback" not in err, err
        err = err.splitlines()[-1]
    one_line(err, expected)
    assert not (tmp_path / "raw").exists() and not (tmp_path / "c").exists()


@pytest.fixture(scope="module")
def keras_files(tmp_path_factory):
    """A real .keras file, cut short, without its weights and with a corrupt config."""
    from conftest import build_small_dscnn
    root = tmp_path_factory.mktemp("keras")
    build_small_dscnn().save(root / "whole.keras")
    data = (root / "whole.keras").read_bytes()
    (root / "cut.keras").write_bytes(data[:len(data) // 2])
    with zipfile.ZipFile(root / "whole.keras") as src:
        for name, skip, replace in (("noweights", "model.weights.h5", None),
                                    ("badconfig", None, "config.json")):
            with zipfile.ZipFile(root / f"{name}.keras", "w") as out:
                for member in src.namelist():
                    if member != skip:
                        out.writestr(member, b"{not json" if member == replace else src.read(member))
    return root


@pytest.mark.parametrize("name, expected", rows("keras"))
def test_keras(name, expected, keras_files):
    from tinysweep import external
    with pytest.raises(ValueError) as e:
        external.load_model(keras_files / f"{name}.keras")
    one_line(str(e.value), expected)


def test_rows_tested_elsewhere_exist():
    for ref in ELSEWHERE:
        path, name = ref.split("::")
        assert f"def {name}(" in (REPO / path).read_text(), ref
