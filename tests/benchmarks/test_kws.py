"""KWS benchmark: classes, offline synthesis, Speech Commands manifest, DS-CNN and recipe."""
import csv
import subprocess

import numpy as np
import pytest

from tinysweep import audio
from tinysweep.benchmarks import InputError, check_recipe, get, kws, step_learning_rate


def test_registry_and_mlperf_class_order():
    assert get("kws") is kws
    with pytest.raises(InputError, match="unknown benchmark 'nope'"):
        get("nope")
    assert kws.CLASSES == ("down", "go", "left", "no", "off", "on", "right", "stop", "up",
                           "yes", "silence", "unknown")
    assert not set(kws.UNKNOWN_WORDS) & set(kws.KEYWORDS) and len(kws.UNKNOWN_WORDS) == 25


def test_split_counts():
    assert kws.split_counts(8) == {"train": 6, "val": 1, "test": 1}
    assert kws.split_counts(1500) == {"train": 1200, "val": 150, "test": 150}
    with pytest.raises(InputError, match="at least 3"):
        kws.split_counts(2)


def test_voices_are_split_by_voice_and_accent():
    v = kws.split_voices(0)
    all_voices = {f"{a}+{x}" for a in kws.ACCENTS for x in kws.VARIANTS}
    assert set(v["train"]) | set(v["val"]) | set(v["test"]) == all_voices
    assert sum(map(len, v.values())) == len(all_voices)             # disjoint
    for split in kws.SPLITS:                                        # every accent everywhere
        assert {x.split("+")[0] for x in v[split]} == set(kws.ACCENTS)
    assert len(v["test"]) == len(v["val"]) == 8 * 10
    assert v == kws.split_voices(0) and v != kws.split_voices(1)


def test_plan_is_deterministic_and_respects_the_split():
    plan = kws.plan_offline(10, seed=3)
    assert plan == kws.plan_offline(10, seed=3) and plan != kws.plan_offline(10, seed=4)
    assert len(plan) == 120 and [s.index for s in plan] == list(range(120))
    voices = kws.split_voices(3)
    for s in plan:
        assert kws.SPEED_WPM[0] <= s.speed <= kws.SPEED_WPM[1]
        assert kws.PITCH[0] <= s.pitch <= kws.PITCH[1] and 0 <= s.snr_db <= 45
        if s.label == "silence":
            assert s.word == s.voice == ""
        else:
            assert s.voice in voices[s.split]
            assert s.word == s.label or (s.label == "unknown" and s.word in kws.UNKNOWN_WORDS)
            assert s.text.rstrip(".!?,") == s.word


def test_every_voice_exists_in_espeak_ng():
    for accent in kws.ACCENTS:
        assert len(kws.espeak("yes", f"{accent}+m1", 160, 50)) > 2000
    for variant in kws.VARIANTS:
        r = subprocess.run(["espeak-ng", "-v", f"en-us+{variant}", "-q", "x"], capture_output=True)
        assert r.returncode == 0 and not r.stderr, variant


def test_noise_kinds():
    rng = np.random.default_rng(0)
    low = {}
    for kind in kws.NOISES:
        x = kws.make_noise(kind, 16000, rng)
        assert np.sqrt(np.mean(x ** 2)) == pytest.approx(1.0)
        p = np.abs(np.fft.rfft(x)) ** 2
        low[kind] = p[:500].sum() / p.sum()                       # share below 500 Hz
    assert low["white"] < low["pink"] < low["brown"]
    assert low["hum"] > 0.9


def test_render_is_deterministic_and_levels_are_right():
    plan = kws.plan_offline(3, seed=0)
    word = next(s for s in plan if s.label == "yes")
    silence = next(s for s in plan if s.label == "silence")
    a, b = kws.render(word), kws.render(word)
    assert a.dtype == np.int16 and a.shape == (16000,) and np.array_equal(a, b)
    assert np.abs(a).max() == round(word.gain * 32767)
    quiet = kws.render(kws.ClipSpec(**{**word.__dict__, "snr_db": 45.0}))
    loud_noise = kws.render(kws.ClipSpec(**{**word.__dict__, "snr_db": 0.0}))
    # at 0 dB the noise floor (10 ms away from the word) is far higher than at 45 dB
    head = slice(0, 160) if word.place > 0.5 else slice(-160, None)
    assert np.abs(loud_noise[head]).mean() > 20 * np.abs(quiet[head]).mean()
    assert np.abs(kws.render(silence)).max() == round(silence.gain * 32767)


def test_make_offline_writes_clips_and_manifest(tmp_path):
    summary = kws.make_offline(tmp_path / "a", 3, seed=1, progress=False)
    assert summary["counts"]["train"] == dict.fromkeys(kws.CLASSES, 1)
    rows = list(csv.DictReader(open(tmp_path / "a" / "manifest.csv")))
    assert len(rows) == 36 and tuple(rows[0]) == kws.MANIFEST_COLUMNS
    clip, rate = audio.read_wav(tmp_path / "a" / rows[0]["path"])
    assert rate == 16000 and clip.shape == (16000,)
    kws.make_offline(tmp_path / "b", 3, seed=1, progress=False)
    for r in rows:                                                  # byte-identical rerun
        assert (tmp_path / "a" / r["path"]).read_bytes() == (tmp_path / "b" / r["path"]).read_bytes()
    feats = kws.make_features(tmp_path / "a", progress=False)
    assert feats["x_train"].shape == (12, 49, 10, 1) and feats["x_train"].dtype == np.float32
    assert feats["y_test"].dtype == np.int64 and sorted(feats["y_test"]) == list(range(12))
    assert list(feats["classes"]) == list(kws.CLASSES)


def make_fake_speech_commands(root, words=("yes", "no", "cat", "dog"), per_word=20):
    """A tiny folder shaped like Speech Commands v2."""
    rng = np.random.default_rng(0)
    val, test = [], []
    for w in words:
        (root / w).mkdir(parents=True)
        for i in range(per_word):
            name = f"{w}/spk{i % 7:02d}_nohash_{i}.wav"
            audio.write_wav(root / name, rng.integers(-3000, 3000, 12000 + 100 * i).astype(np.int16))
            (val if i % 5 == 1 else test if i % 5 == 2 else []).append(name)
    (root / "validation_list.txt").write_text("\n".join(val) + "\n")
    (root / "testing_list.txt").write_text("\n".join(test) + "\n")
    (root / kws.BACKGROUND).mkdir()
    for name in ("white_noise", "running_tap"):
        audio.write_wav(root / kws.BACKGROUND / f"{name}.wav",
                        rng.integers(-1000, 1000, 16000 * 20).astype(np.int16))
    (root / kws.BACKGROUND / "README.md").write_text("noise")
    return root


def test_speech_commands_manifest(tmp_path):
    root = make_fake_speech_commands(tmp_path / "sc")
    rows = kws.speech_commands_manifest(root, seed=0, prefix="sc/")
    assert rows == kws.speech_commands_manifest(root, seed=0, prefix="sc/")
    val_list = set((root / "validation_list.txt").read_text().split())
    by = {s: [r for r in rows if r["split"] == s] for s in kws.SPLITS}
    for r in rows:
        assert r["path"].startswith("sc/")
        if r["label"] != "silence":
            assert (r["path"][3:] in val_list) == (r["split"] == "val")
    for s, part in by.items():
        known = sum(r["label"] in kws.KEYWORDS for r in part)
        assert known == {"train": 24, "val": 8, "test": 8}[s]
        assert sum(r["label"] == "unknown" for r in part) == int(np.ceil(0.1 * known))
        silence = [r for r in part if r["label"] == "silence"]
        assert len(silence) == int(np.ceil(0.1 * known))
        lo, hi = kws.NOISE_SPANS[s]
        for r in silence:                                  # noise seconds never shared
            assert lo * 320000 <= r["start"] <= max(lo * 320000, hi * 320000 - 16000)
    assert rows[0]["speaker"] == "spk00" and rows[0]["word"] == "no"
    with pytest.raises(InputError, match="validation_list.txt is missing"):
        kws.speech_commands_manifest(tmp_path, seed=0)


def test_dscnn_is_the_reference_architecture():
    model = kws.build_dscnn()
    assert model.input_shape == (None, 49, 10, 1) and model.output_shape == (None, 12)
    assert model.count_params() == 24_908
    bn = sum(l.count_params() for l in model.layers if "batch_normalization" in l.name)
    assert model.count_params() - bn == 22_604              # MLPerf's "22.6 k" (BN folded)
    pool = next(l for l in model.layers if "average_pooling" in l.name)
    assert pool.pool_size == (24, 5) and pool.input_shape[1:] == (25, 5, 64)
    kinds = [type(l).__name__ for l in model.layers]
    assert kinds.count("DepthwiseConv2D") == 4 and kinds.count("Conv2D") == 5
    assert kinds.count("Dropout") == 2 and len(model.losses) == 5    # L2 on the 5 Conv2D


def test_learning_rate_schedule():
    lrs, bounds = (5e-4, 1e-4, 2e-5), (12, 24)
    assert [step_learning_rate(e, lrs, bounds) for e in (0, 11, 12, 23, 24, 40)] == \
        [5e-4, 5e-4, 1e-4, 1e-4, 2e-5, 2e-5]
    check_recipe(36, 100, lrs, bounds)
    for bad in ((1, 1, (1e-3,), (5,)), (1, 1, (1e-3, 1e-4, 1e-5), (5, 3)),
                (1, 1, (1e-3, -1.0), (4,)), (0, 1, (1e-3,), ()), (1, 0, (1e-3,), ())):
        with pytest.raises(InputError):
            check_recipe(*bad)


def test_training_is_deterministic():
    rng = np.random.default_rng(0)
    feats = {"classes": np.array(kws.CLASSES)}
    for s, n in (("train", 48), ("val", 12), ("test", 12)):
        feats[f"x_{s}"] = rng.normal(0, 5, (n, 49, 10, 1)).astype(np.float32)
        feats[f"y_{s}"] = rng.integers(0, 12, n)
    runs = [kws.train(feats, epochs=2, batch_size=16, learning_rates=[1e-3, 1e-4],
                      lr_boundaries=[1], seed=7, progress=False) for _ in range(2)]
    for w1, w2 in zip(runs[0][0].get_weights(), runs[1][0].get_weights()):
        np.testing.assert_array_equal(w1, w2)
    m = runs[0][1]
    assert m["history"]["lr"] == pytest.approx([1e-3, 1e-4])
    assert m["samples"] == {"train": 48, "val": 12, "test": 12} and 0 <= m["test_accuracy"] <= 1


def test_manifest_is_checked(tmp_path):
    with pytest.raises(InputError, match="not found"):
        kws.read_manifest(tmp_path)
    (tmp_path / "manifest.csv").write_text("path,label,split\na.wav,yes,train\n")
    with pytest.raises(InputError, match="lacks the column"):
        kws.read_manifest(tmp_path)
    (tmp_path / "manifest.csv").write_text("path,start,label,split\na.wav,0,maybe,train\n")
    with pytest.raises(InputError, match=r"manifest.csv:2: bad label 'maybe'"):
        kws.read_manifest(tmp_path)
