"""The upload server's application (:func:`make_app`) and starting it (:func:`start` → :class:`Server`).

Listeners: plain HTTP on 127.0.0.1 at ``[server] port`` (the console, Max's jweb at ``http://127.0.0.1:8765/map``,
and the tunnel's target), and, when listening beyond localhost with ``[server] tls``, HTTPS with a self-signed
certificate on ``port + 1`` for phones on the LAN (a phone only gets a microphone and a location in a secure
context). Only this application is ever put behind a tunnel, never the console's Jupyter/Voilà port.
"""
from __future__ import annotations

import asyncio
import errno
import logging
import os
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import tornado.httpserver
import tornado.netutil
import tornado.web

from ..config import Config
from ..resources import recorder_dir
from ..show_state import ShowState
from .checks import RateLimiter
from .handlers import Context, Health, NotFound, Page, RecordingProgress, SampleList, ShowInfo, Upload
from .network import ensure_certificate, is_loopback, lan_address, open_tunnel, with_token

if TYPE_CHECKING:
    from ..pipeline import Pipeline

log = logging.getLogger(__name__)

#: The recorder's and the map's static files (HTML, CSS, JS), served as they are: no build step.
RECORDER_DIR = recorder_dir()


class PortInUse(OSError):
    """The server's port is taken (often: another console kernel, or an earlier ``exsampling serve``)."""


def make_app(cfg: Config, pipeline: Pipeline, show: ShowState) -> tornado.web.Application:
    """The upload server's application (routes in docs/http.md); ``app.settings["exsampling"]`` is its
    :class:`~exsampling.server.handlers.Context`."""
    ctx = Context(cfg, pipeline, show, RateLimiter(cfg.server.rate_limit, cfg.server.rate_window_s))
    page = {"path": str(RECORDER_DIR)}
    api = {"ctx": ctx}
    return tornado.web.Application(
        [
            (r"/()", Page, page | {"file": "index.html"}),
            (r"/map()", Page, page | {"file": "map.html"}),
            (r"/recorder/(.+)", Page, page),
            (r"/healthz", Health, api),
            (r"/api/show", ShowInfo, api),
            (r"/api/recordings", Upload, api),
            (r"/api/recordings/([0-9]{1,12})", RecordingProgress, api),
            (r"/api/samples", SampleList, api),
        ],
        default_handler_class=NotFound, default_handler_args=api, exsampling=ctx,
        static_hash_cache=False, compress_response=True,  # gzip: the page is ≈ 31 kB, ≈ 11 kB on 3G
    )


def _listen(app: tornado.web.Application, port: int, address: str, max_body: int,
            ssl_options: ssl.SSLContext | None = None) -> tuple[tornado.httpserver.HTTPServer, int]:
    try:
        sockets = tornado.netutil.bind_sockets(port, address)
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise PortInUse(exc.errno, f"port {port} on {address} is already in use (another console or "
                            f"'exsampling serve' still running?); stop it or choose another port") from exc
        raise
    # Tornado's own bound sits above ours so the handler, not the transport, answers 413 with its JSON.
    server = tornado.httpserver.HTTPServer(app, ssl_options=ssl_options, max_body_size=max_body + 2 ** 20)
    server.add_sockets(sockets)
    return server, int(sockets[0].getsockname()[1])


@dataclass
class Server:
    """A running upload server (see :func:`start`).

    port: the plain-HTTP port on 127.0.0.1 (or on ``host`` when that is loopback or TLS is off).
    https_port: the HTTPS port on the LAN, or None. urls: recorder URLs with ``?token=``, by kind:
    ``local`` always; ``lan`` when reachable from other machines; ``public`` through a tunnel or
    ``[server] public_url``. recorder_url: the one for the QR code (public, else LAN, else local).
    map_url: the performer's map page (for Max's jweb). certificate: the HTTPS certificate file, or None.
    """

    port: int
    https_port: int | None
    urls: dict[str, str]
    recorder_url: str
    map_url: str
    certificate: Path | None
    app: tornado.web.Application
    _closers: list[Callable[[], None]]

    def stop(self) -> None:
        """Stop listening and close the tunnel; uploads already acknowledged keep being processed."""
        for close in reversed(self._closers):
            try:
                close()
            except Exception:  # one failing closer must not keep the others open
                log.exception("while stopping the upload server")
        self._closers.clear()


async def start(cfg: Config, pipeline: Pipeline, show: ShowState, host: str | None = None, port: int | None = None,
                tunnel: bool | None = None) -> Server:
    """Start the upload server on the running asyncio loop (in a Jupyter kernel: the kernel's; no thread).

    Parameters
    ----------
    host, port : override ``[server] host``/``port``; port 0 picks free ports (tests).
    tunnel : open an ngrok tunnel; None = when an ngrok token is configured (``[server] ngrok_token`` or
        ``NGROK_AUTHTOKEN``).

    Raises :class:`PortInUse` when a port is taken, :class:`CertificateError` when HTTPS cannot be set up,
    :class:`TunnelError` when a wanted tunnel cannot open; nothing is left listening after a failure.
    """
    s = cfg.server
    host, port = host or s.host, s.port if port is None else port
    app = make_app(cfg, pipeline, show)
    ctx: Context = app.settings["exsampling"]
    closers: list[Callable[[], None]] = [lambda: ctx.ingest_pool.shutdown(wait=False)]
    lan = None if is_loopback(host) else (lan_address() if host in ("0.0.0.0", "::", "") else host)
    try:
        local_host = host if is_loopback(host) or not s.tls else "127.0.0.1"
        http, http_port = _listen(app, port, local_host, ctx.max_body_bytes)
        closers.append(http.stop)
        urls = {"local": with_token(f"http://127.0.0.1:{http_port}/", show.token)}
        https_port = certificate = None
        if not is_loopback(host) and s.tls:
            certificate, key = ensure_certificate(pipeline.library.root / "tls", [lan] if lan else [])
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(certificate, key)
            https, https_port = _listen(app, port + 1 if port else 0, host, ctx.max_body_bytes, context)
            closers.append(https.stop)
        if lan:
            scheme, lan_port = ("https", https_port) if https_port else ("http", http_port)
            urls["lan"] = with_token(f"{scheme}://{lan}:{lan_port}/", show.token)
        ngrok_token = s.ngrok_token or os.environ.get("NGROK_AUTHTOKEN", "")
        if tunnel or (tunnel is None and ngrok_token):
            public, close_tunnel = await asyncio.get_running_loop().run_in_executor(
                None, open_tunnel, http_port, ngrok_token)
            closers.append(close_tunnel)
            urls["public"] = with_token(public, show.token)
        elif s.public_url:
            urls["public"] = with_token(s.public_url, show.token)
    except BaseException:
        for close in reversed(closers):
            close()
        raise
    recorder_url = urls.get("public") or urls.get("lan") or urls["local"]
    return Server(http_port, https_port, urls, recorder_url, f"http://127.0.0.1:{http_port}/map", certificate,
                  app, closers)
