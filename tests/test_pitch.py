"""Pitch: every C from C2 to C7 (and the notes between) within ±50 cents; noise and hits are unpitched."""
import numpy as np
import pytest
from conftest import SR, noise_bursts, tone

from exsampling import pitch


def cents(a, b):
    return 1200 * np.log2(a / b)


@pytest.mark.parametrize("midi", range(36, 97))  # C2 … C7
@pytest.mark.parametrize("harmonics", [1, 6])
def test_tones_c2_to_c7_within_50_cents(midi, harmonics):
    hz = pitch.midi_to_hz(midi)
    found = pitch.detect(tone(hz, 2.0, harmonics=harmonics), SR)
    assert found.pitched, f"{pitch.note_name(midi)} reported unpitched"
    assert abs(cents(found.hz, hz)) <= 50
    assert found.midi_note == midi
    assert found.confidence > 0.8


def test_pitch_in_noise():
    rng = np.random.default_rng(3)
    y = tone(440, 3.0) + 0.05 * rng.standard_normal(3 * SR).astype(np.float32)
    assert abs(cents(pitch.detect(y, SR).hz, 440)) <= 50


@pytest.mark.parametrize("make", [
    lambda: np.random.default_rng(0).standard_normal(5 * SR) * 0.3,
    lambda: noise_bursts(5.0),
    lambda: np.where(np.arange(5 * SR) % (SR // 4) == 0, 1.0, 0.0),  # clicks
    lambda: np.zeros(SR),
])
def test_unpitched_sounds(make):
    found = pitch.detect(make(), SR)
    assert not found.pitched and found.midi_note is None


def test_note_names_and_conversions():
    assert pitch.note_name(69) == "A4" and pitch.note_name(60) == "C4" and pitch.note_name(36) == "C2"
    assert pitch.midi_to_hz(69) == pytest.approx(440)
    assert pitch.hz_to_midi(880) == pytest.approx(81)


def test_bad_range_is_refused():
    with pytest.raises(ValueError, match="fmax_hz"):
        pitch.detect(np.ones(100), SR, fmin_hz=100, fmax_hz=20000)
