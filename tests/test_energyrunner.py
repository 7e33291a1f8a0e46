"""EnergyRunner folders, input quantization and the seeded stratified subset."""
import numpy as np
import pytest

from tinysweep import energyrunner as er


def test_write_read_round_trip(tmp_path):
    rows = [(er.sample_filename(i, i % 12, er.PROFILES["kws01"]), bytes([i]) * 490, i % 12)
            for i in range(5)]
    assert er.write_folder(tmp_path, rows, 12, 490) == 5
    assert (tmp_path / "y_labels.csv").read_text().splitlines()[:2] == [
        "tst_000000_down_0.bin,12,0", "tst_000001_go_1.bin,12,1"]
    got = er.read_folder(tmp_path, 490)
    assert [(s.file, s.data, s.label, s.num_classes) for s in got] == [
        (n, d, y, 12) for n, d, y in rows]
    assert len(er.folder_sha256(tmp_path)) == 64


def test_read_official_ad_style_extra_columns(tmp_path):
    (tmp_path / "a.bin").write_bytes(b"\0" * 8)
    (tmp_path / "y_labels.csv").write_text("a.bin,2,1,2560,512\n\n")
    [s] = er.read_folder(tmp_path)
    assert (s.num_classes, s.label, s.extra) == (2, 1, ("2560", "512"))


@pytest.mark.parametrize("csv, match", [
    ("a.bin,12\n", "expected 'file,num_classes,class'"),
    ("a.bin,12,x\n", "must be integers"),
    ("b.bin,12,1\n", "b.bin not found"),
    ("", "lists no samples"),
])
def test_read_errors(tmp_path, csv, match):
    (tmp_path / "a.bin").write_bytes(b"\0" * 490)
    (tmp_path / "y_labels.csv").write_text(csv)
    with pytest.raises((ValueError, FileNotFoundError), match=match):
        er.read_folder(tmp_path, 490)


def test_read_checks_sizes_and_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match="not an EnergyRunner folder"):
        er.read_folder(tmp_path)
    (tmp_path / "a.bin").write_bytes(b"\0" * 10)
    (tmp_path / "y_labels.csv").write_text("a.bin,12,1\n")
    with pytest.raises(ValueError, match="10 bytes, expected 490"):
        er.read_folder(tmp_path, 490)


def test_write_errors(tmp_path):
    with pytest.raises(ValueError, match="needs 490"):
        er.write_folder(tmp_path, [("a.bin", b"\0", 0)], 12, 490)
    with pytest.raises(ValueError, match="label 12 outside"):
        er.write_folder(tmp_path, [("a.bin", b"\0" * 490, 12)], 12, 490)
    with pytest.raises(ValueError, match="repeated"):
        er.write_folder(tmp_path, [("a.bin", b"\0", 0)] * 2, 12)
    with pytest.raises(ValueError, match="no samples"):
        er.write_folder(tmp_path, [], 12)


def test_quantize_rounds_half_away_from_zero_and_clamps():
    x = np.array([0.25, -0.25, 0.75, -0.75, 0.2, 100.0, -100.0], np.float32)
    # scale 0.5: x/scale = 0.5, -0.5, 1.5, -1.5, 0.4, 200, -200
    q = er.quantize_inputs(x, 0.5, 3)
    assert q.dtype == np.int8
    assert q.tolist() == [1 + 3, -1 + 3, 2 + 3, -2 + 3, 0 + 3, 127, -128]


def test_model_input_kinds():
    kws = er.model_input(bytes([0, 255, 128] + [0] * 487), er.PROFILES["kws01"])
    assert kws.shape == (49, 10, 1) and kws.reshape(-1)[:3].tolist() == [0, -1, -128]
    ic = er.model_input(bytes([0, 255, 128] + [0] * 3069), er.PROFILES["ic01"])
    assert ic.dtype == np.int8 and ic.reshape(-1)[:3].tolist() == [-128, 127, 0]


def test_stratified_subset():
    labels = np.array([0] * 60 + [1] * 30 + [2] * 10)
    a = er.stratified_subset(labels, 10, seed=3)
    assert np.array_equal(a, er.stratified_subset(labels, 10, seed=3))
    assert not np.array_equal(a, er.stratified_subset(labels, 10, seed=4))
    assert np.all(np.diff(a) > 0)
    assert np.bincount(labels[a]).tolist() == [6, 3, 1]
    # remainders: 7 of (60, 30, 10) -> exact 4.2, 2.1, 0.7 -> 4, 2, 1
    assert np.bincount(labels[er.stratified_subset(labels, 7, 0)]).tolist() == [4, 2, 1]
    assert er.stratified_subset(labels, 0, 0).tolist() == list(range(100))
    with pytest.raises(ValueError, match="asked for 101 samples, the split has 100"):
        er.stratified_subset(labels, 101, 0)


def test_profiles():
    assert er.profile("kws01").input_bytes == 490
    with pytest.raises(ValueError, match="unknown or unsupported profile 'xx01'"):
        er.profile("xx01")
