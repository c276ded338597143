"""What the stage answered about the samples sent to it (docs/osc.md, :mod:`exsampling.stage`): the ``stage``
table, one row per sent sample, and the ``loaded``/``played`` events that tell its answers."""
from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime

from ..records import Event, EventKind, StageAnswer
from .core import Database
from .history import event_time, insert_event, recording_of
from .rows import stage_answer_from

#: Seconds within which a sample's rising ``played`` counts update one history event rather than add new ones.
PLAYED_EVENT_EVERY_S = 60.0


def _latest_stage_event(db: sqlite3.Connection, sample_id: int, kind: str,
                        actor: str | None = None) -> sqlite3.Row | None:
    """The latest ``kind`` event about a sample since it was last sent (by ``actor``, when given), or None."""
    sent = db.execute("SELECT MAX(id) FROM events WHERE sample_id = ? AND kind = 'sent'", (sample_id,)).fetchone()[0]
    clauses, args = "", [sample_id, kind, sent or 0]
    if actor is not None:
        clauses, args = " AND actor = ?", [*args, actor]
    latest: sqlite3.Row | None = db.execute(
        f"SELECT id, at, data FROM events WHERE sample_id = ? AND kind = ? AND id > ?{clauses} "
        "ORDER BY id DESC LIMIT 1", args).fetchone()
    return latest


def _age_s(at: str) -> float:
    """Seconds since an event's time (``at``, as :func:`event_time` writes it)."""
    return (datetime.now(UTC) - datetime.fromisoformat(at.replace("Z", "+00:00"))).total_seconds()


class StageAnswers(Database):
    """The stage's answers about sent samples: loaded (or why not), on which track, how often played."""

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
                insert_event(db, Event(0, EventKind.LOADED, event_time(), recording_of(db, sample_id), sample_id, actor,
                                       data))
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
                    insert_event(db, Event(0, EventKind.PLAYED, event_time(), recording_of(db, sample_id), sample_id,
                                           actor, data))
        return self.stage_answers([sample_id]).get(sample_id)

    def stage_answers(self, sample_ids: list[int]) -> dict[int, StageAnswer]:
        """The stage's answers about these samples, by id (samples never sent are absent)."""
        if not sample_ids:
            return {}
        with self._connect() as db:
            rows = db.execute(f"SELECT * FROM stage WHERE sample_id IN ({', '.join('?' * len(sample_ids))})",
                              list(sample_ids)).fetchall()
        return {r["sample_id"]: stage_answer_from(r) for r in rows}
