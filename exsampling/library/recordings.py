"""Recordings and uploads: the ``recordings`` table, its files in ``recordings/`` and ``photos/``, and the files still
arriving (``incoming``, and each process's spool folder ``incoming/<worker>/``)."""
from __future__ import annotations

import shutil
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..durable import fsync_dir, move_file, write_file
from ..records import Event, EventKind, Location, Recording, RecordingStatus, utc_now
from .core import Database, row_id, worker_alive
from .history import event_time, insert_event
from .rows import recording_from

#: Files written (and fsync'd) at once when many recordings are stored together.
WRITERS = 8


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


class Recordings(Database):
    """The recordings received, and the uploads still arriving."""

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
                    refused[i] = DuplicateUpload(recording_from(first))
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
                        refused[i] = DuplicateUpload(recording_from(first))
                    if i in refused:
                        continue
                    loc = item.location
                    row_ids[i] = row_id(db.execute(
                        "INSERT INTO recordings (path, received_at, participant, lat, lon, accuracy_m, photo_path,"
                        " source, duration_s, upload_id) VALUES (?,?,?,?,?,?,?,?,?,?)",
                        (str(path), utc_now(), item.participant, loc.lat if loc else None, loc.lon if loc else None,
                         loc.accuracy_m if loc else None, str(photo_path) if photo_path else None, item.source,
                         item.duration_s, item.upload_id)))
                    insert_event(db, Event(0, EventKind.RECEIVED, event_time(), row_ids[i], None, item.actor, {
                        "source": item.source, "participant": item.participant,
                        "duration_s": None if item.duration_s is None else round(float(item.duration_s), 3),
                        "located": loc is not None, "photo": photo_path is not None}))
                db.executemany("DELETE FROM incoming WHERE path=?", [(str(p),) for p in announced])
        except BaseException:
            self._forget_incoming(announced)
            raise
        self._forget_incoming([p for i, pair in files.items() if i in refused for p in pair if p is not None])
        with self._connect() as db:
            rows = {row["id"]: recording_from(row) for row in db.execute(
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
        return None if row is None else recording_from(row)

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
        return [recording_from(r) for r in rows]

    def recording(self, recording_id: int) -> Recording:
        """The recording with this id; KeyError if there is none."""
        with self._connect() as db:
            row = db.execute("SELECT * FROM recordings WHERE id=?", (recording_id,)).fetchone()
        if row is None:
            raise KeyError(f"no recording {recording_id}")
        return recording_from(row)

    def recordings(self, limit: int | None = None) -> list[Recording]:
        """Recordings, newest first."""
        with self._connect() as db:
            rows = db.execute("SELECT * FROM recordings ORDER BY id DESC LIMIT ?", (limit or -1,)).fetchall()
        return [recording_from(r) for r in rows]

    def set_recording_status(self, recording_id: int, status: RecordingStatus, error: str | None = None,
                             duration_s: float | None = None, actor: str = "") -> None:
        """Move a recording on; "silent" and "failed" are also events of the history (with ``error``)."""
        with self._transaction() as db:
            db.execute(
                "UPDATE recordings SET status=?, error=?, duration_s=COALESCE(?, duration_s) WHERE id=?",
                (status, error, duration_s, recording_id),
            )
            if status in (RecordingStatus.SILENT, RecordingStatus.FAILED):
                insert_event(db, Event(0, EventKind(status), event_time(), recording_id, None, actor,
                                       {"error": error}))
