"""The top of the console: the page's style, the banner saying who runs the show, the header (recorder URL, QR
code, counts, OSC, model, mode) and the red lines saying what is wrong."""
from __future__ import annotations

import html
from pathlib import Path
from typing import Any

import ipywidgets as widgets
import traitlets

from ..config import Config, Mode
from ..diskspace import DiskSpace
from ..model_loader import ModelLoader, ModelState
from ..osc import OscSender
from ..pipeline import Pipeline
from ..show_state import OwnerRecord
from ..stage import StageStatus
from .cards import clock
from .ownership import Role

CSS = """<style>
.exs-console { font-size: 14px; }
.exs-card { border: 1px solid #d9d9d9; border-radius: 6px; padding: 6px; background: #fff; }
.exs-card.exs-focus { box-shadow: 0 0 0 3px #ff9800; }
.exs-card.exs-rejected { opacity: 0.55; }
.exs-card .widget-button { width: auto; }
.exs-badge { display: inline-block; padding: 0 6px; border-radius: 8px; font-size: 12px; background: #eee; }
.exs-unsure { background: #fff3cd; color: #7a5b00; }
.exs-sent { background: #d4edda; color: #155724; }
.exs-played { background: #155724; color: #fff; }
.exs-pending { background: #e2e3e5; color: #383d41; }
.exs-late { background: #fdecea; color: #b71c1c; }
.exs-stage-ok { color: #1b5e20; }
.exs-stage-silent { color: #b71c1c; font-weight: 600; }
.exs-new { background: #cce5ff; color: #004085; }
.exs-rejected-badge { background: #f8d7da; color: #721c24; }
.exs-url { font-size: 22px; font-weight: 600; word-break: break-all; }
.exs-warn { background: #fdecea; color: #b71c1c; padding: 4px 8px; border-radius: 4px; margin: 2px 0; }
.exs-banner { background: #fff3cd; color: #533f03; padding: 8px 12px; border-radius: 4px; font-size: 16px; }
.exs-ready { color: #1b5e20; font-weight: 600; }
.exs-map .leaflet-container, .exs-map.leaflet-container { background: #f4f1e8 !important; }
.exs-small { color: #666; font-size: 12px; }
.exs-qr img { flex: 0 0 auto; object-fit: contain; image-rendering: pixelated; }
/* the big QR: the whole window, white, the code square and as large as the window's shorter side allows (less the
   button that shrinks it back), for projecting or holding the laptop up to the room */
.exs-qr.exs-qr-big { position: fixed !important; inset: 0; z-index: 10000; background: #fff; margin: 0 !important;
                     width: 100vw !important; height: 100vh !important; align-items: center !important;
                     justify-content: center !important; }
.exs-qr.exs-qr-big img { width: min(96vw, calc(100vh - 64px)) !important;
                         height: min(96vw, calc(100vh - 64px)) !important; max-width: none !important; }
</style>"""


class Header(widgets.HBox):
    """What the performer glances at: where phones send sounds, who joined, whether the stage hears us."""

    mode = traitlets.Enum(list(Mode), default_value=Mode.AUTO,
                          help="'auto' (straight to the stage) or 'preview' (wait for accept)")
    big_qr = traitlets.Bool(False, help="show the QR code large, for projecting")
    frozen = traitlets.Bool(False)

    def __init__(self) -> None:
        self._qr_url = ""
        self.qr = widgets.Image(format="png", layout=widgets.Layout(width="200px", height="200px", flex="0 0 auto"))
        self.qr_toggle = widgets.ToggleButton(description="⤢ big QR", layout=widgets.Layout(width="auto"))
        self.url = widgets.HTML()
        self.status = widgets.HTML()
        self.mode_toggle = widgets.ToggleButtons(
            options=[("auto-accept", Mode.AUTO), ("preview", Mode.PREVIEW)],
            tooltips=["every sound goes to the stage at once (as in the paper)",
                      "nothing reaches the stage until you accept it"])
        widgets.link((self, "mode"), (self.mode_toggle, "value"))
        widgets.link((self, "big_qr"), (self.qr_toggle, "value"))
        info = widgets.VBox([self.url, self.status, widgets.HBox([widgets.Label("Mode:"), self.mode_toggle])],
                            layout=widgets.Layout(flex="1 1 auto", padding="0 0 0 12px"))
        self.qr_box = widgets.VBox([self.qr, self.qr_toggle])
        self.qr_box.add_class("exs-qr")
        super().__init__(children=[self.qr_box, info],
                         layout=widgets.Layout(align_items="flex-start"))

    def show(self, owner: OwnerRecord | None, role: Role, counts: dict[str, int], sender: OscSender | None,
             model: ModelLoader, stage: StageStatus | None = None, last_sent: float | None = None) -> None:
        """Show the recorder's addresses and QR code from the ``owner``'s record as a console in ``role`` may,
        the library's ``counts``, the OSC ``sender`` (None: OSC off), the ``model``'s state, what the ``stage``
        answers (None: not shown) and when the show last sent (POSIX time; None: never)."""
        self._set_qr(owner.recorder_url if owner else "")
        self.url.value = self._urls_html(owner, role)
        self.status.value = self._status_html(role, counts, sender, model, last_sent) + self._stage_html(stage)

    def _set_qr(self, url: str) -> None:
        if url and url != self._qr_url:
            from ..server import qr_png

            self.qr.value = qr_png(url)
            self._qr_url = url

    @staticmethod
    def _urls_html(owner: OwnerRecord | None, role: Role) -> str:
        urls = owner.urls if owner and role in (Role.OWNER, Role.VIEWER, Role.STANDBY) else {}
        if not owner or not urls:
            return "<div class='exs-url'>The recorder is not running</div>"
        lines = [f"<div class='exs-small'>Phones record at</div><div class='exs-url'>"
                 f"{html.escape(owner.recorder_url)}</div>"]
        reach = {"public": "tunnel (Internet)", "lan": "LAN", "local": "this machine"}
        for kind in ("public", "lan", "local"):
            if kind in urls:
                lines.append(f"<div class='exs-small'>{reach[kind]}: {html.escape(urls[kind])}</div>")
        if owner.tunnel:  # the server's own line: which token, what failed, what still works
            kind = "exs-warn" if owner.tunnel.startswith("tunnel: failed") else "exs-small"
            lines.append(f"<div class='{kind}'>{html.escape(owner.tunnel)}</div>")
        if "lan" not in urls:
            lines.append("<div class='exs-small'>LAN: not reachable (listening on this machine only)</div>")
        return "".join(lines)

    @staticmethod
    def _status_html(role: Role, counts: dict[str, int], sender: OscSender | None, model: ModelLoader,
                     last_sent: float | None) -> str:
        osc = (f"OSC → {sender.host}:{sender.port} · last sent {clock(last_sent) or 'never'}"
               if sender is not None else "OSC off")
        state = {Role.OWNER: "<span class='exs-ready'>● <span>ready</span></span> — this page runs the show",
                 Role.STARTING: "starting…", Role.STANDBY: "standing by", Role.VIEWER: "read-only view",
                 Role.BLOCKED: "read-only: uploads not received"}[role]
        return (f"<div>{state}</div><div>{plural(counts['participants'], 'participant')} · "
                f"{plural(counts['recordings'], 'recording')} · {plural(counts['samples'], 'sound')}</div>"
                f"<div>{html.escape(osc)}</div>"
                f"<div class='exs-model exs-model-{model.state}'>{_model_html(model)}</div>")

    @staticmethod
    def _stage_html(stage: StageStatus | None) -> str:
        """The stage line: green while devices answer, red when the stage is silent."""
        if stage is None:
            return ""
        kind, mark = ("exs-stage-silent", "⚠ ") if stage.silent else ("exs-stage-ok", "● ")
        return f"<div class='exs-stage {kind}'>{mark}{html.escape(stage.text())}</div>"

    @traitlets.validate("mode")
    def _valid_mode(self, proposal: dict[str, Any]) -> Mode:
        return Mode(proposal["value"])

    @traitlets.observe("big_qr")
    def _on_big_qr(self, change: dict[str, Any]) -> None:
        """Show the QR code over the whole window, or back in the header."""
        if change["new"]:
            self.qr_box.add_class("exs-qr-big")
        else:
            self.qr_box.remove_class("exs-qr-big")

    @traitlets.observe("frozen")
    def _on_frozen(self, change: dict[str, Any]) -> None:
        """Disable or enable the mode switch."""
        self.mode_toggle.disabled = change["new"]


def plural(n: int, noun: str) -> str:
    """``1 participant``, ``2 participants``."""
    return f"{n} {noun}{'' if n == 1 else 's'}"


def summary(text: str, limit: int = 80) -> str:
    """The first line of ``text``, cut at ``limit`` characters; "…" says something was left out."""
    lines = text.strip().splitlines()
    first = lines[0] if lines else ""
    if len(first) > limit:
        return first[:limit].rsplit(" ", 1)[0].rstrip(" ,;:(") + " …"
    return first + (" …" if len(lines) > 1 else "")


def _model_html(model: ModelLoader) -> str:
    """The header's model line: loading (sounds wait, stored), ready (what it was trained on, cut to one line, the
    whole on hover, and its scores), failed (the red line below says why), or none."""
    info = model.info
    if model.state == ModelState.LOADING and info is not None:
        return f"model {html.escape(info.name)} loading… (sounds are taken and wait for it)"
    if model.state == ModelState.READY and info is not None:
        described = info.trained_on or "no description"
        scores = ", ".join(f"{k} {v:.2f}" for k, v in info.metrics.items() if isinstance(v, (int, float)))
        # the header holds one line; the whole training history is the hover text (and the model card)
        return (f"<span title='{html.escape(described, quote=True)}'>model {html.escape(info.name)} ready "
                f"({html.escape(summary(described))})</span>" + (f" · {html.escape(scores)}" if scores else ""))
    if model.state == ModelState.FAILED:
        return "⚠ model failed to load (see below): sounds are kept and wait for it"
    return "no model"


class RoleBanner(widgets.HBox):
    """Says, when this page does not run the show, who does, and offers to run it here."""

    def __init__(self) -> None:
        self.text = widgets.HTML()
        self.take_over = widgets.Button(description="Run the show here", button_style="warning",
                                        layout=widgets.Layout(width="auto"))
        super().__init__(children=[self.text, self.take_over],
                         layout=widgets.Layout(display="none", align_items="center"))

    def show(self, role: Role, owner: OwnerRecord | None, problem: str = "") -> None:
        """Say what a console in ``role`` does while ``owner`` (or nobody) runs the show; ``problem`` is why a
        blocked console receives no uploads."""
        where = "a notebook (live coding)" if owner and owner.live_coding else "another tab"
        since = clock(owner.since) if owner else ""
        message, offer = {
            Role.OWNER: ("", False),
            Role.STARTING: ("Starting the show…", False),
            Role.STANDBY: ("Standing by: another console runs the show.", True),
            Role.VIEWER: (f"<b>Read-only.</b> The show is run from {where} since {since}; this page follows it live.",
                          True),
            Role.BLOCKED: (f"<b>Read-only.</b> {html.escape(problem or 'The upload port is taken.')}", True),
        }[role]
        self.text.value = f"<div class='exs-banner'>{message}</div>" if message else ""
        self.take_over.layout.display = "" if offer else "none"
        self.layout.display = "" if message else "none"


class Warnings(widgets.HTML):
    """Red lines saying what is wrong, one per problem."""

    def show(self, problems: list[str]) -> None:
        self.value = "".join(f"<div class='exs-warn'>⚠ {html.escape(p)}</div>" for p in problems)


def stage_problems(cfg: Config, pipeline: Pipeline, library_root: Path) -> list[str]:
    """What is wrong beyond the console itself: OSC unreachable, no model or one that failed to load, the library's
    disk nearly full."""
    problems = []
    sender = pipeline.sender
    if sender is not None and sender.last_error:
        problems.append(f"OSC unreachable: {sender.last_error}")
    if pipeline.model.state == ModelState.NONE:
        problems.append(f"No model at {cfg.resolve(cfg.classifier.model)}: sounds are kept and pitched "
                        "but get no class and never reach the stage (docs/training.md)")
    elif pipeline.model.state == ModelState.FAILED:
        problems.append(pipeline.model.line())
    disk = DiskSpace(library_root, int(cfg.server.disk_reserve_mb * 2 ** 20))
    if disk.nearly_full():
        free = f"Disk nearly full: {disk.free_bytes() / 2 ** 30:.1f} GiB free for the library at {library_root}"
        reserve = f"{cfg.server.disk_reserve_mb:g} MiB"
        problems.append(f"{free}: phones' sounds are refused (507) until you make room above {reserve}"
                        if not disk.room_for(0) else f"{free}; phones' sounds are refused below {reserve}")
    return problems
