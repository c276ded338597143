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

from exsampling.library import DuplicateUpload, Library, Received
from exsampling.records import EventKind, LabelSource, Location, RecordingStatus, Sample, SampleStatus


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
    lib.add_recording(b"x", upload_id="after-migration")  # schema 3: upload ids are unique there too
    with pytest.raises(DuplicateUpload):
        lib.add_recording(b"y", upload_id="after-migration")


def test_many_recordings_stored_together_each_get_their_answer(tmp_path):
    lib = Library(tmp_path / "lib")
    first = lib.add_recording(b"one", "wav", upload_id="upload-0001")
    results = lib.add_recordings([Received(b"a", upload_id="upload-0002"), Received(b"b", upload_id="upload-0001"),
                                  Received(b"c", "flac", photo=(b"\x89PNG", "png")),
                                  Received(b"d", upload_id="upload-0002")])
    assert [type(r).__name__ for r in results] == ["Recording", "DuplicateUpload", "Recording", "DuplicateUpload"]
    assert results[1].recording.id == first.id and results[3].recording.id == results[0].id
    assert Path(results[2].path).read_bytes() == b"c" and Path(results[2].photo_path).read_bytes() == b"\x89PNG"
    assert len(list((lib.root / "recordings").iterdir())) == 3 and lib.sweep() == []


def test_a_spooled_file_is_moved_in_and_a_dead_process_spool_swept(tmp_path):
    lib = Library(tmp_path / "lib")
    spooled = lib.spool_file()
    spooled.write_bytes(b"RIFF spooled")
    [rec] = lib.add_recordings([Received(spooled, upload_id="upload-0003")])
    assert Path(rec.path).read_bytes() == b"RIFF spooled" and not spooled.exists()
    mine = lib.spool_file()
    mine.write_bytes(b"still arriving")
    dead = lib.root / "incoming" / "999999999@1.00"  # a pid that cannot be running
    dead.mkdir()
    (dead / "left-by-a-crash").write_bytes(b"half")
    assert lib.sweep() == [dead / "left-by-a-crash"] and mine.exists() and not dead.exists()


def test_a_clean_stop_s_empty_spool_folder_is_not_reported_as_a_crash(tmp_path):
    lib = Library(tmp_path / "lib")
    stopped = lib.root / "incoming" / "999999999@1.00"  # a process that spooled, stored and stopped
    stopped.mkdir(parents=True)
    assert lib.sweep() == [] and not stopped.exists()


# -- the show's history --------------------------------------------------------------------------------

FIXTURES = Path(__file__).resolve().parent / "fixtures"


def test_each_change_and_its_event_are_one_transaction(tmp_path):
    lib = Library(tmp_path / "lib")
    rec = lib.add_recording(b"x", "wav", participant="Aiko", source="upload", duration_s=2.0, actor="console:ab")
    sample = lib.add_sample(Sample(id=0, recording_id=rec.id, path="", start_s=0.5, duration_s=1.0, label="Flute",
                                   confidence=np.float32(0.8), top=[("Flute", 0.8), ("Oboe", 0.1), ("Bark", 0.05)],
                                   unsure=np.bool_(False), instrument="Wind", melodic=True, pitch_hz=440.0,
                                   midi_note=np.int64(69)), tone(440, 1.0), SR, model="default", actor="console:ab")
    lib.update_sample(sample.id, status="sent", events=[("accepted", {"auto": True}), ("sent", {"instrument": "Wind"})],
                      actor="console:ab")
    received, classified, accepted, sent = lib.events()
    assert (received.kind, received.recording_id, received.sample_id, received.actor) == (
        "received", rec.id, None, "console:ab")
    assert received.data == {"source": "upload", "participant": "Aiko", "duration_s": 2.0, "located": False,
                             "photo": False}
    assert classified.data["model"] == "default" and classified.data["top"][0] == ["Flute", 0.8]
    assert (classified.data["label"], classified.data["instrument"], classified.data["midi_note"]) == (
        "Flute", "Wind", 69)
    assert (accepted.sample_id, accepted.recording_id, accepted.data) == (sample.id, rec.id, {"auto": True})
    assert sent.at == accepted.at and sent.id == accepted.id + 1 and sent.at.endswith("Z") and "." in sent.at
    assert [e.kind for e in lib.events(sample_id=sample.id)] == ["classified", "accepted", "sent"]
    assert [e.kind for e in lib.events(recording_id=rec.id, kinds=["received", "sent"])] == ["received", "sent"]
    assert lib.events(after_id=sent.id - 1) == [sent]

    # a change that cannot be told is not made: the unknown kind rolls the status back with it
    with pytest.raises(ValueError, match="unknown event kind"):
        lib.update_sample(sample.id, status="rejected", events=[("binned", {})])
    assert lib.sample(sample.id).status == "sent" and len(lib.events()) == 4
    with pytest.raises(KeyError):
        lib.update_sample(999, status="rejected", events=[("rejected", {})])


def test_add_event_for_the_stage_and_the_show(tmp_path):
    lib = Library(tmp_path / "lib")
    rec = lib.add_recording(b"x", "wav")
    sample = lib.add_sample(Sample(id=0, recording_id=rec.id, path="", start_s=0, duration_s=1), tone(200, 1.0), SR)
    loaded = lib.add_event("loaded", sample_id=sample.id, actor="stage:pd", data={"track": "Bass"})
    assert (loaded.recording_id, loaded.sample_id, loaded.data) == (rec.id, sample.id, {"track": "Bass"})
    assert lib.events(kinds=["loaded"]) == [loaded]
    prompt = lib.add_event("prompt", actor="console:ab", data={"text": "water"})
    assert prompt.recording_id is None and prompt.sample_id is None
    with pytest.raises(ValueError, match="unknown event kind"):
        lib.add_event("exploded")
    with pytest.raises(ValueError, match="not plain JSON"):
        lib.add_event("played", sample_id=sample.id, data={"at": object()})
    with pytest.raises(KeyError):
        lib.add_event("played", sample_id=999)
    with pytest.raises(KeyError):
        lib.add_event("failed", recording_id=999)
    assert [e.kind for e in lib.events()] == ["received", "classified", "loaded", "prompt"]
    # typed when read, the same plain strings in the table (and so in an exported show)
    assert all(type(e.kind) is EventKind for e in lib.events())
    assert [(type(r["kind"]), r["kind"]) for r in lib.dump()["events"]] == [
        (str, "received"), (str, "classified"), (str, "loaded"), (str, "prompt")]


def test_silent_and_failed_recordings_are_events(tmp_path):
    lib = Library(tmp_path / "lib")
    rec = lib.add_recording(b"x", "wav")
    lib.set_recording_status(rec.id, "processing")
    lib.set_recording_status(rec.id, "failed", "RuntimeError: boom", actor="serve")
    [failed] = lib.events(kinds=["failed"])
    assert (failed.recording_id, failed.actor, failed.data) == (rec.id, "serve", {"error": "RuntimeError: boom"})


def _load_v0(root: Path) -> None:
    """A library as the code before the history wrote it (tests/fixtures/library-v0.sql), with its files."""
    import sqlite3

    root.mkdir()
    for sub in ("recordings", "samples", "photos"):
        (root / sub).mkdir()
    dump = (FIXTURES / "library-v0.sql").read_text().replace("@ROOT@", str(root))
    with sqlite3.connect(root / "library.sqlite3") as db:
        db.executescript(dump)
    for path in {p for p in dump.split("'") if p.startswith(str(root))}:
        Path(path).write_bytes(b"file " + Path(path).name.encode())


def _rows(db_path: Path) -> dict[str, list[tuple]]:
    import sqlite3

    with sqlite3.connect(db_path) as db:
        return {t: db.execute(f"SELECT * FROM {t} ORDER BY rowid").fetchall()
                for t in ("recordings", "samples", "settings", "memory", "sqlite_sequence")}


def test_a_library_written_before_the_history_is_migrated_in_place_without_loss(tmp_path):
    import sqlite3

    root = tmp_path / "old"
    _load_v0(root)
    before = _rows(root / "library.sqlite3")
    files = {p: p.read_bytes() for p in root.rglob("*") if p.is_file() and p.parent != root}
    lib = Library(root)
    after = _rows(root / "library.sqlite3")
    # every row as it was, but the memory's choice moved from label_source ("memory:3") to recalled_from
    label_source = 9  # the column's place in the old rows; recalled_from comes last, added by ALTER TABLE
    moved = [(*row[:label_source], "memory", *row[label_source + 1:], 3) if row[label_source] == "memory:3"
             else (*row, None) for row in before["samples"]]
    assert after["samples"] == moved and before["samples"][3][label_source] == "memory:3"
    # every recording as it was, with no upload id and no worker yet (schema 3 adds both, issue 11), and no
    # judgement over its pieces (schema 4: label, confidence, pieces; issue 19)
    assert after["recordings"] == [(*row, None, None, None, None, None) for row in before["recordings"]]
    assert {t: rows for t, rows in after.items() if t not in ("sqlite_sequence", "samples", "recordings")} == \
        {t: rows for t, rows in before.items() if t not in ("sqlite_sequence", "samples", "recordings")}
    assert set(before["sqlite_sequence"]) <= set(after["sqlite_sequence"])
    assert {p: p.read_bytes() for p in files} == files
    with sqlite3.connect(lib.db_path) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == 4
    assert [s.label for s in lib.samples()] == ["Bark", "Bark", "Knock", "Glockenspiel"]
    assert lib.memory()[0][:2] == (3, "Bark") and lib.setting("show.prompt") == "something that rings"

    # all rows of the fixture share one second: then a recording's story is told in full before the next one's
    story = [(e.kind, e.recording_id, e.sample_id) for e in lib.events()]
    assert story == [
        ("received", 1, None), ("classified", 1, 1), ("accepted", 1, 1), ("sent", 1, 1),
        ("classified", 1, 2), ("accepted", 1, 2), ("sent", 1, 2), ("withdrawn", 1, 2), ("rejected", 1, 2),
        ("received", 2, None), ("classified", 2, 3), ("relabelled", 2, 3), ("accepted", 2, 3),
        ("received", 3, None), ("classified", 3, 4), ("received", 4, None), ("failed", 4, None),
    ]
    events = lib.events()
    assert all(e.data["backfilled"] is True and e.actor == "" for e in events)
    assert [e.at for e in events] == sorted(e.at for e in events)
    by_sample = {sid: [e.kind for e in events if e.sample_id == sid] for sid in (1, 2, 3, 4)}
    assert by_sample == {1: ["classified", "accepted", "sent"],
                         2: ["classified", "accepted", "sent", "withdrawn", "rejected"],
                         3: ["classified", "relabelled", "accepted"], 4: ["classified"]}
    [relabelled] = lib.events(kinds=["relabelled"])
    assert relabelled.data | {"backfilled": True} == {"from": None, "to": "Bark", "instrument_from": None,
                                                      "instrument_to": "Bass", "backfilled": True}
    [failed] = lib.events(kinds=["failed"])
    assert failed.data["error"] == "RuntimeError: disk full"
    first = lib.events(sample_id=1)[0].data
    assert first["top"][0] == ["Glockenspiel", 0.81] and first["model"] is None and first["midi_note"] == 69
    assert lib.events(kinds=["sent"], sample_id=1)[0].at == "2026-11-30T21:18:34.000Z"  # never before its cut

    # opening it again (or from a second process at once) does not tell the story twice
    assert len(Library(root).events()) == len(events)
    new = lib.add_recording(b"new", "wav")
    assert new.id == 5 and lib.events()[-1].kind == "received"


@pytest.mark.parametrize("halfway", ["recalled_from, no history", "a history, no recalled_from"])
def test_a_library_that_took_one_step_of_two_takes_the_other(tmp_path, halfway):
    """Version 1 meant one thing on the history's branch and another on the refactor's: both reach version 2."""
    import sqlite3

    root = tmp_path / "old"
    _load_v0(root)
    with sqlite3.connect(root / "library.sqlite3") as db:
        if halfway.startswith("recalled_from"):
            db.executescript("ALTER TABLE samples ADD COLUMN recalled_from INTEGER; UPDATE samples SET recalled_from "
                             "= 3, label_source = 'memory' WHERE id = 4;")
        else:
            db.executescript("CREATE TABLE events (id INTEGER PRIMARY KEY AUTOINCREMENT, at TEXT NOT NULL, kind TEXT "
                             "NOT NULL, recording_id INTEGER, sample_id INTEGER, actor TEXT NOT NULL DEFAULT '', data "
                             "TEXT NOT NULL DEFAULT '{}'); INSERT INTO events (at, kind, recording_id, actor, data) "
                             "VALUES ('2026-11-30T21:18:34.000Z', 'received', 1, 'console:ab', '{}');")
        db.execute("PRAGMA user_version = 1")
    lib = Library(root)
    assert (lib.sample(4).label_source, lib.sample(4).recalled_from) == ("memory", 3)
    events = lib.events()
    assert len(events) == (17 if halfway.startswith("recalled_from") else 1)  # a history is never told twice
    assert Library(root).events() == events


def test_two_processes_opening_an_old_library_at_once_migrate_it_once(tmp_path):
    root = tmp_path / "old"
    _load_v0(root)
    code = f"from exsampling.library import Library; print(len(Library({str(root)!r}).events()))"
    procs = [subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True) for _ in range(3)]
    assert [int(p.communicate(timeout=120)[0]) for p in procs] == [17, 17, 17]
    assert len(Library(root).events()) == 17


def test_a_library_from_a_newer_exsampling_is_refused(tmp_path):
    import sqlite3

    from exsampling.library import LibraryError

    Library(tmp_path / "lib")
    with sqlite3.connect(tmp_path / "lib" / "library.sqlite3") as db:
        db.execute("PRAGMA user_version = 99")
    with pytest.raises(LibraryError, match="update ExSampling"):
        Library(tmp_path / "lib")


def test_a_library_from_before_judgements_gets_them(tmp_path):
    """Schema 3 reaches 4: each recording's judgement over its pieces (none for those judged piece by piece)."""
    import sqlite3

    from exsampling.records import Judgement, Sample

    root = tmp_path / "old"
    _load_v0(root)
    Library(root)
    with sqlite3.connect(root / "library.sqlite3") as db:
        db.executescript("ALTER TABLE recordings DROP COLUMN label; ALTER TABLE recordings DROP COLUMN confidence; "
                         "ALTER TABLE recordings DROP COLUMN pieces; PRAGMA user_version = 3;")
    lib = Library(root)
    assert all(r.judgement is None for r in lib.recordings()) and all(s.judgement is None for s in lib.samples())
    rec = lib.add_recording(b"x")
    judged = Judgement("Bark", 0.75, 1)
    sample = lib.add_sample(Sample(0, rec.id, "", 0.0, 1.0, label="Bark", confidence=0.75), np.zeros(100), 22050,
                            judgement=judged)
    assert lib.recording(rec.id).judgement == judged and sample.judgement == judged


def test_a_library_from_before_upload_ids_gets_them(tmp_path):
    """Schema 2 (the history, no upload ids) reaches 3: upload ids, unique, and the worker of each recording."""
    import sqlite3

    root = tmp_path / "old"
    _load_v0(root)
    Library(root)  # to schema 3; now take it back to what schema 2 had
    with sqlite3.connect(root / "library.sqlite3") as db:
        db.executescript("DROP INDEX recordings_by_upload; ALTER TABLE recordings DROP COLUMN upload_id; "
                         "ALTER TABLE recordings DROP COLUMN worker; PRAGMA user_version = 2;")
    lib = Library(root)
    first = lib.add_recording(b"x", upload_id="upload-after-3")
    with pytest.raises(DuplicateUpload):
        lib.add_recording(b"y", upload_id="upload-after-3")
    assert lib.claim(first.id) and [r.id for r in lib.unfinished()] == []
    assert len(lib.events()) == 18  # the history told once, plus this recording's arrival
