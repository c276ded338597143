"""The upload server's request handlers (routes and bodies in docs/http.md) and the state they share.

:class:`ShowHandler` is the base of every route: JSON refusals, who the client is (the tunnel's
``X-Forwarded-For`` is trusted from loopback only), this machine's own routes (peer *and* ``Host``), the LAN gate
(plain HTTP from the LAN reaches the join page only, when HTTPS serves the LAN) and no token in any log line.
:class:`Upload` streams the body with a bound, checks every field and the audio's header, stores the recording
(:class:`Storer`, in batches) and answers once it is durable; the chain then runs in the background, after the
uploads arriving at that moment are answered (:meth:`Context.process`).
"""
from __future__ import annotations

import asyncio
import logging
import math
import secrets
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import urlencode

import tornado.httputil
import tornado.web

from ..audio import AudioError
from ..config import Config
from ..records import Recording, RecordingStatus
from ..show_state import ShowState
from .checks import (
    AUDIO_MAGIC,
    AUDIO_STATUS,
    MAX_SAMPLES_LISTED,
    RateLimiter,
    Refusal,
    check_photo,
    parse_device,
    parse_location,
    parse_name,
    parse_upload_id,
    sniff,
)
from .network import is_loopback, with_token
from .shapes import created_json, map_sample_json, recording_json, show_json

if TYPE_CHECKING:  # the pipeline loads the signal stack; the handlers only hold it
    from ..library import Received
    from ..pipeline import Intake, Pipeline

log = logging.getLogger(__name__)
access_log = logging.getLogger("tornado.access")

#: Request bodies held in memory at once, all uploads together, in bytes: past it an upload is asked to come back
#: (503, which the recorder retries by itself), so a crowd of slow 20-MiB uploads cannot exhaust the laptop.
MAX_BUFFERED_BYTES = 512 * 2 ** 20
#: Longest a stored recording waits for a quiet moment (no upload arriving) before it is processed, in seconds.
PROCESS_DEFER_S = 2.0
#: Host names that are this machine (a page elsewhere that rebinds its own name to 127.0.0.1 sends its own).
LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1", "[::1]"})


class Storer:
    """Stores uploads beside the loop, on one thread, in batches: the uploads that arrive while one batch is being
    written share the next batch's commits (a crowd's acknowledgements wait on the disk once, not 200 times)."""

    def __init__(self, pipeline: Pipeline, max_duration_s: float) -> None:
        self.pipeline, self.max_duration_s = pipeline, max_duration_s
        self._pending: list[tuple[Received, asyncio.Future[Intake]]] = []
        self._lock = threading.Lock()
        self._running = False

    def store(self, arrival: Received) -> asyncio.Future[Intake]:
        """A future for ``arrival``'s :class:`~exsampling.pipeline.Intake` (or what refused it). Works after the
        server stopped listening too: an upload already received is always stored."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Intake] = loop.create_future()
        with self._lock:
            self._pending.append((arrival, future))
            start, self._running = not self._running, True
        if start:  # a thread while there is work, none when idle
            threading.Thread(target=self._drain, args=(loop,), name="exsampling-store").start()
        return future

    def _drain(self, loop: asyncio.AbstractEventLoop) -> None:
        while True:
            with self._lock:
                batch, self._pending = self._pending, []
                if not batch:
                    self._running = False
                    return
            results: list[Any]
            try:
                results = list(self.pipeline.receive_all([arrival for arrival, _ in batch], self.max_duration_s))
            except Exception as exc:  # the library failed as a whole (disk full…): every upload hears it
                results = [exc] * len(batch)
            for (_, future), result in zip(batch, results, strict=True):
                loop.call_soon_threadsafe(_settle, future, result)


def _settle(future: asyncio.Future[Any], result: Any) -> None:
    if future.done():  # its request went away meanwhile
        return
    if isinstance(result, BaseException):
        future.set_exception(result)
    else:
        future.set_result(result)


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
    """What the handlers share: the pipeline and show, the limiter, uploads being stored, the processing queue."""

    cfg: Config
    pipeline: Pipeline
    show: ShowState
    limiter: RateLimiter
    storer: Storer
    waiting: deque[Intake] = field(default_factory=deque)  # stored, not yet handed to the pipeline
    feeder: asyncio.Task[None] | None = None
    join: JoinInfo | None = None  # set when HTTPS serves the LAN: plain HTTP from the LAN is then the join page
    receiving: int = 0  # uploads whose body has arrived and that are being stored
    buffered: int = 0  # bytes of request bodies held in memory

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
        """Hand stored recordings to the pipeline one at a time. Acknowledging a crowd comes first: a recording
        waits while bodies are arriving or being stored, at most :data:`PROCESS_DEFER_S` seconds. What is still
        waiting when the process stops is in the library as "received", for the next start."""
        while self.waiting and not self.pipeline.closed:
            intake = self.waiting[0]
            while (self.receiving or self.buffered) and time.perf_counter() - intake.stored_at < PROCESS_DEFER_S:
                await asyncio.sleep(0.02)
            if self.pipeline.closed:
                return
            self.waiting.popleft()
            await self._process(intake)

    async def _process(self, intake: Intake) -> None:
        try:
            await self.pipeline.process_async(intake)
        except Exception as exc:  # the participant's page must learn it failed, not wait forever
            if self.pipeline.closed:  # stopped meanwhile: the recording waits, "received", for the next start
                return
            log.exception("processing recording %d failed", intake.recording.id)
            self.pipeline.library.set_recording_status(intake.recording.id, RecordingStatus.FAILED,
                                                      f"processing failed: {exc}")


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

    ``over_lan_http``: whether a phone on the LAN may reach this route over plain HTTP. When the LAN has its
    HTTPS listener, everything else answers it with the way to the join page (the recorder needs HTTPS).
    """

    ctx: Context
    over_lan_http = False

    def prepare(self) -> None:
        join = self.ctx.join
        if join is None or self.request.protocol != "http" or is_loopback(self.remote_ip) or self.over_lan_http:
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

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        exc = kwargs.get("exc_info", (None, None))[1]
        if isinstance(exc, Refusal):
            for name, value in exc.headers.items():
                self.set_header(name, value)
            body = {"error": exc.code, "message": exc.message, **exc.extra}
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
    def get(self) -> None:
        self.check_token(self.request_token())
        pipeline = self.ctx.pipeline
        self.finish(show_json(self.ctx.show, self.ctx.cfg, pipeline.library, pipeline.rate))


@tornado.web.stream_request_body
class Upload(ApiHandler):
    """``POST /api/recordings``: checks that cost nothing come before the body; the body is bounded as it streams;
    the recording is stored on the strength of its header and answered at once, then processed."""

    def prepare(self) -> None:
        self.body, self.held, self.arrived = bytearray(), 0, 0
        self.refusal: Refusal | None = None
        super().prepare()
        if self._finished:
            return
        length = self.request.headers.get("Content-Length")
        if length is not None and length.isdigit() and int(length) > self.ctx.max_body_bytes:
            raise self.too_large(int(length))  # at once: a body that size is never read
        token = self.request_token()
        if token is not None:  # a token in the URL decides before a byte of the body is kept
            try:
                self.check_token(token)
                self.check_open_and_rate()
            except Refusal as exc:
                # Answered once the body is in (dropped as it arrives): a browser, or Python's TLS client, that
                # hears an answer and a closed connection while still sending reports a network error instead,
                # and a phone would retry what is refused. The body is bounded by the size and time limits.
                self.refusal = exc

    @property
    def device(self) -> str:
        """The phone's own id (``X-Exsampling-Device``), or "" (see :func:`~.checks.parse_device`)."""
        return parse_device(self.request.headers.get("X-Exsampling-Device"))

    def check_open_and_rate(self) -> None:
        if not self.ctx.show.is_open:
            raise Refusal(409, "show_closed", "the performer has closed the show for new sounds; keep your "
                          "recording and send it when the show opens again")
        wait_s = math.ceil(self.ctx.limiter.wait_s(self.client, self.device))
        if wait_s:
            raise Refusal(429, "rate_limited", f"too many sounds from you in a short time; try again in {wait_s} s",
                          headers={"Retry-After": str(wait_s)}, retry_after_s=wait_s)

    def too_large(self, size: int) -> Refusal:
        return Refusal(413, "too_large", f"the upload is {size / 2**20:.1f} MiB; at most "
                       f"{self.ctx.cfg.server.max_upload_mb:g} MiB is taken")

    def data_received(self, chunk: bytes) -> None:
        if self._finished:  # already answered: the rest of the body is dropped, the connection closes
            return
        self.arrived += len(chunk)
        try:
            if self.arrived > self.ctx.max_body_bytes:  # refused or not, a body is never read past the limit
                raise self.refusal or self.too_large(self.arrived)
            if self.refusal is not None:  # dropped as it arrives, answered at its end
                return
            if self.ctx.buffered + len(chunk) > MAX_BUFFERED_BYTES:
                raise Refusal(503, "busy", "the show is receiving many sounds right now; yours is sent again in a "
                              "moment", headers={"Retry-After": "5"}, retry_after_s=5)
        except Refusal as exc:
            self._release()
            self.send_error(exc.status_code, exc_info=(Refusal, exc, None))
            return
        self.body += chunk
        self.held += len(chunk)
        self.ctx.buffered += len(chunk)

    def _release(self) -> None:
        self.body = bytearray()
        self.ctx.buffered -= self.held
        self.held = 0

    def on_finish(self) -> None:
        self._release()

    def on_connection_close(self) -> None:
        self._release()
        super().on_connection_close()

    async def post(self) -> None:
        if self._finished:  # refused while the body streamed in
            return
        if self.refusal is not None:
            raise self.refusal
        self.ctx.receiving += 1
        try:
            await self._receive()
        finally:
            self.ctx.receiving -= 1

    async def _receive(self) -> None:
        args: dict[str, list[bytes]] = {}
        files: dict[str, list[tornado.httputil.HTTPFile]] = {}
        try:
            tornado.httputil.parse_body_arguments(self.request.headers.get("Content-Type", ""), bytes(self.body),
                                                  args, files)
        except tornado.httputil.HTTPInputError:
            raise Refusal(400, "bad_form", "the upload is not a complete multipart/form-data form (cut short, "
                          "no boundary, or a broken part); send it again from the recorder page") from None
        finally:
            self._release()
        form = {k: self._text(k, v[0]) for k, v in args.items()}
        if self.request_token() is None:
            self.check_token(form.get("token"))
            self.check_open_and_rate()
        upload_id = parse_upload_id(form.get("upload_id"))
        audio = files.get("audio", [None])[0]
        if audio is None:
            raise Refusal(400, "missing_audio", "the form has no 'audio' file")
        arrival = self._arrival(audio.body, form, files.get("photo", [None])[0], upload_id)
        rec, first = await self._store(arrival)
        self.set_status(201 if first else 200)
        self.set_header("Location", f"/api/recordings/{rec.id}")
        self.finish(created_json(rec))

    def _text(self, name: str, raw: bytes) -> str:
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            raise Refusal(400, "invalid_field", f"{name} is not UTF-8 text", field=name) from None

    def _arrival(self, audio: bytes, form: dict[str, str], photo_file: tornado.httputil.HTTPFile | None,
                 upload_id: str | None) -> Received:
        """Check every field now; the recording to store."""
        from ..library import Received

        location = parse_location(form.get("lat"), form.get("lon"), form.get("accuracy"))
        name = parse_name(form.get("name"))
        kept_photo = (photo_file.body, check_photo(photo_file.body)) if photo_file is not None and photo_file.body \
            else None
        return Received(audio, sniff(audio, AUDIO_MAGIC) or "bin", participant=name, location=location,
                        photo=kept_photo, source="upload", upload_id=upload_id)

    async def _store(self, arrival: Received) -> tuple[Recording, bool]:
        """Store the recording, or find the one its upload id stored before (a retry, perhaps after a restart,
        from a phone that never heard the first answer): ``(recording, first time)``."""
        from ..library import DuplicateUpload

        try:
            intake = await self.ctx.storer.store(arrival)
        except DuplicateUpload as dup:
            return dup.recording, False
        except AudioError as exc:
            raise Refusal(AUDIO_STATUS.get(exc.code, 422), exc.code, str(exc)) from exc
        self.ctx.limiter.record(self.client, self.device)
        self.ctx.process(intake)
        return intake.recording, True


class RecordingProgress(ApiHandler):
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
        self.set_header("Content-Security-Policy", f"default-src 'self'; connect-src 'self' {join.origin}; "
                        "style-src 'self'; script-src 'self'; img-src 'self' data:; frame-ancestors 'none'")
        self.render("join.html", recorder_url=with_token(f"{join.origin}/", token) if token else f"{join.origin}/",
                    fingerprint=join.fingerprint, host=join.host, authority=join.authority)


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

    #: What the join page needs over plain HTTP on the LAN.
    LAN_FILES = frozenset({"join.js", "style.css"})

    def initialize(self, path: str, ctx: Context, file: str | None = None,  # type: ignore[override]  # + ours
                   local_only: bool = False) -> None:
        super().initialize(path)
        self.ctx, self.file, self.local_only = ctx, file, local_only

    def prepare(self) -> None:
        self.over_lan_http = self.file is None and self.path_args[0] in self.LAN_FILES
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
