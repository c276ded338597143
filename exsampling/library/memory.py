"""The re-label memory: the ``memory`` table, the embeddings of re-labelled samples under their new labels
(:mod:`exsampling.memory` recalls from them), and the samples the performer labelled, which training learns from."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..records import utc_now
from .core import Database


class Memory(Database):
    """What the performer taught: re-labelled samples' embeddings and labels."""

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
