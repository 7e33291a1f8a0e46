"""Image benchmarks (ic, vww): class orders, offline sets, real archives from a local server."""
import hashlib
import io
import json
import pickle
import socket
import tarfile

import numpy as np
import pytest

from test_download import Server
from tinysweep.benchmarks import InputError, get, ic, images, vww
from tinysweep.download import DatasetMissing


def test_registry_and_mlperf_class_order():
    assert get("ic") is ic and get("vww") is vww
    assert ic.CLASSES == ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog",
                          "horse", "ship", "truck")
    assert vww.CLASSES == ("non_person", "person")          # MLPerf: 1 = person


def test_stratified_split():
    labels = np.repeat(np.arange(3), [20, 10, 40])
    split = images.stratified_split(labels, 0.1, 0.2, seed=4)
    assert np.array_equal(split, images.stratified_split(labels, 0.1, 0.2, seed=4))
    for c, n in enumerate((20, 10, 40)):
        got = {s: int(np.sum((labels == c) & (split == s))) for s in images.SPLITS}
        assert got == {"val": max(1, round(0.1 * n)), "test": round(0.2 * n),
                       "train": n - max(1, round(0.1 * n)) - round(0.2 * n)}
    with pytest.raises(InputError, match="too few"):
        images.stratified_split(np.zeros(2), 0.1, 0.1, 0)


def _raw_files(folder):
    return {p.name: p.read_bytes() for p in folder.iterdir()}


def test_ic_offline_is_deterministic_digits(tmp_path):
    summary = ic.make_dataset(tmp_path / "a", "offline", seed=2)
    (tmp_path / "a" / "dataset.json").write_text(json.dumps(summary))
    assert summary["source"] == "offline" and "load_digits" in summary["origin"]
    assert sum(sum(c.values()) for c in summary["counts"].values()) == 1797
    ic.make_dataset(tmp_path / "b", "offline", seed=2)
    assert _raw_files(tmp_path / "a")["images.npz"] == _raw_files(tmp_path / "b")["images.npz"]
    f = ic.make_features(tmp_path / "a")
    assert f["x_train"].shape[1:] == (32, 32, 3) and f["x_train"].dtype == np.float32
    assert f["x_test"].min() == 0 and f["x_test"].max() == 255 and float(f["pixel_scale"]) == 1
    assert sorted(set(f["y_test"])) == list(range(10)) and list(f["classes"]) == list(ic.CLASSES)
    assert str(f["dataset"]).startswith("stand-in: scikit-learn's handwritten digits")


def test_vww_offline_scenes(tmp_path):
    summary = vww.make_dataset(tmp_path / "a", "offline", seed=3, images_per_class=10,
                               progress=False)
    (tmp_path / "a" / "dataset.json").write_text(json.dumps(summary))
    assert summary["counts"]["test"] == {"non_person": 2, "person": 2}
    a = vww.render_scene(3, 5, True)
    assert a.shape == (96, 96, 3) and a.dtype == np.uint8
    assert np.array_equal(a, vww.render_scene(3, 5, True))
    assert not np.array_equal(a, vww.render_scene(3, 5, False))
    f = vww.make_features(tmp_path / "a")
    assert f["x_val"].shape == (2, 96, 96, 3) and 0 <= f["x_val"].min() and f["x_val"].max() <= 1
    assert float(f["pixel_scale"]) == pytest.approx(1 / 255)
    assert str(f["dataset"]).startswith("synthetic: procedurally rendered scenes")
    with pytest.raises(InputError, match="unknown source 'coco' for vww"):
        vww.make_dataset(tmp_path / "c", "coco", seed=0)


# ------------------------------------------------------------------ real archives, local server
def _tar_gz(files: dict) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def fake_cifar10(per_batch=20, seed=0):
    """A tiny cifar-10-python.tar.gz with the real layout; returns (bytes, train, test)."""
    rng = np.random.default_rng(seed)
    files, parts = {}, {}
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        data = rng.integers(0, 256, (per_batch, 3072), dtype=np.uint8)
        labels = [int(v) for v in np.arange(per_batch) % 10]
        files[f"cifar-10-batches-py/{name}"] = pickle.dumps(
            {b"batch_label": name.encode(), b"labels": labels, b"data": data,
             b"filenames": [b"x.png"] * per_batch})
        parts[name] = (data, labels)
    files["cifar-10-batches-py/batches.meta"] = pickle.dumps(
        {b"label_names": [c.encode() for c in ic.CLASSES], b"num_vis": 3072})
    return _tar_gz(files), parts


@pytest.fixture
def server():
    s = Server()
    yield s
    s.close()


def test_cifar10_download_layout_and_splits(server, tmp_path):
    archive, parts = fake_cifar10()
    server.files["/cifar-10-python.tar.gz"] = archive
    digest = hashlib.sha256(archive).hexdigest()
    out = tmp_path / "raw"
    out.mkdir()
    summary = ic.make_dataset(out, "cifar10", seed=0, val_fraction=0.1,
                              url=server.url + "/cifar-10-python.tar.gz", sha256=digest,
                              download_dir=tmp_path / "dl", progress=False)
    assert summary["counts"]["test"] == dict.fromkeys(ic.CLASSES, 2)
    assert sum(summary["counts"]["val"].values()) == 10               # one per class
    assert (tmp_path / "dl" / "cifar-10-python.tar.gz").is_file()
    assert [p.name for p in (tmp_path / "dl").iterdir()] == ["cifar-10-python.tar.gz"]
    with np.load(out / "images.npz") as f:
        x, y, split = f["images"], f["labels"], f["split"]
    data, labels = parts["test_batch"]
    planar = data.reshape(-1, 3, 32, 32)
    assert np.array_equal(x[split == "test"][:, 4, 7], planar[:, :, 4, 7])   # HWC from planar
    assert list(y[split == "test"]) == labels and len(y) == 120
    # offline now: the archive is verified from disk, no request
    requests = len(server.requests)
    del server.files["/cifar-10-python.tar.gz"]
    (tmp_path / "again").mkdir()
    ic.make_dataset(tmp_path / "again", "cifar10", seed=0,
                    url=server.url + "/cifar-10-python.tar.gz", sha256=digest, download_dir=tmp_path / "dl", progress=False)
    assert len(server.requests) == requests
    assert (tmp_path / "again" / "images.npz").read_bytes() == (out / "images.npz").read_bytes()


def test_missing_dataset_says_where_to_put_it(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(DatasetMissing) as e:
        ic.make_dataset(tmp_path, "cifar10", seed=0, url=f"http://127.0.0.1:{port}/"
                        "cifar-10-python.tar.gz", sha256="0" * 64, download_dir=tmp_path / "dl",
                        progress=False)
    assert str(e.value).startswith("dataset CIFAR-10 is not present; connect to the network or "
                                   f"put cifar-10-python.tar.gz at {tmp_path / 'dl'}")
    with pytest.raises(InputError, match="needs --url, --sha256 and --download-dir"):
        vww.make_dataset(tmp_path, "coco_vww", seed=0)


def fake_vww(per_class=6, seed=0):
    """A tiny vw_coco2014_96.tar.gz: person/ and non_person/ JPEGs, one not 96x96."""
    from PIL import Image
    rng = np.random.default_rng(seed)
    files = {}
    for name in ("person", "non_person"):
        for i in range(per_class):
            size = (96, 96) if i else (120, 80)
            buf = io.BytesIO()
            Image.fromarray(rng.integers(0, 256, size[::-1] + (3,), dtype=np.uint8)).save(
                buf, "JPEG")
            files[f"vw_coco2014_96/{name}/COCO_train2014_{i:012d}.jpg"] = buf.getvalue()
    return _tar_gz(files)


def test_coco_vww_download_and_cap(server, tmp_path):
    archive = fake_vww()
    server.files["/vw_coco2014_96.tar.gz"] = archive
    out = tmp_path / "raw"
    out.mkdir()
    summary = vww.make_dataset(out, "coco_vww", seed=0, images_per_class=5, val_fraction=0.2,
                               test_fraction=0.2, url=server.url + "/vw_coco2014_96.tar.gz",
                               sha256=hashlib.sha256(archive).hexdigest(),
                               download_dir=tmp_path / "dl", progress=False)
    assert summary["counts"] == {s: {"non_person": n, "person": n}
                                 for s, n in (("train", 3), ("val", 1), ("test", 1))}
    with np.load(out / "images.npz") as f:
        assert f["images"].shape == (10, 96, 96, 3) and list(f["labels"]) == [0] * 5 + [1] * 5
    broken = _tar_gz({"vw/other/a.jpg": b"x"})
    server.files["/broken.tar.gz"] = broken
    with pytest.raises(InputError, match="no person/ and non_person/ folders"):
        vww.make_dataset(out, "coco_vww", seed=0, url=server.url + "/broken.tar.gz",
                         sha256=hashlib.sha256(broken).hexdigest(), download_dir=tmp_path / "dl",
                         progress=False)


def test_stage_options_are_the_benchmarks_own():
    from tinysweep.benchmarks import parse_with_options
    from tinysweep.cli import Parser

    def parser():
        p = Parser(prog="train")
        p.add_argument("--benchmark", required=True)
        return p

    a, module, given = parse_with_options(parser(), ["--benchmark", "ic", "--flip", "false",
                                                     "--shift", "0.1"], "TRAIN_OPTIONS")
    assert module is ic and given == {"flip": False, "shift": 0.1}
    with pytest.raises(SystemExit):                          # kws declares no augmentation
        parse_with_options(parser(), ["--benchmark", "kws", "--flip", "true"], "TRAIN_OPTIONS")
