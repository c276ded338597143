"""Feature images for the CNN: one function, :func:`image`, serves live classification and training.

Two front ends (:class:`Frontend`), named by ``FeatureParams.frontend`` (stored in each model's sidecar, so a
model always gets the features it was trained on):

* ``"logmel-delta"`` — the paper's: log-mel in dB re the segment's peak, with its time deltas, as a
  3-channel image ``(n_mels, n_frames, 3)`` for MobileNetV2;
* ``"sfx-mel"`` — the aisfx sound-effects embedding's (Ma & Lerch, ISMIR 2022): HTK mel power bands
  with unit-sum filters of the peak-normalised segment, ``log10(1 + 10000·S) / 9.4578``, as a
  ``(n_frames, n_mels, 1)`` time × frequency map.
"""
from __future__ import annotations

import functools
from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any

import librosa
import numpy as np

if TYPE_CHECKING:
    from .config import Config


class Frontend(StrEnum):
    """How a segment becomes the model's input (see the module's docstring); the value is what a sidecar keeps."""

    LOGMEL_DELTA = "logmel-delta"
    SFX_MEL = "sfx-mel"

    @classmethod
    def _missing_(cls, value: object) -> None:
        raise ValueError(f"unknown feature front end {value!r}; known: {', '.join(cls)}")


@dataclass(frozen=True)
class FeatureParams:
    """Everything that shapes a feature image; stored beside a model and checked at load.

    sample_rate: Hz. segment_s: seconds per image (shorter audio is padded with silence).
    n_fft, hop_length: samples. n_mels: mel bands. fmin_hz, fmax_hz: Hz.
    frontend: a :class:`Frontend` (its string, as a sidecar gives it, is taken; another raises ValueError);
    sidecars written before it existed are ``"logmel-delta"``.
    """

    sample_rate: int = 22050
    segment_s: float = 5.0
    n_fft: int = 2048
    hop_length: int = 512
    n_mels: int = 64
    fmin_hz: float = 20.0
    fmax_hz: float = 11025.0
    frontend: Frontend = Frontend.LOGMEL_DELTA

    def __post_init__(self) -> None:
        object.__setattr__(self, "frontend", Frontend(self.frontend))  # a sidecar's JSON gives the plain string

    @property
    def n_samples(self) -> int:
        """Samples in one segment."""
        return round(self.segment_s * self.sample_rate)

    @property
    def n_frames(self) -> int:
        """Spectrogram frames in one segment (image columns), with centred frames."""
        return 1 + self.n_samples // self.hop_length

    @property
    def shape(self) -> tuple[int, int, int]:
        """Image shape: ``(n_mels, n_frames, 3)`` for "logmel-delta", ``(n_frames, n_mels, 1)`` for "sfx-mel"."""
        if self.frontend == Frontend.SFX_MEL:
            return (self.n_frames, self.n_mels, 1)
        return (self.n_mels, self.n_frames, 3)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_config(cls, cfg: Config) -> FeatureParams:
        """Parameters from a :class:`exsampling.config.Config`."""
        return cls(
            sample_rate=cfg.audio.sample_rate, segment_s=cfg.audio.segment_s, n_fft=cfg.features.n_fft,
            hop_length=cfg.features.hop_length, n_mels=cfg.features.n_mels, fmin_hz=cfg.features.fmin_hz,
            fmax_hz=cfg.features.fmax_hz,
        )


#: The aisfx front end (aisfx 0.1.2: inference.py and spectrogram/spectrogram_librosa.py) for 5-s segments.
SFX_MEL = FeatureParams(sample_rate=44100, segment_s=5.0, n_fft=2048, hop_length=1024, n_mels=96, fmin_hz=0.0,
                        fmax_hz=22050.0, frontend=Frontend.SFX_MEL)

#: aisfx's "original" normalisation: the largest log10(1 + 10000·S) value over its training data sets.
SFX_MEL_MAX = 9.457798957824707


#: Level floor of the log-mel image, in dB below the segment's peak.
DYNAMIC_RANGE_DB = 80.0


def fit_length(y: np.ndarray, n_samples: int) -> np.ndarray:
    """Pad ``y`` with zeros (at the end) or cut it to exactly ``n_samples`` samples."""
    if y.shape[-1] >= n_samples:
        return y[..., :n_samples]
    return np.pad(y, (0, n_samples - y.shape[-1]))


def log_mel(y: np.ndarray, params: FeatureParams) -> np.ndarray:
    """Log-mel power spectrogram of one segment, in dB re its peak, clipped at −80 dB.

    Parameters
    ----------
    y : np.ndarray, shape (n,) — mono audio at ``params.sample_rate`` Hz; padded or cut to one segment.
    params : FeatureParams

    Returns
    -------
    S_db : np.ndarray, shape (n_mels, n_frames), float32, values in [−80, 0] dB.
    """
    y = fit_length(np.asarray(y, dtype=np.float32), params.n_samples)
    S = librosa.feature.melspectrogram(
        y=y, sr=params.sample_rate, n_fft=params.n_fft, hop_length=params.hop_length,
        n_mels=params.n_mels, fmin=params.fmin_hz, fmax=params.fmax_hz, power=2.0,
    )
    db: np.ndarray = librosa.power_to_db(S, ref=np.max, top_db=DYNAMIC_RANGE_DB).astype(np.float32)
    return db


@functools.lru_cache(maxsize=8)
def _htk_mel_basis(sr: int, n_fft: int, n_mels: int, fmin: float, fmax: float) -> np.ndarray:
    """HTK mel filters with unit-sum rows, ``(n_mels, 1 + n_fft // 2)``; computed once per parameter set."""
    return librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=n_mels, fmin=fmin, fmax=fmax, htk=True,
                               norm=1.0).astype(np.float32)


def sfx_mel(y: np.ndarray, params: FeatureParams = SFX_MEL) -> np.ndarray:
    """The aisfx embedding's input for one segment: its mel map, time × frequency.

    The segment (padded or cut to ``params.segment_s``) is scaled to a peak of 1, as aisfx normalises
    each file; HTK mel bands with filters of unit sum (``norm=1``) of the power spectrogram (centred
    Hann frames); then ``log10(1 + 10000·S) / 9.4578``. Silence gives 0.

    Returns
    -------
    M : np.ndarray, shape ``(n_frames, n_mels, 1)``, float32, ≥ 0 (≈ [0, 1] for real audio).
    """
    y = fit_length(np.asarray(y, dtype=np.float32), params.n_samples)
    peak = float(np.max(np.abs(y))) if y.size else 0.0
    if peak > 0:
        y = y / peak
    # librosa.feature.melspectrogram(htk=True, norm=1.0) with the filter bank kept between calls: the same
    # numbers (a live sample pays for the FFT only)
    power = np.abs(librosa.stft(y, n_fft=params.n_fft, hop_length=params.hop_length)) ** 2
    S = _htk_mel_basis(params.sample_rate, params.n_fft, params.n_mels, params.fmin_hz, params.fmax_hz) @ power
    M: np.ndarray = (np.log10(1.0 + 10000.0 * S) / SFX_MEL_MAX).T[..., None].astype(np.float32)
    return M


def image(y: np.ndarray, params: FeatureParams) -> np.ndarray:
    """The model's input for one segment, made by ``params.frontend``.

    "sfx-mel": :func:`sfx_mel`. "logmel-delta": the paper's 3-channel input, scaled log-mel with its
    time delta and delta-delta.

    Channel 0 is the log-mel map scaled from [−80, 0] dB to [−1, 1]; channels 1 and 2 are its first
    and second time derivatives (``librosa.feature.delta``), on the same scale. Levels are relative
    to the segment's own peak, so a quiet phone and a loud one give the same image.

    Returns
    -------
    img : np.ndarray, shape ``params.shape``, float32.
    """
    if params.frontend == Frontend.SFX_MEL:
        return sfx_mel(y, params)
    S = log_mel(y, params) / (DYNAMIC_RANGE_DB / 2) + 1.0
    d1 = librosa.feature.delta(S, order=1, width=9, mode="nearest")
    d2 = librosa.feature.delta(S, order=2, width=9, mode="nearest")
    return np.stack([S, d1, d2], axis=-1).astype(np.float32)
