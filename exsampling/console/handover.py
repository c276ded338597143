"""The handover between consoles: the owner's private control server and the request that asks it to let go.

The owner of the show (see :mod:`exsampling.console.ownership`) listens on a free port of 127.0.0.1 and records
the port and a secret in its :class:`~exsampling.show_state.OwnerRecord`. A newer console POSTs ``/handover``
there with the secret; the owner stops its upload server and answers, and the newer console binds the port.
The interim owner (``exsampling console`` itself while the console's kernel starts, see
:mod:`exsampling.console.interim`) answers only once what it received is stored, so the newer console's server
finds it in the library when it starts.
"""
from __future__ import annotations

import contextlib
import inspect
import secrets
from collections.abc import Awaitable, Callable

import tornado.httpclient
import tornado.httpserver
import tornado.netutil
import tornado.web

from ..show_state import OwnerRecord

#: What the owner does when asked to let go; the answer waits for it when it is a coroutine.
LetGo = Callable[[], Awaitable[None] | None]
#: How long a newer console waits for the owner's answer, in seconds (the interim owner's covers its drain).
ANSWER_WAIT_S, INTERIM_ANSWER_WAIT_S = 5.0, 25.0


class _Handover(tornado.web.RequestHandler):
    """``POST /handover`` on the owner's private control port: a newer console asks to run the show."""

    def initialize(self, secret: str, let_go: LetGo) -> None:
        self.secret, self.let_go = secret, let_go

    async def post(self) -> None:
        given = self.request.headers.get("X-Exsampling-Secret", "")
        if not secrets.compare_digest(given.encode(), self.secret.encode()):
            raise tornado.web.HTTPError(403)
        letting_go = self.let_go()
        if inspect.isawaitable(letting_go):
            await letting_go
        self.finish({"released": True})


def serve_control(secret: str, let_go: LetGo) -> tuple[tornado.httpserver.HTTPServer, int]:
    """The owner's control server on a free port of 127.0.0.1, and the port: a request carrying ``secret`` calls
    ``let_go``."""
    app = tornado.web.Application([(r"/handover", _Handover, {"secret": secret, "let_go": let_go})])
    sockets = tornado.netutil.bind_sockets(0, "127.0.0.1")
    server = tornado.httpserver.HTTPServer(app)
    server.add_sockets(sockets)
    return server, int(sockets[0].getsockname()[1])


async def ask_to_release(owner: OwnerRecord) -> None:
    """Ask the console of the ``owner`` record to let go of the show; a gone or stuck owner is not an error."""
    request = tornado.httpclient.HTTPRequest(
        f"http://127.0.0.1:{owner.control_port}/handover", method="POST", body=b"",
        headers={"X-Exsampling-Secret": owner.secret},
        request_timeout=INTERIM_ANSWER_WAIT_S if owner.interim else ANSWER_WAIT_S)
    with contextlib.suppress(OSError, tornado.httpclient.HTTPClientError):  # gone or stuck: binding the port tells
        await tornado.httpclient.AsyncHTTPClient().fetch(request, raise_error=False)
