"""The library: a folder of WAV files and one SQLite database holding every recording and sample.

Layout of the folder::

    library.sqlite3          recordings, samples, stage answers, settings, memory (WAL: several processes share it)
    recordings/<name>.<ext>  what was received, byte for byte, under a generated name
    samples/<id>.wav         each sample, mono 16-bit PCM at the model's rate
    photos/<name>.<ext>      participants' optional photos

Every write lands on disk (fsync) before its row is committed, and a row is committed before
anyone is told, so a crash never leaves a row pointing at a missing file.
"""
from __future__ import annotations

import json
import os
import sqlite3
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from .audio import wav_bytes
from .records import LabelSource, Location, Recording, RecordingStatus, Sample, SampleStatus, StageAnswer, utc_now

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
    error TEXT
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
"""

_SAMPLE_COLUMNS = (
    "recording_id", "path", "start_s", "duration_s", "label", "confidence", "top", "unsure", "label_source",
    "recalled_from", "instrument", "melodic", "pitch_hz", "midi_note", "pitch_confidence", "status", "relabel",
    "sent_at",
)


#: ``PRAGMA user_version`` of the schema above. 1: ``samples.recalled_from`` holds the re-label memory's choice,
#: which version 0 wrote into ``label_source`` as ``"memory:<id>"``.
SCHEMA_VERSION = 1


def _fsync_write(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".part")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    tmp.replace(path)
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


class Library:
    """Recordings and samples on disk and in SQLite. Safe to share between threads and processes."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root).expanduser().resolve()
        for sub in ("recordings", "samples", "photos"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        self.db_path = self.root / "library.sqlite3"
        with self._connect() as db:
            db.execute("PRAGMA journal_mode=WAL")
            db.executescript(SCHEMA)
        self._migrate()

    def _migrate(self) -> None:
        """Bring a library written by an earlier version up to :data:`SCHEMA_VERSION` (once, in one transaction)."""
        with self._transaction() as db:
            if db.execute("PRAGMA user_version").fetchone()[0] >= SCHEMA_VERSION:
                return
            columns = {row["name"] for row in db.execute("PRAGMA table_info(samples)")}
            if "recalled_from" not in columns:
                db.execute("ALTER TABLE samples ADD COLUMN recalled_from INTEGER")
            db.execute("UPDATE samples SET recalled_from = CAST(substr(label_source, 8) AS INTEGER), label_source = ? "
                       "WHERE label_source LIKE 'memory:%'", (LabelSource.MEMORY,))
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

    def add_recording(
        self, data: bytes, extension: str = "wav", *, participant: str = "", location: Location | None = None,
        photo: tuple[bytes, str] | None = None, source: str = "cli", duration_s: float | None = None,
    ) -> Recording:
        """Store a received file (its bytes, under a generated name) and its row; return the row.

        ``photo`` is ``(bytes, extension)``. When this returns, file and row are both durable.
        """
        stem = f"{datetime.now(UTC):%Y%m%d-%H%M%S}-{uuid.uuid4().hex[:10]}"
        path = self.root / "recordings" / f"{stem}.{extension}"
        written = [path]
        _fsync_write(path, data)
        photo_path = None
        try:
            if photo is not None:
                photo_path = self.root / "photos" / f"{stem}.{photo[1]}"
                written.append(photo_path)
                _fsync_write(photo_path, photo[0])
            with self._transaction() as db:
                cur = db.execute(
                    "INSERT INTO recordings (path, received_at, participant, lat, lon, accuracy_m, photo_path,"
                    " source, duration_s) VALUES (?,?,?,?,?,?,?,?,?)",
                    (str(path), utc_now(), participant, location.lat if location else None,
                     location.lon if location else None, location.accuracy_m if location else None,
                     str(photo_path) if photo_path else None, source, duration_s),
                )
                rec_id = _row_id(cur)
        except BaseException:
            for p in written:
                p.unlink(missing_ok=True)
            raise
        return self.recording(rec_id)

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
                             duration_s: float | None = None) -> None:
        with self._transaction() as db:
            db.execute(
                "UPDATE recordings SET status=?, error=?, duration_s=COALESCE(?, duration_s) WHERE id=?",
                (status, error, duration_s, recording_id),
            )

    # -- samples ------------------------------------------------------------------------------

    def add_sample(self, sample: Sample, y: np.ndarray, sr: int) -> Sample:
        """Write the audio ``y`` (at ``sr`` Hz) and the sample's row; return it with its id and path."""
        with self._transaction() as db:
            values = _sample_values(sample)
            values["path"] = ""
            cur = db.execute(
                f"INSERT INTO samples ({', '.join(_SAMPLE_COLUMNS)}, created_at) "
                f"VALUES ({', '.join('?' * len(_SAMPLE_COLUMNS))}, ?)",
                [values[c] for c in _SAMPLE_COLUMNS] + [utc_now()],
            )
            sample_id = _row_id(cur)
            path = self.root / "samples" / f"{sample_id:06d}.wav"
            _fsync_write(path, wav_bytes(y, sr))
            db.execute("UPDATE samples SET path=? WHERE id=?", (str(path), sample_id))
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
                f"SELECT s.*, r.participant, r.lat, r.lon, r.accuracy_m, r.received_at, {_STAGE_COLUMNS} "
                "FROM samples s JOIN recordings r ON r.id = s.recording_id "
                f"LEFT JOIN stage st ON st.sample_id = s.id {tail}",
                args,
            ).fetchall()
        return [_sample(r) for r in rows]

    def update_sample(self, sample_id: int, **changes: Any) -> Sample:
        """Change some of a sample's stored fields (e.g. ``status="accepted"``) and return it."""
        unknown = set(changes) - set(_SAMPLE_COLUMNS)
        if unknown:
            raise ValueError(f"cannot update {sorted(unknown)}; fields: {_SAMPLE_COLUMNS}")
        values = _sample_values(Sample(id=0, recording_id=0, path="", start_s=0, duration_s=0, **changes))
        with self._transaction() as db:
            db.execute(
                f"UPDATE samples SET {', '.join(f'{c}=?' for c in changes)} WHERE id=?",
                [values[c] for c in changes] + [sample_id],
            )
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

    def stage_loaded(self, sample_id: int, ok: bool, reason: str, track: str, at: float) -> StageAnswer | None:
        """Record a ``loaded`` answer; None (nothing recorded) for a sample this library never sent.

        One device that loaded it is enough: a later failure from another device keeps it loaded.
        """
        with self._transaction() as db:
            db.execute(
                "UPDATE stage SET loaded = CASE WHEN loaded = 1 THEN 1 ELSE ? END,"
                " reason = CASE WHEN loaded = 1 OR ? THEN '' ELSE ? END, track = ?, answered_at = ?"
                " WHERE sample_id = ?",
                (int(ok), int(ok), reason, track, at, sample_id),
            )
        return self.stage_answers([sample_id]).get(sample_id)

    def stage_played(self, sample_id: int, count: int, track: str, at: float) -> StageAnswer | None:
        """Record a ``played`` answer (the highest count wins); None for a sample this library never sent."""
        with self._transaction() as db:
            db.execute("UPDATE stage SET played = MAX(played, ?), track = ?, answered_at = ? WHERE sample_id = ?",
                       (count, track, at, sample_id))
        return self.stage_answers([sample_id]).get(sample_id)

    def stage_answers(self, sample_ids: list[int]) -> dict[int, StageAnswer]:
        """The stage's answers about these samples, by id (samples never sent are absent)."""
        if not sample_ids:
            return {}
        with self._connect() as db:
            rows = db.execute(f"SELECT * FROM stage WHERE sample_id IN ({', '.join('?' * len(sample_ids))})",
                              list(sample_ids)).fetchall()
        return {r["sample_id"]: _stage(r) for r in rows}

    # -- settings that must outlive a restart (the show's own keys belong to exsampling.show_state) --

    def setting(self, key: str, default: Any = None) -> Any:
        """A JSON value stored under ``key``, or ``default``."""
        with self._connect() as db:
            row = db.execute("SELECT value FROM settings WHERE key=?", (key,)).fetchone()
        return default if row is None else json.loads(row["value"])

    def set_setting(self, key: str, value: Any) -> None:
        """Store a JSON-serialisable ``value`` under ``key``."""
        with self._transaction() as db:
            db.execute("INSERT OR REPLACE INTO settings (key, value) VALUES (?, ?)", (key, json.dumps(value)))

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

    def forget(self, sample_id: int) -> None:
        with self._transaction() as db:
            db.execute("DELETE FROM memory WHERE sample_id=?", (sample_id,))


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


def _recording(row: sqlite3.Row) -> Recording:
    return Recording(
        id=row["id"], path=row["path"], received_at=row["received_at"], participant=row["participant"],
        location=_location(row), photo_path=row["photo_path"], source=row["source"],
        duration_s=row["duration_s"], status=RecordingStatus(row["status"]), error=row["error"],
    )


def _sample_values(sample: Sample) -> dict[str, Any]:
    values = {f.name: getattr(sample, f.name) for f in fields(Sample)}
    values["top"] = json.dumps([[label, float(p)] for label, p in sample.top])
    values["unsure"] = int(sample.unsure)
    values["melodic"] = int(sample.melodic)
    return values


def _sample(row: sqlite3.Row) -> Sample:
    return Sample(
        id=row["id"], recording_id=row["recording_id"], path=row["path"], start_s=row["start_s"],
        duration_s=row["duration_s"], label=row["label"], confidence=row["confidence"],
        top=[(label, p) for label, p in json.loads(row["top"])], unsure=bool(row["unsure"]),
        label_source=LabelSource(row["label_source"]), recalled_from=row["recalled_from"],
        instrument=row["instrument"], melodic=bool(row["melodic"]),
        pitch_hz=row["pitch_hz"], midi_note=row["midi_note"], pitch_confidence=row["pitch_confidence"],
        participant=row["participant"], location=_location(row), recorded_at=row["received_at"],
        status=SampleStatus(row["status"]), relabel=row["relabel"], sent_at=row["sent_at"],
        stage=_stage(row, "stage_") if row["stage_sample_id"] is not None else None,
    )
