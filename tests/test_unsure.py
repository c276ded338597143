"""The "unsure" scores: the track's summed probability, the logits' energy, and how a threshold is chosen."""
import numpy as np
import pytest

from exsampling.unsure import choose_threshold, energy, flag_curve, track_probability


def test_track_probability_sums_the_labels_of_the_answers_track():
    tracks = ["Snare", "Snare", "BD", None]
    probs = np.array([[0.40, 0.35, 0.25, 0.0], [0.1, 0.2, 0.3, 0.4]])
    assert track_probability(probs, tracks, [0, 2]) == pytest.approx([0.75, 0.3])
    assert track_probability(probs[0], tracks, 1) == pytest.approx(0.75)  # one row in, a scalar out
    assert track_probability(probs[1], tracks, 3) == pytest.approx(0.4)  # an unmapped label is its own track


def test_energy_is_lower_for_a_familiar_peaked_answer_and_ignores_masked_labels():
    flat, peaked = np.zeros(4), np.array([8.0, 0.0, 0.0, 0.0])
    assert energy(peaked) < energy(flat)
    assert energy(flat) == pytest.approx(-np.log(4))
    assert energy(np.array([0.0, 0.0, -np.inf])) == pytest.approx(-np.log(2))
    assert energy(np.stack([flat, peaked])).shape == (2,)


def test_flag_curve_counts_flags_catches_and_precision():
    certainty = np.array([0.1, 0.2, 0.3, 0.9, 0.95])
    wrong = np.array([True, False, True, False, False])
    c = {e["threshold"]: e for e in flag_curve(certainty, wrong, [0.15, 0.35, 1.0])}
    assert c[0.15] == {"threshold": 0.15, "flagged": 0.2, "recall": 0.5, "precision": 1.0}
    assert c[0.35]["flagged"] == pytest.approx(0.6) and c[0.35]["recall"] == 1.0
    assert c[0.35]["precision"] == pytest.approx(2 / 3) and c[1.0]["flagged"] == 1.0


def test_choose_threshold_catches_most_within_the_flag_budget():
    curve = [{"threshold": t, "flagged": f, "recall": r, "precision": 0.5}
             for t, f, r in ((0.2, 0.1, 0.3), (0.3, 0.25, 0.6), (0.35, 0.3, 0.6), (0.4, 0.45, 0.9))]
    assert choose_threshold(curve, 0.30)["threshold"] == 0.3  # same catch, fewer flags: the smaller threshold
    assert choose_threshold(curve, 0.05)["threshold"] == 0.2  # none within: the one flagging least
