"""The show's state — token, prompt, open/closed, mode and who runs it — kept in the library's settings.

The upload server (what phones see), every console (what the performer sees and live-codes) and the
``exsampling console`` command read and write the show only through this module, so a kernel restart, a second
console or another process finds the same show. Every key of the library's settings lives here, with
``EXPORTED_SETTINGS``: which of them a show's zip keeps (the show), and so which stay on this machine (its secrets,
its processes and network).

API
---
``ShowState(cfg, library, token=None, actor="")``
    the running show. ``token`` (read-only), ``prompt``, ``is_open`` and ``mode`` are typed properties: the
    setters validate (``ValueError`` naming the value), persist, and call every ``listeners`` entry ``f(state)``
    when the value changed. ``refresh()`` re-reads what another process changed and notifies the same way (a
    read-only console follows the owner with it). ``owner`` / ``claim(record)`` / ``let_go(console_id)`` are
    the owner's record.
``OwnerRecord``
    which console runs the show: its process, kernel, private control port and secret, and the recorder URLs it
    serves. ``alive`` says whether its process still exists.
``read_owner(library)``
    the owner's record without a ``ShowState`` (no token is made or written): for Voilà's kernel manager and the
    ``exsampling console`` command.
``*_KEY``, ``EXPORTED_SETTINGS``
    the settings' keys (the tunnel's, the stage's and the archive's too), and the ones a show's zip keeps.
"""
from __future__ import annotations

import os
import secrets
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

from .config import Config, Mode
from .library import Library

#: Longest performer prompt, in characters (a phone shows it whole).
MAX_PROMPT_CHARS = 280

TOKEN_KEY = "show.token"
PROMPT_KEY = "show.prompt"
OPEN_KEY = "show.open"
MODE_KEY = "show.mode"
OWNER_KEY = "console.owner"
#: The show's ngrok tunnel (:mod:`exsampling.server.tunnel`): its public URL, its agent's API address and pid.
TUNNEL_KEY = "show.tunnel"
#: The stage devices heard and when (:mod:`exsampling.stage`), so a console that takes the show over (a reload, a
#: restart) or only views it knows who was there.
DEVICES_KEY = "stage.devices"
#: The addresses the performer accepted stage answers from (besides loopback and ``[osc]``'s stage hosts), so a
#: reload or a restart keeps trusting them.
ACCEPTED_KEY = "stage.accepted"
#: The audio an import did not get (left out with ``--no-audio-over``; :mod:`exsampling.archive`).
OMITTED_KEY = "archive.omitted"

#: The settings that are the show itself, the only ones an export writes and an import takes from a zip. Every
#: other key is a secret or this machine's: the token (a zip must not hand out, or plant, the key to uploads), the
#: owner console's record (process, kernel, control port and secret), the tunnel (public URL, agent address,
#: pid), the stage's addresses heard and trusted on this network; and ``archive.omitted``, which the manifest
#: carries. A key added later stays home until it is named here (docs/shows.md).
EXPORTED_SETTINGS = frozenset({PROMPT_KEY, OPEN_KEY, MODE_KEY})

Listener = Callable[["ShowState"], None]


@dataclass(frozen=True)
class OwnerRecord:
    """The console that runs the show (see :mod:`exsampling.console.ownership`).

    console: the console's id; kernel: its Jupyter kernel id ("" outside a kernel); pid: its process.
    control_port/secret: where and how a newer console asks it to let go (127.0.0.1 only).
    since: ISO 8601 UTC time it took the show; started: the same as POSIX seconds.
    live_coding: run from a notebook (JupyterLab) rather than a Voilà page.
    upload_port, urls, recorder_url, map_url, tunnel: what its upload server serves, and its line on the tunnel
    (see :class:`exsampling.server.Server`).
    rules: the names of its live-coded rules (code in its kernel: a console that takes over cannot run them, and
    says so).
    interim: the ``exsampling console`` command itself, storing what phones send while the console's kernel starts
    (:mod:`exsampling.console.interim`): any console takes the show from it at once.
    """

    console: str
    pid: int
    kernel: str = ""
    control_port: int = 0
    secret: str = ""
    since: str = ""
    started: float = 0.0
    live_coding: bool = False
    upload_port: int = 0
    urls: dict[str, str] = field(default_factory=dict)
    recorder_url: str = ""
    map_url: str = ""
    tunnel: str = ""
    rules: list[str] = field(default_factory=list)
    interim: bool = False

    @classmethod
    def from_json(cls, value: Any) -> OwnerRecord | None:
        """The record stored as JSON (unknown keys ignored, missing ones defaulted); None for none or a bad one."""
        if not isinstance(value, dict) or "console" not in value:
            return None
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in value.items() if k in known})

    @property
    def alive(self) -> bool:
        """Whether its process exists (the record outlives a crashed kernel)."""
        if self.pid <= 0:  # 0 and -1 would ask about process groups
            return False
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True


def _is_mode(value: Any) -> bool:
    return isinstance(value, str) and value in {m.value for m in Mode}


def read_owner(library: Library) -> OwnerRecord | None:
    """The record of the console that runs the show in ``library``, or None (it may be dead: see ``alive``)."""
    return OwnerRecord.from_json(library.setting(OWNER_KEY))


class ShowState:
    """The show's mutable public state, persisted in ``library`` so a restart or another console keeps it.

    Parameters
    ----------
    cfg : Config — ``[show] prompt``/``open``/``mode`` are the first-run values, ``[server] token`` the token.
    library : Library — where the state is kept.
    token : str or None — the show token participants' links carry; None takes ``[server] token``, else the
        one persisted by an earlier show, else a new random ``secrets.token_urlsafe(8)``. The token in use is
        persisted, so printed QR codes stay valid across restarts.
    actor : str — who changes the show through this object, as the library's history names it; a change of
        the prompt or of open/closed is recorded there (``prompt``, ``opened``, ``closed``) with the setting.
    """

    def __init__(self, cfg: Config, library: Library, token: str | None = None, actor: str = "") -> None:
        self.library = library
        self.actor = actor
        self._defaults = cfg.show
        self._fixed_token = token or cfg.server.token or None
        self.listeners: list[Listener] = []
        self._token = self._resolve_token()
        self._prompt, self._open, self._mode = self._read()

    def _resolve_token(self) -> str:
        token = self._fixed_token or self.library.setting(TOKEN_KEY) or secrets.token_urlsafe(8)
        if self.library.setting(TOKEN_KEY) != token:
            self.library.set_setting(TOKEN_KEY, token)
        return str(token)

    def _read(self) -> tuple[str, bool, Mode]:
        d = self._defaults
        mode = self.library.setting(MODE_KEY, str(d.mode))
        return (str(self.library.setting(PROMPT_KEY, d.prompt)), bool(self.library.setting(OPEN_KEY, d.open)),
                Mode(mode) if _is_mode(mode) else Mode(d.mode))

    def refresh(self) -> None:
        """Re-read the state another process may have changed; listeners hear of any change."""
        if self._fixed_token is None:
            self._token = self._resolve_token()
        fresh = self._read()
        if fresh != (self._prompt, self._open, self._mode):
            self._prompt, self._open, self._mode = fresh
            self._notify()

    @property
    def token(self) -> str:
        """The show token every recorder link carries."""
        return self._token

    @property
    def prompt(self) -> str:
        """What the performer asks participants to record (shown on every phone), ≤ 280 characters; "" for none."""
        return self._prompt

    @prompt.setter
    def prompt(self, text: str) -> None:
        text = str(text).strip()
        if len(text) > MAX_PROMPT_CHARS:
            raise ValueError(f"the prompt is {len(text)} characters long; at most {MAX_PROMPT_CHARS} fit a phone")
        self._store(PROMPT_KEY, "_prompt", text)

    @property
    def is_open(self) -> bool:
        """Whether uploads are taken; a closed show refuses them with 409 ``show_closed``."""
        return self._open

    @is_open.setter
    def is_open(self, value: bool) -> None:
        self._store(OPEN_KEY, "_open", bool(value))

    @property
    def mode(self) -> Mode:
        """``auto`` (every sample straight to the stage) or ``preview`` (the performer accepts each)."""
        return self._mode

    @mode.setter
    def mode(self, value: Mode | str) -> None:
        if not _is_mode(value):
            raise ValueError(f"mode {value!r} must be one of {[str(m) for m in Mode]}")
        self._store(MODE_KEY, "_mode", Mode(value))

    def _store(self, key: str, attribute: str, value: Any) -> None:
        if getattr(self, attribute) == value:
            return
        told: dict[str, list[tuple[str, dict[str, Any]]]] = {
            PROMPT_KEY: [("prompt", {"text": value})], OPEN_KEY: [("opened" if value else "closed", {})]}
        self.library.set_setting(key, value, events=told.get(key, []), actor=self.actor)
        setattr(self, attribute, value)
        self._notify()

    def _notify(self) -> None:
        for listener in list(self.listeners):
            listener(self)

    # -- who runs the show --------------------------------------------------------------------------

    @property
    def owner(self) -> OwnerRecord | None:
        """The console that runs the show, as last recorded (see :attr:`OwnerRecord.alive`)."""
        return read_owner(self.library)

    def claim(self, record: OwnerRecord) -> None:
        """Record ``record``'s console as the one that runs the show."""
        self.library.set_setting(OWNER_KEY, asdict(record))

    def record_rules(self, console_id: str, names: list[str]) -> None:
        """Note the live-coded rules of ``console_id``'s console in the owner's record, if it still runs the show."""
        owner = self.owner
        if owner is not None and owner.console == console_id and owner.rules != names:
            self.claim(replace(owner, rules=list(names)))

    def let_go(self, console_id: str) -> None:
        """Clear the owner's record if it still names ``console_id`` (a newer owner's record is kept)."""
        owner = self.owner
        if owner is not None and owner.console == console_id:
            self.library.set_setting(OWNER_KEY, None)
