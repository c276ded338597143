"""Voilà's side: the kernel manager ``exsampling console`` gives Voilà, which keeps the show's kernel running.

Voilà imports it by name (``exsampling.console.ShowKernelManager``, in voila.json and on Voilà's command line) in
its own process; the package resolves that name on first use, so kernels and the other commands never import
jupyter_server (about 1 s).
"""
from __future__ import annotations

import time
from typing import Any

import traitlets
from jupyter_server.services.kernels.kernelmanager import AsyncMappingKernelManager

from ..library import Library
from ..show_state import read_owner
from .environment import config_path, load_config


class ShowKernelManager(AsyncMappingKernelManager):
    """Voilà's kernel manager for the console: it never stops the kernel that runs the show, and reclaims others.

    Voilà's page asks for its kernel to be shut down when it unloads (a reload, a closed tab). That request
    succeeds whenever the browser holds an ``_xsrf`` cookie for the host — e.g. from JupyterLab on the same
    machine — and would stop the upload server; so it is refused for the owner's kernel. Kernels that do not run
    the show and have had no page connected for ``orphan_grace_s`` seconds are shut down, since each holds
    a loaded model (≈ 0.7 GB). Voilà's pre-heated pool kernels are never culled (Voilà checks that first).
    """

    orphan_grace_s = traitlets.Float(60.0, config=True, help="seconds a non-owner kernel may stay without a page")

    @traitlets.default("cull_idle_timeout")
    def _default_cull_idle_timeout(self) -> int:
        return 60  # > 0 starts jupyter_server's culler, which calls cull_kernel_if_idle below

    @traitlets.default("cull_interval")
    def _default_cull_interval(self) -> int:
        return 10

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._alone_since: dict[str, float] = {}
        self._show_library: Library | None = None

    def _owner_kernel(self) -> str | None:
        """The kernel id recorded by the console that runs the show, or None when unknown."""
        try:
            if self._show_library is None:
                cfg = load_config(config_path())
                self._show_library = Library(cfg.resolve(cfg.library.path))
            owner = read_owner(self._show_library)
        except Exception:  # an unreadable config or library: never cull what we cannot judge
            self.log.exception("ExSampling: cannot read the show's owner")
            return None
        return owner.kernel if owner else ""

    async def shutdown_kernel(  # type: ignore[override]  # jupyter_client declares it through a decorator
            self, kernel_id: str, now: bool = False, restart: bool = False) -> None:
        if not restart and kernel_id == self._owner_kernel():
            self.log.info("ExSampling: keeping kernel %s running: it runs the show's upload server", kernel_id)
            return
        await super().shutdown_kernel(kernel_id, now=now, restart=restart)

    async def cull_kernel_if_idle(self, kernel_id: str) -> None:
        owner = self._owner_kernel()
        if owner is None or kernel_id == owner or self._kernel_connections.get(kernel_id, 0):
            self._alone_since.pop(kernel_id, None)
            return
        alone = time.monotonic() - self._alone_since.setdefault(kernel_id, time.monotonic())
        if alone > self.orphan_grace_s:
            self.log.info("ExSampling: shutting down kernel %s: no page for %.0f s and it does not run the show",
                          kernel_id, alone)
            self._alone_since.pop(kernel_id, None)
            await self.shutdown_kernel(kernel_id)

