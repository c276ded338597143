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
#: SQLite's result codes for "database or disk is full" and for an I/O error (the low byte of extended codes).
_SQLITE_FULL = 13
_SQLITE_IOERR = 10
#: Free bytes under which an I/O error on the disk is taken for a full disk.
FULL_BELOW_BYTES = 2 ** 20
#: Free space under which the console warns even with a small reserve, in bytes (or 5 % of the disk).
LOW_BYTES = 2 * 2 ** 30


def is_disk_full(exc: BaseException | None, where: Path | None = None) -> bool:
    """Whether ``exc``, or an exception it was raised from or while handling, says the disk is full
    (``ENOSPC``/``EDQUOT``, or SQLite's "database or disk is full").

    With ``where`` (a folder on that disk), also any I/O error while the disk has less than
    :data:`FULL_BELOW_BYTES` free: SQLite says "disk I/O error" when a full disk keeps it from making its
    shared-memory file, which a library opening a connection per call does often, reads included.
    """
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, OSError) and exc.errno in _FULL_ERRNOS:
            return True
        if isinstance(exc, sqlite3.Error) and (getattr(exc, "sqlite_errorcode", None) == _SQLITE_FULL
                                               or "disk is full" in str(exc)):
            return True
        if where is not None and _io_error(exc) and _free_bytes(where) < FULL_BELOW_BYTES:
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def _io_error(exc: BaseException) -> bool:
    if isinstance(exc, sqlite3.Error):
        code = getattr(exc, "sqlite_errorcode", None)
        return (code is not None and code & 0xFF == _SQLITE_IOERR) or "disk I/O error" in str(exc)
    return isinstance(exc, OSError) and exc.errno == errno.EIO


def _free_bytes(path: Path) -> int:
    try:
        return shutil.disk_usage(path).free
    except OSError:
        return 0


@dataclass(frozen=True)
class DiskSpace:
    """The disk under ``path`` (the library's folder) and the bytes kept free on it (``reserve_bytes``)."""

    path: Path
    reserve_bytes: int

    def free_bytes(self) -> int:
        """Bytes free for this process on the disk now (0 when the folder cannot be read)."""
        return _free_bytes(self.path)

    def explains(self, exc: BaseException) -> bool:
        """Whether this disk being full explains ``exc`` (see :func:`is_disk_full`)."""
        return is_disk_full(exc, self.path)

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
