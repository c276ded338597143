"""Samples: the ``samples`` table and each sample's WAV file in ``samples/<id>.wav`` (mono 16-bit PCM at the
model's rate), read joined with their recording's participant, place and judgement and with the stage's answers."""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..audio import wav_bytes
from ..durable import write_file
from ..records import Event, EventKind, Judgement, Sample, SampleStatus, utc_now
from .core import Database, row_id
from .history import classified_data, event_time, insert_event, recording_of
from .rows import SAMPLE_COLUMNS, STAGE_COLUMNS, sample_from, sample_values


class Samples(Database):
    """The samples cut from the recordings, as the chain classified them and the performer changed them."""

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
            values = sample_values(sample)
            values["path"] = ""
            cur = db.execute(
                f"INSERT INTO samples ({', '.join(SAMPLE_COLUMNS)}, created_at) "
                f"VALUES ({', '.join('?' * len(SAMPLE_COLUMNS))}, ?)",
                [values[c] for c in SAMPLE_COLUMNS] + [utc_now()],
            )
            sample_id = row_id(cur)
            path = self.root / "samples" / f"{sample_id:06d}.wav"
            write_file(path, wav_bytes(y, sr))
            db.execute("UPDATE samples SET path=? WHERE id=?", (str(path), sample_id))
            insert_event(db, Event(0, EventKind.CLASSIFIED, event_time(), sample.recording_id, sample_id, actor,
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

    def _samples(self, tail: str, args: tuple[Any, ...]) -> list[Sample]:
        with self._connect() as db:
            rows = db.execute(
                f"SELECT s.*, r.participant, r.lat, r.lon, r.accuracy_m, r.received_at, r.label AS recording_label, "
                f"r.confidence AS recording_confidence, r.pieces AS recording_pieces, {STAGE_COLUMNS} "
                "FROM samples s JOIN recordings r ON r.id = s.recording_id "
                f"LEFT JOIN stage st ON st.sample_id = s.id {tail}",
                args,
            ).fetchall()
        return [sample_from(r) for r in rows]

    def update_sample(self, sample_id: int, *, events: Sequence[tuple[str, dict[str, Any]]] = (), actor: str = "",
                      **changes: Any) -> Sample:
        """Change some of a sample's stored fields (e.g. ``status="accepted"``) and return it.

        ``events``: ``(kind, data)`` pairs telling the change, recorded by ``actor`` in the same transaction.
        """
        unknown = set(changes) - set(SAMPLE_COLUMNS)
        if unknown:
            raise ValueError(f"cannot update {sorted(unknown)}; fields: {SAMPLE_COLUMNS}")
        values = sample_values(Sample(id=0, recording_id=0, path="", start_s=0, duration_s=0, **changes))
        with self._transaction() as db:
            if changes:
                db.execute(
                    f"UPDATE samples SET {', '.join(f'{c}=?' for c in changes)} WHERE id=?",
                    [values[c] for c in changes] + [sample_id],
                )
            if events:
                recording_id = recording_of(db, sample_id)
                at = event_time()
                for kind, data in events:
                    insert_event(db, Event(0, EventKind(kind), at, recording_id, sample_id, actor, dict(data)))
        return self.sample(sample_id)

    def counts(self) -> dict[str, int]:
        """Numbers for the console header: recordings, samples, participants (distinct names or clients)."""
        with self._connect() as db:
            r = db.execute("SELECT COUNT(*), COUNT(DISTINCT NULLIF(participant, '')) FROM recordings").fetchone()
            s = db.execute("SELECT COUNT(*) FROM samples").fetchone()
        return {"recordings": r[0], "participants": r[1], "samples": s[0]}
