"""The library's schema, and the migration that brings a library written by an earlier version up to it."""
from __future__ import annotations

import sqlite3
from dataclasses import replace
from pathlib import Path

from ..records import Event, EventKind, LabelSource
from .core import LibraryError
from .history import classified_data, insert_event
from .rows import sample_from

SCHEMA = """
CREATE TABLE IF NOT EXISTS recordings (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    path TEXT NOT NULL,
    received_at TEXT NOT NULL,
    participant TEXT NOT NULL DEFAULT '',
    lat REAL, lon REAL, accuracy_m REAL,
    photo_path TEXT,
    source TEXT NOT NULL DEFAULT 'cli',
    duration_s REAL,
    status TEXT NOT NULL DEFAULT 'received',
    error TEXT,
    upload_id TEXT,
    worker TEXT,
    label TEXT, confidence REAL, pieces INTEGER
);
CREATE TABLE IF NOT EXISTS incoming (
    path TEXT PRIMARY KEY,
    worker TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS samples (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    recording_id INTEGER NOT NULL REFERENCES recordings(id),
    path TEXT NOT NULL,
    start_s REAL NOT NULL, duration_s REAL NOT NULL,
    label TEXT, confidence REAL NOT NULL DEFAULT 0, top TEXT NOT NULL DEFAULT '[]',
    unsure INTEGER NOT NULL DEFAULT 0, label_source TEXT NOT NULL DEFAULT 'model', recalled_from INTEGER,
    instrument TEXT, melodic INTEGER NOT NULL DEFAULT 0,
    pitch_hz REAL, midi_note INTEGER, pitch_confidence REAL NOT NULL DEFAULT 0,
    status TEXT NOT NULL DEFAULT 'new', relabel TEXT, sent_at TEXT,
    created_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS samples_by_recording ON samples(recording_id);
CREATE TABLE IF NOT EXISTS settings (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS stage (
    sample_id INTEGER PRIMARY KEY REFERENCES samples(id),
    sent_at REAL NOT NULL,
    loaded INTEGER, reason TEXT NOT NULL DEFAULT '', played INTEGER NOT NULL DEFAULT 0,
    track TEXT, answered_at REAL
);
CREATE TABLE IF NOT EXISTS memory (
    sample_id INTEGER PRIMARY KEY REFERENCES samples(id),
    label TEXT NOT NULL,
    embedding BLOB NOT NULL,
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at TEXT NOT NULL,
    kind TEXT NOT NULL,
    recording_id INTEGER REFERENCES recordings(id),
    sample_id INTEGER REFERENCES samples(id),
    actor TEXT NOT NULL DEFAULT '',
    data TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX IF NOT EXISTS events_by_recording ON events(recording_id);
CREATE INDEX IF NOT EXISTS events_by_sample ON events(sample_id);
"""

#: ``PRAGMA user_version`` of the schema above. 1: ``samples.recalled_from`` holds the re-label memory's choice,
#: which version 0 wrote into ``label_source`` as ``"memory:<id>"``. 2: the ``events`` table, the show's history.
#: 3: ``recordings.upload_id`` (unique) and ``recordings.worker``, and the ``incoming`` table (issue 11).
#: 4: ``recordings.label``, ``confidence`` and ``pieces``: the recording's judgement over its pieces (issue 19).
SCHEMA_VERSION = 4


def create(db: sqlite3.Connection) -> bool:
    """Give a new library its schema; True when the library is an older one, which :func:`migrate` brings up to
    :data:`SCHEMA_VERSION`."""
    if db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION:
        return False  # opened before by this version: nothing to write
    new = db.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()[0] == 0
    # a new library gets its whole schema and version in one commit (one fsync, not one per table) and has
    # nothing to migrate
    version = f"PRAGMA user_version = {SCHEMA_VERSION};" if new else ""
    db.executescript(f"BEGIN IMMEDIATE;\n{SCHEMA}\n{version}\nCOMMIT;")
    return not new


def migrate(db: sqlite3.Connection, db_path: Path) -> None:
    """Bring the library at ``db_path`` (``db``: in a transaction) up to :data:`SCHEMA_VERSION` in place, keeping
    every row.

    Each step looks at what is there rather than trusting the version alone (a library may have taken one
    step on one branch of ExSampling and not the other): ``recalled_from`` is added and filled from
    ``label_source = "memory:<id>"``; an empty history starts with the events the rows still tell (see
    :func:`_history_of`); ``upload_id`` (with its unique index) and ``worker`` are added; the judgement's
    ``label``, ``confidence`` and ``pieces`` are added (empty: recordings judged piece by piece). In the caller's
    one transaction: a crash leaves the old version, and two processes opening it at once migrate it once.
    """
    version = db.execute("PRAGMA user_version").fetchone()[0]
    if version > SCHEMA_VERSION:
        raise LibraryError(f"{db_path} has schema version {version}; this ExSampling knows up to "
                           f"{SCHEMA_VERSION}: update ExSampling to open it")
    if version == SCHEMA_VERSION:
        return
    columns = {row["name"] for row in db.execute("PRAGMA table_info(samples)")}
    if "recalled_from" not in columns:
        db.execute("ALTER TABLE samples ADD COLUMN recalled_from INTEGER")
    db.execute("UPDATE samples SET recalled_from = CAST(substr(label_source, 8) AS INTEGER), label_source = ? "
               "WHERE label_source LIKE 'memory:%'", (LabelSource.MEMORY,))
    if db.execute("SELECT COUNT(*) FROM events").fetchone()[0] == 0:
        for event in _history_of(db):
            insert_event(db, event)
    columns = {row["name"] for row in db.execute("PRAGMA table_info(recordings)")}
    for name, kind in (("upload_id", "TEXT"), ("worker", "TEXT"), ("label", "TEXT"), ("confidence", "REAL"),
                       ("pieces", "INTEGER")):
        if name not in columns:
            db.execute(f"ALTER TABLE recordings ADD COLUMN {name} {kind}")
    db.execute("CREATE UNIQUE INDEX IF NOT EXISTS recordings_by_upload ON recordings(upload_id) "
               "WHERE upload_id IS NOT NULL")
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")


def _ms(at: str) -> str:
    """A second-precision time of an older row (``…:05Z``) in the events' millisecond form (``…:05.000Z``)."""
    return at[:-1] + ".000Z" if at.endswith("Z") and "." not in at else at


def _history_of(db: sqlite3.Connection) -> list[Event]:
    """The events a library without a history still tells, oldest first, each marked ``"backfilled": true``.

    What the rows know: when each recording was received and what became of it, when each sample was cut and
    what the model said (its top labels), whether the performer re-labelled it (to what, not from what) and
    its status; a ``sent_at`` on a rejected sample means it was sent, then withdrawn. Times the rows do not
    keep (of a re-label, an acceptance, a rejection) are given as the sample's creation time, the earliest
    they can have been; the model's name was not kept (``null``).
    """
    story: list[tuple[str, int, int, Event]] = []
    for r in db.execute("SELECT * FROM recordings ORDER BY id"):
        at = _ms(r["received_at"])
        story.append((at, r["id"], 0, Event(0, EventKind.RECEIVED, at, r["id"], None, "", {
            "source": r["source"], "participant": r["participant"], "duration_s": r["duration_s"],
            "located": r["lat"] is not None, "photo": r["photo_path"] is not None, "backfilled": True})))
        if r["status"] in ("silent", "failed"):
            story.append((at, r["id"], 1 << 30, Event(0, EventKind(r["status"]), at, r["id"], None, "",
                                                       {"error": r["error"], "backfilled": True})))
    for s in db.execute("SELECT * FROM samples ORDER BY id"):
        sample = sample_from(s, with_recording=False)
        relabelled = s["relabel"] is not None
        chain = replace(sample, label=None, instrument=None, confidence=0.0) if relabelled else sample
        steps = [("classified", None, classified_data(chain, None))]
        if relabelled:
            steps.append(("relabelled", None, {"from": None, "to": s["relabel"], "instrument_from": None,
                                               "instrument_to": s["instrument"]}))
        if s["status"] in ("accepted", "sent") or s["sent_at"]:
            steps.append(("accepted", None, {}))
        if s["sent_at"]:
            steps.append(("sent", s["sent_at"], {"instrument": s["instrument"]}))
        if s["status"] == "rejected":
            if s["sent_at"]:
                steps.append(("withdrawn", None, {"instrument": s["instrument"]}))
            steps.append(("rejected", None, {}))
        at = _ms(s["created_at"])
        for i, (kind, when, data) in enumerate(steps):
            at = max(at, _ms(when)) if when else at  # a story's events never go back in time
            story.append((at, s["recording_id"], s["id"] * 16 + i + 1,
                          Event(0, EventKind(kind), at, s["recording_id"], s["id"], "", data | {"backfilled": True})))
    return [event for *_, event in sorted(story, key=lambda item: item[:3])]
