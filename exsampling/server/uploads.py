"""``POST /api/recordings``, the upload route (docs/http.md): :class:`Upload` streams the body with a bound,
checks every field and the audio's header, and answers once the recording is durable; :class:`Storer` stores
uploads in batches beside the loop, so a crowd's acknowledgements share the library's commits.
"""
from __future__ import annotations

import asyncio
import math
import threading
from concurrent.futures import Future
from pathlib import Path
from typing import TYPE_CHECKING, Any

import tornado.web

from ..audio import AudioError
from ..records import Recording
from .checks import (
    AUDIO_STATUS,
    Refusal,
    check_photo,
    parse_device,
    parse_location,
    parse_name,
    parse_upload_id,
    sniff_audio,
)
from .forms import FormError, FormReader, Spool
from .handlers import ApiHandler
from .shapes import created_json

if TYPE_CHECKING:  # the pipeline loads the signal stack; the upload route only holds it
    from ..library import Received
    from ..pipeline import Intake, Pipeline

#: Request bodies held at once (in memory, or spooled to disk), all uploads together, in bytes: past it an upload is
#: asked to come back (503, which the recorder retries by itself), so a crowd of slow 20-MiB uploads cannot
#: exhaust the laptop.
MAX_BUFFERED_BYTES = 512 * 2 ** 20
#: Batches of uploads stored at once.
STORERS = 4
#: Seconds a phone refused for a full disk is asked to wait (``Retry-After``) before sending again.
DISK_RETRY_S = 30


class Storer:
    """Stores uploads beside the loop, in batches: the uploads that arrive while a batch is being written share
    the next batch's commits (a crowd's acknowledgements wait on the disk a few times, not 200 times). Up to
    :data:`STORERS` batches are written at once, each on its own thread, so a crowd arriving just after one
    upload does not wait for that upload's commits first."""

    def __init__(self, pipeline: Pipeline, max_duration_s: float) -> None:
        self.pipeline, self.max_duration_s = pipeline, max_duration_s
        self._pending: list[tuple[Received, Future[None] | None, asyncio.Future[Intake]]] = []
        self._lock = threading.Lock()
        self._threads = 0

    def store(self, arrival: Received, written: Future[None] | None = None) -> asyncio.Future[Intake]:
        """A future for ``arrival``'s :class:`~exsampling.pipeline.Intake` (or what refused it). ``written``:
        done when ``arrival``'s file is (see :class:`~.forms.Spool`); what it raises refuses the upload. Works
        after the server stopped listening too: an upload already received is always stored."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Intake] = loop.create_future()
        with self._lock:
            self._pending.append((arrival, written, future))
            start = self._threads < STORERS
            self._threads += start
        if start:  # threads while there is work, none when idle
            threading.Thread(target=self._drain, args=(loop,), name="exsampling-store").start()
        return future

    def _drain(self, loop: asyncio.AbstractEventLoop) -> None:
        while True:
            with self._lock:
                batch, self._pending = self._pending, []
                if not batch:
                    self._threads -= 1
                    return
            ready = []
            for arrival, written, future in batch:
                failed = written.exception() if written is not None else None  # waits for the spool's writer
                if failed is None:
                    ready.append((arrival, future))
                else:
                    loop.call_soon_threadsafe(_settle, future, failed)
            if ready:
                self._store(ready, loop)

    def _store(self, batch: list[tuple[Received, asyncio.Future[Intake]]], loop: asyncio.AbstractEventLoop) -> None:
        results: list[Any]
        try:
            results = list(self.pipeline.receive_all([arrival for arrival, _ in batch], self.max_duration_s))
        except Exception as exc:  # the library failed as a whole (disk full…): every upload hears it
            results = [exc] * len(batch)
        for (arrival, future), result in zip(batch, results, strict=True):
            if isinstance(arrival.data, Path):  # refused, or moved into the library already
                arrival.data.unlink(missing_ok=True)
            loop.call_soon_threadsafe(_settle, future, result)


def bad_form(exc: FormError) -> Refusal:
    return Refusal(400, "bad_form", f"the upload is not a complete multipart/form-data form ({exc}); send it "
                   "again from the recorder page")


def _settle(future: asyncio.Future[Any], result: Any) -> None:
    if future.done():  # its request went away meanwhile
        return
    if isinstance(result, BaseException):
        future.set_exception(result)
    else:
        future.set_result(result)


@tornado.web.stream_request_body
class Upload(ApiHandler):
    """``POST /api/recordings``: checks that cost nothing come before the body; the body is bounded and read as a
    form as it streams, its audio written to the library's spool on the way (see :mod:`.forms`); the recording
    is stored on the strength of its header and answered at once, then processed."""

    phone_recorder = True

    # set in prepare(); Tornado answers an unknown method (405) and finishes without calling it
    held, arrived = 0, 0
    refusal: Refusal | None = None  # answered once the body is in
    held_back: Refusal | None = None  # answered once the body is in, unless it is a retry of an upload stored before
    form: FormReader | None = None

    def prepare(self) -> None:
        super().prepare()
        if self._finished:
            return
        length = self.request.headers.get("Content-Length")
        if length is not None and length.isdigit() and int(length) > self.ctx.max_body_bytes:
            raise self.too_large(int(length))  # at once: a body that size is never read
        token = self.request_token()
        if token is not None:  # a token in the URL decides before a byte of the audio is kept
            try:
                self.check_token(token)
            except Refusal as exc:
                # Answered once the body is in (dropped as it arrives): a browser, or Python's TLS client, that
                # hears an answer and a closed connection while still sending reports a network error instead,
                # and a phone would retry what is refused. The body is bounded by the size and time limits.
                self.refusal = exc
                return
            self.held_back = self.admission()
        try:
            # held back: only the short fields are read (a retry's upload_id), the audio and photo dropped
            self.form = FormReader(self.request.headers.get("Content-Type", ""), "audio",
                                   self.ctx.pipeline.library.spool_file, self.ctx.spool_writer,
                                   frozenset({"audio", "photo"}) if self.held_back else frozenset())
        except FormError as exc:
            self.refusal = bad_form(exc)

    @property
    def device(self) -> str:
        """The phone's own id (``X-Exsampling-Device``), or "" (see :func:`~.checks.parse_device`)."""
        return parse_device(self.request.headers.get("X-Exsampling-Device"))

    def admission(self) -> Refusal | None:
        """Why a new recording is not taken now (the show closed, the disk nearly full, the rate limit), or None."""
        if not self.ctx.show.is_open:
            return Refusal(409, "show_closed", "the performer has closed the show for new sounds; keep your "
                           "recording and send it when the show opens again")
        length = self.request.headers.get("Content-Length", "")
        if not self.ctx.disk.room_for(int(length) if length.isdigit() else self.ctx.max_body_bytes):
            return Refusal(507, "disk_full", "the show's disk is nearly full: your sound is sent again by itself "
                           f"once the performer has made room (try again in {DISK_RETRY_S} s)",
                           headers={"Retry-After": str(DISK_RETRY_S)}, retry_after_s=DISK_RETRY_S)
        wait_s = math.ceil(self.ctx.limiter.wait_s(self.client, self.device))
        if wait_s:
            return Refusal(429, "rate_limited", f"too many sounds from you in a short time; try again in {wait_s} s",
                           headers={"Retry-After": str(wait_s)}, retry_after_s=wait_s)
        return None

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
            if self.refusal is not None or self.form is None:  # dropped as it arrives, answered at its end
                return
            if self.ctx.buffered + len(chunk) > MAX_BUFFERED_BYTES:
                raise Refusal(503, "busy", "the show is receiving many sounds right now; yours is sent again in a "
                              "moment", headers={"Retry-After": "5"}, retry_after_s=5)
        except Refusal as exc:
            self._release()
            self.send_error(exc.status_code, exc_info=(Refusal, exc, None))
            return
        self.held += len(chunk)
        self.ctx.buffered += len(chunk)
        try:
            self.form.feed(chunk)
        except FormError as exc:  # the rest is dropped as it arrives, and the form refused at the end
            self.refusal = bad_form(exc)
            self._release()

    def _release(self) -> None:
        """Stop counting this body as held; drop its spooled audio unless the storer has it."""
        self.ctx.buffered -= self.held
        self.held = 0
        if self.form is not None:
            self.form.discard()
            self.form = None

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
        from ..library import Received

        reader, self.form = self.form, None  # this coroutine's from here on, whatever the connection does
        assert reader is not None  # made in prepare() unless refused
        try:
            form = self._form(reader)
            upload_id = parse_upload_id(form.get("upload_id"))
            if self.request_token() is None:
                self.held_back = self.admission()
            first = None
            if self.held_back is not None:  # refused, unless it is a retry of an upload stored before
                first = self.ctx.pipeline.library.recording_by_upload(upload_id) if upload_id else None
                if first is None:
                    raise self.held_back
            else:  # a new recording (or a retry, which the storer finds: see _store)
                audio, fields = self._checked(reader, form, upload_id)
                raw_photo = bytes(reader.files.get("photo", b""))
                if raw_photo:  # decoded to be sure it is one: beside the loop
                    kind = await asyncio.get_running_loop().run_in_executor(
                        self.ctx.photo_checker, check_photo, raw_photo)
                    fields["photo"] = (raw_photo, kind)
        except BaseException:
            reader.discard()
            raise
        finally:
            self._release()
        if first is not None:  # a retry of an upload stored before: its first answer, as it stands now
            reader.discard()
            rec, created = first, False
        else:
            # the storer's file from here on: stored, or removed
            rec, created = await self._store(Received(audio.path, **fields), audio.close())
        self.set_status(201 if created else 200)
        self.set_header("Location", f"/api/recordings/{rec.id}")
        library = self.ctx.pipeline.library
        self.finish(created_json(rec) if created else created_json(library.recording(rec.id),
                                                                    library.samples(recording_id=rec.id)))

    def _text(self, name: str, raw: bytes | bytearray) -> str:
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            raise Refusal(400, "invalid_field", f"{name} is not UTF-8 text", field=name) from None

    def _form(self, reader: FormReader) -> dict[str, str]:
        """The whole form's text fields, once its token is checked (when it came in the form)."""
        try:
            reader.close()
        except FormError as exc:
            raise bad_form(exc) from None
        # an 'audio' sent as a plain field is no recording (see _checked), whatever its bytes
        form = {k: self._text(k, v) for k, v in reader.fields.items() if k != "audio"}
        if self.request_token() is None:
            self.check_token(form.get("token"))
        return form

    def _checked(self, reader: FormReader, form: dict[str, str],
                 upload_id: str | None) -> tuple[Spool, dict[str, Any]]:
        """Check a new recording's audio and the rest of its fields (see ``Received``); the photo is checked
        apart (it is decoded)."""
        audio = reader.spool
        if audio is None:
            sent_as_field = "audio" in reader.fields
            raise Refusal(400, "missing_audio", "the form's 'audio' is a plain field, not a file: send the "
                          "recording as a file part" if sent_as_field else "the form has no 'audio' file")
        location = parse_location(form.get("lat"), form.get("lon"), form.get("accuracy"))
        name = parse_name(form.get("name"))
        return audio, {"extension": sniff_audio(audio.head) or "bin", "participant": name,
                       "location": location, "photo": None, "source": "upload", "upload_id": upload_id}

    async def _store(self, arrival: Received, written: Future[None]) -> tuple[Recording, bool]:
        """Store the recording, or find the one its upload id stored before (a retry, perhaps after a restart,
        from a phone that never heard the first answer): ``(recording, first time)``."""
        from ..library import DuplicateUpload

        try:
            intake = await self.ctx.storer.store(arrival, written)
        except DuplicateUpload as dup:
            return dup.recording, False
        except AudioError as exc:
            raise Refusal(AUDIO_STATUS.get(exc.code, 422), exc.code, str(exc)) from exc
        except Exception as exc:
            if self.ctx.disk.explains(exc):  # filled up while this one arrived: nothing of it was kept
                raise Refusal(507, "disk_full", "the show's disk is full: your sound is sent again by itself once "
                              "the performer has made room", headers={"Retry-After": str(DISK_RETRY_S)},
                              retry_after_s=DISK_RETRY_S) from None
            raise
        self.ctx.limiter.record(self.client, self.device)
        self.ctx.process(intake)
        return intake.recording, True
