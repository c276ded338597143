"""Who runs the show: :class:`ShowOwnership`, the state machine of one console's :class:`Role`, and the one owner
check every live-coding change passes (:meth:`ShowOwnership.check`, raising :class:`ReadOnlyConsole`).

Voilà starts a kernel per page view, and only one process can listen on the upload port, so exactly one
console *owns* the show: it runs the upload server, sends OSC, and is the only one with working buttons. Its
record (:class:`~exsampling.show_state.OwnerRecord`) names its process, its kernel and a private control port
on 127.0.0.1. A console that is opened later — a reload, a second tab, the notebook in JupyterLab — asks the
owner over that control port to let go (:mod:`exsampling.console.handover`), then listens itself: the newest view
runs the show, and the older one turns read-only (live, from the library) with a button to take the show back.
``?view`` in the page URL opens a read-only view that never takes over (e.g. to project the QR code). A console
that is not the owner takes over by itself when the owner's process has died, so a warm spare (Voilà's
pre-heated kernel) also restarts the show after a crash. A Voilà page leaves a show run from a live-coding
notebook alone, so a reload of the page never drops the notebook's rules.

Roles: ``starting`` → ``owner`` | ``standby`` (a pre-heated kernel waiting for a page) | ``viewer`` (another
console runs the show) | ``blocked`` (another program holds the upload port).
"""
from __future__ import annotations

import asyncio
import json
import os
import secrets
import time
import uuid
from collections.abc import Coroutine
from enum import StrEnum
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

import tornado.httpclient
import tornado.httpserver
import tornado.websocket
import traitlets

from ..config import Config
from ..pipeline import Pipeline
from ..records import utc_now
from ..show_state import OwnerRecord, ShowState
from ..stage import Stage
from .environment import served_query
from .handover import ask_to_release, serve_control

if TYPE_CHECKING:  # the upload server is imported when this console first owns the show
    from ..server import Server

#: How long a new owner keeps trying to bind the upload port while the previous owner lets go, in seconds.
BIND_PATIENCE_S = 6.0
#: How long a console that let go waits for the newer one to claim the show before it takes it back, in seconds.
HANDOVER_GRACE_S = 3 * BIND_PATIENCE_S
#: How long a standby kernel waits for Voilà to answer its connection, and how often it tries, before it says so.
VOILA_PATIENCE_S, VOILA_TRIES = 60.0, 5


class Role(StrEnum):
    """What a console does in the show."""

    STARTING = "starting"
    OWNER = "owner"
    STANDBY = "standby"
    VIEWER = "viewer"
    BLOCKED = "blocked"


class ReadOnlyConsole(RuntimeError):
    """A change asked of a console that does not run the show; ``await show.take_over()`` runs it there."""


class ShowOwnership(traitlets.HasTraits):
    """One console's part in who runs the show: taking it over, letting go, serving uploads and hearing the stage's
    answers while it owns it.

    Parameters
    ----------
    cfg, pipeline : the running configuration and chain (the upload server feeds the pipeline).
    state : ShowState — the show's shared state; the owner's record is written there.
    upload_port : the upload server's port.
    kernel_id : this kernel's id, recorded so Voilà's kernel manager never stops the owner.
    preheated : a Voilà pool kernel: wait for a page before taking over (unless nobody runs the show).
    live_coding : a notebook console (JupyterLab) rather than a Voilà page.
    stage : the return path (:class:`~exsampling.stage.Stage`), listened to while this console owns the show (only
        one process can bind its port); None: answers are not heard here.

    ``role`` is a trait (observe it); ``problems`` maps a topic (server, tls, standby) to what went wrong.
    The pipeline always runs in the show's mode (``state.mode``).
    """

    role = traitlets.Enum(list(Role), default_value=Role.STARTING, help="what this console does in the show")

    def __init__(self, cfg: Config, pipeline: Pipeline, state: ShowState, *, upload_port: int, kernel_id: str = "",
                 preheated: bool = False, live_coding: bool = False, stage: Stage | None = None) -> None:
        super().__init__()
        self.cfg, self.pipeline, self.state, self.stage = cfg, pipeline, state, stage
        self.upload_port, self.kernel_id = upload_port, kernel_id
        self.preheated, self.live_coding = preheated, live_coding
        self.console_id = uuid.uuid4().hex
        self.server: Server | None = None  # while this console owns the show
        self.problems: dict[str, str] = {}
        self._control: tornado.httpserver.HTTPServer | None = None
        self._secret = secrets.token_urlsafe(16)
        self._taking_over = False
        self._released_at = -float("inf")  # when this console last let a newer one take the show (monotonic s)
        self._tasks: set[asyncio.Task[Any]] = set()  # kept until done: the loop holds tasks only weakly
        #: the record of the console this one took the show from (alive or dead), or None
        self.predecessor: OwnerRecord | None = None
        pipeline.show = state  # the chain reads the show's mode from the show itself

    @traitlets.validate("role")
    def _valid_role(self, proposal: dict[str, Any]) -> Role:
        return Role(proposal["value"])

    def check(self) -> None:
        """The owner check of every change a console makes to the show: raise :class:`ReadOnlyConsole` unless this
        console runs it."""
        if self.role != Role.OWNER:
            raise ReadOnlyConsole("this console is read-only: another one runs the show "
                                  "(await show.take_over() to run it here)")

    async def start(self) -> None:
        """Take the show over now — or, for a pre-heated kernel that somebody else's console already runs, once a
        page is served from this kernel; a page opened while a live-coding notebook runs the show only follows."""
        owner = self.live_owner()
        if self.preheated and owner is not None and not owner.interim:
            self.role = Role.STANDBY
            self._spawn(self._wait_for_page())
        elif self._defers_to(owner):
            self.role = Role.VIEWER
        else:
            await self.take_over()

    def _defers_to(self, owner: OwnerRecord | None) -> bool:
        """Whether a page opening now leaves the show to ``owner``: only a live-coding notebook keeps it."""
        return owner is not None and owner.live_coding and not self.live_coding

    def live_owner(self) -> OwnerRecord | None:
        """The record of another console that runs the show and whose process lives, or None."""
        owner = self.state.owner
        if owner is None or owner.console == self.console_id or not owner.alive:
            return None
        return owner

    async def take_over(self) -> bool:
        """Run the show from this console: ask the current owner to let go, then listen for uploads here.

        Returns True when this console now owns the show. When the port stays taken, the console stays
        read-only ("viewer" if another console holds it, "blocked" if another program does).
        """
        if self.role == Role.OWNER or self._taking_over:
            return self.role == Role.OWNER
        self._taking_over = True
        try:
            owner = self.live_owner()
            if owner is not None:
                await ask_to_release(owner)
            self.state.refresh()  # the show as the previous owner left it
            self.server = await self._listen()
            if self.server is None:
                self.role = Role.VIEWER if self.live_owner() is not None else Role.BLOCKED
                return False
            if self.stage is not None:  # waits, like the upload port, while the previous owner lets go of it
                await self.stage.start(patience_s=BIND_PATIENCE_S)
            self._control, control_port = serve_control(self._secret, self.release)
            server, previous = self.server, self.state.owner
            if previous is not None and previous.console != self.console_id:
                self.predecessor = previous
            self.state.claim(OwnerRecord(
                console=self.console_id, kernel=self.kernel_id, pid=os.getpid(), control_port=control_port,
                secret=self._secret, since=utc_now(), started=time.time(), live_coding=self.live_coding,
                upload_port=server.port, urls=server.urls, recorder_url=server.recorder_url, map_url=server.map_url,
                tunnel=server.tunnel_line))
            self.role = Role.OWNER
            return True
        finally:
            self._taking_over = False

    def release(self) -> None:
        """Let a newer console run the show: stop listening; this console turns read-only (and stays live)."""
        self._stop_serving()
        self._released_at = time.monotonic()
        self.role = Role.VIEWER

    def follow(self) -> None:
        """Called once a second while not the owner: take over if the owner's process died — or if the console
        this one let go to has not taken the show within :data:`HANDOVER_GRACE_S` (until it claims the show, the
        record still names this console: taking it back at once would snatch the port from under it)."""
        if self.role not in (Role.VIEWER, Role.STANDBY) or self.live_owner() is not None or self._taking_over:
            return
        owner = self.state.owner
        if owner is not None and owner.console == self.console_id \
                and time.monotonic() - self._released_at < HANDOVER_GRACE_S:
            return
        self.take_over_soon()

    def take_over_soon(self) -> None:
        """:meth:`take_over` in the background (e.g. from a button)."""
        self._spawn(self.take_over())

    def _spawn(self, coroutine: Coroutine[Any, Any, Any]) -> None:
        try:
            task = asyncio.ensure_future(coroutine)
        except RuntimeError:  # no loop runs here (plain code, a test): say so once, not also "never awaited"
            coroutine.close()
            raise
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def close(self) -> None:
        """Stop serving; the show's record is cleared if this console owned it."""
        if self.role == Role.OWNER:
            self.state.let_go(self.console_id)
        self._stop_serving()

    async def _listen(self) -> Server | None:
        """Start the upload server, waiting a little while a previous owner lets go of the port."""
        from ..server import CertificateError, PortInUse, start

        deadline, kwargs = time.monotonic() + BIND_PATIENCE_S, dict[str, Any]()
        self.problems.pop("server", None)
        while True:
            try:
                return await start(self.cfg, self.pipeline, self.state, port=self.upload_port, **kwargs)
            except PortInUse as exc:
                if time.monotonic() > deadline:
                    self.problems["server"] = f"Uploads are not received here: {exc}"
                    return None
                await asyncio.sleep(0.2)
            except CertificateError as exc:
                self.problems["tls"] = f"{exc}. Only this machine can reach the recorder."
                kwargs["host"] = "127.0.0.1"
            except OSError as exc:
                self.problems["server"] = f"Uploads are not received here: {exc}"
                return None

    def _stop_serving(self) -> None:
        if self.server is not None:
            self.server.stop()
            self.server = None
        if self.stage is not None:
            self.stage.stop()
        if self._control is not None:
            control, self._control = self._control, None
            try:  # stop after the handover answer has been written
                asyncio.get_running_loop().call_later(0.5, control.stop)
            except RuntimeError:  # no loop running (closing from plain code)
                control.stop()

    async def _hear_page(self) -> str | None:
        """The query string of the page Voilà serves from this kernel, once it does; None (with the problem said)
        when Voilà cannot be heard. The kernel may be busy for seconds (TensorFlow's import holds the interpreter
        while the model loads), so a connection Voilà was slow to answer, or closed, is tried again."""
        port, base = os.environ.get("VOILA_APP_PORT", "8866"), os.environ.get("VOILA_SERVER_URL", "/")
        request = tornado.httpclient.HTTPRequest(f"ws://127.0.0.1:{port}{base}voila/query/{self.kernel_id}",
                                                 connect_timeout=VOILA_PATIENCE_S, request_timeout=VOILA_PATIENCE_S)
        failure = "it closed the connection"
        for _ in range(VOILA_TRIES):
            try:
                connection = await tornado.websocket.websocket_connect(request)
                message = await connection.read_message()
                connection.close()
            except Exception as exc:  # any failure: stand by rather than take the show from the performer's page
                failure = str(exc)
                await asyncio.sleep(1.0)
                continue
            if message is not None:
                return str(json.loads(message).get("QUERY_STRING", ""))
        self.problems["standby"] = f"this standby console cannot hear from Voilà ({failure})"
        return None

    async def _wait_for_page(self) -> None:
        """A pre-heated kernel learns from Voilà when a page is served from it; then it runs the show (unless
        the page asked for ``?view``)."""
        query_string = served_query(os.environ)  # Voilà tells a kernel once: maybe it told load_page_config
        if query_string is None:
            query_string = await self._hear_page()
            if query_string is None:
                return
        query = parse_qs(query_string, keep_blank_values=True)
        if "view" in query or self._defers_to(self.live_owner()):
            self.role = Role.VIEWER
        elif self.role != Role.OWNER:
            await self.take_over()
