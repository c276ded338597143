"""The recorder in Safari's and Firefox's engines (Chromium's runs in test_recorder_browser.py): WebKitGTK with its
mock microphone, Firefox ESR with its fake stream, each against the real server. Record, listen, trim, send and
the result; no microphone; no media API; the join page's phone's-own-recorder path over plain HTTP on the LAN; and
the two hangs where they happen: WebKit's geolocation that never answers, Firefox's AudioContext with no audio
output.

Waits are on conditions (generous: a busy 2-core machine), never sleeps. Set ``EXSAMPLING_SCREENSHOTS=docs/images``
to refresh the documentation's pictures of each engine (``recorder-<engine>-review``, ``-result``,
``recorder-firefox-no-audio``, ``join-<engine>``, ``own-recorder-<engine>``).
"""
import os
import shutil
import subprocess
from pathlib import Path

import librosa
import numpy as np
import pytest
import soundfile as sf
from engines import MIC_HZ, WAIT_S, Browser, missing, start
from test_server import TOKEN, cfg, loop, serve  # noqa: F401  (the live-server fixtures, shared)

from exsampling.server import lan_address

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ENGINES = [pytest.param(e, marks=pytest.mark.skipif(bool(missing(e)), reason=missing(e) or "-"))
           for e in ("webkit", "firefox")]
LAN = lan_address()


@pytest.fixture
def shots(tmp_path) -> Path:
    folder = Path(os.environ.get("EXSAMPLING_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture
def browsers():
    """``browsers(engine, **options)`` → a started :class:`~engines.Browser`; every one is closed afterwards."""
    started: list[Browser] = []

    def _start(engine: str, **options) -> Browser:
        started.append(start(engine, **options))
        return started[-1]

    yield _start
    for browser in started:
        browser.close()


class Page:
    """What a test does on a page, by CSS selector, with waits on conditions."""

    def __init__(self, browser: Browser) -> None:
        self.driver, self.engine = browser.driver, browser.engine

    def js(self, script: str, *args):
        return self.driver.execute_script(script, *args)

    def el(self, css: str):
        from selenium.webdriver.common.by import By

        return self.driver.find_element(By.CSS_SELECTOR, css)

    def text(self, css: str) -> str:
        return self.js("return document.querySelector(arguments[0]).textContent", css)

    def shown(self, css: str) -> bool:
        return self.js("const e = document.querySelector(arguments[0]); return !!e && e.offsetParent !== null", css)

    def wait(self, condition, what: str, timeout: float = WAIT_S) -> None:
        from selenium.webdriver.support.ui import WebDriverWait

        WebDriverWait(self.driver, timeout, poll_frequency=0.2).until(lambda _: condition(), what)

    def wait_text(self, css: str, part: str, timeout: float = WAIT_S) -> None:
        self.wait(lambda: part in self.text(css), f"{css} never said {part!r} (it says {self.text(css)!r})", timeout)

    def click(self, css: str) -> None:
        self.el(css).click()

    def screenshot(self, path: Path) -> None:
        # WebKit's screenshot can trail the page by a paint: wait for two animation frames first
        self.driver.execute_async_script("const done = arguments[0]; "
                                         "requestAnimationFrame(() => requestAnimationFrame(() => done()));")
        self.driver.save_screenshot(str(path))


def dominant_hz(path: str) -> float:
    """The strongest frequency of the recording's steady part (the median spectrum: brief beeps do not count)."""
    y, sr = sf.read(path, dtype="float32")
    spectrum = np.median(np.abs(librosa.stft(y, n_fft=8192, hop_length=2048)), axis=1)
    return float(np.argmax(spectrum) * sr / 8192)


@pytest.mark.parametrize("engine", ENGINES)
def test_record_listen_trim_send_and_the_result(serve, browsers, shots, engine):  # noqa: F811
    live = serve()
    live.show.prompt = "something that rings"
    page = Page(browsers(engine))
    page.driver.get(live.server.urls["local"])
    page.wait(lambda: page.js("return document.querySelector('#show').dataset.state") == "open", "show not open")
    page.wait_text("#prompt", "something that rings")

    page.click("#record")
    page.wait(lambda: page.js("return document.body.dataset.phase") == "recording", "never recording")
    # at least 2 s recorded (the countdown starts at 30 s)
    page.wait(lambda: (page.text("#countdown").split() or ["99"])[0].isdigit()
              and int(page.text("#countdown").split()[0]) <= 28, "the countdown never moved")
    page.click("#stop")
    page.wait(lambda: page.shown("#review"), "no review after stopping")
    if engine == "webkit":  # its geolocation never answers: the page's own deadline speaks, with a retry
        page.wait_text("#location-note", "No location after 10 s")
        assert page.shown("#location-retry")
    else:
        page.wait_text("#location-note", "Location shared")
    page.js("const s = document.querySelector('#trim-start'); s.value = 100; s.dispatchEvent(new Event('input'));")
    page.wait_text("#selection", "Sending")
    page.click("#play")  # listen back
    page.wait_text("#play", "Stop playback")
    page.click("#play")
    page.wait_text("#play", "Play")
    page.js("document.querySelector('#send').scrollIntoView({block: 'end'})")  # the location's note in sight
    page.screenshot(shots / f"recorder-{engine}-review.png")

    page.click("#send")
    page.wait_text("#steps", "Received by the show")
    page.wait_text("#steps", "Not classified")  # processed: the server here runs without a model
    page.screenshot(shots / f"recorder-{engine}-result.png")

    [rec] = live.pipeline.library.recordings()
    info = sf.info(rec.path)
    assert (info.samplerate, info.channels, info.subtype) == (live.pipeline.rate, 1, "PCM_16")
    assert 1.5 < info.duration < 29
    assert abs(dominant_hz(rec.path) / MIC_HZ[engine] - 1) < 0.03  # the engine's microphone, not noise
    if engine == "webkit":
        assert rec.location is None  # sent without one, as the page said
    else:
        assert (rec.location.lat, rec.location.lon) == (35.39, 139.43)
    assert live.status(rec.id)["status"] == "done"


@pytest.mark.parametrize("engine", ENGINES)
def test_no_microphone_says_so_and_offers_the_phones_own_recorder(serve, browsers, engine):  # noqa: F811
    live = serve()
    page = Page(browsers(engine, mic=False))
    page.driver.get(live.server.urls["local"])
    page.wait(lambda: page.js("return document.querySelector('#show').dataset.state") == "open", "show not open")
    page.click("#record")
    page.wait_text("#error-text", "No microphone was found")
    assert page.shown("#own-recorder") and page.js("return document.body.dataset.phase") == "idle"


@pytest.mark.skipif(bool(missing("webkit")), reason=missing("webkit") or "-")
def test_webkit_without_the_media_api_says_so_before_the_tap(serve, browsers):  # noqa: F811
    live = serve()
    page = Page(browsers("webkit", media=False))
    page.driver.get(live.server.urls["local"])
    page.wait(lambda: page.shown("#mini-browser"), "no notice")
    assert "cannot record" in page.text("#mini-text")
    assert page.js("return document.querySelector('#record').disabled") is True
    assert page.shown("#own-recorder")


@pytest.mark.skipif(bool(missing("firefox")), reason=missing("firefox") or "-")
def test_firefox_without_an_audio_output_is_told_within_seconds_and_offered_a_way_on(serve, browsers, shots):  # noqa: F811
    """Firefox's AudioContext never starts without an audio output (its resume() never settles)."""
    live = serve()
    page = Page(browsers("firefox", audio_output=False))
    page.driver.get(live.server.urls["local"])
    page.wait(lambda: page.js("return document.querySelector('#show').dataset.state") == "open", "show not open")
    page.click("#record")
    page.wait_text("#error-text", "did not start its audio within 5 s")
    assert page.shown("#own-recorder")
    assert page.js("return [document.body.dataset.phase, document.querySelector('#record').disabled]") \
        == ["idle", False]
    page.screenshot(shots / "recorder-firefox-no-audio.png")


@pytest.mark.skipif(LAN is None, reason="this machine has no LAN address")
@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="needs Debian's ffmpeg")
@pytest.mark.parametrize("engine", ENGINES)
def test_the_join_page_on_plain_http_sends_what_the_phones_recorder_saved(serve, browsers, shots, tmp_path,  # noqa: F811
                                                                          engine):
    memo = tmp_path / "voice-memo.m4a"  # what an iPhone's voice memo or an Android recorder saves
    subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-f", "lavfi", "-i", "sine=f=440:d=3", "-c:a", "aac",
                    str(memo)], check=True, timeout=120)
    live = serve(host="0.0.0.0")
    page = Page(browsers(engine))
    page.driver.get(live.server.urls["join"])  # what the QR code holds on a LAN: plain HTTP, no warning
    page.wait(lambda: page.shown("#own-go"), "no phone's-recorder offer on the join page")
    page.screenshot(shots / f"join-{engine}.png")
    page.click("#own-go")
    page.wait(lambda: page.shown("#own-recorder"), "no file input on the plain-HTTP recorder page")
    assert page.js("return window.isSecureContext") is False and not page.shown("#record")
    page.wait(lambda: page.js("return document.querySelector('#show').dataset.state") == "open", "show not open")
    page.screenshot(shots / f"own-recorder-{engine}.png")
    page.el("#own-file").send_keys(str(memo))  # the file the phone's recorder hands back
    page.wait_text("#steps", "Received by the show")
    page.wait_text("#steps", "Not classified")
    [rec] = live.pipeline.library.recordings()
    assert rec.path.endswith(".m4a") and Path(rec.path).read_bytes() == memo.read_bytes()
    assert live.status(rec.id)["status"] == "done" and TOKEN in live.server.urls["join"]
