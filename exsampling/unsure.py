"""How sure the chain is of a sample: scores for "unsure", and how a threshold on them trades flags for catches.

The stage only cares about the track: a knock heard as a cough still lands on the snare. So certainty is judged
on the instrument, as the summed probability of every label mapped to the sample's instrument
(:func:`track_probability`), not on the top label alone, which splits its mass between neighbours of one track.
An out-of-distribution score from the logits (:func:`energy`) is here to be measured against it
(tools/calibrate.py prints both curves); on the real recordings measured so far it catches fewer wrong tracks
per flag than the track probability, so the chain does not use it.

Pure functions, numpy in and out, no state.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def track_probability(probs: np.ndarray, tracks: Sequence[str | None], chosen: np.ndarray | int) -> np.ndarray:
    """Summed probability of the labels on the same track as the chosen label.

    probs : ``(n_labels,)`` or ``(n, n_labels)`` probabilities (rows sum to 1).
    tracks : the track (instrument) of each label, in the order of ``probs``; None for an unmapped label.
    chosen : index of each row's chosen label (int for one row).
    Returns a float array of shape ``probs.shape[:-1]``, in [0, 1]. An unmapped chosen label counts alone.
    """
    p = np.atleast_2d(np.asarray(probs, dtype=np.float64))
    c = np.atleast_1d(np.asarray(chosen, dtype=np.int64))
    codes: dict[str, int] = {}
    # an unmapped label gets a code of its own: it shares its track with nobody
    t = np.array([codes.setdefault(track, len(codes)) if track is not None else -1 - i
                  for i, track in enumerate(tracks)])
    out = (p * (t[None, :] == t[c][:, None])).sum(axis=1)
    return out.reshape(np.shape(probs)[:-1])


def energy(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    """Free energy ``−T · log Σ exp(z / T)`` of each row of logits (Liu et al. 2020): higher = less familiar.

    logits : ``(..., n_labels)``; ``-inf`` entries (masked labels) take no part. Returns shape ``logits.shape[:-1]``.
    """
    z = np.asarray(logits, dtype=np.float64) / temperature
    top = np.max(z, axis=-1, keepdims=True)
    return -temperature * (top[..., 0] + np.log(np.sum(np.exp(z - top), axis=-1)))


def flag_curve(certainty: np.ndarray, wrong: np.ndarray, thresholds: Sequence[float]) -> list[dict]:
    """What flagging ``certainty < t`` does, for each ``t``: the share of pieces flagged, and of the wrong ones caught.

    certainty : ``(n,)`` score, higher = surer (e.g. :func:`track_probability`). wrong : ``(n,)`` bool, the piece
    is on the wrong track. Each entry: ``threshold``, ``flagged`` (share of all pieces), ``recall`` (share of the
    wrong pieces flagged), ``precision`` (share of the flagged pieces that are wrong; 0 when none is flagged).
    """
    s, w = np.asarray(certainty, dtype=np.float64), np.asarray(wrong, dtype=bool)
    out = []
    for t in thresholds:
        flag = s < t
        out.append({"threshold": round(float(t), 4), "flagged": float(flag.mean()) if len(s) else 0.0,
                    "recall": float((flag & w).sum() / max(1, w.sum())),
                    "precision": float((flag & w).sum() / max(1, flag.sum()))})
    return out


def choose_threshold(curve: list[dict], max_flagged: float = 0.30) -> dict:
    """The entry of ``curve`` (from :func:`flag_curve`) that catches most wrong pieces while flagging at most
    ``max_flagged`` of all pieces; the one flagging least when none is within it. Ties: the smallest threshold."""
    within = [c for c in curve if c["flagged"] <= max_flagged]
    if not within:
        return min(curve, key=lambda c: (c["flagged"], c["threshold"]))
    return max(within, key=lambda c: (c["recall"], -c["threshold"]))
