"""``exsampling export`` and ``exsampling import``: their arguments, the config a command about a show reads, and
what they print (docs/shows.md)."""
from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

from ..config import DEFAULT_CONFIG_NAME, Config, load
from ..library import DATABASE, Library, holds_library
from .export import export_show
from .layout import ArchiveError
from .restore import SHOW_CONFIG_NAME, import_show


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
    default = Path(DEFAULT_CONFIG_NAME)
    cfg = load(args.config or (default if default.is_file() else None))
    if getattr(args, "library", None):
        cfg = cfg.with_changes(library={"path": str(Path(args.library).expanduser().resolve())})
    return cfg


def _export(args) -> int:
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
