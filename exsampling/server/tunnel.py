"""The show's one ngrok tunnel: opened once, reused by every console that takes the show over, closed at the end.

ngrok lets a free account run one agent at a time, and the tunnel's URL is what the projected QR code holds:
so the tunnel belongs to the show (its record is a library setting), not to the process serving uploads.
A console that takes over, or a reloaded page's new kernel, finds the agent still running and its tunnel
still pointing at the upload port, and reuses it. The agent runs in its own session with its log in a file,
so it outlives the process that started it; :meth:`ShowTunnel.close` stops it when the show ends.

:class:`Agent` is everything the show needs from ngrok; :class:`NgrokAgent` is the real one (pyngrok installs
the binary; the agent is then driven through its local HTTP API).
"""
from __future__ import annotations

import contextlib
import io
import json
import os
import signal
import subprocess
import time
import urllib.request
from pathlib import Path
from typing import Any, Protocol

import psutil

from ..show_state import TUNNEL_KEY

#: The name the tunnel has in the agent's API.
TUNNEL_NAME = "exsampling"


class TunnelError(OSError):
    """The ngrok tunnel could not be opened (no binary, no network, bad token, …)."""


def ngrok_token(configured: str) -> tuple[str, str]:
    """The ngrok auth token and where it came from: ``configured`` (``[server] ngrok_token``), else the
    ``NGROK_AUTHTOKEN`` environment variable; ``("", "")`` when neither has one."""
    if configured:
        return configured, "[server] ngrok_token"
    from_env = os.environ.get("NGROK_AUTHTOKEN", "")
    return (from_env, "NGROK_AUTHTOKEN") if from_env else ("", "")


class Agent(Protocol):
    """What a show needs from a tunnel agent. A record is a JSON-able dict the agent makes in :meth:`open`."""

    def open(self, addr: str, auth_token: str, domain: str) -> dict[str, Any]:
        """Start an agent and open an HTTPS tunnel to ``addr``; the record has at least ``public_url``.
        Raises :class:`TunnelError`."""

    def find(self, record: dict[str, Any]) -> str | None:
        """The public URL of the tunnel ``record`` describes, if its agent still runs it; else None."""

    def close(self, record: dict[str, Any]) -> None:
        """Close the tunnel and stop its agent (nothing happens if they are gone already)."""


class ShowTunnel:
    """The show's tunnel, kept in ``library`` under :data:`~exsampling.show_state.TUNNEL_KEY`.

    Parameters
    ----------
    library : Library — where the record lives (every console of the show shares it).
    agent : Agent — :class:`NgrokAgent` for real; tests give a stand-in (ngrok cannot run offline).
    """

    def __init__(self, library: Any, agent: Agent) -> None:
        self.library, self.agent = library, agent

    def ensure(self, port: int, auth_token: str, domain: str = "") -> str:
        """The public URL of a tunnel to ``127.0.0.1:<port>``: the show's own if its agent still runs it
        (same port, and same ``domain`` when one is asked for), else a new one (after stopping the old agent:
        one agent per account). Raises :class:`TunnelError`; nothing is recorded then."""
        addr = f"127.0.0.1:{port}"
        record = self.library.setting(TUNNEL_KEY)
        if record:
            fits = record.get("addr") == addr and (not domain or record.get("domain") == domain)
            url = self.agent.find(record) if fits else None
            if url:
                return url
            self.agent.close(record)
            self.library.set_setting(TUNNEL_KEY, None)
        record = dict(self.agent.open(addr, auth_token, domain), addr=addr, domain=domain)
        self.library.set_setting(TUNNEL_KEY, record)
        return record["public_url"]

    def close(self) -> None:
        """End the show's tunnel: close it, stop its agent, forget it."""
        record = self.library.setting(TUNNEL_KEY)
        if record:
            self.agent.close(record)
            self.library.set_setting(TUNNEL_KEY, None)


def _api(url: str, method: str = "GET", body: dict | None = None, timeout: float = 5.0) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=timeout) as answer:
        text = answer.read()
    return json.loads(text) if text else None


class NgrokAgent:
    """The real ngrok agent: a detached ``ngrok start --none`` whose tunnels are opened through its local API.

    ``folder`` holds the agent's log (``ngrok.log``), read to learn where its API listens. pyngrok downloads
    the ngrok binary the first time (this needs the Internet).
    """

    def __init__(self, folder: Path, startup_s: float = 20.0) -> None:
        self.folder, self.startup_s = Path(folder), startup_s

    def open(self, addr: str, auth_token: str, domain: str) -> dict[str, Any]:
        from pyngrok import conf, ngrok
        from pyngrok.exception import PyngrokError

        config = conf.PyngrokConfig(auth_token=auth_token)
        said = io.StringIO()
        try:
            # pyngrok prints its download's progress; in a console kernel that lands on the performer's page
            with contextlib.redirect_stdout(said):
                ngrok.install_ngrok(config)  # a no-op once the binary is there
        except (PyngrokError, OSError) as exc:
            reason = "no Internet to download it" if "urlopen error" in str(exc) else str(exc)[:200]
            raise TunnelError(f"ngrok could not be installed ({reason})") from exc
        self.folder.mkdir(parents=True, exist_ok=True)
        log = self.folder / "ngrok.log"
        log.unlink(missing_ok=True)
        # Its own session and a log file, not a pipe: the agent must outlive the kernel that started it.
        proc = subprocess.Popen(
            [config.ngrok_path, "start", "--none", "--config", conf.get_config_path(config), "--authtoken",
             auth_token, "--log", str(log), "--log-format", "json"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        try:
            api = self._api_address(proc, log)
            tunnel = {"name": TUNNEL_NAME, "addr": addr, "proto": "http", "schemes": ["https"]}
            if domain:
                tunnel["domain"] = domain
            opened = _api(f"{api}/api/tunnels", "POST", tunnel, timeout=30)
        except (OSError, ValueError, TunnelError) as exc:
            proc.terminate()
            raise exc if isinstance(exc, TunnelError) else TunnelError(f"ngrok refused the tunnel ({exc})") from exc
        return {"public_url": opened["public_url"], "api": api, "pid": proc.pid}

    def _api_address(self, proc: subprocess.Popen, log: Path) -> str:
        deadline = time.monotonic() + self.startup_s
        while time.monotonic() < deadline:
            for line in log.read_text(errors="replace").splitlines() if log.exists() else []:
                entry = json.loads(line) if line.startswith("{") else {}
                if entry.get("msg") == "starting web service" and entry.get("addr"):
                    return f"http://{entry['addr']}"
                if entry.get("lvl") in ("eror", "crit") or entry.get("err") not in (None, "<nil>"):
                    raise TunnelError(f"ngrok could not start ({entry.get('err') or entry.get('msg')})")
            if proc.poll() is not None:
                raise TunnelError(f"ngrok exited at once (code {proc.returncode}); see {log}")
            time.sleep(0.1)
        raise TunnelError(f"ngrok did not start within {self.startup_s:g} s; see {log}")

    def find(self, record: dict[str, Any]) -> str | None:
        if not _is_ngrok(record.get("pid")):
            return None
        try:
            tunnel = _api(f"{record['api']}/api/tunnels/{TUNNEL_NAME}", timeout=3)
        except (OSError, ValueError, KeyError):
            return None
        return tunnel.get("public_url") if tunnel and tunnel.get("public_url") == record.get("public_url") else None

    def close(self, record: dict[str, Any]) -> None:
        if _is_ngrok(record.get("pid")):
            os.kill(record["pid"], signal.SIGTERM)


def _is_ngrok(pid: Any) -> bool:
    """Whether ``pid`` is a running ngrok agent (a recorded pid may since belong to another program)."""
    try:
        return "ngrok" in psutil.Process(int(pid)).name()
    except (TypeError, ValueError, psutil.Error):
        return False

