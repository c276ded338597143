"""Held-out evaluation: top-1, top-3 and Fig. 5 instrument accuracy, per label, instrument and source family, with
Wilson intervals; the confusion matrices as a picture."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from ..mapping import DEFAULT_MAPPING, LABELS


def evaluate(probs: np.ndarray, y: np.ndarray, labels: tuple[str, ...] = LABELS,
             mapping: dict[str, str] = DEFAULT_MAPPING) -> dict:
    """Top-1 and top-3 accuracy overall and per true label, and instrument accuracy after ``mapping``.

    probs : (n, len(labels)) probabilities (already masked to the trained labels).
    y : (n,) true label indices. Instrument accuracy: the predicted label's instrument equals the true one's.
    """
    top3 = np.argsort(probs, axis=1)[:, ::-1][:, :3]
    pred = top3[:, 0]
    hit1 = pred == y
    hit3 = (top3 == y[:, None]).any(axis=1)
    inst_true = np.array([mapping.get(labels[i], "") for i in y])
    inst_pred = np.array([mapping.get(labels[i], "") for i in pred])
    inst_hit = inst_true == inst_pred
    per_label = {}
    for i in sorted(set(y.tolist())):
        m = y == i
        per_label[labels[i]] = {"n": int(m.sum()), "top1": float(hit1[m].mean()), "top3": float(hit3[m].mean()),
                                "instrument": float(inst_hit[m].mean())}
    per_instrument = {}
    for inst in sorted(set(inst_true.tolist())):
        m = inst_true == inst
        per_instrument[inst] = {"n": int(m.sum()), "accuracy": float(inst_hit[m].mean())}
    n = max(1, len(y))
    return {
        "n": len(y),
        "top1": float(hit1.sum() / n), "top3": float(hit3.sum() / n), "instrument": float(inst_hit.sum() / n),
        "top1_ci95": wilson_interval(int(hit1.sum()), len(y)),
        "instrument_ci95": wilson_interval(int(inst_hit.sum()), len(y)),
        "top1_label_mean": float(np.mean([v["top1"] for v in per_label.values()])) if per_label else 0.0,
        "per_label": per_label, "per_instrument": per_instrument,
    }


def per_family(probs: np.ndarray, y: np.ndarray, families: list[str]) -> dict:
    """:func:`evaluate`'s overall figures (n, top-1, top-3, instrument) for each source family's clips."""
    fam = np.array(families)
    out = {}
    for f in sorted(set(families)):
        m = evaluate(probs[fam == f], y[fam == f])
        out[f] = {k: m[k] for k in ("n", "top1", "top3", "instrument")} | {
            "labels": sorted(m["per_label"])}
    return out


def wilson_interval(hits: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """95 % Wilson score interval of a proportion ``hits / n``: how far a measured accuracy may be off."""
    if n == 0:
        return (0.0, 1.0)
    p = hits / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return (round(centre - half, 4), round(centre + half, 4))


def confusion(y: np.ndarray, pred: np.ndarray, n: int) -> np.ndarray:
    """Counts ``(n, n)``: row = true label index, column = predicted."""
    m = np.zeros((n, n), dtype=np.int64)
    np.add.at(m, (y, pred), 1)
    return m


def confusion_png(path: Path, y: np.ndarray, pred: np.ndarray, labels: tuple[str, ...], title: str,
                  mapping: dict[str, str] = DEFAULT_MAPPING) -> None:
    """Row-normalised label confusion (left) and instrument confusion (right), with counts in the cells."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    shown = sorted(set(y.tolist()) | set(pred.tolist()))  # one set for rows and columns: a true diagonal
    m = confusion(y, pred, len(labels))[np.ix_(shown, shown)]
    instruments = sorted(set(mapping.values()))
    iy = np.array([instruments.index(mapping[labels[i]]) for i in y])
    ip = np.array([instruments.index(mapping[labels[i]]) for i in pred])
    mi = confusion(iy, ip, len(instruments))
    fig, axes = plt.subplots(1, 2, figsize=(22, 11), gridspec_kw={"width_ratios": [2.2, 1]})
    for ax, mat, ylab, xlab, name in (
        (axes[0], m, [labels[i] for i in shown], [labels[i] for i in shown], "label"),
        (axes[1], mi, instruments, instruments, "instrument (Fig. 5)"),
    ):
        norm = mat / np.maximum(mat.sum(axis=1, keepdims=True), 1)
        ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
        ax.set_xticks(range(len(xlab)), xlab, rotation=90, fontsize=8)
        ax.set_yticks(range(len(ylab)), ylab, fontsize=8)
        ax.set_xlabel(f"predicted {name}")
        ax.set_ylabel(f"true {name}")
        for (r, c), v in np.ndenumerate(mat):
            if v:
                ax.text(c, r, str(v), ha="center", va="center", fontsize=6,
                        color="white" if norm[r, c] > 0.5 else "black")
    fig.suptitle(f"{title} — top-1 {np.mean(y == pred):.1%} over {len(y)} clips "
                 "(rows normalised; numbers are clip counts)")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
