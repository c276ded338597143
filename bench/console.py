"""The console as a performer meets it: how soon it takes sounds and shows "ready", and from an upload's
acknowledgement to its card on the page.

Starts ``exsampling console --no-browser`` exactly as a performer would (Voilà, a pre-heated kernel, the upload
server in it), posts a recording from the command's first moment (again every 50 ms while nothing listens), opens
the page in headless Chromium as soon as Voilà answers, then uploads clips over HTTP. ``--baseline REF`` starts
the console of another commit too (``git archive REF``, same virtualenv), in turns with this tree's.

    python bench/console.py [--n 8] [--baseline REF] [--rounds 1]

first ack: from the command's start to the 201 answer for the first recording (target <= 3 s; Voilà's own start
           and the kernel's come first).
ready:     from the command's start to the page showing "ready" (upload server listening; target <= 10 s).
model:     from the command's start to the page saying the model is ready (before this change: "ready" waited
           for it).
first card: from the command's start to the first recording's card on the page.
card:      from the upload's 201 answer to the new card being displayed in the browser (classify, pitch, store,
           render), once Voilà's pool has refilled (target <= 1 s).
"""
from __future__ import annotations

import argparse
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from _common import clips, model_path, percentiles
from uploads import compared_trees

from exsampling.audio import wav_bytes

CHROMIUM = "/usr/bin/chromium"
VISIBLE_CARDS = "() => [...document.querySelectorAll('.exs-card')].filter(c => c.offsetParent !== null).length"
TOKEN = "bench-token"
SHOWN = 12  # cards the page shows at once (exsampling.console.cards' page)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listens on port {port}")


def upload(port: int, token: str, wav: bytes, timeout: float = 30) -> float:
    """POST one recording; the time its 201 answer arrived."""
    boundary = uuid.uuid4().hex
    body = (f'--{boundary}\r\nContent-Disposition: form-data; name="token"\r\n\r\n{token}\r\n'
            f'--{boundary}\r\nContent-Disposition: form-data; name="audio"; filename="a.wav"\r\n'
            "Content-Type: audio/wav\r\n\r\n").encode() + wav + f"\r\n--{boundary}--\r\n".encode()
    request = urllib.request.Request(f"http://127.0.0.1:{port}/api/recordings", data=body,
                                     headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        json.loads(response.read())
        return time.perf_counter()


def first_ack(port: int, wav: bytes, proc: subprocess.Popen, acked: list[float]) -> None:
    """Post until the console's upload server answers 201 (it is not listening at first); note when."""
    while proc.poll() is None:
        try:
            acked.append(upload(port, TOKEN, wav, timeout=60))
            return
        except urllib.error.HTTPError as exc:
            print(f"the first upload was refused: {exc.code} {exc.read()[:200]!r}", flush=True)
            return
        except (urllib.error.URLError, ConnectionError):
            time.sleep(0.05)


@dataclass
class Figures:
    """One start of one console, in seconds from the command's start (card: from each 201 to its card)."""

    first_ack: float
    ready: float
    listening: float
    model: float
    first_card: float
    card: list[float]


def run(tree: Path, model: Path, n: int) -> Figures:
    """Start the console of the source ``tree`` with ``model``; time it as a performer and a phone meet it."""
    work = Path(tempfile.mkdtemp(prefix="exsampling-bench-console-"))
    sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)  # an OSC peer, so sends do not fail
    sink.bind(("127.0.0.1", 0))
    config = work / "show.toml"
    config.write_text(f'[classifier]\nmodel = "{model}"\n[library]\npath = "library"\n[server]\nhost = "127.0.0.1"\n'
                      f'[osc]\nport = {sink.getsockname()[1]}\n[show]\nmode = "auto"\n')
    port, upload_port = free_port(), free_port()
    sr = json.loads(model.with_suffix(".json").read_text())["features"]["sample_rate"]
    wavs = [wav_bytes(y, sr) for y in clips(n + 1, sr)]
    lines: list[str] = []
    acked: list[float] = []
    # the model-state line is this change's; an older console said "ready" only once its model was loaded
    says_model = "exs-model-" in (tree / "exsampling" / "console" / "header.py").read_text()
    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "exsampling.cli", "console", "--no-browser", "--verbose",
                             "--port", str(port), "--upload-port", str(upload_port), "--config", str(config),
                             "--token", TOKEN], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL, text=True, env=os.environ | {"PYTHONPATH": str(tree)},
                            cwd=work)  # not this checkout: `-m` puts the working folder ahead of PYTHONPATH
    threading.Thread(target=lambda: lines.extend(proc.stdout), daemon=True).start()
    poster = threading.Thread(target=first_ack, args=(upload_port, wavs[0], proc, acked), daemon=True)
    poster.start()
    from playwright.sync_api import sync_playwright

    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=["--disable-dev-shm-usage"])
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            wait_port(port)
            page.goto(f"http://127.0.0.1:{port}/", timeout=120_000)
            page.get_by_text("ready", exact=True).wait_for(timeout=300_000)
            ready_s = time.perf_counter() - started
            if says_model:
                page.locator(".exs-model-ready").wait_for(timeout=300_000)
            model_s = time.perf_counter() - started
            poster.join(120)
            page.wait_for_function(f"() => ({VISIBLE_CARDS})() >= 1", polling="raf", timeout=120_000)
            first_card_s = time.perf_counter() - started
            # Voilà refills its pool once the page took the pre-heated kernel: a second kernel loads the model
            # (seconds of CPU on a laptop); time the steady state after it
            deadline = time.monotonic() + 120
            while "".join(lines).count("is filled with") < 2 and time.monotonic() < deadline:
                time.sleep(0.2)
            card_s = []
            for i, wav in enumerate(wavs[1:]):
                try:
                    sent = upload(upload_port, TOKEN, wav)
                except urllib.error.HTTPError as exc:
                    raise SystemExit(f"{exc} {exc.read()!r}") from exc
                page.wait_for_function(f"() => ({VISIBLE_CARDS})() >= {min(i + 2, SHOWN)}", polling="raf",
                                       timeout=30_000)
                card_s.append(time.perf_counter() - sent)
            browser.close()
    finally:
        proc.terminate()
        proc.wait(timeout=60)
        sink.close()
    listening = re.search(r"console ready in ([0-9.]+) s", "".join(lines))
    return Figures(acked[0] - started if acked else float("nan"), ready_s,
                   float(listening.group(1)) if listening else float("nan"), model_s, first_card_s, card_s)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=8, help="uploads to time per start (default 8)")
    parser.add_argument("--baseline", metavar="REF", help="also start the console of this commit, for comparison")
    parser.add_argument("--rounds", type=int, default=1, help="starts of each console, in turns (default 1)")
    args = parser.parse_args()
    model, model_note = model_path()
    print(f"model: {model_note}")
    with tempfile.TemporaryDirectory() as tmp:
        consoles = compared_trees(model, args.baseline, Path(tmp))
        runs: dict[str, list[Figures]] = {label: [] for label, _, _ in consoles}
        for round_ in range(args.rounds):  # in turns: a shared machine's bad moment hits both
            for label, tree, its_model in consoles:
                f = run(tree, its_model, args.n)
                runs[label].append(f)
                print(f"  round {round_ + 1}, {label}: first ack {f.first_ack:5.1f} s, ready {f.ready:5.1f} s "
                      f"(listening {f.listening:5.1f} s by the command), model ready {f.model:5.1f} s, "
                      f"first card {f.first_card:5.1f} s", flush=True)
    print()
    for label, figures in runs.items():
        def median(name: str, figures: list[Figures] = figures) -> float:
            return float(np.median([getattr(f, name) for f in figures]))

        p50, p95 = percentiles([c for f in figures for c in f.card])
        print(f"{label}: first ack {median('first_ack'):.1f} s · ready {median('ready'):.1f} s · model ready "
              f"{median('model'):.1f} s · first card {median('first_card'):.1f} s (medians of {len(figures)}); "
              f"card p50 {p50:.0f} ms, p95 {p95:.0f} ms over {sum(len(f.card) for f in figures)} uploads")
    print("targets: first ack <= 3 s, ready <= 10 s, card <= 1000 ms")


if __name__ == "__main__":
    main()
