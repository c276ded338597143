"""The console's side panels: the map, the prompt, the mapping table and the live-coding report.

Each panel builds its widgets, shows what it is given (``show``/``reset``) and reports the performer's edits
through a callback or a trait; :class:`~exsampling.console.show.Console` wires them to the show. Every panel with
controls has a ``frozen`` trait (read-only: controls disabled).
"""
from __future__ import annotations

import functools
import html
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import ipyleaflet
import ipywidgets as widgets
import traitlets

from ..mapping import LABELS, instrument_colour
from ..records import Sample
from .cards import clock


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
    zoom = math.floor(min(zooms)) if zooms else max_zoom - 1
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
        # one layout per column, shared by the 41 rows: each would otherwise be one more widget for the page to load
        self._shared = {"label": widgets.Layout(width="190px"), "rule": widgets.Layout(width="90px"),
                        "row": widgets.Layout()}
        dropdown_layout = widgets.Layout(width="110px")
        self.rows = {label: widgets.Dropdown(options=instruments, value=table.get(label), layout=dropdown_layout)
                     for label in LABELS}
        self.rules = widgets.VBox()
        self._rule_buttons: dict[str, widgets.ToggleButtons] = {}
        self.new_name = widgets.Text(placeholder="new track name", layout=widgets.Layout(width="160px"))
        self.add = widgets.Button(description="add track", layout=widgets.Layout(width="auto"))
        self.saved = widgets.HTML()  # where edits are saved (see show_saved)
        for label, dropdown in self.rows.items():
            dropdown.observe(functools.partial(self._on_instrument, label), "value")
        self.add.on_click(self._on_add)
        cells = [self._row(label, "label", dropdown) for label, dropdown in self.rows.items()]
        grid = widgets.GridBox(cells, layout=widgets.Layout(
            grid_template_columns="repeat(auto-fill, minmax(310px, 1fr))"))
        super().__init__(children=[self.saved, grid, widgets.HTML("<b>Playing rule per track</b>"), self.rules,
                                   widgets.HBox([self.new_name, self.add])])
        self.show(table, melodic)

    def on_edit(self, callback: Callable[[str, str, Any], None]) -> None:
        self._edits.register_callback(callback)

    def show_saved(self, path: Path, at: float = 0.0) -> None:
        """Say where edits are saved, and when they last were (``at``: POSIX time; 0 = not yet)."""
        where = html.escape(str(path))
        if at:
            text = f"saved to {where} at {clock(at)}"
        else:
            created = "" if path.exists() else " (created on the first edit)"
            text = f"Edits apply to the next sound and are saved to {where}{created}."
        self.saved.value = f"<span class='exs-small'>{text}</span>"

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
            self.rules.children = tuple(self._row(name, "rule", self._rule_buttons[name]) for name in instruments)
        finally:
            self._syncing = False

    def _row(self, text: str, column: str, control: widgets.Widget) -> widgets.HBox:
        """A name in the ``column``'s shared layout, then its control."""
        return widgets.HBox([widgets.Label(text, layout=self._shared[column]), control], layout=self._shared["row"])

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
