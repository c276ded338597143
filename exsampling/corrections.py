"""The performer's corrections in the live chain: the re-label memory's vote (:mod:`exsampling.memory`) and the
offset they fit to the model's answers (:mod:`exsampling.adapt`), both derived from the library's memory table,
and the embeddings of recent samples, kept so a re-label needs no second pass through the model.

The finisher thread adapts each recording's probabilities while the console's thread teaches a re-label and
refits, and the model loader's thread attaches the adapter once the model is in: one lock keeps the memory whole
between them. A refit costs milliseconds for a show's corrections; a recording finished meanwhile waits for it.
"""
from __future__ import annotations

import threading
from collections import OrderedDict

import numpy as np

from .adapt import HeadAdapter
from .classifier import Classifier
from .config import ClassifierConfig
from .library import Library
from .memory import Recall, RelabelMemory, Vote
from .records import Sample, utc_now

#: Embeddings kept in memory for quick re-labelling; older samples are re-embedded from their file.
EMBEDDINGS_KEPT = 256


def _adapter_for(cfg: ClassifierConfig, classifier: Classifier | None) -> HeadAdapter | None:
    """The offset the corrections fit (``[classifier] adapt``), if the model's head is one it can replay."""
    head = classifier.head if classifier and cfg.adapt else None
    if head is None or classifier is None:
        return None
    trained = np.array([label in classifier.info.trained_labels for label in classifier.info.labels])
    return HeadAdapter(head, trained, cfg.adapt_anchor, cfg.adapt_width)


class Corrections:
    """What the performer's re-labels teach the chain.

    Parameters
    ----------
    cfg : ClassifierConfig — ``memory`` (``enabled``), the vote's radius and strength, the adapter's settings.
    labels : the label order of the model's probabilities.
    library : Library — where the corrections are kept; its memory table is read once, here.
    classifier : the loaded model, or None (none, or still loading: :meth:`attach` it once loaded).
    """

    def __init__(self, cfg: ClassifierConfig, labels: tuple[str, ...], library: Library,
                 classifier: Classifier | None) -> None:
        self.cfg, self.library = cfg, library
        self.enabled = cfg.memory
        self.memory = RelabelMemory(labels, cfg.memory_max_distance, cfg.memory_strength,
                                    adapter=_adapter_for(cfg, classifier))
        for sample_id, label, vector, at in library.memory():
            self.memory.add(sample_id, label, vector, at)
        self.memory.refit()  # the adapted layer, derived from the library's corrections alone
        self._embeddings: OrderedDict[int, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def attach(self, classifier: Classifier | None) -> None:
        """Fit the adapter for the model just loaded (once; the loader's thread)."""
        with self._lock:
            if classifier is not None and self.memory.adapter is None:
                self.memory.adapter = _adapter_for(self.cfg, classifier)
                self.memory.refit()

    def adapt(self, probs: np.ndarray, embeddings: np.ndarray) -> tuple[np.ndarray, list[Vote | None]]:
        """The model's probabilities ``(n, n_labels)`` for a recording's pieces as the corrections adapt them (the
        re-label memory's vote on each piece), and each piece's vote (None: memory off)."""
        if not self.enabled:
            return probs, [None] * len(probs)
        with self._lock:
            votes: list[Vote | None] = [self.memory.fuse(p, e) for p, e in zip(probs, embeddings, strict=True)]
        return np.stack([v.probs for v in votes if v is not None]), votes

    def keep(self, sample_id: int, embedding: np.ndarray) -> None:
        """Keep a new sample's embedding (the newest :data:`EMBEDDINGS_KEPT`) for its re-label."""
        with self._lock:
            self._embeddings[sample_id] = embedding
            while len(self._embeddings) > EMBEDDINGS_KEPT:
                self._embeddings.popitem(last=False)

    def embedding(self, sample_id: int) -> np.ndarray | None:
        """The kept embedding of ``sample_id``; None when it is not (or no longer) kept."""
        with self._lock:
            return self._embeddings.get(sample_id)

    def teach(self, sample_id: int, label: str, embedding: np.ndarray) -> None:
        """Remember the performer's ``label`` for the sample with ``embedding``: in the library, in the vote, and in
        the adapter, refitted here, on the performer's time, not on the next participant's."""
        self.library.remember(sample_id, label, embedding)
        with self._lock:
            self.memory.add(sample_id, label, embedding, utc_now())
            self.memory.refit()

    def recall_of(self, sample: Sample) -> Recall | None:
        """For a sample labelled from memory: which remembered sample decided it, and when."""
        if sample.recalled_from is None:
            return None
        for remembered_id, label, vector, at in self.library.memory():
            if remembered_id == sample.recalled_from:
                e = self.embedding(sample.id)
                norms = max(float(np.linalg.norm(vector) * np.linalg.norm(e)), 1e-12) if e is not None else 1.0
                distance = float(1.0 - np.dot(vector, e) / norms) if e is not None else float("nan")
                return Recall(remembered_id, label, distance, at)
        return None
