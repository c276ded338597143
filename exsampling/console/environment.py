"""What a console is told and where it runs: the ``EXSAMPLING_*`` environment variables, the config file they
name, and the Jupyter kernel around it.

``exsampling console`` sets them for Voilà's kernels; all are optional when running ``voila console.ipynb`` by hand:

``EXSAMPLING_CONFIG``       the TOML config; the mapping is saved there (default ``./exsampling.toml``,
                            created on the first edit when missing)
``EXSAMPLING_UPLOAD_PORT``  the upload server's port (default ``[server] port``)
``EXSAMPLING_TOKEN``        the show token (default: kept from the last show, else ``[server] token``, else new)
``EXSAMPLING_TILES``        a map tile URL template such as ``http://127.0.0.1:8000/{z}/{x}/{y}.png``
                            (default: no tiles, the markers on a plain light background)
"""
from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator, Mapping
from dataclasses import replace
from pathlib import Path

from ..config import DEFAULT_CONFIG_NAME, Config, ConfigError, load

ENV_CONFIG = "EXSAMPLING_CONFIG"
ENV_UPLOAD_PORT = "EXSAMPLING_UPLOAD_PORT"
ENV_TOKEN = "EXSAMPLING_TOKEN"
ENV_TILES = "EXSAMPLING_TILES"


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


def load_page_config(path: Path, environ: Mapping[str, str]) -> Config:
    """The config a console page runs on: :func:`load_config`, read again when a page is served if it was invalid.

    Voilà's pre-heated kernel (``VOILA_PREHEAT``) runs the notebook long before its page is opened. A config file
    that was being edited at that moment must not break the next page once it is fixed: the kernel waits for its
    page (Voilà's request info, which also lands in the environment as ``QUERY_STRING``), then reads the file again.
    Still invalid then, :class:`~exsampling.config.ConfigError` says why (one line on the page).
    """
    try:
        return load_config(path)
    except ConfigError:
        if environ.get("VOILA_PREHEAT") != "True":
            raise
    from voila.utils import wait_for_request

    wait_for_request()  # blocks until a page is served from this kernel
    return load_config(path)


def served_query(environ: Mapping[str, str]) -> str | None:
    """The query string of the page Voilà served from this pre-heated kernel, when already received (by
    :func:`load_page_config`); None while no page is known."""
    return environ.get("QUERY_STRING")


def current_kernel_id(environ: Mapping[str, str]) -> str:
    """This kernel's id: Voilà sets ``VOILA_KERNEL_ID``; elsewhere it is in the connection file's name."""
    if environ.get("VOILA_KERNEL_ID"):
        return environ["VOILA_KERNEL_ID"]
    try:
        from ipykernel.connect import get_connection_file

        return Path(get_connection_file()).stem.removeprefix("kernel-")
    except Exception:  # not in a kernel (tests, scripts)
        return ""


@contextlib.contextmanager
def native_stderr_to_log() -> Iterator[None]:
    """Send what C++ libraries write to file descriptor 2 to the kernel's log (Voilà's terminal), not the page.

    TensorFlow prints start-up notices there that no log level silences; in a kernel, fd 2 is forwarded to the
    page, where they would look like errors.
    """
    original = getattr(sys.stderr, "_original_stdstream_copy", None)  # ipykernel keeps the process's own stderr
    if original is None:
        yield
        return
    saved = os.dup(2)
    os.dup2(original, 2)
    try:
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
