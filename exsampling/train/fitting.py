"""Fitting a network: balanced class weights, SpecAugment-style batches, Adam with early stopping."""
from __future__ import annotations

import math

import numpy as np

from .images import Dataset


def class_weights(y: np.ndarray, n_labels: int) -> dict[int, float]:
    """Balanced class weights ``n / (k · count)`` for the labels present, clipped to [0.2, 5]."""
    counts = np.bincount(y, minlength=n_labels)
    present = np.flatnonzero(counts)
    return {int(i): float(np.clip(len(y) / (len(present) * counts[i]), 0.2, 5.0)) for i in present}


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
