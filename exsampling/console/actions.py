"""The console page's buttons and fields, acting through the live-coding API (:class:`~exsampling.console.live.
LiveCoding`): a card's accept and a notebook cell's ``show.accept(12)`` are one call, under the one owner check.
An action the show refuses (a read-only console, a bad mapping) is said on the page, which keeps running.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..mapping import MappingError
from .ownership import ReadOnlyConsole
from .store import MappingStore


class PageActions:
    """The page's handlers; the console that inherits them provides the show they act on and its warnings."""

    frozen: bool
    problems: dict[str, str]
    store: MappingStore
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

    def _on_action(self, action: str, sample_id: int, *args: Any) -> None:
        """A card's button: accept, reject, resend or relabel through the pipeline."""
        self._report("action", lambda: getattr(self, action)(sample_id, *args), (Exception,),
                     lambda exc: f"{action} #{sample_id} failed: {type(exc).__name__}: {exc}")

    def _on_prompt(self, change: dict[str, Any]) -> None:
        """Publish the performer's prompt or open/closed state to every recorder page."""
        if not self.frozen:  # a read-only page only mirrors the owner's
            self._report("prompt", lambda: setattr(self, change["name"], change["new"]), (ValueError,))

    def _on_mode_toggle(self, change: dict[str, Any]) -> None:
        """Switch auto-accept/preview for the next sample."""
        if not self.frozen:
            self._report("mode", lambda: setattr(self, "mode", change["new"]), (ValueError,))

    def _on_mapping_edit(self, kind: str, key: str, value: Any) -> None:
        """A mapping widget was edited (a refused edit is undone in the widgets)."""
        edits: dict[str, Callable[[str, Any], None]] = {
            "mapping": self.store.set_instrument, "melodic": self.store.set_melodic,
            "instrument": self.store.set_melodic}
        edit = edits[kind]
        self._report("mapping", lambda: edit(key, value), (MappingError, ValueError))
        if "mapping" in self.problems:
            self._on_table()
