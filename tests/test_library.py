"""The library: durable files and rows, survives a restart, and two processes can share it."""
import json
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from conftest import SR, tone, write

from exsampling.library import Library
from exsampling.records import LabelSource, Location, RecordingStatus, Sample, SampleStatus


def test_recording_and_sample_are_stored(tmp_path):
    lib = Library(tmp_path / "lib")
    rec = lib.add_recording(b"RIFF....", "wav", participant="Aiko", location=Location(35.39, 139.43, 12.0),
                            photo=(b"\xff\xd8jpeg", "jpg"), source="upload")
    assert Path(rec.path).read_bytes() == b"RIFF...." and Path(rec.photo_path).read_bytes() == b"\xff\xd8jpeg"
    assert Path(rec.path).parent == lib.root / "recordings" and rec.status == "received"
    sample = lib.add_sample(Sample(id=0, recording_id=rec.id, path="", start_s=0.0, duration_s=1.0, label="Flute",
                                   top=[("Flute", 0.9), ("Oboe", 0.05)], instrument="Wind", melodic=True,
                                   pitch_hz=440.0, midi_note=69), tone(440, 1.0), SR)
    y, sr = sf.read(sample.path)
    assert sr == SR and len(y) == SR and sf.info(sample.path).subtype == "PCM_16"
    assert sample.participant == "Aiko" and sample.location == Location(35.39, 139.43, 12.0)
    assert sample.top == [("Flute", 0.9), ("Oboe", 0.05)] and sample.melodic and sample.status == "new"
    assert lib.update_sample(sample.id, status="sent", sent_at="2026-01-01T00:00:00Z").status == "sent"
    assert lib.counts() == {"recordings": 1, "participants": 1, "samples": 1}


def test_no_half_written_recording_when_the_row_fails(tmp_path, monkeypatch):
    lib = Library(tmp_path / "lib")

    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(lib, "_transaction", broken)
    with pytest.raises(RuntimeError):
        lib.add_recording(b"data", "wav")
    assert list((lib.root / "recordings").iterdir()) == []


def test_update_refuses_unknown_fields(tmp_path):
    with pytest.raises(ValueError, match="cannot update"):
        Library(tmp_path / "lib").update_sample(1, colour="red")


def test_memory_round_trip(tmp_path):
    lib = Library(tmp_path / "lib")
    rec = lib.add_recording(b"x", "wav")
    s = lib.add_sample(Sample(id=0, recording_id=rec.id, path="", start_s=0, duration_s=1), tone(200, 1.0), SR)
    lib.remember(s.id, "Bark", np.arange(4, dtype=np.float32))
    [(sid, label, vec, at)] = lib.memory()
    assert (sid, label) == (s.id, "Bark") and vec.tolist() == [0, 1, 2, 3] and at.endswith("Z")


def test_settings_outlive_the_object(tmp_path):
    Library(tmp_path / "lib").set_setting("prompt", {"text": "a metallic sound"})
    assert Library(tmp_path / "lib").setting("prompt") == {"text": "a metallic sound"}
    assert Library(tmp_path / "lib").setting("absent", 7) == 7


def _run(code: str) -> str:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], check=True, capture_output=True,
                          text=True, timeout=240).stdout


def test_a_restart_finds_everything_again(tmp_path):
    root = tmp_path / "lib"
    _run(f"""
        import numpy as np
        from exsampling.library import Library
        from exsampling.records import Sample
        lib = Library({str(root)!r})
        rec = lib.add_recording(b"abc", "wav", participant="P")
        lib.add_sample(Sample(id=0, recording_id=rec.id, path="", start_s=0, duration_s=1, label="Bark",
                              instrument="Bass"), np.zeros(100, dtype=np.float32), 22050)
    """)
    lib = Library(root)
    [sample] = lib.samples()
    assert sample.label == "Bark" and sample.participant == "P" and Path(sample.path).exists()
    assert lib.recordings()[0].participant == "P"


@pytest.mark.slow  # a process that loads TensorFlow
def test_two_pipelines_on_one_library_do_not_corrupt_it(tmp_path, tiny_model):
    root = tmp_path / "lib"
    files = [write(tmp_path / f"t{i}.wav", tone(220 * (1 + i % 4), 6.0)) for i in range(6)]
    script = f"""
        import json, sys
        from exsampling.config import Config, LibraryConfig, ClassifierConfig
        from exsampling.pipeline import build
        cfg = Config(library=LibraryConfig(path={str(root)!r}), classifier=ClassifierConfig(model={str(tiny_model)!r}))
        p = build(cfg, send=False, require_model=True)
        ids = []
        for f in sys.argv[1:]:
            ids += [s.id for s in p.process(p.ingest_file(f))]
        print(json.dumps(ids))
    """
    procs = [subprocess.Popen([sys.executable, "-c", textwrap.dedent(script), *map(str, files)],
                              stdout=subprocess.PIPE, text=True) for _ in range(2)]
    outs = [json.loads(p.communicate(timeout=240)[0]) for p in procs]
    assert all(p.returncode == 0 for p in procs)
    ids = outs[0] + outs[1]
    assert len(ids) == len(set(ids)) == 2 * 6 * 2  # 6 s each: a 5-s sample and a 1-s tail
    lib = Library(root)
    samples = lib.samples()
    assert sorted(s.id for s in samples) == sorted(ids)
    assert all(Path(s.path).exists() for s in samples)
    assert lib.counts()["recordings"] == 12
    assert {r.status for r in lib.recordings()} == {"done"}


def test_a_library_written_before_recalled_from_opens_and_keeps_the_memory_s_choice(tmp_path):
    """Schema 0 wrote the re-label memory's choice into label_source as "memory:<id>"."""
    root = tmp_path / "lib"
    root.mkdir()
    db = sqlite3.connect(root / "library.sqlite3")
    db.executescript("""
        CREATE TABLE recordings (id INTEGER PRIMARY KEY AUTOINCREMENT, path TEXT NOT NULL, received_at TEXT NOT NULL,
            participant TEXT NOT NULL DEFAULT '', lat REAL, lon REAL, accuracy_m REAL, photo_path TEXT,
            source TEXT NOT NULL DEFAULT 'cli', duration_s REAL, status TEXT NOT NULL DEFAULT 'received', error TEXT);
        CREATE TABLE samples (id INTEGER PRIMARY KEY AUTOINCREMENT,
            recording_id INTEGER NOT NULL REFERENCES recordings(id), path TEXT NOT NULL,
            start_s REAL NOT NULL, duration_s REAL NOT NULL, label TEXT, confidence REAL NOT NULL DEFAULT 0,
            top TEXT NOT NULL DEFAULT '[]', unsure INTEGER NOT NULL DEFAULT 0,
            label_source TEXT NOT NULL DEFAULT 'model',
            instrument TEXT, melodic INTEGER NOT NULL DEFAULT 0, pitch_hz REAL, midi_note INTEGER,
            pitch_confidence REAL NOT NULL DEFAULT 0, status TEXT NOT NULL DEFAULT 'new', relabel TEXT, sent_at TEXT,
            created_at TEXT NOT NULL);
        INSERT INTO recordings (path, received_at, status) VALUES ('r.wav', '2020-07-21T10:00:00Z', 'done');
        INSERT INTO samples (recording_id, path, start_s, duration_s, label, label_source, status, created_at)
            VALUES (1, 'a.wav', 0, 5, 'Bark', 'performer', 'sent', '2020-07-21T10:00:01Z'),
                   (1, 'b.wav', 5, 5, 'Bark', 'memory:1', 'accepted', '2020-07-21T10:00:02Z');
    """)
    db.close()
    for _ in range(2):  # the second open finds the library migrated already
        lib = Library(root)
        first, second = lib.sample(1), lib.sample(2)
        assert (first.label_source, first.recalled_from, first.status) == ("performer", None, "sent")
        assert (second.label_source, second.recalled_from, second.status) == ("memory", 1, "accepted")
        assert isinstance(second.status, SampleStatus) and isinstance(second.label_source, LabelSource)
    assert lib.recordings()[0].status == RecordingStatus.DONE
