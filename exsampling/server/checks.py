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

import tornado.web

from ..records import Location

#: Longest participant name kept, in characters (after NFC normalisation).
MAX_NAME_CHARS = 60
#: Most samples ``GET /api/samples`` returns at once.
MAX_SAMPLES_LISTED = 500
#: Upload ids remembered for answering a retried upload with its first answer (oldest forgotten first).
MAX_UPLOAD_IDS = 10_000

AUDIO_MAGIC = ((b"RIFF", "wav"), (b"RF64", "wav"), (b"fLaC", "flac"), (b"OggS", "ogg"), (b"ID3", "mp3"),
               (b"\xff\xfb", "mp3"), (b"\xff\xf3", "mp3"), (b"FORM", "aiff"))
IMAGE_MAGIC = ((b"\xff\xd8\xff", "jpg"), (b"\x89PNG\r\n\x1a\n", "png"), (b"GIF8", "gif"))

#: Status codes for each AudioError code: not audio at all → 415; audio we will not use → 422.
AUDIO_STATUS = {"undecodable": 415, "empty": 422, "too_long": 422, "invalid_samples": 422, "silent": 422}

# Bidirectional overrides let a name rewrite how the text around it reads on the performer's screen.
_BIDI_CONTROLS = set("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
_UPLOAD_ID = re.compile(r"[A-Za-z0-9_-]{8,64}")


class Refusal(tornado.web.HTTPError):
    """A request refused with a JSON body ``{"error": code, "message": message, **extra}`` (docs/http.md)."""

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None,
                 **extra: Any) -> None:
        super().__init__(status, reason=None)
        self.code, self.message, self.headers, self.extra = code, message, headers or {}, extra


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


def parse_upload_id(raw: str | None) -> str | None:
    """The client's id for one upload (retries carry the same), or None; :class:`Refusal` if malformed."""
    if not raw:
        return None
    if not _UPLOAD_ID.fullmatch(raw):
        raise Refusal(400, "invalid_field", "upload_id must be 8–64 letters, digits, '-' or '_'", field="upload_id")
    return raw


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
