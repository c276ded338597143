"""In-show adaptation: the performer's corrections retune the model's last layer, anchored at the shipped weights.

The re-label memory (exsampling.memory) reaches only sounds within a small radius of a correction; a door
knocked in another room is farther than that. The head's last layer is a linear map of its input features ``f``
(the embedding after the model's own standardise/hidden layers), so a correction can teach it directly. The
adapted logits of a sound are ``z + Δᵀ·f̂`` (``f̂ = f/|f|``, ``z`` the shipped head's logits), and ``Δ``
minimises, over the corrected pieces ``i`` with the performer's labels ``y_i``::

    Σ_i −log softmax(z_i + Δᵀ·f̂_i)[y_i]  +  anchor/2 · |Δ|²

The anchor holds the layer at the shipped weights (Δ = 0): one odd correction moves its own sound and those like
it, but not a class the model is sure of, while several consistent ones move a whole region of sounds
(tests/test_adapt.py; tools/calibrate.py measures both on real recordings). The problem is strictly convex, so
``Δ`` is a function of the set of corrections alone, whatever their order: it is recomputed from the library's
memory table when a show is opened or imported, and refitted after each re-label. Labels the model never trained
on stay masked until the performer teaches one.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

#: Keras' Normalization layer divides by max(√variance, this).
_KERAS_EPSILON = 1e-7


def _unit_rows(f: np.ndarray) -> np.ndarray:
    return f / np.maximum(np.linalg.norm(f, axis=-1, keepdims=True), 1e-12)


def _log_softmax(z: np.ndarray) -> np.ndarray:
    top = np.max(z, axis=-1, keepdims=True)
    top = np.where(np.isfinite(top), top, 0.0)
    return z - top - np.log(np.sum(np.exp(z - top), axis=-1, keepdims=True))


@dataclass(frozen=True)
class Head:
    """The layers between a model's embedding and its output, copied into numpy.

    standardise : per-layer ``(mean, scale)`` or None, applied first (Keras' Normalization).
    hidden : ``(W, b)`` pairs of the ReLU dense layers after it, in order.
    last : ``(W, b)`` of the output layer (its softmax is applied by the caller).
    """

    standardise: tuple[np.ndarray, np.ndarray] | None
    hidden: tuple[tuple[np.ndarray, np.ndarray], ...]
    last: tuple[np.ndarray, np.ndarray]

    def features(self, embeddings: np.ndarray) -> np.ndarray:
        """The last layer's input ``(n, d)`` for embeddings ``(n, e)`` (a single ``(e,)`` gives ``(d,)``)."""
        x = np.asarray(embeddings, dtype=np.float64)
        if self.standardise is not None:
            mean, scale = self.standardise
            x = (x - mean) / scale
        for w, b in self.hidden:
            x = np.maximum(x @ w + b, 0.0)
        return x

    def logits(self, embeddings: np.ndarray) -> np.ndarray:
        """The output layer's logits (before the softmax) for ``embeddings``."""
        w, b = self.last
        return self.features(embeddings) @ w + b

    @classmethod
    def of(cls, model, embedding_layer: str) -> Head | None:
        """Copy the layers after ``embedding_layer`` of a Keras ``model``; None when they are not a plain chain of
        Normalization, Dropout and Dense (ReLU, then a softmax output) layers, which this module can replay."""
        try:
            start = model.get_layer(embedding_layer)
        except ValueError:
            return None
        layers = model.layers[model.layers.index(start) + 1:]
        standardise, dense, previous = None, [], start
        for layer in layers:
            if layer.input is not previous.output:  # not a plain chain
                return None
            kind, config = type(layer).__name__, layer.get_config()
            if kind == "Normalization" and not dense and standardise is None and not config.get("invert"):
                mean, variance = (np.asarray(v, dtype=np.float64).ravel() for v in (layer.mean, layer.variance))
                standardise = (mean, np.maximum(np.sqrt(variance), _KERAS_EPSILON))
            elif kind == "Dense" and config.get("activation") in ("relu", "softmax") and config.get("use_bias"):
                w, b = (np.asarray(v, dtype=np.float64) for v in layer.get_weights())
                dense.append((config["activation"], w, b))
            elif kind != "Dropout":
                return None
            previous = layer
        if previous is not model.layers[-1] or not dense or dense[-1][0] != "softmax" \
                or any(a != "relu" for a, _, _ in dense[:-1]):
            return None
        return cls(standardise, tuple((w, b) for _, w, b in dense[:-1]), (dense[-1][1], dense[-1][2]))


class HeadAdapter:
    """The anchored last-layer update (see the module's docstring) for a model's :class:`Head`.

    Parameters
    ----------
    head : the model's head.
    trained : ``(n_labels,)`` bool, the labels the model was trained on (the others are masked until taught).
    anchor : weight of ``|Δ|²``: larger keeps the shipped layer more firmly (> 0).
    """

    def __init__(self, head: Head, trained: np.ndarray, anchor: float = 0.1) -> None:
        if anchor <= 0:
            raise ValueError("HeadAdapter needs anchor > 0")
        self.head = head
        self.trained = np.asarray(trained, dtype=bool)
        self.anchor = float(anchor)
        self.delta = np.zeros((head.last[0].shape[0], len(self.trained)))
        self.taught = np.zeros(len(self.trained), dtype=bool)

    def fit(self, embeddings: np.ndarray, targets: Sequence[int]) -> None:
        """Solve for ``Δ`` from the corrected pieces' ``embeddings`` ``(n, e)`` and label indices ``targets``.

        No corrections: back to the shipped layer. ``Δ`` lies in the span of the corrections' features (its
        gradient always does), so it is found as ``Δ = F̂ᵀ·A`` over ``n × n_labels`` unknowns ``A``: milliseconds
        for a show's corrections, where the whole layer would take seconds.
        """
        from scipy.optimize import minimize  # here: it costs ≈ 0.3 s to import, and most commands never adapt

        y = np.asarray(targets, dtype=np.int64)
        self.taught = np.zeros(len(self.trained), dtype=bool)
        if len(y) == 0:
            self.delta = np.zeros_like(self.delta)
            return
        self.taught[y] = True
        e = np.asarray(embeddings, dtype=np.float64)
        f = _unit_rows(self.head.features(e))
        gram = f @ f.T
        z = np.where(self._allowed, self.head.logits(e), -np.inf)
        onehot = np.eye(len(self.trained))[y]
        shape = (len(y), len(self.trained))

        def loss(flat: np.ndarray) -> tuple[float, np.ndarray]:
            a = flat.reshape(shape)
            moved = gram @ a
            logp = _log_softmax(z + moved)
            value = -float(np.sum(logp[np.arange(len(y)), y])) + 0.5 * self.anchor * float(np.sum(a * moved))
            return value, (gram @ (np.exp(logp) - onehot + self.anchor * a)).ravel()

        found = minimize(loss, np.zeros(np.prod(shape)), jac=True, method="L-BFGS-B",
                         options={"maxiter": 1000, "gtol": 1e-6})
        self.delta = f.T @ found.x.reshape(shape)

    @property
    def _allowed(self) -> np.ndarray:
        return self.trained | self.taught

    def adapt(self, probs: np.ndarray, embedding: np.ndarray) -> np.ndarray:
        """The probabilities ``probs`` (over the labels, untrained ones masked) of the sound with ``embedding``,
        after the update: ``p_j · exp(Δ_jᵀ·f̂)``, renormalised; a taught untrained label gets its share from the
        head's own logits."""
        p = np.asarray(probs, dtype=np.float64)
        if not self.taught.any():
            return p
        f = _unit_rows(self.head.features(np.asarray(embedding)[None]))[0]
        logp = np.log(np.where(p > 0, p, 1.0))
        logp = np.where(p > 0, logp, -np.inf)
        newly = self.taught & ~self.trained
        if newly.any():  # the masked label's share relative to the trained ones, as the unmasked softmax gives it
            z = self.head.logits(np.asarray(embedding)[None])[0]
            logp[newly] = z[newly] - _log_softmax_total(z[self.trained])
        out = np.exp(_log_softmax(logp + f @ self.delta))
        return np.where(self._allowed, out, 0.0)


def _log_softmax_total(z: np.ndarray) -> float:
    top = float(np.max(z))
    return top + float(np.log(np.sum(np.exp(z - top))))
