"""The whole library as rows, from one snapshot, and back into an empty library: what :mod:`exsampling.archive`
keeps a show with."""
from __future__ import annotations

from typing import Any

from .core import Database

#: The tables :meth:`Library.dump` returns, each with the column it is ordered by.
DUMPED_TABLES = {"recordings": "id", "samples": "id", "events": "id", "memory": "sample_id", "settings": "key"}
#: Columns :meth:`Library.dump` leaves out: they name a process of this machine at this moment, not the show.
RUNTIME_COLUMNS = {"recordings": ("worker",)}


class Snapshot(Database):
    """Every row the show is made of, out and in."""

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
