"""The console itself: :class:`Console` lays out the panels over the show and is the live-coding handle (``show``
in console.ipynb, docs/live-coding.md).

It composes a :class:`~exsampling.show_state.ShowState` (prompt, open/closed, mode), a
:class:`~exsampling.console.ownership.ShowOwnership` (who runs the show; the owner check) and a
:class:`~exsampling.console.store.MappingStore` (the mapping, its TOML file and the rules), links their traits
to the panels, and follows the library once a second.
"""
from __future__ import annotations

import os
import time
from collections.abc import MutableMapping
from pathlib import Path
from typing import Any

import ipywidgets as widgets
import traitlets
from tornado.ioloop import PeriodicCallback

from ..archive import OpenedShow
from ..config import Config
from ..pipeline import Pipeline, build
from ..records import Sample, StageAnswer
from ..replay import Summary
from ..show_state import ShowState
from ..stage import Answer, Stage
from .actions import PageActions
from .cards import Media, SoundsPanel
from .environment import (
    ENV_CONFIG,
    ENV_TILES,
    ENV_TOKEN,
    ENV_UPLOAD_PORT,
    config_path,
    current_kernel_id,
    load_page_config,
    native_stderr_to_log,
)
from .header import CSS, Header, RoleBanner, Warnings, stage_problems
from .kept import KeptShowPanel
from .ownership import Role, ShowOwnership
from .panels import LiveCodingPanel, MapPanel, MappingPanel, PromptPanel
from .replaying import Replayer
from .stage_line import RECENT_SAMPLES, StageAsking, answers_owed, instruments
from .store import MappingStore

#: How often every console follows the library, the config file and the owner, in milliseconds.
TICK_MS = 1000


class Console(PageActions, widgets.VBox):
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

    def __init__(self, cfg: Config, pipeline: Pipeline, *, config_file: Path | None = None,
                 upload_port: int | None = None, token: str | None = None, tiles: str = "", kernel_id: str = "",
                 preheated: bool = False, live_coding: bool = False) -> None:
        self.cfg, self.pipeline, self.library = cfg, pipeline, pipeline.library
        self.state = ShowState(cfg, self.library, token=token)
        self.stage = Stage.from_config(cfg, self.library, pipeline.sender)
        self.ownership = ShowOwnership(cfg, pipeline, self.state, kernel_id=kernel_id, preheated=preheated,
                                       live_coding=live_coding, stage=self.stage,
                                       upload_port=cfg.server.port if upload_port is None else upload_port)
        self.store = MappingStore(cfg, pipeline, Path(config_file or cfg.source or config_path()),
                                  guard=self.ownership.check)
        # the show's history names this console for what its show state and its pipeline do
        self.state.actor = pipeline.actor = f"console:{self.ownership.console_id[:8]}"
        self.problems: dict[str, str] = {}
        self._ticker: PeriodicCallback | None = None
        self._newest_id = 0

        self.header, self.banner, self.warnings = Header(), RoleBanner(), Warnings()
        self.asking = StageAsking(self.stage, self.ownership.check)
        self.sounds = SoundsPanel(self.library, Media(pipeline))
        self.map = MapPanel(tiles)
        self.prompt_panel = PromptPanel()
        self.mapping_panel = MappingPanel(pipeline.mapper.table, pipeline.mapper.melodic)
        self.live = LiveCodingPanel()
        self.kept = KeptShowPanel(self.store.config_file.parent)
        self.replayer = Replayer(pipeline, self.state, self.kept, self.ownership.check)

        widgets.dlink((self.ownership, "role"), (self, "frozen"), transform=lambda role: role != Role.OWNER)
        for panel in (self.header, self.sounds, self.prompt_panel, self.mapping_panel, self.kept):
            widgets.dlink((self, "frozen"), (panel, "frozen"))
        self.ownership.observe(self._on_role, "role")
        self.store.observe(self._on_table, "table_version")
        self.store.observe(self._on_rules, "rules_version")
        self.store.observe(self._on_saved, "saved_at")
        self.state.listeners.append(self._on_state)
        self.stage.listeners.append(self._on_stage_answer)
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
        super().__init__(children=[widgets.HTML(CSS), self.banner, self.header, self.warnings, self.asking, body,
                                   mapping_box])
        self.add_class("exs-console")
        self.mapping_panel.show_saved(self.store.config_file)
        self.reset()

    @classmethod
    def from_env(cls, environ: MutableMapping[str, str] | None = None) -> Console:
        """A console from the environment ``exsampling console`` sets (:mod:`exsampling.console.environment`); its
        model loads in the background once it runs (:meth:`start`; the header says how far it got)."""
        environ = os.environ if environ is None else environ
        path = config_path(environ.get(ENV_CONFIG) or None)
        cfg = load_page_config(path, environ)
        port = environ.get(ENV_UPLOAD_PORT)
        # TensorFlow's native start-up notices go to the kernel's log, not the page
        pipeline = build(cfg, wait=False, around=native_stderr_to_log)
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
        """Run: follow the library every second, take the show over (see :meth:`ShowOwnership.start`), then load
        the model in the background: the page and the phones need not wait for TensorFlow, and its import, which
        holds the interpreter for seconds, does not slow the console's own start."""
        self._ticker = PeriodicCallback(self.tick, TICK_MS)
        self._ticker.start()
        await self.ownership.start()
        self.pipeline.start_model()

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
                self.stage.follow()  # and the devices the owner hears
            self.problems.pop("console", None)
        except Exception as exc:  # the page must keep running and say what went wrong
            self.problems["console"] = f"console error: {type(exc).__name__}: {exc}"
        self._refresh()

    def _refresh(self) -> None:
        """Redraw the banner, the header and the warnings."""
        owner, recent, sender = self.state.owner, self.library.samples(limit=RECENT_SAMPLES), self.pipeline.sender
        # only the owner sends; another console says when the owner last sent a sound, from the library
        last_sent = (sender.last_sent if self.role == Role.OWNER and sender is not None
                     else max((s.stage.sent_at for s in recent if s.stage is not None), default=None))
        self.banner.show(self.role, owner, self.ownership.problems.get("server", ""))
        self.header.show(owner, self.role, self.library.counts(), sender, self.pipeline.model, self.stage.status(),
                         last_sent)
        self.warnings.show([*self.ownership.problems.values(), *self.store.problems.values(),
                            *self.problems.values(), *stage_problems(self.cfg, self.pipeline, self.library.root),
                            *answers_owed(recent, self.stage, time.time()), *self._lost_rules()])
        self.asking.show()

    def _rule_names(self) -> list[str]:
        return [getattr(rule, "__name__", repr(rule)) for rule in self.store.rules]

    def _lost_rules(self) -> list[str]:
        """The live-coded rules of the console this one took the show from that do not run here, said loudly: a
        rule is Python code in that console's kernel, which no other kernel can run (nor the library keep)."""
        before = self.ownership.predecessor
        if self.role != Role.OWNER or before is None:
            return []
        lost = [name for name in before.rules if name not in self._rule_names()]
        if not lost:
            return []
        where = "the live-coding notebook" if before.live_coding else "the console"
        return [f"Live-coded rule(s) {', '.join(lost)} ran in {where} that ran the show before and do NOT run "
                "here: the mapping table decides every sound now. A rule is code in that kernel; run its cell again "
                "in a notebook (after await show.take_over()) to bring it back."]

    # -- events ---------------------------------------------------------------------------------------

    def _on_role(self, change: dict[str, Any]) -> None:
        """A console that takes the show over shows it whole and tells the stage its names; every role change is
        said on the page."""
        if change["new"] == Role.OWNER:
            self.state.record_rules(self.ownership.console_id, self._rule_names())
            self._announce(force=True)
            self.reset()
        else:
            self._refresh()

    def _announce(self, force: bool = False) -> None:
        """Tell the devices every instrument name the show may send to, when they changed (owner only): the
        mapping's, and those live-coded rules gave to recent sounds."""
        if self.role == Role.OWNER:
            self.stage.announce(instruments(self.pipeline.mapper.instruments(),
                                            self.library.samples(limit=RECENT_SAMPLES)), force)

    def _on_stage_answer(self, answer: Answer, updated: StageAnswer | None) -> None:
        """The stage answered (stage listener, on the loop): the sample's card and the header at once."""
        if updated is not None:
            self.sounds.update(self.library.sample(updated.sample_id))
        self._refresh()

    def _on_state(self, state: ShowState) -> None:
        """The show's prompt, open/closed or mode changed (here, in live code or in the owner): mirror them."""
        self.prompt_panel.prompt, self.prompt_panel.is_open = state.prompt, state.is_open
        self.header.mode = state.mode

    def _on_table(self, _change: object = None) -> None:
        """The mapping changed (here, in live code or in the file): show it, and tell the stage a new name."""
        self.mapping_panel.show(self.pipeline.mapper.table, self.pipeline.mapper.melodic)
        self._announce()

    def _on_rules(self, _change: object) -> None:
        """A rule was added, removed or failed: list them, and note their names in the owner's record."""
        self.live.show(self.store.rules, self.store.failures)
        if self.role == Role.OWNER:
            self.state.record_rules(self.ownership.console_id, self._rule_names())
        self._refresh()

    def _on_saved(self, change: dict[str, Any]) -> None:
        """The mapping was saved: say when."""
        self.mapping_panel.show_saved(self.store.config_file, change["new"])

    def _on_sample(self, sample: Sample) -> None:
        """A sample arrived or changed (pipeline listener, on the loop): card, map, header at once; a rule's new
        instrument name is told to the stage."""
        self.sounds.update(sample)
        self.map.add(sample)
        self._newest_id = max(self._newest_id, sample.id)
        self.store.collect_failures()
        self._announce()
        self._refresh()

    # -- replaying an old show ----------------------------------------------------------------------

    async def replay(self, show: str | Path | OpenedShow, speed: float = 4.0, start: str | None = None) -> Summary:
        """Play an old show again into this one (``await show.replay("tonight.zip", speed=4)``): its recordings
        reach this console's chain at their pace ÷ ``speed`` as new sounds (source ``replay``) — cards, map and
        stage react as to the audience — and its prompts reach every phone. ``start``: see ``exsampling replay
        --from``. Returns the summary (also shown in the "Old shows" panel)."""
        return await self.replayer.replay(show, speed, start)

    def stop_replay(self) -> None:
        """Stop a running replay (recordings already sent are still processed)."""
        self.replayer.stop()

    def _on_replay(self, opened: OpenedShow, speed: float, start: str | None) -> None:
        """The old-show panel's replay button; an error is said on the page."""
        def report(problem: str | None) -> None:
            if problem is None:
                self.problems.pop("replay", None)
            else:
                self.problems["replay"] = problem
            self._refresh()

        self.replayer.start_from_button(opened, speed, start, report)
