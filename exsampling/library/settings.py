"""Settings that must outlive a restart: the ``settings`` table, JSON values by key (the show's own keys belong to
:mod:`exsampling.show_state`)."""
from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from ..records import Event, EventKind
from .core import Database
from .history import event_time, insert_event


class Settings(Database):
    """JSON values by key, each change told in the history with it when the caller says so."""

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
                insert_event(db, Event(0, EventKind(kind), at, None, None, actor, dict(data)))
