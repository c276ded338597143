"""The participants' upload server: serves the recorder page, takes recordings, reports what became of them.

One Tornado application (:func:`make_app`) runs both inside the console's Jupyter kernel (on the kernel's
own asyncio loop, :func:`start`) and from ``exsampling serve``. The HTTP contract is docs/http.md.

Listeners (see :func:`start`): plain HTTP on 127.0.0.1 at ``[server] port`` (the console, Max's jweb at
``http://127.0.0.1:8765/map``, and the tunnel's target), and, when listening beyond localhost with
``[server] tls``, HTTPS with a self-signed certificate on ``port + 1`` for phones on the LAN (a phone only
gets a microphone and a location in a secure context). Only this application is ever put behind a tunnel,
never the console's Jupyter/Voilà port.
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
import shutil
import socket
import ssl
import subprocess
import tempfile
import time
import unicodedata
from collections import OrderedDict, deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import segno
import tornado.httpserver
import tornado.httputil
import tornado.netutil
import tornado.web

from .audio import AudioError
from .config import PROJECT_ROOT, Config
from .pitch import note_name
from .records import Location, Recording, Sample, outcome_json

if TYPE_CHECKING:  # the CLI imports this module for every command: keep its import light
    from .library import Library
    from .pipeline import Intake, Pipeline

log = logging.getLogger(__name__)

#: The recorder's and the map's static files (HTML, CSS, JS), served as they are: no build step.
RECORDER_DIR = PROJECT_ROOT / "recorder"

#: Longest participant name kept, in characters (after NFC normalisation).
MAX_NAME_CHARS = 60
#: Longest performer prompt, in characters.
MAX_PROMPT_CHARS = 280
#: Most samples ``GET /api/samples`` returns at once.
MAX_SAMPLES_LISTED = 500
#: Upload ids remembered for answering a retried upload with its first answer (oldest forgotten first).
MAX_UPLOAD_IDS = 10_000

AUDIO_MAGIC = ((b"RIFF", "wav"), (b"RF64", "wav"), (b"fLaC", "flac"), (b"OggS", "ogg"), (b"ID3", "mp3"),
               (b"\xff\xfb", "mp3"), (b"\xff\xf3", "mp3"), (b"FORM", "aiff"))
IMAGE_MAGIC = ((b"\xff\xd8\xff", "jpg"), (b"\x89PNG\r\n\x1a\n", "png"), (b"GIF8", "gif"))

# Status codes for each AudioError code: not audio at all → 415; audio we will not use → 422.
AUDIO_STATUS = {"undecodable": 415, "empty": 422, "too_long": 422, "invalid_samples": 422, "silent": 422}

# Bidirectional overrides let a name rewrite how the text around it reads on the performer's screen.
_BIDI_CONTROLS = set("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
_UPLOAD_ID = re.compile(r"[A-Za-z0-9_-]{8,64}")


class PortInUse(OSError):
    """The server's port is taken (often: another console kernel, or an earlier ``exsampling serve``)."""


class TunnelError(OSError):
    """The ngrok tunnel could not be opened (no binary, no network, bad token, …)."""


class CertificateError(OSError):
    """The self-signed certificate for HTTPS on the LAN could not be made."""


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


def parse_name(raw: str | None) -> str:
    """The participant's name, NFC-normalised and stripped ("" = anonymous).

    Raises :class:`Refusal` (400 ``invalid_field``) for more than :data:`MAX_NAME_CHARS` characters, control
    characters (line breaks, escapes) or bidirectional overrides.
    """
    name = unicodedata.normalize("NFC", raw or "").strip()
    if len(name) > MAX_NAME_CHARS:
        raise Refusal(400, "invalid_field", f"the name is {len(name)} characters; at most {MAX_NAME_CHARS}",
                      field="name")
    if any(unicodedata.category(c) in ("Cc", "Cs", "Co", "Cn") or c in _BIDI_CONTROLS for c in name):
        raise Refusal(400, "invalid_field", "the name holds control characters", field="name")
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


# -- small shared pieces of the app ---------------------------------------------------------------


class RateLimiter:
    """At most ``limit`` events per client in any ``window_s`` seconds (a sliding window)."""

    def __init__(self, limit: int, window_s: float) -> None:
        self.limit, self.window_s = limit, window_s
        self._events: dict[str, deque[float]] = {}

    def allow(self, client: str, now: float | None = None) -> float:
        """Record an event for ``client``; 0 if allowed, else the seconds until it would be."""
        now = time.monotonic() if now is None else now
        events = self._events.setdefault(client, deque())
        while events and events[0] <= now - self.window_s:
            events.popleft()
        if len(events) >= self.limit:
            return events[0] + self.window_s - now
        events.append(now)
        if len(self._events) > 4096:  # forget idle clients so a crowd cannot grow this without bound
            self._events = {c: e for c, e in self._events.items() if e and e[-1] > now - self.window_s}
        return 0.0


@dataclass
class _Context:
    """What the handlers share: the pipeline and show, the limiter, retried uploads, running jobs."""

    cfg: Config
    pipeline: Pipeline
    show: Show
    limiter: RateLimiter
    # Ingest (decode, check, fsync) runs beside the loop so one upload's disk write never stalls another's
    # acknowledgement; the pipeline's own single worker does the classifying.
    ingest_pool: ThreadPoolExecutor = field(
        default_factory=lambda: ThreadPoolExecutor(max_workers=2, thread_name_prefix="exsampling-ingest"))
    uploads: OrderedDict[str, asyncio.Future] = field(default_factory=OrderedDict)
    jobs: set[asyncio.Task] = field(default_factory=set)

    @property
    def max_body_bytes(self) -> int:
        return int(self.cfg.server.max_upload_mb * 2 ** 20)

    def process(self, intake: Intake) -> None:
        """Run the chain for ``intake`` in the background; a crash marks the recording "failed"."""
        task = asyncio.ensure_future(self._process(intake))
        self.jobs.add(task)
        task.add_done_callback(self.jobs.discard)

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


class ApiHandler(tornado.web.RequestHandler):
    """Base for every route: JSON refusals, the show token, who the client is."""

    ctx: _Context

    def initialize(self, ctx: _Context) -> None:
        self.ctx = ctx

    def set_default_headers(self) -> None:
        self.set_header("Cache-Control", "no-store")
        self.set_header("X-Content-Type-Options", "nosniff")
        self.set_header("Referrer-Policy", "no-referrer")  # the page's URL carries the token

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
        """A request from this machine itself, not through the tunnel."""
        return _is_loopback(self.request.remote_ip) and not self.forwarded

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
        raise Refusal(404, "not_found", f"nothing at {self.request.path}")


class Health(ApiHandler):
    def get(self) -> None:
        self.set_header("Content-Type", "text/plain; charset=utf-8")
        self.finish("ok\n")


class ShowState(ApiHandler):
    def get(self) -> None:
        self.check_token(self.request_token())
        self.finish(self.ctx.show.public_state())


@tornado.web.stream_request_body
class Upload(ApiHandler):
    """``POST /api/recordings``: checks that cost nothing come before the body; the body is bounded as it streams."""

    def prepare(self) -> None:
        self.body = bytearray()
        token = self.request_token()
        if token is not None:  # a token in the URL lets us refuse before a byte of the body is read
            self.check_token(token)
        self.check_open_and_rate()
        length = self.request.headers.get("Content-Length")
        if length is not None and length.isdigit() and int(length) > self.ctx.max_body_bytes:
            self.refuse_too_large(int(length))

    def check_open_and_rate(self) -> None:
        if not self.ctx.show.is_open:
            raise Refusal(409, "show_closed", "the performer has closed the show for new sounds; keep your "
                          "recording and send it when the show opens again")
        wait_s = math.ceil(self.ctx.limiter.allow(self.client))
        if wait_s:
            raise Refusal(429, "rate_limited", f"too many sounds from you in a short time; try again in {wait_s} s",
                          headers={"Retry-After": str(wait_s)}, retry_after_s=wait_s)

    def refuse_too_large(self, size: int) -> None:
        raise Refusal(413, "too_large", f"the upload is {size / 2**20:.1f} MiB; at most "
                      f"{self.ctx.cfg.server.max_upload_mb:g} MiB is taken")

    def data_received(self, chunk: bytes) -> None:
        if self._finished:  # already refused: the rest of the body is dropped, the connection closes
            return
        if len(self.body) + len(chunk) > self.ctx.max_body_bytes:
            try:
                self.refuse_too_large(len(self.body) + len(chunk))
            except Refusal as exc:
                self.body = bytearray()
                self.send_error(413, exc_info=(Refusal, exc, None))
            return
        self.body += chunk

    async def post(self) -> None:
        if self._finished:  # refused while the body streamed in
            return
        args: dict[str, list[bytes]] = {}
        files: dict[str, list[tornado.httputil.HTTPFile]] = {}
        tornado.httputil.parse_body_arguments(self.request.headers.get("Content-Type", ""), bytes(self.body),
                                              args, files)
        self.body = bytearray()
        form = {k: self._text(k, v[0]) for k, v in args.items()}
        if self.request_token() is None:
            self.check_token(form.get("token"))
        upload_id = form.get("upload_id") or None
        if upload_id is not None and not _UPLOAD_ID.fullmatch(upload_id):
            raise Refusal(400, "invalid_field", "upload_id must be 8–64 letters, digits, '-' or '_'",
                          field="upload_id")
        audio = files.get("audio", [None])[0]
        if audio is None:
            raise Refusal(400, "missing_audio", "the form has no 'audio' file")
        ingest = self._ingest_call(audio.body, form, files.get("photo", [None])[0])
        if upload_id is None:
            rec = await self._ingest(ingest)
            return self._created(rec)
        rec, first = await self._ingest_once(upload_id, ingest)
        self._created(rec, status=201 if first else 200)

    def _text(self, name: str, raw: bytes) -> str:
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            raise Refusal(400, "invalid_field", f"{name} is not UTF-8 text", field=name) from None

    def _ingest_call(self, audio: bytes, form: dict[str, str],
                     photo: tornado.httputil.HTTPFile | None) -> Callable[[], Intake]:
        """Check every field now; return the call that stores the recording (run off the loop)."""
        location = parse_location(form.get("lat"), form.get("lon"), form.get("accuracy"))
        name = parse_name(form.get("name"))
        photo_file = None
        if photo is not None and photo.body:
            ext = sniff_photo(photo.body)
            if ext is None:
                raise Refusal(415, "photo_not_image", "the photo is not a JPEG, PNG, GIF, WebP or HEIC image")
            photo_file = (photo.body, ext)
        return lambda: self.ctx.pipeline.ingest(
            audio, sniff(audio, AUDIO_MAGIC) or "bin", participant=name, location=location, photo=photo_file,
            source="upload", max_duration_s=self.ctx.cfg.server.max_recording_s)

    async def _ingest(self, ingest: Callable[[], Intake]) -> Recording:
        try:
            intake = await asyncio.get_running_loop().run_in_executor(self.ctx.ingest_pool, ingest)
        except AudioError as exc:
            raise Refusal(AUDIO_STATUS.get(exc.code, 422), exc.code, str(exc)) from exc
        self.ctx.process(intake)
        return intake.recording

    async def _ingest_once(self, upload_id: str, ingest: Callable[[], Intake]) -> tuple[Recording, bool]:
        """Store an upload once per ``upload_id``: a retry (the answer was lost on the way) gets the first result."""
        uploads = self.ctx.uploads
        if upload_id in uploads:
            return await asyncio.shield(uploads[upload_id]), False
        future = uploads[upload_id] = asyncio.get_running_loop().create_future()
        while len(uploads) > MAX_UPLOAD_IDS:
            uploads.popitem(last=False)
        try:
            rec = await self._ingest(ingest)
        except BaseException as exc:
            uploads.pop(upload_id, None)  # refused or failed: a retry is a fresh attempt
            if isinstance(exc, Exception):
                future.set_exception(exc)
                future.exception()  # mark retrieved: nobody else may be waiting
            else:  # cancelled: a retry waiting on this one must not wait forever
                future.cancel()
            raise
        future.set_result(rec)
        return rec, True

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
        if not self.is_local:
            raise Refusal(403, "local_only", "the sample list is for the performer's own machine")
        try:
            limit = int(self.get_query_argument("limit", "200"))
        except ValueError:
            raise Refusal(400, "invalid_field", "limit must be an integer", field="limit") from None
        limit = max(1, min(limit, MAX_SAMPLES_LISTED))
        samples = self.ctx.pipeline.library.samples(limit=limit)
        self.finish({"samples": [map_sample_json(s) for s in samples]})


class Page(tornado.web.StaticFileHandler):
    """The recorder's and the map's files, with a policy that allows nothing from elsewhere.

    ``file`` fixes the file a route serves (``/`` → index.html, ``/map`` → map.html).
    """

    def initialize(self, path: str, file: str | None = None) -> None:
        super().initialize(path)
        self.file = file

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


def make_app(cfg: Config, pipeline: Pipeline, show: Show) -> tornado.web.Application:
    """The upload server's application (routes in docs/http.md); ``app.settings["exsampling"]`` is its state."""
    ctx = _Context(cfg, pipeline, show, RateLimiter(cfg.server.rate_limit, cfg.server.rate_window_s))
    page = {"path": str(RECORDER_DIR)}
    return tornado.web.Application(
        [
            (r"/()", Page, page | {"file": "index.html"}),
            (r"/map()", Page, page | {"file": "map.html"}),
            (r"/recorder/(.+)", Page, page),
            (r"/healthz", Health, {"ctx": ctx}),
            (r"/api/show", ShowState, {"ctx": ctx}),
            (r"/api/recordings", Upload, {"ctx": ctx}),
            (r"/api/recordings/([0-9]{1,12})", RecordingStatus, {"ctx": ctx}),
            (r"/api/samples", SampleList, {"ctx": ctx}),
        ],
        default_handler_class=NotFound, default_handler_args={"ctx": ctx}, exsampling=ctx,
        static_hash_cache=False, compress_response=True,  # gzip: the page is ≈ 31 kB, ≈ 11 kB on 3G
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


def ensure_certificate(folder: Path, addresses: list[str]) -> tuple[Path, Path]:
    """A self-signed certificate and key in ``folder`` (``cert.pem``/``key.pem``), made with openssl on first use.

    The certificate names localhost, 127.0.0.1 and ``addresses``; it lasts 825 days (the longest Apple
    devices accept). Raises :class:`CertificateError` when the ``openssl`` command is missing or fails.
    """
    cert, key = folder / "cert.pem", folder / "key.pem"
    if cert.exists() and key.exists():
        return cert, key
    openssl = shutil.which("openssl")
    if openssl is None:
        raise CertificateError("HTTPS on the LAN needs the 'openssl' command to make a certificate; install it, "
                               "or set [server] tls = false and give participants a tunnel (ngrok_token)")
    folder.mkdir(parents=True, exist_ok=True)
    names = ["DNS:localhost", "IP:127.0.0.1"] + [f"IP:{a}" for a in addresses]
    with tempfile.TemporaryDirectory(dir=folder) as tmp:
        new_cert, new_key = Path(tmp) / "cert.pem", Path(tmp) / "key.pem"
        result = subprocess.run(
            [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-sha256", "-days", "825",
             "-subj", "/CN=ExSampling show", "-addext", f"subjectAltName={','.join(names)}",
             "-keyout", str(new_key), "-out", str(new_cert)],
            check=False, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
        if result.returncode != 0:
            raise CertificateError(f"openssl could not make a certificate: {result.stderr.strip()[-300:]}")
        os.chmod(new_key, 0o600)
        new_key.replace(key)
        new_cert.replace(cert)
    return cert, key


def open_tunnel(port: int, auth_token: str) -> tuple[str, Callable[[], None]]:
    """An ngrok HTTPS tunnel to ``http://127.0.0.1:<port>``: its public URL and the call that closes it.

    Blocking (pyngrok may download the ngrok binary first). Raises :class:`TunnelError` with ngrok's reason.
    """
    from pyngrok import conf, ngrok
    from pyngrok.exception import PyngrokError

    config = conf.PyngrokConfig(auth_token=auth_token, monitor_thread=False)
    try:
        tunnel = ngrok.connect(f"127.0.0.1:{port}", "http", pyngrok_config=config)
    except PyngrokError as exc:
        raise TunnelError(f"the ngrok tunnel could not start ({exc}); participants can still use the LAN "
                          "address, or remove the ngrok token ([server] ngrok_token, NGROK_AUTHTOKEN)") from exc

    def close() -> None:
        ngrok.disconnect(tunnel.public_url, pyngrok_config=config)

    return tunnel.public_url, close


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
    return server, sockets[0].getsockname()[1]


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


async def start(cfg: Config, pipeline: Pipeline, show: Show, host: str | None = None, port: int | None = None,
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
    ctx: _Context = app.settings["exsampling"]
    closers: list[Callable[[], None]] = [lambda: ctx.ingest_pool.shutdown(wait=False)]
    lan = None if _is_loopback_host(host) else (lan_address() if host in ("0.0.0.0", "::", "") else host)
    try:
        local_host = host if _is_loopback_host(host) or not s.tls else "127.0.0.1"
        http, http_port = _listen(app, port, local_host, ctx.max_body_bytes)
        closers.append(http.stop)
        urls = {"local": with_token(f"http://127.0.0.1:{http_port}/", show.token)}
        https_port = certificate = None
        if not _is_loopback_host(host) and s.tls:
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
        pipeline.close()
    return 0


async def _serve_until_stopped(cfg: Config, pipeline: Pipeline, show: Show, host: str | None,
                               port: int | None) -> None:
    import signal

    server = await start(cfg, pipeline, show, host, port)
    for kind, url in server.urls.items():
        print(f"{kind}: {url}", flush=True)
    print(f"map: {server.map_url}", flush=True)
    if server.certificate is not None:
        print(f"HTTPS uses a self-signed certificate ({server.certificate}); phones ask once to accept it.")
    print(f"\nParticipants scan this ({server.recorder_url}):\n{qr_text(server.recorder_url)}", flush=True)
    stopped = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stopped.set)
    await stopped.wait()
    server.stop()
    print("exsampling: stopped", flush=True)
