"""The Pure Data twin (maxpatch/exsampling.pd) played for real: pd renders what the console's OSC asks for.

Each test starts its own headless pd on a free UDP port with maxpatch/exsampling-render.pd, which wraps the shipped
patch, records its output into an array and writes it to a WAV file on /render/* commands. The console's real
sender (exsampling.osc.OscSender) sends the samples and notes; the rendered sound is checked with
exsampling.pitch.detect. Pd fast-forwards through the held notes, so a render takes milliseconds, not seconds.
"""
from __future__ import annotations

import queue
import shutil
import socket
import subprocess
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from pythonosc.udp_client import SimpleUDPClient

from exsampling.config import AudioConfig
from exsampling.osc import OscSender
from exsampling.pitch import detect, midi_to_hz
from exsampling.records import Location, Sample

PATCH_DIR = Path(__file__).resolve().parent.parent / "maxpatch"
PD = shutil.which("pd")
pytestmark = [pytest.mark.puredata,
              pytest.mark.skipif(PD is None, reason="Pure Data (pd) is not installed: apt-get install puredata-core")]

PD_RATE = 44100          # Hz; differs from the samples' rate on purpose (the twin must resample)
RELEASE_S = 0.020        # the twin's release after a note-off
TIMEOUT_S = 10.0         # longest wait for one line from pd


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PdTwin:
    """A running pd with the render harness: send contract messages with ``.osc``, render with ``.play``."""

    def __init__(self, proc: subprocess.Popen, port: int, out_dir: Path) -> None:
        self.proc, self.port, self.out_dir = proc, port, out_dir
        self.osc = OscSender("127.0.0.1", port)
        self._control = SimpleUDPClient("127.0.0.1", port)
        self._lines: queue.Queue[str] = queue.Queue()
        self.log: list[str] = []
        threading.Thread(target=self._read_stderr, daemon=True).start()

    def _read_stderr(self) -> None:
        for line in self.proc.stderr:
            self._lines.put(line.rstrip("\n"))

    def wait_for(self, text: str, timeout_s: float = TIMEOUT_S) -> str:
        """The first line from pd containing ``text``; fails the test after ``timeout_s`` seconds."""
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                line = self._lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                pytest.fail(f"pd did not print {text!r} within {timeout_s} s; it printed: {self.log}")
            self.log.append(line)
            if text in line:
                return line

    def fast_forward(self, ms: float) -> None:
        """Let ``ms`` milliseconds of pd time pass; pd reads no OSC meanwhile, so wait until it is over."""
        self._control.send_message("/render/ff", float(ms))
        self.wait_for("render: ff done")

    def play(self, instrument: str, note: int, hold_s: float, total_s: float = 3.0) -> np.ndarray:
        """Render ``total_s`` seconds of the twin while ``note`` is held on ``instrument`` for ``hold_s`` seconds."""
        out = self.out_dir / f"render-{len(self.log)}.wav"
        self._control.send_message("/render/record", total_s * 1000.0)
        self.osc.note(instrument, note, 100)
        self.fast_forward(hold_s * 1000.0)
        self.osc.note(instrument, note, 0)
        self.fast_forward((total_s - hold_s) * 1000.0)
        self._control.send_message("/render/write", str(out))
        self.wait_for("render: written")
        y, sr = sf.read(out, dtype="float64")
        assert sr == PD_RATE
        return y


@pytest.fixture
def twin(tmp_path: Path):
    port = free_udp_port()
    proc = subprocess.Popen(
        [PD, "-nogui", "-nosound", "-nomidi", "-nrt", "-stderr", "-r", str(PD_RATE),
         "-send", f"exsampling-port {port}", "-open", str(PATCH_DIR / "exsampling-render.pd")],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )
    try:
        pd = PdTwin(proc, port, tmp_path)
        pd.wait_for(f"listening on port {port}")
        assert not [line for line in pd.log if "error" in line or "couldn't create" in line], pd.log
        yield pd
    finally:
        proc.kill()
        proc.wait(timeout=TIMEOUT_S)


@pytest.fixture
def tone(tmp_path: Path) -> Path:
    """2 s of a 440 Hz sine at the console's sample rate, 16-bit mono like the library's samples."""
    sr = AudioConfig().sample_rate
    t = np.arange(int(2.0 * sr)) / sr
    path = tmp_path / "tone-a4.wav"
    sf.write(path, 0.5 * np.sin(2 * np.pi * 440.0 * t), sr, subtype="PCM_16")
    return path


def sample_for(path: Path, instrument: str, melodic: bool, midi_note: int | None = 69, id: int = 12) -> Sample:
    return Sample(
        id=id, recording_id=3, path=str(path), start_s=0.0, duration_s=2.0, label="Flute", confidence=0.91,
        instrument=instrument, melodic=melodic, pitch_hz=None if midi_note is None else midi_to_hz(midi_note),
        midi_note=midi_note, participant="Aiko", location=Location(35.39, 139.43, 12.0),
        recorded_at="2026-11-26T21:04:05Z",
    )


def load(twin: PdTwin, sample: Sample) -> None:
    twin.osc.sample(sample)
    twin.wait_for(f"exsampling-{sample.instrument}: new sample {sample.id}")


def sounding(y: np.ndarray, floor: float = 1e-3) -> np.ndarray:
    """The part of ``y`` from its first to its last sample above ``floor`` (empty when silent)."""
    loud = np.flatnonzero(np.abs(y) > floor)
    return y[loud[0]:loud[-1] + 1] if loud.size else y[:0]


def cents(hz: float, reference_hz: float) -> float:
    return 1200.0 * np.log2(hz / reference_hz)


@pytest.mark.parametrize("note", [76, 57, 81])
def test_melodic_sample_is_transposed_to_the_note(twin, tone, note):
    load(twin, sample_for(tone, "Wind", melodic=True, midi_note=69))
    pitch = detect(sounding(twin.play("Wind", note, hold_s=0.5)), PD_RATE)
    assert pitch.hz is not None
    assert abs(cents(pitch.hz, midi_to_hz(note))) < 50, (pitch, midi_to_hz(note))


@pytest.mark.parametrize("note", [40, 69, 90])
def test_percussive_sample_keeps_its_pitch(twin, tone, note):
    load(twin, sample_for(tone, "Snare", melodic=False))
    pitch = detect(sounding(twin.play("Snare", note, hold_s=0.5)), PD_RATE)
    assert pitch.hz is not None and abs(cents(pitch.hz, 440.0)) < 50, pitch


def test_unpitched_melodic_sample_plays_at_its_own_pitch(twin, tone):
    load(twin, sample_for(tone, "Piano", melodic=True, midi_note=None))
    pitch = detect(sounding(twin.play("Piano", 76, hold_s=0.5)), PD_RATE)
    assert pitch.hz is not None and abs(cents(pitch.hz, 440.0)) < 50, pitch


def test_sound_lasts_while_the_note_is_held_plus_the_release(twin, tone):
    load(twin, sample_for(tone, "Wind", melodic=True))
    length_s = len(sounding(twin.play("Wind", 69, hold_s=0.5))) / PD_RATE
    # The upper margin covers the round trip between the end of the fast-forward and the note-off.
    assert 0.5 + RELEASE_S - 0.005 <= length_s <= 0.5 + RELEASE_S + 0.05, length_s


@pytest.mark.parametrize(("note", "expected_s"), [(69, 2.0), (81, 1.0)])
def test_sound_stops_at_the_end_of_the_sample(twin, tone, note, expected_s):
    load(twin, sample_for(tone, "Wind", melodic=True))
    y = twin.play("Wind", note, hold_s=2.8)
    assert len(sounding(y)) / PD_RATE == pytest.approx(expected_s, abs=0.01)
    assert np.abs(y[-PD_RATE // 100:]).max() < 1e-3


def test_a_sample_sounds_only_on_its_own_instrument(twin, tone):
    load(twin, sample_for(tone, "Wind", melodic=True))
    assert not sounding(twin.play("Bass", 69, hold_s=0.5)).size
    assert sounding(twin.play("Wind", 69, hold_s=0.5)).size


def test_withdraw_silences_the_track_holding_that_sample(twin, tone):
    held = sample_for(tone, "Wind", melodic=True, id=12)
    load(twin, held)
    twin.osc.withdraw(sample_for(tone, "Wind", melodic=True, id=11))
    assert sounding(twin.play("Wind", 69, hold_s=0.5)).size, "a withdraw for another sample must be ignored"
    twin.osc.withdraw(held)
    twin.wait_for("exsampling-Wind: withdrawn")
    assert not sounding(twin.play("Wind", 69, hold_s=0.5)).size


def test_new_sample_is_announced_with_class_participant_and_place(twin, tone):
    twin.osc.sample(sample_for(tone, "Chorus", melodic=True, id=40))
    line = twin.wait_for("exsampling-Chorus: new sample 40")
    assert "Flute" in line and "Aiko" in line and "35.39 139.43" in line
