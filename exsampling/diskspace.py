"""The library's disk as a condition of the show: how much room is left above the reserve, and whether an error
says the disk is full.

A laptop's disk fills during a long show (recordings, samples, the SQLite journal). Uploads are refused (507)
while the free space is below ``[server] disk_reserve_mb``, so the library itself always has room to finish what
it acknowledged; the console says "disk nearly full" before that.
"""
from __future__ import annotations

import errno
import shutil
import sqlite3
from dataclasses import dataclass
from pathlib import Path

#: errno values that mean "no room left" (a full disk, or a quota).
_FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})
#: SQLite's result code for "database or disk is full".
_SQLITE_FULL = 13
#: Free space under which the console warns even with a small reserve, in bytes (or 5 % of the disk).
LOW_BYTES = 2 * 2 ** 30


def is_disk_full(exc: BaseException | None) -> bool:
    """Whether ``exc``, or an exception it was raised from or while handling, says the disk is full
    (``ENOSPC``/``EDQUOT``, or SQLite's "database or disk is full")."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, OSError) and exc.errno in _FULL_ERRNOS:
            return True
        if isinstance(exc, sqlite3.Error) and (getattr(exc, "sqlite_errorcode", None) == _SQLITE_FULL
                                               or "disk is full" in str(exc)):
            return True
        exc = exc.__cause__ or exc.__context__
    return False


@dataclass(frozen=True)
class DiskSpace:
    """The disk under ``path`` (the library's folder) and the bytes kept free on it (``reserve_bytes``)."""

    path: Path
    reserve_bytes: int

    def free_bytes(self) -> int:
        """Bytes free for this process on the disk now (0 when the folder cannot be read)."""
        try:
            return shutil.disk_usage(self.path).free
        except OSError:
            return 0

    def room_for(self, size: int) -> bool:
        """Whether ``size`` more bytes still leave the reserve free."""
        return self.free_bytes() - size >= self.reserve_bytes

    def nearly_full(self) -> bool:
        """Whether the performer should hear about it: less than twice the reserve free, or less than
        :data:`LOW_BYTES` (or 5 % of a small disk)."""
        try:
            usage = shutil.disk_usage(self.path)
        except OSError:
            return True
        return usage.free < max(2 * self.reserve_bytes, min(LOW_BYTES, 0.05 * usage.total))
