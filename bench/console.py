"""The console as a performer meets it: time to "ready", and from an upload's acknowledgement to its card on the page.

Starts ``exsampling console --no-browser`` exactly as a performer would (Voilà, a pre-heated kernel, the upload
server in it), opens the page in headless Chromium as soon as Voilà answers, then uploads clips over HTTP.

    python bench/console.py [--n 8]

ready: from the command's start to the page showing "ready" (model loaded and warmed, upload server listening).
card:  from the upload's 201 answer to the new card being displayed in the browser (classify, pitch, store, render).
Targets: ready <= 20 s, card <= 1 s.
"""
from __future__ import annotations

import argparse
import json
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
from pathlib import Path

from _common import clips, model_path, percentiles

from exsampling.audio import wav_bytes

CHROMIUM = "/usr/bin/chromium"
VISIBLE_CARDS = "() => [...document.querySelectorAll('.exs-card')].filter(c => c.offsetParent !== null).length"


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


def upload(port: int, token: str, wav: bytes) -> float:
    """POST one recording; the time its 201 answer arrived."""
    boundary = uuid.uuid4().hex
    body = (f'--{boundary}\r\nContent-Disposition: form-data; name="token"\r\n\r\n{token}\r\n'
            f'--{boundary}\r\nContent-Disposition: form-data; name="audio"; filename="a.wav"\r\n'
            "Content-Type: audio/wav\r\n\r\n").encode() + wav + f"\r\n--{boundary}--\r\n".encode()
    request = urllib.request.Request(f"http://127.0.0.1:{port}/api/recordings", data=body,
                                     headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
    with urllib.request.urlopen(request, timeout=30) as response:
        json.loads(response.read())
        return time.perf_counter()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=8, help="uploads to time (default 8)")
    args = parser.parse_args()
    model, model_note = model_path()
    work = Path(tempfile.mkdtemp(prefix="exsampling-bench-console-"))
    sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)  # an OSC peer, so sends do not fail
    sink.bind(("127.0.0.1", 0))
    config = work / "show.toml"
    config.write_text(f'[classifier]\nmodel = "{model}"\n[library]\npath = "library"\n[server]\nhost = "127.0.0.1"\n'
                      f'[osc]\nport = {sink.getsockname()[1]}\n[show]\nmode = "auto"\n')
    port, upload_port = free_port(), free_port()
    lines: list[str] = []
    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "exsampling.cli", "console", "--no-browser", "--verbose",
                             "--port", str(port), "--upload-port", str(upload_port), "--config", str(config)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, text=True)
    threading.Thread(target=lambda: lines.extend(proc.stdout), daemon=True).start()
    from playwright.sync_api import sync_playwright

    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=["--disable-dev-shm-usage"])
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            wait_port(port)
            page.goto(f"http://127.0.0.1:{port}/", timeout=120_000)
            page.get_by_text("ready", exact=True).wait_for(timeout=120_000)
            ready_s = time.perf_counter() - started
            token = None
            while token is None:
                found = re.search(r"recorder \(local\): \S+\?token=(\S+)", "".join(lines))
                token = found.group(1) if found else time.sleep(0.1)
            # Voilà refills its pool once the page took the pre-heated kernel: a second kernel loads the model
            # (seconds of CPU on a laptop); time the steady state after it
            deadline = time.monotonic() + 120
            while "".join(lines).count("is filled with") < 2 and time.monotonic() < deadline:
                time.sleep(0.2)
            card_s = []
            for i, y in enumerate(clips(args.n)):
                try:
                    acked = upload(upload_port, token, wav_bytes(y, 22050))
                except urllib.error.HTTPError as exc:
                    raise SystemExit(f"{exc} {exc.read()} token={token!r}") from exc
                page.wait_for_function(f"() => ({VISIBLE_CARDS})() >= {min(i + 1, 12)}", polling="raf",
                                       timeout=30_000)
                card_s.append(time.perf_counter() - acked)
            browser.close()
    finally:
        proc.terminate()
        proc.wait(timeout=60)
    p50, p95 = percentiles(card_s)
    print(f"model: {model_note}")
    cli_ready = re.search(r"console ready in ([0-9.]+) s", "".join(lines))
    print(f"ready: {ready_s:.1f} s from `exsampling console` to the page showing it (target <= 20 s); the command "
          f"itself reported the upload server listening after {cli_ready.group(1) if cli_ready else '?'} s")
    print(f"card:  p50 {p50:.0f} ms, p95 {p95:.0f} ms, max {max(card_s) * 1000:.0f} ms over {len(card_s)} uploads "
          "of 5-s clips, from the upload's 201 to the card on the page (target <= 1000 ms)")


if __name__ == "__main__":
    main()
