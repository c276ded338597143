"""Log-mel spectrogram images for the CNN: one function serves live classification and training."""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

import librosa
import numpy as np

if TYPE_CHECKING:
    from .config import Config


@dataclass(frozen=True)
class FeatureParams:
    """Everything that shapes a feature image; stored beside a model and checked at load.

    sample_rate: Hz. segment_s: seconds per image (shorter audio is padded with silence).
    n_fft, hop_length: samples. n_mels: mel bands (image rows). fmin_hz, fmax_hz: Hz.
    """

    sample_rate: int = 22050
    segment_s: float = 5.0
    n_fft: int = 2048
    hop_length: int = 512
    n_mels: int = 64
    fmin_hz: float = 20.0
    fmax_hz: float = 11025.0

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
        """Image shape ``(n_mels, n_frames, 3)``."""
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


def image(y: np.ndarray, params: FeatureParams) -> np.ndarray:
    """The CNN's 3-channel input for one segment: scaled log-mel, its time delta and delta-delta.

    Channel 0 is the log-mel map scaled from [−80, 0] dB to [−1, 1]; channels 1 and 2 are its first
    and second time derivatives (``librosa.feature.delta``), on the same scale. Levels are relative
    to the segment's own peak, so a quiet phone and a loud one give the same image.

    Returns
    -------
    img : np.ndarray, shape ``params.shape`` = (n_mels, n_frames, 3), float32.
    """
    S = log_mel(y, params) / (DYNAMIC_RANGE_DB / 2) + 1.0
    d1 = librosa.feature.delta(S, order=1, width=9, mode="nearest")
    d2 = librosa.feature.delta(S, order=2, width=9, mode="nearest")
    return np.stack([S, d1, d2], axis=-1).astype(np.float32)
