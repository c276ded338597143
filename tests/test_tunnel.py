"""The show's one tunnel across takeovers, reloads, a dead agent and the end of the show.

ngrok cannot run here (no Internet): the reuse rules are tested with an in-memory stand-in behind the same
:class:`~exsampling.tunnel.Agent` interface, and the real :class:`~exsampling.tunnel.NgrokAgent` is tested on the
one path that runs offline, failing clearly. docs/http.md says what this does and does not exercise.
"""
import itertools

import psutil
import pytest
from conftest import tone
from serving import wav

from exsampling.library import Library
from exsampling.server.tunnel import NgrokAgent, ShowTunnel, TunnelError
from exsampling.show_state import TUNNEL_KEY


class StandInAgent:
    """Agents as ngrok runs them, in memory: each open starts one; a fixed domain keeps its URL."""

    def __init__(self) -> None:
        self.running: dict[int, dict] = {}
        self.opened = 0
        self.fail_with: str | None = None
        self._pids = itertools.count(1000)

    def open(self, addr, auth_token, domain):
        if self.fail_with:
            raise TunnelError(self.fail_with)
        if self.running:
            raise TunnelError("your account is limited to 1 simultaneous ngrok agent session")
        self.opened += 1
        pid = next(self._pids)
        self.running[pid] = {"addr": addr, "url": f"https://{domain or f'random-{pid}.ngrok.app'}"}
        return {"public_url": self.running[pid]["url"], "pid": pid}

    def find(self, record):
        agent = self.running.get(record["pid"])
        return agent["url"] if agent and agent["addr"] == record["addr"] else None

    def close(self, record):
        self.running.pop(record["pid"], None)


@pytest.fixture
def agent():
    return StandInAgent()


def console(tmp_path, agent) -> ShowTunnel:
    """A console's view of the show's tunnel, from its own Library object (as a new kernel would have)."""
    return ShowTunnel(Library(tmp_path / "lib"), agent)


def test_takeovers_and_reloads_reuse_the_one_tunnel(tmp_path, agent):
    url = console(tmp_path, agent).ensure(8765, "tok")
    for _ in range(3):  # three later consoles take the show over
        assert console(tmp_path, agent).ensure(8765, "tok") == url
    assert agent.opened == 1 and len(agent.running) == 1


def test_a_dead_agent_is_replaced_and_a_fixed_domain_keeps_the_qr_code_valid(tmp_path, agent):
    first = console(tmp_path, agent).ensure(8765, "tok", domain="show.example.app")
    agent.running.clear()  # the agent died with the machine's sleep, say
    assert console(tmp_path, agent).ensure(8765, "tok", domain="show.example.app") == first
    assert agent.opened == 2 and len(agent.running) == 1
    agent.running.clear()
    random = console(tmp_path, agent).ensure(8765, "tok")
    assert random != first and random.startswith("https://random-")


def test_a_new_port_or_domain_stops_the_old_agent_first(tmp_path, agent):
    console(tmp_path, agent).ensure(8765, "tok")
    moved = console(tmp_path, agent).ensure(9000, "tok")  # one agent per account: the old one must go
    assert len(agent.running) == 1 and next(iter(agent.running.values()))["addr"] == "127.0.0.1:9000"
    assert console(tmp_path, agent).ensure(9000, "tok", domain="fixed.example.app") == "https://fixed.example.app"
    assert moved != "https://fixed.example.app" and len(agent.running) == 1


def test_the_end_of_the_show_closes_it(tmp_path, agent):
    show = console(tmp_path, agent)
    show.ensure(8765, "tok")
    show.close()
    assert agent.running == {} and Library(tmp_path / "lib").setting(TUNNEL_KEY) is None
    console(tmp_path, agent).close()  # closing twice is harmless


def test_a_failure_records_nothing(tmp_path, agent):
    agent.fail_with = "authentication failed: bad token"
    with pytest.raises(TunnelError, match="bad token"):
        console(tmp_path, agent).ensure(8765, "tok")
    assert Library(tmp_path / "lib").setting(TUNNEL_KEY) is None


def test_the_real_agent_fails_clearly_offline_and_leaves_no_process(tmp_path, capsys):
    before = {p.pid for p in psutil.process_iter() if "ngrok" in p.name()}
    show = ShowTunnel(Library(tmp_path / "lib"), NgrokAgent(tmp_path / "agent", startup_s=10))
    with pytest.raises(TunnelError, match=r"ngrok could not be installed \(no Internet to download it\)"):
        show.ensure(8765, "not-a-real-token")
    assert capsys.readouterr().out == ""  # pyngrok's "Downloading ngrok ..." would land on the console's page
    assert Library(tmp_path / "lib").setting(TUNNEL_KEY) is None
    assert {p.pid for p in psutil.process_iter() if "ngrok" in p.name()} <= before


def test_serve_with_a_tunnel_that_fails_keeps_serving_and_says_what_happened(tmp_path):
    """``exsampling serve`` with an ngrok token and no Internet (pyngrok's download fails: the real path)."""
    from serving import Serve

    serve = Serve.start(tmp_path, ngrok_token="not-a-real-token")
    try:
        out = serve.out.read_text()
        [line] = [x for x in out.splitlines() if x.startswith("tunnel:")]
        assert line.startswith("tunnel: failed: ngrok could not be installed (no Internet to download it) "
                               "(token from [server] ngrok_token); only this machine reaches the recorder"), line
        assert "Downloading ngrok" not in out
        assert serve.proc.poll() is None and serve.upload(wav(tone(440.0, 1.0))).status_code == 201
    finally:
        assert serve.stop() == 0


def test_serve_stops_when_told_the_tunnel_is_required(tmp_path):
    import subprocess
    import sys

    from serving import write_config

    config = write_config(tmp_path, ngrok_token="not-a-real-token")
    done = subprocess.run([sys.executable, "-m", "exsampling.cli", "serve", "--port", "0", "--require-tunnel",
                           "--config", str(config)], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert done.returncode == 2 and "tunnel: failed: ngrok could not be installed" in done.stderr
    assert "Downloading ngrok" not in done.stdout + done.stderr


def test_the_console_header_shows_the_servers_tunnel_line():
    from exsampling.console.header import Header
    from exsampling.console.ownership import Role
    from exsampling.show_state import OwnerRecord

    failed = ("tunnel: failed: ngrok could not be installed (no Internet to download it) (token from "
              "NGROK_AUTHTOKEN); phones on the LAN still join at http://192.0.2.5:8765/join?token=t")
    owner = OwnerRecord(console="c", pid=1, urls={"local": "http://127.0.0.1:8765/?token=t"},
                        recorder_url="http://192.0.2.5:8765/join?token=t", tunnel=failed)
    shown = Header._urls_html(owner, Role.OWNER)
    assert f"<div class='exs-warn'>{failed}</div>" in shown and "no ngrok token" not in shown
