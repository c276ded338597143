"""The console page's buttons and fields, acting through the live-coding API (:class:`~exsampling.console.live.
LiveCoding`): a card's accept and a notebook cell's ``show.accept(12)`` are one call, under the one owner check.
An action the show refuses (a read-only console, a bad mapping) is said on the page, which keeps running.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any, assert_never

from ..mapping import MappingError
from ..records import Sample
from .cards import Action
from .live import LiveCoding
from .ownership import ReadOnlyConsole


class PageActions(LiveCoding):
    """The page's handlers; the console that inherits them provides the show they act on and its warnings."""

    frozen: bool
    problems: dict[str, str]
    _refresh: Callable[[], None]  # redraws the banner, header and warnings
    _on_table: Callable[[], None]  # shows the mapping again (undoing a refused edit in the widgets)

    def _report(self, topic: str, action: Callable[[], object], errors: tuple[type[Exception], ...],
                describe: Callable[[Exception], str] = str) -> None:
        """Run the performer's action from the page; an error is said on the page, which keeps running."""
        try:
            action()
            self.problems.pop(topic, None)
        except Exception as exc:
            if not isinstance(exc, (ReadOnlyConsole, *errors)):
                raise
            self.problems[topic] = describe(exc)
        self._refresh()

    def _on_action(self, action: Action, sample_id: int, label: str = "") -> None:
        """A card's button (an :class:`~exsampling.console.cards.ActionHandler`): accept, reject, resend or
        relabel through the live-coding API."""
        self._report("action", lambda: self._decide(action, sample_id, label), (Exception,),
                     lambda exc: f"{action} #{sample_id} failed: {type(exc).__name__}: {exc}")

    def _decide(self, action: Action, sample_id: int, label: str) -> Sample:
        match action:
            case Action.ACCEPT:
                return self.accept(sample_id)
            case Action.REJECT:
                return self.reject(sample_id)
            case Action.RESEND:
                return self.resend(sample_id)
            case Action.RELABEL:
                return self.relabel(sample_id, label)
            case _:
                assert_never(action)

    def _on_prompt(self, change: dict[str, Any]) -> None:
        """Publish the performer's prompt or open/closed state to every recorder page."""
        def publish() -> None:
            if change["name"] == "is_open":
                self.is_open = change["new"]
            else:
                self.prompt = change["new"]

        if not self.frozen:  # a read-only page only mirrors the owner's
            self._report("prompt", publish, (ValueError,))

    def _on_mode_toggle(self, change: dict[str, Any]) -> None:
        """Switch auto-accept/preview for the next sample."""
        def switch() -> None:
            self.mode = change["new"]

        if not self.frozen:
            self._report("mode", switch, (ValueError,))

    def _on_mapping_edit(self, kind: str, key: str, value: Any) -> None:
        """A mapping widget was edited (a refused edit is undone in the widgets)."""
        edits: dict[str, Callable[[str, Any], None]] = {
            "mapping": self.store.set_instrument, "melodic": self.store.set_melodic,
            "instrument": self.store.set_melodic}
        edit = edits[kind]
        self._report("mapping", lambda: edit(key, value), (MappingError, ValueError))
        if "mapping" in self.problems:
            self._on_table()
