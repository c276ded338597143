"""The re-label memory's fusion: a few corrections move similar sounds, far ones keep the model's answer."""
import numpy as np
import pytest

from exsampling.mapping import LABELS
from exsampling.memory import RelabelMemory


def probs_for(label: str, p: float = 0.7) -> np.ndarray:
    out = np.full(len(LABELS), (1 - p) / (len(LABELS) - 1))
    out[LABELS.index(label)] = p
    return out


def test_nothing_remembered_keeps_the_models_answer():
    mem = RelabelMemory(LABELS)
    vote = mem.fuse(probs_for("Bark"), np.ones(8))
    assert vote.weight == 0 and vote.recall is None and np.allclose(vote.probs, probs_for("Bark"))


def test_one_close_correction_nudges_three_decide():
    rng = np.random.default_rng(0)
    knock = rng.random(64)
    mem = RelabelMemory(LABELS, radius=0.3, strength=1.0, k=5)
    model = probs_for("Bass_drum", 0.8)  # a confident wrong answer
    mem.add(1, "Knock", knock + 0.05 * rng.random(64))
    one = mem.fuse(model, knock)
    assert 0 < one.weight < 0.5 and one.probs.sum() == pytest.approx(1.0)
    assert one.probs[LABELS.index("Knock")] > model[LABELS.index("Knock")]
    for i in (2, 3):
        mem.add(i, "Knock", knock + 0.05 * rng.random(64))
    three = mem.fuse(model, knock)
    assert LABELS[int(np.argmax(three.probs))] == "Knock" and three.weight > 0.6
    assert three.recall is not None and three.recall.sample_id in (1, 2, 3) and three.recall.label == "Knock"


def test_an_unsure_model_gives_way_to_one_correction():
    rng = np.random.default_rng(1)
    e = rng.random(32)
    mem = RelabelMemory(LABELS, radius=0.3, strength=1.0)
    mem.add(7, "Meow", e, "2026-11-30T21:00:00Z")
    vote = mem.fuse(probs_for("Laughter", 0.3), e)
    assert LABELS[int(np.argmax(vote.probs))] == "Meow"
    assert vote.recall.sample_id == 7 and vote.recall.distance < 1e-6 and vote.recall.labelled_at.startswith("2026")


def test_far_corrections_have_no_say_and_weights_fall_with_distance():
    mem = RelabelMemory(LABELS, radius=0.2, strength=1.0)
    a = np.zeros(16)
    a[0] = 1
    b = np.zeros(16)
    b[1] = 1  # orthogonal: cosine distance 1
    mem.add(1, "Knock", a)
    assert mem.fuse(probs_for("Bark"), b).weight == 0
    near = np.array([1.0, 0.2] + [0.0] * 14)  # distance ≈ 0.019
    nearer = np.array([1.0, 0.05] + [0.0] * 14)
    assert mem.fuse(probs_for("Bark"), nearer).weight > mem.fuse(probs_for("Bark"), near).weight > 0


def test_relabel_forget_and_k_nearest():
    rng = np.random.default_rng(2)
    e = rng.random(16)
    mem = RelabelMemory(LABELS, radius=0.5, k=2)
    for i in range(4):
        mem.add(i, "Cough", e + 0.01 * i)
    assert len(mem) == 4 and len(mem.neighbours(e)) == 2 and mem.neighbours(e)[0].sample_id == 0
    mem.add(0, "Laughter", e)
    assert len(mem) == 4 and mem.neighbours(e)[0].label == "Laughter"
    mem.remove(0)
    mem.remove(99)
    assert len(mem) == 3 and all(r.sample_id != 0 for r in mem.neighbours(e))
    with pytest.raises(ValueError, match="unknown label"):
        mem.add(5, "Dragon", e)
    with pytest.raises(ValueError):
        RelabelMemory(LABELS, radius=0)
