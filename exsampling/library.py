"""The library: a folder of WAV files and one SQLite database holding every recording and sample.

Layout of the folder::

    library.sqlite3          recordings, samples, stage answers, events, settings, memory (WAL: processes share it)
    recordings/<name>.<ext>  what was received, byte for byte, under a generated name
    samples/<id>.wav         each sample, mono 16-bit PCM at the model's rate
    photos/<name>.<ext>      participants' optional photos
    incoming/<worker>/       uploads still arriving, one folder per process (moved into recordings/ once stored)

Every write lands on disk (fsync) before its row is committed, and a row is committed before
anyone is told, so a crash never leaves a row pointing at a missing file. A received file is
announced (table ``incoming``, with the process writing it) before it is written, so a crash
between the file and its row leaves a file :meth:`Library.sweep` knows to remove. A recording
being processed names its worker process, so one that died mid-way is found again
(:meth:`Library.unfinished`) and never taken from a worker still alive (:meth:`Library.claim`).

The ``events`` table is the show's history (:class:`exsampling.records.Event`, docs/shows.md). A change of
state and the event that tells it are written in one transaction, so history and state never disagree.
``PRAGMA user_version`` is the schema's version; opening an older library migrates it in place.
"""
from __future__ import annotations

import json
import shutil
import sqlite3
import uuid
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, fields, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import psutil

from .audio import wav_bytes
from .durable import fsync_dir, move_file, write_file
from .records import (
    Event,
    EventKind,
    Judgement,
    LabelSource,
    Location,
    Recording,
    RecordingStatus,
    Sample,
    SampleStatus,
    StageAnswer,
    utc_now,
)

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
#: The database's file name in a library folder.
DATABASE = "library.sqlite3"
#: Files written (and fsync'd) at once when many recordings are stored together.
WRITERS = 8

#: The tables :meth:`Library.dump` returns, each with the column it is ordered by.
DUMPED_TABLES = {"recordings": "id", "samples": "id", "events": "id", "memory": "sample_id", "settings": "key"}
#: Columns :meth:`Library.dump` leaves out: they name a process of this machine at this moment, not the show.
RUNTIME_COLUMNS = {"recordings": ("worker",)}

_SAMPLE_COLUMNS = (
    "recording_id", "path", "start_s", "duration_s", "label", "confidence", "top", "unsure", "label_source",
    "recalled_from", "instrument", "melodic", "pitch_hz", "midi_note", "pitch_confidence", "status", "relabel",
    "sent_at",
)


def event_time() -> str:
    """Now, as ISO 8601 UTC with milliseconds and a ``Z``: events a few ms apart keep their order and pace."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


#: Seconds within which a sample's rising ``played`` counts update one history event rather than add new ones.
PLAYED_EVENT_EVERY_S = 60.0


class LibraryError(RuntimeError):
    """The library cannot be used by this version of ExSampling (e.g. a newer schema)."""


def holds_library(folder: Path) -> bool:
    """Whether ``folder`` is a library (holds its database), without creating anything there."""
    return (folder / DATABASE).is_file()


def this_worker() -> str:
    """This process as a worker: ``"<pid>@<start time>"`` (a pid alone may be reused by a later process)."""
    me = psutil.Process()
    return f"{me.pid}@{me.create_time():.2f}"


def worker_alive(worker: str) -> bool:
    """Whether the process ``worker`` (from :func:`this_worker`) is still running."""
    pid, _, started = worker.partition("@")
    try:
        return f"{psutil.Process(int(pid)).create_time():.2f}" == started
    except (ValueError, psutil.Error):
        return False


@dataclass(frozen=True)
class Received:
    """A received file to store (:meth:`Library.add_recordings`): its bytes, under a generated name, and its row.

    ``data`` is the file's bytes, or a file already written in :meth:`Library.spool_file`'s folder (moved in,
    not copied). ``photo`` is ``(bytes, extension)``. ``upload_id`` is the sender's own id for this upload (unique).
    ``actor``: who stored it, as the history names it.
    """

    data: bytes | Path
    extension: str = "wav"
    participant: str = ""
    location: Location | None = None
    photo: tuple[bytes, str] | None = None
    source: str = "cli"
    duration_s: float | None = None
    upload_id: str | None = None
    actor: str = ""


class DuplicateUpload(Exception):
    """A recording with this ``upload_id`` is already stored; ``recording`` is the first one."""

    def __init__(self, recording: Recording) -> None:
        super().__init__(f"upload already stored as recording {recording.id}")
        self.recording = recording


class Library:
    """Recordings and samples on disk and in SQLite. Safe to share between threads and processes."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root).expanduser().resolve()
        for sub in ("recordings", "samples", "photos"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        self.db_path = self.root / DATABASE
        self.worker = this_worker()
        # Held open, and idle, for the library's life. Closing the last connection to a WAL database checkpoints
        # it and removes the WAL, syncing the whole database: ≈ 12 ms on every call here, each call having its own
        # connection (≈ 7 per 5-s piece). With this one open, the others close at once and SQLite checkpoints as
        # usual every 1000 pages. Commits stay as durable (the WAL is synced at each).
        self._keeper = sqlite3.connect(self.db_path, check_same_thread=False)
        self._keeper.execute("PRAGMA journal_mode=WAL")
        self._keeper.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()  # a read opens the WAL's index
        with self._connect() as db:
            if db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION:
                return  # opened before by this version: nothing to write
            new = db.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()[0] == 0
            # a new library gets its whole schema and version in one commit (one fsync, not one per table) and has
            # nothing to migrate
            version = f"PRAGMA user_version = {SCHEMA_VERSION};" if new else ""
            db.executescript(f"BEGIN IMMEDIATE;\n{SCHEMA}\n{version}\nCOMMIT;")
            if new:
                return
        self._migrate()

    def _migrate(self) -> None:
        """Bring a library written by an earlier version up to :data:`SCHEMA_VERSION` in place, keeping every row.

        Each step looks at what is there rather than trusting the version alone (a library may have taken one
        step on one branch of ExSampling and not the other): ``recalled_from`` is added and filled from
        ``label_source = "memory:<id>"``; an empty history starts with the events the rows still tell (see
        :func:`_history_of`); ``upload_id`` (with its unique index) and ``worker`` are added; the judgement's
        ``label``, ``confidence`` and ``pieces`` are added (empty: recordings judged piece by piece). One transaction:
        a crash leaves the old version, and two processes opening it at once migrate it once.
        """
        with self._transaction() as db:
            version = db.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise LibraryError(f"{self.db_path} has schema version {version}; this ExSampling knows up to "
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
                    _insert_event(db, event)
            columns = {row["name"] for row in db.execute("PRAGMA table_info(recordings)")}
            for name, kind in (("upload_id", "TEXT"), ("worker", "TEXT"), ("label", "TEXT"), ("confidence", "REAL"),
                               ("pieces", "INTEGER")):
                if name not in columns:
                    db.execute(f"ALTER TABLE recordings ADD COLUMN {name} {kind}")
            db.execute("CREATE UNIQUE INDEX IF NOT EXISTS recordings_by_upload ON recordings(upload_id) "
                       "WHERE upload_id IS NOT NULL")
            db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    @classmethod
    def from_config(cls, cfg) -> Library:
        return cls(cfg.resolve(cfg.library.path))

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        db = sqlite3.connect(self.db_path, timeout=30.0, isolation_level=None)
        db.row_factory = sqlite3.Row
        db.execute("PRAGMA busy_timeout=30000")
        db.execute("PRAGMA foreign_keys=ON")
        try:
            yield db
        finally:
            db.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._connect() as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")

    # -- recordings ---------------------------------------------------------------------------

    def spool_file(self) -> Path:
        """A new path for a file that arrives in pieces (an upload being received), to store as
        ``Received(path)``: in this process's own folder under ``incoming/``, which :meth:`sweep` removes once
        the process is gone."""
        folder = self.root / "incoming" / self.worker
        folder.mkdir(parents=True, exist_ok=True)
        return folder / uuid.uuid4().hex

    def add_recording(self, data: bytes, extension: str = "wav", **fields: Any) -> Recording:
        """Store one received file, its row and its ``received`` event (see :class:`Received` for ``fields``);
        return the row.

        Raises :class:`DuplicateUpload` (holding the first recording) when its ``upload_id`` is already stored;
        nothing new is kept then. When this returns, file and row are both durable.
        """
        [stored] = self.add_recordings([Received(data, extension, **fields)])
        if isinstance(stored, Exception):
            raise stored
        return stored

    def add_recordings(self, items: list[Received]) -> list[Recording | Exception]:
        """Store several received files, their rows and their ``received`` events together (a crowd's uploads
        share two commits and one folder sync); for each, its row, or the exception that kept it out
        (:class:`DuplicateUpload` when its ``upload_id`` is stored already, an ``OSError`` when its file could not
        be written).

        Files are announced (``incoming``) before they are written, so a crash before their rows commit leaves
        nothing :meth:`sweep` does not remove. When this returns, every file and row returned is durable.
        """
        refused: dict[int, Exception] = {}
        with self._connect() as db:  # retries already stored write nothing
            for i, item in enumerate(items):
                first = item.upload_id and db.execute("SELECT * FROM recordings WHERE upload_id=?",
                                                      (item.upload_id,)).fetchone()
                if first:
                    refused[i] = DuplicateUpload(_recording(first))
        stamp = f"{datetime.now(UTC):%Y%m%d-%H%M%S}"
        files: dict[int, tuple[Path, Path | None]] = {}
        for i, item in enumerate(items):
            if i not in refused:
                stem = f"{stamp}-{uuid.uuid4().hex[:10]}"
                files[i] = (self.root / "recordings" / f"{stem}.{item.extension}",
                            self.root / "photos" / f"{stem}.{item.photo[1]}" if item.photo is not None else None)
        announced = [p for pair in files.values() for p in pair if p is not None]
        if not announced:  # nothing new to store
            return [refused[i] for i in range(len(items))]
        with self._transaction() as db:
            db.executemany("INSERT INTO incoming (path, worker) VALUES (?, ?)",
                           [(str(p), self.worker) for p in announced])

        def write(i: int) -> None:
            path, photo_path = files[i]
            photo = items[i].photo
            data = items[i].data
            try:
                if isinstance(data, Path):
                    move_file(data, path)
                else:
                    write_file(path, data, sync_dir=False)
                if photo_path is not None and photo is not None:
                    write_file(photo_path, photo[0], sync_dir=False)
            except OSError as exc:
                refused[i] = exc

        row_ids: dict[int, int] = {}
        try:
            # Files are synced side by side: the file system commits many fsyncs at once (≈ 4× faster for 100).
            with ThreadPoolExecutor(min(WRITERS, len(files)), thread_name_prefix="exsampling-fsync") as writers:
                list(writers.map(write, files))
            for folder in {p.parent for p in announced}:
                fsync_dir(folder)
            with self._transaction() as db:
                for i, (path, photo_path) in files.items():
                    item = items[i]
                    first = i not in refused and item.upload_id and db.execute(
                        "SELECT * FROM recordings WHERE upload_id=?", (item.upload_id,)).fetchone()
                    if first:  # the same upload twice in one batch, or stored meanwhile by another process
                        refused[i] = DuplicateUpload(_recording(first))
                    if i in refused:
                        continue
                    loc = item.location
                    row_ids[i] = _row_id(db.execute(
                        "INSERT INTO recordings (path, received_at, participant, lat, lon, accuracy_m, photo_path,"
                        " source, duration_s, upload_id) VALUES (?,?,?,?,?,?,?,?,?,?)",
                        (str(path), utc_now(), item.participant, loc.lat if loc else None, loc.lon if loc else None,
                         loc.accuracy_m if loc else None, str(photo_path) if photo_path else None, item.source,
                         item.duration_s, item.upload_id)))
                    _insert_event(db, Event(0, EventKind.RECEIVED, event_time(), row_ids[i], None, item.actor, {
                        "source": item.source, "participant": item.participant,
                        "duration_s": None if item.duration_s is None else round(float(item.duration_s), 3),
                        "located": loc is not None, "photo": photo_path is not None}))
                db.executemany("DELETE FROM incoming WHERE path=?", [(str(p),) for p in announced])
        except BaseException:
            self._forget_incoming(announced)
            raise
        self._forget_incoming([p for i, pair in files.items() if i in refused for p in pair if p is not None])
        with self._connect() as db:
            rows = {row["id"]: _recording(row) for row in db.execute(
                f"SELECT * FROM recordings WHERE id IN ({','.join('?' * len(row_ids))})", list(row_ids.values()))}
        return [rows[row_ids[i]] if i in row_ids else refused[i] for i in range(len(items))]

    def _forget_incoming(self, paths: list[Path]) -> None:
        if not paths:
            return
        for p in paths:
            p.unlink(missing_ok=True)
            p.with_name(p.name + ".part").unlink(missing_ok=True)
        with self._transaction() as db:
            db.executemany("DELETE FROM incoming WHERE path=?", [(str(p),) for p in paths])

    def recording_by_upload(self, upload_id: str) -> Recording | None:
        """The recording stored under the sender's ``upload_id``, or None."""
        with self._connect() as db:
            row = db.execute("SELECT * FROM recordings WHERE upload_id=?", (upload_id,)).fetchone()
        return None if row is None else _recording(row)

    def sweep(self) -> list[Path]:
        """Remove received files that have no row: left by a process killed between writing a file and
        committing its row, or while receiving it (files a live process is still writing are left alone).
        Returns the files removed (a stopped process's empty spool folder goes too, uncounted)."""
        with self._transaction() as db:
            incoming = db.execute("SELECT path, worker FROM incoming").fetchall()
            dead = [Path(r["path"]) for r in incoming if not worker_alive(r["worker"])]
            db.executemany("DELETE FROM incoming WHERE path=?", [(str(p),) for p in dead])
            kept = {p for r in db.execute("SELECT path, photo_path FROM recordings") for p in r if p}
        in_flight = {r["path"] for r in incoming} - {str(p) for p in dead}
        removed = []
        for sub in ("recordings", "photos"):
            for p in (self.root / sub).iterdir():
                if str(p) not in kept and str(p) not in in_flight and str(p).removesuffix(".part") not in in_flight:
                    p.unlink(missing_ok=True)
                    removed.append(p)
        for folder in (self.root / "incoming").glob("*"):  # spool folders, one per process (see spool_file)
            if folder.name != self.worker and not worker_alive(folder.name):
                removed += [p for p in folder.rglob("*") if not p.is_dir()]  # a clean stop leaves it empty
                shutil.rmtree(folder, ignore_errors=True)
        return removed

    def claim(self, recording_id: int) -> bool:
        """Take a "received" recording for processing by this process; False if another worker has it."""
        with self._transaction() as db:
            cur = db.execute("UPDATE recordings SET status=?, worker=? WHERE id=? AND status=?",
                             (RecordingStatus.PROCESSING, self.worker, recording_id, RecordingStatus.RECEIVED))
        return cur.rowcount == 1

    def release(self, recording_id: int) -> None:
        """Give back this process's :meth:`claim` on a recording it could not process (the disk was full): it is
        "received" again, to be processed later."""
        with self._transaction() as db:
            db.execute("UPDATE recordings SET status=?, worker=NULL WHERE id=? AND status=? AND worker=?",
                       (RecordingStatus.RECEIVED, recording_id, RecordingStatus.PROCESSING, self.worker))

    def unfinished(self) -> list[Recording]:
        """Recordings still waiting to be processed, oldest first: every "received" one, and the "processing"
        ones whose worker died (they are "received" again)."""
        with self._transaction() as db:
            busy = db.execute("SELECT id, worker FROM recordings WHERE status=?",
                              (RecordingStatus.PROCESSING,)).fetchall()
            stale = [(RecordingStatus.RECEIVED, r["id"]) for r in busy if not worker_alive(r["worker"] or "")]
            db.executemany("UPDATE recordings SET status=?, worker=NULL WHERE id=?", stale)
            rows = db.execute("SELECT * FROM recordings WHERE status=? ORDER BY id",
                              (RecordingStatus.RECEIVED,)).fetchall()
        return [_recording(r) for r in rows]

    def recording(self, recording_id: int) -> Recording:
        """The recording with this id; KeyError if there is none."""
        with self._connect() as db:
            row = db.execute("SELECT * FROM recordings WHERE id=?", (recording_id,)).fetchone()
        if row is None:
            raise KeyError(f"no recording {recording_id}")
        return _recording(row)

    def recordings(self, limit: int | None = None) -> list[Recording]:
        """Recordings, newest first."""
        with self._connect() as db:
            rows = db.execute("SELECT * FROM recordings ORDER BY id DESC LIMIT ?", (limit or -1,)).fetchall()
        return [_recording(r) for r in rows]

    def set_recording_status(self, recording_id: int, status: RecordingStatus, error: str | None = None,
                             duration_s: float | None = None, actor: str = "") -> None:
        """Move a recording on; "silent" and "failed" are also events of the history (with ``error``)."""
        with self._transaction() as db:
            db.execute(
                "UPDATE recordings SET status=?, error=?, duration_s=COALESCE(?, duration_s) WHERE id=?",
                (status, error, duration_s, recording_id),
            )
            if status in (RecordingStatus.SILENT, RecordingStatus.FAILED):
                _insert_event(db, Event(0, EventKind(status), event_time(), recording_id, None, actor,
                                        {"error": error}))

    # -- samples ------------------------------------------------------------------------------

    def add_sample(self, sample: Sample, y: np.ndarray, sr: int, *, model: str | None = None,
                   actor: str = "", judgement: Judgement | None = None) -> Sample:
        """Write the audio ``y`` (at ``sr`` Hz), the sample's row and its ``classified`` event; return the sample
        with its id and path. ``model``: the name of the model that classified it (None: no model).
        ``judgement``: the recording's, kept on its row in the same transaction (its first sample brings it; its
        samples join it, see :attr:`Sample.judgement`)."""
        with self._transaction() as db:
            if judgement is not None:
                db.execute("UPDATE recordings SET label=?, confidence=?, pieces=? WHERE id=?",
                           (judgement.label, float(judgement.confidence), judgement.pieces, sample.recording_id))
            values = _sample_values(sample)
            values["path"] = ""
            cur = db.execute(
                f"INSERT INTO samples ({', '.join(_SAMPLE_COLUMNS)}, created_at) "
                f"VALUES ({', '.join('?' * len(_SAMPLE_COLUMNS))}, ?)",
                [values[c] for c in _SAMPLE_COLUMNS] + [utc_now()],
            )
            sample_id = _row_id(cur)
            path = self.root / "samples" / f"{sample_id:06d}.wav"
            write_file(path, wav_bytes(y, sr))
            db.execute("UPDATE samples SET path=? WHERE id=?", (str(path), sample_id))
            _insert_event(db, Event(0, EventKind.CLASSIFIED, event_time(), sample.recording_id, sample_id, actor,
                                    classified_data(sample, model)))
        return self.sample(sample_id)

    def sample(self, sample_id: int) -> Sample:
        """The sample with this id, joined with its recording's participant, place and time."""
        rows = self._samples("WHERE s.id=?", (sample_id,))
        if not rows:
            raise KeyError(f"no sample {sample_id}")
        return rows[0]

    def samples(self, recording_id: int | None = None, limit: int | None = None, before_id: int | None = None,
                status: SampleStatus | None = None) -> list[Sample]:
        """Samples newest first, optionally of one recording, older than ``before_id``, or in one status."""
        clauses, args = [], []
        for column, value in (("s.recording_id = ?", recording_id), ("s.id < ?", before_id), ("s.status = ?", status)):
            if value is not None:
                clauses.append(column)
                args.append(value)
        where = ("WHERE " + " AND ".join(clauses)) if clauses else ""
        return self._samples(f"{where} ORDER BY s.id DESC LIMIT ?", (*args, limit or -1))

    def _samples(self, tail: str, args: tuple) -> list[Sample]:
        with self._connect() as db:
            rows = db.execute(
                f"SELECT s.*, r.participant, r.lat, r.lon, r.accuracy_m, r.received_at, r.label AS recording_label, "
                f"r.confidence AS recording_confidence, r.pieces AS recording_pieces, {_STAGE_COLUMNS} "
                "FROM samples s JOIN recordings r ON r.id = s.recording_id "
                f"LEFT JOIN stage st ON st.sample_id = s.id {tail}",
                args,
            ).fetchall()
        return [_sample(r) for r in rows]

    def update_sample(self, sample_id: int, *, events: Sequence[tuple[str, dict[str, Any]]] = (), actor: str = "",
                      **changes: Any) -> Sample:
        """Change some of a sample's stored fields (e.g. ``status="accepted"``) and return it.

        ``events``: ``(kind, data)`` pairs telling the change, recorded by ``actor`` in the same transaction.
        """
        unknown = set(changes) - set(_SAMPLE_COLUMNS)
        if unknown:
            raise ValueError(f"cannot update {sorted(unknown)}; fields: {_SAMPLE_COLUMNS}")
        values = _sample_values(Sample(id=0, recording_id=0, path="", start_s=0, duration_s=0, **changes))
        with self._transaction() as db:
            if changes:
                db.execute(
                    f"UPDATE samples SET {', '.join(f'{c}=?' for c in changes)} WHERE id=?",
                    [values[c] for c in changes] + [sample_id],
                )
            if events:
                recording_id = _recording_of(db, sample_id)
                at = event_time()
                for kind, data in events:
                    _insert_event(db, Event(0, EventKind(kind), at, recording_id, sample_id, actor, dict(data)))
        return self.sample(sample_id)

    def counts(self) -> dict[str, int]:
        """Numbers for the console header: recordings, samples, participants (distinct names or clients)."""
        with self._connect() as db:
            r = db.execute("SELECT COUNT(*), COUNT(DISTINCT NULLIF(participant, '')) FROM recordings").fetchone()
            s = db.execute("SELECT COUNT(*) FROM samples").fetchone()
        return {"recordings": r[0], "participants": r[1], "samples": s[0]}

    # -- what the stage answered about sent samples (docs/osc.md, exsampling/stage.py) ----------------

    def stage_sent(self, sample_id: int, at: float) -> None:
        """A sample is being sent (``at``: ``time.time()``): its answers start afresh. Call before sending."""
        with self._transaction() as db:
            db.execute("INSERT OR REPLACE INTO stage (sample_id, sent_at) VALUES (?, ?)", (sample_id, at))

    def stage_loaded(self, sample_id: int, ok: bool, reason: str, track: str, at: float,
                     actor: str = "") -> StageAnswer | None:
        """Record a ``loaded`` answer, and a ``loaded`` event by ``actor`` in the history unless it repeats that
        actor's latest one about this sample since it was sent (a device answering again and again adds nothing);
        None (nothing recorded) for a sample this library never sent.

        One device that loaded it is enough: a later failure from another device keeps it loaded.
        """
        with self._transaction() as db:
            changed = db.execute(
                "UPDATE stage SET loaded = CASE WHEN loaded = 1 THEN 1 ELSE ? END,"
                " reason = CASE WHEN loaded = 1 OR ? THEN '' ELSE ? END, track = ?, answered_at = ?"
                " WHERE sample_id = ?",
                (int(ok), int(ok), reason, track, at, sample_id),
            ).rowcount
            data = {"instrument": track, "ok": ok, "reason": reason}
            latest = _latest_stage_event(db, sample_id, "loaded", actor)
            if changed and (latest is None or json.loads(latest["data"]) != data):
                _insert_event(db, Event(0, EventKind.LOADED, event_time(), _recording_of(db, sample_id), sample_id,
                                        actor, data))
        return self.stage_answers([sample_id]).get(sample_id)

    def stage_played(self, sample_id: int, count: int, track: str, at: float,
                     actor: str = "") -> StageAnswer | None:
        """Record a ``played`` answer: the count only rises (a lower or equal one changes nothing). The history gets
        a ``played`` event by ``actor`` when the count rises, at most one per sample every
        :data:`PLAYED_EVENT_EVERY_S` seconds since it was sent: a rise within that time brings the latest event's
        count up to date instead, so a flood of rising counts cannot grow the library. None for a sample this
        library never sent."""
        with self._transaction() as db:
            before = db.execute("SELECT played FROM stage WHERE sample_id = ?", (sample_id,)).fetchone()
            if before is None:
                return None
            if count > before["played"]:
                db.execute("UPDATE stage SET played = ?, track = ?, answered_at = ? WHERE sample_id = ?",
                           (count, track, at, sample_id))
                data = {"instrument": track, "count": count}
                latest = _latest_stage_event(db, sample_id, "played")
                if latest is not None and _age_s(latest["at"]) < PLAYED_EVENT_EVERY_S:
                    db.execute("UPDATE events SET data = ?, actor = ? WHERE id = ?",
                               (json.dumps(data, sort_keys=True), actor, latest["id"]))
                else:
                    _insert_event(db, Event(0, EventKind.PLAYED, event_time(), _recording_of(db, sample_id), sample_id,
                                            actor, data))
        return self.stage_answers([sample_id]).get(sample_id)

    def stage_answers(self, sample_ids: list[int]) -> dict[int, StageAnswer]:
        """The stage's answers about these samples, by id (samples never sent are absent)."""
        if not sample_ids:
            return {}
        with self._connect() as db:
            rows = db.execute(f"SELECT * FROM stage WHERE sample_id IN ({', '.join('?' * len(sample_ids))})",
                              list(sample_ids)).fetchall()
        return {r["sample_id"]: _stage(r) for r in rows}

    # -- the show's history ----------------------------------------------------------------------

    def add_event(self, kind: EventKind, *, recording_id: int | None = None, sample_id: int | None = None,
                  actor: str = "", data: dict[str, Any] | None = None) -> Event:
        """Record that ``kind`` happened now (e.g. the stage's ``loaded``/``played``) and return the event.

        A sample's event also names the sample's recording. Raises ValueError for an unknown kind or data
        that is not JSON, KeyError for an unknown recording or sample.
        """
        event = Event(0, kind, event_time(), recording_id, sample_id, actor, dict(data or {}))
        with self._transaction() as db:
            if sample_id is not None:
                event = replace(event, recording_id=_recording_of(db, sample_id))
            elif recording_id is not None and db.execute(
                    "SELECT 1 FROM recordings WHERE id=?", (recording_id,)).fetchone() is None:
                raise KeyError(f"no recording {recording_id}")
            return replace(event, id=_insert_event(db, event))

    def events(self, *, recording_id: int | None = None, sample_id: int | None = None,
               kinds: Sequence[EventKind] | None = None, after_id: int = 0, limit: int | None = None) -> list[Event]:
        """The history, oldest first: all of it, or one recording's or sample's, of some ``kinds``, after an id."""
        clauses: list[str] = ["id > ?"]
        args: list[Any] = [after_id]
        for column, value in (("recording_id = ?", recording_id), ("sample_id = ?", sample_id)):
            if value is not None:
                clauses.append(column)
                args.append(value)
        if kinds is not None:
            clauses.append(f"kind IN ({', '.join('?' * len(kinds))})")
            args.extend(kinds)
        with self._connect() as db:
            rows = db.execute(f"SELECT * FROM events WHERE {' AND '.join(clauses)} ORDER BY id LIMIT ?",
                              (*args, limit or -1)).fetchall()
        return [_event(r) for r in rows]

    # -- settings that must outlive a restart (the show's own keys belong to exsampling.show_state) --

    def setting(self, key: str, default: Any = None) -> Any:
        """A JSON value stored under ``key``, or ``default``."""
        with self._connect() as db:
            row = db.execute("SELECT value FROM settings WHERE key=?", (key,)).fetchone()
        return default if row is None else json.loads(row["value"])

    def set_setting(self, key: str, value: Any, *, events: Sequence[tuple[str, dict[str, Any]]] = (),
                    actor: str = "") -> None:
        """Store a JSON-serialisable ``value`` under ``key``; ``events``: ``(kind, data)`` pairs of the show's
        history telling the change (e.g. ``prompt``), recorded by ``actor`` in the same transaction."""
        with self._transaction() as db:
            db.execute("INSERT OR REPLACE INTO settings (key, value) VALUES (?, ?)", (key, json.dumps(value)))
            at = event_time()
            for kind, data in events:
                _insert_event(db, Event(0, EventKind(kind), at, None, None, actor, dict(data)))

    # -- the whole library as rows (exsampling.archive keeps a show with them) ---------------------

    def dump(self) -> dict[str, list[dict[str, Any]]]:
        """Every row of :data:`DUMPED_TABLES` as ``{column: value}`` (BLOBs as bytes), by id, from one snapshot;
        without :data:`RUNTIME_COLUMNS`."""
        with self._connect() as db:
            db.execute("BEGIN")  # one read transaction: a show still running cannot tear the snapshot
            try:
                return {table: [{c: v for c, v in dict(r).items() if c not in RUNTIME_COLUMNS.get(table, ())}
                                for r in db.execute(f"SELECT * FROM {table} ORDER BY {key}")]
                        for table, key in DUMPED_TABLES.items()}
            finally:
                db.execute("COMMIT")

    def load_dump(self, tables: dict[str, list[dict[str, Any]]]) -> None:
        """Insert :meth:`dump`'s rows, ids included, into this library, which must be empty; one transaction.

        Raises ValueError for a table or column this schema does not have, or when the library holds rows.
        """
        with self._transaction() as db:
            for table in tables:
                if table not in DUMPED_TABLES:
                    raise ValueError(f"unknown table {table!r}; tables: {', '.join(DUMPED_TABLES)}")
            for table in DUMPED_TABLES:
                if db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]:
                    raise ValueError(f"{self.root} already holds {table}: restore a show into an empty library")
            for table in DUMPED_TABLES:  # in this order: rows only point at rows already there
                columns = {r["name"] for r in db.execute(f"PRAGMA table_info({table})")}
                for row in tables.get(table, []):
                    unknown = sorted(set(row) - columns)
                    if unknown:
                        raise ValueError(f"{table} has no column(s) {unknown}")
                    names = list(row)  # checked against the schema above: safe to name in SQL
                    db.execute(f"INSERT INTO {table} ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})",
                               [row[n] for n in names])

    # -- re-label memory ----------------------------------------------------------------------

    def remember(self, sample_id: int, label: str, embedding: np.ndarray) -> None:
        """Keep ``embedding`` (float32 vector) of a re-labelled sample under its new label."""
        blob = np.asarray(embedding, dtype=np.float32).tobytes()
        with self._transaction() as db:
            db.execute(
                "INSERT OR REPLACE INTO memory (sample_id, label, embedding, created_at) VALUES (?,?,?,?)",
                (sample_id, label, blob, utc_now()),
            )

    def memory(self) -> list[tuple[int, str, np.ndarray, str]]:
        """All remembered ``(sample_id, label, embedding, created_at)``, oldest first."""
        with self._connect() as db:
            rows = db.execute("SELECT * FROM memory ORDER BY created_at, sample_id").fetchall()
        return [(r["sample_id"], r["label"], np.frombuffer(r["embedding"], dtype=np.float32), r["created_at"])
                for r in rows]

    def labelled_samples(self) -> list[tuple[int, Path, str]]:
        """``(sample_id, WAV path, label)`` of every sample the performer labelled (a re-label, or an entry in the
        re-label memory), oldest first: what ``exsampling train --from-library`` learns from."""
        with self._connect() as db:
            rows = db.execute(
                "SELECT s.id, s.path, COALESCE(s.relabel, m.label) FROM samples s LEFT JOIN memory m"
                " ON m.sample_id = s.id WHERE s.relabel IS NOT NULL OR m.label IS NOT NULL ORDER BY s.id").fetchall()
        return [(sample_id, self.root / path, label) for sample_id, path, label in rows]  # an absolute path wins

    def forget(self, sample_id: int) -> None:
        with self._transaction() as db:
            db.execute("DELETE FROM memory WHERE sample_id=?", (sample_id,))


def classified_data(sample: Sample, model: str | None) -> dict[str, Any]:
    """A ``classified`` event's data: the model and its top labels, and what the chain made of them."""
    return {  # numpy scalars made plain: the event is JSON
        "model": model, "top": [[label, round(float(p), 6)] for label, p in sample.top], "label": sample.label,
        "confidence": round(float(sample.confidence), 6), "unsure": bool(sample.unsure),
        "label_source": str(sample.label_source), "recalled_from": sample.recalled_from,
        "instrument": sample.instrument, "melodic": bool(sample.melodic),
        "pitch_hz": None if sample.pitch_hz is None else round(float(sample.pitch_hz), 3),
        "midi_note": None if sample.midi_note is None else int(sample.midi_note),
        "start_s": round(float(sample.start_s), 3), "duration_s": round(float(sample.duration_s), 3),
    }


def _recording_of(db: sqlite3.Connection, sample_id: int) -> int:
    row = db.execute("SELECT recording_id FROM samples WHERE id=?", (sample_id,)).fetchone()
    if row is None:
        raise KeyError(f"no sample {sample_id}")
    return row[0]


def _latest_stage_event(db: sqlite3.Connection, sample_id: int, kind: str,
                        actor: str | None = None) -> sqlite3.Row | None:
    """The latest ``kind`` event about a sample since it was last sent (by ``actor``, when given), or None."""
    sent = db.execute("SELECT MAX(id) FROM events WHERE sample_id = ? AND kind = 'sent'", (sample_id,)).fetchone()[0]
    clauses, args = "", [sample_id, kind, sent or 0]
    if actor is not None:
        clauses, args = " AND actor = ?", [*args, actor]
    return db.execute(f"SELECT id, at, data FROM events WHERE sample_id = ? AND kind = ? AND id > ?{clauses} "
                      "ORDER BY id DESC LIMIT 1", args).fetchone()


def _age_s(at: str) -> float:
    """Seconds since an event's time (``at``, as :func:`event_time` writes it)."""
    return (datetime.now(UTC) - datetime.fromisoformat(at.replace("Z", "+00:00"))).total_seconds()


def _insert_event(db: sqlite3.Connection, event: Event) -> int:
    EventKind(event.kind)  # raises ValueError for an unknown kind, whatever the caller's types said
    try:
        data = json.dumps(event.data, sort_keys=True, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{event.kind} event data is not plain JSON: {exc}") from exc
    return _row_id(db.execute(
        "INSERT INTO events (at, kind, recording_id, sample_id, actor, data) VALUES (?,?,?,?,?,?)",
        (event.at, event.kind, event.recording_id, event.sample_id, event.actor, data),
    ))


def _event(row: sqlite3.Row) -> Event:
    return Event(id=row["id"], kind=EventKind(row["kind"]), at=row["at"], recording_id=row["recording_id"],
                 sample_id=row["sample_id"], actor=row["actor"], data=json.loads(row["data"]))


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
        sample = _sample(s, with_recording=False)
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


def _row_id(cursor: sqlite3.Cursor) -> int:
    if cursor.lastrowid is None:  # never after an INSERT; the check is for the type checker's sake
        raise sqlite3.DatabaseError("the INSERT gave no row id")
    return cursor.lastrowid


#: The stage table's columns as ``_samples`` selects them beside a sample's (``stage_`` + the column).
_STAGE_COLUMNS = ", ".join(f"st.{c} AS stage_{c}" for c in
                           ("sample_id", "sent_at", "loaded", "reason", "played", "track", "answered_at"))


def _stage(row: sqlite3.Row, prefix: str = "") -> StageAnswer:
    loaded = row[f"{prefix}loaded"]
    return StageAnswer(sample_id=row[f"{prefix}sample_id"], sent_at=row[f"{prefix}sent_at"],
                       loaded=None if loaded is None else bool(loaded), reason=row[f"{prefix}reason"],
                       played=row[f"{prefix}played"], track=row[f"{prefix}track"],
                       answered_at=row[f"{prefix}answered_at"])


def _location(row: sqlite3.Row) -> Location | None:
    if row["lat"] is None or row["lon"] is None:
        return None
    return Location(row["lat"], row["lon"], row["accuracy_m"])


def _judgement(row: sqlite3.Row, prefix: str = "") -> Judgement | None:
    if row[f"{prefix}label"] is None:
        return None
    return Judgement(row[f"{prefix}label"], row[f"{prefix}confidence"], row[f"{prefix}pieces"])


def _recording(row: sqlite3.Row) -> Recording:
    return Recording(
        id=row["id"], path=row["path"], received_at=row["received_at"], participant=row["participant"],
        location=_location(row), photo_path=row["photo_path"], source=row["source"],
        duration_s=row["duration_s"], status=RecordingStatus(row["status"]), error=row["error"],
        judgement=_judgement(row),
    )


def _sample_values(sample: Sample) -> dict[str, Any]:
    values = {f.name: getattr(sample, f.name) for f in fields(Sample)}
    values["top"] = json.dumps([[label, float(p)] for label, p in sample.top])
    values["unsure"] = int(sample.unsure)
    values["melodic"] = int(sample.melodic)
    return values


def _sample(row: sqlite3.Row, with_recording: bool = True) -> Sample:
    joined: dict[str, Any] = {"participant": row["participant"], "location": _location(row),
                              "recorded_at": row["received_at"],
                              "judgement": _judgement(row, "recording_")} if with_recording else {}
    if "stage_sample_id" in row.keys() and row["stage_sample_id"] is not None:  # noqa: SIM118 (a Row, not a dict)
        joined["stage"] = _stage(row, "stage_")
    return Sample(
        id=row["id"], recording_id=row["recording_id"], path=row["path"], start_s=row["start_s"],
        duration_s=row["duration_s"], label=row["label"], confidence=row["confidence"],
        top=[(label, p) for label, p in json.loads(row["top"])], unsure=bool(row["unsure"]),
        label_source=LabelSource(row["label_source"]), recalled_from=row["recalled_from"],
        instrument=row["instrument"], melodic=bool(row["melodic"]),
        pitch_hz=row["pitch_hz"], midi_note=row["midi_note"], pitch_confidence=row["pitch_confidence"],
        status=SampleStatus(row["status"]), relabel=row["relabel"], sent_at=row["sent_at"], **joined,
    )
