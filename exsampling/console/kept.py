"""An old show in the console, read-only: open a kept show (an export's zip or a library folder), see its story, listen
to its samples, and replay it into tonight's show (:meth:`~exsampling.console.show.Console.replay`)."""
from __future__ import annotations

import html
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import ipywidgets as widgets
import traitlets

from ..archive import ArchiveError, OpenedShow, open_show
from ..pitch import note_name
from ..replay import Replayed, Summary
from ..report import STYLE, ShowFacts, overview
from .cards import clock

CSS = ".exs-kept pre { font-family: monospace; line-height: 1.35; margin: 4px 0; }"

#: Replay speeds offered, as (label, factor); ``inf`` sends every recording as fast as the chain takes it.
SPEEDS = (("×1 (as it happened)", 1.0), ("×2", 2.0), ("×4", 4.0), ("×10", 10.0), ("×20", 20.0),
          ("as fast as possible", math.inf))


class KeptShowPanel(widgets.VBox):
    """Open an old show and look at it (nothing in it can be changed); a button replays it into this show.

    ``folder``: where the performer keeps shows; its ``*.zip`` files are offered by name. ``on_replay(callback)``
    gets ``(opened_show, speed, start)`` when the performer asks for a replay; the console runs it and reports
    with :meth:`progress` and :meth:`finished`.
    """

    frozen = traitlets.Bool(False, help="read-only console: the show can be looked at, not replayed")
    replaying = traitlets.Bool(False)

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.opened: OpenedShow | None = None
        self._on_replay: Callable[[OpenedShow, float, str | None], Any] | None = None
        self._on_stop: Callable[[], Any] | None = None
        self.path = widgets.Combobox(placeholder="a show's zip (exsampling export) or a library folder",
                                     options=self._kept_here(), ensure_option=False,
                                     layout=widgets.Layout(width="60%"))
        self.open_button = widgets.Button(description="open", layout=widgets.Layout(width="auto"))
        self.close_button = widgets.Button(description="close", disabled=True, layout=widgets.Layout(width="auto"))
        self.message = widgets.HTML()
        self.story = widgets.HTML()
        self.picker = widgets.Dropdown(description="listen:", layout=widgets.Layout(width="70%"))
        self.player = widgets.Audio(autoplay=False, loop=False, controls=True, layout=widgets.Layout(width="320px"))
        self.speed = widgets.Dropdown(options=SPEEDS, value=4.0, description="speed:",
                                      layout=widgets.Layout(width="auto"))
        self.start = widgets.Text(placeholder="from HH:MM or +MM:SS (optional)", layout=widgets.Layout(width="200px"))
        self.replay = widgets.Button(description="▶ replay into this show", button_style="warning", disabled=True,
                                     tooltip="its recordings arrive again at their pace, through tonight's chain",
                                     layout=widgets.Layout(width="auto"))
        self.stop = widgets.Button(description="stop", disabled=True, layout=widgets.Layout(width="auto"))
        self.bar = widgets.IntProgress(value=0, min=0, max=1, layout=widgets.Layout(width="60%"))
        self.result = widgets.HTML()
        self.open_button.on_click(self._on_open)
        self.close_button.on_click(lambda _: self.close_show())
        self.picker.observe(self._on_pick, "value")
        self.replay.on_click(self._on_replay_click)
        self.stop.on_click(lambda _: self._on_stop and self._on_stop())
        self.viewer = widgets.VBox([self.story, widgets.HBox([self.picker, self.player])])
        self.viewer.layout.display = "none"
        super().__init__(children=[
            widgets.HTML(f"<style>{STYLE}{CSS}</style>"),
            widgets.HBox([self.path, self.open_button, self.close_button]), self.message, self.viewer,
            widgets.HBox([self.speed, self.start, self.replay, self.stop]), self.bar, self.result])
        self.add_class("exs-kept")

    def _kept_here(self) -> list[str]:
        try:
            return sorted(str(p) for p in self.folder.glob("*.zip"))
        except OSError:
            return []

    def on_replay(self, callback: Callable[[OpenedShow, float, str | None], Any],
                  stop: Callable[[], Any]) -> None:
        self._on_replay, self._on_stop = callback, stop

    # -- looking ------------------------------------------------------------------------------------------

    def _on_open(self, _button: widgets.Button) -> None:
        """Open the named show (a zip is checked in full first; a refused one says why)."""
        self.show_file(self.path.value.strip())

    def show_file(self, path: str | Path) -> bool:
        """Open ``path`` and show it; False (with the reason on the panel) when it cannot be opened."""
        self.close_show()
        if not str(path):
            self.message.value = "<span class='exs-small'>Name a show's zip or library folder first.</span>"
            return False
        try:
            self.opened = open_show(path)
        except (ArchiveError, OSError) as exc:
            self.message.value = f"<div class='exs-warn'>{html.escape(str(exc))}</div>"
            return False
        facts = ShowFacts.of(self.opened.library, self.opened.info.name, self.opened.info.model,
                             self.opened.info.mapping)
        self.story.value = f"<div class='exs-report'>{overview(facts)}</div>"
        self.picker.options = [(_choice(s, facts), s.id) for s in facts.samples]
        self.picker.value = facts.samples[0].id if facts.samples else None
        self.message.value = (f"<span class='exs-small'>{html.escape(str(self.opened.info.source))} — read-only: "
                              "nothing of that show can change here.</span>")
        self.viewer.layout.display = None
        self.close_button.disabled = False
        self._refresh_buttons()
        return True

    def _on_pick(self, change: dict) -> None:
        """Load the chosen sample into the player."""
        if self.opened is None or change["new"] is None:
            return
        path = Path(self.opened.library.sample(change["new"]).path)
        self.player.value = path.read_bytes() if path.is_file() else b""

    def close_show(self) -> None:
        """Put the old show away (a zip's temporary copy is removed)."""
        if self.replaying or self.opened is None:
            return
        self.opened.close()
        self.opened = None
        self.story.value, self.message.value = "", ""
        self.picker.options = []
        self.viewer.layout.display = "none"
        self.close_button.disabled = True
        self._refresh_buttons()

    # -- replaying ---------------------------------------------------------------------------------------

    def _on_replay_click(self, _button: widgets.Button) -> None:
        """Ask the console to replay the open show."""
        if self.opened is not None and self._on_replay is not None:
            self._on_replay(self.opened, self.speed.value, self.start.value.strip() or None)

    def started(self, recordings: int) -> None:
        """A replay of ``recordings`` recordings began."""
        self.replaying = True
        self.bar.max, self.bar.value, self.bar.bar_style = max(recordings, 1), 0, "info"
        self.result.value = f"<span class='exs-small'>replaying {recordings} recordings…</span>"

    def progress(self, replayed: Replayed) -> None:
        """One more recording's outcome is in."""
        self.bar.value += 1

    def finished(self, summary: Summary | None, problem: str = "") -> None:
        """The replay ended: its summary, or why it stopped."""
        self.replaying = False
        self.bar.bar_style = "success" if summary is not None else "danger"
        text = summary.text() if summary is not None else problem
        self.result.value = f"<pre class='exs-small'>{html.escape(text)}</pre>"

    @traitlets.observe("frozen", "replaying")
    def _on_state(self, change: dict) -> None:
        self._refresh_buttons()

    def _refresh_buttons(self) -> None:
        self.replay.disabled = self.frozen or self.replaying or self.opened is None
        self.stop.disabled = not self.replaying
        self.open_button.disabled = self.replaying


def _choice(sample: Any, facts: ShowFacts) -> str:
    """A sample as the listen menu names it."""
    pitch = f" · {note_name(sample.midi_note)}" if sample.midi_note is not None else ""
    who = sample.participant or "anonymous"
    return (f"#{sample.id} {clock(facts.when(sample).isoformat())} {sample.label or 'no class'} → "
            f"{sample.instrument or '—'}{pitch} · {who} · {sample.status}")
