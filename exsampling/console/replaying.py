"""Replaying an old show into the running one from the console (``show.replay`` in live code, and the "Old shows"
panel's button; docs/shows.md).

:class:`Replayer` runs one replay at a time through the console's own chain (:class:`~exsampling.replay.ChainFeed`)
and reports its progress and summary on the :class:`~exsampling.console.kept.KeptShowPanel`.
"""
from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

from ..archive import OpenedShow, open_show
from ..pipeline import Pipeline
from ..replay import ChainFeed, Cue, Replayed, Summary, plan, replay
from ..show_state import ShowState
from .kept import KeptShowPanel


class Replayer:
    """One replay at a time into ``pipeline`` (its prompts into ``state``), shown on ``panel``; ``check`` is the
    console's owner check, run before a replay starts."""

    def __init__(self, pipeline: Pipeline, state: ShowState, panel: KeptShowPanel, check: Callable[[], None]) -> None:
        self.pipeline, self.state, self.panel, self.check = pipeline, state, panel, check
        self._running: asyncio.Task[list[Replayed]] | None = None
        self._button_task: asyncio.Task[None] | None = None

    async def replay(self, show: str | Path | OpenedShow, speed: float = 4.0, start: str | None = None) -> Summary:
        """Play ``show`` (a zip, a folder or an opened show) again at its pace ÷ ``speed``; see Console.replay."""
        self.check()
        if self._running is not None and not self._running.done():
            raise RuntimeError("a replay is running: stop it first (show.stop_replay())")
        loop = asyncio.get_running_loop()
        opened = show if isinstance(show, OpenedShow) else await loop.run_in_executor(None, open_show, show)
        try:
            cues = plan(opened.library, start)
            self.panel.started(sum(isinstance(c, Cue) for c in cues))
            began = loop.time()
            self._running = asyncio.ensure_future(
                replay(cues, ChainFeed(self.pipeline, self.state), speed, on_progress=self.panel.progress))
            try:
                results = await self._running
            except asyncio.CancelledError:
                self.panel.finished(None, "stopped: the recordings already sent are processed")
                raise
            except Exception as exc:
                self.panel.finished(None, f"the replay failed: {type(exc).__name__}: {exc}")
                raise
        finally:
            if opened is not show:
                opened.close()
        summary = Summary.of(results, loop.time() - began, speed)
        self.panel.finished(summary)
        return summary

    def stop(self) -> None:
        """Stop a running replay (recordings already sent are still processed)."""
        if self._running is not None and not self._running.done():
            self._running.cancel()

    def start_from_button(self, opened: OpenedShow, speed: float, start: str | None,
                          report: Callable[[str | None], None]) -> None:
        """The panel's replay button: replay in the background; ``report`` gets the error to show, or None."""
        async def run() -> None:
            try:
                await self.replay(opened, speed, start)
                report(None)
            except asyncio.CancelledError:
                pass
            except Exception as exc:  # said on the page; the show goes on
                report(f"replay: {type(exc).__name__}: {exc}")

        self._button_task = asyncio.ensure_future(run())
