"""The show's history: the ``events`` table (:class:`exsampling.records.Event`, docs/shows.md).

Every part of the library that changes state writes the event telling it in the same transaction, with
:func:`insert_event`; :class:`History` records the events nothing else writes (e.g. the stage's) and reads them.
"""
from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from ..records import Event, EventKind, Sample
from .core import Database, row_id
from .rows import event_from


def event_time() -> str:
    """Now, as ISO 8601 UTC with milliseconds and a ``Z``: events a few ms apart keep their order and pace."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


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


def insert_event(db: sqlite3.Connection, event: Event) -> int:
    """Write ``event`` in ``db``'s transaction and return its id; ValueError for an unknown kind or data that is
    not plain JSON."""
    EventKind(event.kind)  # raises ValueError for an unknown kind, whatever the caller's types said
    try:
        data = json.dumps(event.data, sort_keys=True, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{event.kind} event data is not plain JSON: {exc}") from exc
    return row_id(db.execute(
        "INSERT INTO events (at, kind, recording_id, sample_id, actor, data) VALUES (?,?,?,?,?,?)",
        (event.at, event.kind, event.recording_id, event.sample_id, event.actor, data),
    ))


def recording_of(db: sqlite3.Connection, sample_id: int) -> int:
    """The id of a sample's recording (a sample's event names both); KeyError for an unknown sample."""
    row = db.execute("SELECT recording_id FROM samples WHERE id=?", (sample_id,)).fetchone()
    if row is None:
        raise KeyError(f"no sample {sample_id}")
    recording_id: int = row[0]
    return recording_id


class History(Database):
    """The show's history, oldest first."""

    def add_event(self, kind: EventKind, *, recording_id: int | None = None, sample_id: int | None = None,
                  actor: str = "", data: dict[str, Any] | None = None) -> Event:
        """Record that ``kind`` happened now (e.g. the stage's ``loaded``/``played``) and return the event.

        A sample's event also names the sample's recording. Raises ValueError for an unknown kind or data
        that is not JSON, KeyError for an unknown recording or sample.
        """
        event = Event(0, kind, event_time(), recording_id, sample_id, actor, dict(data or {}))
        with self._transaction() as db:
            if sample_id is not None:
                event = replace(event, recording_id=recording_of(db, sample_id))
            elif recording_id is not None and db.execute(
                    "SELECT 1 FROM recordings WHERE id=?", (recording_id,)).fetchone() is None:
                raise KeyError(f"no recording {recording_id}")
            return replace(event, id=insert_event(db, event))

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
        return [event_from(r) for r in rows]
