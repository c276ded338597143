"""The shipped model: it loads, it names the 41 labels, and it recognises clear sounds from a source it never heard.

The clear cases are rendered here with fluidsynth from TimGM6mb, a SoundFont kept out of training (it is
the held-out family of models/README.md). CI needs the Debian packages fluidsynth and timgm6mb-soundfont.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from exsampling.features import SFX_MEL
from exsampling.mapping import DEFAULT_MAPPING, LABELS
from exsampling.resources import default_model

pytestmark = pytest.mark.slow  # loads the shipped model and renders notes with fluidsynth

MODEL = default_model()
TIMGM6MB = Path("/usr/share/sounds/sf2/TimGM6mb.sf2")

#: (label, GM program or drum-kit number, channel, MIDI key, seconds held). Channel 9 = the drum kit.
#: These are one clean note each, so a single case is a weak measure: of 29 such probes (one per
#: trained instrument-sample label and a few extra keys) the shipped model gets 23 right (it misses a
#: cello, clarinet, harmonica, violin, telephone and a bowed contrabass at key 40). The cases below are
#: among those 23, spread over the instruments; the held-out numbers in models/README.md are the real
#: measure. A retrained model that misses one of them should be compared on those numbers before
#: changing this list.
CLEAR_CASES = [
    ("Bass_drum", 0, 9, 36, 0.3),
    ("Snare_drum", 0, 9, 40, 0.3),
    ("Hi-hat", 0, 9, 42, 0.3),
    ("Cowbell", 0, 9, 56, 0.5),
    ("Flute", 73, 0, 78, 2.0),
    ("Oboe", 68, 0, 72, 2.0),
    ("Double_bass", 32, 0, 40, 2.0),
    ("Glockenspiel", 9, 0, 84, 1.0),
    ("Electric_piano", 4, 0, 66, 2.0),
    ("Applause", 126, 0, 60, 4.0),
]


@pytest.fixture(scope="module")
def clf():
    from exsampling.classifier import Classifier

    return Classifier.load(MODEL)


def test_shipped_model_is_small_and_described_honestly():
    assert MODEL.is_file() and MODEL.stat().st_size <= 25 * 1000 * 1000
    meta = json.loads(MODEL.with_suffix(".json").read_text())
    assert meta["labels"] == list(LABELS)
    assert meta["features"] == SFX_MEL.to_dict()
    assert meta["embedding_layer"] == "embedding"
    assert meta["architecture"]["name"] == "aisfx"
    notice = (Path(__file__).resolve().parent.parent / "NOTICE").read_text()
    assert "CC BY 4.0" in notice and "Changes made" in notice
    assert set(meta["trained_labels"]) < set(LABELS)
    held_out = meta["metrics"]["test"]
    assert held_out["n"] > 0 and 0 < held_out["top1"] <= held_out["top3"] <= 1
    card = (MODEL.parent / "README.md").read_text()
    for label in set(LABELS) - set(meta["trained_labels"]):
        assert label in card  # every label it cannot know is named in the model card


def test_shipped_runtime_belongs_to_the_shipped_model_and_runs(clf):
    """After a retraining, `python tools/convert_runtime.py models/default.keras --manifest …` makes it belong again."""
    from exsampling import runtime

    record = runtime.fresh_record(MODEL)  # raises, saying what to run, when it was converted from another .keras
    assert record is not None and record.quantization == "int8"
    assert clf.runtime == f"LiteRT, {record.artifact}"
    shipped = MODEL.stat().st_size + MODEL.with_name(record.artifact).stat().st_size
    assert shipped <= 25 * 1000 * 1000  # the model files together (issue 19)


def test_shipped_model_loads_with_the_41_labels(clf):
    assert clf.info.labels == LABELS
    probs, emb = clf.classify(np.zeros((2, *SFX_MEL.shape), np.float32))
    assert probs.shape == (2, len(LABELS)) and emb.ndim == 2
    untrained = [i for i, label in enumerate(LABELS) if label not in clf.info.trained_labels]
    assert np.all(probs[:, untrained] == 0)


@pytest.mark.skipif(shutil.which("fluidsynth") is None or not TIMGM6MB.is_file(),
                    reason="needs the Debian packages fluidsynth and timgm6mb-soundfont")
@pytest.mark.parametrize("label,program,channel,key,seconds", CLEAR_CASES, ids=[c[0] for c in CLEAR_CASES])
def test_clear_sounds_from_an_unheard_soundfont(clf, label, program, channel, key, seconds):
    from exsampling.corpus import render
    from exsampling.train import TrimRule, clip_images

    params = clf.info.features
    (y,) = render(TIMGM6MB, [(0.1, seconds, key, 110)], program, channel, params.sample_rate)
    images = clip_images(y, params, TrimRule())
    probs, _ = clf.classify(images)
    top = [clf.info.labels[i] for i in np.argsort(probs[0])[::-1][:3]]
    assert top[0] == label, f"{label} heard as {top} (probabilities {np.sort(probs[0])[::-1][:3].round(2)})"
    assert DEFAULT_MAPPING[top[0]] == DEFAULT_MAPPING[label]
