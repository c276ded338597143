"""Restoring a show's zip as a new library: :func:`import_show` (docs/shows.md). Nothing is written until the
whole zip passed its checks (:mod:`.checks`), and the library appears under its final name only once complete."""
from __future__ import annotations

import json
import os
import shutil
import sqlite3
import tempfile
import tomllib
from pathlib import Path

import tomlkit

from ..config import DEFAULT_CONFIG_NAME, ConfigError, changed_settings, from_dict
from ..durable import fsync_dir
from ..library import Library
from ..show_state import EXPORTED_SETTINGS, OMITTED_KEY
from .checks import checked_zip, read_checked, read_tables
from .layout import META_FILES, PATH_COLUMNS, ArchiveError, Limits

#: The config file an import writes into the library folder: the show's settings and mapping at export (the
#: console's default name, so ``exsampling console`` run in that folder plays the show as it was).
SHOW_CONFIG_NAME = DEFAULT_CONFIG_NAME


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
    with checked_zip(zip_path, limits) as checked:
        tables = read_tables(checked)
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
                    read_checked(checked.zf, info, checked.manifest["files"][name], f.write)
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
