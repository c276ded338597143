"""The incoming sounds: what a card shows, :class:`SampleCard`, and :class:`SoundsPanel`, which pools the cards.

The pictures, audio and photos come from the library through :class:`Media`; the small text helpers (clock,
pitch, top guesses, status) are shared with the other panels.
"""
from __future__ import annotations

import functools
import html
import io
import time
import warnings
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Protocol

import ipywidgets as widgets
import traitlets

from ..config import Mode
from ..features import FeatureParams
from ..library import Library
from ..mapping import LABELS, instrument_colour
from ..pipeline import Pipeline
from ..pitch import note_name
from ..records import LabelSource, Sample, SampleStatus, StageState
from ..stage import LOAD_WARNING_S, unconfirmed

#: Card widgets on the page: a show can bring hundreds of sounds, the page only ever holds these.
POOL_SIZE = 12


@functools.lru_cache(maxsize=64)
def spectrogram_png(path: str, params: FeatureParams, width: int = 432, height: int = 96) -> bytes:
    """A log-mel picture of the WAV at ``path`` (low pitches at the bottom) as PNG bytes, ``width``×``height`` px.

    ``params`` is the chain's :class:`~exsampling.features.FeatureParams`, so the picture is what the model saw.
    """
    import soundfile as sf
    from matplotlib import colormaps
    from PIL import Image

    from ..features import DYNAMIC_RANGE_DB, log_mel

    y, _ = sf.read(path, dtype="float32", always_2d=False)
    frames = 1 + len(y) // params.hop_length  # a short sample is padded to a segment: draw only the sound itself
    level = (log_mel(y, params)[:, :frames] + DYNAMIC_RANGE_DB) / DYNAMIC_RANGE_DB
    rgb = (colormaps["magma"](level[::-1])[..., :3] * 255).astype("uint8")
    buf = io.BytesIO()
    Image.fromarray(rgb).resize((width, height), Image.Resampling.BILINEAR).save(buf, format="PNG", optimize=False)
    return buf.getvalue()


@functools.lru_cache(maxsize=64)
def photo_thumbnail(path: str, size: int = 320) -> bytes | None:
    """A participant's photo shrunk to ``size`` px (JPEG bytes), upright; None if it cannot be read (e.g. HEIC)
    or holds more than :data:`~exsampling.photo.MAX_PIXELS` pixels (it is then never decoded)."""
    from PIL import Image, ImageOps

    from ..photo import MAX_PIXELS

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # the size is checked just below
            with Image.open(path) as original:
                if original.width * original.height > MAX_PIXELS:
                    return None
                img = ImageOps.exif_transpose(original).convert("RGB")
                img.thumbnail((size, size))
                buf = io.BytesIO()
                img.save(buf, format="JPEG", quality=80)
    except (OSError, ValueError, Image.DecompressionBombError):
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
    if sample.label_source == LabelSource.PERFORMER:
        return f"{chosen} <span class='exs-small'>(your label; model: {guesses})</span>"
    if sample.label_source == LabelSource.MEMORY:
        return f"{chosen} {sample.confidence:.0%} <span class='exs-small'>(your re-labels; model: {guesses})</span>"
    return f"{chosen} <span class='exs-small'>{guesses}</span>"


def recording_text(sample: Sample) -> str:
    """The recording's judgement over all its pieces, as HTML (``recording: Bark 82 %, 3 pieces``); "" for a
    recording of one piece (its card says it all) or without a model."""
    j = sample.judgement
    if j is None or j.pieces < 2:
        return ""
    return (f"<span class='exs-small'>recording: {html.escape(j.label)} {j.confidence:.0%}, {j.pieces} pieces"
            "</span><br>")


_STATUS_BADGE = {SampleStatus.NEW: "exs-new", SampleStatus.SENT: "exs-pending",
                 SampleStatus.REJECTED: "exs-rejected-badge", SampleStatus.ACCEPTED: ""}
_STAGE_BADGE = {StageState.SENT: "exs-pending", StageState.LOADED: "exs-sent", StageState.PLAYED: "exs-played",
                StageState.NOT_LOADED: "exs-rejected-badge"}


def status_badge(sample: Sample, now: float, held: bool = False) -> str:
    """The sample's status as a coloured badge; once sent, what the stage answered: "sent 21:04:05" → "loaded" →
    "played ×N", or "not loaded: <reason>", with a warning when nothing came back within 2 s (``now``:
    ``time.time()``); ``held``: auto mode kept this new sample back because it is unsure, and the badge says so."""
    kind, word, late = _STATUS_BADGE.get(sample.status, ""), str(sample.status), ""
    if sample.status == SampleStatus.NEW:
        word = "held back (unsure): accept or reject it" if held else "waiting for you"
    elif sample.status == SampleStatus.SENT:
        answer = sample.stage
        state = answer.state if answer is not None else StageState.SENT
        kind = _STAGE_BADGE[state]
        word = {StageState.SENT: f"sent {clock(sample.sent_at)}".strip(), StageState.LOADED: "loaded",
                StageState.PLAYED: f"played ×{answer.played if answer else 0}",
                StageState.NOT_LOADED: f"not loaded: {answer.reason if answer else ''}"}[state]
        if answer is not None and unconfirmed(answer, now):
            late = (f" <span class='exs-badge exs-late'>⚠ not loaded after {LOAD_WARNING_S:.0f} s: "
                    "no answer from the stage</span>")
    return f"<span class='exs-badge {kind}'>{html.escape(word)}</span>{late}"


class Media:
    """The bytes a card shows, read from the library on demand and cached, so paging back re-reads nothing."""

    def __init__(self, pipeline: Pipeline) -> None:
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

    def held(self, sample: Sample) -> bool:
        """Whether this new sample waits only because auto mode holds unsure sounds (``[show] unsure = "hold"``)."""
        return (sample.status == SampleStatus.NEW and self.pipeline.mode == Mode.AUTO
                and self.pipeline.holds(sample))

    def recall(self, sample: Sample) -> str:
        """"labelled like the sound you re-labelled at HH:MM" when the re-label memory chose the class."""
        if sample.recalled_from is None:
            return ""
        if sample.id not in self._recalls:
            recall = self.pipeline.recall_of(sample)
            self._recalls[sample.id] = (
                f"labelled like the sound you re-labelled at {clock(recall.labelled_at)[:5]} (#{recall.sample_id})"
                if recall is not None else "")
        return self._recalls[sample.id]


class Action(StrEnum):
    """What a card's buttons ask of the show: each is the live-coding call of the same name
    (:class:`~exsampling.console.live.LiveCoding`), made by :class:`~exsampling.console.actions.PageActions`."""

    ACCEPT = "accept"
    REJECT = "reject"
    RESEND = "resend"
    RELABEL = "relabel"


class ActionHandler(Protocol):
    """Told a card's :class:`Action` on its sample; ``label`` is the class picked for a re-label ("" otherwise)."""

    def __call__(self, action: Action, sample_id: int, label: str = "") -> None: ...


class SampleCard(widgets.VBox):
    """One incoming sound: picture, class, pitch, instrument, player and the performer's buttons.

    Cards are pooled: the same card shows whichever sample it is given (``show``), and only what changed is
    sent to the page. ``on_action(handler)`` registers an :class:`ActionHandler` for the buttons.
    """

    sample_id = traitlets.Int(0, help="the sample shown; 0 = an empty, hidden card")
    frozen = traitlets.Bool(False, help="read-only: buttons disabled")
    focused = traitlets.Bool(False, help="highlighted (e.g. its marker was clicked on the map)")

    def __init__(self) -> None:
        self._sample: Sample | None = None
        self._badge = ""
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

    def on_action(self, handler: ActionHandler) -> None:
        self._actions.register_callback(handler)

    def _emit(self, action: Action, label: str = "") -> None:
        self._actions(action, self.sample_id, label)

    def show(self, sample: Sample, media: Media) -> None:
        """Show ``sample``; the audio, picture and photo are only re-sent when the card changes sample."""
        badge = status_badge(sample, time.time(), media.held(sample))  # it changes with time too: 2 s without an answer
        if sample == self._sample and badge == self._badge:
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
        self._badge = badge
        self.note.value = f"{badge} <span class='exs-small'>{html.escape(recall)}</span>"
        (self.remove_class if sample.status != SampleStatus.REJECTED else self.add_class)("exs-rejected")
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
        return (f"{track} · {pitch_text(sample)} · {sample.duration_s:.1f} s<br>{recording_text(sample)}"
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
        status = self._sample.status if self._sample else None
        self.accept.disabled = self.frozen or status in (SampleStatus.SENT, None)
        self.reject.disabled = self.frozen or status in (SampleStatus.REJECTED, None)
        self.resend.disabled = self.frozen or status not in (SampleStatus.SENT, SampleStatus.ACCEPTED)
        self.relabel.disabled = self.frozen or status is None

    def _on_accept(self, _button: widgets.Button) -> None:
        """Let this sound reach the stage."""
        self._emit(Action.ACCEPT)

    def _on_reject(self, _button: widgets.Button) -> None:
        """Keep this sound off the stage."""
        self._emit(Action.REJECT)

    def _on_resend(self, _button: widgets.Button) -> None:
        """Send this sound over OSC again."""
        self._emit(Action.RESEND)

    def _on_relabel(self, change: dict) -> None:
        """Give this sound the class picked in the dropdown, then reset the dropdown."""
        if change["new"]:
            self.relabel.value = ""
            self._emit(Action.RELABEL, change["new"])


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

    def on_action(self, handler: ActionHandler) -> None:
        for card in self.cards:
            card.on_action(handler)

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

