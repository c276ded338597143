"""The console itself: :class:`Console` composes the panels over the pipeline, runs or follows the show, and is the
live-coding handle (``show`` in console.ipynb, docs/live-coding.md); :class:`LiveTable` is its ``show.mapping``.
"""
from __future__ import annotations

import asyncio
import html
import json
import os
import secrets
import shutil
import time
import uuid
from collections.abc import Callable, Iterator, MutableMapping
from dataclasses import replace
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import ipywidgets as widgets
import tornado.httpserver
import tornado.websocket
import traitlets
from tornado.ioloop import PeriodicCallback

from ..config import Config, ConfigError, load, save
from ..library import utc_now
from ..mapping import DEFAULT_MAPPING, LABELS, MappingError, check_instrument_name, check_mapping
from ..records import Sample
from .cards import POOL_SIZE, Media, SoundsPanel, clock
from .environment import ENV_CONFIG, ENV_TILES, ENV_TOKEN, ENV_UPLOAD_PORT, config_path, load_config
from .ownership import OWNER_KEY, alive, ask_to_release, current_kernel_id, native_stderr_to_log, serve_control
from .panels import Header, LiveCodingPanel, MapPanel, MappingPanel, PromptPanel, RoleBanner

#: How often every console follows the library, the config file and the owner, in milliseconds.
TICK_MS = 1000
#: The library setting holding auto/preview.
MODE_KEY = "show.mode"
#: Free space under which the library's disk is reported nearly full, in bytes (or 5 % of the disk).
LOW_DISK_BYTES = 2 * 2 ** 30
#: How long a new owner keeps trying to bind the upload port while the previous owner lets go, in seconds.
BIND_PATIENCE_S = 6.0

ROLES = ("starting", "owner", "standby", "viewer", "blocked")

CSS = """<style>
.exs-console { font-size: 14px; }
.exs-card { border: 1px solid #d9d9d9; border-radius: 6px; padding: 6px; background: #fff; }
.exs-card.exs-focus { box-shadow: 0 0 0 3px #ff9800; }
.exs-card.exs-rejected { opacity: 0.55; }
.exs-card .widget-button { width: auto; }
.exs-badge { display: inline-block; padding: 0 6px; border-radius: 8px; font-size: 12px; background: #eee; }
.exs-unsure { background: #fff3cd; color: #7a5b00; }
.exs-sent { background: #d4edda; color: #155724; }
.exs-new { background: #cce5ff; color: #004085; }
.exs-rejected-badge { background: #f8d7da; color: #721c24; }
.exs-url { font-size: 22px; font-weight: 600; word-break: break-all; }
.exs-warn { background: #fdecea; color: #b71c1c; padding: 4px 8px; border-radius: 4px; margin: 2px 0; }
.exs-banner { background: #fff3cd; color: #533f03; padding: 8px 12px; border-radius: 4px; font-size: 16px; }
.exs-ready { color: #1b5e20; font-weight: 600; }
.exs-map .leaflet-container, .exs-map.leaflet-container { background: #f4f1e8 !important; }
.exs-small { color: #666; font-size: 12px; }
</style>"""


class LiveTable(MutableMapping):
    """``show.mapping`` and ``show.melodic``: the mapper's own dict, where a write also updates the widgets and
    is saved to the TOML file; deleting a label restores the paper's default (every label keeps a track)."""

    def __init__(self, data: dict, write: Callable[[str, Any], None], reset: Callable[[str], None]) -> None:
        self._data, self._write, self._reset = data, write, reset

    def __getitem__(self, key: str) -> Any:
        return self._data[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self._write(key, value)

    def __delitem__(self, key: str) -> None:
        self._reset(key)

    def __iter__(self) -> Iterator[str]:
        return iter(dict(self._data))

    def __len__(self) -> int:
        return len(self._data)

    def __repr__(self) -> str:
        return repr(self._data)


class Console(widgets.VBox):
    """The performer's console and the live-coding handle (``show`` in console.ipynb).

    Parameters
    ----------
    cfg : Config — the running configuration (its ``source`` is where mapping edits are saved).
    pipeline : Pipeline — the chain; the console adds itself to its listeners.
    config_file : Path — the TOML file watched and written (see :func:`config_path`).
    upload_port : int or None — the upload server's port (None: ``[server] port``).
    token : str or None — the show token (see :class:`exsampling.server.Show`).
    tiles : str — a map tile URL template; "" for no tiles.
    kernel_id : str — this kernel's id, recorded so Voilà's kernel manager never stops the owner.
    preheated : bool — a Voilà pool kernel: wait for a page before taking over (unless nobody runs the show).
    live_coding : bool — a notebook console (JupyterLab) rather than a Voilà page: Voilà pages opened while it
        runs the show do not take over by themselves, so a reload of the Voilà tab never drops live-coded rules.

    Live coding: ``mapping``, ``melodic``, ``rule``, ``remove_rule``, ``rules``, ``mode``, ``prompt``,
    ``is_open``, ``accept``/``reject``/``resend``/``relabel``, ``samples``, ``take_over`` (docs/live-coding.md).
    """

    role = traitlets.Enum(ROLES, default_value="starting", help="what this console does in the show")
    mode = traitlets.Unicode("auto", help="'auto' or 'preview'")
    frozen = traitlets.Bool(True, help="read-only (every role but 'owner')")

    def __init__(self, cfg: Config, pipeline: Any, *, config_file: Path | None = None, upload_port: int | None = None,
                 token: str | None = None, tiles: str = "", kernel_id: str = "", preheated: bool = False,
                 live_coding: bool = False) -> None:
        from ..server import Show

        self.cfg, self.pipeline, self.library = cfg, pipeline, pipeline.library
        self.config_file = Path(config_file or cfg.source or config_path())
        self.upload_port = cfg.server.port if upload_port is None else upload_port
        self.console_id, self.kernel_id, self.preheated = uuid.uuid4().hex, kernel_id, preheated
        self.live_coding = live_coding
        self._token = token
        self.state = Show(cfg, self.library, token=token)
        self.server = None
        self._control: tornado.httpserver.HTTPServer | None = None
        self._secret = secrets.token_urlsafe(16)
        self._ticker: PeriodicCallback | None = None
        self._taking_over = False
        self._problems: dict[str, str] = {}
        self._failures: dict[str, tuple[int, str, float]] = {}
        self._failures_seen = len(pipeline.rule_failures)
        self._newest_id = 0
        self._config_stamp = self._stamp()
        self.media = Media(pipeline)

        self.header = Header()
        self.banner = RoleBanner()
        self.warnings = widgets.HTML()
        self.sounds = SoundsPanel(self.library, self.media)
        self.map = MapPanel(tiles)
        self.prompt_panel = PromptPanel()
        self.mapping_panel = MappingPanel(pipeline.mapper.table, pipeline.mapper.melodic)
        self.live = LiveCodingPanel()
        self.mapping = LiveTable(pipeline.mapper.table, self.set_instrument, self._reset_instrument)
        self.melodic = LiveTable(pipeline.mapper.melodic, self.set_melodic, self._refuse_delete)

        for panel in (self.header, self.sounds, self.prompt_panel, self.mapping_panel):
            widgets.dlink((self, "frozen"), (panel, "frozen"))
        widgets.link((self, "mode"), (self.header, "mode"))
        self.sounds.on_action(self._on_action)
        self.map.on_select(self.sounds.show_sample)
        self.mapping_panel.on_edit(self._on_mapping_edit)
        self.banner.take_over.on_click(self._on_take_over)
        self.prompt_panel.observe(self._on_prompt, ["prompt", "is_open"])
        pipeline.listeners.append(self._on_sample)

        mapping_box = widgets.Accordion(children=[self.mapping_panel], titles=("Mapping: class → instrument",))
        mapping_box.add_class("exs-mapping")
        side = widgets.VBox([self.map, self.prompt_panel, self.live], layout=widgets.Layout(flex="1 1 36%"))
        body = widgets.HBox([widgets.Box([self.sounds], layout=widgets.Layout(flex="1 1 64%", margin="0 16px 0 0")),
                             side], layout=widgets.Layout(width="100%"))
        super().__init__(children=[widgets.HTML(CSS), self.banner, self.header, self.warnings, body, mapping_box])
        self.add_class("exs-console")
        self.mode = self.library.setting(MODE_KEY, cfg.show.mode)
        created = "" if self.config_file.exists() else " (created on the first edit)"
        self.mapping_panel.saved.value = (f"<span class='exs-small'>Edits apply to the next sound and are saved to "
                                          f"{html.escape(str(self.config_file))}{created}.</span>")
        self.reset()
        self._refresh_banner()

    # -- building ------------------------------------------------------------------------------------

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

    def reset(self) -> None:
        """Show the whole show again from the library (every panel re-reads it)."""
        samples = self.library.samples()
        self._newest_id = samples[0].id if samples else 0
        self.sounds.reset()
        self.map.reset(samples)
        self.prompt_panel.prompt = self.state.prompt
        self.prompt_panel.is_open = self.state.is_open
        self._refresh_header()

    async def start(self) -> None:
        """Run: follow the library every second, and take the show over now — or, for a pre-heated kernel that
        somebody else's console already runs, once a page is served from this kernel."""
        self._ticker = PeriodicCallback(self.tick, TICK_MS)
        self._ticker.start()
        owner = self._live_owner()
        if self.preheated and owner is not None:
            self.role = "standby"
            asyncio.ensure_future(self._wait_for_page())
        elif self._defers_to(owner):
            self.role = "viewer"
        else:
            await self.take_over()

    def _defers_to(self, owner: dict | None) -> bool:
        """Whether a page opening now leaves the show to ``owner``: only a live-coding notebook keeps it."""
        return owner is not None and bool(owner.get("live_coding")) and not self.live_coding

    def close(self) -> None:
        """Stop following and serving; the show's record is cleared if this console owned it."""
        if self._ticker is not None:
            self._ticker.stop()
        if self.role == "owner" and (self.library.setting(OWNER_KEY) or {}).get("console") == self.console_id:
            self.library.set_setting(OWNER_KEY, None)
        self._stop_serving()
        if self._on_sample in self.pipeline.listeners:
            self.pipeline.listeners.remove(self._on_sample)

    # -- ownership -----------------------------------------------------------------------------------

    async def take_over(self) -> bool:
        """Run the show from this console: ask the current owner to let go, then listen for uploads here.

        Returns True when this console now owns the show. When the port stays taken, the console stays
        read-only ("viewer" if another console holds it, "blocked" if another program does).
        """
        if self.role == "owner" or self._taking_over:
            return self.role == "owner"
        self._taking_over = True
        try:
            owner = self._live_owner()
            if owner is not None:
                await ask_to_release(owner)
            # the show's state as the previous owner left it (Show keeps prompt and open/closed in memory)
            self.state = type(self.state)(self.cfg, self.library, token=self._token)
            self.server = await self._listen()
            if self.server is None:
                self.role = "viewer" if self._live_owner() is not None else "blocked"
                return False
            self.state.listeners.append(self._on_show_state)
            self.mode = self.library.setting(MODE_KEY, self.mode)
            self.pipeline.mode = self.mode
            self._control, control_port = serve_control(self._secret, self.release)
            self.library.set_setting(OWNER_KEY, {
                "console": self.console_id, "kernel": self.kernel_id, "pid": os.getpid(),
                "control_port": control_port, "secret": self._secret, "since": utc_now(), "started": time.time(),
                "live_coding": self.live_coding,
                "upload_port": self.server.port, "urls": self.server.urls, "recorder_url": self.server.recorder_url,
                "map_url": self.server.map_url})
            self.role = "owner"
            self.reset()
            return True
        finally:
            self._taking_over = False

    def release(self) -> None:
        """Let a newer console run the show: stop listening; this console turns read-only (and stays live)."""
        self._stop_serving()
        self.role = "viewer"

    def _live_owner(self) -> dict | None:
        record = self.library.setting(OWNER_KEY)
        if not record or record.get("console") == self.console_id or not alive(record.get("pid", 0)):
            return None
        return record

    async def _listen(self) -> Any:
        """Start the upload server, waiting a little while a previous owner lets go of the port."""
        from ..server import CertificateError, PortInUse, TunnelError, start

        deadline, kwargs = time.monotonic() + BIND_PATIENCE_S, {}
        self._problems.pop("server", None)
        while True:
            try:
                return await start(self.cfg, self.pipeline, self.state, port=self.upload_port, **kwargs)
            except PortInUse as exc:
                if time.monotonic() > deadline:
                    self._problems["server"] = f"Uploads are not received here: {exc}"
                    return None
                await asyncio.sleep(0.2)
            except TunnelError as exc:
                self._problems["tunnel"] = str(exc)
                kwargs["tunnel"] = False
            except CertificateError as exc:
                self._problems["tls"] = f"{exc}. Only this machine can reach the recorder."
                kwargs["host"] = "127.0.0.1"
            except OSError as exc:
                self._problems["server"] = f"Uploads are not received here: {exc}"
                return None

    def _stop_serving(self) -> None:
        if self.server is not None:
            self.server.stop()
            self.server = None
        if self._control is not None:
            control, self._control = self._control, None
            try:  # stop after the handover answer has been written
                asyncio.get_running_loop().call_later(0.5, control.stop)
            except RuntimeError:  # no loop running (closing from plain code)
                control.stop()
        if self._on_show_state in self.state.listeners:
            self.state.listeners.remove(self._on_show_state)

    async def _wait_for_page(self) -> None:
        """A pre-heated kernel learns from Voilà when a page is served from it; then it runs the show (unless
        the page asked for ``?view``)."""
        port, base = os.environ.get("VOILA_APP_PORT", "8866"), os.environ.get("VOILA_SERVER_URL", "/")
        url = f"ws://127.0.0.1:{port}{base}voila/query/{self.kernel_id}"
        try:
            connection = await tornado.websocket.websocket_connect(url)
            message = await connection.read_message()
            connection.close()
        except Exception as exc:  # any failure: stand by rather than take the show from the performer's page
            self._problems["standby"] = f"this standby console cannot hear from Voilà ({exc})"
            return
        if message is None:
            return
        query = parse_qs(json.loads(message).get("QUERY_STRING", ""), keep_blank_values=True)
        if "view" in query or self._defers_to(self._live_owner()):
            self.role = "viewer"
        elif self.role != "owner":
            await self.take_over()

    @traitlets.observe("role")
    def _on_role(self, change: dict) -> None:
        """Freeze the page unless it runs the show, and say so."""
        self.frozen = change["new"] != "owner"
        self._refresh_banner()
        self._refresh_header()

    def _refresh_banner(self) -> None:
        record = self.library.setting(OWNER_KEY) or {}
        since = clock(record.get("since")) if record else ""
        where = "a notebook (live coding)" if record.get("live_coding") else "another tab"
        messages = {
            "owner": ("", False),
            "starting": ("Starting the show…", False),
            "standby": ("Standing by: another console runs the show.", True),
            "viewer": (f"<b>Read-only.</b> The show is run from {where} since {since}; this page follows it live.",
                       True),
            "blocked": (f"<b>Read-only.</b> {html.escape(self._problems.get('server', 'The upload port is taken.'))}",
                        True),
        }
        self.banner.show(*messages[self.role])

    # -- following the show ---------------------------------------------------------------------------

    def tick(self) -> None:
        """Once a second: follow the config file, the library and the owner; refresh the header."""
        try:
            self._follow_config()
            self._follow_library()
            if self.role != "owner":
                self._follow_owner()
            self._problems.pop("console", None)
        except Exception as exc:  # the page must keep running and say what went wrong
            self._problems["console"] = f"console error: {type(exc).__name__}: {exc}"
        self._refresh_header()

    def _follow_library(self) -> None:
        """Pick up sounds stored by anyone (another console, the CLI) and statuses changed elsewhere."""
        newest = self.library.samples(limit=1)
        if newest and newest[0].id > self._newest_id:
            fresh = [s for s in self.library.samples(limit=200) if s.id > self._newest_id]
            self._newest_id = fresh[0].id
            for sample in reversed(fresh):
                self.map.add(sample)
                self.sounds.update(sample)
        self.sounds.refresh()
        self._collect_failures()

    def _follow_owner(self) -> None:
        """A read-only console mirrors the owner's settings, and takes over if the owner's process died."""
        self.mode = self.library.setting(MODE_KEY, self.mode)
        self.prompt_panel.prompt = self.library.setting("show.prompt", self.prompt_panel.prompt)
        self.prompt_panel.is_open = self.library.setting("show.open", self.prompt_panel.is_open)
        self._refresh_banner()
        if self.role in ("viewer", "standby") and self._live_owner() is None and not self._taking_over:
            asyncio.ensure_future(self.take_over())

    def _stamp(self) -> int | None:
        try:
            return self.config_file.stat().st_mtime_ns
        except OSError:
            return None

    def _follow_config(self) -> None:
        """An edit of the TOML file on disk shows up in the widgets and applies to the next sample."""
        stamp = self._stamp()
        if stamp == self._config_stamp:
            return
        self._config_stamp = stamp
        if stamp is None:
            return
        try:
            cfg = load(self.config_file)
        except ConfigError as exc:
            self._problems["config"] = f"{exc} — the mapping in use is unchanged until the file is fixed"
            return
        self._problems.pop("config", None)
        self._apply_mapping(cfg.mapping, cfg.melodic)

    def _apply_mapping(self, table: dict[str, str], melodic: dict[str, bool]) -> None:
        """Change the mapper's dicts key by key (the worker thread may be reading them), then the widgets."""
        mapper = self.pipeline.mapper
        mapper.melodic.update(melodic)
        mapper.table.update(table)
        for name in set(mapper.melodic) - set(melodic):
            del mapper.melodic[name]
        self.mapping_panel.show(mapper.table, mapper.melodic)

    def _collect_failures(self) -> None:
        failures = self.pipeline.rule_failures
        for failure in failures[self._failures_seen:]:
            count = self._failures.get(failure.rule, (0, "", 0.0))[0]
            self._failures[failure.rule] = (count + 1, failure.error, time.time())
        if len(failures) != self._failures_seen:
            self._failures_seen = len(failures)
            self.live.show(self.pipeline.mapper.rules, self._failures)

    def _refresh_header(self) -> None:
        self.header.show(self.library.setting(OWNER_KEY) or {}, self.role, self.library.counts(), self.pipeline.sender,
                         getattr(self.pipeline.classifier, "info", None))
        self.warnings.value = "".join(f"<div class='exs-warn'>⚠ {html.escape(p)}</div>" for p in self._warnings())

    def _warnings(self) -> list[str]:
        problems = list(self._problems.values())
        sender = self.pipeline.sender
        if sender is not None and sender.last_error:
            problems.append(f"OSC unreachable: {sender.last_error}")
        if self.pipeline.classifier is None:
            problems.append(f"No model at {self.cfg.resolve(self.cfg.classifier.model)}: sounds are kept and pitched "
                            "but get no class and never reach the stage (docs/training.md)")
        disk = shutil.disk_usage(self.library.root)
        if disk.free < min(LOW_DISK_BYTES, 0.05 * disk.total) or disk.free < 2 ** 28:
            problems.append(f"Disk nearly full: {disk.free / 2 ** 30:.1f} GiB free for the library at "
                            f"{self.library.root}")
        return problems

    # -- events ---------------------------------------------------------------------------------------

    def _on_sample(self, sample: Sample) -> None:
        """A sample arrived or changed (pipeline listener, on the loop): card, map, header at once."""
        self.sounds.update(sample)
        self.map.add(sample)
        self._newest_id = max(self._newest_id, sample.id)
        self._collect_failures()
        self._refresh_header()

    def _on_action(self, action: str, sample_id: int, *args: Any) -> None:
        """A card's button: accept, reject, resend or relabel through the pipeline."""
        try:
            getattr(self, action)(sample_id, *args)
            self._problems.pop("action", None)
        except Exception as exc:  # e.g. the sample's file vanished: say so, keep the page alive
            self._problems["action"] = f"{action} #{sample_id} failed: {type(exc).__name__}: {exc}"
        self._refresh_header()

    def _on_take_over(self, _button: widgets.Button) -> None:
        """Run the show from this page."""
        asyncio.ensure_future(self.take_over())

    def _on_prompt(self, change: dict) -> None:
        """Publish the prompt or the open/closed state to every recorder page."""
        if self.frozen:
            return
        try:
            setattr(self.state, change["name"], change["new"])
            self._problems.pop("prompt", None)
        except ValueError as exc:
            self._problems["prompt"] = str(exc)
            self._refresh_header()

    def _on_show_state(self, state: Any) -> None:
        """The show's state changed (e.g. from live code): mirror it in the prompt panel."""
        self.prompt_panel.prompt, self.prompt_panel.is_open = state.prompt, state.is_open

    def _on_mapping_edit(self, kind: str, key: str, value: Any) -> None:
        """A mapping widget was edited."""
        try:
            {"mapping": self.set_instrument, "melodic": self.set_melodic, "instrument": self.set_melodic}[kind](
                key, value)
            self._problems.pop("mapping", None)
        except (MappingError, KeyError, ValueError) as exc:
            self._problems["mapping"] = str(exc)
            self.mapping_panel.show(self.pipeline.mapper.table, self.pipeline.mapper.melodic)
        self._refresh_header()

    @traitlets.validate("mode")
    def _valid_mode(self, proposal: dict) -> str:
        if proposal["value"] not in ("auto", "preview"):
            raise traitlets.TraitError(f"mode {proposal['value']!r} must be 'auto' or 'preview'")
        return proposal["value"]

    @traitlets.observe("mode")
    def _on_mode(self, change: dict) -> None:
        """Switch auto-accept/preview for the next sample, and keep the choice in the library."""
        if self.role == "owner" or self.role == "starting":
            self.pipeline.mode = change["new"]
            if self.library.setting(MODE_KEY) != change["new"]:
                self.library.set_setting(MODE_KEY, change["new"])

    # -- the live-coding API --------------------------------------------------------------------------

    def set_instrument(self, label: str, instrument: str) -> None:
        """Map ``label`` to ``instrument`` from the next sample on; a new instrument starts percussive."""
        if label not in LABELS:
            raise KeyError(f"unknown label {label!r}; labels are the 41 FSDKaggle2018 names, e.g. 'Bark'")
        check_instrument_name(instrument)
        if instrument not in self.pipeline.mapper.melodic:
            self.pipeline.mapper.melodic[instrument] = False
        self.pipeline.mapper.table[label] = instrument
        self._mapping_changed()

    def set_melodic(self, instrument: str, melodic: bool) -> None:
        """Play ``instrument`` melodically (transposed to the note) or percussively; adds it if new."""
        check_instrument_name(instrument)
        self.pipeline.mapper.melodic[instrument] = bool(melodic)
        self._mapping_changed()

    def _reset_instrument(self, label: str) -> None:
        self.set_instrument(label, DEFAULT_MAPPING[label])

    @staticmethod
    def _refuse_delete(instrument: str) -> None:
        raise MappingError(f"a track's playing rule cannot be deleted; set show.melodic[{instrument!r}] = True/False")

    def _mapping_changed(self) -> None:
        self.mapping_panel.show(self.pipeline.mapper.table, self.pipeline.mapper.melodic)
        self.save_mapping()

    def save_mapping(self) -> Path:
        """Write the mapping in use to the config file and return its path.

        The file's other settings are kept as the file has them (the performer may have edited them); a new
        file gets the running configuration.
        """
        mapper = self.pipeline.mapper
        check_mapping(mapper.table, mapper.melodic)
        base = load(self.config_file) if self.config_file.exists() else self.cfg  # keep the file's other settings
        path = save(replace(base, mapping=dict(mapper.table), melodic=dict(mapper.melodic)), self.config_file)
        self._config_stamp = self._stamp()
        self.mapping_panel.saved.value = f"<span class='exs-small'>saved to {html.escape(str(path))} at " \
                                         f"{clock(time.time())}</span>"
        return path

    def rule(self, fn: Callable[[Sample], str | None]) -> Callable[[Sample], str | None]:
        """Decorator: ``fn(sample) -> instrument or None`` runs before the table for every new sample.

        A rule with the same name as an earlier one replaces it (re-running a cell must not stack copies).
        A rule that raises is skipped and reported on the page; None defers to the next rule, then the table.
        """
        self.remove_rule(getattr(fn, "__name__", fn))
        self.pipeline.mapper.add_rule(fn)
        self.live.show(self.pipeline.mapper.rules, self._failures)
        return fn

    def remove_rule(self, fn_or_name: Callable | str) -> None:
        """Forget a rule, given the function or its name."""
        for rule in list(self.pipeline.mapper.rules):
            if rule is fn_or_name or getattr(rule, "__name__", None) == fn_or_name:
                self.pipeline.mapper.remove_rule(rule)
        self._failures.pop(getattr(fn_or_name, "__name__", fn_or_name), None)
        self.live.show(self.pipeline.mapper.rules, self._failures)

    @property
    def rules(self) -> list[Callable]:
        """The live rules, in the order they run."""
        return list(self.pipeline.mapper.rules)

    @property
    def prompt(self) -> str:
        """What every recorder page asks for (≤ 280 characters); "" for none."""
        return self.state.prompt

    @prompt.setter
    def prompt(self, text: str) -> None:
        self._require_owner()
        self.state.prompt = text
        self.prompt_panel.prompt = self.state.prompt

    @property
    def is_open(self) -> bool:
        """Whether uploads are taken."""
        return self.state.is_open

    @is_open.setter
    def is_open(self, value: bool) -> None:
        self._require_owner()
        self.state.is_open = value
        self.prompt_panel.is_open = self.state.is_open

    def samples(self, limit: int = POOL_SIZE) -> list[Sample]:
        """The newest ``limit`` samples, newest first."""
        return self.library.samples(limit=limit)

    def _require_owner(self) -> None:
        if self.role != "owner":
            raise RuntimeError("this console is read-only: another one runs the show "
                               "(await show.take_over() to run it here)")

    def _act(self, name: str, sample_id: int, *args: Any) -> Sample:
        self._require_owner()
        return getattr(self.pipeline, name)(sample_id, *args)

    def accept(self, sample_id: int) -> Sample:
        """Send a sample to the stage."""
        return self._act("accept", sample_id)

    def reject(self, sample_id: int) -> Sample:
        """Keep a sample off the stage (withdrawn if it was sent)."""
        return self._act("reject", sample_id)

    def resend(self, sample_id: int) -> Sample:
        """Send a sample again."""
        return self._act("resend", sample_id)

    def relabel(self, sample_id: int, label: str) -> Sample:
        """Give a sample your label (kept in the library, remembered for similar sounds)."""
        return self._act("relabel", sample_id, label)
