"""Shared helpers for the benchmarks: test clips, a model to run, percentiles."""
from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import numpy as np

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from exsampling.features import FeatureParams
from exsampling.mapping import LABELS
from exsampling.resources import default_model


def clips(n: int, sr: int = 22050, seconds: float = 5.0, seed: int = 0) -> list[np.ndarray]:
    """``n`` real-length clips: harmonic tones at varied pitches alternating with noisy percussive hits."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * sr)) / sr
    out = []
    for i in range(n):
        if i % 2 == 0:
            hz = 440.0 * 2 ** (rng.integers(-24, 24) / 12)
            y = sum(np.sin(2 * np.pi * hz * k * t) / k for k in range(1, 6) if hz * k < sr / 2)
            y *= np.exp(-t / 3)
        else:
            y = np.zeros_like(t)
            for start in rng.integers(0, len(t) - 4000, 8):
                y[start:start + 4000] += rng.standard_normal(4000) * np.exp(-np.arange(4000) / 500)
        out.append((0.5 * y / np.max(np.abs(y))).astype(np.float32))
    return out


def model_path() -> tuple[Path, str]:
    """The shipped model if there is one, else an untrained MobileNetV2 of the same shape (timing is the same)."""
    shipped = default_model()
    if shipped.exists():
        return shipped, "models/default.keras"
    import keras

    params = FeatureParams()
    base = keras.applications.MobileNetV2(input_shape=params.shape, include_top=False, weights=None, alpha=0.35)
    x = keras.layers.GlobalAveragePooling2D(name="embedding")(base.output)
    out = keras.layers.Dense(len(LABELS), activation="softmax", name="probs")(x)
    path = Path(tempfile.mkdtemp()) / "untrained.keras"
    keras.Model(base.input, out).save(path)
    sidecar = {"format": 1, "labels": list(LABELS), "features": params.to_dict()}
    path.with_suffix(".json").write_text(json.dumps(sidecar))
    return path, "an untrained MobileNetV2 alpha=0.35 (no models/default.keras yet; same cost)"


def percentiles(seconds: list[float]) -> tuple[float, float]:
    """p50 and p95, in milliseconds."""
    ms = np.asarray(seconds) * 1000
    return float(np.percentile(ms, 50)), float(np.percentile(ms, 95))


def real_recordings(folder: Path, heldout_manifest: Path | None = None) -> list[dict]:
    """The real recordings of ``folder`` (a ``manifest.csv`` beside them: file, label, source_repo, source_path,
    attribution), each as ``{"path", "label", "source", "heldout"}``.

    ``source`` groups recordings by recordist (the attribution's first part), for cross-validating by source.
    ``heldout_manifest``: a corpus manifest (``exsampling corpus`` of these recordings: split, source, family); a
    recording is held out when that corpus puts it in its test split, and its source is then the corpus family.
    Without it every recording counts as held out: true only for a model that never heard any of them.
    """
    import csv

    with open(folder / "manifest.csv", newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    corpus: list[dict] = []
    if heldout_manifest is not None:
        with open(heldout_manifest, newline="", encoding="utf-8") as f:
            corpus = list(csv.DictReader(f))
    out = []
    for r in rows:
        item = {"path": folder / r["file"], "label": r["label"], "source": r["attribution"].split(",")[0].strip(),
                "heldout": True}
        if corpus:
            key = f"{r['source_repo']} {r['source_path']}"
            mine = [c for c in corpus if key in c["source"]]
            if not mine:
                continue  # the corpus left it out: it can be neither trained on nor said to be held out
            item["heldout"] = any(c["split"] == "test" for c in mine)
            item["source"] = mine[0]["family"]
        out.append(item)
    return out
