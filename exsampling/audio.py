"""Audio intake: decode any file libsndfile or FFmpeg reads to mono at one rate, trim silence, cut into segments.

libsndfile reads WAV, FLAC, Ogg (Vorbis, Opus) and MP3; what phones' own recorders save (AAC in M4A/MP4/MOV/3GP,
Opus in WebM, AMR, a video's sound) goes through FFmpeg's libraries (:mod:`exsampling.containers`), under the same
header checks and the same bounded, block-by-block decode.

The one rule that turns a recording into samples is :func:`pieces` (trim, then cut); the live chain, training and
the corpus all call it, so a model learns from pieces cut exactly as the show cuts them.
"""
from __future__ import annotations

import io
import math
from dataclasses import dataclass
from pathlib import Path

import librosa
import numpy as np
import soundfile as sf
import soxr

from .containers import ContainerError, ContainerReader, NoAudioTrack

#: What a participant may send, for messages.
FORMATS = "WAV, FLAC, MP3, Ogg, AAC (M4A, MP4, MOV, 3GP), WebM/Opus or AMR"

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


class UnsupportedAudio(AudioError):
    """Audio whose header asks for more than a recording needs (a sample rate or channel count that only
    makes decoding expensive): refused before a sample is decoded."""

    code = "unsupported_audio"


Source = str | Path | bytes

#: The highest sample rate (Hz) and the most channels :func:`check_header` lets through by default:
#: a studio file has at most these; more only makes a decompression bomb.
MAX_RATE_HZ = 192_000
MAX_CHANNELS = 2
#: Frames decoded at a time: the memory a decode needs beyond its mono result is one block.
BLOCK_FRAMES = 65_536
#: Float formats can hold any value; a sample further than this from zero is clipped (a DAC would).
FULL_SCALE = 1.0


@dataclass(frozen=True)
class Header:
    """What a file's header says: ``sample_rate`` Hz, ``channels``, ``frames`` per channel, libsndfile's
    ``subtype`` (e.g. ``PCM_16``, ``FLOAT``)."""

    sample_rate: int
    channels: int
    frames: int
    subtype: str

    @property
    def duration_s(self) -> float:
        return self.frames / self.sample_rate

    @property
    def is_float(self) -> bool:
        """Float samples (the only kind that can be NaN, infinite or far beyond full scale)."""
        return self.subtype in ("FLOAT", "DOUBLE")


def _open(source: Source) -> sf.SoundFile | ContainerReader:
    """libsndfile's reader where it knows the format (fast, no probing), else FFmpeg's."""
    data = io.BytesIO(source) if isinstance(source, (bytes, bytearray, memoryview)) else source
    try:
        return sf.SoundFile(data)
    except (sf.LibsndfileError, RuntimeError, TypeError):
        pass
    try:
        return ContainerReader(source)
    except NoAudioTrack as exc:
        raise UndecodableAudio(str(exc)) from exc
    except ContainerError as exc:
        raise UndecodableAudio(f"this is not audio we can read ({FORMATS} are accepted)") from exc


def _is_empty(source: Source) -> bool:
    if isinstance(source, (bytes, bytearray, memoryview)):
        return len(source) == 0
    return Path(source).stat().st_size == 0


def _checked(f: sf.SoundFile | ContainerReader, max_duration_s: float, max_rate_hz: float,
             max_channels: float) -> Header:
    header = Header(f.samplerate, f.channels, f.frames, f.subtype)
    if header.sample_rate <= 0:
        raise UndecodableAudio(f"the file claims a sample rate of {header.sample_rate} Hz")
    if header.channels <= 0:
        raise UndecodableAudio("the file's audio track has no channels")
    if header.sample_rate > max_rate_hz:
        raise UnsupportedAudio(f"the file is at {header.sample_rate} Hz; at most {max_rate_hz:g} Hz is accepted")
    if header.channels > max_channels:
        raise UnsupportedAudio(f"the file has {header.channels} channels; at most {max_channels:g} (stereo) "
                               "are accepted")
    if header.duration_s > max_duration_s:
        raise TooLongAudio(f"the recording is {header.duration_s:.1f} s long; at most {max_duration_s:g} s "
                           "is accepted")
    return header


def check_header(source: Source, max_duration_s: float, max_rate_hz: float = MAX_RATE_HZ,
                 max_channels: int = MAX_CHANNELS) -> Header:
    """Read only the header of ``source`` (a path or the file's bytes) and refuse what is not worth decoding.

    Costs microseconds for libsndfile's formats and milliseconds for a container, whatever the file holds
    (a container whose header states no duration: a read of its packets' time stamps, without decoding). Raises
    EmptyAudio (no bytes, or no frames), UndecodableAudio (not a format libsndfile or FFmpeg reads),
    UnsupportedAudio (over ``max_rate_hz`` Hz or ``max_channels`` channels),
    TooLongAudio (longer than ``max_duration_s`` seconds, per the header).
    """
    if _is_empty(source):
        raise EmptyAudio("the file is empty")
    with _open(source) as f:
        header = _checked(f, max_duration_s, max_rate_hz, max_channels)
    if header.frames == 0:
        raise EmptyAudio("the file holds no audio samples")
    return header
def wav_bytes(y: np.ndarray, sr: int) -> bytes:
    """``y`` (mono float, −1..1; clipped beyond) as the bytes of a 16-bit PCM WAV file at ``sr`` Hz."""
    buf = io.BytesIO()
    sf.write(buf, np.clip(y, -1.0, 1.0), sr, format="WAV", subtype="PCM_16")
    return buf.getvalue()


def describe(source: Source) -> tuple[int, int, float]:
    """``(sample_rate_hz, channels, duration_s)`` read from the header alone, without decoding."""
    with _open(source) as f:
        return f.samplerate, f.channels, (f.frames / f.samplerate if f.samplerate else 0.0)


def decode(source: Source, sample_rate: int, max_duration_s: float, max_rate_hz: float = math.inf,
           max_channels: float = math.inf, block_frames: int = BLOCK_FRAMES) -> np.ndarray:
    """Read ``source`` (a path or the file's bytes) as mono float32 at ``sample_rate`` Hz.

    The header is checked first (length, and ``max_rate_hz``/``max_channels`` when given), so a huge file
    costs nothing. The file is then read, checked, clipped to full scale, downmixed and resampled
    ``block_frames`` at a time: memory beyond the mono result is one block, whatever the channel count or
    rate. Decoding stops once more than ``max_duration_s`` seconds came out (a header may understate).

    Raises
    ------
    EmptyAudio — zero-length file or no samples. UndecodableAudio — not a format libsndfile or FFmpeg
    reads, truncated, or slower to decode than :data:`exsampling.containers.MAX_DECODE_S`. UnsupportedAudio —
    over ``max_rate_hz`` or ``max_channels``. TooLongAudio — longer than ``max_duration_s`` seconds.
    InvalidSamples — NaN or infinite samples.
    """
    if _is_empty(source):
        raise EmptyAudio("the file is empty")
    with _open(source) as f:
        header = _checked(f, max_duration_s, max_rate_hz, max_channels)
        limit = int(max_duration_s * header.sample_rate) + 1
        ratio = sample_rate / header.sample_rate
        resampler = soxr.ResampleStream(header.sample_rate, sample_rate, 1, dtype="float32", quality="HQ") \
            if header.sample_rate != sample_rate else None
        out = np.empty(math.ceil(min(header.frames, limit) * ratio) + 64, dtype=np.float32)
        filled = read = 0
        block = np.empty((block_frames, header.channels), dtype=np.float32)
        while True:
            try:
                frames = f.read(dtype="float32", out=block)  # one block at a time, into the same buffer
            except (sf.LibsndfileError, RuntimeError, ContainerError) as exc:
                reason = str(exc) if isinstance(exc, ContainerError) else "the audio data is damaged or cut short"
                raise UndecodableAudio(reason) from exc
            n = len(frames)
            read += n
            if read > limit:
                raise TooLongAudio(f"the recording is longer than {max_duration_s:g} s, the most accepted")
            if not np.isfinite(frames).all():
                raise InvalidSamples("the file holds NaN or infinite sample values")
            mono = frames.mean(axis=1) if header.channels > 1 else frames[:, 0]
            np.clip(mono, -FULL_SCALE, FULL_SCALE, out=mono)
            if resampler is not None:
                mono = resampler.resample_chunk(mono, last=n == 0)
            if filled + len(mono) > len(out):  # the header understated the length
                out = np.concatenate([out[:filled], np.empty(max(len(out), len(mono)), dtype=np.float32)])
            out[filled:filled + len(mono)] = mono
            filled += len(mono)
            if n == 0:
                break
    if read == 0:
        raise EmptyAudio("the file holds no audio samples")
    return out[:filled]


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
