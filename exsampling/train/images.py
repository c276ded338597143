"""Feature images of labelled clips, each clip trimmed and cut like a live recording; cached per file on disk."""
from __future__ import annotations

import hashlib
import json
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import audio, features
from ..features import FeatureParams
from ..mapping import LABELS
from .errors import TrainError
from .layouts import Clip


@dataclass(frozen=True)
class TrimRule:
    """How live recordings are trimmed and cut (from [audio] in the config); part of the cache key."""

    top_db: float = 20.0
    silence_floor_dbfs: float = -60.0
    min_tail_s: float = 1.0

    @classmethod
    def from_config(cls, cfg) -> TrimRule:
        return cls(cfg.audio.trim_top_db, cfg.audio.silence_floor_dbfs, cfg.audio.min_tail_s)


def clip_images(y: np.ndarray, params: FeatureParams, trim: TrimRule) -> np.ndarray:
    """Trim and cut ``y`` like a live recording; one feature image per piece, ``(n, *params.shape)``."""
    try:
        pieces = audio.pieces(y, params.sample_rate, params.segment_s, trim.min_tail_s, trim.top_db,
                              trim.silence_floor_dbfs)
    except audio.NothingAudible:
        return np.zeros((0, *params.shape), np.float32)
    return np.stack([features.image(y[s.start:s.end], params) for s in pieces]).astype(np.float32)


def cache_key(file_bytes: bytes, params: FeatureParams, trim: TrimRule) -> str:
    """Hex key of one file's images: its bytes, the feature parameters and the trim rule."""
    h = hashlib.sha1(file_bytes)
    h.update(json.dumps([params.to_dict(), trim.__dict__], sort_keys=True).encode())
    return h.hexdigest()


def load_images(path: Path, params: FeatureParams, trim: TrimRule, cache_dir: Path | None) -> np.ndarray:
    """Feature images of one file, from the cache when present (float16 on disk, float32 returned)."""
    data = path.read_bytes()
    cached = cache_dir / f"{cache_key(data, params, trim)}.npy" if cache_dir else None
    if cached is not None and cached.is_file():
        return np.load(cached).astype(np.float32)
    try:
        y = audio.decode(data, params.sample_rate, max_duration_s=600.0)
        imgs = clip_images(y, params, trim)
    except audio.AudioError:
        imgs = np.zeros((0, *params.shape), np.float32)
    if cached is not None:
        imgs = imgs.astype(np.float16)
        tmp = cached.with_suffix(".tmp.npy")
        np.save(tmp, imgs)
        tmp.replace(cached)
    return imgs.astype(np.float32)  # a first and a cached run see the same (float16-rounded) values


@dataclass
class Dataset:
    """Feature images with their labels: ``x`` (n, H, W, 3) float32; ``y`` label indices into LABELS;
    ``clip`` index into the clip list each image came from."""

    x: np.ndarray
    y: np.ndarray
    clip: np.ndarray


def extract(clips: list[Clip], params: FeatureParams, trim: TrimRule, cache_dir: Path | None) -> Dataset:
    """Images of every clip (with a progress bar); unreadable or silent clips give none."""
    from tqdm import tqdm

    if cache_dir is not None:
        cache_dir.mkdir(parents=True, exist_ok=True)
    xs, ys, cs = [], [], []
    for i, c in enumerate(tqdm(clips, desc="features", unit="clip", file=sys.stderr)):
        if not c.path.is_file():
            raise TrainError(f"{c.path} is listed but missing")
        imgs = load_images(c.path, params, trim, cache_dir)
        xs.append(imgs)
        ys += [LABELS.index(c.label)] * len(imgs)
        cs += [i] * len(imgs)
    x = np.concatenate(xs) if xs else np.zeros((0, *params.shape), np.float32)
    return Dataset(x, np.array(ys, dtype=np.int64), np.array(cs, dtype=np.int64))
