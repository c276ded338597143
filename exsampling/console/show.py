"""The console itself: :class:`Console` lays out the panels over the show and is the live-coding handle (``show``
in console.ipynb, docs/live-coding.md).

It composes a :class:`~exsampling.show_state.ShowState` (prompt, open/closed, mode), a
:class:`~exsampling.console.ownership.ShowOwnership` (who runs the show; the owner check) and a
:class:`~exsampling.console.store.MappingStore` (the mapping, its TOML file and the rules), links their traits
to the panels, and follows the library once a second.
"""
from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, MutableMapping
from pathlib import Path
from typing import Any

import ipywidgets as widgets
import traitlets
from tornado.ioloop import PeriodicCallback

from ..archive import OpenedShow, open_show
from ..config import Config
from ..mapping import MappingError
from ..records import Sample
from ..replay import ChainFeed, Cue, Replayed, Summary, plan, replay
from ..show_state import ShowState
from .cards import Media, SoundsPanel
from .environment import (
    ENV_CONFIG,
    ENV_TILES,
    ENV_TOKEN,
    ENV_UPLOAD_PORT,
    config_path,
    current_kernel_id,
    load_config,
    native_stderr_to_log,
)
from .header import CSS, Header, RoleBanner, Warnings, stage_problems
from .kept import KeptShowPanel
from .live import LiveCoding
from .ownership import ReadOnlyConsole, Role, ShowOwnership
from .panels import LiveCodingPanel, MapPanel, MappingPanel, PromptPanel
from .store import MappingStore

#: How often every console follows the library, the config file and the owner, in milliseconds.
TICK_MS = 1000


class Console(LiveCoding, widgets.VBox):
    """The performer's console and the live-coding handle (``show`` in console.ipynb).

    Parameters
    ----------
    cfg : Config — the running configuration (its ``source`` is where mapping edits are saved).
    pipeline : Pipeline — the chain; the console adds itself to its listeners.
    config_file : Path — the TOML file watched and written (see :func:`config_path`).
    upload_port : int or None — the upload server's port (None: ``[server] port``).
    token : str or None — the show token (see :class:`~exsampling.show_state.ShowState`).
    tiles : str — a map tile URL template; "" for no tiles.
    kernel_id, preheated, live_coding : see :class:`~exsampling.console.ownership.ShowOwnership`.

    Live coding: ``mapping``, ``melodic``, ``rule``, ``remove_rule``, ``rules``, ``save_mapping``, ``mode``,
    ``prompt``, ``is_open``, ``accept``/``reject``/``resend``/``relabel``, ``samples``, ``take_over``, ``replay``
    (docs/live-coding.md). Every change raises :class:`ReadOnlyConsole` on a console that does not run the show.
    """

    frozen = traitlets.Bool(True, help="read-only (every role but 'owner')")

    def __init__(self, cfg: Config, pipeline: Any, *, config_file: Path | None = None, upload_port: int | None = None,
                 token: str | None = None, tiles: str = "", kernel_id: str = "", preheated: bool = False,
                 live_coding: bool = False) -> None:
        self.cfg, self.pipeline, self.library = cfg, pipeline, pipeline.library
        self.state = ShowState(cfg, self.library, token=token)
        self.ownership = ShowOwnership(cfg, pipeline, self.state, kernel_id=kernel_id, preheated=preheated,
                                       live_coding=live_coding,
                                       upload_port=cfg.server.port if upload_port is None else upload_port)
        self.store = MappingStore(cfg, pipeline, Path(config_file or cfg.source or config_path()),
                                  guard=self.ownership.check)
        # the show's history names this console for what its show state and its pipeline do
        self.state.actor = pipeline.actor = f"console:{self.ownership.console_id[:8]}"
        self.problems: dict[str, str] = {}
        self._ticker: PeriodicCallback | None = None
        self._newest_id = 0
        self._replaying: asyncio.Task[list[Replayed]] | None = None
        self._replay_button_task: asyncio.Task[None] | None = None

        self.header, self.banner, self.warnings = Header(), RoleBanner(), Warnings()
        self.sounds = SoundsPanel(self.library, Media(pipeline))
        self.map = MapPanel(tiles)
        self.prompt_panel = PromptPanel()
        self.mapping_panel = MappingPanel(pipeline.mapper.table, pipeline.mapper.melodic)
        self.live = LiveCodingPanel()
        self.kept = KeptShowPanel(self.store.config_file.parent)

        widgets.dlink((self.ownership, "role"), (self, "frozen"), transform=lambda role: role != Role.OWNER)
        for panel in (self.header, self.sounds, self.prompt_panel, self.mapping_panel, self.kept):
            widgets.dlink((self, "frozen"), (panel, "frozen"))
        self.ownership.observe(self._on_role, "role")
        self.store.observe(self._on_table, "table_version")
        self.store.observe(self._on_rules, "rules_version")
        self.store.observe(self._on_saved, "saved_at")
        self.state.listeners.append(self._on_state)
        self.header.observe(self._on_mode_toggle, "mode")
        self.prompt_panel.observe(self._on_prompt, ["prompt", "is_open"])
        self.sounds.on_action(self._on_action)
        self.map.on_select(self.sounds.show_sample)
        self.mapping_panel.on_edit(self._on_mapping_edit)
        self.kept.on_replay(self._on_replay, self.stop_replay)
        self.banner.take_over.on_click(lambda _button: self.ownership.take_over_soon())
        pipeline.listeners.append(self._on_sample)

        mapping_box = widgets.Accordion(children=[self.mapping_panel, self.kept],
                                        titles=("Mapping: class → instrument", "Old shows: open, listen, replay"))
        mapping_box.add_class("exs-mapping")
        side = widgets.VBox([self.map, self.prompt_panel, self.live], layout=widgets.Layout(flex="1 1 36%"))
        body = widgets.HBox([widgets.Box([self.sounds], layout=widgets.Layout(flex="1 1 64%", margin="0 16px 0 0")),
                             side], layout=widgets.Layout(width="100%"))
        super().__init__(children=[widgets.HTML(CSS), self.banner, self.header, self.warnings, body, mapping_box])
        self.add_class("exs-console")
        self.mapping_panel.show_saved(self.store.config_file)
        self.reset()

    @classmethod
    def from_env(cls, environ: MutableMapping[str, str] | None = None) -> Console:
        """A console from the environment ``exsampling console`` sets (:mod:`exsampling.console.environment`);
        loads the model."""
        from ..pipeline import build

        environ = os.environ if environ is None else environ
        path = config_path(environ.get(ENV_CONFIG) or None)
        cfg = load_config(path)
        port = environ.get(ENV_UPLOAD_PORT)
        with native_stderr_to_log():
            pipeline = build(cfg)  # loads and warms the model and every stage
        return cls(cfg, pipeline, config_file=path, upload_port=int(port) if port else None,
                   token=environ.get(ENV_TOKEN) or None, tiles=environ.get(ENV_TILES, ""),
                   kernel_id=current_kernel_id(environ), preheated=environ.get("VOILA_PREHEAT") == "True",
                   live_coding="VOILA_KERNEL_ID" not in environ)

    @property
    def role(self) -> Role:
        """What this console does in the show (``ownership.role``)."""
        return Role(self.ownership.role)

    def reset(self) -> None:
        """Show the whole show again from the library (every panel re-reads it)."""
        samples = self.library.samples()
        self._newest_id = samples[0].id if samples else 0
        self.sounds.reset()
        self.map.reset(samples)
        self._on_state(self.state)
        self._refresh()

    async def start(self) -> None:
        """Run: follow the library every second, and take the show over (see :meth:`ShowOwnership.start`)."""
        self._ticker = PeriodicCallback(self.tick, TICK_MS)
        self._ticker.start()
        await self.ownership.start()

    def close(self) -> None:
        """Stop following and serving; the show's record is cleared if this console owned it."""
        self.stop_replay()
        self.kept.close_show()
        if self._ticker is not None:
            self._ticker.stop()
        self.ownership.close()
        if self._on_state in self.state.listeners:
            self.state.listeners.remove(self._on_state)
        if self._on_sample in self.pipeline.listeners:
            self.pipeline.listeners.remove(self._on_sample)

    def tick(self) -> None:
        """Once a second: follow the config file, the library and the owner; refresh the header."""
        try:
            self.store.follow_disk()
            newest = self.library.samples(limit=1)
            if newest and newest[0].id > self._newest_id:  # stored by anyone: another console, the CLI
                fresh = [s for s in self.library.samples(limit=200) if s.id > self._newest_id]
                self._newest_id = fresh[0].id
                for sample in reversed(fresh):
                    self.map.add(sample)
                    self.sounds.update(sample)
            self.sounds.refresh()
            self.store.collect_failures()
            # a read-only console mirrors the owner's prompt, open/closed and mode; the owner takes a change another
            # process made (a replay's prompts)
            self.state.refresh()
            if self.role != Role.OWNER:
                self.ownership.follow()
            self.problems.pop("console", None)
        except Exception as exc:  # the page must keep running and say what went wrong
            self.problems["console"] = f"console error: {type(exc).__name__}: {exc}"
        self._refresh()

    def _refresh(self) -> None:
        """Redraw the banner, the header and the warnings."""
        owner = self.state.owner
        self.banner.show(self.role, owner, self.ownership.problems.get("server", ""))
        self.header.show(owner, self.role, self.library.counts(), self.pipeline.sender,
                         getattr(self.pipeline.classifier, "info", None))
        self.warnings.show([*self.ownership.problems.values(), *self.store.problems.values(),
                            *self.problems.values(), *stage_problems(self.cfg, self.pipeline, self.library.root)])

    # -- events ---------------------------------------------------------------------------------------

    def _on_role(self, change: dict[str, Any]) -> None:
        """A console that takes the show over shows it whole; every role change is said on the page."""
        if change["new"] == Role.OWNER:
            self.reset()
        else:
            self._refresh()

    def _on_state(self, state: ShowState) -> None:
        """The show's prompt, open/closed or mode changed (here, in live code or in the owner): mirror them."""
        self.prompt_panel.prompt, self.prompt_panel.is_open = state.prompt, state.is_open
        self.header.mode = str(state.mode)

    def _on_table(self, _change: object = None) -> None:
        """The mapping changed (here, in live code or in the file): show it."""
        self.mapping_panel.show(self.pipeline.mapper.table, self.pipeline.mapper.melodic)

    def _on_rules(self, _change: object) -> None:
        """A rule was added, removed or failed: list them."""
        self.live.show(self.store.rules, self.store.failures)

    def _on_saved(self, change: dict[str, Any]) -> None:
        """The mapping was saved: say when."""
        self.mapping_panel.show_saved(self.store.config_file, change["new"])

    def _on_sample(self, sample: Sample) -> None:
        """A sample arrived or changed (pipeline listener, on the loop): card, map, header at once."""
        self.sounds.update(sample)
        self.map.add(sample)
        self._newest_id = max(self._newest_id, sample.id)
        self.store.collect_failures()
        self._refresh()

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

    # -- replaying an old show ----------------------------------------------------------------------

    async def replay(self, show: str | Path | OpenedShow, speed: float = 4.0, start: str | None = None) -> Summary:
        """Play an old show again into this one (``await show.replay("tonight.zip", speed=4)``): its recordings
        reach this console's chain at their pace ÷ ``speed`` as new sounds (source ``replay``) — cards, map and
        stage react as to the audience — and its prompts reach every phone. ``start``: see ``exsampling replay
        --from``. Returns the summary (also shown in the "Old shows" panel)."""
        self.ownership.check()
        if self._replaying is not None and not self._replaying.done():
            raise RuntimeError("a replay is running: stop it first (show.stop_replay())")
        loop = asyncio.get_running_loop()
        opened = show if isinstance(show, OpenedShow) else await loop.run_in_executor(None, open_show, show)
        try:
            cues = plan(opened.library, start)
            self.kept.started(sum(isinstance(c, Cue) for c in cues))
            began = loop.time()
            self._replaying = asyncio.ensure_future(
                replay(cues, ChainFeed(self.pipeline, self.state), speed, on_progress=self.kept.progress))
            try:
                results = await self._replaying
            except asyncio.CancelledError:
                self.kept.finished(None, "stopped: the recordings already sent are processed")
                raise
            except Exception as exc:
                self.kept.finished(None, f"the replay failed: {type(exc).__name__}: {exc}")
                raise
        finally:
            if opened is not show:
                opened.close()
        summary = Summary.of(results, loop.time() - began, speed)
        self.kept.finished(summary)
        return summary

    def stop_replay(self) -> None:
        """Stop a running replay (recordings already sent are still processed)."""
        if self._replaying is not None and not self._replaying.done():
            self._replaying.cancel()

    def _on_replay(self, opened: OpenedShow, speed: float, start: str | None) -> None:
        """The old-show panel's replay button."""
        async def run() -> None:
            try:
                await self.replay(opened, speed, start)
                self.problems.pop("replay", None)
            except asyncio.CancelledError:
                pass
            except Exception as exc:  # said on the page; the show goes on
                self.problems["replay"] = f"replay: {type(exc).__name__}: {exc}"
            self._refresh()

        self._replay_button_task = asyncio.ensure_future(run())
