"""One recording, one judgement: the pooling functions on their own (exsampling.judgement)."""
import numpy as np
import pytest

from exsampling.judgement import confidently_else, loudness, piece_probs, piece_weights, pool


def test_loudness_is_the_rms_amplitude():
    t = np.arange(44100) / 44100
    sine = np.sin(2 * np.pi * 440 * t)
    rms = loudness([sine, 0.1 * sine, np.zeros(100), np.zeros(0)])
    assert rms == pytest.approx([np.sqrt(0.5), 0.1 * np.sqrt(0.5), 0.0, 0.0], abs=1e-6)


def test_weights_grow_with_length_and_loudness_and_sum_to_one():
    w = piece_weights(np.array([5.0, 5.0, 1.0]), np.array([0.2, 0.02, 0.2]))
    assert w.sum() == pytest.approx(1.0)
    assert w[0] == pytest.approx(10 * w[1])  # 20 dB quieter: a tenth of the say
    assert w[0] == pytest.approx(5 * w[2])  # a fifth of the length: a fifth of the say


def test_weights_of_silent_pieces_are_equal():
    assert piece_weights(np.array([5.0, 2.0]), np.zeros(2)).tolist() == [0.5, 0.5]
    assert piece_weights(np.array([5.0]), np.array([0.3])).tolist() == [1.0]


def test_pool_is_the_weighted_mean_of_the_pieces():
    probs = np.array([[0.7, 0.2, 0.1], [0.1, 0.8, 0.1]])
    pooled = pool(probs, np.array([0.75, 0.25]))
    assert pooled == pytest.approx([0.55, 0.35, 0.1])
    assert pooled.sum() == pytest.approx(1.0)
    with pytest.raises(ValueError):
        pool(probs, np.array([1.0]))


def test_a_piece_keeps_its_own_answer_only_when_confidently_something_else():
    probs = np.array([[0.70, 0.20, 0.10],   # agrees with the recording
                      [0.95, 0.03, 0.02],   # agrees, and confident: takes the recording's anyway
                      [0.10, 0.85, 0.05],   # confidently something else
                      [0.20, 0.60, 0.20]])  # something else, not confident
    pooled = np.array([0.5, 0.4, 0.1])
    assert confidently_else(probs, pooled, 0.8).tolist() == [False, False, True, False]
    final = piece_probs(probs, pooled, 0.8)
    assert final[[0, 1, 3]] == pytest.approx(np.tile(pooled, (3, 1)))
    assert final[2] == pytest.approx(probs[2])
    # the threshold is inclusive; 0 lets every dissenting piece keep its own, above its best probability none
    assert confidently_else(probs, pooled, 0.85).tolist() == [False, False, True, False]
    assert confidently_else(probs, pooled, 0.0).tolist() == [False, False, True, True]
    assert not confidently_else(probs, pooled, 0.86).any()


def test_one_piece_is_its_own_recording():
    probs = np.array([[0.1, 0.6, 0.3]])
    pooled = pool(probs, piece_weights(np.array([3.0]), loudness([np.full(10, 0.1)])))
    assert pooled == pytest.approx(probs[0])
    assert piece_probs(probs, pooled, 0.8) == pytest.approx(probs)
