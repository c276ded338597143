"""Who runs the show: the owner's record in the library, the handover between consoles, and the kernel they run in.

Voilà starts a kernel per page view, and only one process can listen on the upload port, so exactly one
console *owns* the show: it runs the upload server, sends OSC, and is the only one with working buttons. Its
record (``console.owner`` in the library's settings) names its process, its kernel and a private control port
on 127.0.0.1. A console that is opened later — a reload, a second tab, the notebook in JupyterLab — asks the
owner over that control port to let go, then listens itself: the newest view runs the show, and the older one
turns read-only (live, from the library) with a button to take the show back. ``?view`` in the page URL opens a
read-only view that never takes over (e.g. to project the QR code). A console that is not the owner takes over by
itself when the owner's process has died, so a warm spare (Voilà's pre-heated kernel) also restarts the show
after a crash.
"""
from __future__ import annotations

import contextlib
import os
import secrets
import sys
from collections.abc import Callable, Iterator, MutableMapping
from pathlib import Path

import tornado.httpclient
import tornado.httpserver
import tornado.netutil
import tornado.web

#: The library setting naming the console that owns the show.
OWNER_KEY = "console.owner"


def alive(pid: int) -> bool:
    """Whether process ``pid`` exists (the owner's record outlives a crashed kernel)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


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


def current_kernel_id(environ: MutableMapping[str, str]) -> str:
    """This kernel's id: Voilà sets ``VOILA_KERNEL_ID``; elsewhere it is in the connection file's name."""
    if environ.get("VOILA_KERNEL_ID"):
        return environ["VOILA_KERNEL_ID"]
    try:
        from ipykernel.connect import get_connection_file

        return Path(get_connection_file()).stem.removeprefix("kernel-")
    except Exception:  # not in a kernel (tests, scripts)
        return ""


class _Handover(tornado.web.RequestHandler):
    """``POST /handover`` on the owner's private control port: a newer console asks to run the show."""

    def initialize(self, secret: str, let_go: Callable[[], None]) -> None:
        self.secret, self.let_go = secret, let_go

    def post(self) -> None:
        given = self.request.headers.get("X-Exsampling-Secret", "")
        if not secrets.compare_digest(given.encode(), self.secret.encode()):
            raise tornado.web.HTTPError(403)
        self.let_go()
        self.finish({"released": True})


def serve_control(secret: str, let_go: Callable[[], None]) -> tuple[tornado.httpserver.HTTPServer, int]:
    """The owner's control server on a free port of 127.0.0.1, and the port: a request carrying ``secret`` calls
    ``let_go``."""
    app = tornado.web.Application([(r"/handover", _Handover, {"secret": secret, "let_go": let_go})])
    sockets = tornado.netutil.bind_sockets(0, "127.0.0.1")
    server = tornado.httpserver.HTTPServer(app)
    server.add_sockets(sockets)
    return server, sockets[0].getsockname()[1]


async def ask_to_release(owner: dict) -> None:
    """Ask the console of the ``owner`` record to let go of the show; a gone or stuck owner is not an error."""
    request = tornado.httpclient.HTTPRequest(
        f"http://127.0.0.1:{owner['control_port']}/handover", method="POST", body=b"",
        headers={"X-Exsampling-Secret": owner.get("secret", "")}, request_timeout=5.0)
    try:
        await tornado.httpclient.AsyncHTTPClient().fetch(request, raise_error=False)
    except (OSError, tornado.httpclient.HTTPClientError):  # gone or stuck: binding the port tells which
        pass
