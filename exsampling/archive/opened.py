"""Opening a kept show for reading — the report, the replay, the console's old-show view: :func:`open_show`
takes an export's zip (checked and imported into a temporary folder) or a library folder as it is."""
from __future__ import annotations

import json
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..library import DATABASE, Library, holds_library
from .layout import ArchiveError, Limits
from .restore import import_show


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
