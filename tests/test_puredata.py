"""The Pure Data twin (maxpatch/exsampling.pd) played for real: pd renders what the console's OSC asks for, and
answers it.

Each test starts its own headless pd on a free UDP port with maxpatch/exsampling-render.pd, which wraps the shipped
patch, records its output into an array and writes it to a WAV file on /render/* commands. The console's real
sender (exsampling.osc.OscSender) sends the samples and notes; the rendered sound is checked with
exsampling.pitch.detect. Pd fast-forwards through the held notes, so a render takes milliseconds, not seconds.
The console's real listener (exsampling.stage.Stage, on its own asyncio loop as in the console's kernel) hears
what pd answers (hello, loaded, played) and records it in a real library.
"""
from __future__ import annotations

import asyncio
import queue
import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from pythonosc.udp_client import SimpleUDPClient

from exsampling.config import AudioConfig
from exsampling.library import Library
from exsampling.osc import OscSender
from exsampling.pitch import detect, midi_to_hz
from exsampling.records import Location, Sample
from exsampling.stage import Answer, Hello, Loaded, Played, Stage

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


class StageThread:
    """The console's listener on its own asyncio loop in a thread (the console runs it on the kernel's loop)."""

    def __init__(self, library: Library, sender: OscSender) -> None:
        self.library = library
        self.loop = asyncio.new_event_loop()
        threading.Thread(target=self.loop.run_forever, daemon=True).start()
        self.stage = Stage(library, sender, listen_port=0)
        self.heard: queue.Queue[Answer] = queue.Queue()
        self.seen: list[Answer] = []   # every answer wait_for went past
        self.stage.listeners.append(lambda answer, _updated: self.heard.put(answer))
        self.call(self.stage.start)

    def call(self, fn, *args):
        """Run ``fn(*args)`` on the stage's loop (a coroutine function is awaited) and return its result."""
        async def run():
            result = fn(*args)
            return await result if asyncio.iscoroutine(result) else result
        return asyncio.run_coroutine_threadsafe(run(), self.loop).result(TIMEOUT_S)

    def wait_for(self, kind: type, sample_id: int | None = None, where=lambda answer: True,
                 timeout_s: float = TIMEOUT_S) -> Answer:
        """The next answer of ``kind`` (about ``sample_id`` when given, for which ``where`` holds); fails the test
        after ``timeout_s``."""
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                answer = self.heard.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                pytest.fail(f"no {kind.__name__} answer within {timeout_s} s; heard {self.seen}")
            self.seen.append(answer)
            if isinstance(answer, kind) and (sample_id is None or answer.sample_id == sample_id) and where(answer):
                return answer

    def state(self, sample_id: int) -> str:
        return self.library.stage_answers([sample_id])[sample_id].state

    def close(self) -> None:
        self.call(self.stage.stop)
        self.loop.call_soon_threadsafe(self.loop.stop)


class PdTwin:
    """A running pd with the render harness: send contract messages with ``.osc``, render with ``.play``."""

    def __init__(self, proc: subprocess.Popen, port: int, out_dir: Path, stage: StageThread | None = None) -> None:
        self.proc, self.port, self.out_dir, self.stage = proc, port, out_dir, stage
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
    """pd with the render harness on a free port, answering the console's real listener (``twin.stage``)."""
    port = free_udp_port()
    heard = StageThread(Library(tmp_path / "library"), OscSender("127.0.0.1", port))
    proc = subprocess.Popen(
        [PD, "-nogui", "-nosound", "-nomidi", "-nrt", "-stderr", "-r", str(PD_RATE),
         "-send", f"exsampling-port {port}", "-send", f"exsampling-reply 127.0.0.1 {heard.stage.port}",
         "-open", str(PATCH_DIR / "exsampling-render.pd")],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )
    try:
        pd = PdTwin(proc, port, tmp_path, heard)
        pd.wait_for(f"listening on port {port}")
        assert not [line for line in pd.log if "error" in line or "couldn't create" in line], pd.log
        yield pd
    finally:
        proc.kill()
        proc.wait(timeout=TIMEOUT_S)
        heard.close()


@pytest.fixture
def stage(twin: PdTwin) -> StageThread:
    """What the console hears from the twin."""
    assert twin.stage is not None
    return twin.stage


@pytest.fixture
def library(stage: StageThread) -> Library:
    """Where the console keeps what the twin answered."""
    return stage.library


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


# -- the answers: what the console and the server believe comes from pd only ----------------------------------


def stored_sample(library: Library, source: Path, instrument: str = "Wind") -> Sample:
    """A sample in the library (its own WAV under samples/), as the pipeline would have stored it."""
    y, sr = sf.read(source, dtype="float32")
    rec = library.add_recording(source.read_bytes(), "wav", participant="Aiko")
    return library.add_sample(Sample(id=0, recording_id=rec.id, path="", start_s=0.0, duration_s=len(y) / sr,
                                     label="Flute", confidence=0.9, instrument=instrument, melodic=True,
                                     pitch_hz=440.0, midi_note=69), y, sr)


def send(stage: StageThread, sender: OscSender, sample: Sample) -> None:
    """What the pipeline does: the answers start afresh, then the datagram leaves."""
    stage.library.stage_sent(sample.id, time.time())
    assert sender.sample(sample)


def exsampling_note(port: int, instrument: str, note: int = 69, hold_s: float = 0.1) -> None:
    """``exsampling note`` itself, as a performer would type it."""
    subprocess.run([sys.executable, "-m", "exsampling.cli", "note", instrument, str(note), "--hold-s", str(hold_s),
                    "--osc-port", str(port)], check=True, timeout=60)


def test_the_twin_says_hello_with_its_tracks(twin, stage):
    hello = stage.wait_for(Hello)
    assert (hello.device, hello.version) == ("pd-twin", 2)
    assert sorted(hello.tracks) == sorted(["Bass", "BD", "Chorus", "HH", "Piano", "Snare", "T", "TT", "Wind"])
    status = stage.call(stage.stage.status)
    assert status.text().startswith("stage: 1 device, 9 tracks, heard ") and not status.silent


def test_loaded_and_played_only_when_pd_says_so(twin, stage, library, tone):
    sample = stored_sample(library, tone)
    stage.library.stage_sent(sample.id, time.time())
    assert stage.state(sample.id) == "sent"          # nothing left yet: nothing is believed
    assert twin.osc.sample(sample)
    loaded = stage.wait_for(Loaded, sample.id)
    assert (loaded.instrument, loaded.ok, loaded.reason) == ("Wind", True, "")
    assert stage.state(sample.id) == "loaded"
    exsampling_note(twin.port, "Snare")              # another track: nothing sounds this sample
    exsampling_note(twin.port, "Wind")
    played = stage.wait_for(Played, sample.id)
    assert (played.count, played.instrument) == (1, "Wind")
    answer = library.stage_answers([sample.id])[sample.id]
    assert (answer.state, answer.played, answer.track) == ("played", 1, "Wind")


def test_later_notes_are_counted_at_most_once_a_second(twin, stage, library, tone):
    sample = stored_sample(library, tone)
    send(stage, twin.osc, sample)
    stage.wait_for(Loaded, sample.id)
    started = time.monotonic()
    for _ in range(5):
        twin.osc.note("Wind", 69, 100)
        twin.osc.note("Wind", 69, 0)
        time.sleep(0.05)
    first, last = stage.wait_for(Played, sample.id), stage.wait_for(Played, sample.id)
    assert (first.count, last.count) == (1, 5)
    assert time.monotonic() - started >= 0.9, "the burst's count waits for the end of the second"
    assert library.stage_answers([sample.id])[sample.id].played == 5


@pytest.mark.parametrize(("make", "reason"), [
    (lambda folder: folder / "gone.wav", "not found: {path}"),
    (lambda folder: (folder / "text.wav").write_text("not a sound") and folder / "text.wav", "unreadable: {path}"),
    (lambda folder: (folder / "empty.wav").write_bytes(b"") or folder / "empty.wav", "unreadable: {path}"),
    (lambda folder: folder, "not a file: {path}"),
], ids=["missing", "text", "empty", "folder"])
def test_a_file_pd_cannot_read_is_not_loaded_with_its_reason(twin, stage, library, tone, tmp_path, make, reason):
    sample = stored_sample(library, tone)
    bad = make(tmp_path)
    send(stage, twin.osc, Sample(**{**sample.__dict__, "path": str(bad)}))
    loaded = stage.wait_for(Loaded, sample.id)
    assert (loaded.ok, loaded.reason) == (False, reason.format(path=bad))
    answer = library.stage_answers([sample.id])[sample.id]
    assert (answer.state, answer.reason) == ("not_loaded", reason.format(path=bad))
    twin.osc.note("Wind", 69, 100)
    twin.osc.note("Wind", 69, 0)
    other = stored_sample(library, tone, instrument="Snare")
    send(stage, twin.osc, other)                     # answered after pd has handled the notes: they came first
    stage.wait_for(Loaded, other.id)
    assert not [a for a in stage.seen if isinstance(a, Played)], "a note on a track without its sample sounds nothing"
    assert library.stage_answers([sample.id])[sample.id].played == 0


def test_a_track_added_in_the_console_is_playable_without_editing_the_patch(twin, stage, library, tone):
    assert stage.call(stage.stage.announce, ["Bass", "Lead", "Wind"])
    twin.wait_for("exsampling: new track Lead on MIDI channel 10")
    stage.wait_for(Hello, where=lambda hello: "Lead" in hello.tracks)
    assert "Lead" in stage.call(stage.stage.followed)
    stage.call(stage.stage.announce, ["Bass", "Lead", "Wind"], True)  # again: no second Lead track
    sample = stored_sample(library, tone, instrument="Lead")
    send(stage, twin.osc, sample)
    assert stage.wait_for(Loaded, sample.id).ok
    pitch = detect(sounding(twin.play("Lead", 81, hold_s=0.5)), PD_RATE)
    assert pitch.hz is not None and abs(cents(pitch.hz, midi_to_hz(81))) < 50, pitch
    assert stage.wait_for(Played, sample.id).instrument == "Lead"
    assert stage.wait_for(Hello).tracks.count("Lead") == 1


def test_a_stage_on_another_machine_reads_the_shared_folder(twin, stage, library, tone, tmp_path):
    """Two folders: the library's, and the "shared" one the stage sees ([osc] sample_root)."""
    shared = tmp_path / "as-the-stage-sees-it"
    shared.mkdir()
    synced, not_yet = stored_sample(library, tone), stored_sample(library, tone)
    (shared / Path(synced.path).name).write_bytes(Path(synced.path).read_bytes())
    remote = OscSender("127.0.0.1", twin.port, sample_root=str(shared))
    send(stage, remote, synced)
    assert stage.wait_for(Loaded, synced.id).ok
    send(stage, remote, not_yet)
    loaded = stage.wait_for(Loaded, not_yet.id)
    assert (loaded.ok, loaded.reason) == (False, f"not found: {shared / Path(not_yet.path).name}")
    Path(synced.path).unlink()                      # pd plays what it read from the shared folder
    assert sounding(twin.play("Wind", 69, hold_s=0.5)).size == 0, "the last send (not loaded) silenced the track"
    send(stage, remote, synced)
    assert stage.wait_for(Loaded, synced.id).ok
    assert sounding(twin.play("Wind", 69, hold_s=0.5)).size
