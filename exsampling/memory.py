"""The re-label memory: the performer's corrections change what the next similar sounds become.

Every sample the performer re-labels is remembered with its embedding (the model's own view of the
sound). A new sample's label is a fusion of the model's probabilities and a distance-weighted vote of
the remembered samples near it::

    w_i   = 1 − d_i / radius                for the k nearest remembered samples with cosine distance d_i < radius
    m     = Σ w_i · onehot(label_i) / Σ w_i  the memory's label distribution
    α     = Σ w_i / (Σ w_i + strength)       how much the memory is trusted: more, and closer, neighbours → more
    fused = (1 − α) · model + α · m

So one correction nudges the next similar sound; three close ones decide it; a sound far from every
correction (d ≥ radius) keeps the model's answer. ``radius`` and ``strength`` are calibrated on
held-out sound sources (see docs/config.md), not on synthetic tones.

Beyond the radius, the same corrections retune the model's last layer (exsampling.adapt), when the memory is
given the model's head: the model's probabilities are first adapted, then fused with the vote. Both are derived
from the remembered samples alone (their embeddings and labels: the library's ``memory`` table), so a show
reopened or imported from its library behaves as it did.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .adapt import HeadAdapter


@dataclass(frozen=True)
class Recall:
    """A remembered re-labelled sample that voted for a new sample's label."""

    sample_id: int
    label: str
    distance: float
    labelled_at: str


@dataclass(frozen=True)
class Vote:
    """The memory's say about one sample.

    probs: fused probabilities over the memory's labels (sums to 1). weight: the vote's share α in
    [0, 1) (0: nothing remembered nearby). recall: the closest neighbour whose label is the fused
    answer; when none within the radius has it but the adapted layer chose a taught label, the closest
    remembered sample with that label (the nearest of those that taught it); else None.
    """

    probs: np.ndarray
    weight: float
    recall: Recall | None


def _unit(v: np.ndarray) -> np.ndarray:
    v = np.asarray(v, dtype=np.float32).ravel()
    return v / max(float(np.linalg.norm(v)), 1e-12)


class RelabelMemory:
    """k-nearest-neighbour memory over the embeddings of samples the performer re-labelled.

    Parameters
    ----------
    labels : the label order of the probability vectors it fuses with (the model's outputs).
    radius : cosine distance (0 = same direction, 1 = orthogonal) beyond which a remembered sample has no say.
    strength : evidence (in "perfect matches") at which the memory gets half the say.
    k : most neighbours that vote.
    adapter : the model's last-layer update (exsampling.adapt), refitted on the remembered samples; None: the
        vote alone.
    """

    def __init__(self, labels: tuple[str, ...], radius: float = 0.3, strength: float = 1.0, k: int = 5,
                 adapter: HeadAdapter | None = None) -> None:
        if not 0 < radius <= 2 or strength <= 0 or k < 1:
            raise ValueError("RelabelMemory needs 0 < radius <= 2, strength > 0 and k >= 1")
        self.labels = tuple(labels)
        self.radius, self.strength, self.k = radius, strength, k
        self.adapter = adapter
        self._adapted = True  # the adapter has been fitted on what is remembered now
        self._ids: list[int] = []
        self._labels: list[str] = []
        self._times: list[str] = []
        self._vectors = np.zeros((0, 0), dtype=np.float32)  # unit length, for the vote's cosine distances
        self._raw: list[np.ndarray] = []  # as the model gave them, for the adapter (the head standardises them)

    def __len__(self) -> int:
        return len(self._ids)

    def add(self, sample_id: int, label: str, embedding: np.ndarray, labelled_at: str = "") -> None:
        """Remember (or re-label) ``sample_id``."""
        if label not in self.labels:
            raise ValueError(f"unknown label {label!r}")
        v = _unit(embedding)
        self.remove(sample_id)
        if len(self._ids) and v.shape[0] != self._vectors.shape[1]:
            raise ValueError(f"embedding has {v.shape[0]} values; the memory holds {self._vectors.shape[1]}")
        self._vectors = v[None, :] if not len(self._ids) else np.vstack([self._vectors, v])
        self._ids.append(sample_id)
        self._labels.append(label)
        self._times.append(labelled_at)
        self._raw.append(np.asarray(embedding, dtype=np.float32).ravel())
        self._adapted = False

    def remove(self, sample_id: int) -> None:
        """Forget ``sample_id`` (nothing happens if it is not remembered)."""
        if sample_id not in self._ids:
            return
        i = self._ids.index(sample_id)
        for seq in (self._ids, self._labels, self._times, self._raw):
            del seq[i]
        self._vectors = np.delete(self._vectors, i, axis=0)
        self._adapted = False

    def refit(self) -> None:
        """Fit the adapter on the remembered samples now (:meth:`fuse` does it when first needed after a change:
        a library's whole memory is added at once and fitted once)."""
        if self.adapter is not None:
            self.adapter.fit(np.array(self._raw), [self.labels.index(label) for label in self._labels])
        self._adapted = True

    def neighbours(self, embedding: np.ndarray) -> list[Recall]:
        """The (at most ``k``) remembered samples within ``radius`` of ``embedding``, closest first."""
        if not self._ids:
            return []
        distances = 1.0 - self._vectors @ _unit(embedding)
        order = np.argsort(distances, kind="stable")[: self.k]
        return [Recall(self._ids[i], self._labels[i], float(distances[i]), self._times[i])
                for i in order if distances[i] < self.radius]

    def fuse(self, probs: np.ndarray, embedding: np.ndarray) -> Vote:
        """The model's ``probs`` (over ``labels``), adapted to the corrections, fused with the vote of the
        remembered samples near ``embedding``."""
        probs = np.asarray(probs, dtype=np.float64)
        if self.adapter is not None:
            if not self._adapted:
                self.refit()
            probs = self.adapter.adapt(probs, embedding)
        near = self.neighbours(embedding)
        if not near:
            return Vote(probs, 0.0, self._teacher(probs, embedding))
        votes = np.zeros(len(self.labels))
        for r in near:
            votes[self.labels.index(r.label)] += 1.0 - r.distance / self.radius
        total = float(votes.sum())
        alpha = total / (total + self.strength)
        fused = (1.0 - alpha) * probs + alpha * votes / total
        answer = self.labels[int(np.argmax(fused))]
        recall = next((r for r in near if r.label == answer), None)
        return Vote(fused, alpha, recall or self._teacher(fused, embedding))

    def _teacher(self, probs: np.ndarray, embedding: np.ndarray) -> Recall | None:
        """The closest remembered sample labelled with the answer of ``probs``, when the adapter is on."""
        answer = self.labels[int(np.argmax(probs))]
        if self.adapter is None or answer not in self._labels:
            return None
        distances = 1.0 - self._vectors @ _unit(embedding)
        i = min((i for i, label in enumerate(self._labels) if label == answer), key=lambda i: distances[i])
        return Recall(self._ids[i], self._labels[i], float(distances[i]), self._times[i])
