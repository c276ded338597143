"""Checking what participants send, before anything is stored: the refusals of docs/http.md and the rate limit.

Every check raises :class:`Refusal`, which the handlers turn into a JSON body ``{"error": code, "message": …}``
with its HTTP status; none of them trusts a client's file name or type.
"""
from __future__ import annotations

import math
import re
import time
import unicodedata
from collections import deque
from typing import Any

import tornado.httputil
import tornado.web

from .. import photo
from ..records import Location

#: Longest participant name kept, in characters (after NFC normalisation).
MAX_NAME_CHARS = 60
#: Most samples ``GET /api/samples`` returns at once.
MAX_SAMPLES_LISTED = 500
#: Most bytes of request headers (the request line and every header) a request may have: past it, 431 with a
#: reason. Tornado itself closes a connection without an answer past :data:`TRANSPORT_HEADER_BYTES`.
MAX_HEADER_BYTES = 16 * 1024
TRANSPORT_HEADER_BYTES = 64 * 1024

AUDIO_MAGIC = ((b"RIFF", "wav"), (b"RF64", "wav"), (b"fLaC", "flac"), (b"OggS", "ogg"), (b"ID3", "mp3"),
               (b"\xff\xfb", "mp3"), (b"\xff\xf3", "mp3"), (b"FORM", "aiff"), (b"\x1a\x45\xdf\xa3", "webm"),
               (b"#!AMR", "amr"), (b"\xff\xf1", "aac"), (b"\xff\xf9", "aac"))
IMAGE_MAGIC = ((b"\xff\xd8\xff", "jpg"), (b"\x89PNG\r\n\x1a\n", "png"), (b"GIF8", "gif"))

#: Status codes for each AudioError code: not audio at all → 415; audio we will not use → 422.
AUDIO_STATUS = {"undecodable": 415, "empty": 422, "too_long": 422, "invalid_samples": 422, "silent": 422,
                "unsupported_audio": 422}

# Characters that change how a name reads without being seen: line and paragraph separators (Zl, Zp), format
# characters (Cf: zero-width spaces and joiners, direction marks and overrides, soft hyphens, tags), controls,
# surrogates, private use and unassigned code points.
_HIDDEN = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})
_ZWJ = "\u200d"
# Upload and device ids: 8–64 letters, digits, '-' or '_' (they end up in logs and SQLite, never in a path).
_CLIENT_ID = re.compile(r"[A-Za-z0-9_-]{8,64}")


class Refusal(tornado.web.HTTPError):
    """A request refused with a JSON body ``{"error": code, "message": message, **extra}`` (docs/http.md)."""

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None,
                 **extra: Any) -> None:
        super().__init__(status, reason=None)
        self.code, self.message, self.headers, self.extra = code, message, headers or {}, extra


def check_header_size(request: tornado.httputil.HTTPServerRequest) -> None:
    """Refuse (431 ``headers_too_large``) a request whose headers exceed :data:`MAX_HEADER_BYTES`."""
    size = len(request.method or "") + len(request.uri or "") + len(request.version) + 4
    size += sum(len(name) + len(value) + 4 for name, value in request.headers.get_all())
    if size > MAX_HEADER_BYTES:
        raise Refusal(431, "headers_too_large", f"the request's headers are {size / 1024:.0f} KiB; at most "
                      f"{MAX_HEADER_BYTES // 1024} KiB are read (clear this site's cookies, or use another browser)")


def parse_location(lat: str | None, lon: str | None, accuracy: str | None) -> Location | None:
    """The location from form fields (WGS84 degrees, accuracy radius in metres), or None when none was sent.

    Raises :class:`Refusal` (400 ``invalid_field``) for only one of lat/lon, a value that is not a finite
    number, lat outside ±90, lon outside ±180, or a negative accuracy.
    """
    if not lat and not lon:
        return None
    return Location(_number("lat", lat, -90.0, 90.0), _number("lon", lon, -180.0, 180.0),
                    _number("accuracy", accuracy, 0.0, math.inf) if accuracy else None)


def _number(name: str, raw: str | None, low: float, high: float) -> float:
    try:
        value = float(raw or "")
    except ValueError:
        raise Refusal(400, "invalid_field", f"{name} = {raw!r} is not a number", field=name) from None
    if not math.isfinite(value):
        raise Refusal(400, "invalid_field", f"{name} = {raw!r} is not a finite number", field=name)
    if not low <= value <= high:
        raise Refusal(400, "invalid_field", f"{name} = {raw!r} is outside {low:g}…{high:g}", field=name)
    return value


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


def parse_upload_id(raw: str | None) -> str | None:
    """The client's id for one upload (retries carry the same), or None; :class:`Refusal` if malformed."""
    if not raw:
        return None
    if not _CLIENT_ID.fullmatch(raw):
        raise Refusal(400, "invalid_field", "upload_id must be 8–64 letters, digits, '-' or '_'", field="upload_id")
    return raw


def parse_device(raw: str | None) -> str:
    """The phone's own id (header ``X-Exsampling-Device``, kept by the recorder), or "" when it sent none or a
    malformed one (the phone then counts as its address)."""
    return raw if raw and _CLIENT_ID.fullmatch(raw) else ""


def sniff(data: bytes, table: tuple[tuple[bytes, str], ...]) -> str | None:
    """The file extension whose magic bytes ``data`` starts with (never the client's file name), or None."""
    return next((ext for magic, ext in table if data.startswith(magic)), None)


def sniff_audio(data: bytes) -> str | None:
    """The extension a recording is kept under, from its first bytes: libsndfile's formats, and what phones'
    own recorders save (an ISO/QuickTime ``ftyp`` box: ``m4a``, ``3gp``, ``mov``, ``mp4``; Matroska/WebM;
    AMR; raw ADTS AAC); None for anything else (the decoder still decides whether it is audio)."""
    if data[4:8] == b"ftyp":
        brand = data[8:12]
        return "m4a" if brand == b"M4A " else "3gp" if brand.startswith(b"3g") else "mov" if brand == b"qt  " \
            else "mp4"
    return sniff(data, AUDIO_MAGIC)


def sniff_photo(data: bytes) -> str | None:
    """``jpg``/``png``/``gif``/``webp``/``heic`` from the photo's first bytes, or None if it is no image we keep."""
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    if data[4:12] in (b"ftypheic", b"ftypheix", b"ftypmif1", b"ftyphevc"):
        return "heic"
    return sniff(data, IMAGE_MAGIC)


def check_photo(data: bytes) -> str:
    """The photo's kind (``jpg``, …), after refusing what is not an image we keep (415 ``photo_not_image``: no
    image's magic bytes, or bytes that do not decode as the image they announce) and, from the header alone, an
    image (or a frame of one) of more than :data:`exsampling.photo.MAX_PIXELS` (422 ``photo_too_large``). It
    decodes the picture (bounded, see :func:`exsampling.photo.check`): call it off the server's loop."""
    kind = sniff_photo(data)
    if kind is None:
        raise Refusal(415, "photo_not_image", "the photo is not a JPEG, PNG, GIF, WebP or HEIC image")
    try:
        photo.check(data, kind)
    except photo.TooLarge as exc:
        raise Refusal(422, "photo_too_large", f"the photo has {exc.pixels / 1e6:.0f} megapixels; at most "
                      f"{photo.MAX_PIXELS / 1e6:.0f} are taken: send a smaller one, or none") from None
    except photo.NotAnImage:
        raise Refusal(415, "photo_not_image", f"the photo starts like a {kind.upper()} image but is not one "
                      "(damaged or cut short): send another, or none") from None
    return kind


class RateLimiter:
    """Recordings stored per phone and per address in any ``window_s`` seconds (sliding windows).

    A phone is its address plus the device id its recorder keeps (one without an id counts as its address);
    ``per_address`` bounds an address whatever ids it sends, high enough for a venue's NAT. :meth:`wait_s` only
    looks; :meth:`record` counts a stored recording, so refused or unauthenticated requests spend nothing.
    """

    def __init__(self, per_device: int, per_address: int, window_s: float) -> None:
        self.per_device, self.per_address, self.window_s = per_device, per_address, window_s
        self._events: dict[tuple[str, ...], deque[float]] = {}

    def _keys(self, address: str, device: str) -> list[tuple[tuple[str, ...], int]]:
        return [(("phone", address, device), self.per_device), (("address", address), self.per_address)]

    def wait_s(self, address: str, device: str = "", now: float | None = None) -> float:
        """0 if ``device`` at ``address`` may store one more recording now, else the seconds until it may."""
        now = time.monotonic() if now is None else now
        wait = 0.0
        for key, limit in self._keys(address, device):
            events = self._events.get(key, deque())
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
