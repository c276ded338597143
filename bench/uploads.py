"""A crowd uploading at once: N simulated participants post real 5-s WAVs to ``exsampling serve`` on loopback.

The server runs as the performer would run it (its own process, the classifier loaded, OSC out); this
process posts every recording at the same moment and listens for the OSC messages. Prints acknowledgement
(request sent → 201) and end to end (request sent → the recording's first OSC message) p50/p95, and what was
lost. One warm-up upload goes first and is reported apart (lazy start-up costs, paid once per show).

    python bench/uploads.py [--n 50] [--timeout-s 180]
"""
from __future__ import annotations

import argparse
import asyncio
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import urllib3
from _common import clips, model_path, percentiles
from pythonosc.dispatcher import Dispatcher
from pythonosc.osc_server import ThreadingOSCUDPServer
from tornado.httpclient import AsyncHTTPClient, HTTPClientError, HTTPRequest

from exsampling.audio import wav_bytes

TOKEN = "bench-token"
MAX_N = 200  # bounded: the loopback crowd never grows past this


class Arrivals:
    """An OSC peer noting when each participant's first sample message arrives (participant = argument 11)."""

    def __init__(self) -> None:
        self.first: dict[str, float] = {}
        dispatcher = Dispatcher()
        dispatcher.map("/exsampling/sample/*", self._on_sample)
        self.server = ThreadingOSCUDPServer(("127.0.0.1", 0), dispatcher)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def _on_sample(self, address: str, *args) -> None:
        self.first.setdefault(args[11], time.perf_counter())


def free_tcp_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(folder: Path, model: Path, osc_port: int, n: int) -> tuple[subprocess.Popen, str, float]:
    """``exsampling serve`` on a free loopback port; returns the process, its base URL and its start-up time (s)."""
    config = folder / "show.toml"
    config.write_text(f'[library]\npath = "lib"\n[classifier]\nmodel = "{model}"\n[osc]\nport = {osc_port}\n'
                      f'[server]\nhost = "127.0.0.1"\nrate_limit = {2 * n + 10}\n')
    port = free_tcp_port()
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "exsampling.cli", "serve", "--port", str(port), "--token", TOKEN,
                             "--config", str(config)], stdout=subprocess.PIPE, text=True,
                            env=os.environ | {"TF_CPP_MIN_LOG_LEVEL": "3"})
    for line in proc.stdout:
        if line.startswith("map:"):
            return proc, f"http://127.0.0.1:{port}", time.perf_counter() - t0
    raise SystemExit(f"exsampling serve exited with {proc.wait()} before listening")


async def post(client: AsyncHTTPClient, base: str, name: str, audio: bytes) -> tuple[str, float, float, int]:
    """One participant's upload: (name, start, acknowledged, HTTP status), times from ``perf_counter``."""
    body, content_type = urllib3.encode_multipart_formdata(
        {"audio": ("recording.wav", audio, "audio/wav"), "name": name, "lat": "35.39", "lon": "139.43",
         "upload_id": f"bench-{name}"})
    request = HTTPRequest(f"{base}/api/recordings?token={TOKEN}", method="POST", body=body,
                          headers={"Content-Type": content_type}, request_timeout=120)
    start = time.perf_counter()
    try:
        status = (await client.fetch(request)).code
    except HTTPClientError as exc:
        status = exc.code
    return name, start, time.perf_counter(), status


async def crowd(base: str, named_audio: dict[str, bytes]) -> list[tuple[str, float, float, int]]:
    client = AsyncHTTPClient(force_instance=True, max_clients=len(named_audio))
    try:
        return await asyncio.gather(*(post(client, base, name, audio) for name, audio in named_audio.items()))
    finally:
        client.close()


def wait_for(arrivals: Arrivals, names: list[str], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and not all(n in arrivals.first for n in names):
        time.sleep(0.05)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=50, help=f"participants uploading at once (at most {MAX_N})")
    ap.add_argument("--timeout-s", type=float, default=180.0, help="longest wait for every OSC message")
    args = ap.parse_args()
    n = max(1, min(args.n, MAX_N))
    model, what = model_path()
    arrivals = Arrivals()
    sr = 22050  # what the recorder sends: it resamples to the chain's rate before uploading
    audio = {f"p{i:03d}": wav_bytes(y, sr) for i, y in enumerate(clips(n + 1, sr, seconds=5.0))}
    warm_name = f"p{n:03d}"
    warm_audio = audio.pop(warm_name)
    with tempfile.TemporaryDirectory() as tmp:
        proc, base, startup_s = start_server(Path(tmp), model, arrivals.port, n)
        try:
            [(_, w_start, w_ack, w_status)] = asyncio.run(crowd(base, {warm_name: warm_audio}))
            wait_for(arrivals, [warm_name], args.timeout_s)
            results = asyncio.run(crowd(base, audio))
            wait_for(arrivals, list(audio), args.timeout_s)
        finally:
            proc.send_signal(signal.SIGINT)
            proc.wait(60)
    acked = [r for r in results if r[3] == 201]
    acks = [ack - start for _, start, ack, _ in acked]
    e2e = [arrivals.first[name] - start for name, start, _, _ in acked if name in arrivals.first]
    ack50, ack95 = percentiles(acks) if acks else (float("nan"),) * 2
    e2e50, e2e95 = percentiles(e2e) if e2e else (float("nan"),) * 2
    warm_e2e = arrivals.first.get(warm_name, float("nan")) - w_start
    print(f"model: {what}")
    print(f"server start-up (process start → listening, model loaded): {startup_s:.1f} s")
    print(f"warm-up upload: status {w_status}, ack {1000 * (w_ack - w_start):.0f} ms, upload→OSC "
          f"{1000 * warm_e2e:.0f} ms (not in the figures below)")
    print(f"{n} participants at once, 5-s 16-bit WAVs at {sr} Hz ({len(warm_audio) / 1024:.0f} KiB each), loopback")
    print(f"acknowledged (201): {len(acked)}/{n}   other answers: {sorted(r[3] for r in results if r[3] != 201)}")
    print(f"OSC received: {len(e2e)}/{n}   lost: {n - len(e2e)}")
    print(f"ack          p50 {ack50:7.0f} ms   p95 {ack95:7.0f} ms   max {1000 * max(acks, default=0):7.0f} ms")
    print(f"upload→OSC   p50 {e2e50:7.0f} ms   p95 {e2e95:7.0f} ms   max {1000 * max(e2e, default=0):7.0f} ms")
    print("target: 50 at once, nothing lost, ack p95 <= 1000 ms")


if __name__ == "__main__":
    main()
