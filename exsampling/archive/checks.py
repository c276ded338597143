"""Reading a show zip without trusting it: names, types, sizes, compression ratios, the manifest and every file's
SHA-256 are checked (:func:`checked_zip`) before an import writes anything, and the tables' rows are read back
as the library's (:func:`read_tables`)."""
from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import re
import stat
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..library import SCHEMA_VERSION
from .layout import CHUNK, FILE_NAME, FORMAT, META_FILES, PATH_COLUMNS, TABLE_FILES, VERSION, ArchiveError, Limits


@dataclass
class Checked:
    """A zip that passed every check: its manifest, its text files (verified), and its file entries."""

    zf: zipfile.ZipFile
    manifest: dict[str, Any]
    texts: dict[str, bytes] = field(default_factory=dict)


def _check_path(name: str) -> None:
    """Refuse a name that could land outside the folder it is unpacked into."""
    if name.startswith(("/", "\\")) or re.match(r"[A-Za-z]:", name):
        raise ArchiveError(f"entry {name!r} has an absolute path")
    if "\\" in name:
        raise ArchiveError(f"entry {name!r} has a backslash in its path")
    if ".." in name.split("/"):
        raise ArchiveError(f"entry {name!r} climbs out of the archive ('..')")
    if any(c in name for c in "\x00\r\n"):
        raise ArchiveError(f"entry {name!r} has a control character in its path")


def _check_known(name: str) -> None:
    """Refuse a name a show archive does not have (its own files, and library files as the library names them)."""
    if name not in META_FILES and not FILE_NAME.fullmatch(name):
        raise ArchiveError(f"entry {name!r} is not part of a show archive")


def _check_entry(info: zipfile.ZipInfo, limits: Limits) -> None:
    name = info.filename
    _check_path(name)
    mode = info.external_attr >> 16
    if info.create_system == 3 and stat.S_ISLNK(mode):
        raise ArchiveError(f"entry {name!r} is a symbolic link")
    if info.is_dir() or (info.create_system == 3 and stat.S_IFMT(mode) not in (0, stat.S_IFREG)):
        raise ArchiveError(f"entry {name!r} is not a plain file")
    _check_known(name)
    if info.flag_bits & 0x1:
        raise ArchiveError(f"entry {name!r} is encrypted")
    if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
        raise ArchiveError(f"entry {name!r} uses compression method {info.compress_type}; only stored and deflated "
                           "are read")
    if info.file_size > limits.max_entry_bytes:
        raise ArchiveError(f"entry {name!r} would unpack to {info.file_size} bytes, over the limit of "
                           f"{limits.max_entry_bytes}")
    if info.file_size > 2 ** 20 and info.file_size > limits.max_ratio * max(info.compress_size, 1):
        raise ArchiveError(f"entry {name!r} unpacks {info.file_size / max(info.compress_size, 1):.0f} times its "
                           f"size (over {limits.max_ratio:.0f}:1): a zip bomb?")


def _check_manifest(raw: bytes) -> dict[str, Any]:
    try:
        manifest = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ArchiveError(f"manifest.json is not JSON: {exc}") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise ArchiveError(f"manifest.json does not describe an ExSampling show (format {FORMAT!r})")
    if manifest.get("version") != VERSION:
        raise ArchiveError(f"show archive version {manifest.get('version')!r}; this ExSampling reads version {VERSION}")
    schema = manifest.get("schema_version")
    if not isinstance(schema, int) or schema > SCHEMA_VERSION:
        raise ArchiveError(f"the show's library has schema version {schema!r}; this ExSampling knows up to "
                           f"{SCHEMA_VERSION}: update ExSampling to import it")
    files, omitted = manifest.get("files"), manifest.get("omitted", {})
    if not isinstance(files, dict) or not isinstance(omitted, dict):
        raise ArchiveError("manifest.json has no 'files' table")
    for name, entry in files.items():
        if not (isinstance(entry, dict) and isinstance(entry.get("bytes"), int) and entry["bytes"] >= 0
                and isinstance(entry.get("sha256"), str) and re.fullmatch(r"[0-9a-f]{64}", entry["sha256"])):
            raise ArchiveError(f"manifest.json: the entry for {name!r} needs 'bytes' and a hex 'sha256'")
    for name, entry in omitted.items():
        _check_path(name)
        _check_known(name)
        if not isinstance(entry, dict):
            raise ArchiveError(f"manifest.json: omitted {name!r} is not described")
    return manifest


def read_checked(zf: zipfile.ZipFile, info: zipfile.ZipInfo, expected: dict[str, Any],
                  sink: Callable[[bytes], Any] | None = None) -> None:
    """Stream one entry, never past the size the manifest gives, and compare its SHA-256; feed it to ``sink``."""
    digest, size, limit = hashlib.sha256(), 0, expected["bytes"]
    try:
        with zf.open(info) as f:
            while chunk := f.read(min(CHUNK, limit - size + 1)):
                size += len(chunk)
                if size > limit:
                    raise ArchiveError(f"{info.filename} is longer than the manifest says ({limit} bytes)")
                digest.update(chunk)
                if sink is not None:
                    sink(chunk)
    except (zipfile.BadZipFile, EOFError, OSError, ValueError, RuntimeError) as exc:
        if isinstance(exc, ArchiveError):
            raise
        raise ArchiveError(f"{info.filename} is damaged: {exc}") from None
    if size != limit or digest.hexdigest() != expected["sha256"]:
        raise ArchiveError(f"{info.filename} does not match its checksum in manifest.json (damaged or altered)")


@contextlib.contextmanager
def checked_zip(path: str | Path, limits: Limits) -> Iterator[Checked]:
    """Open ``path`` and check all of it — structure, manifest, every checksum — before yielding it."""
    path = Path(path).expanduser()
    try:
        zf = zipfile.ZipFile(path)
    except FileNotFoundError:
        raise ArchiveError(f"{path} does not exist") from None
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise ArchiveError(f"{path} is not a zip file, or it is damaged ({exc})") from None
    with zf:
        infos = zf.infolist()
        if len(infos) > limits.max_entries:
            raise ArchiveError(f"the zip holds {len(infos)} entries, over the limit of {limits.max_entries}")
        names = [i.filename for i in infos]
        if len(set(names)) != len(names):
            twice = sorted({n for n in names if names.count(n) > 1})
            raise ArchiveError(f"the zip holds {twice[0]!r} more than once")
        for info in infos:
            _check_entry(info, limits)
        total = sum(i.file_size for i in infos)
        if total > limits.max_total_bytes:
            raise ArchiveError(f"the zip would unpack to {total} bytes, over the limit of {limits.max_total_bytes}")
        by_name = {i.filename: i for i in infos}
        if "manifest.json" not in by_name:
            raise ArchiveError("the zip has no manifest.json: it is not an ExSampling show")
        manifest_info = by_name.pop("manifest.json")
        if manifest_info.file_size > limits.max_text_bytes:
            raise ArchiveError("manifest.json is too large")
        try:
            raw = zf.read(manifest_info)
        except (zipfile.BadZipFile, OSError, ValueError, RuntimeError) as exc:
            raise ArchiveError(f"manifest.json is damaged: {exc}") from None
        manifest = _check_manifest(raw)
        listed = set(manifest["files"])
        for name in sorted(listed - set(by_name)):
            raise ArchiveError(f"manifest.json lists {name}, which is not in the zip")
        for name in sorted(set(by_name) - listed):
            raise ArchiveError(f"{name} is in the zip but not in manifest.json")
        for name in ("config.toml", "mapping.json", "model.json", *TABLE_FILES.values()):
            if name not in by_name:
                raise ArchiveError(f"the zip has no {name}")
        checked = Checked(zf, manifest)
        for name, info in by_name.items():
            if name in META_FILES:
                if info.file_size > limits.max_text_bytes:
                    raise ArchiveError(f"{name} is larger than {limits.max_text_bytes} bytes")
                buf = bytearray()
                read_checked(zf, info, manifest["files"][name], buf.extend)
                checked.texts[name] = bytes(buf)
            else:
                read_checked(zf, info, manifest["files"][name])
        yield checked


def read_tables(checked: Checked) -> dict[str, list[dict[str, Any]]]:
    """The rows of the checked zip's tables, with BLOBs decoded and paths checked (still relative)."""
    present = set(checked.manifest["files"]) | set(checked.manifest["omitted"])
    tables: dict[str, list[dict[str, Any]]] = {}
    for table, name in TABLE_FILES.items():
        rows = []
        for n, line in enumerate(checked.texts[name].decode("utf-8", errors="strict").splitlines(), 1):
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ArchiveError(f"{name} line {n} is not JSON: {exc}") from None
            if not isinstance(row, dict):
                raise ArchiveError(f"{name} line {n} is not a JSON object")
            for column, value in row.items():
                if isinstance(value, dict) and set(value) == {"$base64"} and isinstance(value["$base64"], str):
                    try:
                        row[column] = base64.b64decode(value["$base64"], validate=True)
                    except ValueError:
                        raise ArchiveError(f"{name} line {n}: {column} is not base64") from None
                elif not isinstance(value, (str, int, float, type(None))):
                    raise ArchiveError(f"{name} line {n}: {column} holds a {type(value).__name__}, not a plain value")
            for column in PATH_COLUMNS.get(table, ()):
                value = row.get(column)
                if value is None and column == "photo_path":
                    continue
                if not isinstance(value, str) or not FILE_NAME.fullmatch(value) or ".." in value.split("/"):
                    raise ArchiveError(f"{name} line {n}: {column} {value!r} is not a file of the library")
                if value not in present:
                    raise ArchiveError(f"{name} line {n}: {column} {value} is neither in the zip nor listed as omitted")
            rows.append(row)
        tables[table] = rows
    return tables
