"""Train the sound classifier (``exsampling train``): MobileNetV2 on log-mel images, 41 FSDKaggle2018 labels.

Data layouts (auto-detected from the DATA argument):

* a corpus manifest CSV (``exsampling corpus``): columns file,label,source,licence,split[,origin,family];
  rows with split "test" are the held-out set (other sources than training).
* the FSDKaggle2018 layout: a folder with ``train.csv`` (fname,label,manually_verified) and the audio in
  ``audio_train/`` (or ``FSDKaggle2018.audio_train/``); a test CSV with labels
  (``test_post_competition_scoring_clips.csv`` or ``test.csv`` with fname,label) and ``audio_test/``
  becomes the held-out set.
* a folder per class: ``DATA/<label>/*.wav`` (any format libsndfile reads), e.g. a performer's own recordings.

``--from-library LIBRARY_DIR`` fine-tunes the model in use on the console's re-labelled samples
(optionally together with DATA). Every clip is trimmed and cut like a live recording, then turned into
the same feature image the live console uses (exsampling.features.image); images are cached per file.

Outputs beside ``--out NAME.keras``: ``NAME.json`` (sidecar), ``NAME.metrics.json``,
``NAME.confusion.png`` and ``NAME.clips.csv`` (every clip used, with its source and licence).
"""
from __future__ import annotations

import csv
import hashlib
import json
import math
import os
import socket
import sqlite3
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import audio, features
from .features import FeatureParams
from .library import DATABASE, Library, holds_library
from .mapping import DEFAULT_MAPPING, LABELS, MappingError, check_label
from .records import utc_now

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

#: Where keras downloads the ImageNet weights from; probed before trying, so a machine offline fails fast.
IMAGENET_HOST = ("storage.googleapis.com", 443)
IMAGENET_ALPHAS = (0.35, 0.5, 0.75, 1.0, 1.3, 1.4)
#: Where tools/convert_aisfx.py writes the converted aisfx backbone by default.
DEFAULT_AISFX_BACKBONE = Path.home() / ".cache" / "exsampling" / "aisfx" / "aisfx-backbone.keras"
BACKBONES = ("mobilenetv2", "aisfx")
AUDIO_SUFFIXES = {".wav", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".aif", ".aiff"}


class TrainError(RuntimeError):
    """Training cannot go on; the message tells the user what to do."""


@dataclass(frozen=True)
class Clip:
    """One labelled audio file.

    split: "train", "test" (held out, other sources) or "" (training material from which the
    validation set is drawn). group: clips of one original recording share it and are never
    divided between training and validation. family: sources sharing recordings (a corpus' column),
    used to report held-out figures per source family.
    """

    path: Path
    label: str
    split: str
    group: str
    source: str = ""
    licence: str = ""
    family: str = ""


@dataclass(frozen=True)
class TrimRule:
    """How live recordings are trimmed and cut (from [audio] in the config); part of the cache key."""

    top_db: float = 20.0
    silence_floor_dbfs: float = -60.0
    min_tail_s: float = 1.0

    @classmethod
    def from_config(cls, cfg) -> TrimRule:
        return cls(cfg.audio.trim_top_db, cfg.audio.silence_floor_dbfs, cfg.audio.min_tail_s)


# ----------------------------------------------------------------------------------------- data layouts
def _check_label(label: str, where: str) -> str:
    try:
        return check_label(label)
    except MappingError as exc:
        raise TrainError(f"{where}: {exc}") from exc


def read_manifest(path: Path) -> list[Clip]:
    """Clips listed in a corpus manifest CSV (paths relative to the CSV's folder)."""
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    if not rows or not {"file", "label"} <= set(rows[0]):
        raise TrainError(f"{path}: a manifest needs the columns file,label (and optionally source,licence,split)")
    clips = []
    for i, r in enumerate(rows, start=2):
        split = r.get("split", "") or ""
        clips.append(Clip(path.parent / r["file"], _check_label(r["label"], f"{path} line {i}"),
                          "test" if split == "test" else "", r.get("origin") or r["file"],
                          r.get("source", ""), r.get("licence", ""), r.get("family", "")))
    return clips


def _first_existing(root: Path, names: tuple[str, ...]) -> Path | None:
    for name in names:
        if (root / name).exists():
            return root / name
    return None


def read_fsd(root: Path, verified_only: bool = False) -> list[Clip]:
    """The FSDKaggle2018 layout: train.csv + audio_train/, and a labelled test CSV + audio_test/ if present."""
    licence = "CC-BY/CC0/CC-BY-NC per clip (FSDKaggle2018, Freesound)"
    train_csv = _first_existing(root, ("train.csv", "FSDKaggle2018.meta/train_post_competition.csv"))
    train_audio = _first_existing(root, ("audio_train", "FSDKaggle2018.audio_train"))
    if train_csv is None or train_audio is None:
        raise TrainError(f"{root}: the FSDKaggle2018 layout needs train.csv and an audio_train/ folder")
    clips = []
    with open(train_csv, newline="", encoding="utf-8") as f:
        for r in csv.DictReader(f):
            if verified_only and str(r.get("manually_verified", "1")) not in ("1", "True", "true"):
                continue
            clips.append(Clip(train_audio / r["fname"], _check_label(r["label"], str(train_csv)), "", r["fname"],
                              "FSDKaggle2018 train", licence))
    test_csv = _first_existing(root, ("test_post_competition_scoring_clips.csv", "test.csv",
                                      "FSDKaggle2018.meta/test_post_competition_scoring_clips.csv"))
    test_audio = _first_existing(root, ("audio_test", "FSDKaggle2018.audio_test"))
    if test_csv is not None and test_audio is not None:
        with open(test_csv, newline="", encoding="utf-8") as f:
            for r in csv.DictReader(f):
                if r.get("label") in LABELS and (test_audio / r["fname"]).is_file():
                    clips.append(Clip(test_audio / r["fname"], r["label"], "test", r["fname"],
                                      "FSDKaggle2018 test", licence))
    return clips


def read_folders(root: Path) -> list[Clip]:
    """``root/<label>/<file>``: every audio file under a folder named after a label."""
    clips = []
    for sub in sorted(p for p in root.iterdir() if p.is_dir()):
        _check_label(sub.name, str(sub))
        for p in sorted(sub.rglob("*")):
            if p.suffix.lower() in AUDIO_SUFFIXES and p.is_file():
                clips.append(Clip(p, sub.name, "", str(p.relative_to(root)), f"folder {root.name}", "your own"))
    return clips


def read_library(library_dir: Path) -> list[Clip]:
    """The console's samples that the performer labelled: a re-label, or an entry in the re-label memory."""
    if not holds_library(library_dir):
        raise TrainError(f"{library_dir} is not an ExSampling library (no {DATABASE})")
    try:
        labelled = Library(library_dir).labelled_samples()
    except sqlite3.Error as exc:
        raise TrainError(f"{library_dir}: cannot read samples ({exc})") from exc
    return [Clip(path, label, "", f"sample-{sample_id}", f"library {library_dir.name}", "the performer's")
            for sample_id, path, label in labelled if label in LABELS and path.is_file()]


def discover(data: Path, verified_only: bool = False) -> list[Clip]:
    """Read ``data`` in whichever layout it has."""
    if not data.exists():
        raise TrainError(f"{data} does not exist")
    if data.is_file():
        return read_manifest(data)
    if (data / "manifest.csv").is_file():
        return read_manifest(data / "manifest.csv")
    if _first_existing(data, ("train.csv", "FSDKaggle2018.meta")):
        return read_fsd(data, verified_only)
    return read_folders(data)


# ------------------------------------------------------------------------------------------------ features
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


# -------------------------------------------------------------------------------------------------- splits
def validation_groups(clips: list[Clip], fraction: float, seed: int) -> set[str]:
    """Groups drawn for validation: ``fraction`` of each label's training groups (none if it has < 3)."""
    rng = np.random.default_rng(seed)
    by_label: dict[str, list[str]] = {}
    for c in clips:
        if c.split != "test":
            groups = by_label.setdefault(c.label, [])
            if c.group not in groups:
                groups.append(c.group)
    chosen: set[str] = set()
    for label in sorted(by_label):
        groups = by_label[label]
        n = round(fraction * len(groups)) if len(groups) >= 3 else 0
        chosen |= {groups[i] for i in rng.permutation(len(groups))[:n]}
    return chosen


def unvalidated(clips: list[Clip], fraction: float, seed: int) -> str:
    """Why nothing will measure a model trained on ``clips`` (no validation and no held-out clip), or ""."""
    if any(c.split == "test" for c in clips) or validation_groups(clips, fraction, seed):
        return ""
    groups: dict[str, set[str]] = {}
    for c in clips:
        groups.setdefault(c.label, set()).add(c.group)
    need = next((n for n in range(3, 1001) if round(fraction * n) >= 1), None)
    have = ", ".join(f"{label} {len(g)}" for label, g in sorted(groups.items()))
    enough = (f"a label needs {need} separate recordings for one to be held out (--val-fraction {fraction:g})"
              if need else f"--val-fraction {fraction:g} holds nothing out")
    return (f"{len(clips)} clip(s) from too few recordings to validate on any ({have}): {enough}. The model is "
            "trained on all of them and nothing measures it; re-label more sounds, or add DATA, before relying on it")


def class_weights(y: np.ndarray, n_labels: int) -> dict[int, float]:
    """Balanced class weights ``n / (k · count)`` for the labels present, clipped to [0.2, 5]."""
    counts = np.bincount(y, minlength=n_labels)
    present = np.flatnonzero(counts)
    return {int(i): float(np.clip(len(y) / (len(present) * counts[i]), 0.2, 5.0)) for i in present}


# --------------------------------------------------------------------------------------------------- model
def imagenet_weights_file(alpha: float) -> Path:
    """Where keras caches MobileNetV2's ImageNet weights (no top, 224 rows: used for non-square inputs)."""
    home = Path(os.environ.get("KERAS_HOME", Path.home() / ".keras"))
    return home / "models" / f"mobilenet_v2_weights_tf_dim_ordering_tf_kernels_{float(alpha)}_224_no_top.h5"


def check_imagenet(alpha: float, host: tuple[str, int] = IMAGENET_HOST, timeout_s: float = 3.0) -> None:
    """Raise TrainError at once if ImageNet weights are neither cached nor downloadable."""
    if alpha not in IMAGENET_ALPHAS:
        raise TrainError(f"ImageNet weights exist only for alpha in {IMAGENET_ALPHAS}, not {alpha}")
    cached = imagenet_weights_file(alpha)
    if cached.is_file():
        return
    try:
        socket.create_connection(host, timeout=timeout_s).close()
    except OSError as exc:
        raise TrainError(
            f"ImageNet weights cannot be downloaded ({host[0]}: {exc.strerror or exc}); put "
            f"{cached.name} in {cached.parent}, or train with --weights none"
        ) from exc


def build_model(shape: tuple[int, int, int], n_labels: int, alpha: float, weights: str | None,
                dropout: float = 0.3, bn_momentum: float = 0.9):
    """MobileNetV2 body → GlobalAveragePooling2D ``embedding`` → Dropout → Dense softmax ``probs``.

    bn_momentum: batch-norm moving-average momentum. Keras' 0.999 remembers ~1000 steps, far more than
    an epoch of a few thousand clips; while weights change fast from scratch, those statistics are stale
    and the network answers one class in inference mode. 0.9 (~10 steps) tracks them.
    """
    import keras

    inputs = keras.Input(shape, name="logmel")
    try:
        body = keras.applications.MobileNetV2(input_shape=shape, include_top=False, weights=weights, alpha=alpha)
    except Exception as exc:  # keras raises plain Exceptions for download failures
        raise TrainError(f"cannot build MobileNetV2 with weights={weights!r}: {exc}") from exc
    for layer in body.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.momentum = bn_momentum
    x = body(inputs)
    x = keras.layers.GlobalAveragePooling2D(name="embedding")(x)
    x = keras.layers.Dropout(dropout, name="dropout")(x)
    outputs = keras.layers.Dense(n_labels, activation="softmax", name="probs")(x)
    return keras.Model(inputs, outputs, name="exsampling_mobilenetv2")


def load_backbone(path: Path | None):
    """The converted aisfx backbone (tools/convert_aisfx.py), with a clear error when it is missing."""
    import keras

    path = path or DEFAULT_AISFX_BACKBONE
    if not Path(path).is_file():
        raise TrainError(f"no aisfx backbone at {path}: run `python tools/convert_aisfx.py --out {path}` once "
                         "(it downloads the aisfx wheel from PyPI and converts its weights)")
    return keras.saving.load_model(path, compile=False)


def embed(backbone, x: np.ndarray, batch_size: int = 32) -> np.ndarray:
    """Backbone embeddings ``(n, d)`` of images ``x`` (inference mode, in batches)."""
    import tensorflow as tf

    call = tf.function(lambda t: backbone(t, training=False), reduce_retracing=True)
    out = [call(tf.constant(x[i:i + batch_size])).numpy() for i in range(0, len(x), batch_size)]
    return np.concatenate(out) if out else np.zeros((0, backbone.outputs[0].shape[-1]), np.float32)


def build_head(embeddings: np.ndarray, n_labels: int, hidden: int = 256, dropout: float = 0.3):
    """A classifier on backbone embeddings: standardise (fitted to ``embeddings``) → [Dense ReLU] → softmax.

    hidden: width of the hidden layer; 0 gives a linear (logistic) head.
    """
    import keras

    inputs = keras.Input(embeddings.shape[1:], name="head_in")
    norm = keras.layers.Normalization(name="head_standardise")
    norm.adapt(embeddings)
    x = keras.layers.Dropout(dropout / 2, name="head_dropout_in")(norm(inputs))
    if hidden:
        x = keras.layers.Dense(hidden, activation="relu", kernel_regularizer=keras.regularizers.l2(1e-4),
                               name="head_hidden")(x)
        x = keras.layers.Dropout(dropout, name="head_dropout")(x)
    outputs = keras.layers.Dense(n_labels, activation="softmax", kernel_regularizer=keras.regularizers.l2(1e-4),
                                 name="probs")(x)
    return keras.Model(inputs, outputs, name="head")


def compose(backbone, head):
    """One model, features in and probabilities out: the backbone, then the head's layers on its ``embedding``."""
    import keras

    x = backbone.get_layer("embedding").output
    for layer in head.layers[1:]:
        x = layer(x)
    return keras.Model(backbone.inputs, x, name=f"exsampling_{backbone.name}")


def spec_augment(x: np.ndarray, rng: np.random.Generator, max_shift: int = 12, max_time_mask: int = 30,
                 max_freq_mask: int = 8, time_axis: int = 2) -> np.ndarray:
    """A randomly shifted and masked copy of a batch of images, ``(n, mels, frames, c)`` (``time_axis`` 2)
    or ``(n, frames, mels, c)`` (``time_axis`` 1, the sfx-mel layout).

    Masked and shifted-in cells get the value of silence: −1 in a 3-channel image's level channel and
    0 in its deltas; 0 in a 1-channel sfx-mel map. Shift and mask sizes are in frames and mel bands.
    """
    if time_axis == 1:
        return np.swapaxes(spec_augment(np.swapaxes(x, 1, 2), rng, max_shift, max_time_mask, max_freq_mask), 1, 2)
    out = x.copy()
    silence = np.array([-1.0, 0.0, 0.0] if x.shape[-1] == 3 else [0.0] * x.shape[-1], dtype=x.dtype)
    n, mels, frames, _ = x.shape
    for i in range(n):
        shift = int(rng.integers(0, max_shift + 1))
        if shift:
            out[i, :, shift:] = x[i, :, :frames - shift]
            out[i, :, :shift] = silence
        t = int(rng.integers(0, max_time_mask + 1))
        t0 = int(rng.integers(0, frames - t + 1))
        out[i, :, t0:t0 + t] = silence
        f = int(rng.integers(0, max_freq_mask + 1))
        f0 = int(rng.integers(0, mels - f + 1))
        out[i, f0:f0 + f] = silence
    return out


def _batches(x: np.ndarray, y: np.ndarray, batch_size: int, seed: int, n_labels: int, smoothing: float,
             time_axis: int | None = 2):
    """A keras PyDataset: shuffled batches with smoothed one-hot targets (seeded per epoch), SpecAugmented
    along ``time_axis`` (None: embeddings, not augmented)."""
    import keras

    class Batches(keras.utils.PyDataset):
        def __init__(self):
            super().__init__(workers=1, use_multiprocessing=False)
            self.epoch = 0
            self.order = np.random.default_rng([seed, 0]).permutation(len(x))

        def __len__(self):
            return math.ceil(len(x) / batch_size)

        def __getitem__(self, i):
            idx = self.order[i * batch_size:(i + 1) * batch_size]
            rng = np.random.default_rng([seed, self.epoch, i])
            target = np.full((len(idx), n_labels), smoothing / n_labels, dtype=np.float32)
            target[np.arange(len(idx)), y[idx]] += 1.0 - smoothing
            batch = x[idx] if time_axis is None else spec_augment(x[idx], rng, time_axis=time_axis)
            return batch, target

        def on_epoch_end(self):
            self.epoch += 1
            self.order = np.random.default_rng([seed, self.epoch]).permutation(len(x))

    return Batches()


def fit(model, train: Dataset, val: Dataset | None, epochs: int, batch_size: int, patience: int, lr: float,
        seed: int, verbose: int = 1, time_axis: int | None = 2) -> dict:
    """Train ``model`` in place (Adam, label smoothing 0.05, class weights, early stopping on val loss).

    Returns the keras history (per-epoch metrics).
    """
    import keras

    n = model.outputs[0].shape[-1]
    model.compile(optimizer=keras.optimizers.Adam(lr), loss=keras.losses.CategoricalCrossentropy(),
                  metrics=[keras.metrics.CategoricalAccuracy(name="acc")])
    callbacks = []
    val_data = None
    if val is not None and len(val.x):
        onehot = keras.utils.to_categorical(val.y, n).astype(np.float32)
        val_data = (val.x, onehot)
        callbacks = [
            keras.callbacks.EarlyStopping(monitor="val_loss", patience=patience, restore_best_weights=True),
            keras.callbacks.ReduceLROnPlateau(monitor="val_loss", factor=0.5, patience=max(1, patience // 2)),
        ]
    history = model.fit(_batches(train.x, train.y, batch_size, seed, n, 0.05, time_axis), validation_data=val_data,
                        epochs=epochs, callbacks=callbacks, class_weight=class_weights(train.y, n), verbose=verbose)
    return history.history


# ---------------------------------------------------------------------------------------------- evaluation
def evaluate(probs: np.ndarray, y: np.ndarray, labels: tuple[str, ...] = LABELS,
             mapping: dict[str, str] = DEFAULT_MAPPING) -> dict:
    """Top-1 and top-3 accuracy overall and per true label, and instrument accuracy after ``mapping``.

    probs : (n, len(labels)) probabilities (already masked to the trained labels).
    y : (n,) true label indices. Instrument accuracy: the predicted label's instrument equals the true one's.
    """
    top3 = np.argsort(probs, axis=1)[:, ::-1][:, :3]
    pred = top3[:, 0]
    hit1 = pred == y
    hit3 = (top3 == y[:, None]).any(axis=1)
    inst_true = np.array([mapping.get(labels[i], "") for i in y])
    inst_pred = np.array([mapping.get(labels[i], "") for i in pred])
    inst_hit = inst_true == inst_pred
    per_label = {}
    for i in sorted(set(y.tolist())):
        m = y == i
        per_label[labels[i]] = {"n": int(m.sum()), "top1": float(hit1[m].mean()), "top3": float(hit3[m].mean()),
                                "instrument": float(inst_hit[m].mean())}
    per_instrument = {}
    for inst in sorted(set(inst_true.tolist())):
        m = inst_true == inst
        per_instrument[inst] = {"n": int(m.sum()), "accuracy": float(inst_hit[m].mean())}
    n = max(1, len(y))
    return {
        "n": len(y),
        "top1": float(hit1.sum() / n), "top3": float(hit3.sum() / n), "instrument": float(inst_hit.sum() / n),
        "top1_ci95": wilson_interval(int(hit1.sum()), len(y)),
        "instrument_ci95": wilson_interval(int(inst_hit.sum()), len(y)),
        "top1_label_mean": float(np.mean([v["top1"] for v in per_label.values()])) if per_label else 0.0,
        "per_label": per_label, "per_instrument": per_instrument,
    }


def per_family(probs: np.ndarray, y: np.ndarray, families: list[str]) -> dict:
    """:func:`evaluate`'s overall figures (n, top-1, top-3, instrument) for each source family's clips."""
    fam = np.array(families)
    out = {}
    for f in sorted(set(families)):
        m = evaluate(probs[fam == f], y[fam == f])
        out[f] = {k: m[k] for k in ("n", "top1", "top3", "instrument")} | {
            "labels": sorted(m["per_label"])}
    return out


def wilson_interval(hits: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """95 % Wilson score interval of a proportion ``hits / n``: how far a measured accuracy may be off."""
    if n == 0:
        return (0.0, 1.0)
    p = hits / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return (round(centre - half, 4), round(centre + half, 4))


def confusion(y: np.ndarray, pred: np.ndarray, n: int) -> np.ndarray:
    """Counts ``(n, n)``: row = true label index, column = predicted."""
    m = np.zeros((n, n), dtype=np.int64)
    np.add.at(m, (y, pred), 1)
    return m


def confusion_png(path: Path, y: np.ndarray, pred: np.ndarray, labels: tuple[str, ...], title: str,
                  mapping: dict[str, str] = DEFAULT_MAPPING) -> None:
    """Row-normalised label confusion (left) and instrument confusion (right), with counts in the cells."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    shown = sorted(set(y.tolist()) | set(pred.tolist()))  # one set for rows and columns: a true diagonal
    m = confusion(y, pred, len(labels))[np.ix_(shown, shown)]
    instruments = sorted(set(mapping.values()))
    iy = np.array([instruments.index(mapping[labels[i]]) for i in y])
    ip = np.array([instruments.index(mapping[labels[i]]) for i in pred])
    mi = confusion(iy, ip, len(instruments))
    fig, axes = plt.subplots(1, 2, figsize=(22, 11), gridspec_kw={"width_ratios": [2.2, 1]})
    for ax, mat, ylab, xlab, name in (
        (axes[0], m, [labels[i] for i in shown], [labels[i] for i in shown], "label"),
        (axes[1], mi, instruments, instruments, "instrument (Fig. 5)"),
    ):
        norm = mat / np.maximum(mat.sum(axis=1, keepdims=True), 1)
        ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
        ax.set_xticks(range(len(xlab)), xlab, rotation=90, fontsize=8)
        ax.set_yticks(range(len(ylab)), ylab, fontsize=8)
        ax.set_xlabel(f"predicted {name}")
        ax.set_ylabel(f"true {name}")
        for (r, c), v in np.ndenumerate(mat):
            if v:
                ax.text(c, r, str(v), ha="center", va="center", fontsize=6,
                        color="white" if norm[r, c] > 0.5 else "black")
    fig.suptitle(f"{title} — top-1 {np.mean(y == pred):.1%} over {len(y)} clips "
                 "(rows normalised; numbers are clip counts)")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


# ----------------------------------------------------------------------------------------------- saving
def save_model(model, out: Path, meta: dict) -> None:
    """Write ``out`` (.keras, without optimizer state) and its ``.json`` sidecar."""
    import keras

    out.parent.mkdir(parents=True, exist_ok=True)
    clean = keras.models.clone_model(model)
    clean.set_weights(model.get_weights())
    clean.save(out)
    out.with_suffix(".json").write_text(json.dumps(meta, indent=1) + "\n", encoding="utf-8")


def write_clips_csv(path: Path, clips: list[Clip], val_groups: set[str], root: Path | None) -> None:
    """Every clip used, its split (train / validation / test), source, licence and source family."""
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["file", "label", "split", "source", "licence", "family"])
        for c in clips:
            split = c.split or ("validation" if c.group in val_groups else "train")
            name = c.path.relative_to(root).as_posix() if root and c.path.is_relative_to(root) else str(c.path)
            w.writerow([name, c.label, split, c.source, c.licence, c.family])


# ------------------------------------------------------------------------------------------------- driver
@dataclass(frozen=True)
class Options:
    """Everything a training run depends on (from the command line)."""

    out: Path
    alpha: float = 0.35
    weights: str = "none"
    epochs: int = 40
    batch_size: int = 32
    patience: int = 6
    lr: float = 1e-3
    seed: int = 0
    val_fraction: float = 0.15
    dropout: float = 0.3
    bn_momentum: float = 0.9
    cache_dir: Path | None = None
    base: Path | None = None
    trained_on: str = ""
    verbose: int = 1
    backbone: str = "mobilenetv2"
    backbone_file: Path | None = None
    head_hidden: int = 256


def train(clips: list[Clip], params: FeatureParams, trim: TrimRule, opt: Options, data_root: Path | None = None
          ) -> dict:
    """Train (or fine-tune ``opt.base``) on ``clips``, write the model and its reports; return the metrics."""
    import keras

    from .classifier import mask_untrained, read_info

    if opt.base is None and opt.weights == "imagenet":
        check_imagenet(opt.alpha)  # before minutes of feature extraction
    opt.out.parent.mkdir(parents=True, exist_ok=True)
    keras.utils.set_random_seed(opt.seed)
    started = time.monotonic()
    val_groups = validation_groups(clips, opt.val_fraction, opt.seed)
    ds = extract(clips, params, trim, opt.cache_dir)
    if not len(ds.x):
        raise TrainError("no usable audio in the data (all files silent or unreadable)")
    split = np.array([c.split or ("val" if c.group in val_groups else "train") for c in clips])[ds.clip]
    part = {name: Dataset(ds.x[split == name], ds.y[split == name], ds.clip[split == name])
            for name in ("train", "val", "test")}
    if not len(part["train"].x):
        raise TrainError("no training clips (every clip is in the held-out or validation split)")
    trained = [label for label in LABELS if LABELS.index(label) in set(part["train"].y.tolist())]
    time_axis: int | None = 1 if params.frontend == "sfx-mel" else 2
    predict = None
    if opt.base is not None:
        info = read_info(opt.base)
        if info.features != params:
            raise TrainError(f"{opt.base.name} was trained with other feature parameters than the config's")
        model = keras.saving.load_model(opt.base, compile=False)
        for layer in model.layers:  # a pretrained backbone stays as it is; its head learns
            if layer.name.startswith("conv_block"):
                layer.trainable = False
        trained = [label for label in LABELS if label in set(trained) | set(info.trained_labels)]
        architecture = json.loads(opt.base.with_suffix(".json").read_text()).get("architecture", {})
    elif opt.backbone == "aisfx":
        if params.frontend != "sfx-mel":
            raise TrainError("the aisfx backbone needs the sfx-mel features (exsampling.features.SFX_MEL)")
        backbone = load_backbone(opt.backbone_file)
        emb = {name: Dataset(embed(backbone, d.x), d.y, d.clip) for name, d in part.items()}
        model = head = build_head(emb["train"].x, len(LABELS), opt.head_hidden, opt.dropout)
        architecture = {"name": "aisfx", "weights": "aisfx 0.1.2 (CC BY 4.0), frozen", "head_hidden": opt.head_hidden}
        part, time_axis = emb, None

        def predict(d: Dataset) -> np.ndarray:  # on the embeddings already computed
            return head.predict(d.x, batch_size=256, verbose=0)
    else:
        model = build_model(params.shape, len(LABELS), opt.alpha, None if opt.weights == "none" else opt.weights,
                            opt.dropout, opt.bn_momentum)
        architecture = {"name": "MobileNetV2", "alpha": opt.alpha, "weights": opt.weights}
    print(f"training on {len(part['train'].x)} images ({len(trained)} labels), validating on "
          f"{len(part['val'].x)}, holding out {len(part['test'].x)}", file=sys.stderr)
    history = fit(model, part["train"], part["val"], opt.epochs, opt.batch_size, opt.patience, opt.lr, opt.seed,
                  opt.verbose, time_axis)
    if predict is not None:
        model = compose(backbone, head)
    train_s = time.monotonic() - started

    metrics: dict = {"train_images": len(part["train"].x), "train_seconds": round(train_s, 1),
                     "epochs_run": len(history.get("loss", []))}
    counts = np.bincount(part["train"].y, minlength=len(LABELS))
    metrics["train_images_per_label"] = {LABELS[i]: int(counts[i]) for i in np.flatnonzero(counts)}
    reports = {"val": "validation (held-out recordings of the training sources)",
               "test": "held-out sources (never heard in training)"}
    for name, what in reports.items():
        d = part[name]
        if not len(d.x):
            continue
        raw = predict(d) if predict is not None else model.predict(d.x, batch_size=64, verbose=0)
        probs = mask_untrained(raw, LABELS, tuple(trained))
        metrics[name] = {"what": what, **evaluate(probs, d.y)}
        if name == "test":
            metrics[name]["per_family"] = per_family(probs, d.y, [clips[i].family or clips[i].source for i in d.clip])
        confusion_png(opt.out.with_name(f"{opt.out.stem}.confusion{'' if name == 'test' else '-' + name}.png"),
                      d.y, probs.argmax(axis=1), LABELS, f"{opt.out.stem}: {what}")
    summary = {k: {m: round(metrics[k][m], 4) for m in ("n", "top1", "top3", "instrument")}
               for k in reports if k in metrics}
    meta = {
        "format": 1, "labels": list(LABELS), "trained_labels": trained, "features": params.to_dict(),
        "embedding_layer": "embedding", "architecture": architecture,
        "trained_on": opt.trained_on or f"{len(clips)} clips ({len(trained)} labels)",
        "metrics": summary, "created_at": utc_now(),
    }
    save_model(model, opt.out, meta)
    metrics["history"] = {k: [round(float(v), 4) for v in vs] for k, vs in history.items()}
    opt.out.with_name(f"{opt.out.stem}.metrics.json").write_text(json.dumps(metrics, indent=1) + "\n",
                                                                  encoding="utf-8")
    write_clips_csv(opt.out.with_name(f"{opt.out.stem}.clips.csv"), clips, val_groups, data_root)
    return metrics


# ---------------------------------------------------------------------------------------------------- CLI
def register(subparsers, add_config) -> None:
    """Add the ``train`` subcommand."""
    p = subparsers.add_parser("train", help="train the classifier on a corpus, FSDKaggle2018, your own folders "
                                            "or the console's re-labelled samples",
                              description=__doc__.split("\n\n")[0])
    p.add_argument("data", nargs="?", type=Path,
                   help="corpus manifest CSV (or its folder), FSDKaggle2018 folder, or a folder per label")
    p.add_argument("--from-library", type=Path, metavar="LIBRARY_DIR",
                   help="fine-tune the model in use on this library's re-labelled samples")
    p.add_argument("--base", type=Path, help="model to fine-tune (default with --from-library: [classifier] model)")
    p.add_argument("--out", type=Path, help="model file to write (.keras); default models/custom.keras, or "
                                            "LIBRARY_DIR/models/finetuned.keras with --from-library")
    p.add_argument("--backbone", choices=BACKBONES, default="mobilenetv2",
                   help="mobilenetv2: the paper's network on log-mel images, trained from scratch (default); "
                        "aisfx: the pretrained sound-effects embedding (44.1 kHz sfx-mel features) with a "
                        "trained head (run tools/convert_aisfx.py once first)")
    p.add_argument("--backbone-file", type=Path, default=None,
                   help=f"the converted aisfx backbone (default {DEFAULT_AISFX_BACKBONE})")
    p.add_argument("--head-hidden", type=int, default=256, help="aisfx: hidden units of the head (0: linear)")
    p.add_argument("--alpha", type=float, default=0.35, help="MobileNetV2 width (default 0.35: fastest on a CPU)")
    p.add_argument("--weights", choices=("none", "imagenet"), default="none",
                   help="start from random weights (default) or ImageNet's (needs a download)")
    p.add_argument("--epochs", type=int, default=None, help="most epochs (default 40; 8 when fine-tuning)")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--patience", type=int, default=6, help="epochs without validation gain before stopping")
    p.add_argument("--lr", type=float, default=None, help="learning rate (default 1e-3; 1e-4 when fine-tuning)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--val-fraction", type=float, default=0.15, help="share of recordings kept for validation")
    p.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "exsampling" / "features",
                   help="feature cache folder (default ~/.cache/exsampling/features)")
    p.add_argument("--no-cache", action="store_true", help="do not read or write the feature cache")
    p.add_argument("--verified-only", action="store_true", help="FSDKaggle2018: only manually verified clips")
    p.add_argument("--trained-on", default="", help="one sentence for the sidecar: what the data was")
    add_config(p)
    p.set_defaults(func=run)


def run(args) -> int:
    from .classifier import ModelError
    from .config import ConfigError, load

    try:
        cfg = load(args.config)
        if args.data is None and args.from_library is None:
            raise TrainError("give DATA (a corpus, FSDKaggle2018 or label folders) and/or --from-library DIR")
        clips = discover(args.data.expanduser().resolve()) if args.data is not None else []
        if args.verified_only and args.data is not None:
            clips = read_fsd(args.data.expanduser().resolve(), verified_only=True)
        base = args.base
        out = args.out
        if args.from_library is not None:
            lib = args.from_library.expanduser().resolve()
            mine = read_library(lib)
            if not mine:
                raise TrainError(f"{lib} holds no re-labelled samples to learn from")
            clips += mine
            base = base or cfg.resolve(cfg.classifier.model)
            out = out or lib / "models" / "finetuned.keras"
        out = (out or Path("models") / "custom.keras").expanduser().resolve()
        if out.suffix != ".keras":
            raise TrainError(f"--out must end in .keras, got {out.name}")
        if base is not None and not Path(base).is_file():
            raise TrainError(f"no model to fine-tune at {base}")
        fine_tune = base is not None
        opt = Options(
            out=out, alpha=args.alpha, weights=args.weights, epochs=args.epochs or (8 if fine_tune else 40),
            batch_size=args.batch_size, patience=args.patience, lr=args.lr or (1e-4 if fine_tune else 1e-3),
            seed=args.seed, val_fraction=args.val_fraction, cache_dir=None if args.no_cache else args.cache,
            base=Path(base).resolve() if base else None, trained_on=args.trained_on, backbone=args.backbone,
            backbone_file=args.backbone_file, head_hidden=args.head_hidden,
        )
        root = args.data.expanduser().resolve() if args.data is not None else None
        if base is not None:
            from .classifier import read_info

            params = read_info(base).features  # a fine-tuned model keeps its features
        else:
            params = features.SFX_MEL if args.backbone == "aisfx" else FeatureParams.from_config(cfg)
        unchecked = unvalidated(clips, opt.val_fraction, opt.seed)
        if unchecked:
            print(f"exsampling train: warning: {unchecked}", file=sys.stderr)
        metrics = train(clips, params, TrimRule.from_config(cfg), opt,
                        root.parent if root and root.is_file() else root)
    except (TrainError, ConfigError, ModelError) as exc:
        print(f"exsampling train: {exc}", file=sys.stderr)
        return 2
    if unchecked:
        print("not validated: no recording was held out, so nothing measured this model (see the warning above)")
    for name in ("val", "test"):
        if name in metrics:
            m = metrics[name]
            print(f"{m['what']}: top-1 {m['top1']:.1%}, top-3 {m['top3']:.1%}, instrument {m['instrument']:.1%} "
                  f"({m['n']} clips)")
    print(f"wrote {out} ({out.stat().st_size / 1e6:.1f} MB) in {metrics['train_seconds']:.0f} s")
    return 0
