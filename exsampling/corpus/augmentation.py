"""Variants of an original sound, as phones in rooms would record it, cut like a live recording."""
from __future__ import annotations

import numpy as np

from .. import audio
from .origin import Origin


def room_ir(rng: np.random.Generator, sr: int, rt60_s: float) -> np.ndarray:
    """A synthetic room impulse response: the direct sound, then noise decaying 60 dB over ``rt60_s`` s."""
    n = int(sr * rt60_s)
    t = np.arange(n) / sr
    tail = rng.standard_normal(n) * 10 ** (-3 * t / rt60_s)
    tail *= float(rng.uniform(0.05, 0.4)) / max(1e-9, np.sqrt(np.sum(tail ** 2)) / 10)
    tail[0] = 1.0
    return tail.astype(np.float32)


def coloured_noise(rng: np.random.Generator, n: int, exponent: float) -> np.ndarray:
    """Noise of length ``n`` whose power falls as f**-exponent (0 white, 1 pink, 2 brown), unit RMS."""
    spec = np.fft.rfft(rng.standard_normal(n))
    f = np.maximum(np.arange(len(spec)), 1)
    y = np.fft.irfft(spec / f ** (exponent / 2), n)
    return (y / (np.sqrt(np.mean(y ** 2)) + 1e-12)).astype(np.float32)


def pattern(y: np.ndarray, rng: np.random.Generator, sr: int) -> np.ndarray:
    """Repeat a one-shot 2–8 times at a steady or loose rhythm, as someone knocking or tapping would."""
    hits = int(rng.integers(2, 9))
    step = rng.uniform(0.15, 0.8)
    starts = [max(0, int(sr * (i * step + (rng.normal(0, 0.02) if i else 0.0)))) for i in range(hits)]
    out = np.zeros(max(starts) + len(y), dtype=np.float32)
    for s in starts:
        out[s:s + len(y)] += y * float(10 ** (rng.uniform(-6, 0) / 20))
    return out


def fit_texture(y: np.ndarray, rng: np.random.Generator, sr: int) -> np.ndarray:
    """Loop (with short crossfades) or crop a texture to a random 1–6 s."""
    want = int(sr * rng.uniform(1.0, 6.0))
    if len(y) >= want:
        start = int(rng.integers(0, len(y) - want + 1))
        return y[start:start + want]
    fade = min(len(y) // 4, int(0.05 * sr))
    ramp = np.linspace(0, 1, fade, dtype=np.float32) if fade else np.zeros(0, np.float32)
    out = y.copy()
    while len(out) < want:
        if fade:
            out[-fade:] = out[-fade:] * ramp[::-1] + y[:fade] * ramp
        out = np.concatenate([out, y[fade:]])
    return out[:want]


def augment(o: Origin, rng: np.random.Generator, sr: int) -> np.ndarray:
    """One variant of ``o``: speed, repetition/length, room, phone band, noise and level, all random.

    Returns mono float32 at ``sr`` Hz, peak between −20 and −1 dBFS, not yet trimmed.
    """
    import scipy.signal  # here, not at the top: it costs ≈ 0.5 s on every `exsampling` command otherwise

    y: np.ndarray = o.y.astype(np.float32)
    if o.kind == "recording" and o.split == "test":  # what a participant records is measured as recorded
        return y
    if o.kind != "note" and rng.random() < 0.5:  # ±1.7 semitones of speed change for unpitched sounds
        factor = float(rng.uniform(0.9, 1.1))
        y = scipy.signal.resample(y, max(16, int(len(y) * factor))).astype(np.float32)
    if o.kind == "hit" and rng.random() < 0.5:
        y = pattern(y, rng, sr)
    elif o.kind == "texture":
        y = fit_texture(y, rng, sr)
    if rng.random() < 0.6:
        y = scipy.signal.fftconvolve(y, room_ir(rng, sr, float(rng.uniform(0.15, 1.0))))[: len(y) + sr // 2]
    if rng.random() < 0.7:  # a phone's microphone: little below 100–300 Hz, little above 4–10 kHz
        lo, hi = float(rng.uniform(80, 300)), float(rng.uniform(4000, 10000))
        sos = scipy.signal.butter(2, [lo, min(hi, 0.45 * sr)], btype="band", fs=sr, output="sos")
        y = scipy.signal.sosfilt(sos, y)
    y = np.asarray(y, dtype=np.float32)
    peak = float(np.max(np.abs(y))) or 1.0
    y = y / peak
    if rng.random() < 0.7:
        active = y[np.abs(y) > 0.05]
        rms = float(np.sqrt(np.mean(active ** 2))) if active.size else 0.1
        snr_db = float(rng.uniform(15, 45))
        y = y + coloured_noise(rng, len(y), float(rng.choice([0.0, 1.0, 2.0]))) * rms * 10 ** (-snr_db / 20)
    y = y / (float(np.max(np.abs(y))) or 1.0)
    return (y * 10 ** (rng.uniform(-20, -1) / 20)).astype(np.float32)


def cut_like_live(y: np.ndarray, sr: int, segment_s: float, min_tail_s: float, top_db: float,
                  silence_floor_dbfs: float) -> list[np.ndarray]:
    """Trim and cut into ≤ ``segment_s`` pieces with :func:`exsampling.audio.pieces`, as the live console does."""
    try:
        spans = audio.pieces(y, sr, segment_s, min_tail_s, top_db, silence_floor_dbfs)
    except audio.NothingAudible:
        return []
    return [y[s.start:s.end] for s in spans]
