"""A crowd uploading at once: N simulated participants post real 5-s WAVs to ``exsampling serve`` on loopback.

The server runs as the performer would run it (its own process, the classifier loaded, OSC out); this
process posts every recording at the same moment and listens for the OSC messages. Prints acknowledgement
(request sent → 201) and end to end (request sent → the recording's first OSC message) p50/p95, what was
lost, and whether every acknowledged file is byte-identical in the library. One warm-up upload goes first and
is reported apart (lazy start-up costs, paid once per show).

``--baseline REF`` runs the server of another commit (``git archive REF``, same virtualenv) on the same clips
in the same run, and prints its figures beside this tree's. ``--rounds N`` runs each server N times, in turns,
and prints the median acknowledgement and upload → OSC p95 of each (on a shared machine one run's p95 swings by
±30 %).

    python bench/uploads.py [--clients 50] [--baseline REF] [--rounds 1] [--timeout-s 180]
"""
from __future__ import annotations

import argparse
import asyncio
import io
import os
import signal
import socket
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import urllib3
from _common import clips, model_path, percentiles
from pythonosc.dispatcher import Dispatcher
from pythonosc.osc_server import ThreadingOSCUDPServer
from tornado.httpclient import AsyncHTTPClient, HTTPClientError, HTTPRequest

from exsampling.audio import wav_bytes
from exsampling.classifier import read_info
from exsampling.library import Library

TOKEN = "bench-token"
REPOSITORY = Path(__file__).resolve().parent.parent
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


def start_server(tree: Path, folder: Path, model: Path, osc_port: int, n: int) -> tuple[subprocess.Popen, str, float]:
    """``exsampling serve`` from the source ``tree`` on a free loopback port: the process, its URL, its start-up (s)."""
    limits = f"rate_limit = {2 * n + 10}\n"
    if "rate_limit_per_address" in (tree / "exsampling" / "config.py").read_text():
        limits += f"rate_limit_per_address = {2 * n + 10}\n"
    config = folder / "show.toml"
    config.write_text(f'[library]\npath = "lib"\n[classifier]\nmodel = "{model}"\n[osc]\nport = {osc_port}\n'
                      f'[server]\nhost = "127.0.0.1"\n{limits}')
    port = free_tcp_port()
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "exsampling.cli", "serve", "--port", str(port), "--token", TOKEN,
                             "--config", str(config)], stdout=subprocess.PIPE, text=True, cwd=folder,
                            env=os.environ | {"TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": str(tree)})
    for line in proc.stdout:
        if line.startswith("map:"):
            threading.Thread(target=proc.stdout.read, daemon=True).start()  # keep its pipe drained
            return proc, f"http://127.0.0.1:{port}", time.perf_counter() - t0
    raise SystemExit(f"exsampling serve exited with {proc.wait()} before listening")


def upload_request(base: str, name: str, audio: bytes) -> HTTPRequest:
    """One participant's upload, as the recorder sends it (made before the clock starts)."""
    body, content_type = urllib3.encode_multipart_formdata(
        {"audio": ("recording.wav", audio, "audio/wav"), "name": name, "lat": "35.39", "lon": "139.43",
         "upload_id": f"bench-{name}"})
    return HTTPRequest(f"{base}/api/recordings?token={TOKEN}", method="POST", body=body,
                       headers={"Content-Type": content_type, "X-Exsampling-Device": f"device-{name}"},
                       request_timeout=120)


async def post(client: AsyncHTTPClient, name: str, request: HTTPRequest) -> tuple[str, float, float, int]:
    """One participant's upload: (name, start, acknowledged, HTTP status), times from ``perf_counter``."""
    start = time.perf_counter()
    try:
        status = (await client.fetch(request)).code
    except HTTPClientError as exc:
        status = exc.code
    return name, start, time.perf_counter(), status


async def crowd(base: str, named_audio: dict[str, bytes]) -> list[tuple[str, float, float, int]]:
    requests = {name: upload_request(base, name, audio) for name, audio in named_audio.items()}
    client = AsyncHTTPClient(force_instance=True, max_clients=len(named_audio))
    try:
        return await asyncio.gather(*(post(client, name, request) for name, request in requests.items()))
    finally:
        client.close()


def wait_for(arrivals: Arrivals, names: list[str], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and not all(n in arrivals.first for n in names):
        time.sleep(0.05)


@dataclass
class Run:
    """One server's figures."""

    startup_s: float
    warm: tuple[int, float, float]  # status, ack s, upload → OSC s
    acked: int
    others: list[int]
    osc: int
    intact: int
    acks: list[float]
    e2e: list[float]


def run(tree: Path, model: Path, audio: dict[str, bytes], warm: tuple[str, bytes], timeout_s: float) -> Run:
    arrivals = Arrivals()
    with tempfile.TemporaryDirectory() as tmp:
        proc, base, startup_s = start_server(tree, Path(tmp), model, arrivals.port, len(audio))
        try:
            [(_, w_start, w_ack, w_status)] = asyncio.run(crowd(base, dict([warm])))
            wait_for(arrivals, [warm[0]], timeout_s)
            results = asyncio.run(crowd(base, audio))
            wait_for(arrivals, list(audio), timeout_s)
        finally:
            proc.send_signal(signal.SIGINT)
            proc.wait(60)
            arrivals.server.shutdown()
        stored = {r.participant: Path(r.path).read_bytes() for r in Library(Path(tmp) / "lib").recordings()}
    acked = [r for r in results if r[3] == 201]
    return Run(startup_s, (w_status, w_ack - w_start, arrivals.first.get(warm[0], float("nan")) - w_start),
               len(acked), sorted(r[3] for r in results if r[3] != 201),
               sum(1 for name, *_ in acked if name in arrivals.first),
               sum(1 for name, *_ in acked if stored.get(name) == audio[name]),
               [ack - start for _, start, ack, _ in acked],
               [arrivals.first[name] - start for name, start, _, _ in acked if name in arrivals.first])


def source_tree(ref: str, folder: Path) -> Path:
    """The project's files at commit ``ref``, unpacked into ``folder``."""
    archive = subprocess.run(["git", "-C", str(REPOSITORY), "archive", ref], check=True, capture_output=True).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(folder, filter="data")
    return folder


def compared_trees(model: Path, baseline: str | None, folder: Path) -> list[tuple[str, Path, Path]]:
    """``(label, source tree, model)`` to run: this tree with ``model``; with ``baseline``, that commit unpacked into
    ``folder`` with its own bundled model (an older tree may not read this tree's model files), else ``model``."""
    out = [("this tree", REPOSITORY, model)]
    if baseline:
        tree = source_tree(baseline, folder)
        own = tree / "models" / "default.keras"
        out.append((f"baseline {baseline}" + (" (its own models/default.keras)" if own.exists() else ""), tree,
                    own if own.exists() else model))
    return out


def report(label: str, r: Run, n: int) -> None:
    ack50, ack95 = percentiles(r.acks) if r.acks else (float("nan"),) * 2
    e2e50, e2e95 = percentiles(r.e2e) if r.e2e else (float("nan"),) * 2
    print(f"\n== {label}")
    print(f"server start-up (process start → listening, model loaded): {r.startup_s:.1f} s")
    print(f"warm-up upload: status {r.warm[0]}, ack {1000 * r.warm[1]:.0f} ms, upload→OSC {1000 * r.warm[2]:.0f} ms "
          "(not in the figures below)")
    print(f"acknowledged (201): {r.acked}/{n}   other answers: {r.others}   intact on disk: {r.intact}/{r.acked}")
    print(f"OSC received: {r.osc}/{n}   lost: {n - r.osc}")
    print(f"ack          p50 {ack50:7.0f} ms   p95 {ack95:7.0f} ms   max {1000 * max(r.acks, default=0):7.0f} ms")
    print(f"upload→OSC   p50 {e2e50:7.0f} ms   p95 {e2e95:7.0f} ms   max {1000 * max(r.e2e, default=0):7.0f} ms")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--clients", "--n", dest="n", type=int, default=50,
                    help=f"participants uploading at once (at most {MAX_N})")
    ap.add_argument("--baseline", metavar="REF", help="also run the server of this commit, for comparison")
    ap.add_argument("--timeout-s", type=float, default=180.0, help="longest wait for every OSC message")
    ap.add_argument("--rounds", type=int, default=1, help="run each server this many times, in turns")
    args = ap.parse_args()
    n = max(1, min(args.n, MAX_N))
    model, what = model_path()
    sr = read_info(model).features.sample_rate  # what the recorder sends: the rate the server advertises, the chain's
    audio = {f"p{i:03d}": wav_bytes(y, sr) for i, y in enumerate(clips(n + 1, sr, seconds=5.0))}
    warm = (f"p{n:03d}", audio.pop(f"p{n:03d}"))
    print(f"model: {what}")
    print(f"{n} participants at once, 5-s 16-bit WAVs at {sr} Hz ({len(warm[1]) / 1024:.0f} KiB each), loopback")
    with tempfile.TemporaryDirectory() as tmp:
        servers = compared_trees(model, args.baseline, Path(tmp))
        p95s: dict[str, list[tuple[float, float]]] = {label: [] for label, _, _ in servers}
        for round_ in range(args.rounds):  # the servers take turns: a shared machine's bad moment hits both
            for label, tree, its_model in servers:
                r = run(tree, its_model, audio, warm, args.timeout_s)
                report(label if args.rounds == 1 else f"{label}, round {round_ + 1}", r, n)
                p95s[label].append((percentiles(r.acks)[1] if r.acks else float("nan"),
                                    percentiles(r.e2e)[1] if r.e2e else float("nan")))
    if args.rounds > 1:
        print()
        for label, values in p95s.items():
            for i, what in enumerate(("ack", "upload→OSC")):
                kept = [v[i] for v in values]
                print(f"{label}: {what} p95 median {np.median(kept):.0f} ms over {args.rounds} rounds "
                      f"({', '.join(f'{v:.0f}' for v in kept)})")
    print("\ntarget: every upload acknowledged, nothing lost, every file intact, ack p95 <= 1000 ms; "
          "200 at once on stage with upload→OSC p95 <= 10 s (quiet 2-core machine)")


if __name__ == "__main__":
    main()
