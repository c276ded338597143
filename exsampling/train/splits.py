"""Which recordings validate a training run, and why nothing would."""
from __future__ import annotations

import numpy as np

from .layouts import Clip


def validation_groups(clips: list[Clip], fraction: float, seed: int) -> set[str]:
    """Groups drawn for validation: ``fraction`` of each label's training groups (none if it has < 3)."""
    rng = np.random.default_rng(seed)
    by_label: dict[str, list[str]] = {}
    for c in clips:
        if c.split != "test":
            groups = by_label.setdefault(c.label, [])
            if c.group not in groups:
                groups.append(c.group)
    chosen: set[str] = set()
    for label in sorted(by_label):
        groups = by_label[label]
        n = round(fraction * len(groups)) if len(groups) >= 3 else 0
        chosen |= {groups[i] for i in rng.permutation(len(groups))[:n]}
    return chosen


def unvalidated(clips: list[Clip], fraction: float, seed: int) -> str:
    """Why nothing will measure a model trained on ``clips`` (no validation and no held-out clip), or ""."""
    if any(c.split == "test" for c in clips) or validation_groups(clips, fraction, seed):
        return ""
    groups: dict[str, set[str]] = {}
    for c in clips:
        groups.setdefault(c.label, set()).add(c.group)
    need = next((n for n in range(3, 1001) if round(fraction * n) >= 1), None)
    have = ", ".join(f"{label} {len(g)}" for label, g in sorted(groups.items()))
    enough = (f"a label needs {need} separate recordings for one to be held out (--val-fraction {fraction:g})"
              if need else f"--val-fraction {fraction:g} holds nothing out")
    return (f"{len(clips)} clip(s) from too few recordings to validate on any ({have}): {enough}. The model is "
            "trained on all of them and nothing measures it; re-label more sounds, or add DATA, before relying on it")
