"""What phones' own recorders save, read through FFmpeg's libraries (PyAV): AAC in M4A/MP4/MOV/3GP, Opus or
Vorbis in WebM/Matroska, AMR, and the audio track of a video.

libsndfile (:mod:`exsampling.audio`'s first reader) reads WAV, FLAC, Ogg and MP3 but no MP4 or WebM container.
:class:`ContainerReader` is its stand-in for the rest: the same few attributes and the same ``read`` into a block,
so :func:`exsampling.audio.decode` keeps one loop, one set of limits, for every format. PyAV's wheels carry their
own FFmpeg libraries, so a fresh machine needs nothing but ``pip``: no system FFmpeg, no download.

Bounds, since a container is the most complex thing a participant sends: the header is read with a bounded probe
(:data:`PROBE_BYTES`); the duration comes from the header, or, where a recorder wrote none (a streamed WebM),
from the packets' own time stamps without decoding them; decoding has a wall-clock deadline
(:data:`MAX_DECODE_S`) and holds one decoded frame beyond the caller's block.
"""
from __future__ import annotations

import io
import time
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

#: Bytes FFmpeg may read to recognise a container and its streams (its own default is 5 MB).
PROBE_BYTES = 1_000_000
#: Seconds a whole decode may take; a minute of AAC decodes (and resamples) in about 0.2 s, of Opus in about
#: 0.5 s, on a busy 2-core laptop.
MAX_DECODE_S = 30.0


class ContainerError(ValueError):
    """Not a container with an audio track FFmpeg decodes, or damaged: ``reason`` says which, for people."""


class NoAudioTrack(ContainerError):
    """A container FFmpeg reads, with no audio in it (a silent video, a photo)."""


class DecodeTimeout(ContainerError):
    """Decoding ran past :data:`MAX_DECODE_S`."""


class ContainerReader:
    """The first audio track of a container, decoded to float32 a block at a time.

    Attributes (as :class:`soundfile.SoundFile` names them): ``samplerate`` Hz, ``channels``, ``frames`` per
    channel (from the header, or the packets' time stamps), ``subtype`` (the codec, e.g. ``AAC``, ``OPUS``).
    Raises :class:`ContainerError` when the source is none of these.
    """

    def __init__(self, source: str | Path | bytes, max_decode_s: float = MAX_DECODE_S) -> None:
        import av

        self._av = av
        self._source: bytes | str = bytes(source) if isinstance(source, (bytes, bytearray, memoryview)) else str(source)
        self.max_decode_s = max_decode_s
        self._container = self._open()
        try:
            audio = self._container.streams.audio
            if not audio:
                raise NoAudioTrack("the file has no sound track (a video filmed without sound?)")
            stream = audio[0]
            ctx = stream.codec_context
            self.samplerate = int(ctx.sample_rate or 0)
            self.channels = int(ctx.layout.nb_channels if ctx.layout else 0)
            self.subtype = (ctx.name or "unknown").upper()
            self.frames = round(self._duration_s(stream) * self.samplerate) if self.samplerate > 0 else 0
        except BaseException:
            self.close()
            raise
        self._stream_index = stream.index
        self._frames_iter: Any = None
        self._resampler: Any = None
        self._left = np.empty((0, max(self.channels, 1)), dtype=np.float32)
        self._deadline = 0.0

    def _open(self) -> Any:
        source = io.BytesIO(self._source) if isinstance(self._source, bytes) else self._source
        try:
            return self._av.open(source, "r", options={"probesize": str(PROBE_BYTES)}, metadata_errors="ignore")
        except (self._av.FFmpegError, ValueError, OSError, UnicodeDecodeError) as exc:
            if isinstance(exc, FileNotFoundError):
                raise
            raise ContainerError(f"not a container FFmpeg reads ({exc})") from exc

    def _duration_s(self, stream: Any) -> float:
        """The track's length per its header, else per its packets' time stamps (demuxed, not decoded)."""
        if stream.duration and stream.time_base:
            return float(stream.duration * stream.time_base)
        if self._container.duration:
            return self._container.duration / self._av.time_base
        end = Fraction(0)
        scan = self._open()  # its own reader: the one kept for decoding stays at the start
        try:
            for packet in scan.demux(scan.streams[stream.index]):
                if packet.pts is not None and packet.time_base:
                    end = max(end, (packet.pts + (packet.duration or 0)) * packet.time_base)
        except self._av.FFmpegError as exc:
            raise ContainerError(f"the container is damaged ({exc})") from exc
        finally:
            scan.close()
        return float(end)

    def read(self, dtype: str = "float32", out: np.ndarray | None = None) -> np.ndarray:
        """Fill ``out`` (frames × channels, float32) with the next decoded frames; the part filled (empty at the
        end). Raises :class:`ContainerError` for damaged data, :class:`DecodeTimeout` past the deadline."""
        assert out is not None and dtype == "float32"
        if self._frames_iter is None:
            self._deadline = time.monotonic() + self.max_decode_s
            self._frames_iter = self._decoded()
        filled = 0
        while filled < len(out):
            if not len(self._left):
                decoded = next(self._frames_iter, None)
                if decoded is None:
                    break
                self._left = decoded
            n = min(len(out) - filled, len(self._left))
            out[filled:filled + n] = self._left[:n]
            self._left = self._left[n:]
            filled += n
        return out[:filled]

    def _decoded(self) -> Any:
        """Each decoded frame as float32 (frames × channels): resampled to the header's layout, never its rate,
        so a track that changes its channel count midway still fills the same blocks."""
        av = self._av
        layout = {1: "mono", 2: "stereo"}.get(self.channels, f"{self.channels}c")
        self._resampler = av.AudioResampler(format="fltp", layout=layout, rate=self.samplerate)
        stream = self._container.streams[self._stream_index]
        try:
            for packet in self._container.demux(stream):
                for frame in packet.decode():
                    if time.monotonic() > self._deadline:
                        raise DecodeTimeout(f"decoding took longer than {self.max_decode_s:g} s")
                    for converted in self._resampler.resample(frame):
                        yield converted.to_ndarray().T.astype(np.float32, copy=False)
            for converted in self._resampler.resample(None):
                yield converted.to_ndarray().T.astype(np.float32, copy=False)
        except av.FFmpegError as exc:
            raise ContainerError(f"the audio data is damaged or cut short ({exc})") from exc

    def close(self) -> None:
        self._container.close()

    def __enter__(self) -> ContainerReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
