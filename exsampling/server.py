"""The participants' upload server: serves the recorder page, takes recordings, reports what became of them.

One Tornado application (:func:`make_app`) runs both inside the console's Jupyter kernel (on the kernel's
own asyncio loop, :func:`start`) and from ``exsampling serve``. The HTTP contract is docs/http.md.

Listeners (see :func:`start`): plain HTTP at ``[server] port`` (the console, Max's jweb at
``http://127.0.0.1:8765/map``, the tunnel's target; phones on the LAN get only the join page there), and,
when listening beyond localhost with ``[server] tls``, HTTPS with the show's own certificate on ``port + 1``
for phones on the LAN (a phone only gets a microphone and a location in a secure context). Only this
application is ever put behind a tunnel, never the console's Jupyter/Voilà port.

An acknowledged recording is never lost: it is stored (file and row) before the answer, processed from the
library's queue, found again after a crash or a stop (:meth:`~exsampling.pipeline.Pipeline.unfinished`), and
a phone retrying with its ``upload_id`` gets the first answer, even after a restart.
"""
from __future__ import annotations

import asyncio
import errno
import io
import ipaddress
import logging
import math
import os
import re
import secrets
import socket
import ssl
import threading
import time
import unicodedata
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import segno
import tornado.httputil
import tornado.netutil
import tornado.web

from . import photo
from .audio import AudioError
from .certificate import CertificateError, authority_in, ensure_certificate, fingerprint
from .config import PROJECT_ROOT, Config
from .connections import ConnectionGuard, GuardedHTTPServer, connection_cap, quiet_floods, raise_descriptor_limit
from .pitch import note_name
from .records import Location, Recording, Sample, outcome_json
from .tunnel import Agent, NgrokAgent, ShowTunnel, TunnelError

__all__ = ["CertificateError", "PortInUse", "Server", "Show", "TunnelError", "ensure_certificate", "lan_address",
           "make_app", "qr_png", "qr_text", "start"]

if TYPE_CHECKING:  # the CLI imports this module for every command: keep its import light
    from .library import Library, Received
    from .pipeline import Intake, Pipeline

log = logging.getLogger(__name__)
access_log = logging.getLogger("tornado.access")

#: The recorder's and the map's static files (HTML, CSS, JS), served as they are: no build step.
RECORDER_DIR = PROJECT_ROOT / "recorder"

#: Longest participant name kept, in characters (after NFC normalisation).
MAX_NAME_CHARS = 60
#: Longest performer prompt, in characters.
MAX_PROMPT_CHARS = 280
#: Most samples ``GET /api/samples`` returns at once.
MAX_SAMPLES_LISTED = 500
#: Request bodies held in memory at once, all uploads together, in bytes: past it an upload is asked to come back
#: (503, which the recorder retries by itself), so a crowd of slow 20-MiB uploads cannot exhaust the laptop.
MAX_BUFFERED_BYTES = 512 * 2 ** 20
#: Seconds a stopping server waits for the uploads it is receiving to be stored.
DRAIN_S = 10.0
#: Longest a stored recording waits for a quiet moment (no upload arriving) before it is processed, in seconds.
PROCESS_DEFER_S = 2.0
#: Host names that are this machine (a page elsewhere that rebinds its own name to 127.0.0.1 sends its own).
LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1", "[::1]"})

AUDIO_MAGIC = ((b"RIFF", "wav"), (b"RF64", "wav"), (b"fLaC", "flac"), (b"OggS", "ogg"), (b"ID3", "mp3"),
               (b"\xff\xfb", "mp3"), (b"\xff\xf3", "mp3"), (b"FORM", "aiff"))
IMAGE_MAGIC = ((b"\xff\xd8\xff", "jpg"), (b"\x89PNG\r\n\x1a\n", "png"), (b"GIF8", "gif"))

# Status codes for each AudioError code: not audio at all → 415; audio we will not use → 422.
AUDIO_STATUS = {"undecodable": 415, "empty": 422, "too_long": 422, "invalid_samples": 422, "silent": 422,
                "unsupported_audio": 422}

# Characters that change how a name reads without being seen: line and paragraph separators (Zl, Zp), format
# characters (Cf: zero-width spaces and joiners, direction marks and overrides, soft hyphens, tags), controls,
# surrogates, private use and unassigned code points.
_HIDDEN = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})
_ZWJ = "\u200d"
# Upload and device ids: 8–64 letters, digits, '-' or '_' (they end up in logs and SQLite, never in a path).
_CLIENT_ID = re.compile(r"[A-Za-z0-9_-]{8,64}")


class PortInUse(OSError):
    """The server's port is taken (often: another console kernel, or an earlier ``exsampling serve``)."""


class Refusal(tornado.web.HTTPError):
    """A request refused with a JSON body ``{"error": code, "message": message}`` (docs/http.md)."""

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None,
                 **extra: Any) -> None:
        super().__init__(status, reason=None)
        self.code, self.message, self.headers, self.extra = code, message, headers or {}, extra


# -- the show's public state --------------------------------------------------------------------


class Show:
    """The show's mutable public state, kept in the library's settings so a kernel restart keeps it.

    Parameters
    ----------
    cfg : Config — ``[show] prompt``/``open`` are the first-run defaults, ``[server] token`` the token.
    library : Library — where the state is persisted (settings ``show.token``, ``show.prompt``, ``show.open``).
    token : str or None — the show token participants' links carry; None takes ``[server] token``, else the
        one persisted by an earlier start, else a new random ``secrets.token_urlsafe(8)``. The token in use
        is persisted, so printed QR codes stay valid across restarts.

    Attributes
    ----------
    listeners : list of callables ``f(show)``, called after ``prompt`` or ``is_open`` changes.
    """

    def __init__(self, cfg: Config, library: Library, token: str | None = None) -> None:
        self.cfg, self.library = cfg, library
        self.token: str = (token or cfg.server.token or library.setting("show.token")
                           or secrets.token_urlsafe(8))
        library.set_setting("show.token", self.token)
        self._prompt: str = library.setting("show.prompt", cfg.show.prompt)
        self._open: bool = library.setting("show.open", cfg.show.open)
        self.listeners: list[Callable[[Show], None]] = []

    @property
    def prompt(self) -> str:
        """What the performer asks participants to record (shown on every phone), ≤ 280 characters."""
        return self._prompt

    @prompt.setter
    def prompt(self, text: str) -> None:
        text = str(text).strip()
        if len(text) > MAX_PROMPT_CHARS:
            raise ValueError(f"the prompt is {len(text)} characters long; at most {MAX_PROMPT_CHARS} fit a phone")
        self._set("prompt", text)

    @property
    def is_open(self) -> bool:
        """Whether uploads are taken; a closed show refuses them with 409 ``show_closed``."""
        return self._open

    @is_open.setter
    def is_open(self, value: bool) -> None:
        self._set("open", bool(value))

    def _set(self, name: str, value: Any) -> None:
        if getattr(self, f"_{name}") == value:
            return
        self.library.set_setting(f"show.{name}", value)
        setattr(self, f"_{name}", value)
        for listener in list(self.listeners):
            listener(self)

    def public_state(self) -> dict[str, Any]:
        """What ``GET /api/show`` returns: open, prompt, counts, and the limits the recorder needs.

        ``limits``: ``max_recording_s`` (seconds), ``max_upload_mb`` (MiB), ``sample_rate_hz`` (the rate the
        chain works at: a recorder may send at this rate, nothing above it is used).
        """
        s = self.cfg.server
        return {
            "open": self._open, "prompt": self._prompt, "counts": self.library.counts(),
            "limits": {"max_recording_s": s.max_recording_s, "max_upload_mb": s.max_upload_mb,
                       "sample_rate_hz": self.cfg.audio.sample_rate},
        }


# -- checking what participants send -------------------------------------------------------------


def parse_location(lat: str | None, lon: str | None, accuracy: str | None) -> Location | None:
    """The location from form fields (WGS84 degrees, accuracy radius in metres), or None when none was sent.

    Raises :class:`Refusal` (400 ``invalid_field``) for only one of lat/lon, a value that is not a finite
    number, lat outside ±90, lon outside ±180, or a negative accuracy.
    """
    if not lat and not lon:
        return None
    values = {}
    for name, raw, bound in (("lat", lat, 90.0), ("lon", lon, 180.0), ("accuracy", accuracy, math.inf)):
        if name == "accuracy" and not raw:
            values[name] = None
            continue
        try:
            value = float(raw or "")
        except ValueError:
            raise Refusal(400, "invalid_field", f"{name} = {raw!r} is not a number", field=name) from None
        low = 0.0 if name == "accuracy" else -bound
        if not math.isfinite(value):
            raise Refusal(400, "invalid_field", f"{name} = {raw!r} is not a finite number", field=name)
        if not low <= value <= bound:
            raise Refusal(400, "invalid_field", f"{name} = {raw!r} is outside {low:g}…{bound:g}", field=name)
        values[name] = value
    return Location(values["lat"], values["lon"], values["accuracy"])


def _hidden(name: str, i: int) -> bool:
    """Whether ``name[i]`` is an invisible or line-breaking character (see ``_HIDDEN``)."""
    c = name[i]
    if c == _ZWJ and 0 < i < len(name) - 1 and unicodedata.category(name[i + 1]) == "So" and (
            unicodedata.category(name[i - 1]) in ("So", "Sk") or name[i - 1] == "\ufe0f"):
        return False  # it joins two emoji into one picture (👩‍🎤): nothing hidden
    return unicodedata.category(c) in _HIDDEN


def parse_name(raw: str | None) -> str:
    """The participant's name, NFC-normalised and stripped ("" = anonymous).

    Raises :class:`Refusal` (400 ``invalid_field``) for more than :data:`MAX_NAME_CHARS` characters, or any
    character that is invisible or breaks a line: controls, line/paragraph separators, format characters
    (zero-width spaces, direction marks and overrides, soft hyphens, tags). A zero-width joiner inside an emoji
    sequence is kept.
    """
    name = unicodedata.normalize("NFC", raw or "").strip()
    if len(name) > MAX_NAME_CHARS:
        raise Refusal(400, "invalid_field", f"the name is {len(name)} characters; at most {MAX_NAME_CHARS}",
                      field="name")
    if any(_hidden(name, i) for i in range(len(name))):
        raise Refusal(400, "invalid_field", "the name holds invisible or line-breaking characters", field="name")
    return name


def sniff(data: bytes, table: tuple[tuple[bytes, str], ...]) -> str | None:
    """The file extension whose magic bytes ``data`` starts with (never the client's file name), or None."""
    return next((ext for magic, ext in table if data.startswith(magic)), None)


def sniff_photo(data: bytes) -> str | None:
    """``jpg``/``png``/``gif``/``webp``/``heic`` from the photo's first bytes, or None if it is no image we keep."""
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    if data[4:12] in (b"ftypheic", b"ftypheix", b"ftypmif1", b"ftyphevc"):
        return "heic"
    return sniff(data, IMAGE_MAGIC)


def check_photo(data: bytes) -> str:
    """The photo's kind (``jpg``, …), after refusing what is not an image we keep (415 ``photo_not_image``) and,
    from the header alone, an image of more than :data:`exsampling.photo.MAX_PIXELS` (422 ``photo_too_large``)."""
    kind = sniff_photo(data)
    if kind is None:
        raise Refusal(415, "photo_not_image", "the photo is not a JPEG, PNG, GIF, WebP or HEIC image")
    pixels = photo.pixels(data, kind)
    if pixels is not None and pixels > photo.MAX_PIXELS:
        raise Refusal(422, "photo_too_large", f"the photo has {pixels / 1e6:.0f} megapixels; at most "
                      f"{photo.MAX_PIXELS / 1e6:.0f} are taken: send a smaller one, or none")
    return kind


# -- small shared pieces of the app ---------------------------------------------------------------


class RateLimiter:
    """Recordings stored per phone and per address in any ``window_s`` seconds (sliding windows).

    A phone is its address plus the device id its recorder keeps (one without an id counts as its address);
    ``per_address`` bounds an address whatever ids it sends, high enough for a venue's NAT. :meth:`wait_s` only
    looks; :meth:`record` counts a stored recording, so refused or unauthenticated requests spend nothing.
    """

    def __init__(self, per_device: int, per_address: int, window_s: float) -> None:
        self.per_device, self.per_address, self.window_s = per_device, per_address, window_s
        self._events: dict[tuple[str, ...], deque[float]] = {}

    def _keys(self, address: str, device: str) -> tuple[tuple[tuple[str, ...], int], ...]:
        return ((("phone", address, device), self.per_device), (("address", address), self.per_address))

    def wait_s(self, address: str, device: str = "", now: float | None = None) -> float:
        """0 if ``device`` at ``address`` may store one more recording now, else the seconds until it may."""
        now = time.monotonic() if now is None else now
        wait = 0.0
        for key, limit in self._keys(address, device):
            events = self._events.get(key, ())
            while events and events[0] <= now - self.window_s:
                events.popleft()
            if len(events) >= limit:
                wait = max(wait, events[0] + self.window_s - now)
        return wait

    def record(self, address: str, device: str = "", now: float | None = None) -> None:
        """Count one stored recording for ``device`` at ``address``."""
        now = time.monotonic() if now is None else now
        for key, _ in self._keys(address, device):
            self._events.setdefault(key, deque()).append(now)
        if len(self._events) > 4096:  # forget idle clients so a crowd cannot grow this without bound
            self._events = {k: e for k, e in self._events.items() if e and e[-1] > now - self.window_s}


@dataclass(frozen=True)
class JoinInfo:
    """What the LAN join page shows: the HTTPS recorder's origin, its certificate's fingerprint, the LAN
    address, and the show's certificate authority (None without one)."""

    origin: str
    fingerprint: str
    host: str
    authority: Any


class Storer:
    """Stores uploads beside the loop, on one thread, in batches: the uploads that arrive while one batch is being
    written share the next batch's commits (a crowd's acknowledgements wait on the disk once, not 200 times)."""

    def __init__(self, pipeline: Pipeline, max_duration_s: float) -> None:
        self.pipeline, self.max_duration_s = pipeline, max_duration_s
        self._pending: list[tuple[Received, asyncio.Future]] = []
        self._lock = threading.Lock()
        self._running = False

    def store(self, arrival: Received) -> asyncio.Future:
        """A future for ``arrival``'s :class:`~exsampling.pipeline.Intake` (or what refused it). Works after the
        server stopped listening too: an upload already received is always stored."""
        loop = asyncio.get_running_loop()
        future = loop.create_future()
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
            try:
                results: list[Any] = self.pipeline.receive_all([arrival for arrival, _ in batch], self.max_duration_s)
            except Exception as exc:  # the library failed as a whole (disk full…): every upload hears it
                results = [exc] * len(batch)
            for (_, future), result in zip(batch, results):
                loop.call_soon_threadsafe(_settle, future, result)


def _settle(future: asyncio.Future, result: Any) -> None:
    if future.done():  # its request went away meanwhile
        return
    if isinstance(result, BaseException):
        future.set_exception(result)
    else:
        future.set_result(result)


@dataclass
class _Context:
    """What the handlers share: the pipeline and show, the limiter, uploads being stored, the processing queue."""

    cfg: Config
    pipeline: Pipeline
    show: Show
    limiter: RateLimiter
    storer: Storer
    waiting: deque[Intake] = field(default_factory=deque)  # stored, not yet handed to the pipeline
    feeder: asyncio.Task | None = None
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
        while self.waiting:
            intake = self.waiting[0]
            while (self.receiving or self.buffered) and time.perf_counter() - intake.stored_at < PROCESS_DEFER_S:
                await asyncio.sleep(0.02)
            self.waiting.popleft()
            await self._process(intake)

    async def _process(self, intake: Intake) -> None:
        try:
            await self.pipeline.process_async(intake)
        except Exception as exc:  # the participant's page must learn it failed, not wait forever
            log.exception("processing recording %d failed", intake.recording.id)
            self.pipeline.library.set_recording_status(intake.recording.id, "failed", f"processing failed: {exc}")


def _is_loopback(ip: str) -> bool:
    try:
        return ipaddress.ip_address(ip).is_loopback
    except ValueError:
        return False


class ShowHandler(tornado.web.RequestHandler):
    """What every route shares: JSON refusals, who the client is, this machine's own routes, the LAN gate.

    ``over_lan_http``: whether a phone on the LAN may reach this route over plain HTTP. When the LAN has its
    HTTPS listener, everything else answers it with the way to the join page (the recorder needs HTTPS).
    """

    ctx: _Context
    over_lan_http = False

    def prepare(self) -> None:
        if self.ctx.join is not None and self.request.protocol == "http" and not _is_loopback(self.request.remote_ip) \
                and not self.over_lan_http:
            if self.request.method in ("GET", "HEAD") and not self.request.path.startswith("/api/"):
                token = self.get_query_argument("token", "")
                self.redirect("/join" + (f"?{urlencode({'token': token})}" if token else ""))
                return
            raise Refusal(403, "use_https", "on the LAN the show takes sounds over HTTPS only: open the join page "
                          f"(http://{self.ctx.join.host}:{self.request.host.rpartition(':')[2]}/join)")

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
    def forwarded(self) -> bool:
        """True when the request came through a proxy or tunnel (it reaches us on loopback, with the header)."""
        return _is_loopback(self.request.remote_ip) and "X-Forwarded-For" in self.request.headers

    @property
    def client(self) -> str:
        """The client's address: the tunnel's ``X-Forwarded-For`` (the hop it appended) only from loopback."""
        if self.forwarded:
            return self.request.headers["X-Forwarded-For"].split(",")[-1].strip()
        return self.request.remote_ip

    @property
    def is_local(self) -> bool:
        """A request from this machine itself, not through the tunnel, naming this machine in ``Host`` (a page
        elsewhere whose name was rebound to 127.0.0.1 sends its own name there)."""
        host = self.request.host_name
        return _is_loopback(self.request.remote_ip) and not self.forwarded and host in LOCAL_HOSTS

    def require_local(self) -> None:
        if not self.is_local:
            raise Refusal(403, "local_only", "this is for the performer's own machine")


class ApiHandler(ShowHandler):
    """Base for the API routes: no caching, the show token."""

    def initialize(self, ctx: _Context) -> None:
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


class ShowState(ApiHandler):
    def get(self) -> None:
        self.check_token(self.request_token())
        self.finish(self.ctx.show.public_state())


@tornado.web.stream_request_body
class Upload(ApiHandler):
    """``POST /api/recordings``: checks that cost nothing come before the body; the body is bounded as it streams;
    the recording is stored on the strength of its header and answered at once, then processed."""

    def prepare(self) -> None:
        self.body, self.held = bytearray(), 0
        super().prepare()
        if self._finished:
            return
        token = self.request_token()
        if token is not None:  # a token in the URL lets us refuse before a byte of the body is read
            self.check_token(token)
            self.check_open_and_rate()
        length = self.request.headers.get("Content-Length")
        if length is not None and length.isdigit() and int(length) > self.ctx.max_body_bytes:
            self.refuse_too_large(int(length))

    @property
    def device(self) -> str:
        """The phone's own id (``X-Exsampling-Device``, kept by the recorder), or "" when it sent none."""
        given = self.request.headers.get("X-Exsampling-Device", "")
        return given if _CLIENT_ID.fullmatch(given) else ""

    def check_open_and_rate(self) -> None:
        if not self.ctx.show.is_open:
            raise Refusal(409, "show_closed", "the performer has closed the show for new sounds; keep your "
                          "recording and send it when the show opens again")
        wait_s = math.ceil(self.ctx.limiter.wait_s(self.client, self.device))
        if wait_s:
            raise Refusal(429, "rate_limited", f"too many sounds from you in a short time; try again in {wait_s} s",
                          headers={"Retry-After": str(wait_s)}, retry_after_s=wait_s)

    def refuse_too_large(self, size: int) -> None:
        raise Refusal(413, "too_large", f"the upload is {size / 2**20:.1f} MiB; at most "
                      f"{self.ctx.cfg.server.max_upload_mb:g} MiB is taken")

    def data_received(self, chunk: bytes) -> None:
        if self._finished:  # already refused: the rest of the body is dropped, the connection closes
            return
        try:
            if len(self.body) + len(chunk) > self.ctx.max_body_bytes:
                self.refuse_too_large(len(self.body) + len(chunk))
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
        upload_id = form.get("upload_id") or None
        if upload_id is not None and not _CLIENT_ID.fullmatch(upload_id):
            raise Refusal(400, "invalid_field", "upload_id must be 8–64 letters, digits, '-' or '_'",
                          field="upload_id")
        audio = files.get("audio", [None])[0]
        if audio is None:
            raise Refusal(400, "missing_audio", "the form has no 'audio' file")
        arrival = self._arrival(audio.body, form, files.get("photo", [None])[0], upload_id)
        rec, first = await self._store(arrival)
        self._created(rec, status=201 if first else 200)

    def _text(self, name: str, raw: bytes) -> str:
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            raise Refusal(400, "invalid_field", f"{name} is not UTF-8 text", field=name) from None

    def _arrival(self, audio: bytes, form: dict[str, str], photo_file: tornado.httputil.HTTPFile | None,
                 upload_id: str | None) -> Received:
        """Check every field now; the recording to store."""
        from .library import Received

        location = parse_location(form.get("lat"), form.get("lon"), form.get("accuracy"))
        name = parse_name(form.get("name"))
        kept_photo = (photo_file.body, check_photo(photo_file.body)) if photo_file is not None and photo_file.body \
            else None
        return Received(audio, sniff(audio, AUDIO_MAGIC) or "bin", participant=name, location=location,
                        photo=kept_photo, source="upload", upload_id=upload_id)

    async def _store(self, arrival: Received) -> tuple[Recording, bool]:
        """Store the recording, or find the one its upload id stored before (a retry, perhaps after a restart,
        from a phone that never heard the first answer): ``(recording, first time)``."""
        from .library import DuplicateUpload

        try:
            intake = await self.ctx.storer.store(arrival)
        except DuplicateUpload as dup:
            return dup.recording, False
        except AudioError as exc:
            raise Refusal(AUDIO_STATUS.get(exc.code, 422), exc.code, str(exc)) from exc
        self.ctx.limiter.record(self.client, self.device)
        self.ctx.process(intake)
        return intake.recording, True

    def _created(self, rec: Recording, status: int = 201) -> None:
        self.set_status(status)
        self.set_header("Location", f"/api/recordings/{rec.id}")
        self.finish(recording_json(rec, []) | {"participant": rec.participant, "location": location_json(rec.location)})


class RecordingStatus(ApiHandler):
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
    TYPES = {"exsampling-ca.pem": "application/x-x509-ca-cert",
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

    def initialize(self, path: str, ctx: _Context, file: str | None = None, local_only: bool = False) -> None:
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


# -- JSON shapes (docs/http.md) -----------------------------------------------------------------------


def location_json(loc: Location | None) -> dict[str, float | None] | None:
    return None if loc is None else {"lat": loc.lat, "lon": loc.lon, "accuracy_m": loc.accuracy_m}


def sample_json(s: Sample) -> dict[str, Any]:
    """A sample as the participant's page sees it (no other participant's name or place)."""
    return {"id": s.id, **outcome_json(s), "note": note_name(s.midi_note) if s.midi_note is not None else None}


def recording_json(rec: Recording, samples: list[Sample]) -> dict[str, Any]:
    """``GET /api/recordings/<id>``: the recording's progress and its samples in recording order."""
    return {
        "id": rec.id, "status": rec.status, "error": rec.error, "received_at": rec.received_at,
        "duration_s": round(rec.duration_s, 3) if rec.duration_s is not None else None,
        "samples": [sample_json(s) for s in sorted(samples, key=lambda s: s.id)],
    }


def map_sample_json(s: Sample) -> dict[str, Any]:
    """A sample for the performer's map: ``sample_json`` plus where, when and by whom."""
    loc = s.location
    return sample_json(s) | {
        "recording_id": s.recording_id, "lat": loc.lat if loc else None, "lon": loc.lon if loc else None,
        "accuracy_m": loc.accuracy_m if loc else None, "participant": s.participant, "recorded_at": s.recorded_at,
    }


def log_request(handler: tornado.web.RequestHandler) -> None:
    """The access log: method, path (never the query string, which holds the show token), status, time;
    a refusal is a warning, one line a minute per kind (see :class:`~exsampling.connections.OncePerMinute`)."""
    status, request = handler.get_status(), handler.request
    line = f"{request.method} {request.path} ({request.remote_ip}) %d %.0f ms"
    elapsed_ms = 1000.0 * request.request_time()
    if status < 400:
        access_log.info(line, status, elapsed_ms)
    else:
        access_log.log(logging.WARNING if status < 500 else logging.ERROR, line, status, elapsed_ms,
                       extra={"kind": f"{status} {request.method} {request.path}"})


def make_app(cfg: Config, pipeline: Pipeline, show: Show) -> tornado.web.Application:
    """The upload server's application (routes in docs/http.md); ``app.settings["exsampling"]`` is its state."""
    s = cfg.server
    ctx = _Context(cfg, pipeline, show, RateLimiter(s.rate_limit, s.rate_limit_per_address, s.rate_window_s),
                   Storer(pipeline, s.max_recording_s))
    page = {"path": str(RECORDER_DIR), "ctx": ctx}
    return tornado.web.Application(
        [
            (r"/()", Page, page | {"file": "index.html"}),
            (r"/map()", Page, page | {"file": "map.html", "local_only": True}),
            (r"/recorder/(.+)", Page, page),
            (r"/join", Join, {"ctx": ctx}),
            (r"/join/(exsampling-ca\.pem|exsampling\.mobileconfig)", JoinFile, {"ctx": ctx}),
            (r"/healthz", Health, {"ctx": ctx}),
            (r"/api/show", ShowState, {"ctx": ctx}),
            (r"/api/recordings", Upload, {"ctx": ctx}),
            (r"/api/recordings/([0-9]{1,12})", RecordingStatus, {"ctx": ctx}),
            (r"/api/samples", SampleList, {"ctx": ctx}),
        ],
        default_handler_class=NotFound, default_handler_args={"ctx": ctx}, exsampling=ctx,
        static_hash_cache=False, compress_response=True,  # gzip: the page is ≈ 31 kB, ≈ 11 kB on 3G
        template_path=str(RECORDER_DIR), log_function=log_request,
    )


# -- listening, TLS, tunnel, URLs, QR ---------------------------------------------------------------


def with_token(url: str, token: str) -> str:
    """``url`` with ``token=<token>`` in its query string (replacing any there)."""
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query) if k != "token"] + [("token", token)]
    return urlunsplit(parts._replace(path=parts.path or "/", query=urlencode(query)))


def lan_address() -> str | None:
    """This machine's address on the LAN (the interface of the default route), or None when offline."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(("10.255.255.255", 1))  # UDP connect sends nothing; it only picks the outgoing interface
            ip = s.getsockname()[0]
        except OSError:
            return None
    return None if _is_loopback(ip) else ip


def qr_png(url: str, scale: int = 8) -> bytes:
    """The QR code of ``url`` as PNG bytes; ``scale`` is pixels per module (8 → ≈ 300 px for a show URL)."""
    buf = io.BytesIO()
    segno.make(url, error="m").save(buf, kind="png", scale=scale, border=4)
    return buf.getvalue()


def qr_text(url: str) -> str:
    """The QR code of ``url`` drawn with half-block characters, for a terminal (dark text on light works best)."""
    buf = io.StringIO()
    segno.make(url, error="m").terminal(out=buf, compact=True)
    return buf.getvalue()


def _listen(app: tornado.web.Application, port: int, addresses: list[str], guard: ConnectionGuard, cfg: Config,
            ssl_options: ssl.SSLContext | None = None) -> tuple[GuardedHTTPServer, int]:
    s = cfg.server
    sockets: list[socket.socket] = []
    try:
        for address in addresses:  # the first picks the port when asked for any (0); the others take the same
            sockets += tornado.netutil.bind_sockets(sockets[0].getsockname()[1] if sockets else port, address)
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
                               max_header_size=16 * 1024, guard=guard)
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
    jweb). certificate: the HTTPS certificate file, or None. tunnel: the show's tunnel, or None.
    """

    port: int
    https_port: int | None
    urls: dict[str, str]
    recorder_url: str
    map_url: str
    certificate: Path | None
    app: tornado.web.Application
    tunnel: ShowTunnel | None
    _guard: ConnectionGuard
    _closers: list[Callable[[], None]]

    def stop(self) -> None:
        """Stop listening and close idle connections; uploads already acknowledged keep being processed, uploads
        being received are still stored (see :meth:`drain`). The show's tunnel stays open for the next console
        (:meth:`~exsampling.tunnel.ShowTunnel.close` ends it)."""
        for close in reversed(self._closers):
            try:
                close()
            except Exception:  # one failing closer must not keep the others open
                log.exception("while stopping the upload server")
        self._closers.clear()
        self._guard.close_idle()

    async def drain(self, timeout_s: float = DRAIN_S) -> bool:
        """Wait (at most ``timeout_s``) until every upload whose body had arrived is stored; True if all were."""
        ctx: _Context = self.app.settings["exsampling"]
        deadline = time.monotonic() + timeout_s
        while ctx.receiving and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        return ctx.receiving == 0


async def start(cfg: Config, pipeline: Pipeline, show: Show, host: str | None = None, port: int | None = None,
                tunnel: bool | None = None, tunnel_agent: Agent | None = None) -> Server:
    """Start the upload server on the running asyncio loop (in a Jupyter kernel: the kernel's; no thread).

    Before listening, files a crash left without a row are swept from the library; once listening, recordings
    a stopped or killed server never processed are queued again.

    Parameters
    ----------
    host, port : override ``[server] host``/``port``; port 0 picks free ports (tests).
    tunnel : open (or reuse) the show's ngrok tunnel; None = when an ngrok token is configured
        (``[server] ngrok_token`` or ``NGROK_AUTHTOKEN``).
    tunnel_agent : the :class:`~exsampling.tunnel.Agent` behind the tunnel (default: the real ngrok).

    Raises :class:`PortInUse` when a port is taken, :class:`CertificateError` when HTTPS cannot be set up,
    :class:`TunnelError` when a wanted tunnel cannot open; nothing is left listening after a failure.
    """
    s = cfg.server
    host, port = host or s.host, s.port if port is None else port
    library = pipeline.library
    raise_descriptor_limit()
    quiet_floods("tornado.access", "tornado.general", "tornado.application", "exsampling.connections", __name__)
    swept = library.sweep()
    if swept:
        log.warning("removed %d file(s) a crash left without a row", len(swept))
    app = make_app(cfg, pipeline, show)
    ctx: _Context = app.settings["exsampling"]
    guard = ConnectionGuard(connection_cap(s.max_connections))
    closers: list[Callable[[], None]] = []
    lan = None if _is_loopback_host(host) else (lan_address() if host in ("0.0.0.0", "::", "") else host)
    show_tunnel = None
    try:
        # plain HTTP on the host itself (0.0.0.0 reaches loopback too), else on loopback and the host
        everywhere = host in ("0.0.0.0", "::", "") or _is_loopback_host(host)
        http, http_port = _listen(app, port, [host] if everywhere else ["127.0.0.1", host], guard, cfg)
        closers.append(http.stop)
        urls = {"local": with_token(f"http://127.0.0.1:{http_port}/", show.token)}
        https_port = certificate = None
        if not _is_loopback_host(host) and s.tls:
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
        ngrok_token = s.ngrok_token or os.environ.get("NGROK_AUTHTOKEN", "")
        if tunnel or (tunnel is None and ngrok_token):
            show_tunnel = ShowTunnel(library, tunnel_agent or NgrokAgent(library.root / "tunnel"))
            try:
                public = await asyncio.get_running_loop().run_in_executor(
                    None, show_tunnel.ensure, http_port, ngrok_token, s.ngrok_domain)
            except TunnelError as exc:
                raise TunnelError(f"the ngrok tunnel could not start ({exc}); participants can still use the LAN "
                                  "address, or remove the ngrok token ([server] ngrok_token, NGROK_AUTHTOKEN)") from exc
            urls["public"] = with_token(public, show.token)
        elif s.public_url:
            urls["public"] = with_token(s.public_url, show.token)
    except BaseException:
        for close in reversed(closers):
            close()
        raise
    for intake in pipeline.unfinished():  # acknowledged before a stop or a crash, never processed
        ctx.process(intake)
    recorder_url = urls.get("public") or urls.get("join") or urls.get("lan") or urls["local"]
    return Server(http_port, https_port, urls, recorder_url, f"http://127.0.0.1:{http_port}/map", certificate,
                  app, show_tunnel, guard, closers)


def _is_loopback_host(host: str) -> bool:
    return host == "localhost" or _is_loopback(host)


# -- ``exsampling serve`` ------------------------------------------------------------------------------


def register(sub, add_config: Callable) -> None:
    """Add ``exsampling serve`` to the command line's subparsers."""
    p = sub.add_parser("serve", help="serve the participants' recorder; prints its URL and a QR code")
    p.add_argument("--host", help="address to listen on (default: [server] host, 0.0.0.0 = the LAN too)")
    p.add_argument("--port", type=int, help="HTTP port on 127.0.0.1 (default: [server] port, 8765); "
                                            "HTTPS for the LAN is on the next port")
    p.add_argument("--token", help="the show token the recorder link carries (default: kept from the last "
                                   "start, or a new random one)")
    add_config(p)
    p.set_defaults(func=_serve)


def _serve(args) -> int:
    from .config import load
    from .pipeline import build

    cfg = load(args.config)
    pipeline = build(cfg)
    if pipeline.classifier is None:
        print("exsampling: no model found: recordings are stored and pitched but get no class or instrument",
              flush=True)
    show = Show(cfg, pipeline.library, token=args.token)
    try:
        asyncio.run(_serve_until_stopped(cfg, pipeline, show, args.host, args.port))
    finally:
        pipeline.close()  # the recording in progress is finished; the rest wait, stored, for the next start
    print("exsampling: stopped", flush=True)
    return 0


async def _serve_until_stopped(cfg: Config, pipeline: Pipeline, show: Show, host: str | None,
                               port: int | None) -> None:
    import signal

    server = await start(cfg, pipeline, show, host, port)
    for kind, url in server.urls.items():
        print(f"{kind}: {url}", flush=True)
    print(f"map: {server.map_url}", flush=True)
    if server.certificate is not None:
        print(f"HTTPS uses the show's own certificate ({server.certificate}, SHA-256 "
              f"{fingerprint(server.certificate)}); phones pass one warning, explained on the join page.")
    print(f"\nParticipants scan this ({server.recorder_url}):\n{qr_text(server.recorder_url)}", flush=True)
    stopped = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stopped.set)
    await stopped.wait()
    for sig in (signal.SIGINT, signal.SIGTERM):  # a second Ctrl-C stops at once
        loop.remove_signal_handler(sig)
    print("exsampling: stopping: no new uploads; storing those being received", flush=True)
    server.stop()
    if not await server.drain():
        print("exsampling: some uploads were still arriving; their phones send them again", flush=True)
    if server.tunnel is not None:
        server.tunnel.close()  # the end of the show
