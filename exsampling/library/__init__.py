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

The rest of ExSampling sees one :class:`Library`; its parts, one module each, are split by what they keep:

    core.py           the folder, its database's connections and transactions, this process as a worker
    schema.py         the tables, and the migration of a library an earlier version wrote
    rows.py           rows as records (exsampling.records) and back
    recordings.py     recordings and uploads (Received, DuplicateUpload): recordings/, photos/, incoming/
    samples.py        samples: samples/<id>.wav, read with their recording's and the stage's columns
    stage_answers.py  what the stage answered about the samples sent to it
    history.py        the show's history (events), written beside every change it tells
    settings.py       settings that outlive a restart
    memory.py         the re-label memory, and the samples the performer labelled
    snapshot.py       the whole library as rows, and back (exsampling.archive)
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from .core import DATABASE, LibraryError, holds_library
from .history import History
from .memory import Memory
from .recordings import DuplicateUpload, Received, Recordings
from .samples import Samples
from .schema import SCHEMA_VERSION, create, migrate
from .settings import Settings
from .snapshot import RUNTIME_COLUMNS, Snapshot
from .stage_answers import StageAnswers

if TYPE_CHECKING:
    from ..config import Config

__all__ = ["DATABASE", "RUNTIME_COLUMNS", "SCHEMA_VERSION", "DuplicateUpload", "Library", "LibraryError", "Received",
           "holds_library"]


class Library(Recordings, Samples, StageAnswers, History, Settings, Memory, Snapshot):
    """Recordings and samples on disk and in SQLite. Safe to share between threads and processes."""

    def __init__(self, root: str | Path) -> None:
        """Open the library in ``root`` (created if missing); an older one is migrated in place, and one from a
        newer ExSampling raises :class:`LibraryError`."""
        super().__init__(root)
        with self._connect() as db:
            older = create(db)
        if older:
            with self._transaction() as db:
                migrate(db, self.db_path)

    @classmethod
    def from_config(cls, cfg: Config) -> Library:
        return cls(cfg.resolve(cfg.library.path))
