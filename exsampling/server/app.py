"""The upload server's application (:func:`make_app`) and starting it (:func:`start` → :class:`Server`).

Listeners: plain HTTP at ``[server] port`` (the console, Max's jweb at ``http://127.0.0.1:8765/map``, the
tunnel's target; phones on the LAN get only the join page there), and, when listening beyond localhost with
``[server] tls``, HTTPS with the show's own certificate on ``port + 1`` for phones on the LAN (a phone only gets a
microphone and a location in a secure context). Only this application is ever put behind a tunnel, never the
console's Jupyter/Voilà port.

An acknowledged recording is never lost: it is stored (file and row) before the answer, processed from the
library's queue, found again after a crash or a stop (:meth:`~exsampling.pipeline.Pipeline.unfinished`), and a
phone retrying with its ``upload_id`` gets the first answer, even after a restart.
"""
from __future__ import annotations

import asyncio
import errno
import logging
import socket
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlencode

import tornado.netutil
import tornado.web

from ..config import Config
from ..resources import recorder_dir
from ..show_state import ShowState
from .certificate import authority_in, ensure_certificate, fingerprint
from .checks import TRANSPORT_HEADER_BYTES, RateLimiter
from .connections import ConnectionGuard, GuardedHTTPServer, connection_cap, quiet_floods, raise_descriptor_limit
from .handlers import (
    Context,
    Health,
    Join,
    JoinFile,
    JoinInfo,
    NotFound,
    Page,
    RecordingProgress,
    SampleList,
    ShowInfo,
    log_request,
)
from .network import is_loopback, lan_address, with_token
from .tunnel import Agent, NgrokAgent, ShowTunnel, TunnelError, ngrok_token
from .uploads import Storer, Upload

if TYPE_CHECKING:
    from ..pipeline import Pipeline

log = logging.getLogger(__name__)

#: The recorder's and the map's static files (HTML, CSS, JS), served as they are: no build step.
RECORDER_DIR = recorder_dir()
#: Seconds a stopping server waits for the uploads it is receiving to be stored.
DRAIN_S = 10.0
#: Connections the system holds for the server before it accepts them. Tornado's 128 is less than a crowd: the
#: phones past it have their connection dropped and try again a second later (TCP's first retry), and that
#: second is every late phone's. Linux caps it at ``net.core.somaxconn`` (4096), macOS at 128.
LISTEN_BACKLOG = 1024
#: Bytes read from a connection at once (Tornado's default is 64 KiB): a 5-s recording at 44.1 kHz (431 KiB) then
#: reaches its handler in two pieces rather than seven, and each piece costs the loop the same.
CHUNK_BYTES = 256 * 1024


class PortInUse(OSError):
    """The server's port is taken (often: another console kernel, or an earlier ``exsampling serve``)."""

    def __str__(self) -> str:
        return str(self.strerror)  # what to do about it, without OSError's "[Errno 98]" before it


def make_app(cfg: Config, pipeline: Pipeline, show: ShowState) -> tornado.web.Application:
    """The upload server's application (routes in docs/http.md); ``app.settings["exsampling"]`` is its
    :class:`~exsampling.server.handlers.Context`."""
    s = cfg.server
    ctx = Context(cfg, pipeline, show, RateLimiter(s.rate_limit, s.rate_limit_per_address, s.rate_window_s),
                  Storer(pipeline, s.max_recording_s))
    page = {"path": str(RECORDER_DIR), "ctx": ctx}
    api = {"ctx": ctx}
    return tornado.web.Application(
        [
            (r"/()", Page, page | {"file": "index.html"}),
            (r"/map()", Page, page | {"file": "map.html", "local_only": True}),
            (r"/recorder/(.+)", Page, page),
            (r"/join", Join, api),
            (r"/join/(exsampling-ca\.pem|exsampling\.mobileconfig)", JoinFile, api),
            (r"/healthz", Health, api),
            (r"/api/show", ShowInfo, api),
            (r"/api/recordings", Upload, api),
            (r"/api/recordings/([0-9]{1,12})", RecordingProgress, api),
            (r"/api/samples", SampleList, api),
        ],
        default_handler_class=NotFound, default_handler_args=api, exsampling=ctx,
        static_hash_cache=False, compress_response=True,  # gzip: the page is ≈ 31 kB, ≈ 11 kB on 3G
        template_path=str(RECORDER_DIR), log_function=log_request,
    )


def _listen(app: tornado.web.Application, port: int, addresses: list[str], guard: ConnectionGuard, cfg: Config,
            ssl_options: ssl.SSLContext | None = None) -> tuple[GuardedHTTPServer, int]:
    s = cfg.server
    sockets: list[socket.socket] = []
    try:
        for address in addresses:  # the first picks the port when asked for any (0); the others take the same
            sockets += tornado.netutil.bind_sockets(sockets[0].getsockname()[1] if sockets else port, address,
                                                    backlog=LISTEN_BACKLOG)
    except OSError as exc:
        for sock in sockets:
            sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise PortInUse(exc.errno, f"port {port} on {' and '.join(addresses)} is already in use (another "
                            f"console or 'exsampling serve' still running?); stop it or choose another port") from exc
        raise
    # Tornado's own bound sits above ours so the handler, not the transport, answers 413 with its JSON.
    server = GuardedHTTPServer(app, ssl_options=ssl_options, max_body_size=int(s.max_upload_mb * 2 ** 20) + 2 ** 20,
                               idle_connection_timeout=s.idle_timeout_s, body_timeout=s.body_timeout_s,
                               max_header_size=TRANSPORT_HEADER_BYTES, chunk_size=CHUNK_BYTES, guard=guard)
    server.add_sockets(sockets)
    return server, sockets[0].getsockname()[1]


@dataclass
class Server:
    """A running upload server (see :func:`start`).

    port: the plain-HTTP port (127.0.0.1, and the LAN's join page when HTTPS serves the LAN).
    https_port: the HTTPS port on the LAN, or None. urls: recorder URLs with ``?token=``, by kind:
    ``local`` always; ``lan`` (the HTTPS recorder) and ``join`` (the plain-HTTP join page) when reachable from
    other machines; ``public`` through a tunnel or ``[server] public_url``. recorder_url: the one for the QR
    code (public, else the join page, else LAN, else local). map_url: the performer's map page (for Max's
    jweb). certificate: the HTTPS certificate file, or None. tunnel: the show's tunnel, or None. tunnel_line: one
    truthful line on the tunnel for the console's header and the terminal: open (its URL, and which token), none
    (and why), or failed (why, which token, and what still works).
    """

    port: int
    https_port: int | None
    urls: dict[str, str]
    recorder_url: str
    map_url: str
    certificate: Path | None
    app: tornado.web.Application
    tunnel: ShowTunnel | None
    tunnel_line: str
    _guard: ConnectionGuard
    _closers: list[Callable[[], None]]

    def stop(self) -> None:
        """Stop listening and close idle connections; uploads already acknowledged keep being processed, uploads
        being received are still stored (see :meth:`drain`). The show's tunnel stays open for the next console
        (:meth:`~exsampling.server.tunnel.ShowTunnel.close` ends it)."""
        for close in reversed(self._closers):
            try:
                close()
            except Exception:  # one failing closer must not keep the others open
                log.exception("while stopping the upload server")
        self._closers.clear()
        self._guard.close_idle()

    async def drain(self, timeout_s: float = DRAIN_S) -> bool:
        """Wait (at most ``timeout_s``) until every upload whose body had arrived is stored; True if all were."""
        ctx: Context = self.app.settings["exsampling"]
        deadline = time.monotonic() + timeout_s
        while ctx.receiving and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        return ctx.receiving == 0

    async def hand_over(self, timeout_s: float = DRAIN_S) -> bool:
        """Stop for good before another process listens in this server's place: stop listening, store the uploads
        whose body had arrived (at most ``timeout_s``), then end every connection, so that nothing is acknowledged
        here once this returns (a phone whose upload was still arriving sends it again, to the new server, with
        its upload id). True if every arrived upload was stored."""
        self.stop()
        drained = await self.drain(timeout_s)
        self._guard.close_all()
        return await self.drain(timeout_s) and drained  # an upload whose body completed just before the close


async def start(cfg: Config, pipeline: Pipeline, show: ShowState, host: str | None = None, port: int | None = None,
                tunnel: bool | None = None, tunnel_agent: Agent | None = None, require_tunnel: bool = False) -> Server:
    """Start the upload server on the running asyncio loop (in a Jupyter kernel: the kernel's; no thread).

    Before listening, files a crash left without a row are swept from the library; once listening, recordings
    a stopped or killed server never processed are queued again.

    Parameters
    ----------
    host, port : override ``[server] host``/``port``; port 0 picks free ports (tests).
    tunnel : open (or reuse) the show's ngrok tunnel; None = when an ngrok token is configured
        (``[server] ngrok_token`` or ``NGROK_AUTHTOKEN``).
    tunnel_agent : the :class:`~exsampling.server.tunnel.Agent` behind the tunnel (default: the real ngrok).
    require_tunnel : a tunnel that cannot open fails the start; by default the server goes on without it (the
        LAN and this machine still work) and :attr:`Server.tunnel_line` says what failed.

    Raises :class:`PortInUse` when a port is taken, :class:`CertificateError` when HTTPS cannot be set up,
    :class:`TunnelError` when a required tunnel cannot open; nothing is left listening after a failure.
    """
    s = cfg.server
    host, port = host or s.host, s.port if port is None else port
    library = pipeline.library
    raise_descriptor_limit()
    quiet_floods("tornado.access", "tornado.general", "tornado.application", "exsampling.server.app",
                 "exsampling.server.connections", "exsampling.server.handlers")
    swept = library.sweep()
    if swept:
        log.warning("removed %d file(s) a crash left without a row", len(swept))
    app = make_app(cfg, pipeline, show)
    ctx: Context = app.settings["exsampling"]
    guard = ConnectionGuard(connection_cap(s.max_connections))
    closers: list[Callable[[], None]] = []
    lan = None if is_loopback(host) else (lan_address() if host in ("0.0.0.0", "::", "") else host)
    show_tunnel = None
    try:
        # plain HTTP on the host itself (0.0.0.0 reaches loopback too), else on loopback and the host
        everywhere = host in ("0.0.0.0", "::", "") or is_loopback(host)
        http, http_port = _listen(app, port, [host] if everywhere else ["127.0.0.1", host], guard, cfg)
        closers.append(http.stop)
        urls = {"local": with_token(f"http://127.0.0.1:{http_port}/", show.token)}
        https_port = certificate = None
        if not is_loopback(host) and s.tls:
            tls = library.root / "tls"
            certificate, key = ensure_certificate(tls, [lan] if lan else [])
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(certificate, key)
            https, https_port = _listen(app, port + 1 if port else 0, [host], guard, cfg, context)
            closers.append(https.stop)
            ctx.join = JoinInfo(f"https://{lan or '127.0.0.1'}:{https_port}", fingerprint(certificate),
                                lan or "127.0.0.1", authority_in(tls))
        if lan:
            scheme, lan_port = ("https", https_port) if https_port else ("http", http_port)
            urls["lan"] = with_token(f"{scheme}://{lan}:{lan_port}/", show.token)
            if https_port:
                urls["join"] = f"http://{lan}:{http_port}/join?{urlencode({'token': show.token})}"
        token, source = ngrok_token(s.ngrok_token)
        tunnel_line = ("tunnel: off" if tunnel is False else
                       "tunnel: none (no ngrok token in [server] ngrok_token or NGROK_AUTHTOKEN)")
        if tunnel or (tunnel is None and token):
            which = f"token from {source}" if source else "no ngrok token"
            show_tunnel = ShowTunnel(library, tunnel_agent or NgrokAgent(library.root / "tunnel"))
            try:
                public = await asyncio.get_running_loop().run_in_executor(
                    None, show_tunnel.ensure, http_port, token, s.ngrok_domain)
            except TunnelError as exc:
                show_tunnel = None
                lan_way = urls.get("join") or urls.get("lan")
                still = f"phones on the LAN still join at {lan_way}" if lan_way else \
                    "only this machine reaches the recorder (listening on loopback)"
                tunnel_line = f"tunnel: failed: {exc} ({which}); {still}"
                if require_tunnel:
                    raise TunnelError(tunnel_line) from exc
                log.warning("%s", tunnel_line)
            else:
                urls["public"] = with_token(public, show.token)
                tunnel_line = f"tunnel: {public} (ngrok, {which})"
        elif s.public_url:
            urls["public"] = with_token(s.public_url, show.token)
            tunnel_line = f"tunnel: none; public URL {s.public_url} from [server] public_url"
    except BaseException:
        for close in reversed(closers):
            close()
        raise
    for intake in pipeline.unfinished():  # acknowledged before a stop or a crash, never processed
        ctx.process(intake)
    recorder_url = urls.get("public") or urls.get("join") or urls.get("lan") or urls["local"]
    return Server(http_port, https_port, urls, recorder_url, f"http://127.0.0.1:{http_port}/map", certificate,
                  app, show_tunnel, tunnel_line, guard, closers)
