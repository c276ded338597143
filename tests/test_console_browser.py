"""The console in a real browser: `exsampling console` (Voilà), headless Debian Chromium, real uploads and OSC.

Screenshots go to a temporary folder; ``EXSAMPLING_SCREENSHOTS=docs/images pytest tests/test_console_browser.py``
refreshes the documentation's pictures.
"""
import io
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import numpy as np
import pytest
from conftest import SILENT_LINE, SR, free_port, noise_bursts, tone, write

from exsampling.resources import default_model

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CHROMIUM = "/usr/bin/chromium"
TIMGM6MB = Path("/usr/share/sounds/sf2/TimGM6mb.sf2")
# Any `_xsrf` cookie for the host lets Voilà's unload beacon shut a page's kernel down (as JupyterLab's cookie
# on the same machine does): with it, closing or reloading a tab really asks Voilà to stop the show's kernel.
XSRF_COOKIE = "2|1a2b3c4d|0f0e0d0c0b0a09080706050403020100|1700000000"

if not Path(CHROMIUM).exists():
    pytest.skip("Debian's chromium is not installed (make system-deps)", allow_module_level=True)


class RunningConsole:
    """``exsampling console --no-browser`` as a performer starts it, with its output collected."""

    def __init__(self, config: Path, port: int, upload_port: int, token: str | None = None) -> None:
        self.port, self.upload_port, self.lines = port, upload_port, []
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "exsampling.cli", "console", "--no-browser", "--port", str(port),
             "--upload-port", str(upload_port), "--config", str(config), *(["--token", token] if token else [])],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, text=True)
        threading.Thread(target=self._collect, daemon=True).start()

    def _collect(self) -> None:
        for line in self.proc.stdout:
            self.lines.append(line)

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def wait_ready(self, timeout=120.0) -> str:
        """The show token, once the command says the console is ready."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = re.search(r"recorder \(local\): \S+\?token=(\S+)", self.output)
            if found:
                return found.group(1)
            assert self.proc.poll() is None, self.output[-3000:]
            time.sleep(0.2)
        raise AssertionError(f"not ready in {timeout} s:\n{self.output[-3000:]}")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    @property
    def log(self) -> str:
        """What Voilà and the kernels wrote (to the log file the command names)."""
        found = re.search(r"^log: +(\S+)", self.output, re.MULTILINE)
        assert found, self.output
        return Path(found.group(1)).read_text(encoding="utf-8")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=60)


def show_config(tmp_path, tiny_model, osc_port, mode="preview") -> Path:
    path = tmp_path / "show.toml"
    path.write_text(f'[classifier]\nmodel = "{tiny_model}"\n[library]\npath = "library"\n[server]\nhost = "127.0.0.1"\n'
                    f'[osc]\nport = {osc_port}\nlisten_port = 0\n[show]\nmode = "{mode}"\n')
    return path


def upload(port: int, token: str, wav: Path, name="", lat=None, lon=None, photo: bytes | None = None) -> dict:
    """POST /api/recordings as the recorder page does (multipart), over real HTTP."""
    boundary = uuid.uuid4().hex
    fields = {"token": token, "name": name} | ({"lat": lat, "lon": lon, "accuracy": 12} if lat is not None else {})
    body = b"".join(f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
                    for k, v in fields.items())
    files = [("audio", "sound.wav", "audio/wav", wav.read_bytes())]
    if photo is not None:
        files.append(("photo", "photo.jpg", "image/jpeg", photo))
    for field, filename, kind, data in files:
        body += (f'--{boundary}\r\nContent-Disposition: form-data; name="{field}"; filename="{filename}"\r\n'
                 f"Content-Type: {kind}\r\n\r\n").encode() + data + b"\r\n"
    body += f"--{boundary}--\r\n".encode()
    request = urllib.request.Request(f"http://127.0.0.1:{port}/api/recordings", data=body,
                                     headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.status == 201
        return json.loads(response.read())


def recording(port: int, token: str, recording_id: int, timeout=120.0) -> dict:
    """GET /api/recordings/<id> until it is processed (the page says "ready" before its model has loaded: the
    first recording waits for TensorFlow's import, seconds, more on a busy machine)."""
    deadline = time.monotonic() + timeout
    while True:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/recordings/{recording_id}?token={token}") as r:
            state = json.loads(r.read())
        if state["status"] in ("done", "silent", "failed") or time.monotonic() > deadline:
            return state
        time.sleep(0.1)


def browser_context(playwright):
    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--disable-dev-shm-usage"])
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    context.add_cookies([{"name": "_xsrf", "value": XSRF_COOKIE, "domain": "127.0.0.1", "path": "/"}])
    return browser, context


def open_console(context, url: str):
    page = context.new_page()
    # Voilà answers once a kernel has run the notebook; a page opened soon after another waits for the pool's
    # next kernel (TensorFlow and the model load there: ≈ 10 s on an idle 2-core machine, 20-40 s when other
    # work shares it). How long is for bench/console.py to measure; this only bounds a hang.
    page.goto(url, timeout=120_000)
    page.wait_for_selector(".exs-console", timeout=60_000)
    return page


def card(page, sample_id: int):
    return page.locator(".exs-card", has_text=f"#{sample_id} ")


@pytest.fixture
def images(tmp_path) -> Path:
    return Path(os.environ.get("EXSAMPLING_SCREENSHOTS") or tmp_path)


@pytest.fixture
def ports():
    return free_port(socket.SOCK_STREAM), free_port(socket.SOCK_STREAM)


def test_the_command_takes_sounds_before_the_console_starts_and_the_console_plays_them(tmp_path, tiny_model,
                                                                                        osc_peer, ports):
    from exsampling.library import Library
    from exsampling.show_state import read_owner

    token, wav = "early-bird-1", write(tmp_path / "tone.wav", tone(440.0, 2.0))
    running = RunningConsole(show_config(tmp_path, tiny_model, osc_peer.port, mode="auto"), *ports, token=token)
    try:
        while True:  # a phone that scanned the QR code before the console was up
            try:
                early = upload(ports[1], token, wav, name="early")
                break
            except (urllib.error.URLError, ConnectionError):
                assert running.proc.poll() is None, running.output[-3000:]
                time.sleep(0.05)
        assert "console ready" not in running.output  # answered by the command itself, before the console
        assert "ExSampling takes sounds after" in running.output, running.output
        assert early["status"] == "received"
        running.wait_ready()
        owner = read_owner(Library(tmp_path / "library"))
        assert owner is not None and not owner.interim and owner.kernel  # the console's kernel runs the show now
        later = upload(ports[1], token, wav, name="later")
        for acked in (early, later):  # the console processes what the command stored, first in first out
            assert recording(ports[1], token, acked["id"])["status"] == "done"
        sent = [args[0] for address, args in osc_peer.for_tracks(2, timeout=60)
                if address.startswith("/exsampling/sample/")]
        assert len(sent) == 2 and sent == sorted(sent), osc_peer.messages  # the early one's sample first
    finally:
        running.stop()
    assert "Traceback" not in running.log


def test_live_show_in_the_browser(tmp_path, tiny_model, osc_peer, ports, images):
    from playwright.sync_api import expect, sync_playwright

    running = RunningConsole(show_config(tmp_path, tiny_model, osc_peer.port), *ports)
    try:
        token = running.wait_ready()
        with sync_playwright() as p:
            browser, context = browser_context(p)
            page = open_console(context, running.url)
            expect(page.get_by_text("ready", exact=True)).to_be_visible(timeout=30_000)
            expect(page.get_by_text("No sounds yet")).to_be_visible()
            page.get_by_role("button", name="⤢ big QR").click()  # for the back of the room: square, window-sized
            qr = page.locator(".exs-qr img")
            page.wait_for_function("() => document.querySelector('.exs-qr img').getBoundingClientRect().width > 800")
            box = qr.bounding_box()
            assert abs(box["width"] - box["height"]) <= 2 and box["height"] >= 0.9 * (1000 - 64), box
            page.screenshot(path=images / "console-big-qr.png")
            page.get_by_role("button", name="⤢ big QR").click()
            page.wait_for_function("() => document.querySelector('.exs-qr img').getBoundingClientRect().width < 300")
            box = qr.bounding_box()
            assert abs(box["width"] - box["height"]) <= 2, box  # square in the header too

            rec = upload(running.upload_port, token, write(tmp_path / "a440.wav", tone(440, 3.0)), name="Ana",
                         lat=35.6586, lon=139.7454)
            [sample] = recording(running.upload_port, token, rec["id"])["samples"]
            shown = card(page, sample["id"])
            expect(shown).to_contain_text("A4 · 44", timeout=5_000)
            expect(shown).to_contain_text(sample["label"])
            expect(shown).to_contain_text(sample["instrument"])
            assert osc_peer.for_tracks(1, timeout=0.5) == []  # preview mode: nothing on stage yet

            shown.get_by_role("button", name="✓ accept").click()
            [(address, args)] = osc_peer.for_tracks(1)
            assert address == f"/exsampling/sample/{sample['instrument']}" and args[0] == sample["id"]
            expect(shown).to_contain_text("sent")

            second = open_console(context, running.url)  # a second tab takes the show over cleanly
            expect(second.get_by_text("ready", exact=True)).to_be_visible(timeout=30_000)
            expect(card(second, sample["id"])).to_be_visible()
            expect(page.get_by_text("Read-only.")).to_be_visible(timeout=5_000)
            expect(card(page, sample["id"]).get_by_role("button", name="✕ reject")).to_be_disabled()
            assert "Traceback" not in second.content()

            for tab in (page, second):  # closing every tab, with the unload beacon, must not stop uploads
                tab.close(run_before_unload=True)
            time.sleep(1.5)
            browser.close()
        later = upload(running.upload_port, token, write(tmp_path / "hits.wav", noise_bursts(2.0)))
        assert recording(running.upload_port, token, later["id"])["status"] == "done"
        assert "keeping kernel" in running.log  # Voilà asked; the show's kernel was kept
        # the terminal shows the project's own lines only: Voilà, Jupyter and TensorFlow talk to the log
        assert "[Voila]" in running.log and "Kernel started" in running.log
        for noise in ("[Voila]", "[IPKernelApp]", "WARNING", "tensorflow", "Traceback"):
            assert noise not in running.output, running.output
    finally:
        running.stop()


def photo_jpeg() -> bytes:
    from PIL import Image

    y, x = np.mgrid[0:240, 0:320]
    rgb = np.stack([x * 255 // 320, y * 255 // 240, np.full_like(x, 160)], axis=-1).astype("uint8")
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="JPEG")
    return buf.getvalue()


def instrument_note(program: int, channel: int, key: int, seconds: float) -> np.ndarray:
    """A real instrument's note: TimGM6mb (a SoundFont the bundled model never heard) rendered by fluidsynth."""
    from exsampling.corpus import render

    (y,) = render(TIMGM6MB, [(0.1, seconds, key, 110)], program, channel, SR)
    return y


@pytest.mark.skipif(shutil.which("fluidsynth") is None or not TIMGM6MB.is_file(),
                    reason="needs the Debian packages fluidsynth and timgm6mb-soundfont")
@pytest.mark.skipif(shutil.which("pd") is None, reason="needs puredata-core")
def test_the_page_shows_what_the_stage_answers(tmp_path, tiny_model, ports, images):
    """Pure Data as the stage: 'loaded' and 'played ×1' on the card only after pd did, then the header turns red
    when pd is gone."""
    from playwright.sync_api import expect, sync_playwright

    pd_port = free_port()
    pd = subprocess.Popen(  # the twin first: the console tells it where to answer as soon as it starts
        ["pd", "-nogui", "-nosound", "-nomidi", "-nrt", "-stderr", "-r", "44100", "-send",
         f"exsampling-port {pd_port}", "-open", str(Path(__file__).parent.parent / "maxpatch" / "exsampling.pd")],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    running = RunningConsole(show_config(tmp_path, tiny_model, pd_port, mode="auto"), *ports)
    try:
        token = running.wait_ready()
        with sync_playwright() as p:
            browser, context = browser_context(p)
            page = open_console(context, running.url)
            expect(page.get_by_text("ready", exact=True)).to_be_visible(timeout=30_000)
            expect(page.locator(".exs-stage-ok")).to_contain_text("stage: 1 device, 9 tracks", timeout=15_000)

            rec = upload(running.upload_port, token, write(tmp_path / "a440.wav", tone(440, 3.0)))
            [sample] = recording(running.upload_port, token, rec["id"])["samples"]
            shown = card(page, sample["id"])
            expect(shown.locator(".exs-sent")).to_have_text("loaded", timeout=10_000)
            assert recording(running.upload_port, token, rec["id"])["samples"][0]["stage"] == {
                "state": "loaded", "played": 0}
            subprocess.run([sys.executable, "-m", "exsampling.cli", "note", sample["instrument"], "69", "--hold-s",
                            "0.1", "--osc-port", str(pd_port)], check=True, timeout=60)
            expect(shown.locator(".exs-played")).to_have_text("played ×1", timeout=10_000)
            assert recording(running.upload_port, token, rec["id"])["samples"][0]["stage"] == {
                "state": "played", "played": 1}
            page.screenshot(path=images / "console-stage.png", full_page=False)

            pd.kill()  # the stage goes away: within 10 s the header says so, in red
            expect(page.locator(".exs-stage-silent")).to_contain_text(SILENT_LINE, timeout=15_000)
            browser.close()
    finally:
        pd.kill()
        pd.wait(10)
        running.stop()


def test_a_restart_shows_the_whole_show_again(tmp_path, osc_peer, ports, images):
    """Also the README's pictures: the bundled model on real instrument notes (EXSAMPLING_SCREENSHOTS=docs/images)."""
    from playwright.sync_api import expect, sync_playwright

    config = show_config(tmp_path, default_model(), osc_peer.port, mode="auto")
    sounds = [("Ana", instrument_note(73, 0, 76, 2.0), 35.6586, 139.7454),  # a flute
              ("Ben", instrument_note(43, 0, 40, 2.0), 35.6600, 139.7490),  # a double bass
              ("Chloé", instrument_note(0, 9, 40, 0.3), 35.6562, 139.7428),  # a snare drum
              ("", instrument_note(9, 0, 84, 1.0), 35.6610, 139.7420)]  # a glockenspiel
    running = RunningConsole(config, *ports)
    try:
        token = running.wait_ready()
        ids = []
        for i, (name, y, lat, lon) in enumerate(sounds):
            rec = upload(running.upload_port, token, write(tmp_path / f"s{i}.wav", y), name=name, lat=lat, lon=lon,
                         photo=photo_jpeg() if i == 1 else None)
            ids += [s["id"] for s in recording(running.upload_port, token, rec["id"])["samples"]]
        running.stop()

        running = RunningConsole(config, *ports)
        assert running.wait_ready() == token  # the QR code printed before the restart still works
        with sync_playwright() as p:
            browser, context = browser_context(p)
            page = open_console(context, running.url)
            expect(page.get_by_text("ready", exact=True)).to_be_visible(timeout=30_000)
            for sample_id in ids:
                expect(card(page, sample_id)).to_be_visible()
            expect(page.locator(".exs-map path.leaflet-interactive")).to_have_count(len(sounds))
            # re-label in the page: the performer hears a telephone in the glockenspiel, a cello in the bass
            for sample_id, label, instrument in ((ids[3], "Telephone", "Piano"), (ids[1], "Cello", "Bass")):
                card(page, sample_id).locator("select").select_option(label)
                expect(card(page, sample_id)).to_contain_text(f"{label} (your label")
                expect(card(page, sample_id)).to_contain_text(f"→ {instrument}")
            page.set_viewport_size({"width": 1400, "height": 1300})
            page.screenshot(path=images / "console-show.png")
            page.get_by_text("Mapping: class → instrument").click()
            page.locator(".exs-mapping").screenshot(path=images / "console-mapping.png")
            browser.close()
    finally:
        running.stop()


def test_an_old_show_in_the_console_and_its_replay(tmp_path, tiny_model, osc_peer, ports, images, made_show):
    """The "Old shows" panel: open last night's zip read-only, look, listen, and replay it into tonight's show."""
    from playwright.sync_api import expect, sync_playwright

    from exsampling.archive import export_show
    from exsampling.config import load
    from exsampling.library import Library

    kept = export_show(Library(made_show.library), load(made_show.config), tmp_path / "last-night.zip").path
    running = RunningConsole(show_config(tmp_path, tiny_model, osc_peer.port, mode="auto"), *ports)
    try:
        running.wait_ready()
        with sync_playwright() as p:
            browser, context = browser_context(p)
            page = open_console(context, running.url)
            expect(page.get_by_text("ready", exact=True)).to_be_visible(timeout=30_000)
            page.get_by_text("Old shows: open, listen, replay").click()
            panel = page.locator(".exs-kept")
            panel.locator("input[type=text]").first.fill(str(kept))
            panel.get_by_role("button", name="open").click()
            expect(panel.locator("svg.timeline circle")).to_have_count(7, timeout=30_000)
            expect(panel.locator("svg.map circle.marker")).to_have_count(5)
            expect(panel).to_contain_text("read-only")
            page.set_viewport_size({"width": 1400, "height": 2600})  # a screenshot shows what is in the viewport
            panel.screenshot(path=images / "console-old-show.png")

            panel.locator("select").last.select_option(label="as fast as possible")
            panel.get_by_role("button", name="▶ replay into this show").click()
            expect(panel.locator("pre")).to_contain_text("decisions that differ from the show", timeout=120_000)
            tonight = sorted(Library(tmp_path / "library").samples(), key=lambda s: s.id)
            assert len(tonight) == 7 and {s.status for s in tonight} == {"sent"}
            for sample in tonight:  # the replayed sounds arrived as cards, as the audience's would
                expect(card(page, sample.id)).to_be_visible()
            assert len(osc_peer.wait_for(7)) >= 7
            panel.screenshot(path=images / "console-replay.png")
            assert "Traceback" not in page.content()
            browser.close()
    finally:
        running.stop()


def test_the_page_after_a_config_fixed_mid_edit_runs_the_show(tmp_path, tiny_model, osc_peer, ports):
    """Voilà's spare kernel runs the notebook while the file is mid-edit; the page opened once it is fixed runs the
    show (before: a ConfigError traceback, never ready, until a second reload). Plain HTTP: no browser needed."""
    from exsampling.library import Library
    from exsampling.show_state import read_owner

    config = show_config(tmp_path, tiny_model, osc_peer.port)
    good = config.read_text()
    running = RunningConsole(config, *ports)
    try:
        running.wait_ready()
        library = Library(tmp_path / "library")
        first = read_owner(library).kernel
        urllib.request.urlopen(running.url, timeout=300).read()  # the first page: Voilà starts a spare kernel
        config.write_text(good + "[mapping]\nBark = 'Snare\n")  # mid-edit: not TOML
        deadline = time.monotonic() + 120
        while running.log.count("is filled") < 2:  # the spare has started...
            assert time.monotonic() < deadline, running.log[-3000:]
            time.sleep(0.5)
        time.sleep(30)  # ...and reads the config as it runs the notebook
        config.write_text(good)
        page = urllib.request.urlopen(running.url, timeout=300).read().decode()
        assert "Traceback" not in page and "ConfigError" not in page
        while read_owner(library).kernel == first:  # the new page's kernel takes the show over
            assert time.monotonic() < deadline + 150, running.log[-3000:]
            time.sleep(0.5)
    finally:
        running.proc.terminate()
        running.proc.wait(60)
