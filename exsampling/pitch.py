"""Dominant pitch of a sample: a vectorised YIN over its loudest frames, with a confidence; for bells, whose partials
are not harmonics, the partial that towers over the rest."""
from __future__ import annotations

from dataclasses import dataclass
from typing import overload

import numpy as np


@dataclass(frozen=True)
class Pitch:
    """A detected pitch: ``hz`` and ``midi_note`` are None when the sound is unpitched.

    confidence: 0–1, the share of analysed frames that are periodic and agree on the pitch,
    weighted by how periodic they are.
    """

    hz: float | None
    midi_note: int | None
    confidence: float

    @property
    def pitched(self) -> bool:
        return self.hz is not None


#: How far (dB) a bell's partial must stand above every other to be its pitch where YIN finds no period: a
#: glockenspiel's fundamental rings 15 dB clear of its partials (TimGM6mb, FluidR3); of 30 everyday recordings
#: (a bark, a cough, a meow, scissors), pieces whose strongest partial stood 8–11 dB clear are not notes.
PARTIAL_CLEAR_DB = 12.0

NOTE_NAMES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")


@overload
def hz_to_midi(hz: float) -> float: ...
@overload
def hz_to_midi(hz: np.ndarray) -> np.ndarray: ...
def hz_to_midi(hz: float | np.ndarray) -> float | np.ndarray:
    """MIDI note number (fractional) of a frequency in Hz (a number or an array); 69 = A4 = 440 Hz."""
    notes: float | np.ndarray = 69.0 + 12.0 * np.log2(np.divide(hz, 440.0))
    return notes


def midi_to_hz(note: float) -> float:
    """Frequency in Hz of a (fractional) MIDI note number."""
    return float(440.0 * 2.0 ** ((note - 69.0) / 12.0))


def note_name(midi_note: int) -> str:
    """Scientific pitch name of a MIDI note, e.g. 69 → ``"A4"``, 60 → ``"C4"``."""
    return f"{NOTE_NAMES[midi_note % 12]}{midi_note // 12 - 1}"


def _frames(y: np.ndarray, frame_length: int, max_frames: int, gate_db: float) -> np.ndarray:
    """Up to ``max_frames`` frames of ``y`` (evenly spread) whose RMS is within ``gate_db`` of the loudest."""
    if len(y) < frame_length:
        y = np.pad(y, (0, frame_length - len(y)))
    hop = max(frame_length // 4, 1)
    starts = np.arange(0, len(y) - frame_length + 1, hop)
    idx = starts[:, None] + np.arange(frame_length)[None, :]
    frames = y[idx]
    rms = np.sqrt(np.mean(frames**2, axis=1)) + 1e-12
    loud: np.ndarray = frames[20 * np.log10(rms / rms.max()) > -gate_db]
    if len(loud) > max_frames:
        loud = loud[np.linspace(0, len(loud) - 1, max_frames).round().astype(int)]
    return loud


def _cmndf(frames: np.ndarray, tau_max: int) -> np.ndarray:
    """YIN's cumulative-mean-normalised difference d'(τ) for τ = 0..tau_max, one row per frame."""
    n, length = frames.shape
    w = length - tau_max
    nfft = 1 << int(np.ceil(np.log2(length + w)))
    spec_full = np.fft.rfft(frames, nfft)
    spec_head = np.fft.rfft(frames[:, :w], nfft)
    corr = np.fft.irfft(np.conj(spec_head) * spec_full, nfft)[:, : tau_max + 1]
    sq = np.concatenate([np.zeros((n, 1)), np.cumsum(frames**2, axis=1)], axis=1)
    taus = np.arange(tau_max + 1)
    energy_head = sq[:, w][:, None]
    energy_shift = sq[:, taus + w] - sq[:, taus]
    diff = np.maximum(energy_head + energy_shift - 2.0 * corr, 0.0)
    diff[:, 0] = 0.0
    running = np.cumsum(diff[:, 1:], axis=1)
    cmndf: np.ndarray = np.ones_like(diff)
    cmndf[:, 1:] = diff[:, 1:] * taus[1:] / np.maximum(running, 1e-12)
    return cmndf


def _best_lags(cmndf: np.ndarray, tau_min: int, threshold: float) -> tuple[np.ndarray, np.ndarray]:
    """Per frame: the first local minimum of d' under ``threshold`` (else the global minimum) and its value."""
    d = cmndf[:, tau_min:]
    below = d < threshold
    is_min = np.zeros_like(below)
    is_min[:, :-1] = d[:, :-1] <= d[:, 1:]
    # YIN: the first dip under the threshold, followed to the bottom of that dip.
    candidates = below & is_min
    first = np.where(candidates.any(axis=1), candidates.argmax(axis=1), d.argmin(axis=1))
    return first + tau_min, cmndf[np.arange(len(cmndf)), first + tau_min]


def _refine(cmndf: np.ndarray, lags: np.ndarray) -> np.ndarray:
    """Parabolic interpolation of each lag on d'(τ), in fractional samples."""
    rows = np.arange(len(lags))
    lo = np.clip(lags - 1, 0, cmndf.shape[1] - 1)
    hi = np.clip(lags + 1, 0, cmndf.shape[1] - 1)
    a, b, c = cmndf[rows, lo], cmndf[rows, lags], cmndf[rows, hi]
    denom = a - 2 * b + c
    shift = np.where(np.abs(denom) > 1e-12, 0.5 * (a - c) / np.where(denom == 0, 1, denom), 0.0)
    refined: np.ndarray = lags + np.clip(shift, -1, 1)
    return refined


def _dominant_partial(frames: np.ndarray, sr: int, fmin_hz: float, fmax_hz: float) -> tuple[float, float] | None:
    """The pitch of a bell or a glockenspiel, where YIN finds no period: its partials are not harmonics, so the
    waveform never repeats, but one partial towers over the rest. Returns (hz, dominance in dB over the next
    strongest partial, in the whole spectrum from ``fmin_hz / 2``) when the strongest partial in
    [fmin_hz, fmax_hz] is the strongest of all; else None."""
    length = frames.shape[1]
    nfft = 1 << int(np.ceil(np.log2(4 * length)))
    power = np.abs(np.fft.rfft(frames * np.hanning(length), nfft)) ** 2
    # the median frame's spectrum, each frame in dB below its own peak: what rings longest, not what strikes loudest
    level = np.median(10 * np.log10(power / np.maximum(power.max(axis=1, keepdims=True), 1e-30) + 1e-12), axis=0)
    freqs = np.fft.rfftfreq(nfft, 1.0 / sr)
    band = np.flatnonzero((freqs >= fmin_hz) & (freqs <= fmax_hz))
    if band.size == 0:
        return None
    peak = int(band[level[band].argmax()])
    lobe = 4 * nfft // length  # the Hann window's main lobe (±2 bins of a frame), with room for a little vibrato
    rest = freqs >= fmin_hz / 2
    rest[max(peak - lobe, 0): peak + lobe + 1] = False
    if not rest.any() or not 0 < peak < len(level) - 1:
        return None
    dominance_db = float(level[peak] - level[rest].max())
    if dominance_db <= 0:
        return None
    a, b, c = level[peak - 1: peak + 2]  # parabolic interpolation on the log spectrum
    shift = 0.5 * (a - c) / (a - 2 * b + c) if a - 2 * b + c != 0 else 0.0
    return float((peak + np.clip(shift, -1, 1)) * sr / nfft), dominance_db


def detect(
    y: np.ndarray,
    sr: int,
    fmin_hz: float = 50.0,
    fmax_hz: float = 4400.0,
    threshold: float = 0.2,
    min_confidence: float = 0.6,
    max_frames: int = 48,
) -> Pitch:
    """Dominant pitch of ``y``, or unpitched.

    Parameters
    ----------
    y : np.ndarray, shape (n,) — mono audio.
    sr : int > 0 — sampling rate of ``y`` in Hz.
    fmin_hz, fmax_hz : float — search range in Hz (default 50–4400 Hz covers C2 ≈ 65 Hz to C8 ≈ 4186 Hz).
    threshold : float — YIN dip threshold; frames whose dip stays above it count as aperiodic.
    min_confidence : float — below this the sound is reported unpitched.
    max_frames : int — frames analysed at most, spread over the loud part (bounds the cost on long audio).

    Returns
    -------
    Pitch — ``hz`` is the median of the frames that agree (within a semitone) with the most common pitch. Where
    too few frames are periodic (a bell's partials are not harmonics), a partial that stands
    :data:`PARTIAL_CLEAR_DB` clear of every other one in the spectrum is the pitch, its confidence 1 − the next
    partial's relative amplitude.
    """
    if sr <= 0 or not 0 < fmin_hz < fmax_hz < sr / 2:
        raise ValueError(f"need 0 < fmin_hz={fmin_hz} < fmax_hz={fmax_hz} < sr/2={sr / 2}")
    y = np.asarray(y, dtype=np.float64)
    if y.size == 0 or not np.any(y):
        return Pitch(None, None, 0.0)
    tau_min = max(int(np.floor(sr / fmax_hz)), 2)
    tau_max = int(np.ceil(sr / fmin_hz)) + 1
    frame_length = 2 * tau_max + 2
    frames = _frames(y, frame_length, max_frames, gate_db=20.0)
    frames = frames - frames.mean(axis=1, keepdims=True)
    cmndf = _cmndf(frames, tau_max)
    lags, dips = _best_lags(cmndf, tau_min, threshold)
    voiced = dips < threshold
    confidence = 0.0
    if voiced.any():
        f0 = sr / _refine(cmndf, lags)[voiced]
        notes = hz_to_midi(f0)
        votes = np.abs(notes[:, None] - notes[None, :]) < 1.0
        agree = votes[votes.sum(axis=1).argmax()]
        confidence = float(np.sum(1.0 - dips[voiced][agree]) / len(frames))
        if confidence >= min_confidence:
            hz = float(np.median(f0[agree]))
            return Pitch(hz, round(hz_to_midi(hz)), confidence)
    # a bell's upper partials ring loudest at the strike and die first: listen to the whole ring, not its onset
    ring = _frames(y, frame_length, max_frames, gate_db=40.0)
    partial = _dominant_partial(ring - ring.mean(axis=1, keepdims=True), sr, fmin_hz, fmax_hz)
    if partial is not None and partial[1] >= PARTIAL_CLEAR_DB:
        # confidence: 1 − the next partial's amplitude relative to the pitch's (12 dB clear → 0.75)
        hz, dominance = partial[0], 1.0 - 10 ** (-partial[1] / 20)
        if dominance >= min_confidence:
            return Pitch(hz, round(hz_to_midi(hz)), dominance)
    return Pitch(None, None, confidence)
