"""``exsampling serve`` as a real subprocess on loopback, for tests that kill it, starve it or read its log.

The server's stdout and stderr go to files (never a pipe: a server that floods its log must not block on it).
"""
from __future__ import annotations

import io
import os
import resource
import signal
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import requests
import soundfile as sf
import tomli_w

TOKEN = "venue-token-1"
FINAL = ("done", "silent", "failed")


def free_tcp_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wav(y: np.ndarray, sr: int = 22050, subtype: str = "PCM_16") -> bytes:
    buf = io.BytesIO()
    sf.write(buf, y, sr, format="WAV", subtype=subtype)
    return buf.getvalue()


def write_config(folder: Path, **server: object) -> Path:
    """A show config in ``folder``: library ``lib``, no model (fast start), loopback only, plus ``server`` keys."""
    path = folder / "show.toml"
    path.write_text(tomli_w.dumps({
        "library": {"path": "lib"}, "classifier": {"model": str(folder / "no-model.keras")},
        "server": {"host": "127.0.0.1", "rate_limit": 10_000, **server}}))
    return path


@dataclass
class Serve:
    """A running ``exsampling serve``: its process, port and log files."""

    folder: Path
    port: int
    proc: subprocess.Popen
    log: Path
    out: Path
    attempts: list = field(default_factory=list)

    @classmethod
    def start(cls, folder: Path, port: int | None = None, nofile: int | None = None, **server: object) -> Serve:
        """Start it and wait until it prints its URLs; ``nofile`` caps its open descriptors (soft and hard)."""
        config = folder / "show.toml"
        if not config.exists() or server:
            write_config(folder, **server)
        port = port or free_tcp_port()
        n = sum(1 for _ in folder.glob("serve-*.err"))
        log, out = folder / f"serve-{n}.err", folder / f"serve-{n}.out"

        def limit() -> None:
            if nofile is not None:
                resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))

        with open(log, "wb") as err, open(out, "wb") as stdout:
            proc = subprocess.Popen(
                [sys.executable, "-m", "exsampling.cli", "serve", "--port", str(port), "--token", TOKEN,
                 "--config", str(config)], stdout=stdout, stderr=err, preexec_fn=limit, cwd=folder,
                env=os.environ | {"TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONUNBUFFERED": "1"})
        serve = cls(folder, port, proc, log, out)
        deadline = time.monotonic() + 120
        while "map:" not in out.read_text(errors="replace"):
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise AssertionError(f"serve did not start ({proc.poll()}): {log.read_text(errors='replace')[-3000:]}")
            time.sleep(0.05)
        return serve

    @property
    def library(self) -> Path:
        return self.folder / "lib"

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def upload(self, audio: bytes, upload_id: str | None = None, name: str = "", timeout: float = 30,
               headers: dict | None = None) -> requests.Response:
        data = {"name": name, **({"upload_id": upload_id} if upload_id else {})}
        return requests.post(self.url(f"/api/recordings?token={TOKEN}"), data=data, headers=headers,
                             files={"audio": ("r.wav", audio, "audio/wav")}, timeout=timeout)

    def status(self, recording_id: int) -> dict:
        return requests.get(self.url(f"/api/recordings/{recording_id}?token={TOKEN}"), timeout=10).json()

    def wait_final(self, ids: list[int], timeout: float = 60) -> dict[int, dict]:
        """Every recording's answer once each has reached a final status (or fail after ``timeout`` s)."""
        deadline, done = time.monotonic() + timeout, {}
        while time.monotonic() < deadline:
            for i in ids:
                if i not in done and (body := self.status(i))["status"] in FINAL:
                    done[i] = body
            if len(done) == len(ids):
                return done
            time.sleep(0.2)
        waiting = {i: self.status(i)["status"] for i in ids if i not in done}
        raise AssertionError(f"{len(waiting)} acknowledged recordings never processed: {waiting}")

    def cpu_seconds(self) -> float:
        """User + system CPU time the server has used so far (from /proc)."""
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 60) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()


def crowd_upload(serve: Serve, bodies: dict[str, bytes], on_ack=None, workers: int = 30) -> dict[str, int]:
    """Post every body at once (its key is its upload id); the ids acknowledged (2xx), by upload id.

    ``on_ack(count)`` is called after each acknowledgement with how many have arrived so far.
    """
    acked: dict[str, int] = {}

    def post(upload_id: str) -> None:
        try:
            answer = serve.upload(bodies[upload_id], upload_id, name=upload_id, timeout=30)
        except requests.RequestException:
            return  # the server went away mid-request: not acknowledged
        if answer.status_code in (200, 201):
            acked[upload_id] = answer.json()["id"]
            if on_ack is not None:
                on_ack(len(acked))

    with ThreadPoolExecutor(max_workers=workers) as pool:
        list(pool.map(post, list(bodies)))
    return acked
