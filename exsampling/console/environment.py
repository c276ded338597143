"""What a console is told: the ``EXSAMPLING_*`` environment variables and the config file they name.

``exsampling console`` sets them for Voilà's kernels; all are optional when running ``voila console.ipynb`` by hand:

``EXSAMPLING_CONFIG``       the TOML config; the mapping is saved there (default ``./exsampling.toml``,
                            created on the first edit when missing)
``EXSAMPLING_UPLOAD_PORT``  the upload server's port (default ``[server] port``)
``EXSAMPLING_TOKEN``        the show token (default: kept from the last show, else ``[server] token``, else new)
``EXSAMPLING_TILES``        a map tile URL template such as ``http://127.0.0.1:8000/{z}/{x}/{y}.png``
                            (default: no tiles, the markers on a plain light background)
"""
from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

from ..config import Config, load

ENV_CONFIG = "EXSAMPLING_CONFIG"
ENV_UPLOAD_PORT = "EXSAMPLING_UPLOAD_PORT"
ENV_TOKEN = "EXSAMPLING_TOKEN"
ENV_TILES = "EXSAMPLING_TILES"

#: Where the console keeps its config when none is named (relative to the kernel's working directory).
DEFAULT_CONFIG_NAME = "exsampling.toml"


def config_path(given: str | os.PathLike | None = None) -> Path:
    """The console's config file: ``given``, else ``$EXSAMPLING_CONFIG``, else ``./exsampling.toml``.

    The file need not exist: the console then runs on the defaults and creates it on the first mapping edit.
    """
    return Path(given or os.environ.get(ENV_CONFIG) or DEFAULT_CONFIG_NAME).expanduser().resolve()


def load_config(path: Path) -> Config:
    """The config at ``path``, or the defaults anchored at ``path`` when the file does not exist yet.

    Anchoring keeps relative paths (the library) resolving against the same folder before and after the
    console first writes the file, so the library never moves under a running show.
    """
    return load(path) if path.exists() else replace(load(None), source=path)

