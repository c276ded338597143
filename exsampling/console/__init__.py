"""The performer's console: ipywidgets panels over the show, with the upload server running in the same kernel.

``console.ipynb`` builds a :class:`Console` from the environment and displays it; Voilà serves it as a page
(``exsampling console``), and the same notebook opened in JupyterLab gives the live-coding API
(docs/live-coding.md).

``environment``  the ``EXSAMPLING_*`` variables, the config file they name, the kernel around the console
``ownership``    :class:`ShowOwnership` (a ``HasTraits`` with a ``role`` trait): taking the show over, letting go,
                 waiting for a page, serving uploads; :class:`Role`; the one owner check and
                 :class:`ReadOnlyConsole`
``handover``     the owner's private control port and the request that asks it to let go
``store``        :class:`MappingStore`: the mapping in use, saved to and followed from the TOML file, and the
                 live-coded rules; :class:`LiveTable` (``show.mapping``/``show.melodic``)
``cards``        what a card shows; the pooled cards of the incoming sounds
``panels``       the map, prompt, mapping and live-coding panels
``header``       the page's style, the role banner, the header and the warnings
``live``         :class:`LiveCoding`, the live-coding API (every change passes the owner check)
``show``         :class:`Console`: lays out the panels, links their traits to the show, follows the library
``voila``        :class:`ShowKernelManager`, Voilà's side
``command``      ``exsampling console``

The show's own state (prompt, open/closed, mode, token, the owner's record) is
:class:`exsampling.show_state.ShowState`, shared with the upload server.

Only the light names are imported with the package: the ``exsampling`` command imports it for :func:`register`
whatever the subcommand. The widget names load ipywidgets and ipyleaflet, and ``ShowKernelManager`` (named in
voila.json and on Voilà's command line) loads jupyter_server, when first used.
"""
from __future__ import annotations

import importlib
from typing import Any

from .command import register
from .environment import (
    ENV_CONFIG,
    ENV_TILES,
    ENV_TOKEN,
    ENV_UPLOAD_PORT,
    config_path,
    load_config,
    load_page_config,
    served_query,
)

__all__ = ["ENV_CONFIG", "ENV_TILES", "ENV_TOKEN", "ENV_UPLOAD_PORT", "POOL_SIZE", "Console", "LiveTable",
           "MappingStore", "ReadOnlyConsole", "Role", "ShowKernelManager", "ShowOwnership", "config_path", "fit_view",
           "load_config", "load_page_config", "register", "served_query"]

_LAZY = {"Console": "show", "LiveTable": "store", "MappingStore": "store", "POOL_SIZE": "cards",
         "ReadOnlyConsole": "ownership", "Role": "ownership", "ShowOwnership": "ownership", "fit_view": "panels",
         "ShowKernelManager": "voila"}


def __getattr__(name: str) -> Any:
    # PEP 562: a heavy name imports its module on first use, then stays a plain attribute of the package
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value = getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    return value
