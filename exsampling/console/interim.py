"""The door held open while the console starts: ``exsampling console`` takes sounds from its first second.

Voilà, its kernel and the console's widgets take seconds to start, and phones that scan the QR code early must not
be refused. So the command itself listens on the upload port first, as the show's *interim owner*
(:attr:`~exsampling.show_state.OwnerRecord.interim`): its upload server stores and acknowledges what phones send,
exactly as the console's would (on disk and in SQLite before the answer), and processes nothing. The console's
first kernel takes the show over from it at once, through the usual handover
(:mod:`exsampling.console.handover`): the interim server stops listening, stores the uploads whose body had
arrived, ends every connection and only then answers, so the console's server finds every recording it
acknowledged in the library, "received", and processes them first.

The interim server runs its own asyncio loop on a thread of the command's process; no tunnel (the console opens it)
and no stage listener.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import threading
import time
import uuid
from typing import TYPE_CHECKING

import tornado.httpserver

from ..config import Config
from ..records import utc_now
from ..show_state import OwnerRecord, ShowState
from .handover import serve_control

if TYPE_CHECKING:
    from ..server import Server

log = logging.getLogger(__name__)

#: How long the command waits for its interim server to listen before it goes on without it, in seconds.
OPEN_WAIT_S = 30.0


class InterimDoor:
    """The command's interim upload server (see the module's docstring).

    Parameters
    ----------
    cfg : the show's configuration.
    state : the show's state (made before the console's kernel starts, so that both use one token).
    upload_port : the upload server's port.

    ``server`` is the running :class:`~exsampling.server.Server` while the door is held (None before, after, or
    when it could not listen: ``problem`` says why).
    """

    def __init__(self, cfg: Config, state: ShowState, upload_port: int) -> None:
        self.cfg, self.state, self.upload_port = cfg, state, upload_port
        self.console_id = "interim-" + uuid.uuid4().hex
        self.server: Server | None = None
        self.problem = ""
        self._secret = secrets.token_urlsafe(16)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._control: tornado.httpserver.HTTPServer | None = None
        self._listening = threading.Event()
        self._thread: threading.Thread | None = None

    def open(self, wait_s: float = OPEN_WAIT_S) -> bool:
        """Start listening on a thread of its own; whether it listens (within ``wait_s`` seconds)."""
        self._thread = threading.Thread(target=self._run, name="exsampling-interim", daemon=True)
        self._thread.start()
        self._listening.wait(wait_s)
        return self.server is not None

    def close(self) -> None:
        """Stop, if no console took the show over (the command ends); the show's record is cleared if it is ours."""
        loop = self._loop
        if loop is not None and loop.is_running():
            with contextlib.suppress(RuntimeError, TimeoutError):  # the loop ended meanwhile
                asyncio.run_coroutine_threadsafe(self._let_go(), loop).result(timeout=30)
        if self._thread is not None:
            self._thread.join(timeout=30)

    def _run(self) -> None:
        self._loop = loop = asyncio.new_event_loop()
        try:
            loop.run_until_complete(self._listen())
            if self.server is not None:
                loop.run_forever()  # until the handover, or close()
        except Exception as exc:  # the command goes on without the door: the console's kernel will listen
            self.problem = f"{type(exc).__name__}: {exc}"
            log.exception("the interim upload server failed")
        finally:
            self._listening.set()
            with contextlib.suppress(RuntimeError):
                loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    async def _listen(self) -> None:
        from ..pipeline import build
        from ..server import CertificateError, start

        pipeline = build(self.cfg, send=False, wait=False)
        pipeline.close()  # it stores and never processes: recordings wait, "received", for the console
        state = self.state
        try:
            try:
                self.server = await start(self.cfg, pipeline, state, port=self.upload_port, tunnel=False)
            except CertificateError:  # as the console does: this machine still reaches the recorder
                self.server = await start(self.cfg, pipeline, state, host="127.0.0.1", port=self.upload_port,
                                          tunnel=False)
        except OSError as exc:  # the port is taken: the console's kernel will say so
            self.problem = str(exc)
            return
        finally:
            self._listening.set()
        server = self.server
        self._control, control_port = serve_control(self._secret, self._let_go)
        previous = state.owner
        state.claim(OwnerRecord(
            console=self.console_id, pid=os.getpid(), control_port=control_port, secret=self._secret,
            since=utc_now(), started=time.time(), upload_port=server.port, urls=server.urls,
            recorder_url=server.recorder_url, map_url=server.map_url, tunnel=server.tunnel_line,
            # the rules of a console that ran the show before are still said lost by the one that takes over
            rules=previous.rules if previous is not None else [], interim=True))

    async def _let_go(self) -> None:
        """Hand the show over: nothing is acknowledged here once this returns; then the loop ends."""
        server, self.server = self.server, None
        if server is None:
            return
        if not await server.hand_over():
            log.warning("the interim upload server stopped with uploads still being stored")
        self.state.let_go(self.console_id)
        loop = asyncio.get_running_loop()
        if self._control is not None:
            loop.call_later(0.5, self._control.stop)  # once the answer is written
        loop.call_later(0.6, loop.stop)
