"""In-show adaptation: the performer's corrections retune the model's answers, anchored at the shipped model.

The re-label memory (exsampling.memory) reaches only sounds within a small radius of a correction; a door
knocked in another room is farther than that. Here the corrections fit a smooth offset to the head's logits over
the embedding: with ``x̂`` a sound's embedding as the head sees it (after the model's own standardisation, unit
length), and ``k(x̂, x̂') = exp(−(1 − x̂·x̂') / width)`` (a Gaussian of their distance on the sphere), the adapted
logits are ``z + Σ_i k(x̂, x̂_i) · a_i`` for the corrected pieces ``i``, and the ``a_i`` minimise::

    Σ_i −log softmax(z_i + Σ_j k(x̂_i, x̂_j) · a_j)[y_i]  +  anchor/2 · |offset|²

(``y_i`` the performer's label; ``|offset|²`` the offset's norm in the kernel's space, so ``anchor`` holds the
answers at the shipped model's: a few gradient-fitted steps away from it, never a new model). A correction moves
the sounds near it most and those far from it not at all; one odd correction does not move a class the model is
sure of, several consistent ones move a whole region of sounds (tests/test_adapt.py; tools/calibrate.py measures
both on real recordings and chooses ``anchor`` and ``width``). The problem is strictly convex, so the offset is a
function of the set of corrections alone (up to the solver's tolerance): it is recomputed from the library's memory
table, in the order the performer made them, when a show is opened or imported, and refitted after each
re-label. Labels the model never trained on stay masked until the performer teaches one.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

#: The most L-BFGS steps a fit takes (a show's consistent corrections need 30–90).
MAX_STEPS = 200

#: The format :meth:`Head.save` writes.
HEAD_FORMAT = 1

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

    standardise : ``(mean, scale)`` or None, applied first (Keras' Normalization: the training set's statistics).
    layer_norm : ``(gamma, beta, epsilon)`` or None, applied next (Keras' LayerNormalization: each row's own).
    hidden : ``(W, b)`` pairs of the ReLU dense layers after it, in order.
    last : ``(W, b)`` of the output layer (its softmax is applied by the caller).
    """

    standardise: tuple[np.ndarray, np.ndarray] | None
    hidden: tuple[tuple[np.ndarray, np.ndarray], ...]
    last: tuple[np.ndarray, np.ndarray]
    layer_norm: tuple[np.ndarray, np.ndarray, float] | None = None

    def inputs(self, embeddings: np.ndarray) -> np.ndarray:
        """The embeddings ``(n, e)`` as the head's first dense layer takes them (after its normalisations)."""
        x = np.asarray(embeddings, dtype=np.float64)
        if self.standardise is not None:
            mean, scale = self.standardise
            x = (x - mean) / scale
        if self.layer_norm is not None:
            gamma, beta, eps = self.layer_norm
            centred = x - x.mean(axis=-1, keepdims=True)
            x = centred / np.sqrt((centred ** 2).mean(axis=-1, keepdims=True) + eps) * gamma + beta
        return x

    def features(self, embeddings: np.ndarray) -> np.ndarray:
        """The last layer's input ``(n, d)`` for embeddings ``(n, e)`` (a single ``(e,)`` gives ``(d,)``)."""
        x = self.inputs(embeddings)
        for w, b in self.hidden:
            x = np.maximum(x @ w + b, 0.0)
        return x

    def logits(self, embeddings: np.ndarray) -> np.ndarray:
        """The output layer's logits (before the softmax) for ``embeddings``."""
        w, b = self.last
        return self.features(embeddings) @ w + b

    def save(self, path: Path, source_sha256: str) -> None:
        """Write the head to ``path`` (``.npz``, the float64 it computes in), naming the ``.keras`` it was
        copied from by its SHA-256 so that :meth:`read` refuses it once that model changes."""
        arrays: dict[str, Any] = {"format": np.array(HEAD_FORMAT), "source_sha256": np.array(source_sha256),
                                         "last_w": self.last[0], "last_b": self.last[1]}
        if self.standardise is not None:
            arrays["standardise_mean"], arrays["standardise_scale"] = self.standardise
        if self.layer_norm is not None:
            gamma, beta, eps = self.layer_norm
            arrays |= {"layer_norm_gamma": gamma, "layer_norm_beta": beta, "layer_norm_eps": np.array(eps)}
        for i, (w, b) in enumerate(self.hidden):
            arrays[f"hidden{i}_w"], arrays[f"hidden{i}_b"] = w, b
        with open(path, "wb") as f:
            np.savez(f, **arrays)

    @classmethod
    def read(cls, path: Path, source_sha256: str) -> Head | None:
        """The head :meth:`save` wrote to ``path``; None when there is none, or it was copied from another
        ``.keras`` than the one whose SHA-256 is ``source_sha256``, or it cannot be read."""
        try:
            with np.load(path, allow_pickle=False) as f:
                if int(f["format"]) != HEAD_FORMAT or str(f["source_sha256"]) != source_sha256:
                    return None
                a = {k: np.asarray(f[k], dtype=np.float64) for k in f.files if k not in ("format", "source_sha256")}
        except (OSError, ValueError, KeyError):
            return None
        hidden: list[tuple[np.ndarray, np.ndarray]] = []
        while f"hidden{len(hidden)}_w" in a:
            hidden.append((a[f"hidden{len(hidden)}_w"], a[f"hidden{len(hidden)}_b"]))
        standardise = (a["standardise_mean"], a["standardise_scale"]) if "standardise_mean" in a else None
        layer_norm = ((a["layer_norm_gamma"], a["layer_norm_beta"], float(a["layer_norm_eps"]))
                      if "layer_norm_gamma" in a else None)
        return cls(standardise, tuple(hidden), (a["last_w"], a["last_b"]), layer_norm)

    @staticmethod
    def path_for(model_path: str | Path) -> Path:
        """Where the head of ``model_path`` (``NAME.keras``) is kept: ``NAME.head.npz`` beside it."""
        return Path(model_path).with_suffix(".head.npz")

    @classmethod
    def of(cls, model, embedding_layer: str) -> Head | None:
        """Copy the layers after ``embedding_layer`` of a Keras ``model``; None when they are not a plain chain of
        Normalization, LayerNormalization, Dropout and Dense (ReLU, then a softmax output) layers, which this module
        can replay."""
        try:
            start = model.get_layer(embedding_layer)
        except ValueError:
            return None
        layers = model.layers[model.layers.index(start) + 1:]
        standardise, layer_norm, previous = None, None, start
        dense: list[tuple[str, np.ndarray, np.ndarray]] = []
        for layer in layers:
            if layer.input is not previous.output:  # not a plain chain
                return None
            kind, config = type(layer).__name__, layer.get_config()
            if kind == "Normalization" and not dense and standardise is None and not config.get("invert"):
                mean, variance = (np.asarray(v, dtype=np.float64).ravel() for v in (layer.mean, layer.variance))
                standardise = (mean, np.maximum(np.sqrt(variance), _KERAS_EPSILON))
            elif kind == "LayerNormalization" and not dense and layer_norm is None \
                    and config.get("axis") in (-1, [-1]) and config.get("center") and config.get("scale") \
                    and not config.get("rms_scaling"):
                gamma, beta = (np.asarray(v, dtype=np.float64) for v in layer.get_weights())
                layer_norm = (gamma, beta, float(config["epsilon"]))
            elif kind == "Dense" and config.get("activation") in ("relu", "softmax") and config.get("use_bias"):
                w, b = (np.asarray(v, dtype=np.float64) for v in layer.get_weights())
                dense.append((config["activation"], w, b))
            elif kind != "Dropout":
                return None
            previous = layer
        if previous is not model.layers[-1] or not dense or dense[-1][0] != "softmax" \
                or any(a != "relu" for a, _, _ in dense[:-1]):
            return None
        return cls(standardise, tuple((w, b) for _, w, b in dense[:-1]), (dense[-1][1], dense[-1][2]), layer_norm)


class HeadAdapter:
    """The anchored offset (see the module's docstring) for a model's :class:`Head`.

    Parameters
    ----------
    head : the model's head.
    trained : ``(n_labels,)`` bool, the labels the model was trained on (the others are masked until taught).
    anchor : weight of the offset's norm: larger keeps the shipped answers more firmly (> 0).
    width : the kernel's reach, in cosine distance (> 0): a correction's pull falls by e at this distance.
    """

    def __init__(self, head: Head, trained: np.ndarray, anchor: float, width: float) -> None:
        if anchor <= 0 or width <= 0:
            raise ValueError("HeadAdapter needs anchor > 0 and width > 0")
        self.head = head
        self.trained = np.asarray(trained, dtype=bool)
        self.anchor, self.width = float(anchor), float(width)
        #: (x̂ of the corrected pieces, one row each; their a_i; the labels taught), replaced whole by each fit, so
        #: the pipeline's thread never reads half of one
        self.state = (np.zeros((0, 0)), np.zeros((0, len(self.trained))), np.zeros(len(self.trained), dtype=bool))

    def _unit_inputs(self, embeddings: np.ndarray) -> np.ndarray:
        return _unit_rows(self.head.inputs(np.atleast_2d(np.asarray(embeddings, dtype=np.float64))))

    def _kernel(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return np.exp(-(1.0 - a @ b.T) / self.width)

    def fit(self, embeddings: np.ndarray, targets: Sequence[int]) -> None:
        """Solve for the offset from the corrected pieces' ``embeddings`` ``(n, e)`` and label indices ``targets``
        (no corrections: back to the shipped answers). ``n × n_labels`` unknowns: milliseconds for a show's
        corrections."""
        from scipy.optimize import minimize  # here: it costs ≈ 0.3 s to import, and most commands never adapt

        y = np.asarray(targets, dtype=np.int64)
        taught = np.zeros(len(self.trained), dtype=bool)
        taught[y] = True
        if len(y) == 0:
            self.state = (np.zeros((0, 0)), np.zeros((0, len(self.trained))), taught)
            return
        e = np.asarray(embeddings, dtype=np.float64)
        basis = self._unit_inputs(e)
        gram = self._kernel(basis, basis)
        z = np.where(self.trained | taught, self.head.logits(e), -np.inf)
        onehot = np.eye(len(self.trained))[y]
        shape = (len(y), len(self.trained))

        def loss(flat: np.ndarray) -> tuple[float, np.ndarray]:
            a = flat.reshape(shape)
            moved = gram @ a
            logp = _log_softmax(z + moved)
            value = -float(np.sum(logp[np.arange(len(y)), y])) + 0.5 * self.anchor * float(np.sum(a * moved))
            return value, (gram @ (np.exp(logp) - onehot + self.anchor * a)).ravel()

        # consistent corrections converge in tens of steps; contradictory ones (one sound given two labels) would
        # take thousands for digits no answer depends on, so the steps are capped (deterministic all the same)
        found = minimize(loss, np.zeros(np.prod(shape)), jac=True, method="L-BFGS-B",
                         options={"maxiter": MAX_STEPS, "gtol": 1e-5})
        self.state = (basis, found.x.reshape(shape), taught)

    def adapt(self, probs: np.ndarray, embedding: np.ndarray) -> np.ndarray:
        """The probabilities ``probs`` (over the labels, untrained ones masked) of the sound with ``embedding``,
        after the update: ``p_j · exp(offset_j)``, renormalised; a taught untrained label gets its share from the
        head's own logits."""
        p = np.asarray(probs, dtype=np.float64)
        basis, coef, taught = self.state
        if not len(basis):
            return p
        allowed = self.trained | taught
        offset = self._kernel(self._unit_inputs(embedding), basis)[0] @ coef
        logp = np.where(p > 0, np.log(np.where(p > 0, p, 1.0)), -np.inf)
        newly = taught & ~self.trained
        if newly.any():  # the masked label's share relative to the trained ones, as the unmasked softmax gives it
            z = self.head.logits(np.asarray(embedding)[None])[0]
            logp[newly] = z[newly] - _log_softmax_total(z[self.trained])
        out = np.exp(_log_softmax(logp + offset))
        return np.where(allowed, out, 0.0)


def _log_softmax_total(z: np.ndarray) -> float:
    top = float(np.max(z))
    return top + float(np.log(np.sum(np.exp(z - top))))
