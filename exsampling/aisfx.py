"""The aisfx sound-effects embedding (Ma & Lerch, ISMIR 2022) as a Keras backbone.

aisfx 0.1.2 (PyPI, CC BY 4.0, © 2022 A. B. Ma and A. Lerch) ships its trained network as
``aisfx/models/checkpoint.pth``: a PyTorch ``(state_dict, ds_dict)``. Its embedding network is the
DCASE cross-task baseline "CNN9": four blocks of two 3×3 convolutions (no bias) with batch norm and
ReLU, 64-128-256-512 channels, 2×2 max pooling after the first three; then the mean over frequency
and the max over time give a 512-d embedding. Its input is :data:`exsampling.features.SFX_MEL`.

:func:`backbone` builds that network in Keras (input ``(frames, mels, 1)``, channels last) and
:func:`load_weights` fills it from the checkpoint's numpy arrays (read with
:mod:`exsampling.torchzip`, no PyTorch needed). Changes from the original: the network is re-expressed
in Keras; conv kernels are transposed from torch's (out, in, kh, kw) to Keras' (kh, kw, in, out); the
nine data-set heads of aisfx are not used; a whole 5-s segment (216 frames) is embedded in one call
instead of aisfx's 100-frame blocks, which the fully convolutional network with global pooling allows.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from . import torchzip

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

#: Channels of the four conv blocks (aisfx: EmbeddingNet('max', 3, 1, 64)).
CHANNELS = (64, 128, 256, 512)
#: torch.nn.BatchNorm2d's default epsilon.
BN_EPSILON = 1e-5
#: The package and file the weights come from (``pip download --no-deps aisfx==0.1.2``).
WHEEL = "aisfx==0.1.2"
CHECKPOINT = "aisfx/models/checkpoint.pth"
ATTRIBUTION = ("aisfx embedding © 2022 Alison B. Ma and Alexander Lerch, CC BY 4.0 "
               "(https://creativecommons.org/licenses/by/4.0/); converted to Keras by ExSampling")


class ConversionError(ValueError):
    """The checkpoint does not hold the network this module builds."""


def backbone(input_shape: tuple[int, int, int], channels: tuple[int, ...] = CHANNELS, name: str = "aisfx"):
    """The CNN9 embedding network as a Keras model: ``(frames, mels, 1)`` → ``(512,)`` named ``embedding``.

    Layer names follow the torch state dict (``conv_block1_conv1``, ``conv_block1_bn1``, …), which
    :func:`load_weights` relies on. ``channels`` may be smaller for tests.
    """
    import keras

    inputs = keras.Input(input_shape, name="sfx_mel")
    x = inputs
    for b, ch in enumerate(channels, start=1):
        for c in (1, 2):
            x = keras.layers.Conv2D(ch, 3, padding="same", use_bias=False, name=f"conv_block{b}_conv{c}")(x)
            x = keras.layers.BatchNormalization(epsilon=BN_EPSILON, name=f"conv_block{b}_bn{c}")(x)
            x = keras.layers.ReLU(name=f"conv_block{b}_relu{c}")(x)
        if b < len(channels):  # the fourth block pools with (1, 1): no pooling
            x = keras.layers.MaxPooling2D(2, name=f"conv_block{b}_pool")(x)
    # built-in layers only, so a saved model loads without custom code: mean over all frequency bins,
    # then max over time
    x = keras.layers.AveragePooling2D((1, x.shape[2]), name="mean_over_frequency")(x)
    x = keras.layers.GlobalMaxPooling2D(name="embedding")(x)
    return keras.Model(inputs, x, name=name)


def embedding_weights(state: dict, prefix: str = "embedding_net.") -> dict[str, list[np.ndarray]]:
    """Keras weights per layer name from a torch state dict (numpy arrays), for :func:`backbone`'s layers.

    Raises ConversionError if a tensor is missing or has an unexpected shape.
    """
    out: dict[str, list[np.ndarray]] = {}
    b = 1
    while f"{prefix}conv_block{b}.conv1.weight" in state:
        for c in (1, 2):
            key = f"{prefix}conv_block{b}.conv{c}.weight"
            w = np.asarray(state[key], dtype=np.float32)
            if w.ndim != 4 or w.shape[2:] != (3, 3):
                raise ConversionError(f"{key} has shape {w.shape}; expected (out, in, 3, 3)")
            out[f"conv_block{b}_conv{c}"] = [np.transpose(w, (2, 3, 1, 0))]
            bn = f"{prefix}conv_block{b}.bn{c}."
            try:
                out[f"conv_block{b}_bn{c}"] = [np.asarray(state[bn + k], dtype=np.float32)
                                               for k in ("weight", "bias", "running_mean", "running_var")]
            except KeyError as exc:
                raise ConversionError(f"batch norm {bn}* is incomplete: {exc}") from exc
        b += 1
    if b == 1:
        raise ConversionError(f"no {prefix}conv_block1.conv1.weight in the checkpoint: not an aisfx network")
    return out


def load_weights(model, state: dict) -> None:
    """Set ``model``'s (from :func:`backbone`) conv and batch-norm weights from a torch state dict."""
    weights = embedding_weights(state)
    expected = {layer.name for layer in model.layers if layer.name.startswith("conv_block") and layer.weights}
    if set(weights) != expected:
        raise ConversionError(f"the checkpoint's layers {sorted(set(weights) ^ expected)} do not match the model")
    for name, values in weights.items():
        layer = model.get_layer(name)
        shapes = [tuple(w.shape) for w in layer.get_weights()]
        if shapes != [v.shape for v in values]:
            raise ConversionError(f"{name}: checkpoint shapes {[v.shape for v in values]} != model's {shapes}")
        layer.set_weights(values)


def read_checkpoint(path: str | Path) -> dict:
    """The state dict (numpy arrays) of an aisfx checkpoint: a ``(state_dict, ds_dict)`` pair or a bare dict."""
    obj = torchzip.load(path)
    state = obj[0] if isinstance(obj, tuple) else obj
    if not isinstance(state, dict):
        raise ConversionError(f"{path} holds a {type(state).__name__}, not a state dict")
    return state


def converted(path: str | Path, input_shape: tuple[int, int, int]):
    """The Keras embedding network with the weights of the aisfx checkpoint at ``path``."""
    state = read_checkpoint(path)
    n = 0
    while f"embedding_net.conv_block{n + 1}.conv1.weight" in state:
        n += 1
    channels = tuple(int(state[f"embedding_net.conv_block{b}.conv1.weight"].shape[0]) for b in range(1, n + 1))
    model = backbone(input_shape, channels)
    load_weights(model, state)
    return model
