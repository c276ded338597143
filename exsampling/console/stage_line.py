"""What the console says about the stage beyond its header line: the sounds it has not confirmed, the tracks no
device follows, the instrument names it is told (docs/osc.md, "The stage answers"), and the devices that answer
from an address the console does not believe (:class:`StageAsking`).

Small functions over the library's recent samples and the :class:`~exsampling.stage.Stage`; the console calls
them once a second and on every change.
"""
from __future__ import annotations

import html
from collections.abc import Callable, Iterable

import ipywidgets as widgets

from ..records import Sample, SampleStatus
from ..stage import LOAD_WARNING_S, Stage, unconfirmed

#: The newest samples checked for answers the stage owes (a warning for each still unanswered), and whose
#: instrument names (a live-coded rule's, say) are told to the stage.
RECENT_SAMPLES = 50
#: How long a sent sample's missing answer, or its instrument that no device follows, stays in the warnings, in s.
STAGE_WARNING_S = 600.0


def instruments(mapped: Iterable[str], recent: Iterable[Sample]) -> set[str]:
    """Every instrument name the show may send to: the mapping's (``mapped``) and those the ``recent`` samples got
    (a live-coded rule may name a track the mapping does not)."""
    return set(mapped) | {s.instrument for s in recent if s.instrument}


def answers_owed(recent: Iterable[Sample], stage: Stage, now: float) -> list[str]:
    """Warnings for what the stage has not confirmed among the ``recent`` samples sent within
    :data:`STAGE_WARNING_S` before ``now`` (Unix seconds): those it did not load within ``LOAD_WARNING_S``, and
    the tracks no device on stage follows (said only while the stage answers at all: when it is silent the header
    says so for every track at once)."""
    sent = [(s, s.stage) for s in recent
            if s.status == SampleStatus.SENT and s.stage is not None and now - s.stage.sent_at < STAGE_WARNING_S]
    problems = []
    late = [f"#{s.id} → {s.instrument}" for s, answer in sent if unconfirmed(answer, now)]
    if late:
        problems.append(f"Not loaded by the stage within {LOAD_WARNING_S:.0f} s: {', '.join(late[:6])}"
                        f"{' …' if len(late) > 6 else ''}")
    if not stage.status().silent:
        followed = stage.followed()
        for name in sorted({s.instrument for s, _ in sent if s.instrument and s.instrument not in followed}):
            problems.append(f"No device on stage follows {name}: the sounds sent there are not heard. Choose "
                            f"or type {name} in a track device (the Pd twin makes the track itself)")
    return problems


class StageAsking(widgets.VBox):
    """The devices that said hello from an address not believed (:attr:`Stage.asking`), each with a button that
    believes it from then on (:meth:`Stage.accept`). ``guard`` raises when this console may not change the show."""

    def __init__(self, stage: Stage, guard: Callable[[], None]) -> None:
        super().__init__()
        self.stage, self.guard = stage, guard
        self._shown: tuple[tuple[str, str], ...] = ()

    def show(self) -> None:
        """Redraw when the devices asking changed."""
        asking = tuple((host, device.name) for host, device in self.stage.asking.items())
        if asking == self._shown:
            return
        self._shown = asking
        self.children = [self._line(host, name) for host, name in asking]

    def _line(self, host: str, name: str) -> widgets.HBox:
        text = widgets.HTML(f"<div class='exs-warn'>⚠ {html.escape(name)} at {html.escape(host)} answers as the "
                            "stage, but its answers are not believed (only this computer and [osc] host / "
                            "stage_hosts are)</div>")
        button = widgets.Button(description=f"Believe {host}", button_style="warning",
                                tooltip="its loaded / played answers will count, also after a restart",
                                layout=widgets.Layout(width="auto"))
        button.on_click(lambda _button: self._accept(host))
        return widgets.HBox([text, button], layout=widgets.Layout(align_items="center"))

    def _accept(self, host: str) -> None:
        self.guard()
        self.stage.accept(host)
        self.show()
