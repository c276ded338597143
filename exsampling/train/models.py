"""The networks ``exsampling train`` builds: the paper's MobileNetV2 on log-mel images, or the aisfx sound-effects
backbone (converted by tools/convert_aisfx.py) with a head trained on its embeddings, composed into one model."""
from __future__ import annotations

import os
import socket
from pathlib import Path

import numpy as np

from .errors import TrainError

#: Where keras downloads the ImageNet weights from; probed before trying, so a machine offline fails fast.
IMAGENET_HOST = ("storage.googleapis.com", 443)
IMAGENET_ALPHAS = (0.35, 0.5, 0.75, 1.0, 1.3, 1.4)
#: Where tools/convert_aisfx.py writes the converted aisfx backbone by default.
DEFAULT_AISFX_BACKBONE = Path.home() / ".cache" / "exsampling" / "aisfx" / "aisfx-backbone.keras"
BACKBONES = ("mobilenetv2", "aisfx")


def imagenet_weights_file(alpha: float) -> Path:
    """Where keras caches MobileNetV2's ImageNet weights (no top, 224 rows: used for non-square inputs)."""
    home = Path(os.environ.get("KERAS_HOME", Path.home() / ".keras"))
    return home / "models" / f"mobilenet_v2_weights_tf_dim_ordering_tf_kernels_{float(alpha)}_224_no_top.h5"


def check_imagenet(alpha: float, host: tuple[str, int] | None = None, timeout_s: float = 3.0) -> None:
    """Raise TrainError at once if ImageNet weights are neither cached nor downloadable from ``host`` (default
    :data:`IMAGENET_HOST`)."""
    if alpha not in IMAGENET_ALPHAS:
        raise TrainError(f"ImageNet weights exist only for alpha in {IMAGENET_ALPHAS}, not {alpha}")
    cached = imagenet_weights_file(alpha)
    if cached.is_file():
        return
    host = host or IMAGENET_HOST
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
