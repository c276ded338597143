"""How soon a show takes sounds: from ``exsampling serve``'s start to its first acknowledged recording, and on to
that recording's first OSC message.

Starts ``exsampling serve`` as the performer would (its own process, the bundled model, OSC out to a peer here)
and posts a real 5-s WAV from the moment the process is started, again every 20 ms while nothing listens.
``--baseline REF`` runs the server of another commit (``git archive REF``, same virtualenv) too, in turns with
this tree's, so both meet the same machine; ``--rounds N`` runs each N times and prints the medians.

    python bench/start.py [--baseline REF] [--rounds 3]

first ack: from the command's start to the 201 answer for the first recording (target <= 3 s).
first OSC: from the command's start to that recording's OSC message (it waits for the model: TensorFlow's import,
the weights, the warm-up).
The console's own figures (page "ready", its first ack) are bench/console.py's.
"""
from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import numpy as np
import urllib3
from _common import clips, model_path
from uploads import Arrivals, compared_trees, free_tcp_port

from exsampling.audio import wav_bytes
from exsampling.classifier import read_info
from exsampling.library import Library


def first_ack(port: int, token: str, body: bytes, content_type: str, proc: subprocess.Popen,
              timeout_s: float) -> float:
    """Post until the server answers 201; the time (``perf_counter``) of that answer."""
    deadline = time.monotonic() + timeout_s
    request = urllib.request.Request(f"http://127.0.0.1:{port}/api/recordings?token={token}", data=body,
                                     headers={"Content-Type": content_type})
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"exsampling serve exited with {proc.returncode} before acknowledging anything")
        try:
            with urllib.request.urlopen(request, timeout=30) as answer:
                if answer.status == 201:
                    return time.perf_counter()
                raise SystemExit(f"the first upload was answered {answer.status}")
        except urllib.error.HTTPError as exc:
            raise SystemExit(f"the first upload was refused: {exc.code} {exc.read()[:200]!r}") from exc
        except (urllib.error.URLError, ConnectionError):
            time.sleep(0.02)  # not listening yet
    raise SystemExit(f"nothing acknowledged within {timeout_s:.0f} s")


def run(tree: Path, model: Path, wav: bytes, timeout_s: float) -> tuple[float, float]:
    """One start of ``exsampling serve`` from ``tree``: seconds to the first ack, and to its OSC message."""
    arrivals = Arrivals()
    body, content_type = urllib3.encode_multipart_formdata(
        {"audio": ("recording.wav", wav, "audio/wav"), "name": "first", "upload_id": "bench-first"})
    try:
        with tempfile.TemporaryDirectory() as tmp:
            config = Path(tmp) / "show.toml"
            config.write_text(f'[library]\npath = "lib"\n[classifier]\nmodel = "{model}"\n'
                              f'[osc]\nport = {arrivals.port}\n[server]\nhost = "127.0.0.1"\n')
            port, token = free_tcp_port(), uuid.uuid4().hex  # a token of its own: no other server on a reused port
            started = time.perf_counter()
            proc = subprocess.Popen(
                [sys.executable, "-m", "exsampling.cli", "serve", "--port", str(port), "--token", token,
                 "--config", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=tmp,
                env=os.environ | {"TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": str(tree)})
            try:
                acked = first_ack(port, token, body, content_type, proc, timeout_s)
                deadline = time.monotonic() + timeout_s
                while "first" not in arrivals.first and time.monotonic() < deadline:
                    time.sleep(0.01)
            finally:
                proc.send_signal(signal.SIGINT)
                proc.wait(60)
            if [r.participant for r in Library(Path(tmp) / "lib").recordings()] != ["first"]:
                raise SystemExit("the recording acknowledged is not in the library of the server started")
    finally:
        arrivals.server.shutdown()
    return acked - started, arrivals.first.get("first", float("nan")) - started


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--baseline", metavar="REF", help="also start the server of this commit, for comparison")
    ap.add_argument("--rounds", type=int, default=3, help="starts of each server, in turns (default 3)")
    ap.add_argument("--timeout-s", type=float, default=120.0, help="longest wait for the ack and for the OSC message")
    args = ap.parse_args()
    model, what = model_path()
    sr = read_info(model).features.sample_rate
    wav = wav_bytes(clips(1, sr, seconds=5.0)[0], sr)
    print(f"model: {what}; one 5-s 16-bit WAV at {sr} Hz, loopback; {args.rounds} start(s) of each server, in turns")
    with tempfile.TemporaryDirectory() as tmp:
        servers = compared_trees(model, args.baseline, Path(tmp))
        figures: dict[str, list[tuple[float, float]]] = {label: [] for label, _, _ in servers}
        for round_ in range(args.rounds):  # in turns: a shared machine's bad moment hits both
            for label, tree, its_model in servers:
                ack_s, osc_s = run(tree, its_model, wav, args.timeout_s)
                figures[label].append((ack_s, osc_s))
                print(f"  round {round_ + 1}, {label}: first ack {ack_s:5.2f} s, first OSC {osc_s:5.2f} s", flush=True)
    print()
    for label, runs in figures.items():
        acks, oscs = np.array(runs).T
        print(f"{label:>28}: first ack median {np.median(acks):5.2f} s (max {acks.max():5.2f}), "
              f"first OSC median {np.median(oscs):5.2f} s (max {oscs.max():5.2f})")
    print("target: first recording acknowledged <= 3 s after `exsampling serve` starts")


if __name__ == "__main__":
    main()
