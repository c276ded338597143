"""Files that survive a crash: written, moved and named in their folder on disk before anyone is told.

A file's data is synced before it takes its final name, and its folder is synced after, so after a power cut or
kill -9 a name either points at the whole file or does not exist (POSIX rename semantics).
"""
from __future__ import annotations

import os
from pathlib import Path


def fsync_dir(folder: Path, *, subfolders: bool = False) -> None:
    """Sync ``folder``'s entries to disk (and, with ``subfolders``, those of its direct subfolders: a tree that was
    built in place and then renamed)."""
    for path in (folder, *(p for p in folder.iterdir() if p.is_dir())) if subfolders else (folder,):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def write_file(path: Path, data: bytes, *, sync_dir: bool = True) -> None:
    """Write ``data`` to ``path`` durably (``sync_dir=False``: the caller syncs the folder once for many files)."""
    tmp = path.with_name(path.name + ".part")
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
    except BaseException:  # a full disk: no half-written file is left behind
        tmp.unlink(missing_ok=True)
        raise
    tmp.replace(path)
    if sync_dir:
        fsync_dir(path.parent)


def move_file(source: Path, path: Path) -> None:
    """Move ``source``, a file written already on the same file system, to ``path`` durably (the caller syncs
    the folder)."""
    fd = os.open(source, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    source.replace(path)
