"""What every source of the corpus yields (:class:`Origin`: one original sound) and the error a build raises."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


class CorpusError(RuntimeError):
    """The corpus cannot be built (nothing installed, no fluidsynth, unwritable output)."""


@dataclass(frozen=True)
class Origin:
    """One original sound before augmentation.

    kind: "note" (pitched, rendered at the wanted pitch), "hit" (a one-shot that may be repeated in a
    pattern), "texture" (a sound with no natural end, looped or cropped to a random length) or "recording"
    (a whole real recording, already a performance: never repeated or looped; a held-out one is used as is).
    y: mono float32 audio at the corpus rate. origin: unique id; clips of one origin stay in one split.
    """

    label: str
    source: str
    family: str
    licence: str
    split: str
    origin: str
    kind: str
    y: np.ndarray
