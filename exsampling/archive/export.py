"""Writing a show's zip: :func:`export_show` and what goes in it (docs/shows.md).

An export is a pure function of the library, the config and the model: exporting the same show twice gives the
same bytes (fixed entry times, sorted JSON), so a show exported, imported and exported again is the same file. It
keeps the show, never its secrets or this machine: of the library's settings only
:data:`~exsampling.show_state.EXPORTED_SETTINGS` go in, and the config goes in without its tokens and its
library's place.
"""
from __future__ import annotations

import base64
import contextlib
import hashlib
import io
import json
import os
import stat
import uuid
import zipfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import tomli_w

from .. import __version__
from ..config import Config, to_dict
from ..library import SCHEMA_VERSION, Library
from ..show_state import EXPORTED_SETTINGS, OMITTED_KEY
from .layout import AUDIO_FOLDERS, CHUNK, FILE_NAME, FORMAT, PATH_COLUMNS, TABLE_FILES, VERSION, ArchiveError


@dataclass(frozen=True)
class Exported:
    """What :func:`export_show` wrote: the zip, its size in bytes, the files in it, the audio left out."""

    path: Path
    bytes: int
    files: int
    omitted: dict[str, dict[str, Any]]


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
        elif no_audio_over is not None and rel.startswith(AUDIO_FOLDERS) and path.stat().st_size > no_audio_over:
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
    if not FILE_NAME.fullmatch(rel):
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
        while chunk := src.read(CHUNK):
            dst.write(chunk)
            digest.update(chunk)
            size += len(chunk)
    listed[name] = {"bytes": size, "sha256": digest.hexdigest()}


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
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
