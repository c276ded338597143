"""The upload server's request handlers (routes and bodies in docs/http.md) and the state they share; the upload
route itself is :mod:`~exsampling.server.uploads`.

:class:`ShowHandler` is the base of every route: JSON refusals, who the client is (the tunnel's
``X-Forwarded-For`` is trusted from loopback only), this machine's own routes (peer *and* ``Host``), the LAN gate
(plain HTTP from the LAN reaches the join page only, when HTTPS serves the LAN) and no token in any log line.
A stored upload's chain runs in the background, after the uploads arriving at that moment are answered
(:meth:`Context.process`).
"""
from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import urlencode

import tornado.httputil
import tornado.web

from ..config import Config
from ..diskspace import DiskSpace
from ..show_state import ShowState
from .checks import (
    MAX_SAMPLES_LISTED,
    RateLimiter,
    Refusal,
    check_header_size,
)
from .network import is_loopback, with_token
from .shapes import map_sample_json, recording_json, show_json
from .stranded import Stranded

if TYPE_CHECKING:  # the pipeline loads the signal stack; the handlers only hold it
    from ..pipeline import Intake, Pipeline
    from .uploads import Storer

log = logging.getLogger(__name__)
access_log = logging.getLogger("tornado.access")

#: Longest a stored recording waits for a quiet moment (no upload arriving) before it is processed, in seconds.
PROCESS_DEFER_S = 2.0
#: Host names that are this machine (a page elsewhere that rebinds its own name to 127.0.0.1 sends its own).
LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1", "[::1]"})


@dataclass(frozen=True)
class JoinInfo:
    """What the LAN join page shows: the HTTPS recorder's origin, its certificate's fingerprint, the LAN
    address, and the show's certificate authority (None without one)."""

    origin: str
    fingerprint: str
    host: str
    authority: Any


@dataclass
class Context:
    """What the handlers share: the pipeline and show, the limiter, uploads being received and stored, the
    processing queue."""

    cfg: Config
    pipeline: Pipeline
    show: ShowState
    limiter: RateLimiter
    storer: Storer
    waiting: deque[Intake] = field(default_factory=deque)  # stored, not yet handed to the pipeline
    feeder: asyncio.Task[None] | None = None
    processing: set[asyncio.Future[None]] = field(default_factory=set)  # handed to the pipeline, not yet done
    join: JoinInfo | None = None  # set when HTTPS serves the LAN: plain HTTP from the LAN is then the join page
    receiving: int = 0  # uploads whose body has arrived and that are being stored
    buffered: int = 0  # bytes of request bodies held (in memory, or spooled to disk)
    spool_writer: ThreadPoolExecutor = field(  # writes uploads' audio as it arrives (see .forms.Spool)
        default_factory=lambda: ThreadPoolExecutor(1, thread_name_prefix="exsampling-spool"))
    photo_checker: ThreadPoolExecutor = field(  # decodes photos to check them, one at a time (bounded memory)
        default_factory=lambda: ThreadPoolExecutor(1, thread_name_prefix="exsampling-photo"))

    @property
    def max_body_bytes(self) -> int:
        return int(self.cfg.server.max_upload_mb * 2 ** 20)

    def process(self, intake: Intake) -> None:
        """Run the chain for ``intake`` in the background, after the uploads arriving now are answered (see
        :meth:`_feed`); a crash marks the recording "failed"."""
        self.waiting.append(intake)
        if self.feeder is None or self.feeder.done():
            self.feeder = asyncio.ensure_future(self._feed())

    async def _feed(self) -> None:
        """Hand stored recordings to the pipeline's queue in arrival order (it drains them in batches, first in,
        first on stage). Acknowledging a crowd comes first: a recording waits while bodies are arriving or being
        stored, at most :data:`PROCESS_DEFER_S` seconds. What is still waiting when the process stops is in the
        library as "received", for the next start."""
        while self.waiting and not self.pipeline.closed:
            intake = self.waiting[0]
            while (self.receiving or self.buffered) and time.perf_counter() - intake.stored_at < PROCESS_DEFER_S:
                await asyncio.sleep(0.02)
            if self.pipeline.closed:
                return
            self.waiting.popleft()
            task = asyncio.ensure_future(self._process(intake))
            self.processing.add(task)  # held until done: the loop keeps only weak references to tasks
            task.add_done_callback(self.processing.discard)

    async def _process(self, intake: Intake) -> None:
        try:
            await self.pipeline.process_async(intake)
        except Exception as exc:  # the participant's page must learn it failed, not wait forever
            if self.pipeline.closed:  # stopped meanwhile: the recording waits, "received", for the next start
                return
            self.stranded.failed(intake, exc)  # marked "failed", or kept for when the disk has room again

    @cached_property
    def disk(self) -> DiskSpace:
        """The library's disk and the room kept free on it (``[server] disk_reserve_mb``)."""
        return DiskSpace(self.pipeline.library.root, int(self.cfg.server.disk_reserve_mb * 2 ** 20))

    @cached_property
    def stranded(self) -> Stranded:
        """Recordings whose failure could not be recorded, or that wait for disk space."""
        return Stranded(self.pipeline, self.disk, self.process)


def log_request(handler: tornado.web.RequestHandler) -> None:
    """The access log: method, path (never the query string, which holds the show token), status, time;
    a refusal is a warning, one line a minute per kind (see :class:`~.connections.OncePerMinute`)."""
    status, request = handler.get_status(), handler.request
    line = f"{request.method} {request.path} ({request.remote_ip}) %d %.0f ms"
    elapsed_ms = 1000.0 * request.request_time()
    if status < 400:
        access_log.info(line, status, elapsed_ms)
    else:
        access_log.log(logging.WARNING if status < 500 else logging.ERROR, line, status, elapsed_ms,
                       extra={"kind": f"{status} {request.method} {request.path}"})


class ShowHandler(tornado.web.RequestHandler):
    """What every route shares: JSON refusals, who the client is, this machine's own routes, the LAN gate.

    ``over_lan_http``: whether a phone on the LAN may reach this route over plain HTTP. ``phone_recorder``: a
    route of the phone's-own-recorder path (the recorder page, its show state, uploads and their progress),
    reachable over plain HTTP on the LAN when ``[server] lan_http_uploads`` allows. When the LAN has its HTTPS
    listener, everything else answers it with the way to the join page (the in-page recorder needs HTTPS).
    """

    ctx: Context
    over_lan_http = False
    phone_recorder = False

    def prepare(self) -> None:
        check_header_size(self.request)
        join = self.ctx.join
        if join is None or self.request.protocol != "http" or is_loopback(self.remote_ip) or self.over_lan_http:
            return
        if self.phone_recorder and self.ctx.cfg.server.lan_http_uploads:
            return
        if self.request.method in ("GET", "HEAD") and not self.request.path.startswith("/api/"):
            token = self.get_query_argument("token", "")
            self.redirect("/join" + (f"?{urlencode({'token': token})}" if token else ""))
            return
        raise Refusal(403, "use_https", "on the LAN the show takes sounds over HTTPS only: open the join page "
                      f"(http://{join.host}:{self.request.host.rpartition(':')[2]}/join)")

    def _request_summary(self) -> str:
        # Tornado's own summary holds the query string, and so the show token: keep it out of every log line.
        return f"{self.request.method} {self.request.path} ({self.request.remote_ip})"

    def log_exception(self, typ: Any, value: BaseException | None, tb: Any) -> None:
        if value is not None and not isinstance(value, tornado.web.HTTPError) and self.ctx.disk.explains(value):
            log.warning("%s: the library's disk is full (%s)", self._request_summary(), value)  # no traceback
            return
        super().log_exception(typ, value, tb)

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        exc = kwargs.get("exc_info", (None, None))[1]
        if isinstance(exc, Refusal):
            for name, value in exc.headers.items():
                self.set_header(name, value)
            body = {"error": exc.code, "message": exc.message, **exc.extra}
        elif exc is not None and not isinstance(exc, tornado.web.HTTPError) and self.ctx.disk.explains(exc):
            self.set_status(507)
            body = {"error": "disk_full", "message": "the show's disk is full; ask again in a moment"}
        else:
            body = {"error": f"http_{status_code}", "message": self._reason}
        self.finish(body)

    @property
    def remote_ip(self) -> str:
        """The peer's address ("" for a socket without one)."""
        return self.request.remote_ip or ""

    @property
    def forwarded(self) -> bool:
        """True when the request came through a proxy or tunnel (it reaches us on loopback, with the header)."""
        return is_loopback(self.remote_ip) and "X-Forwarded-For" in self.request.headers

    @property
    def client(self) -> str:
        """The client's address: the tunnel's ``X-Forwarded-For`` (the hop it appended) only from loopback."""
        if self.forwarded:
            return self.request.headers["X-Forwarded-For"].split(",")[-1].strip()
        return self.remote_ip

    @property
    def is_local(self) -> bool:
        """A request from this machine itself, not through the tunnel, naming this machine in ``Host`` (a page
        elsewhere whose name was rebound to 127.0.0.1 sends its own name there)."""
        return is_loopback(self.remote_ip) and not self.forwarded and self.request.host_name in LOCAL_HOSTS

    def require_local(self) -> None:
        if not self.is_local:
            raise Refusal(403, "local_only", "this is for the performer's own machine")


class ApiHandler(ShowHandler):
    """Base for the API routes: no caching, the show token."""

    def initialize(self, ctx: Context) -> None:
        self.ctx = ctx

    def set_default_headers(self) -> None:
        self.set_header("Cache-Control", "no-store")
        self.set_header("X-Content-Type-Options", "nosniff")
        self.set_header("Referrer-Policy", "no-referrer")  # the page's URL carries the token

    def check_token(self, given: str | None) -> None:
        """Refuse (403 ``bad_token``) unless ``given`` is the show's token."""
        if not given:
            raise Refusal(403, "bad_token", "this link has no show key: scan the show's QR code again")
        if not secrets.compare_digest(given.encode(), self.ctx.show.token.encode()):
            raise Refusal(403, "bad_token", "this link's show key is wrong or old: scan the show's QR code again")

    def request_token(self) -> str | None:
        """The token from the query string (``?token=``) or the ``X-Exsampling-Token`` header."""
        return self.get_query_argument("token", None) or self.request.headers.get("X-Exsampling-Token")


class NotFound(ApiHandler):
    def prepare(self) -> None:
        super().prepare()
        if not self._finished:
            raise Refusal(404, "not_found", f"nothing at {self.request.path}")


class Health(ApiHandler):
    over_lan_http = True

    def get(self) -> None:
        self.set_header("Content-Type", "text/plain; charset=utf-8")
        self.finish("ok\n")


class ShowInfo(ApiHandler):
    phone_recorder = True
    def get(self) -> None:
        self.check_token(self.request_token())
        pipeline = self.ctx.pipeline
        self.finish(show_json(self.ctx.show, self.ctx.cfg, pipeline.library, pipeline.rate))


class RecordingProgress(ApiHandler):
    phone_recorder = True
    def get(self, recording_id: str) -> None:
        self.check_token(self.request_token())
        library = self.ctx.pipeline.library
        try:
            rec = library.recording(int(recording_id))
        except KeyError:
            raise Refusal(404, "not_found", f"no recording {recording_id}") from None
        self.finish(recording_json(rec, library.samples(recording_id=rec.id)))


class SampleList(ApiHandler):
    def get(self) -> None:
        self.require_local()
        try:
            limit = int(self.get_query_argument("limit", "200"))
        except ValueError:
            raise Refusal(400, "invalid_field", "limit must be an integer", field="limit") from None
        limit = max(1, min(limit, MAX_SAMPLES_LISTED))
        samples = self.ctx.pipeline.library.samples(limit=limit)
        self.finish({"samples": [map_sample_json(s) for s in samples]})


class Join(ApiHandler):
    """``GET /join``: on plain HTTP, for a phone on the LAN: how to pass its browser's certificate warning, the
    certificate's fingerprint to compare, and the way on to the HTTPS recorder."""

    over_lan_http = True

    def get(self) -> None:
        join = self.ctx.join
        if join is None:
            raise Refusal(404, "not_found", "this show has no LAN recorder (it serves no HTTPS)")
        token = self.get_query_argument("token", "")
        own = ("/?" + urlencode({"token": token}) if token else "/") if self.ctx.cfg.server.lan_http_uploads else None
        self.set_header("Content-Security-Policy", f"default-src 'self'; connect-src 'self' {join.origin}; "
                        "style-src 'self'; script-src 'self'; img-src 'self' data:; frame-ancestors 'none'")
        self.render("join.html", recorder_url=with_token(f"{join.origin}/", token) if token else f"{join.origin}/",
                    fingerprint=join.fingerprint, host=join.host, authority=join.authority, own_recorder_url=own)


class JoinFile(ApiHandler):
    """The show's certificate authority, for house devices to install once (see ``exsampling ca``)."""

    over_lan_http = True
    TYPES: ClassVar[dict[str, str]] = {"exsampling-ca.pem": "application/x-x509-ca-cert",
                                       "exsampling.mobileconfig": "application/x-apple-aspen-config"}

    def get(self, name: str) -> None:
        authority = self.ctx.join.authority if self.ctx.join else None
        if authority is None:
            raise Refusal(404, "not_found", "this show has no certificate authority (see 'exsampling ca')")
        path = authority.cert if name == "exsampling-ca.pem" else authority.profile
        self.set_header("Content-Type", self.TYPES[name])
        self.set_header("Content-Disposition", f'attachment; filename="{name}"')
        self.finish(path.read_bytes())


class Page(ShowHandler, tornado.web.StaticFileHandler):
    """The recorder's and the map's files, with a policy that allows nothing from elsewhere.

    ``file`` fixes the file a route serves (``/`` → index.html, ``/map`` → map.html); ``local_only`` keeps a
    page for this machine (the map).
    """

    #: What the join page needs over plain HTTP on the LAN; and the phone's-own-recorder page (index.html).
    LAN_FILES = frozenset({"join.js", "style.css"})
    PHONE_FILES = frozenset({"recorder.js", "strings.js", "style.css"})

    def initialize(self, path: str, ctx: Context, file: str | None = None,  # type: ignore[override]  # + ours
                   local_only: bool = False) -> None:
        super().initialize(path)
        self.ctx, self.file, self.local_only = ctx, file, local_only

    def prepare(self) -> None:
        self.over_lan_http = self.file is None and self.path_args[0] in self.LAN_FILES
        self.phone_recorder = self.file == "index.html" or (self.file is None and self.path_args[0] in self.PHONE_FILES)
        super().prepare()
        if self.local_only and not self._finished:
            self.require_local()

    def parse_url_path(self, url_path: str) -> str:
        return self.file or super().parse_url_path(url_path)

    def set_extra_headers(self, path: str) -> None:
        self.set_header("Content-Security-Policy",
                        "default-src 'self'; img-src 'self' blob: data:; media-src 'self' blob:; "
                        "style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'self'")
        self.set_header("Referrer-Policy", "no-referrer")
        self.set_header("X-Content-Type-Options", "nosniff")
        self.set_header("Cache-Control", "no-cache")  # revalidate (ETag) so a fixed page reaches phones
