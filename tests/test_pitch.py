"""Pitch: every C from C2 to C8 (and the notes between) within ±50 cents, real notes up to C8 and a glockenspiel's
(whose partials are not harmonics); noise and hits are unpitched."""
import shutil
from pathlib import Path

import numpy as np
import pytest
from conftest import SR, noise_bursts, tone

from exsampling import pitch


def cents(a, b):
    return 1200 * np.log2(a / b)


@pytest.mark.parametrize("midi", range(36, 109))  # C2 … C8
@pytest.mark.parametrize("harmonics", [1, 6])
def test_tones_c2_to_c8_within_50_cents(midi, harmonics):
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


TIMGM6MB = Path("/usr/share/sounds/sf2/TimGM6mb.sf2")


@pytest.mark.skipif(shutil.which("fluidsynth") is None or not TIMGM6MB.is_file(),
                    reason="needs the Debian packages fluidsynth and timgm6mb-soundfont")
@pytest.mark.parametrize("program", [9, 73, 0], ids=["glockenspiel", "flute", "piano"])
@pytest.mark.parametrize("key", [72, 84, 96, 108], ids=["C5", "C6", "C7", "C8"])
def test_real_bright_notes_up_to_c8(program, key):
    """TimGM6mb rendered by fluidsynth at 44.1 kHz (the shipped model's rate) with the default [pitch] range."""
    from exsampling.config import PitchConfig
    from exsampling.corpus import render

    (y,) = render(TIMGM6MB, [(0.1, 1.5, key, 110)], program, 0, 44100)
    p = PitchConfig()
    found = pitch.detect(y, 44100, p.fmin_hz, p.fmax_hz, p.threshold, p.min_confidence)
    assert found.midi_note == key, f"{pitch.note_name(key)} found as {found}"
