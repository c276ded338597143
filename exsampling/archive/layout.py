"""What a show zip holds and what an import accepts: its files' names, the table files, the columns holding a
library path, the limits that keep a hostile zip from exhausting the machine, and the one error every refusal
raises (the layout is the contract of docs/shows.md)."""
from __future__ import annotations

import re
from dataclasses import dataclass

FORMAT = "exsampling-show"
#: The zip format's version (manifest ``version``).
VERSION = 1

#: Where each table's rows are, one JSON object per line.
TABLE_FILES = {table: f"show/{table}.jsonl" for table in ("recordings", "samples", "events", "memory", "settings")}
#: Columns holding a path of the library's own files: absolute in SQLite, relative to the library in the zip.
PATH_COLUMNS = {"recordings": ("path", "photo_path"), "samples": ("path",)}
#: The zip's own files (everything else is a library file, named as the library names them: FILE_NAME).
META_FILES = ("README.txt", "manifest.json", "config.toml", "mapping.json", "model.json", *TABLE_FILES.values())
FILE_NAME = re.compile(r"(recordings|samples|photos)/[A-Za-z0-9][A-Za-z0-9._-]{0,199}")
AUDIO_FOLDERS = ("recordings/", "samples/")
#: Bytes read or written at a time when a file is streamed through the zip.
CHUNK = 1 << 20


class ArchiveError(ValueError):
    """A show cannot be exported or imported; the message says why. A refused import wrote nothing."""


@dataclass(frozen=True)
class Limits:
    """What an import accepts, so a hostile zip cannot exhaust the machine.

    max_entries: files in the zip. max_entry_bytes/max_total_bytes: uncompressed sizes, per file and in all.
    max_ratio: uncompressed ÷ compressed size above which an entry over 1 MiB is taken for a zip bomb (WAV
    deflates to ≈ 1.1:1, JSON to ≈ 10:1). max_text_bytes: largest manifest or table, read into memory.
    """

    max_entries: int = 100_000
    max_entry_bytes: int = 4 * 2 ** 30
    max_total_bytes: int = 64 * 2 ** 30
    max_ratio: float = 100.0
    max_text_bytes: int = 256 * 2 ** 20
