"""The performer's console: ipywidgets panels over the pipeline, with the upload server running in the same kernel.

``console.ipynb`` builds a :class:`Console` from the environment and displays it; Voilà serves it as a page
(``exsampling console``), and the same notebook opened in JupyterLab gives the live-coding API
(docs/live-coding.md).

Who runs the show. Voilà starts a kernel per page view, and only one process can listen on the upload
port, so exactly one console *owns* the show: it runs the upload server, sends OSC, and is the only one with
working buttons. Its record (``console.owner`` in the library's settings) names its process, its kernel and a
private control port on 127.0.0.1. A console that is opened later — a reload, a second tab, the notebook in
JupyterLab — asks the owner over that control port to let go, then listens itself: the newest view runs the
show, and the older one turns read-only (live, from the library) with a button to take the show back.
``?view`` in the page URL opens a read-only view that never takes over (e.g. to project the QR code).
A console that is not the owner takes over by itself when the owner's process has died, so a warm spare
(Voilà's pre-heated kernel) also restarts the show after a crash.

Environment (set by ``exsampling console``; all optional when running ``voila console.ipynb`` by hand):

``EXSAMPLING_CONFIG``       the TOML config; the mapping is saved there (default ``./exsampling.toml``,
                            created on the first edit when missing)
``EXSAMPLING_UPLOAD_PORT``  the upload server's port (default ``[server] port``)
``EXSAMPLING_TOKEN``        the show token (default: kept from the last show, else ``[server] token``, else new)
``EXSAMPLING_TILES``        a map tile URL template such as ``http://127.0.0.1:8000/{z}/{x}/{y}.png``
                            (default: no tiles, the markers on a plain light background)
"""
from __future__ import annotations

import asyncio
import contextlib
import errno
import functools
import html
import io
import json
import math
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
import webbrowser
import zlib
from collections.abc import Callable, Iterator, MutableMapping
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import ipyleaflet
import ipywidgets as widgets
import tornado.httpclient
import tornado.httpserver
import tornado.netutil
import tornado.web
import tornado.websocket
import traitlets
from tornado.ioloop import PeriodicCallback

from .config import PROJECT_ROOT, Config, ConfigError, load, save
from .library import Library, utc_now
from .mapping import DEFAULT_MAPPING, LABELS, MappingError, check_instrument_name, check_mapping
from .pitch import note_name
from .records import Sample

ENV_CONFIG = "EXSAMPLING_CONFIG"
ENV_UPLOAD_PORT = "EXSAMPLING_UPLOAD_PORT"
ENV_TOKEN = "EXSAMPLING_TOKEN"
ENV_TILES = "EXSAMPLING_TILES"

#: Where the console keeps its config when none is named (relative to the kernel's working directory).
DEFAULT_CONFIG_NAME = "exsampling.toml"
NOTEBOOK = PROJECT_ROOT / "console.ipynb"
#: Card widgets on the page: a show can bring hundreds of sounds, the page only ever holds these.
POOL_SIZE = 12
#: How often every console follows the library, the config file and the owner, in milliseconds.
TICK_MS = 1000
#: The library setting naming the console that owns the show, and the one holding auto/preview.
OWNER_KEY = "console.owner"
MODE_KEY = "show.mode"
#: Free space under which the library's disk is reported nearly full, in bytes (or 5 % of the disk).
LOW_DISK_BYTES = 2 * 2 ** 30
#: How long a new owner keeps trying to bind the upload port while the previous owner lets go, in seconds.
BIND_PATIENCE_S = 6.0

ROLES = ("starting", "owner", "standby", "viewer", "blocked")

INSTRUMENT_COLOURS = {
    "Bass": "#1f77b4", "BD": "#d62728", "Chorus": "#9467bd", "HH": "#bcbd22", "Piano": "#2ca02c",
    "Snare": "#ff7f0e", "T": "#17becf", "TT": "#8c564b", "Wind": "#e377c2",
}
_EXTRA_COLOURS = ("#393b79", "#637939", "#8c6d31", "#843c39", "#7b4173", "#3182bd", "#31a354", "#756bb1")
_NO_INSTRUMENT_COLOUR = "#888888"

CSS = """<style>
.exs-console { font-size: 14px; }
.exs-card { border: 1px solid #d9d9d9; border-radius: 6px; padding: 6px; background: #fff; }
.exs-card.exs-focus { box-shadow: 0 0 0 3px #ff9800; }
.exs-card.exs-rejected { opacity: 0.55; }
.exs-card .widget-button { width: auto; }
.exs-badge { display: inline-block; padding: 0 6px; border-radius: 8px; font-size: 12px; background: #eee; }
.exs-unsure { background: #fff3cd; color: #7a5b00; }
.exs-sent { background: #d4edda; color: #155724; }
.exs-new { background: #cce5ff; color: #004085; }
.exs-rejected-badge { background: #f8d7da; color: #721c24; }
.exs-url { font-size: 22px; font-weight: 600; word-break: break-all; }
.exs-warn { background: #fdecea; color: #b71c1c; padding: 4px 8px; border-radius: 4px; margin: 2px 0; }
.exs-banner { background: #fff3cd; color: #533f03; padding: 8px 12px; border-radius: 4px; font-size: 16px; }
.exs-ready { color: #1b5e20; font-weight: 600; }
.exs-map .leaflet-container, .exs-map.leaflet-container { background: #f4f1e8 !important; }
.exs-small { color: #666; font-size: 12px; }
</style>"""


# -- configuration -----------------------------------------------------------------------------------


def config_path(given: str | os.PathLike | None = None) -> Path:
    """The console's config file: ``given``, else ``$EXSAMPLING_CONFIG``, else ``./exsampling.toml``.

    The file need not exist: the console then runs on the defaults and creates it on the first mapping edit.
    """
    return Path(given or os.environ.get(ENV_CONFIG) or DEFAULT_CONFIG_NAME).expanduser().resolve()


def load_config(path: Path) -> Config:
    """The config at ``path``, or the defaults anchored at ``path`` when the file does not exist yet.

    Anchoring keeps relative paths (the library) resolving against the same folder before and after the
    console first writes the file, so the library never moves under a running show.
    """
    return load(path) if path.exists() else replace(load(None), source=path)


# -- what a card shows -------------------------------------------------------------------------------


@functools.lru_cache(maxsize=64)
def spectrogram_png(path: str, params: Any, width: int = 432, height: int = 96) -> bytes:
    """A log-mel picture of the WAV at ``path`` (low pitches at the bottom) as PNG bytes, ``width``×``height`` px.

    ``params`` is the chain's :class:`~exsampling.features.FeatureParams`, so the picture is what the model saw.
    """
    import soundfile as sf
    from matplotlib import colormaps
    from PIL import Image

    from .features import DYNAMIC_RANGE_DB, log_mel

    y, _ = sf.read(path, dtype="float32", always_2d=False)
    frames = 1 + len(y) // params.hop_length  # a short sample is padded to a segment: draw only the sound itself
    level = (log_mel(y, params)[:, :frames] + DYNAMIC_RANGE_DB) / DYNAMIC_RANGE_DB
    rgb = (colormaps["magma"](level[::-1])[..., :3] * 255).astype("uint8")
    buf = io.BytesIO()
    Image.fromarray(rgb).resize((width, height), Image.BILINEAR).save(buf, format="PNG", optimize=False)
    return buf.getvalue()


@functools.lru_cache(maxsize=64)
def photo_thumbnail(path: str, size: int = 320) -> bytes | None:
    """A participant's photo shrunk to ``size`` px (JPEG bytes), upright; None if it cannot be read (e.g. HEIC)."""
    from PIL import Image, ImageOps

    try:
        with Image.open(path) as img:
            img = ImageOps.exif_transpose(img).convert("RGB")
            img.thumbnail((size, size))
            buf = io.BytesIO()
            img.save(buf, format="JPEG", quality=80)
    except (OSError, ValueError):
        return None
    return buf.getvalue()


def clock(iso_or_epoch: str | float | None) -> str:
    """Local wall-clock time ``HH:MM:SS`` of an ISO 8601 UTC string or a POSIX time; "" for None."""
    if iso_or_epoch in (None, ""):
        return ""
    if isinstance(iso_or_epoch, str):
        moment = datetime.fromisoformat(iso_or_epoch.replace("Z", "+00:00")).astimezone()
    else:
        moment = datetime.fromtimestamp(iso_or_epoch)
    return moment.strftime("%H:%M:%S")


def instrument_colour(instrument: str | None) -> str:
    """The colour of an instrument track on the map and in cards (stable for names the user adds)."""
    if not instrument:
        return _NO_INSTRUMENT_COLOUR
    return INSTRUMENT_COLOURS.get(instrument) or _EXTRA_COLOURS[zlib.crc32(instrument.encode()) % len(_EXTRA_COLOURS)]


def pitch_text(sample: Sample) -> str:
    """``A4 · 440.0 Hz`` or ``unpitched``."""
    if sample.midi_note is None or sample.pitch_hz is None:
        return "unpitched"
    return f"{note_name(sample.midi_note)} · {sample.pitch_hz:.1f} Hz"


def top_text(sample: Sample) -> str:
    """The class and the model's top guesses with probabilities, as HTML."""
    if sample.label is None:
        return "<i>no class (no model)</i>"
    guesses = " · ".join(f"{html.escape(label)} {p:.0%}" for label, p in sample.top)
    chosen = f"<b>{html.escape(sample.label)}</b>"
    if sample.label_source == "performer":
        return f"{chosen} <span class='exs-small'>(your label; model: {guesses})</span>"
    return f"{chosen} <span class='exs-small'>{guesses}</span>"


_STATUS_BADGE = {"new": "exs-new", "sent": "exs-sent", "rejected": "exs-rejected-badge", "accepted": ""}


def status_badge(sample: Sample) -> str:
    """The sample's status as a coloured badge (with the time it was sent)."""
    word = f"sent {clock(sample.sent_at)}" if sample.status == "sent" and sample.sent_at else sample.status
    if sample.status == "new":
        word = "waiting for you"
    return f"<span class='exs-badge {_STATUS_BADGE.get(sample.status, '')}'>{html.escape(word)}</span>"


class Media:
    """The bytes a card shows, read from the library on demand and cached, so paging back re-reads nothing."""

    def __init__(self, pipeline: Any) -> None:
        self.pipeline = pipeline
        self._recalls: dict[int, str] = {}

    def picture(self, sample: Sample) -> bytes:
        try:
            return spectrogram_png(sample.path, self.pipeline.params)
        except (OSError, RuntimeError, ValueError):  # a missing or damaged file must not break the page
            return b""

    @staticmethod
    def audio(sample: Sample) -> bytes:
        try:
            return Path(sample.path).read_bytes()
        except OSError:
            return b""

    def photo(self, sample: Sample) -> bytes | None:
        try:
            photo_path = self.pipeline.library.recording(sample.recording_id).photo_path
        except KeyError:
            return None
        return photo_thumbnail(photo_path) if photo_path else None

    def recall(self, sample: Sample) -> str:
        """"labelled like the sound you re-labelled at HH:MM" when the re-label memory chose the class."""
        if not sample.label_source.startswith("memory:"):
            return ""
        if sample.id not in self._recalls:
            recall = self.pipeline.recall_of(sample)
            self._recalls[sample.id] = (
                f"labelled like the sound you re-labelled at {clock(recall.labelled_at)[:5]} (#{recall.sample_id})"
                if recall is not None else "")
        return self._recalls[sample.id]


# -- panels ------------------------------------------------------------------------------------------


class SampleCard(widgets.VBox):
    """One incoming sound: picture, class, pitch, instrument, player and the performer's buttons.

    Cards are pooled: the same card shows whichever sample it is given (``show``), and only what changed is
    sent to the page. ``on_action(callback)`` registers ``callback(action, sample_id, *args)`` for the buttons.
    """

    sample_id = traitlets.Int(0, help="the sample shown; 0 = an empty, hidden card")
    frozen = traitlets.Bool(False, help="read-only: buttons disabled")
    focused = traitlets.Bool(False, help="highlighted (e.g. its marker was clicked on the map)")

    def __init__(self) -> None:
        self._sample: Sample | None = None
        self._actions = widgets.CallbackDispatcher()
        self.title = widgets.HTML()
        self.picture = widgets.Image(format="png", layout=widgets.Layout(width="100%", height="96px"))
        self.details = widgets.HTML()
        self.player = widgets.Audio(format="wav", autoplay=False, loop=False, controls=True,
                                    layout=widgets.Layout(width="100%", height="32px"))
        self.photo = widgets.Image(format="jpeg", layout=widgets.Layout(display="none", max_height="180px"))
        self.note = widgets.HTML()
        self.accept = widgets.Button(description="✓ accept", button_style="success",
                                     tooltip="send it to the stage", layout=widgets.Layout(width="auto"))
        self.reject = widgets.Button(description="✕ reject", button_style="danger",
                                     tooltip="keep it off the stage", layout=widgets.Layout(width="auto"))
        self.resend = widgets.Button(description="↻ send again", tooltip="send it over OSC once more",
                                     layout=widgets.Layout(width="auto"))
        self.relabel = widgets.Dropdown(options=[("re-label…", "")] + [(label, label) for label in LABELS],
                                        value="", layout=widgets.Layout(width="150px"))
        self.accept.on_click(self._on_accept)
        self.reject.on_click(self._on_reject)
        self.resend.on_click(self._on_resend)
        self.relabel.observe(self._on_relabel, "value")
        buttons = widgets.HBox([self.accept, self.reject, self.resend, self.relabel],
                               layout=widgets.Layout(flex_flow="row wrap"))
        super().__init__(children=[self.title, self.picture, self.details, self.player, self.photo, self.note,
                                   buttons], layout=widgets.Layout(display="none"))
        self.add_class("exs-card")

    def on_action(self, callback: Callable[..., None]) -> None:
        self._actions.register_callback(callback)

    def show(self, sample: Sample, media: Media) -> None:
        """Show ``sample``; the audio, picture and photo are only re-sent when the card changes sample."""
        if sample == self._sample:
            return
        if self._sample is None or self._sample.id != sample.id:
            self.picture.value = media.picture(sample)
            self.player.value = media.audio(sample)
            photo = media.photo(sample)
            self.photo.value = photo or b""
            self.photo.layout.display = "" if photo else "none"
        self._sample = sample
        self.sample_id = sample.id
        self.title.value = self._title(sample)
        self.details.value = self._details(sample)
        recall = media.recall(sample)
        self.note.value = f"{status_badge(sample)} <span class='exs-small'>{html.escape(recall)}</span>"
        (self.remove_class if sample.status != "rejected" else self.add_class)("exs-rejected")
        self._enable()
        self.layout.display = ""

    def clear(self) -> None:
        """Empty and hide the card (it stays in the pool)."""
        if self._sample is None:
            return
        self._sample = None
        self.sample_id = 0
        self.player.value = self.picture.value = self.photo.value = b""
        self.layout.display = "none"

    @staticmethod
    def _title(sample: Sample) -> str:
        unsure = " <span class='exs-badge exs-unsure'>unsure</span>" if sample.unsure else ""
        return f"<span class='exs-small'>#{sample.id}</span> {top_text(sample)}{unsure}"

    @staticmethod
    def _details(sample: Sample) -> str:
        if sample.instrument:
            rule = "melodic" if sample.melodic else "percussive"
            track = (f"<b style='color:{instrument_colour(sample.instrument)}'>→ {html.escape(sample.instrument)}"
                     f"</b> <span class='exs-small'>({rule})</span>")
        else:
            track = "<b>→ no instrument</b>"
        who = html.escape(sample.participant) if sample.participant else "anonymous"
        return (f"{track} · {pitch_text(sample)} · {sample.duration_s:.1f} s<br>"
                f"<span class='exs-small'>by {who} at {clock(sample.recorded_at)}"
                f"{' · located' if sample.location else ''}</span>")

    @traitlets.observe("frozen")
    def _on_frozen(self, change: dict) -> None:
        """Disable or enable the buttons."""
        self._enable()

    @traitlets.observe("focused")
    def _on_focused(self, change: dict) -> None:
        """Highlight the card."""
        (self.add_class if change["new"] else self.remove_class)("exs-focus")

    def _enable(self) -> None:
        status = self._sample.status if self._sample else ""
        self.accept.disabled = self.frozen or status in ("sent", "")
        self.reject.disabled = self.frozen or status in ("rejected", "")
        self.resend.disabled = self.frozen or status not in ("sent", "accepted")
        self.relabel.disabled = self.frozen or not status

    def _on_accept(self, _button: widgets.Button) -> None:
        """Let this sound reach the stage."""
        self._actions("accept", self.sample_id)

    def _on_reject(self, _button: widgets.Button) -> None:
        """Keep this sound off the stage."""
        self._actions("reject", self.sample_id)

    def _on_resend(self, _button: widgets.Button) -> None:
        """Send this sound over OSC again."""
        self._actions("resend", self.sample_id)

    def _on_relabel(self, change: dict) -> None:
        """Give this sound the class picked in the dropdown, then reset the dropdown."""
        if change["new"]:
            self.relabel.value = ""
            self._actions("relabel", self.sample_id, change["new"])


class SoundsPanel(widgets.VBox):
    """Incoming sounds, newest first, in a fixed pool of cards; a pager reaches older ones.

    ``refresh()`` re-reads the page from the library and reuses cards by sample id, so a new sound costs one
    card update plus a reordering, whatever the size of the show.
    """

    frozen = traitlets.Bool(False)
    focus = traitlets.Int(0, help="the highlighted sample's id (0: none)")
    cursor = traitlets.Int(0, help="the page shows samples older than this id; 0 = the newest sounds")

    def __init__(self, library: Library, media: Media, size: int = POOL_SIZE) -> None:
        self.library, self.media = library, media
        self.cards = [SampleCard() for _ in range(size)]
        self._history: list[int] = []
        self._newest_seen = 0
        self.grid = widgets.GridBox(children=self.cards, layout=widgets.Layout(
            grid_template_columns="repeat(auto-fill, minmax(300px, 1fr))", grid_gap="8px", width="100%"))
        self.newest = widgets.Button(description="« newest", layout=widgets.Layout(width="auto"))
        self.newer = widgets.Button(description="◀ newer", layout=widgets.Layout(width="auto"))
        self.older = widgets.Button(description="older ▶", layout=widgets.Layout(width="auto"))
        self.where = widgets.HTML()
        self.empty = widgets.HTML("<p class='exs-small'>No sounds yet. They appear here as soon as a phone "
                                  "sends one; scan the QR code to try.</p>")
        self.newest.on_click(self._on_newest)
        self.newer.on_click(self._on_newer)
        self.older.on_click(self._on_older)
        for card in self.cards:
            widgets.dlink((self, "frozen"), (card, "frozen"))
        pager = widgets.HBox([self.newest, self.newer, self.older, self.where],
                             layout=widgets.Layout(align_items="center"))
        super().__init__(children=[widgets.HTML("<h3>Incoming sounds</h3>"), pager, self.empty, self.grid],
                         layout=widgets.Layout(width="100%"))

    def on_action(self, callback: Callable[..., None]) -> None:
        for card in self.cards:
            card.on_action(callback)

    def reset(self) -> None:
        """Back to the newest sounds."""
        self._history.clear()
        self.cursor = 0
        self.refresh()

    def refresh(self) -> None:
        """Show the current page as the library has it now, touching only the cards whose sound changed."""
        samples = self.library.samples(limit=len(self.cards), before_id=self.cursor or None)
        if self.cursor == 0 and samples:
            self._newest_seen = samples[0].id
        wanted = {s.id for s in samples}
        by_id = {card.sample_id: card for card in self.cards if card.sample_id in wanted}
        spare = [card for card in self.cards if card.sample_id not in wanted]
        ordered = []
        for sample in samples:
            card = by_id.get(sample.id) or spare.pop(0)
            card.show(sample, self.media)
            card.focused = sample.id == self.focus
            ordered.append(card)
        for card in spare:
            card.clear()
            card.focused = False
        children = tuple(ordered + spare)
        if children != self.grid.children:
            self.grid.children = children
        self._pager(samples)

    def update(self, sample: Sample) -> None:
        """A sample was added or changed: redraw its card, or the page when a new sound belongs on it."""
        card = next((c for c in self.cards if c.sample_id == sample.id), None)
        if card is not None:
            card.show(sample, self.media)
        elif self.cursor == 0 and sample.id > self._newest_seen:
            self.refresh()
        elif self.cursor:
            self.newest.button_style = "info"  # newer sounds wait one click away

    def show_sample(self, sample_id: int) -> None:
        """Page to ``sample_id`` (it becomes the first card) and highlight it."""
        self._history.append(self.cursor)
        self.focus = sample_id
        self.cursor = sample_id + 1
        self.refresh()

    def _pager(self, samples: list[Sample]) -> None:
        self.empty.layout.display = "none" if samples or self.cursor else ""
        self.newer.disabled = self.cursor == 0
        self.newest.disabled = self.cursor == 0
        if self.cursor == 0:
            self.newest.button_style = ""
        self.older.disabled = len(samples) < len(self.cards) or not self.library.samples(
            limit=1, before_id=samples[-1].id)
        total = self.library.counts()["samples"]
        self.where.value = (f"<span class='exs-small'>showing #{samples[-1].id}–#{samples[0].id} · "
                            f"{total} sounds in all</span>" if samples else "")

    def _on_newest(self, _button: widgets.Button) -> None:
        """Jump back to the newest sounds."""
        self.reset()

    def _on_newer(self, _button: widgets.Button) -> None:
        """Go one page towards the newest sounds."""
        self.cursor = self._history.pop() if self._history else 0
        self.refresh()

    def _on_older(self, _button: widgets.Button) -> None:
        """Go one page back in the show."""
        oldest = min((c.sample_id for c in self.cards if c.sample_id), default=0)
        if oldest:
            self._history.append(self.cursor)
            self.cursor = oldest
            self.refresh()


def fit_view(points: list[tuple[float, float]], width_px: int = 520, height_px: int = 360,
             max_zoom: int = 17) -> tuple[tuple[float, float], int]:
    """The map centre and the largest zoom at which all ``points`` (lat, lon) fit a ``width_px``×``height_px`` view.

    Computed here rather than with ``Map.fit_bounds``, which waits for the page to report its bounds and so
    never finishes while no page is open (a pre-heated or read-only kernel).
    """
    lats, lons = [p[0] for p in points], [p[1] for p in points]

    def mercator_y(lat: float) -> float:
        lat = max(min(lat, 85.0), -85.0)
        return math.log(math.tan(math.pi / 4 + math.radians(lat) / 2))

    y_south, y_north = mercator_y(min(lats)), mercator_y(max(lats))
    centre_lat = math.degrees(2 * math.atan(math.exp((y_south + y_north) / 2)) - math.pi / 2)
    centre = (centre_lat, (min(lons) + max(lons)) / 2)
    span_x = (max(lons) - min(lons)) / 360.0
    span_y = (y_north - y_south) / (2 * math.pi)
    zooms = [math.log2(px * 0.8 / (256 * span)) for px, span in ((width_px, span_x), (height_px, span_y)) if span > 0]
    zoom = int(math.floor(min(zooms))) if zooms else max_zoom - 1
    return centre, max(1, min(zoom, max_zoom))


class MapPanel(widgets.VBox):
    """Where sounds were recorded: a circle per recording, coloured by instrument; a click opens its card.

    Without tiles (no Internet) the circles sit on a plain light background with a scale bar. ``tiles`` is a
    tile URL template (e.g. a local tile server) for a real map. ``on_select(callback)`` gets the sample id
    of a clicked recording's first sound.
    """

    def __init__(self, tiles: str = "") -> None:
        layers = (ipyleaflet.TileLayer(url=tiles, max_zoom=19, attribution="local tiles"),) if tiles else ()
        self.map = ipyleaflet.Map(layers=layers, center=(20.0, 0.0), zoom=1, scroll_wheel_zoom=True,
                                  attribution_control=bool(tiles), layout=widgets.Layout(height="360px"))
        self.map.add_class("exs-map")
        self.map.add(ipyleaflet.ScaleControl(position="bottomleft", imperial=False))
        self.markers = ipyleaflet.LayerGroup()
        self.map.add(self.markers)
        self.legend = widgets.HTML()
        self.note = widgets.HTML("<span class='exs-small'>No located sounds yet.</span>")
        self._select = widgets.CallbackDispatcher()
        self._circles: dict[int, ipyleaflet.CircleMarker] = {}
        self._first: dict[int, Sample] = {}
        super().__init__(children=[widgets.HTML("<h3>Map</h3>"), self.map, self.legend, self.note])

    def on_select(self, callback: Callable[[int], None]) -> None:
        self._select.register_callback(callback)

    def reset(self, samples: list[Sample]) -> None:
        """Draw every located recording of ``samples`` (newest first, as the library lists them)."""
        for sample in reversed(samples):
            self.add(sample, fit=False)
        if self._circles:
            self.fit()

    def add(self, sample: Sample, fit: bool = True) -> None:
        """Place the sample's recording (once) or recolour it when its first sound changed instrument."""
        if sample.location is None:
            return
        rid = sample.recording_id
        first = self._first.get(rid)
        if first is not None and first.id != sample.id:
            return
        self._first[rid] = sample
        colour = instrument_colour(sample.instrument)
        circle = self._circles.get(rid)
        if circle is None:
            circle = ipyleaflet.CircleMarker(location=(sample.location.lat, sample.location.lon), radius=9, weight=2,
                                             color=colour, fill_color=colour, fill_opacity=0.75)
            circle.on_click(functools.partial(self._on_circle_click, rid))
            self._circles[rid] = circle
            self.markers.add(circle)
            self._update_legend()
            if fit:
                self.fit()
        else:
            circle.color = circle.fill_color = colour
            self._update_legend()

    def fit(self) -> None:
        """Zoom to show every recording."""
        self.map.center, self.map.zoom = fit_view([tuple(c.location) for c in self._circles.values()])

    def _update_legend(self) -> None:
        instruments = sorted({s.instrument or "" for s in self._first.values()})
        self.legend.value = " ".join(
            f"<span style='color:{instrument_colour(name)}'>●</span> {html.escape(name or 'none')}"
            for name in instruments)
        self.note.value = f"<span class='exs-small'>{len(self._circles)} recordings with a location</span>"

    def _on_circle_click(self, recording_id: int, **event: Any) -> None:
        """Open the card of the clicked recording's first sound."""
        if event.get("type", "click") == "click":
            self._select(self._first[recording_id].id)


class PromptPanel(widgets.VBox):
    """What every recorder page shows at once: the performer's request, and whether the show takes sounds."""

    prompt = traitlets.Unicode("", help="the request shown on every phone")
    is_open = traitlets.Bool(True, help="whether uploads are taken")
    frozen = traitlets.Bool(False)

    def __init__(self) -> None:
        self.text = widgets.Textarea(placeholder="Ask the audience for a sound, e.g. “something metallic”",
                                     rows=2, layout=widgets.Layout(width="95%"))
        self.send = widgets.Button(description="show on phones", button_style="primary",
                                   layout=widgets.Layout(width="auto"))
        self.clear = widgets.Button(description="clear", layout=widgets.Layout(width="auto"))
        self.open_toggle = widgets.ToggleButton(value=True, layout=widgets.Layout(width="auto"))
        self.current = widgets.HTML()
        self.send.on_click(self._on_send)
        self.clear.on_click(self._on_clear)
        widgets.link((self, "is_open"), (self.open_toggle, "value"))
        super().__init__(children=[widgets.HTML("<h3>Prompt</h3>"), self.text,
                                   widgets.HBox([self.send, self.clear, self.open_toggle]), self.current])
        self._show_state()

    def _on_send(self, _button: widgets.Button) -> None:
        """Put the typed request on every phone."""
        self.prompt = self.text.value.strip()

    def _on_clear(self, _button: widgets.Button) -> None:
        """Take the request off the phones."""
        self.text.value = ""
        self.prompt = ""

    @traitlets.observe("prompt", "is_open")
    def _on_state(self, change: dict) -> None:
        """Say what the phones show now."""
        self._show_state()

    @traitlets.observe("frozen")
    def _on_frozen(self, change: dict) -> None:
        """Disable or enable editing."""
        for w in (self.text, self.send, self.clear, self.open_toggle):
            w.disabled = change["new"]

    def _show_state(self) -> None:
        self.open_toggle.description = "open: taking sounds" if self.is_open else "closed: refusing sounds"
        self.open_toggle.button_style = "success" if self.is_open else "warning"
        shown = f"“{html.escape(self.prompt)}”" if self.prompt else "<i>no prompt</i>"
        self.current.value = f"<span class='exs-small'>Phones show: {shown}</span>"


class MappingPanel(widgets.VBox):
    """The class → instrument table (Fig. 5 by default) and each instrument's playing rule, editable live.

    ``show(table, melodic)`` puts values in without echoing them back; ``on_edit(callback)`` gets
    ``callback(kind, key, value)`` for the performer's edits: ``("mapping", label, instrument)``,
    ``("melodic", instrument, bool)`` or ``("instrument", name, False)`` for a new track.
    """

    frozen = traitlets.Bool(False)

    def __init__(self, table: dict[str, str], melodic: dict[str, bool]) -> None:
        self._syncing = False
        self._edits = widgets.CallbackDispatcher()
        instruments = sorted(melodic)
        self.rows = {label: widgets.Dropdown(options=instruments, value=table.get(label),
                                             layout=widgets.Layout(width="110px")) for label in LABELS}
        self.rules = widgets.VBox()
        self._rule_buttons: dict[str, widgets.ToggleButtons] = {}
        self.new_name = widgets.Text(placeholder="new track name", layout=widgets.Layout(width="160px"))
        self.add = widgets.Button(description="add track", layout=widgets.Layout(width="auto"))
        self.saved = widgets.HTML()
        for label, dropdown in self.rows.items():
            dropdown.observe(functools.partial(self._on_instrument, label), "value")
        self.add.on_click(self._on_add)
        cells = [widgets.HBox([widgets.Label(label, layout=widgets.Layout(width="190px")), dropdown])
                 for label, dropdown in self.rows.items()]
        grid = widgets.GridBox(cells, layout=widgets.Layout(
            grid_template_columns="repeat(auto-fill, minmax(310px, 1fr))"))
        super().__init__(children=[self.saved, grid, widgets.HTML("<b>Playing rule per track</b>"), self.rules,
                                   widgets.HBox([self.new_name, self.add])])
        self.show(table, melodic)

    def on_edit(self, callback: Callable[[str, str, Any], None]) -> None:
        self._edits.register_callback(callback)

    def show(self, table: dict[str, str], melodic: dict[str, bool]) -> None:
        """Put ``table`` and ``melodic`` in the widgets (no edit callbacks fire)."""
        self._syncing = True
        try:
            instruments = sorted(melodic)
            for label, dropdown in self.rows.items():
                if list(dropdown.options) != instruments:
                    dropdown.options = instruments
                dropdown.value = table.get(label)
            for name in instruments:
                self._rule_button(name).value = melodic[name]
            for name in set(self._rule_buttons) - set(instruments):
                del self._rule_buttons[name]
            self.rules.children = tuple(
                widgets.HBox([widgets.Label(name, layout=widgets.Layout(width="90px")), self._rule_buttons[name]])
                for name in instruments)
        finally:
            self._syncing = False

    def _rule_button(self, name: str) -> widgets.ToggleButtons:
        if name not in self._rule_buttons:
            button = widgets.ToggleButtons(options=[("melodic", True), ("percussive", False)],
                                           style={"button_width": "90px"}, disabled=self.frozen)
            button.observe(functools.partial(self._on_rule, name), "value")
            self._rule_buttons[name] = button
        return self._rule_buttons[name]

    def _on_instrument(self, label: str, change: dict) -> None:
        """Map ``label`` to the instrument picked."""
        if not self._syncing and change["new"]:
            self._edits("mapping", label, change["new"])

    def _on_rule(self, instrument: str, change: dict) -> None:
        """Play ``instrument`` melodically or percussively."""
        if not self._syncing:
            self._edits("melodic", instrument, change["new"])

    def _on_add(self, _button: widgets.Button) -> None:
        """Add a new instrument track (percussive until changed)."""
        name = self.new_name.value.strip()
        if name:
            self.new_name.value = ""
            self._edits("instrument", name, False)

    @traitlets.observe("frozen")
    def _on_frozen(self, change: dict) -> None:
        """Disable or enable editing."""
        for w in [*self.rows.values(), *self._rule_buttons.values(), self.new_name, self.add]:
            w.disabled = change["new"]


class LiveCodingPanel(widgets.VBox):
    """The live-coded rules in use and the ones that failed (a failing rule is skipped, the show goes on)."""

    def __init__(self) -> None:
        self.rules = widgets.HTML()
        self.failures = widgets.HTML()
        super().__init__(children=[widgets.HTML("<h3>Live coding</h3>"), self.rules, self.failures])
        self.show([], {})

    def show(self, rules: list[Callable], failures: dict[str, tuple[int, str, float]]) -> None:
        """List ``rules`` (in the order they run) and ``failures`` (name → count, last error, time)."""
        names = ", ".join(f"<code>{html.escape(getattr(r, '__name__', repr(r)))}</code>" for r in rules)
        self.rules.value = (f"Rules before the table: {names}" if rules else
                            "<span class='exs-small'>No rules. In JupyterLab, open console.ipynb and write "
                            "<code>@show.rule</code> functions (docs/live-coding.md).</span>")
        self.failures.value = "".join(
            f"<div class='exs-warn'>rule <code>{html.escape(name)}</code> failed {count}× (last at {clock(at)}: "
            f"{html.escape(error)}); skipped, the table decided</div>"
            for name, (count, error, at) in failures.items())


class Header(widgets.HBox):
    """What the performer glances at: where phones send sounds, who joined, whether the stage hears us."""

    mode = traitlets.Unicode("auto", help="'auto' (straight to the stage) or 'preview' (wait for accept)")
    big_qr = traitlets.Bool(False, help="show the QR code large, for projecting")
    frozen = traitlets.Bool(False)

    def __init__(self) -> None:
        self.qr = widgets.Image(format="png", layout=widgets.Layout(width="200px", height="200px"))
        self.qr_toggle = widgets.ToggleButton(description="⤢ big QR", layout=widgets.Layout(width="auto"))
        self.url = widgets.HTML()
        self.status = widgets.HTML()
        self.mode_toggle = widgets.ToggleButtons(
            options=[("auto-accept", "auto"), ("preview", "preview")],
            tooltips=["every sound goes to the stage at once (as in the paper)",
                      "nothing reaches the stage until you accept it"])
        widgets.link((self, "mode"), (self.mode_toggle, "value"))
        widgets.link((self, "big_qr"), (self.qr_toggle, "value"))
        info = widgets.VBox([self.url, self.status, widgets.HBox([widgets.Label("Mode:"), self.mode_toggle])],
                            layout=widgets.Layout(flex="1 1 auto", padding="0 0 0 12px"))
        super().__init__(children=[widgets.VBox([self.qr, self.qr_toggle]), info],
                         layout=widgets.Layout(align_items="flex-start"))

    @traitlets.observe("big_qr")
    def _on_big_qr(self, change: dict) -> None:
        """Enlarge or shrink the QR code."""
        side = "560px" if change["new"] else "200px"
        self.qr.layout.width = self.qr.layout.height = side

    @traitlets.observe("frozen")
    def _on_frozen(self, change: dict) -> None:
        """Disable or enable the mode switch."""
        self.mode_toggle.disabled = change["new"]


class RoleBanner(widgets.HBox):
    """Says, when this page does not run the show, who does, and offers to run it here."""

    def __init__(self) -> None:
        self.text = widgets.HTML()
        self.take_over = widgets.Button(description="Run the show here", button_style="warning",
                                        layout=widgets.Layout(width="auto"))
        super().__init__(children=[self.text, self.take_over],
                         layout=widgets.Layout(display="none", align_items="center"))

    def show(self, message: str, offer: bool) -> None:
        """Show ``message`` (HTML; "" hides the banner) and the take-over button when ``offer``."""
        self.text.value = f"<div class='exs-banner'>{message}</div>" if message else ""
        self.take_over.layout.display = "" if offer else "none"
        self.layout.display = "" if message else "none"


# -- the live-coding API -------------------------------------------------------------------------------


class LiveTable(MutableMapping):
    """``show.mapping`` and ``show.melodic``: the mapper's own dict, where a write also updates the widgets and
    is saved to the TOML file; deleting a label restores the paper's default (every label keeps a track)."""

    def __init__(self, data: dict, write: Callable[[str, Any], None], reset: Callable[[str], None]) -> None:
        self._data, self._write, self._reset = data, write, reset

    def __getitem__(self, key: str) -> Any:
        return self._data[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self._write(key, value)

    def __delitem__(self, key: str) -> None:
        self._reset(key)

    def __iter__(self) -> Iterator[str]:
        return iter(dict(self._data))

    def __len__(self) -> int:
        return len(self._data)

    def __repr__(self) -> str:
        return repr(self._data)


# -- ownership of the show -------------------------------------------------------------------------------


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@contextlib.contextmanager
def _native_stderr_to_log() -> Iterator[None]:
    """Send what C++ libraries write to file descriptor 2 to the kernel's log (Voilà's terminal), not the page.

    TensorFlow prints start-up notices there that no log level silences; in a kernel, fd 2 is forwarded to the
    page, where they would look like errors.
    """
    original = getattr(sys.stderr, "_original_stdstream_copy", None)  # ipykernel keeps the process's own stderr
    if original is None:
        yield
        return
    saved = os.dup(2)
    os.dup2(original, 2)
    try:
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def _kernel_id(environ: MutableMapping[str, str]) -> str:
    """This kernel's id: Voilà sets ``VOILA_KERNEL_ID``; elsewhere it is in the connection file's name."""
    if environ.get("VOILA_KERNEL_ID"):
        return environ["VOILA_KERNEL_ID"]
    try:
        from ipykernel.connect import get_connection_file

        return Path(get_connection_file()).stem.removeprefix("kernel-")
    except Exception:  # not in a kernel (tests, scripts)
        return ""


class _Handover(tornado.web.RequestHandler):
    """``POST /handover`` on the owner's private control port: a newer console asks to run the show."""

    def initialize(self, console: Console) -> None:
        self.console = console

    def post(self) -> None:
        given = self.request.headers.get("X-Exsampling-Secret", "")
        if not secrets.compare_digest(given.encode(), self.console._secret.encode()):
            raise tornado.web.HTTPError(403)
        self.console.release()
        self.finish({"released": True})


# -- the console --------------------------------------------------------------------------------------------


class Console(widgets.VBox):
    """The performer's console and the live-coding handle (``show`` in console.ipynb).

    Parameters
    ----------
    cfg : Config — the running configuration (its ``source`` is where mapping edits are saved).
    pipeline : Pipeline — the chain; the console adds itself to its listeners.
    config_file : Path — the TOML file watched and written (see :func:`config_path`).
    upload_port : int or None — the upload server's port (None: ``[server] port``).
    token : str or None — the show token (see :class:`exsampling.server.Show`).
    tiles : str — a map tile URL template; "" for no tiles.
    kernel_id : str — this kernel's id, recorded so Voilà's kernel manager never stops the owner.
    preheated : bool — a Voilà pool kernel: wait for a page before taking over (unless nobody runs the show).
    live_coding : bool — a notebook console (JupyterLab) rather than a Voilà page: Voilà pages opened while it
        runs the show do not take over by themselves, so a reload of the Voilà tab never drops live-coded rules.

    Live coding: ``mapping``, ``melodic``, ``rule``, ``remove_rule``, ``rules``, ``mode``, ``prompt``,
    ``is_open``, ``accept``/``reject``/``resend``/``relabel``, ``samples``, ``take_over`` (docs/live-coding.md).
    """

    role = traitlets.Enum(ROLES, default_value="starting", help="what this console does in the show")
    mode = traitlets.Unicode("auto", help="'auto' or 'preview'")
    frozen = traitlets.Bool(True, help="read-only (every role but 'owner')")

    def __init__(self, cfg: Config, pipeline: Any, *, config_file: Path | None = None, upload_port: int | None = None,
                 token: str | None = None, tiles: str = "", kernel_id: str = "", preheated: bool = False,
                 live_coding: bool = False) -> None:
        from .server import Show

        self.cfg, self.pipeline, self.library = cfg, pipeline, pipeline.library
        self.config_file = Path(config_file or cfg.source or config_path())
        self.upload_port = cfg.server.port if upload_port is None else upload_port
        self.console_id, self.kernel_id, self.preheated = uuid.uuid4().hex, kernel_id, preheated
        self.live_coding = live_coding
        self._token = token
        self.state = Show(cfg, self.library, token=token)
        self.server = None
        self._control: tornado.httpserver.HTTPServer | None = None
        self._secret = secrets.token_urlsafe(16)
        self._ticker: PeriodicCallback | None = None
        self._taking_over = False
        self._problems: dict[str, str] = {}
        self._failures: dict[str, tuple[int, str, float]] = {}
        self._failures_seen = len(pipeline.rule_failures)
        self._newest_id = 0
        self._qr_url = ""
        self._config_stamp = self._stamp()
        self.media = Media(pipeline)

        self.header = Header()
        self.banner = RoleBanner()
        self.warnings = widgets.HTML()
        self.sounds = SoundsPanel(self.library, self.media)
        self.map = MapPanel(tiles)
        self.prompt_panel = PromptPanel()
        self.mapping_panel = MappingPanel(pipeline.mapper.table, pipeline.mapper.melodic)
        self.live = LiveCodingPanel()
        self.mapping = LiveTable(pipeline.mapper.table, self.set_instrument, self._reset_instrument)
        self.melodic = LiveTable(pipeline.mapper.melodic, self.set_melodic, self._refuse_delete)

        for panel in (self.header, self.sounds, self.prompt_panel, self.mapping_panel):
            widgets.dlink((self, "frozen"), (panel, "frozen"))
        widgets.link((self, "mode"), (self.header, "mode"))
        self.sounds.on_action(self._on_action)
        self.map.on_select(self.sounds.show_sample)
        self.mapping_panel.on_edit(self._on_mapping_edit)
        self.banner.take_over.on_click(self._on_take_over)
        self.prompt_panel.observe(self._on_prompt, ["prompt", "is_open"])
        pipeline.listeners.append(self._on_sample)

        mapping_box = widgets.Accordion(children=[self.mapping_panel], titles=("Mapping: class → instrument",))
        mapping_box.add_class("exs-mapping")
        side = widgets.VBox([self.map, self.prompt_panel, self.live], layout=widgets.Layout(flex="1 1 36%"))
        body = widgets.HBox([widgets.Box([self.sounds], layout=widgets.Layout(flex="1 1 64%", margin="0 16px 0 0")),
                             side], layout=widgets.Layout(width="100%"))
        super().__init__(children=[widgets.HTML(CSS), self.banner, self.header, self.warnings, body, mapping_box])
        self.add_class("exs-console")
        self.mode = self.library.setting(MODE_KEY, cfg.show.mode)
        created = "" if self.config_file.exists() else " (created on the first edit)"
        self.mapping_panel.saved.value = (f"<span class='exs-small'>Edits apply to the next sound and are saved to "
                                          f"{html.escape(str(self.config_file))}{created}.</span>")
        self.reset()
        self._refresh_banner()

    # -- building ------------------------------------------------------------------------------------

    @classmethod
    def from_env(cls, environ: MutableMapping[str, str] | None = None) -> Console:
        """A console from the environment ``exsampling console`` sets (module docstring); loads the model."""
        from .pipeline import build

        environ = os.environ if environ is None else environ
        path = config_path(environ.get(ENV_CONFIG) or None)
        cfg = load_config(path)
        port = environ.get(ENV_UPLOAD_PORT)
        with _native_stderr_to_log():
            pipeline = build(cfg)  # loads and warms the model and every stage
        return cls(cfg, pipeline, config_file=path, upload_port=int(port) if port else None,
                   token=environ.get(ENV_TOKEN) or None, tiles=environ.get(ENV_TILES, ""),
                   kernel_id=_kernel_id(environ), preheated=environ.get("VOILA_PREHEAT") == "True",
                   live_coding="VOILA_KERNEL_ID" not in environ)

    def reset(self) -> None:
        """Show the whole show again from the library (every panel re-reads it)."""
        samples = self.library.samples()
        self._newest_id = samples[0].id if samples else 0
        self.sounds.reset()
        self.map.reset(samples)
        self.prompt_panel.prompt = self.state.prompt
        self.prompt_panel.is_open = self.state.is_open
        self._refresh_header()

    async def start(self) -> None:
        """Run: follow the library every second, and take the show over now — or, for a pre-heated kernel that
        somebody else's console already runs, once a page is served from this kernel."""
        self._ticker = PeriodicCallback(self.tick, TICK_MS)
        self._ticker.start()
        owner = self._live_owner()
        if self.preheated and owner is not None:
            self.role = "standby"
            asyncio.ensure_future(self._wait_for_page())
        elif self._defers_to(owner):
            self.role = "viewer"
        else:
            await self.take_over()

    def _defers_to(self, owner: dict | None) -> bool:
        """Whether a page opening now leaves the show to ``owner``: only a live-coding notebook keeps it."""
        return owner is not None and bool(owner.get("live_coding")) and not self.live_coding

    def close(self) -> None:
        """Stop following and serving; the show's record is cleared if this console owned it."""
        if self._ticker is not None:
            self._ticker.stop()
        if self.role == "owner" and (self.library.setting(OWNER_KEY) or {}).get("console") == self.console_id:
            self.library.set_setting(OWNER_KEY, None)
        self._stop_serving()
        if self._on_sample in self.pipeline.listeners:
            self.pipeline.listeners.remove(self._on_sample)

    # -- ownership -----------------------------------------------------------------------------------

    async def take_over(self) -> bool:
        """Run the show from this console: ask the current owner to let go, then listen for uploads here.

        Returns True when this console now owns the show. When the port stays taken, the console stays
        read-only ("viewer" if another console holds it, "blocked" if another program does).
        """
        if self.role == "owner" or self._taking_over:
            return self.role == "owner"
        self._taking_over = True
        try:
            owner = self._live_owner()
            if owner is not None:
                await self._ask_to_release(owner)
            # the show's state as the previous owner left it (Show keeps prompt and open/closed in memory)
            self.state = type(self.state)(self.cfg, self.library, token=self._token)
            self.server = await self._listen()
            if self.server is None:
                self.role = "viewer" if self._live_owner() is not None else "blocked"
                return False
            self.state.listeners.append(self._on_show_state)
            self.mode = self.library.setting(MODE_KEY, self.mode)
            self.pipeline.mode = self.mode
            self._control, control_port = self._serve_control()
            self.library.set_setting(OWNER_KEY, {
                "console": self.console_id, "kernel": self.kernel_id, "pid": os.getpid(),
                "control_port": control_port, "secret": self._secret, "since": utc_now(), "started": time.time(),
                "live_coding": self.live_coding,
                "upload_port": self.server.port, "urls": self.server.urls, "recorder_url": self.server.recorder_url,
                "map_url": self.server.map_url})
            self.role = "owner"
            self.reset()
            return True
        finally:
            self._taking_over = False

    def release(self) -> None:
        """Let a newer console run the show: stop listening; this console turns read-only (and stays live)."""
        self._stop_serving()
        self.role = "viewer"

    def _live_owner(self) -> dict | None:
        record = self.library.setting(OWNER_KEY)
        if not record or record.get("console") == self.console_id or not _alive(record.get("pid", 0)):
            return None
        return record

    @staticmethod
    async def _ask_to_release(owner: dict) -> None:
        request = tornado.httpclient.HTTPRequest(
            f"http://127.0.0.1:{owner['control_port']}/handover", method="POST", body=b"",
            headers={"X-Exsampling-Secret": owner.get("secret", "")}, request_timeout=5.0)
        try:
            await tornado.httpclient.AsyncHTTPClient().fetch(request, raise_error=False)
        except (OSError, tornado.httpclient.HTTPClientError):  # gone or stuck: binding the port below tells which
            pass

    async def _listen(self) -> Any:
        """Start the upload server, waiting a little while a previous owner lets go of the port."""
        from .server import CertificateError, PortInUse, TunnelError, start

        deadline, kwargs = time.monotonic() + BIND_PATIENCE_S, {}
        self._problems.pop("server", None)
        while True:
            try:
                return await start(self.cfg, self.pipeline, self.state, port=self.upload_port, **kwargs)
            except PortInUse as exc:
                if time.monotonic() > deadline:
                    self._problems["server"] = f"Uploads are not received here: {exc}"
                    return None
                await asyncio.sleep(0.2)
            except TunnelError as exc:
                self._problems["tunnel"] = str(exc)
                kwargs["tunnel"] = False
            except CertificateError as exc:
                self._problems["tls"] = f"{exc}. Only this machine can reach the recorder."
                kwargs["host"] = "127.0.0.1"
            except OSError as exc:
                self._problems["server"] = f"Uploads are not received here: {exc}"
                return None

    def _serve_control(self) -> tuple[tornado.httpserver.HTTPServer, int]:
        app = tornado.web.Application([(r"/handover", _Handover, {"console": self})])
        sockets = tornado.netutil.bind_sockets(0, "127.0.0.1")
        server = tornado.httpserver.HTTPServer(app)
        server.add_sockets(sockets)
        return server, sockets[0].getsockname()[1]

    def _stop_serving(self) -> None:
        if self.server is not None:
            self.server.stop()
            self.server = None
        if self._control is not None:
            control, self._control = self._control, None
            try:  # stop after the handover answer has been written
                asyncio.get_running_loop().call_later(0.5, control.stop)
            except RuntimeError:  # no loop running (closing from plain code)
                control.stop()
        if self._on_show_state in self.state.listeners:
            self.state.listeners.remove(self._on_show_state)

    async def _wait_for_page(self) -> None:
        """A pre-heated kernel learns from Voilà when a page is served from it; then it runs the show (unless
        the page asked for ``?view``)."""
        port, base = os.environ.get("VOILA_APP_PORT", "8866"), os.environ.get("VOILA_SERVER_URL", "/")
        url = f"ws://127.0.0.1:{port}{base}voila/query/{self.kernel_id}"
        try:
            connection = await tornado.websocket.websocket_connect(url)
            message = await connection.read_message()
            connection.close()
        except Exception as exc:  # any failure: stand by rather than take the show from the performer's page
            self._problems["standby"] = f"this standby console cannot hear from Voilà ({exc})"
            return
        if message is None:
            return
        query = parse_qs(json.loads(message).get("QUERY_STRING", ""), keep_blank_values=True)
        if "view" in query or self._defers_to(self._live_owner()):
            self.role = "viewer"
        elif self.role != "owner":
            await self.take_over()

    @traitlets.observe("role")
    def _on_role(self, change: dict) -> None:
        """Freeze the page unless it runs the show, and say so."""
        self.frozen = change["new"] != "owner"
        self._refresh_banner()
        self._refresh_header()

    def _refresh_banner(self) -> None:
        record = self.library.setting(OWNER_KEY) or {}
        since = clock(record.get("since")) if record else ""
        where = "a notebook (live coding)" if record.get("live_coding") else "another tab"
        messages = {
            "owner": ("", False),
            "starting": ("Starting the show…", False),
            "standby": ("Standing by: another console runs the show.", True),
            "viewer": (f"<b>Read-only.</b> The show is run from {where} since {since}; this page follows it live.",
                       True),
            "blocked": (f"<b>Read-only.</b> {html.escape(self._problems.get('server', 'The upload port is taken.'))}",
                        True),
        }
        self.banner.show(*messages[self.role])

    # -- following the show ---------------------------------------------------------------------------

    def tick(self) -> None:
        """Once a second: follow the config file, the library and the owner; refresh the header."""
        try:
            self._follow_config()
            self._follow_library()
            if self.role != "owner":
                self._follow_owner()
            self._problems.pop("console", None)
        except Exception as exc:  # the page must keep running and say what went wrong
            self._problems["console"] = f"console error: {type(exc).__name__}: {exc}"
        self._refresh_header()

    def _follow_library(self) -> None:
        """Pick up sounds stored by anyone (another console, the CLI) and statuses changed elsewhere."""
        newest = self.library.samples(limit=1)
        if newest and newest[0].id > self._newest_id:
            fresh = [s for s in self.library.samples(limit=200) if s.id > self._newest_id]
            self._newest_id = fresh[0].id
            for sample in reversed(fresh):
                self.map.add(sample)
                self.sounds.update(sample)
        self.sounds.refresh()
        self._collect_failures()

    def _follow_owner(self) -> None:
        """A read-only console mirrors the owner's settings, and takes over if the owner's process died."""
        self.mode = self.library.setting(MODE_KEY, self.mode)
        self.prompt_panel.prompt = self.library.setting("show.prompt", self.prompt_panel.prompt)
        self.prompt_panel.is_open = self.library.setting("show.open", self.prompt_panel.is_open)
        self._refresh_banner()
        if self.role in ("viewer", "standby") and self._live_owner() is None and not self._taking_over:
            asyncio.ensure_future(self.take_over())

    def _stamp(self) -> int | None:
        try:
            return self.config_file.stat().st_mtime_ns
        except OSError:
            return None

    def _follow_config(self) -> None:
        """An edit of the TOML file on disk shows up in the widgets and applies to the next sample."""
        stamp = self._stamp()
        if stamp == self._config_stamp:
            return
        self._config_stamp = stamp
        if stamp is None:
            return
        try:
            cfg = load(self.config_file)
        except ConfigError as exc:
            self._problems["config"] = f"{exc} — the mapping in use is unchanged until the file is fixed"
            return
        self._problems.pop("config", None)
        self._apply_mapping(cfg.mapping, cfg.melodic)

    def _apply_mapping(self, table: dict[str, str], melodic: dict[str, bool]) -> None:
        """Change the mapper's dicts key by key (the worker thread may be reading them), then the widgets."""
        mapper = self.pipeline.mapper
        mapper.melodic.update(melodic)
        mapper.table.update(table)
        for name in set(mapper.melodic) - set(melodic):
            del mapper.melodic[name]
        self.mapping_panel.show(mapper.table, mapper.melodic)

    def _collect_failures(self) -> None:
        failures = self.pipeline.rule_failures
        for failure in failures[self._failures_seen:]:
            count = self._failures.get(failure.rule, (0, "", 0.0))[0]
            self._failures[failure.rule] = (count + 1, failure.error, time.time())
        if len(failures) != self._failures_seen:
            self._failures_seen = len(failures)
            self.live.show(self.pipeline.mapper.rules, self._failures)

    def _refresh_header(self) -> None:
        record = self.library.setting(OWNER_KEY) or {}
        self._set_qr(record.get("recorder_url", ""))
        self.header.url.value = self._urls_html(record)
        self.header.status.value = self._status_html()
        self.warnings.value = "".join(f"<div class='exs-warn'>⚠ {html.escape(p)}</div>" for p in self._warnings())

    def _set_qr(self, url: str) -> None:
        if url and url != self._qr_url:
            from .server import qr_png

            self.header.qr.value = qr_png(url)
            self._qr_url = url

    def _urls_html(self, record: dict) -> str:
        urls = record.get("urls", {}) if self.role in ("owner", "viewer", "standby") else {}
        if not urls:
            return "<div class='exs-url'>The recorder is not running</div>"
        recorder = record.get("recorder_url", "")
        lines = [f"<div class='exs-small'>Phones record at</div><div class='exs-url'>{html.escape(recorder)}</div>"]
        reach = {"public": "tunnel (Internet)", "lan": "LAN", "local": "this machine"}
        for kind in ("public", "lan", "local"):
            if kind in urls:
                lines.append(f"<div class='exs-small'>{reach[kind]}: {html.escape(urls[kind])}</div>")
        if "public" not in urls:
            lines.append("<div class='exs-small'>tunnel: none (no ngrok token)</div>")
        if "lan" not in urls:
            lines.append("<div class='exs-small'>LAN: not reachable (listening on this machine only)</div>")
        return "".join(lines)

    def _status_html(self) -> str:
        counts = self.library.counts()
        sender = self.pipeline.sender
        osc = (f"OSC → {sender.host}:{sender.port} · last sent {clock(sender.last_sent) or 'never'}"
               if sender is not None else "OSC off")
        info = getattr(self.pipeline.classifier, "info", None)
        model = "no model"
        if info is not None:
            scores = ", ".join(f"{k} {v:.2f}" for k, v in info.metrics.items() if isinstance(v, (int, float)))
            model = f"model {html.escape(info.name)} ({html.escape(info.trained_on or 'no description')})" + (
                f" · {html.escape(scores)}" if scores else "")
        state = {"owner": "<span class='exs-ready'>● <span>ready</span></span> — this page runs the show",
                 "starting": "starting…", "standby": "standing by", "viewer": "read-only view",
                 "blocked": "read-only: uploads not received"}[self.role]
        return (f"<div>{state}</div><div>{counts['participants']} participants · {counts['recordings']} "
                f"recordings · {counts['samples']} sounds</div><div>{html.escape(osc)}</div><div>{model}</div>")

    def _warnings(self) -> list[str]:
        problems = list(self._problems.values())
        sender = self.pipeline.sender
        if sender is not None and sender.last_error:
            problems.append(f"OSC unreachable: {sender.last_error}")
        if self.pipeline.classifier is None:
            problems.append(f"No model at {self.cfg.resolve(self.cfg.classifier.model)}: sounds are kept and pitched "
                            "but get no class and never reach the stage (docs/training.md)")
        disk = shutil.disk_usage(self.library.root)
        if disk.free < min(LOW_DISK_BYTES, 0.05 * disk.total) or disk.free < 2 ** 28:
            problems.append(f"Disk nearly full: {disk.free / 2 ** 30:.1f} GiB free for the library at "
                            f"{self.library.root}")
        return problems

    # -- events ---------------------------------------------------------------------------------------

    def _on_sample(self, sample: Sample) -> None:
        """A sample arrived or changed (pipeline listener, on the loop): card, map, header at once."""
        self.sounds.update(sample)
        self.map.add(sample)
        self._newest_id = max(self._newest_id, sample.id)
        self._collect_failures()
        self._refresh_header()

    def _on_action(self, action: str, sample_id: int, *args: Any) -> None:
        """A card's button: accept, reject, resend or relabel through the pipeline."""
        try:
            getattr(self, action)(sample_id, *args)
            self._problems.pop("action", None)
        except Exception as exc:  # e.g. the sample's file vanished: say so, keep the page alive
            self._problems["action"] = f"{action} #{sample_id} failed: {type(exc).__name__}: {exc}"
        self._refresh_header()

    def _on_take_over(self, _button: widgets.Button) -> None:
        """Run the show from this page."""
        asyncio.ensure_future(self.take_over())

    def _on_prompt(self, change: dict) -> None:
        """Publish the prompt or the open/closed state to every recorder page."""
        if self.frozen:
            return
        try:
            setattr(self.state, change["name"], change["new"])
            self._problems.pop("prompt", None)
        except ValueError as exc:
            self._problems["prompt"] = str(exc)
            self._refresh_header()

    def _on_show_state(self, state: Any) -> None:
        """The show's state changed (e.g. from live code): mirror it in the prompt panel."""
        self.prompt_panel.prompt, self.prompt_panel.is_open = state.prompt, state.is_open

    def _on_mapping_edit(self, kind: str, key: str, value: Any) -> None:
        """A mapping widget was edited."""
        try:
            {"mapping": self.set_instrument, "melodic": self.set_melodic, "instrument": self.set_melodic}[kind](
                key, value)
            self._problems.pop("mapping", None)
        except (MappingError, KeyError, ValueError) as exc:
            self._problems["mapping"] = str(exc)
            self.mapping_panel.show(self.pipeline.mapper.table, self.pipeline.mapper.melodic)
        self._refresh_header()

    @traitlets.validate("mode")
    def _valid_mode(self, proposal: dict) -> str:
        if proposal["value"] not in ("auto", "preview"):
            raise traitlets.TraitError(f"mode {proposal['value']!r} must be 'auto' or 'preview'")
        return proposal["value"]

    @traitlets.observe("mode")
    def _on_mode(self, change: dict) -> None:
        """Switch auto-accept/preview for the next sample, and keep the choice in the library."""
        if self.role == "owner" or self.role == "starting":
            self.pipeline.mode = change["new"]
            if self.library.setting(MODE_KEY) != change["new"]:
                self.library.set_setting(MODE_KEY, change["new"])

    # -- the live-coding API --------------------------------------------------------------------------

    def set_instrument(self, label: str, instrument: str) -> None:
        """Map ``label`` to ``instrument`` from the next sample on; a new instrument starts percussive."""
        if label not in LABELS:
            raise KeyError(f"unknown label {label!r}; labels are the 41 FSDKaggle2018 names, e.g. 'Bark'")
        check_instrument_name(instrument)
        if instrument not in self.pipeline.mapper.melodic:
            self.pipeline.mapper.melodic[instrument] = False
        self.pipeline.mapper.table[label] = instrument
        self._mapping_changed()

    def set_melodic(self, instrument: str, melodic: bool) -> None:
        """Play ``instrument`` melodically (transposed to the note) or percussively; adds it if new."""
        check_instrument_name(instrument)
        self.pipeline.mapper.melodic[instrument] = bool(melodic)
        self._mapping_changed()

    def _reset_instrument(self, label: str) -> None:
        self.set_instrument(label, DEFAULT_MAPPING[label])

    @staticmethod
    def _refuse_delete(instrument: str) -> None:
        raise MappingError(f"a track's playing rule cannot be deleted; set show.melodic[{instrument!r}] = True/False")

    def _mapping_changed(self) -> None:
        self.mapping_panel.show(self.pipeline.mapper.table, self.pipeline.mapper.melodic)
        self.save_mapping()

    def save_mapping(self) -> Path:
        """Write the mapping in use to the config file and return its path.

        The file's other settings are kept as the file has them (the performer may have edited them); a new
        file gets the running configuration.
        """
        mapper = self.pipeline.mapper
        check_mapping(mapper.table, mapper.melodic)
        base = load(self.config_file) if self.config_file.exists() else self.cfg  # keep the file's other settings
        path = save(replace(base, mapping=dict(mapper.table), melodic=dict(mapper.melodic)), self.config_file)
        self._config_stamp = self._stamp()
        self.mapping_panel.saved.value = f"<span class='exs-small'>saved to {html.escape(str(path))} at " \
                                         f"{clock(time.time())}</span>"
        return path

    def rule(self, fn: Callable[[Sample], str | None]) -> Callable[[Sample], str | None]:
        """Decorator: ``fn(sample) -> instrument or None`` runs before the table for every new sample.

        A rule with the same name as an earlier one replaces it (re-running a cell must not stack copies).
        A rule that raises is skipped and reported on the page; None defers to the next rule, then the table.
        """
        self.remove_rule(getattr(fn, "__name__", fn))
        self.pipeline.mapper.add_rule(fn)
        self.live.show(self.pipeline.mapper.rules, self._failures)
        return fn

    def remove_rule(self, fn_or_name: Callable | str) -> None:
        """Forget a rule, given the function or its name."""
        for rule in list(self.pipeline.mapper.rules):
            if rule is fn_or_name or getattr(rule, "__name__", None) == fn_or_name:
                self.pipeline.mapper.remove_rule(rule)
        self._failures.pop(getattr(fn_or_name, "__name__", fn_or_name), None)
        self.live.show(self.pipeline.mapper.rules, self._failures)

    @property
    def rules(self) -> list[Callable]:
        """The live rules, in the order they run."""
        return list(self.pipeline.mapper.rules)

    @property
    def prompt(self) -> str:
        """What every recorder page asks for (≤ 280 characters); "" for none."""
        return self.state.prompt

    @prompt.setter
    def prompt(self, text: str) -> None:
        self._require_owner()
        self.state.prompt = text
        self.prompt_panel.prompt = self.state.prompt

    @property
    def is_open(self) -> bool:
        """Whether uploads are taken."""
        return self.state.is_open

    @is_open.setter
    def is_open(self, value: bool) -> None:
        self._require_owner()
        self.state.is_open = value
        self.prompt_panel.is_open = self.state.is_open

    def samples(self, limit: int = POOL_SIZE) -> list[Sample]:
        """The newest ``limit`` samples, newest first."""
        return self.library.samples(limit=limit)

    def _require_owner(self) -> None:
        if self.role != "owner":
            raise RuntimeError("this console is read-only: another one runs the show "
                               "(await show.take_over() to run it here)")

    def _act(self, name: str, sample_id: int, *args: Any) -> Sample:
        self._require_owner()
        return getattr(self.pipeline, name)(sample_id, *args)

    def accept(self, sample_id: int) -> Sample:
        """Send a sample to the stage."""
        return self._act("accept", sample_id)

    def reject(self, sample_id: int) -> Sample:
        """Keep a sample off the stage (withdrawn if it was sent)."""
        return self._act("reject", sample_id)

    def resend(self, sample_id: int) -> Sample:
        """Send a sample again."""
        return self._act("resend", sample_id)

    def relabel(self, sample_id: int, label: str) -> Sample:
        """Give a sample your label (kept in the library, remembered for similar sounds)."""
        return self._act("relabel", sample_id, label)


# -- Voilà's side ----------------------------------------------------------------------------------------


def _show_kernel_manager() -> type:
    """Build :class:`ShowKernelManager` (see ``__getattr__`` below for why it is built on first use)."""
    from jupyter_server.services.kernels.kernelmanager import AsyncMappingKernelManager

    class ShowKernelManager(AsyncMappingKernelManager):
        """Voilà's kernel manager for the console: it never stops the kernel that runs the show, and reclaims others.

        Voilà's page asks for its kernel to be shut down when it unloads (a reload, a closed tab). That request
        succeeds whenever the browser holds an ``_xsrf`` cookie for the host — e.g. from JupyterLab on the same
        machine — and would stop the upload server; so it is refused for the owner's kernel. Kernels that do not run
        the show and have had no page connected for ``orphan_grace_s`` seconds are shut down, since each holds
        a loaded model (≈ 0.7 GB). Voilà's pre-heated pool kernels are never culled (Voilà checks that first).
        """

        orphan_grace_s = traitlets.Float(60.0, config=True, help="seconds a non-owner kernel may stay without a page")

        @traitlets.default("cull_idle_timeout")
        def _default_cull_idle_timeout(self) -> int:
            return 60  # > 0 starts jupyter_server's culler, which calls cull_kernel_if_idle below

        @traitlets.default("cull_interval")
        def _default_cull_interval(self) -> int:
            return 10

        def __init__(self, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self._alone_since: dict[str, float] = {}
            self._show_library: Library | None = None

        def _owner_kernel(self) -> str | None:
            """The kernel id recorded by the console that runs the show, or None when unknown."""
            try:
                if self._show_library is None:
                    cfg = load_config(config_path())
                    self._show_library = Library(cfg.resolve(cfg.library.path))
                record = self._show_library.setting(OWNER_KEY) or {}
            except Exception:  # an unreadable config or library: never cull what we cannot judge
                self.log.exception("ExSampling: cannot read the show's owner")
                return None
            return record.get("kernel") or ""

        async def shutdown_kernel(self, kernel_id: str, now: bool = False, restart: bool = False) -> None:
            if not restart and kernel_id == self._owner_kernel():
                self.log.info("ExSampling: keeping kernel %s running: it runs the show's upload server", kernel_id)
                return
            await super().shutdown_kernel(kernel_id, now=now, restart=restart)

        async def cull_kernel_if_idle(self, kernel_id: str) -> None:
            owner = self._owner_kernel()
            if owner is None or kernel_id == owner or self._kernel_connections.get(kernel_id, 0):
                self._alone_since.pop(kernel_id, None)
                return
            alone = time.monotonic() - self._alone_since.setdefault(kernel_id, time.monotonic())
            if alone > self.orphan_grace_s:
                self.log.info("ExSampling: shutting down kernel %s: no page for %.0f s and it does not run the show",
                              kernel_id, alone)
                self._alone_since.pop(kernel_id, None)
                await self.shutdown_kernel(kernel_id)

    return ShowKernelManager


def __getattr__(name: str) -> Any:
    # Voilà imports ``exsampling.console.ShowKernelManager`` by name in its own process. Building the class on
    # that first access keeps jupyter_server (about 1 s of imports) out of the kernels and of every other
    # ``exsampling`` command, which import this module only for its widgets or its ``register``.
    if name == "ShowKernelManager":
        globals()[name] = cls = _show_kernel_manager()
        return cls
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# -- ``exsampling console`` ------------------------------------------------------------------------------------


def register(sub: Any, add_config: Callable) -> None:
    """Add ``exsampling console`` to the command line's subparsers."""
    p = sub.add_parser("console", help="the performer's console in the browser; runs the upload server")
    p.add_argument("--port", type=int, default=8866, help="the console's (Voilà's) port on 127.0.0.1 (default 8866)")
    p.add_argument("--upload-port", type=int, help="the upload server's port (default: [server] port, 8765)")
    p.add_argument("--token", help="the show token recorder links carry (default: kept from the last show)")
    p.add_argument("--tiles", help="map tile URL template, e.g. http://127.0.0.1:8000/{z}/{x}/{y}.png "
                                   "(default: $EXSAMPLING_TILES, else no tiles)")
    p.add_argument("--no-browser", action="store_true", help="do not open the console in the browser")
    add_config(p)
    p.set_defaults(func=_run)


def voila_command(port: int) -> list[str]:
    """How ``exsampling console`` runs Voilà on console.ipynb (see the module docstring for why)."""
    return [
        sys.executable, "-m", "voila", NOTEBOOK.name, "--no-browser", f"--port={port}", "--Voila.ip=127.0.0.1",
        "--Voila.port_retries=0",
        # a kernel runs the notebook at start, so the upload server listens before any browser opens
        "--preheat_kernel=True",
        # the pool's next kernel loads a model too: let the first page render before it competes for the CPU
        "--VoilaKernelManager.fill_delay=5",
        f"--VoilaConfiguration.multi_kernel_manager_class={__name__}.ShowKernelManager",
        "--VoilaConfiguration.show_tracebacks=True",
    ]


def _check_free(port: int, what: str) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise OSError(exc.errno, f"port {port} for the {what} is in use (another console or 'exsampling "
                                         "serve' still running?); stop it or choose another port") from None
            raise


def _wait_until_ready(voila: subprocess.Popen, library: Library, upload_port: int, since: float,
                      timeout_s: float = 180.0) -> dict | None:
    """The owner's record once a console started after ``since`` listens on ``upload_port``; None if Voilà exited."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if voila.poll() is not None:
            return None
        record = library.setting(OWNER_KEY) or {}
        if record.get("started", 0) >= since and record.get("upload_port") == upload_port:
            return record
        time.sleep(0.2)
    raise TimeoutError(f"the console did not start within {timeout_s:.0f} s (see Voilà's messages above)")


def _stop_on_sigterm(signum: int, _frame: Any) -> None:
    raise SystemExit(128 + signum)  # unwinds through _run's finally, which stops Voilà and its kernels


def _run(args: Any) -> int:
    from .server import qr_text

    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    path = config_path(args.config)
    cfg = load_config(path)
    upload_port = cfg.server.port if args.upload_port is None else args.upload_port
    _check_free(args.port, "console")
    _check_free(upload_port, "upload server")
    env = {**os.environ, ENV_CONFIG: str(path), ENV_UPLOAD_PORT: str(upload_port), ENV_TOKEN: args.token or "",
           ENV_TILES: args.tiles or os.environ.get(ENV_TILES, "")}
    started = time.time()
    voila = subprocess.Popen(voila_command(args.port), cwd=NOTEBOOK.parent, env=env)
    try:
        record = _wait_until_ready(voila, Library(cfg.resolve(cfg.library.path)), upload_port, started)
        if record is None:
            print("exsampling: Voilà stopped before the console was ready (see its messages above)", file=sys.stderr)
            return 1
        console_url = f"http://127.0.0.1:{args.port}/"
        print(f"\nExSampling console ready in {time.time() - started:.1f} s", flush=True)
        print(f"console:  {console_url}   (read-only view: {console_url}?view)")
        for kind, url in record["urls"].items():
            print(f"recorder ({kind}): {url}")
        print(f"config:   {path}{'' if path.exists() else ' (created on the first mapping edit)'}")
        print(f"\nParticipants scan this ({record['recorder_url']}):\n{qr_text(record['recorder_url'])}", flush=True)
        if not args.no_browser:
            webbrowser.open(console_url)
        return voila.wait()
    except KeyboardInterrupt:
        return 0
    finally:
        if voila.poll() is None:
            voila.terminate()
            try:
                voila.wait(timeout=20)
            except subprocess.TimeoutExpired:
                voila.kill()
