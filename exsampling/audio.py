"""Audio intake: decode any file libsndfile reads to mono at one rate, trim silence, cut into segments.

The one rule that turns a recording into samples is :func:`pieces` (trim, then cut); the live chain, training and
the corpus all call it, so a model learns from pieces cut exactly as the show cuts them.
"""
from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import librosa
import numpy as np
import soundfile as sf


class AudioError(ValueError):
    """A recording that cannot be used. ``code`` is stable (for HTTP/JSON), the message is for people."""

    code = "audio"


class EmptyAudio(AudioError):
    code = "empty"


class UndecodableAudio(AudioError):
    code = "undecodable"


class TooLongAudio(AudioError):
    code = "too_long"


class InvalidSamples(AudioError):
    code = "invalid_samples"


class NothingAudible(AudioError):
    code = "silent"


Source = str | Path | bytes


def _open(source: Source) -> sf.SoundFile:
    data = io.BytesIO(source) if isinstance(source, (bytes, bytearray, memoryview)) else source
    try:
        return sf.SoundFile(data)
    except (sf.LibsndfileError, RuntimeError, TypeError) as exc:
        raise UndecodableAudio(
            "this is not audio we can read (WAV, FLAC, OGG/Vorbis, Opus or MP3 are accepted)"
        ) from exc


def wav_bytes(y: np.ndarray, sr: int) -> bytes:
    """``y`` (mono float, −1..1; clipped beyond) as the bytes of a 16-bit PCM WAV file at ``sr`` Hz."""
    buf = io.BytesIO()
    sf.write(buf, np.clip(y, -1.0, 1.0), sr, format="WAV", subtype="PCM_16")
    return buf.getvalue()


def describe(source: Source) -> tuple[int, int, float]:
    """``(sample_rate_hz, channels, duration_s)`` read from the header alone, without decoding."""
    with _open(source) as f:
        return f.samplerate, f.channels, (f.frames / f.samplerate if f.samplerate else 0.0)


def decode(source: Source, sample_rate: int, max_duration_s: float) -> np.ndarray:
    """Read ``source`` (a path or the file's bytes) as mono float32 at ``sample_rate`` Hz.

    The length is checked from the header before decoding, so a huge file costs nothing.

    Raises
    ------
    EmptyAudio — zero-length file or no samples. UndecodableAudio — not a format libsndfile reads,
    or truncated. TooLongAudio — longer than ``max_duration_s`` seconds. InvalidSamples — NaN or
    infinite samples.
    """
    if (isinstance(source, (str, Path)) and Path(source).stat().st_size == 0) or (
        isinstance(source, (bytes, bytearray, memoryview)) and len(source) == 0
    ):
        raise EmptyAudio("the file is empty")
    with _open(source) as f:
        if f.samplerate <= 0:
            raise UndecodableAudio(f"the file claims a sample rate of {f.samplerate} Hz")
        duration = f.frames / f.samplerate
        if duration > max_duration_s:
            raise TooLongAudio(f"the recording is {duration:.1f} s long; at most {max_duration_s:g} s is accepted")
        try:
            y = f.read(dtype="float32", always_2d=True)
        except (sf.LibsndfileError, RuntimeError) as exc:
            raise UndecodableAudio("the audio data is damaged or cut short") from exc
        native_rate = f.samplerate
    if y.shape[0] == 0:
        raise EmptyAudio("the file holds no audio samples")
    if not np.isfinite(y).all():
        raise InvalidSamples("the file holds NaN or infinite sample values")
    y = y.mean(axis=1)
    if native_rate != sample_rate:
        y = librosa.resample(y, orig_sr=native_rate, target_sr=sample_rate, res_type="soxr_hq")
    return np.ascontiguousarray(y, dtype=np.float32)


def peak_dbfs(y: np.ndarray) -> float:
    """Peak level of ``y`` in dB re full scale (−inf for digital silence)."""
    peak = float(np.max(np.abs(y))) if y.size else 0.0
    return 20.0 * np.log10(peak) if peak > 0 else -np.inf


@dataclass(frozen=True)
class Span:
    """A span of samples ``[start, end)``; ``seconds(sr)`` gives it in seconds."""

    start: int
    end: int

    def seconds(self, sr: int) -> tuple[float, float]:
        return self.start / sr, self.end / sr


def audible_span(
    y: np.ndarray, sr: int, top_db: float = 20.0, silence_floor_dbfs: float = -60.0,
    frame_length: int = 1024, hop_length: int = 256,
) -> Span:
    """The span of ``y`` left after trimming what is more than ``top_db`` dB below the peak at both ends.

    Parameters
    ----------
    y : mono audio. sr : its rate in Hz (unused by the rule, kept for symmetry with callers' units).
    top_db : dB below the peak RMS frame that counts as silence (the paper: 20 dB).
    silence_floor_dbfs : if the loudest sample is quieter than this, nothing is audible.
    frame_length, hop_length : RMS frames in samples (1024 ≈ 46 ms, 256 ≈ 12 ms at 22050 Hz); the span is
        exact to about half a frame.

    Raises NothingAudible when the whole signal is below ``silence_floor_dbfs``.
    """
    level = peak_dbfs(y)
    if level < silence_floor_dbfs:
        shown = "digital silence" if not np.isfinite(level) else f"peak {level:.0f} dBFS"
        raise NothingAudible(f"nothing audible in the recording ({shown}; quieter than {silence_floor_dbfs:g} dBFS)")
    _, (start, end) = librosa.effects.trim(y, top_db=top_db, frame_length=frame_length, hop_length=hop_length)
    return Span(int(start), int(end))


def segments(n_samples: int, sr: int, segment_s: float = 5.0, min_tail_s: float = 1.0) -> list[Span]:
    """Cut ``n_samples`` samples into consecutive segments of ``segment_s`` seconds.

    A last piece shorter than a segment is kept as a shorter sample if it lasts at least
    ``min_tail_s`` seconds, and dropped otherwise — except when it is the only piece: a short
    recording always gives one sample, so a participant's 0.5 s knock is not thrown away.
    """
    seg = round(segment_s * sr)
    tail_min = round(min_tail_s * sr)
    spans = [Span(s, min(s + seg, n_samples)) for s in range(0, n_samples, seg)]
    if len(spans) > 1 and spans[-1].end - spans[-1].start < tail_min:
        spans.pop()
    return spans


def pieces(
    y: np.ndarray, sr: int, segment_s: float = 5.0, min_tail_s: float = 1.0, top_db: float = 20.0,
    silence_floor_dbfs: float = -60.0, *, span: Span | None = None,
) -> list[Span]:
    """Where the samples of a recording lie: ``y`` trimmed (:func:`audible_span`), then cut (:func:`segments`).

    Parameters
    ----------
    y : mono audio. sr : its rate in Hz.
    segment_s, min_tail_s : the cut, in seconds (see :func:`segments`; the paper: 5 s pieces).
    top_db, silence_floor_dbfs : the trim, in dB (see :func:`audible_span`).
    span : the audible span when already known (the live chain finds it when a recording arrives); None
        computes it.

    Returns
    -------
    The pieces' spans in ``y``'s own sample positions, in order: ``y[s.start:s.end]`` is a piece and
    ``s.start / sr`` its start in seconds. At least one.

    Raises NothingAudible when the whole signal is below ``silence_floor_dbfs``.
    """
    if span is None:
        span = audible_span(y, sr, top_db, silence_floor_dbfs)
    return [Span(span.start + s.start, span.start + s.end)
            for s in segments(span.end - span.start, sr, segment_s, min_tail_s)]
