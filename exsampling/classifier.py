"""The CNN classifier: loads a ``.keras`` model and its ``.json`` sidecar, answers top-k labels fast.

A model file comes with a sidecar of the same name (``default.keras`` + ``default.json``)::

    {"format": 1, "labels": [...41, output order...], "trained_labels": [...],
     "features": {...FeatureParams...}, "embedding_layer": "embedding", "architecture": {...},
     "trained_on": "...", "metrics": {...}, "created_at": "..."}

Inference runs on the model's converted runtime when it has a fresh one (``NAME.runtime.json`` beside it:
TensorFlow Lite with int8 weights on LiteRT, :mod:`exsampling.runtime`), else through one compiled
``tf.function`` (a warm call is several times faster than ``model.predict``); either is warmed up at load so the
first real sample is not slow.
"""
from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import runtime
from .adapt import Head
from .features import FeatureParams
from .mapping import MappingError, check_label

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

log = logging.getLogger(__name__)


class ModelError(RuntimeError):
    """The model cannot be used; the message says what to do."""


class ModelMissing(ModelError):
    """No model file where the config points."""


class ModelMismatch(ModelError):
    """The model was trained with other feature parameters or labels than the running config."""


@dataclass(frozen=True)
class ModelInfo:
    """What a model's sidecar says about it."""

    path: Path
    labels: tuple[str, ...]
    trained_labels: tuple[str, ...]
    features: FeatureParams
    embedding_layer: str
    trained_on: str
    metrics: dict

    @property
    def name(self) -> str:
        return self.path.stem


def sidecar_path(model_path: str | Path) -> Path:
    """The ``.json`` that describes ``model_path``."""
    return Path(model_path).with_suffix(".json")


def read_info(model_path: str | Path) -> ModelInfo:
    """Read and check a model's sidecar; raise ModelMissing/ModelError with what to do."""
    path = Path(model_path).expanduser()
    if not path.is_file():
        raise ModelMissing(
            f"no model at {path}. Train one with `exsampling train DATA --out {path}` "
            "(see docs/training.md), or set [classifier] model in your config to a .keras file"
        )
    meta_path = sidecar_path(path)
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ModelError(f"{path} has no sidecar {meta_path.name} (labels and feature parameters)") from exc
    except json.JSONDecodeError as exc:
        raise ModelError(f"{meta_path} is not valid JSON: {exc}") from exc
    if meta.get("format") != 1:
        raise ModelError(f"{meta_path}: unsupported sidecar format {meta.get('format')!r} (expected 1)")
    labels = tuple(meta.get("labels", ()))
    if not labels:
        raise ModelError(f"{meta_path}: no labels; a model's labels are FSDKaggle2018 names")
    try:
        for label in labels:
            check_label(label)
    except MappingError as exc:
        raise ModelError(f"{meta_path}: {exc}") from exc
    try:
        features = FeatureParams(**meta["features"])
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelError(f"{meta_path}: bad or missing 'features': {exc}") from exc
    return ModelInfo(
        path=path, labels=labels, trained_labels=tuple(meta.get("trained_labels", labels)), features=features,
        embedding_layer=meta.get("embedding_layer", "embedding"), trained_on=meta.get("trained_on", ""),
        metrics=meta.get("metrics", {}),
    )


def top_k(probs: np.ndarray, labels: tuple[str, ...], k: int) -> list[tuple[str, float]]:
    """The ``k`` most probable ``(label, probability)`` pairs of one probability vector, best first."""
    order = np.argsort(probs)[::-1][:k]
    return [(labels[i], float(probs[i])) for i in order]


def mask_untrained(probs: np.ndarray, labels: tuple[str, ...], trained: tuple[str, ...]) -> np.ndarray:
    """Zero the probabilities of labels the model never saw in training and renormalise each row.

    A model's softmax always spreads some mass over every output; a label with no training data
    must never come out as an answer.
    """
    keep = np.array([label in trained for label in labels])
    masked = np.where(keep, probs, 0.0)
    total = masked.sum(axis=-1, keepdims=True)
    return np.divide(masked, total, out=np.zeros_like(masked), where=total > 0)


def leave_the_cores_to_the_model() -> None:
    """Keep numpy's BLAS (OpenBLAS) to one thread in this process, for a live chain that runs the model.

    OpenBLAS's worker threads busy-wait for a while after each call (the mel filterbank's product, say), and on a
    2-core laptop they take the cores from TensorFlow's next call: bench/latency.py measured stored → OSC p50
    ≈ 180 ms with them, ≈ 125 ms without. The chain's own BLAS calls are small and lose nothing on one thread.
    """
    from threadpoolctl import threadpool_limits

    threadpool_limits(1, user_api="blas")


def _load_keras(info: ModelInfo):
    """The Keras model of ``info`` (imports TensorFlow), checked against its sidecar's labels."""
    import keras

    try:
        model = keras.saving.load_model(info.path, compile=False)
    except Exception as exc:
        raise ModelError(f"cannot load {info.path}: {exc}") from exc
    n_out = model.outputs[0].shape[-1]
    if n_out != len(info.labels):
        raise ModelMismatch(f"{info.path.name} has {n_out} outputs but its sidecar lists {len(info.labels)} labels")
    return model


def _kept_head(model_path: Path) -> Head | None:
    """The model's kept head when it was derived with the runtime beside it, else None. Whether that runtime
    belongs to this very ``.keras`` is checked once, when the classifier loads it (hashing the files takes tens of
    ms): a stale one refuses to load, and then the Keras model supplies the head."""
    try:
        record = runtime.read_record(model_path)
    except runtime.StaleRuntime:
        return None  # said when the classifier loads the runtime
    return None if record is None else Head.read(Head.path_for(model_path), record.source_sha256)


def derive_runtime(model_path: str | Path, quantization: str = "int8") -> runtime.Record:
    """Derive what the stage runs from ``model_path`` (``NAME.keras``, needs TensorFlow): the converted network
    (:func:`exsampling.runtime.convert`) and its head in numpy (``NAME.head.npz``, for in-show adaptation), so
    that :meth:`Classifier.load` needs no TensorFlow. Run it again after every retraining
    (tools/convert_runtime.py)."""
    info = read_info(model_path)
    record = runtime.convert(info.path, info.embedding_layer, quantization)
    head = Head.of(_load_keras(info), info.embedding_layer)
    path = Head.path_for(info.path)
    if head is None:  # a head adaptation cannot replay: the classifier reads the Keras model for it
        path.unlink(missing_ok=True)
    else:
        head.save(path, record.source_sha256)
    return record


class Classifier:
    """A loaded model: ``classify(images)`` gives probabilities and embeddings for a batch of images.

    ``model``: the Keras model, or None when the converted runtime and ``head`` stand in for it — then TensorFlow
    is imported only if something asks for :attr:`model`. ``use_runtime``: run the model's converted runtime when
    it has a fresh one (the default); False runs the Keras model (bench/latency.py compares the two). ``runtime``
    says which one runs. ``head``: the layers after the embedding in numpy (:attr:`head`).
    """

    def __init__(self, info: ModelInfo, model=None, use_runtime: bool = True, head: Head | None = None) -> None:
        self.info = info
        self._model = model
        self._head = head
        lite = None
        if use_runtime:
            try:
                lite = runtime.load(info.path, info.features.shape)
            except runtime.StaleRuntime as exc:
                if model is None:
                    raise ModelError(str(exc)) from exc
                log.warning("%s: using the Keras model meanwhile (slower)", exc)
        if lite is not None:
            self._call = lite
            self.runtime = f"LiteRT, {lite.path.name}"
        else:
            self._call = self._compiled(info, self.model)
            self.runtime = "Keras (tf.function)"
        self.classify(np.zeros((1, *info.features.shape), dtype=np.float32))

    @property
    def model(self):
        """The Keras model (loaded here on first use when the runtime stood in for it: TensorFlow's import takes
        seconds)."""
        if self._model is None:
            self._model = _load_keras(self.info)
        return self._model

    @property
    def head(self) -> Head | None:
        """The layers after the embedding, in numpy, for in-show adaptation: the model's ``NAME.head.npz`` when it
        was copied from this very ``.keras``, else copied from the Keras model; None when they are not a plain
        chain (see :meth:`exsampling.adapt.Head.of`)."""
        if self._head is None:
            self._head = Head.of(self.model, self.info.embedding_layer)
        return self._head

    @staticmethod
    def _compiled(info: ModelInfo, model):
        """``images → (probabilities, embeddings)`` through one compiled tf.function of the Keras model."""
        import keras
        import tensorflow as tf

        try:
            embedding = model.get_layer(info.embedding_layer).output
        except ValueError:
            embedding = model.layers[-2].output
        both = keras.Model(model.inputs, [model.outputs[0], embedding])
        call = tf.function(
            lambda x: both(x, training=False),
            input_signature=[tf.TensorSpec((None, *info.features.shape), tf.float32)],
            reduce_retracing=True,
        )
        return lambda images: tuple(t.numpy() for t in call(images))

    @classmethod
    def load(cls, model_path: str | Path, params: FeatureParams | None = None) -> Classifier:
        """Load ``model_path`` and warm it up. ``params``: the running features; they must match the model's.

        A model with a fresh runtime and head (:func:`derive_runtime`) loads without TensorFlow (under a second
        instead of several); otherwise the Keras model is loaded."""
        info = read_info(model_path)
        if params is not None and params != info.features:
            raise ModelMismatch(
                f"{info.path.name} was trained with features {info.features.to_dict()}, but the config "
                f"gives {params.to_dict()}: change [audio]/[features] back, or retrain"
            )
        head = _kept_head(info.path)
        if head is not None:
            try:
                return cls(info, None, head=head)
            except ModelError as exc:  # the runtime is stale or cannot load: said once, not tried again
                log.warning("%s: using the Keras model meanwhile (slower)", exc)
                return cls(info, _load_keras(info), use_runtime=False)
        return cls(info, _load_keras(info))

    @classmethod
    def from_config(cls, cfg) -> Classifier:
        """The model ``[classifier] model`` names. Its sidecar, not the config, says which features it takes:
        the pipeline computes those (``[audio]``/``[features]`` shape the MobileNetV2 models that
        ``exsampling train`` makes)."""
        return cls.load(cfg.resolve(cfg.classifier.model))

    def classify(self, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Probabilities ``(n, n_labels)`` (untrained labels masked) and embeddings ``(n, d)`` of ``images``.

        images : float32 array ``(n, *info.features.shape)`` from :func:`exsampling.features.image`.
        """
        images = np.asarray(images, dtype=np.float32)
        if images.ndim != 4 or images.shape[1:] != self.info.features.shape:
            raise ValueError(f"images must have shape (n, {', '.join(map(str, self.info.features.shape))}), "
                             f"got {images.shape}")
        probs, emb = self._call(images)
        return mask_untrained(probs, self.info.labels, self.info.trained_labels), emb
