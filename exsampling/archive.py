"""A show as one zip file: ``export_show`` writes a library into it, ``import_show`` restores it elsewhere byte for
byte, ``open_show`` reads a zip or a library folder for the report and the replay.

The zip's layout and manifest are a contract (docs/shows.md). An export is a pure function of the library, the
config and the model: exporting the same show twice gives the same bytes (fixed entry times, sorted JSON), so a
show exported, imported and exported again is the same file. It keeps the show, never its secrets or its machine
(:data:`~exsampling.show_state.EXPORTED_SETTINGS`). Import trusts nothing in the zip: names, types,
sizes, compression ratios and every file's SHA-256 are checked before anything is written, and the library
appears under its final name only once it is complete.
"""
from __future__ import annotations

import base64
import contextlib
import hashlib
import io
import json
import os
import re
import shutil
import sqlite3
import stat
import tempfile
import tomllib
import uuid
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import tomli_w
import tomlkit

from . import __version__
from .config import Config, ConfigError, changed_settings, from_dict, to_dict
from .durable import fsync_dir
from .library import DATABASE, SCHEMA_VERSION, Library, holds_library
from .show_state import EXPORTED_SETTINGS, OMITTED_KEY

FORMAT = "exsampling-show"
#: The zip format's version (manifest ``version``).
VERSION = 1

#: Where each table's rows are, one JSON object per line.
TABLE_FILES = {table: f"show/{table}.jsonl" for table in ("recordings", "samples", "events", "memory", "settings")}
#: Columns holding a path of the library's own files: absolute in SQLite, relative to the library in the zip.
PATH_COLUMNS = {"recordings": ("path", "photo_path"), "samples": ("path",)}
#: The config file an import writes into the library folder: the show's settings and mapping at export.
SHOW_CONFIG_NAME = "exsampling.toml"

META_FILES = ("README.txt", "manifest.json", "config.toml", "mapping.json", "model.json", *TABLE_FILES.values())
_FILE_NAME = re.compile(r"(recordings|samples|photos)/[A-Za-z0-9][A-Za-z0-9._-]{0,199}")
_AUDIO_FOLDERS = ("recordings/", "samples/")
_CHUNK = 1 << 20


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


@dataclass(frozen=True)
class Exported:
    """What :func:`export_show` wrote: the zip, its size in bytes, the files in it, the audio left out."""

    path: Path
    bytes: int
    files: int
    omitted: dict[str, dict[str, Any]]


# -- export -------------------------------------------------------------------------------------------


def export_show(library: Library, cfg: Config, out: str | Path, *, no_audio_over: int | None = None) -> Exported:
    """Write the show in ``library`` to the zip ``out`` (atomically: a failed export leaves no file). Of its
    settings only :data:`~exsampling.show_state.EXPORTED_SETTINGS` go in: no token, owner, tunnel or stage address.

    Parameters
    ----------
    library : the show's library.
    cfg : Config — its mapping, config and model go in as ``mapping.json``, ``config.toml``, ``model.json``.
    no_audio_over : int or None — leave out audio files (recordings, samples) larger than this many bytes;
        their rows stay, and the manifest lists them under ``omitted`` with their size and SHA-256.
    """
    out = Path(out).expanduser().resolve()
    tables = library.dump()
    files = _library_files(library, tables)
    omitted: dict[str, dict[str, Any]] = {}
    known_missing = library.setting(OMITTED_KEY, {})
    for rel in list(files):
        path = library.root / rel
        if not path.is_file():
            omitted[rel] = known_missing.get(rel, {"bytes": None, "sha256": None, "why": "missing from the library"})
            del files[rel]
        elif no_audio_over is not None and rel.startswith(_AUDIO_FOLDERS) and path.stat().st_size > no_audio_over:
            omitted[rel] = {"bytes": path.stat().st_size, "sha256": _sha256_file(path),
                            "why": f"larger than {no_audio_over} bytes (--no-audio-over)"}
            del files[rel]
    tables["settings"] = [r for r in tables["settings"] if r["key"] in EXPORTED_SETTINGS]
    stamp = _zip_time(tables["events"])
    texts = {
        "config.toml": _config_text(cfg),
        "mapping.json": _json_text({"mapping": dict(sorted(cfg.mapping.items())),
                                    "melodic": dict(sorted(cfg.melodic.items()))}),
        "model.json": _json_text(model_identity(cfg, tables["events"])),
        **{TABLE_FILES[t]: "".join(_json_line(_portable(library.root, t, r)) for r in rows)
           for t, rows in tables.items()},
    }
    summary = _summary(tables)
    texts["README.txt"] = _readme(summary, omitted)
    listed: dict[str, dict[str, Any]] = {}
    out.parent.mkdir(parents=True, exist_ok=True)
    part = out.with_name(f".{out.name}.{uuid.uuid4().hex[:8]}.part")
    try:
        with zipfile.ZipFile(part, "w", allowZip64=True) as zf:
            for name in ("README.txt", "config.toml", "mapping.json", "model.json", *TABLE_FILES.values()):
                data = texts[name].encode("utf-8")
                _write_entry(zf, name, stamp, io.BytesIO(data), len(data), zipfile.ZIP_DEFLATED, listed)
            for rel in sorted(files):
                with open(library.root / rel, "rb") as f:  # audio and photos barely deflate: stored
                    _write_entry(zf, rel, stamp, f, os.fstat(f.fileno()).st_size, zipfile.ZIP_STORED, listed)
            manifest = {
                "format": FORMAT, "version": VERSION, "exsampling": __version__, "schema_version": SCHEMA_VERSION,
                "show": summary, "model": {k: v for k, v in json.loads(texts["model.json"]).items() if k != "sidecar"},
                "files": dict(sorted(listed.items())), "omitted": dict(sorted(omitted.items())),
            }
            data = _json_text(manifest).encode("utf-8")
            _write_entry(zf, "manifest.json", stamp, io.BytesIO(data), len(data), zipfile.ZIP_DEFLATED, {})
        os.replace(part, out)
    except BaseException:
        part.unlink(missing_ok=True)
        raise
    return Exported(out, out.stat().st_size, len(listed) + 1, omitted)


def _library_files(library: Library, tables: dict[str, list[dict[str, Any]]]) -> dict[str, None]:
    """The library files the rows name, relative to its root (an ordered set)."""
    files: dict[str, None] = {}
    for table, columns in PATH_COLUMNS.items():
        for row in tables[table]:
            for column in columns:
                if row[column]:
                    files[_relative(library.root, row[column])] = None
    return files


def _relative(root: Path, path: str) -> str:
    p = Path(path)
    try:
        rel = p.relative_to(root).as_posix()
    except ValueError:
        raise ArchiveError(f"{path} is outside the library {root}: the show cannot be exported") from None
    if not _FILE_NAME.fullmatch(rel):
        raise ArchiveError(f"{path}: the library names its files itself; this one is not of its making")
    return rel


def _portable(root: Path, table: str, row: dict[str, Any]) -> dict[str, Any]:
    """A row as the zip keeps it: library paths relative, BLOBs as ``{"$base64": …}``."""
    out = dict(row)
    for column in PATH_COLUMNS.get(table, ()):
        if out[column]:
            out[column] = _relative(root, out[column])
    for column, value in out.items():
        if isinstance(value, bytes):
            out[column] = {"$base64": base64.b64encode(value).decode("ascii")}
    return out


def _json_line(row: dict[str, Any]) -> str:
    return json.dumps(row, sort_keys=True, ensure_ascii=False, allow_nan=False, separators=(",", ":")) + "\n"


def _json_text(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, allow_nan=False, indent=1) + "\n"


def _config_text(cfg: Config) -> str:
    """The config as TOML, without what belongs to one machine or must stay secret (the library's place, tokens)."""
    raw = to_dict(cfg)
    raw["library"]["path"] = "."
    raw["server"]["token"] = ""
    raw["server"]["ngrok_token"] = ""
    return tomli_w.dumps(raw)


def model_identity(cfg: Config, events: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """Which model ``cfg`` names: its name, file, size, SHA-256 and sidecar (None values when it is missing),
    and ``classified_by``: the model names the show's ``classified`` events give."""
    path = cfg.resolve(cfg.classifier.model)
    used = sorted({json.loads(e["data"]).get("model") or "" for e in events or () if e["kind"] == "classified"} - {""})
    identity: dict[str, Any] = {"name": path.stem, "file": path.name, "bytes": None, "sha256": None,
                                "sidecar": None, "classified_by": used}
    if path.is_file():
        identity |= {"bytes": path.stat().st_size, "sha256": _sha256_file(path)}
        with contextlib.suppress(OSError, ValueError):
            identity["sidecar"] = json.loads(path.with_suffix(".json").read_text(encoding="utf-8"))
    return identity


def _summary(tables: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    events = tables["events"]
    return {
        "first_event": events[0]["at"] if events else None, "last_event": events[-1]["at"] if events else None,
        "recordings": len(tables["recordings"]), "samples": len(tables["samples"]), "events": len(events),
        "participants": len({r["participant"] for r in tables["recordings"] if r["participant"]}),
    }


def _zip_time(events: list[dict[str, Any]]) -> tuple[int, int, int, int, int, int]:
    """Every entry's time: the show's first event (UTC), so the zip's bytes depend on the show alone."""
    if not events:
        return (1980, 1, 1, 0, 0, 0)
    t = datetime.strptime(events[0]["at"][:19], "%Y-%m-%dT%H:%M:%S")
    return max((t.year, t.month, t.day, t.hour, t.minute, t.second), (1980, 1, 1, 0, 0, 0))


def _write_entry(zf: zipfile.ZipFile, name: str, stamp: tuple, src: Any, size_hint: int, compression: int,
                 listed: dict[str, dict[str, Any]]) -> None:
    """Copy ``src`` into the zip as ``name``, noting its size and SHA-256 in ``listed``."""
    info = zipfile.ZipInfo(name, date_time=stamp)
    info.file_size = size_hint  # lets zipfile choose zip64 only for files that need it
    info.compress_type = compression
    info.create_system = 3  # unix: the mode below is a plain file's
    info.external_attr = (stat.S_IFREG | 0o644) << 16
    digest, size = hashlib.sha256(), 0
    with zf.open(info, "w") as dst:
        while chunk := src.read(_CHUNK):
            dst.write(chunk)
            digest.update(chunk)
            size += len(chunk)
    listed[name] = {"bytes": size, "sha256": digest.hexdigest()}


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


README = """ExSampling show archive (format {format} {version}, made by exsampling {exsampling})

{recordings} recordings from {participants} named participants, {samples} samples, {events} events,
from {first} to {last} (UTC).

Restore it with:  exsampling import THIS.zip --library NEW_FOLDER
Read it with:     exsampling report THIS.zip --out report.html
Play it again:    exsampling replay THIS.zip --speed 4 [--send]

What each file is (the contract: docs/shows.md in ExSampling):

manifest.json          format, version, the show's counts, the model's identity, and the size and SHA-256 of
                       every other file here ("files"); audio left out of this zip is under "omitted"
README.txt             this text
config.toml            the configuration at export ([library] path and the tokens left out)
mapping.json           the mapping at export: class -> instrument track, and which tracks play melodically
                       (live-coded rules are code and are not kept)
model.json             the model the config names: name, file, size, SHA-256, its sidecar (labels, training,
                       metrics); "classified_by": the model names the show's history gives
show/recordings.jsonl  one JSON object per recording: the library's row; paths relative to this zip
show/samples.jsonl     one JSON object per sample (class, top labels, instrument, pitch, status, ...)
show/events.jsonl      the history: received, classified, relabelled, accepted, rejected, sent, withdrawn,
                       loaded, played, ... each with its time (UTC), its actor and its data (a JSON text)
show/memory.jsonl      the re-label memory: the embeddings of re-labelled samples (float32, base64)
show/settings.jsonl    the show's settings (prompt, open/closed, mode), each value a JSON text; never its
                       token, its console, its tunnel or the stage addresses it trusted (they stay home)
recordings/            what participants sent, byte for byte
samples/               the samples cut from them: mono 16-bit WAV at the chain's rate
photos/                participants' photos
{omitted}"""


def _readme(summary: dict[str, Any], omitted: dict[str, dict[str, Any]]) -> str:
    note = (f"\n{len(omitted)} audio files are not in this zip (manifest.json, \"omitted\"): their rows are kept.\n"
            if omitted else "")
    return README.format(format=FORMAT, version=VERSION, exsampling=__version__, first=summary["first_event"],
                         last=summary["last_event"], omitted=note,
                         **{k: summary[k] for k in ("recordings", "participants", "samples", "events")})


# -- reading and checking a zip ----------------------------------------------------------------------


@dataclass
class _Checked:
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
    if name not in META_FILES and not _FILE_NAME.fullmatch(name):
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


def _read_checked(zf: zipfile.ZipFile, info: zipfile.ZipInfo, expected: dict[str, Any],
                  sink: Callable[[bytes], Any] | None = None) -> None:
    """Stream one entry, never past the size the manifest gives, and compare its SHA-256; feed it to ``sink``."""
    digest, size, limit = hashlib.sha256(), 0, expected["bytes"]
    try:
        with zf.open(info) as f:
            while chunk := f.read(min(_CHUNK, limit - size + 1)):
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
def _checked_zip(path: str | Path, limits: Limits) -> Iterator[_Checked]:
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
        checked = _Checked(zf, manifest)
        for name, info in by_name.items():
            if name in META_FILES:
                if info.file_size > limits.max_text_bytes:
                    raise ArchiveError(f"{name} is larger than {limits.max_text_bytes} bytes")
                buf = bytearray()
                _read_checked(zf, info, manifest["files"][name], buf.extend)
                checked.texts[name] = bytes(buf)
            else:
                _read_checked(zf, info, manifest["files"][name])
        yield checked


def _tables(checked: _Checked) -> dict[str, list[dict[str, Any]]]:
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
                if not isinstance(value, str) or not _FILE_NAME.fullmatch(value) or ".." in value.split("/"):
                    raise ArchiveError(f"{name} line {n}: {column} {value!r} is not a file of the library")
                if value not in present:
                    raise ArchiveError(f"{name} line {n}: {column} {value} is neither in the zip nor listed as omitted")
            rows.append(row)
        tables[table] = rows
    return tables


# -- import -------------------------------------------------------------------------------------------


def import_show(zip_path: str | Path, target: str | Path, *, limits: Limits = Limits()) -> Library:
    """Restore the show in ``zip_path`` as a new library at ``target`` (a new or empty folder) and return it.

    Every check runs before anything is written: a refused zip raises :class:`ArchiveError` with the reason
    and leaves ``target`` as it was. Files come back byte for byte (each checked against the manifest's
    SHA-256 as it is written), rows with their ids; the library appears at ``target`` only when complete. Of
    the zip's settings only :data:`~exsampling.show_state.EXPORTED_SETTINGS` are taken, as an export writes them.
    """
    target = Path(target).expanduser().resolve()
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise ArchiveError(f"{target} is not empty: import into a new or empty folder")
    with _checked_zip(zip_path, limits) as checked:
        tables = _tables(checked)
        # the show's settings only: a zip cannot plant a token, an owner, a tunnel or a trusted address
        tables["settings"] = [r for r in tables["settings"] if r.get("key") in EXPORTED_SETTINGS]
        files = {i.filename: i for i in checked.zf.infolist() if i.filename not in META_FILES}
        needed = sum(i.file_size for i in files.values())
        free = shutil.disk_usage(_existing_parent(target)).free
        if needed + 2 ** 26 > free:
            raise ArchiveError(f"the show needs {needed / 2**20:.0f} MiB and {free / 2**20:.0f} MiB are free")
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.importing-", dir=target.parent))
        try:
            library = Library(staging)
            for name, info in files.items():
                with open(staging / name, "xb") as f:
                    _read_checked(checked.zf, info, checked.manifest["files"][name], f.write)
                    f.flush()
                    os.fsync(f.fileno())
            for table, columns in PATH_COLUMNS.items():
                for row in tables[table]:
                    for column in columns:
                        if row.get(column):
                            row[column] = str(target / row[column])
            (staging / SHOW_CONFIG_NAME).write_text(_restored_config(checked.texts, target / SHOW_CONFIG_NAME),
                                                     encoding="utf-8")
            omitted = checked.manifest["omitted"]
            if omitted:
                tables["settings"].append({"key": OMITTED_KEY, "value": json.dumps(omitted, sort_keys=True)})
            try:
                library.load_dump(tables)
            except (ValueError, sqlite3.Error) as exc:
                raise ArchiveError(f"the show's tables do not fit this library: {exc}") from None
            fsync_dir(staging, subfolders=True)
            if target.exists():
                target.rmdir()
            os.rename(staging, target)
            fsync_dir(target.parent)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
    return Library(target)


def _restored_config(texts: dict[str, bytes], path: Path) -> str:
    """The show's ``config.toml`` and ``mapping.json`` as a config file at ``path`` in the imported library: what
    they set differently from this installation's defaults, with ``[library] path = "."`` (the file's folder);
    the model only when its file is on this machine. A config this version cannot read is said in the file."""
    head = "# The show's configuration and mapping when it was exported (exsampling import, docs/shows.md).\n"
    try:
        raw = tomllib.loads(texts["config.toml"].decode("utf-8"))
        kept = json.loads(texts["mapping.json"])
        raw["mapping"] = kept["mapping"]
        raw["instruments"] = {name: "melodic" if rule else "percussive" for name, rule in kept["melodic"].items()}
        model = raw.get("classifier", {}).get("model", "")
        if model and not Path(model).is_file():
            del raw["classifier"]["model"]
            head += (f"# Its model {model} is not found here: this installation's default "
                     "classifies (set [classifier] model to another).\n")
        cfg = from_dict(raw, source=path)
    except (ConfigError, ValueError, KeyError, AttributeError, TypeError) as exc:
        reason = " ".join(str(exc).split())
        return (f"{head}# It could not be restored here ({reason}); the show runs on the defaults.\n"
                '[library]\npath = "."\n')
    return head + tomlkit.dumps(changed_settings(cfg))


def _existing_parent(path: Path) -> Path:
    while not path.exists():
        path = path.parent
    return path


# -- reading a show for the report and the replay -----------------------------------------------------


@dataclass(frozen=True)
class ShowInfo:
    """What a kept show says about itself beyond its library: where it came from, its manifest (None for a
    library folder), the mapping and model it was exported with (None when unknown)."""

    source: Path
    manifest: dict[str, Any] | None
    mapping: dict[str, Any] | None
    model: dict[str, Any] | None
    config_toml: str | None

    @property
    def name(self) -> str:
        return self.source.stem if self.source.suffix == ".zip" else self.source.name


class OpenedShow:
    """A kept show opened for reading (the report, the replay, the console's old-show view).

    ``library`` is the show as a library: a zip is checked and imported into a temporary folder, removed by
    :meth:`close`; a library folder is opened as it is. ``info`` says what the zip adds. Used as a context
    manager it gives ``(library, info)`` and closes itself.
    """

    def __init__(self, path: str | Path, *, limits: Limits = Limits()) -> None:
        path = Path(path).expanduser().resolve()
        self._tmp: tempfile.TemporaryDirectory | None = None
        if path.is_dir():
            if not holds_library(path):
                raise ArchiveError(f"{path} is not a library folder (no {DATABASE})")
            self.library, self.info = Library(path), ShowInfo(path, None, None, None, None)
            return
        self._tmp = tempfile.TemporaryDirectory(prefix="exsampling-show-")
        try:
            self.library = import_show(path, Path(self._tmp.name) / "library", limits=limits)
            with zipfile.ZipFile(path) as zf:  # checked by the import just now
                self.info = ShowInfo(path, json.loads(zf.read("manifest.json")), json.loads(zf.read("mapping.json")),
                                     json.loads(zf.read("model.json")), zf.read("config.toml").decode("utf-8"))
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        """Remove the temporary library of a zip (nothing to do for a folder)."""
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def __enter__(self) -> tuple[Library, ShowInfo]:
        return self.library, self.info

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_show(path: str | Path, *, limits: Limits = Limits()) -> OpenedShow:
    """Open a kept show (a zip from :func:`export_show`, or a library folder); see :class:`OpenedShow`.
    Raises :class:`ArchiveError` when it is neither, or the zip is refused."""
    return OpenedShow(path, limits=limits)


# -- ``exsampling export`` / ``exsampling import`` ---------------------------------------------------------


def register(sub, add_config: Callable) -> None:
    """Add ``exsampling export`` and ``exsampling import`` to the command line's subparsers."""
    p = sub.add_parser("export", help="keep a show as one zip: recordings, samples, photos, history, mapping, config")
    p.add_argument("zip", metavar="SHOW.zip", help="the zip to write (replaced if it exists)")
    p.add_argument("--library", metavar="DIR", help="the show's library (default: [library] path)")
    p.add_argument("--no-audio-over", metavar="MB", type=float,
                   help="leave out audio files larger than MB MiB (their rows and checksums are kept)")
    add_config(p)
    p.set_defaults(func=_export)

    p = sub.add_parser("import", help="restore a show zip as a new library, byte for byte (checked first)")
    p.add_argument("zip", metavar="SHOW.zip", help="a zip written by 'exsampling export'")
    p.add_argument("--library", metavar="DIR", required=True, help="a new or empty folder for the library")
    p.set_defaults(func=_import)


def show_config(args) -> Config:
    """The config for a command about a show: ``--config``, else the console's ./exsampling.toml if it exists,
    else the defaults; ``--library`` overrides ``[library] path``."""
    from .config import load
    from .console.environment import DEFAULT_CONFIG_NAME

    default = Path(DEFAULT_CONFIG_NAME)
    cfg = load(args.config or (default if default.is_file() else None))
    if getattr(args, "library", None):
        cfg = cfg.with_changes(library={"path": str(Path(args.library).expanduser().resolve())})
    return cfg


def _export(args) -> int:
    import sys

    cfg = show_config(args)
    root = cfg.resolve(cfg.library.path)
    if not holds_library(root):
        print(f"exsampling: {root} holds no library (no {DATABASE}); name one with --library", file=sys.stderr)
        return 2
    limit = None if args.no_audio_over is None else int(args.no_audio_over * 2 ** 20)
    try:
        done = export_show(Library(root), cfg, args.zip, no_audio_over=limit)
    except ArchiveError as exc:
        print(f"exsampling: export: {exc}", file=sys.stderr)
        return 1
    left = f", {len(done.omitted)} audio files left out" if done.omitted else ""
    print(f"wrote {done.path} ({done.bytes / 2**20:.1f} MiB, {done.files} files{left})")
    return 0


def _import(args) -> int:
    import sys

    try:
        library = import_show(args.zip, args.library)
    except ArchiveError as exc:
        print(f"exsampling: {args.zip} refused: {exc}", file=sys.stderr)
        return 1
    counts = library.counts()
    print(f"imported {counts['recordings']} recordings, {counts['samples']} samples into {library.root}\n"
          f"its config and mapping: {library.root / SHOW_CONFIG_NAME} "
          f"(exsampling console --config {library.root / SHOW_CONFIG_NAME})")
    return 0


