"""The live-coding API of the console (``show`` in console.ipynb, docs/live-coding.md).

:class:`LiveCoding` is the part of :class:`~exsampling.console.show.Console` a performer types at: the mapping,
the rules, the prompt, open/closed, the mode and the decisions on samples. Every change passes the console's one
owner check (:meth:`~exsampling.console.ownership.ShowOwnership.check`) and raises
:class:`~exsampling.console.ownership.ReadOnlyConsole` on a console that does not run the show; reading never does.
"""
from __future__ import annotations

from pathlib import Path

from ..config import Mode
from ..library import Library
from ..mapping import Rule
from ..pipeline import Pipeline
from ..records import Sample
from ..show_state import ShowState
from .cards import POOL_SIZE
from .ownership import ShowOwnership
from .store import LiveTable, MappingStore


class LiveCoding:
    """The live-coding handle; the console that inherits it provides the show it acts on."""

    pipeline: Pipeline
    library: Library
    state: ShowState
    ownership: ShowOwnership
    store: MappingStore

    async def take_over(self) -> bool:
        """Run the show from this console; True when it does (see :meth:`ShowOwnership.take_over`)."""
        return await self.ownership.take_over()

    @property
    def mapping(self) -> LiveTable:
        """Class → instrument: ``show.mapping["Bark"] = "Snare"`` applies to the next sample and is saved."""
        return self.store.mapping

    @property
    def melodic(self) -> LiveTable:
        """Instrument → melodic (True) or percussive (False)."""
        return self.store.melodic

    def rule(self, fn: Rule) -> Rule:
        """Decorator: a live rule ``fn(sample) -> instrument or None`` (see :meth:`MappingStore.rule`)."""
        return self.store.rule(fn)

    def remove_rule(self, fn_or_name: Rule | str) -> None:
        """Forget a rule, given the function or its name."""
        self.store.remove_rule(fn_or_name)

    @property
    def rules(self) -> list[Rule]:
        """The live rules, in the order they run."""
        return self.store.rules

    def save_mapping(self) -> Path:
        """Write the mapping in use to the config file and return its path."""
        return self.store.save()

    @property
    def prompt(self) -> str:
        """What every recorder page asks for (≤ 280 characters); "" for none."""
        return self.state.prompt

    @prompt.setter
    def prompt(self, text: str) -> None:
        self.ownership.check()
        self.state.prompt = text

    @property
    def is_open(self) -> bool:
        """Whether uploads are taken."""
        return self.state.is_open

    @is_open.setter
    def is_open(self, value: bool) -> None:
        self.ownership.check()
        self.state.is_open = value

    @property
    def mode(self) -> Mode:
        """``auto`` (every sample straight to the stage) or ``preview`` (accept each); kept in the library."""
        return self.state.mode

    @mode.setter
    def mode(self, value: Mode | str) -> None:
        self.ownership.check()
        self.state.mode = value

    def samples(self, limit: int = POOL_SIZE) -> list[Sample]:
        """The newest ``limit`` samples, newest first."""
        return self.library.samples(limit=limit)

    def accept(self, sample_id: int) -> Sample:
        """Send a sample to the stage."""
        self.ownership.check()
        return self.pipeline.accept(sample_id)

    def reject(self, sample_id: int) -> Sample:
        """Keep a sample off the stage (withdrawn if it was sent)."""
        self.ownership.check()
        return self.pipeline.reject(sample_id)

    def resend(self, sample_id: int) -> Sample:
        """Send a sample again."""
        self.ownership.check()
        return self.pipeline.resend(sample_id)

    def relabel(self, sample_id: int, label: str) -> Sample:
        """Give a sample your label (kept in the library, remembered for similar sounds)."""
        self.ownership.check()
        return self.pipeline.relabel(sample_id, label)
