"""Keyword-spotting audio: 16-bit mono WAV I/O and the MLPerf Tiny KWS MFCC front end.

The MFCC follows mlcommons/tiny benchmark/training/keyword_spotting/get_dataset.py exactly:
each clip is divided by its peak (``wav / reduce_max(wav)``, not by 32768), zero-padded to
16,000 samples, ``tf.signal.stft`` (frame 480, step 320, FFT 512, periodic Hann, no padding →
49 frames), magnitude spectrum, 40 mel bins 20–4000 Hz, ``log(mel + 1e-6)``,
``tf.signal.mfccs_from_log_mel_spectrograms`` and the first 10 coefficients → [49, 10].
The only deviation: a clip whose maximum is ≤ 0 (all zeros) is left unscaled instead of
becoming NaN.
"""
import wave

import numpy as np

SAMPLE_RATE = 16000
CLIP_SAMPLES = 16000          # 1 s
FRAME_LENGTH = 480            # 30 ms
FRAME_STEP = 320              # 20 ms
FFT_LENGTH = 512
NUM_MEL_BINS = 40
LOWER_EDGE_HZ = 20.0
UPPER_EDGE_HZ = 4000.0
NUM_MFCC = 10
NUM_FRAMES = 1 + (CLIP_SAMPLES - FRAME_LENGTH) // FRAME_STEP   # 49
FEATURE_SHAPE = (NUM_FRAMES, NUM_MFCC)


def read_wav(path) -> tuple[np.ndarray, int]:
    """(int16 samples, sample rate) of a 16-bit PCM mono WAV file."""
    with wave.open(str(path), "rb") as w:
        if w.getsampwidth() != 2 or w.getnchannels() != 1:
            raise ValueError(f"{path}: expected 16-bit mono PCM, got {8 * w.getsampwidth()}-bit "
                             f"with {w.getnchannels()} channels")
        data = w.readframes(w.getnframes())
        return np.frombuffer(data, dtype="<i2").astype(np.int16), w.getframerate()


def wav_frames(path) -> int:
    """Number of samples in a WAV file, from its header."""
    with wave.open(str(path), "rb") as w:
        return w.getnframes()


def write_wav(path, samples: np.ndarray, rate: int = SAMPLE_RATE) -> None:
    """Write int16 samples as a 16-bit PCM mono WAV file (byte-for-byte deterministic)."""
    samples = np.asarray(samples)
    if samples.dtype != np.int16:
        raise TypeError(f"write_wav wants int16 samples, got {samples.dtype}")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(samples.astype("<i2").tobytes())


def fit_clip(samples: np.ndarray, start: int = 0, length: int = CLIP_SAMPLES) -> np.ndarray:
    """`length` samples from `start`, zero-padded at the end when the source is shorter."""
    out = np.zeros(length, dtype=samples.dtype)
    piece = samples[start:start + length]
    out[:len(piece)] = piece
    return out


_MFCC_FN = None


def _mfcc_fn():
    """The batched TF graph, traced once per process."""
    global _MFCC_FN
    if _MFCC_FN is None:
        from tinysweep.tfcompat import tf

        mel_matrix = tf.signal.linear_to_mel_weight_matrix(
            NUM_MEL_BINS, FFT_LENGTH // 2 + 1, SAMPLE_RATE, LOWER_EDGE_HZ, UPPER_EDGE_HZ)

        @tf.function(input_signature=[tf.TensorSpec([None, CLIP_SAMPLES], tf.float32)])
        def fn(wav):
            peak = tf.reduce_max(wav, axis=-1, keepdims=True)
            wav = wav / tf.where(peak > 0, peak, tf.ones_like(peak))
            stfts = tf.signal.stft(wav, frame_length=FRAME_LENGTH, frame_step=FRAME_STEP,
                                   fft_length=FFT_LENGTH, window_fn=tf.signal.hann_window)
            mel = tf.tensordot(tf.abs(stfts), mel_matrix, 1)
            log_mel = tf.math.log(mel + 1e-6)
            return tf.signal.mfccs_from_log_mel_spectrograms(log_mel)[..., :NUM_MFCC]

        _MFCC_FN = fn
    return _MFCC_FN


def mfcc(waveforms: np.ndarray, batch_size: int = 1024, progress=None) -> np.ndarray:
    """MLPerf Tiny KWS MFCCs of clips [N, 16000] (int16 or float, any scale): float32 [N, 49, 10].

    `progress`, if given, is called with the number of clips done after each batch."""
    waveforms = np.asarray(waveforms)
    if waveforms.ndim != 2 or waveforms.shape[1] != CLIP_SAMPLES:
        raise ValueError(f"mfcc wants clips of shape [N, {CLIP_SAMPLES}], got {waveforms.shape}")
    fn = _mfcc_fn()
    out = np.empty((len(waveforms), *FEATURE_SHAPE), dtype=np.float32)
    for i in range(0, len(waveforms), batch_size):
        batch = waveforms[i:i + batch_size].astype(np.float32)
        out[i:i + len(batch)] = fn(batch).numpy()
        if progress is not None:
            progress(len(batch))
    return out
