"""The upload server's request handlers (routes and bodies in docs/http.md) and the state they share.

:class:`ApiHandler` is the base of every API route: JSON refusals, the show token, who the client is (the
tunnel's ``X-Forwarded-For`` is trusted from loopback only). :class:`Upload` streams the body with a bound,
checks every field before anything is stored, stores beside the loop and answers once the recording is durable;
the chain then runs in the background (:meth:`Context.process`).
"""
from __future__ import annotations

import asyncio
import logging
import math
import secrets
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

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
    MAX_UPLOAD_IDS,
    RateLimiter,
    Refusal,
    parse_location,
    parse_name,
    parse_upload_id,
    sniff,
    sniff_photo,
)
from .network import is_loopback
from .shapes import created_json, map_sample_json, recording_json, show_json

if TYPE_CHECKING:  # the pipeline loads the signal stack; the handlers only hold it
    from ..pipeline import Intake, Pipeline

log = logging.getLogger(__name__)


@dataclass
class Context:
    """What the handlers share: the pipeline and show, the limiter, retried uploads, running jobs."""

    cfg: Config
    pipeline: Pipeline
    show: ShowState
    limiter: RateLimiter
    # Ingest (decode, check, fsync) runs beside the loop so one upload's disk write never stalls another's
    # acknowledgement; the pipeline's own single worker does the classifying.
    ingest_pool: ThreadPoolExecutor = field(
        default_factory=lambda: ThreadPoolExecutor(max_workers=2, thread_name_prefix="exsampling-ingest"))
    uploads: OrderedDict[str, asyncio.Future[Recording]] = field(default_factory=OrderedDict)
    jobs: set[asyncio.Task[None]] = field(default_factory=set)

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
            self.pipeline.library.set_recording_status(intake.recording.id, RecordingStatus.FAILED,
                                                      f"processing failed: {exc}")


class ApiHandler(tornado.web.RequestHandler):
    """Base for every route: JSON refusals, the show token, who the client is."""

    ctx: Context

    def initialize(self, ctx: Context) -> None:
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
        """A request from this machine itself, not through the tunnel."""
        return is_loopback(self.remote_ip) and not self.forwarded

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


class ShowInfo(ApiHandler):
    def get(self) -> None:
        self.check_token(self.request_token())
        pipeline = self.ctx.pipeline
        self.finish(show_json(self.ctx.show, self.ctx.cfg, pipeline.library, pipeline.rate))


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
        upload_id = parse_upload_id(form.get("upload_id"))
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
        self.finish(created_json(rec))


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

    def initialize(self, path: str, file: str | None = None) -> None:  # type: ignore[override]  # + the file
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
