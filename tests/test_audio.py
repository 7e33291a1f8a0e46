"""The KWS front end: WAV I/O and the MLPerf Tiny MFCC, checked against an independent numpy one."""
import numpy as np
import pytest
from scipy.fft import dct

from tinysweep import audio


def _hz_to_mel(f):
    return 1127.0 * np.log1p(np.asarray(f, dtype=np.float64) / 700.0)


def _mel_matrix(num_mel=40, num_bins=257, rate=16000, lo=20.0, hi=4000.0):
    """HTK triangles on the mel scale, DC bin zeroed: the definition TF documents."""
    bins_mel = _hz_to_mel(np.linspace(0, rate / 2, num_bins))[1:, None]
    edges = np.linspace(_hz_to_mel(lo), _hz_to_mel(hi), num_mel + 2)
    lower, center, upper = edges[:-2], edges[1:-1], edges[2:]
    w = np.maximum(0, np.minimum((bins_mel - lower) / (center - lower),
                                 (upper - bins_mel) / (upper - center)))
    return np.vstack([np.zeros((1, num_mel)), w])


def reference_mfcc(clip):
    """The MLPerf recipe written out in numpy/scipy, one clip, float64."""
    x = np.asarray(clip, dtype=np.float64)
    x = x / x.max()                                   # reduce_max, not the absolute peak
    n = np.arange(480)
    window = 0.5 - 0.5 * np.cos(2 * np.pi * n / 480)  # periodic Hann
    frames = np.stack([x[i * 320:i * 320 + 480] * window for i in range(49)])
    spectrum = np.abs(np.fft.rfft(frames, 512))
    log_mel = np.log(spectrum @ _mel_matrix() + 1e-6)
    return dct(log_mel, type=2, axis=-1)[:, :10] / np.sqrt(2 * 40)


@pytest.fixture(scope="module")
def clips():
    rng = np.random.default_rng(0)
    t = np.arange(16000) / 16000
    tone = 8000 * np.sin(2 * np.pi * 440 * t) * np.hanning(16000)
    noisy = tone + rng.normal(0, 300, 16000)
    chirp = 12000 * np.sin(2 * np.pi * (100 + 1500 * t) * t)
    return np.round(np.stack([noisy, chirp, rng.normal(0, 2000, 16000)])).astype(np.int16)


def test_constants_give_the_mlperf_shape():
    assert audio.FEATURE_SHAPE == (49, 10)
    assert (audio.FRAME_LENGTH, audio.FRAME_STEP, audio.FFT_LENGTH) == (480, 320, 512)


def test_mfcc_matches_an_independent_implementation(clips):
    got = audio.mfcc(clips)
    assert got.shape == (3, 49, 10) and got.dtype == np.float32
    # float32 round-off (TF) vs float64 (numpy) is amplified by the log where mel energy is
    # tiny: differences stay below 0.01, against an int8 input step of ~0.3-0.6
    for clip, g in zip(clips, got):
        np.testing.assert_allclose(g, reference_mfcc(clip), rtol=1e-3, atol=1e-2)


def test_mfcc_is_peak_normalised_and_batch_independent(clips):
    base = audio.mfcc(clips)
    np.testing.assert_allclose(audio.mfcc(clips.astype(np.float32) * 0.01), base, atol=1e-2)
    np.testing.assert_allclose(audio.mfcc(clips, batch_size=1), base, atol=1e-2)
    # negating a clip keeps its spectrum but changes its maximum, i.e. only the overall level:
    # coefficient 0 alone moves
    flipped = audio.mfcc(-clips[:1])
    np.testing.assert_allclose(flipped[..., 1:], base[:1, :, 1:], atol=1e-2)


def test_mfcc_of_silence_is_finite_and_shape_is_checked():
    assert np.isfinite(audio.mfcc(np.zeros((1, 16000), np.int16))).all()
    with pytest.raises(ValueError, match=r"\[N, 16000\]"):
        audio.mfcc(np.zeros((2, 8000)))


def test_mfcc_reports_progress(clips):
    seen = []
    audio.mfcc(clips, batch_size=2, progress=seen.append)
    assert seen == [2, 1]


def test_wav_round_trip_and_fit_clip(tmp_path):
    x = np.arange(-500, 500, dtype=np.int16)
    audio.write_wav(tmp_path / "a.wav", x)
    y, rate = audio.read_wav(tmp_path / "a.wav")
    assert rate == 16000 and np.array_equal(x, y)
    assert audio.wav_frames(tmp_path / "a.wav") == 1000
    clip = audio.fit_clip(y, start=900)
    assert clip.shape == (16000,) and np.array_equal(clip[:100], x[900:]) and not clip[100:].any()
    with pytest.raises(TypeError):
        audio.write_wav(tmp_path / "b.wav", x.astype(np.float32))


def test_read_wav_refuses_stereo(tmp_path):
    import wave
    with wave.open(str(tmp_path / "s.wav"), "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes(b"\0" * 400)
    with pytest.raises(ValueError, match="mono"):
        audio.read_wav(tmp_path / "s.wav")
