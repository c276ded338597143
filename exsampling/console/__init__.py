"""The performer's console: ipywidgets panels over the pipeline, with the upload server running in the same kernel.

``console.ipynb`` builds a :class:`Console` from the environment and displays it; Voilà serves it as a page
(``exsampling console``), and the same notebook opened in JupyterLab gives the live-coding API
(docs/live-coding.md).

``environment``  the ``EXSAMPLING_*`` variables and the config file they name
``cards``        what a card shows; the pooled cards of the incoming sounds
``panels``       the map, prompt, mapping, live-coding, header and banner panels
``ownership``    who runs the show, and the handover between consoles
``show``         :class:`Console` and its live-coding API
``voila``        :class:`ShowKernelManager`, Voilà's side
``command``      ``exsampling console``

Only the light names are imported with the package: the ``exsampling`` command imports it for :func:`register`
whatever the subcommand. The widget names load ipywidgets and ipyleaflet, and ``ShowKernelManager`` (named in
voila.json and on Voilà's command line) loads jupyter_server, when first used.
"""
from __future__ import annotations

import importlib
from typing import Any

from .command import register
from .environment import ENV_CONFIG, ENV_TILES, ENV_TOKEN, ENV_UPLOAD_PORT, config_path, load_config
from .ownership import OWNER_KEY

__all__ = ["ENV_CONFIG", "ENV_TILES", "ENV_TOKEN", "ENV_UPLOAD_PORT", "OWNER_KEY", "POOL_SIZE", "Console", "LiveTable",
           "ShowKernelManager", "config_path", "fit_view", "load_config", "register"]

_LAZY = {"Console": "show", "LiveTable": "show", "POOL_SIZE": "cards", "fit_view": "panels",
         "ShowKernelManager": "voila"}


def __getattr__(name: str) -> Any:
    # PEP 562: a heavy name imports its module on first use, then stays a plain attribute of the package
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value = getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    return value
