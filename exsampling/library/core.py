"""The library's database: where it is, the connections and transactions every table's methods share, and this
process as a worker (the name a recording being processed, or a file being received, is kept under)."""
from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psutil

#: The database's file name in a library folder.
DATABASE = "library.sqlite3"


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


def row_id(cursor: sqlite3.Cursor) -> int:
    """The id of the row an INSERT just wrote."""
    if cursor.lastrowid is None:  # never after an INSERT; the check is for the type checker's sake
        raise sqlite3.DatabaseError("the INSERT gave no row id")
    return cursor.lastrowid


class Database:
    """A library folder and its SQLite database, opened by this process: what each part of
    :class:`exsampling.library.Library` reads and writes through. Safe to share between threads and processes."""

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
