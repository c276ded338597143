"""One recording, one judgement: the classifier's answers for a recording's pieces pooled into the recording's.

A participant records one thing; its 5-s pieces are heard one at a time by the model, and they disagree with each
other more often than the sound does. The recording's probabilities are the pieces' probabilities averaged, each
piece weighted by how much of the sound it holds (its length times its loudness, so a quiet tail counts little)::

    w_i    = d_i · rms_i / Σ_j d_j · rms_j        d: seconds, rms: root mean square amplitude (full scale = 1)
    pooled = Σ_i w_i · p_i                        p_i: piece i's probabilities over the labels

and every piece takes the recording's probabilities, unless the piece is *confidently something else*: its own
best label is not the recording's and has a probability of at least ``own_above`` (``[classifier]
own_label_above``). Small pure functions, numpy in, numpy out; the pipeline chains them.
"""
from __future__ import annotations

import numpy as np


def loudness(pieces: list[np.ndarray]) -> np.ndarray:
    """Root mean square amplitude of each piece ``(n,)``, full scale = 1 (a full-scale sine gives ≈ 0.707)."""
    return np.array([float(np.sqrt(np.mean(np.square(p, dtype=np.float64)))) if len(p) else 0.0 for p in pieces])


def piece_weights(durations_s: np.ndarray, rms: np.ndarray) -> np.ndarray:
    """Each piece's share of its recording ``(n,)``, summing to 1: length (seconds) times loudness (RMS, full scale
    = 1), normalised. Pieces all silent (or of no length) share equally."""
    w = np.clip(np.asarray(durations_s, dtype=np.float64), 0, None) * np.clip(np.asarray(rms, dtype=np.float64), 0,
                                                                               None)
    total = float(w.sum())
    if not np.isfinite(total) or total <= 0:
        return np.full(len(w), 1.0 / len(w)) if len(w) else w
    return w / total


def pool(probs: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """The recording's probabilities ``(n_labels,)``: the pieces' probabilities ``(n, n_labels)`` averaged with
    ``weights`` ``(n,)`` (from :func:`piece_weights`); sums to 1 when each row does."""
    probs = np.asarray(probs, dtype=np.float64)
    if probs.ndim != 2 or len(probs) == 0 or len(weights) != len(probs):
        raise ValueError(f"pool needs (n, n_labels) probabilities and n weights, got {probs.shape} and {len(weights)}")
    return np.asarray(weights, dtype=np.float64) @ probs


def confidently_else(probs: np.ndarray, pooled: np.ndarray, own_above: float) -> np.ndarray:
    """Which pieces ``(n,)`` keep their own answer: those whose best label is not the recording's (``pooled``'s)
    and has a probability of at least ``own_above`` (0–1)."""
    probs = np.asarray(probs, dtype=np.float64)
    own = probs.argmax(axis=1)
    return (own != int(np.argmax(pooled))) & (probs[np.arange(len(probs)), own] >= own_above)


def piece_probs(probs: np.ndarray, pooled: np.ndarray, own_above: float) -> np.ndarray:
    """Each piece's final probabilities ``(n, n_labels)``: the recording's ``pooled`` ones, or its own ``probs``
    where it is confidently something else (:func:`confidently_else`)."""
    probs = np.asarray(probs, dtype=np.float64)
    keep = confidently_else(probs, pooled, own_above)
    return np.where(keep[:, None], probs, np.asarray(pooled, dtype=np.float64)[None, :])
