"""The recorder end to end in a real browser: Debian's Chromium, a fake microphone playing a real flute's A4 (a
SoundFont the bundled model never heard, rendered by fluidsynth), a fake GPS, and the bundled model.

Set ``EXSAMPLING_SCREENSHOTS=docs/images`` to refresh the documentation's screenshots
(``recorder-before.png``, ``-recording``, ``-review``, ``-result``); otherwise they go to a
temporary folder.
"""
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from test_server import cfg, loop, serve  # noqa: F401  (the live-server fixtures, shared)

from exsampling.pitch import hz_to_midi
from exsampling.resources import default_model

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CHROMIUM = "/usr/bin/chromium"
TIMGM6MB = Path("/usr/share/sounds/sf2/TimGM6mb.sf2")
TONE_HZ = 440.0  # the flute plays MIDI note 69, A4
# Nothing on this closed network answers Google's services: keep Chromium from trying (and waiting).
QUIET = ["--disable-background-networking", "--disable-component-update", "--disable-default-apps",
         "--disable-sync", "--disable-domain-reliability", "--no-first-run", "--no-default-browser-check",
         "--metrics-recording-only", "--disable-features=Translate,OptimizationHints,MediaRouter"]


@pytest.fixture
def fake_mic(tmp_path) -> Path:
    """A 48 kHz mono 16-bit WAV of a flute holding A4 for 6 s, which Chromium's fake capture device loops."""
    from exsampling.corpus import render

    (y,) = render(TIMGM6MB, [(0.0, 6.0, 69, 100)], 73, 0, 48000)
    path = tmp_path / "mic.wav"
    sf.write(path, 0.5 * y / np.max(np.abs(y)), 48000, subtype="PCM_16")
    return path


@pytest.fixture(scope="module")
def bundled():
    from exsampling.classifier import Classifier

    return Classifier.load(default_model())


@pytest.fixture
def shots(tmp_path) -> Path:
    folder = Path(os.environ.get("EXSAMPLING_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs Debian's chromium (make system-deps)")
@pytest.mark.skipif(shutil.which("fluidsynth") is None or not TIMGM6MB.is_file(),
                    reason="needs the Debian packages fluidsynth and timgm6mb-soundfont")
def test_a_phone_records_trims_sends_offline_then_sees_its_sound_played(serve, bundled, osc_peer, fake_mic,  # noqa: F811
                                                                        shots):
    from playwright.sync_api import expect, sync_playwright

    live = serve(classifier=bundled, osc_port=osc_peer.port)
    live.show.prompt = "something that rings"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
            f"--use-file-for-fake-audio-capture={fake_mic}", *QUIET])
        context = browser.new_context(geolocation={"latitude": 35.39, "longitude": 139.43},
                                      permissions=["geolocation"], viewport={"width": 390, "height": 760})
        page = context.new_page()
        page.goto(live.server.urls["local"])
        expect(page.locator("#show")).to_have_attribute("data-state", "open")
        expect(page.locator("#prompt")).to_contain_text("something that rings")
        page.screenshot(path=shots / "recorder-before.png")

        page.click("#record")
        expect(page.locator("body")).to_have_attribute("data-phase", "recording")
        live.show.prompt = "now something wooden"  # the page follows the show without a reload
        page.wait_for_timeout(3000)
        page.screenshot(path=shots / "recorder-recording.png")
        page.click("#stop")
        expect(page.locator("#review")).to_be_visible()
        expect(page.locator("#location-note")).to_contain_text("Location shared")
        expect(page.locator("#prompt")).to_contain_text("now something wooden", timeout=6000)
        page.locator("#trim-start").fill("100")  # keep the last 90 %: the start of a capture is often a click
        page.click("summary")
        page.fill("#name", "Aiko")
        page.screenshot(path=shots / "recorder-review.png", full_page=True)

        context.set_offline(True)  # the phone loses the network just as it sends
        page.click("#send")
        expect(page.locator("#upload-text")).to_contain_text("No connection")
        assert live.pipeline.library.counts()["recordings"] == 0
        context.set_offline(False)  # back: the upload resumes by itself, no new recording

        expect(page.locator("#steps li.stage")).to_contain_text("Played on stage", timeout=30000)
        page.screenshot(path=shots / "recorder-result.png", full_page=True)
        browser.close()

    [rec] = live.pipeline.library.recordings()
    assert (rec.location.lat, rec.location.lon, rec.participant) == (35.39, 139.43, "Aiko")
    info = sf.info(rec.path)
    assert (info.samplerate, info.channels, info.subtype) == (22050, 1, "PCM_16")  # WAV made in the browser
    assert 2.0 < info.duration < 3.0  # ≈ 90 % of the ≈ 3 s recorded
    [sample] = live.pipeline.library.samples(recording_id=rec.id)
    assert abs(100 * (hz_to_midi(sample.pitch_hz) - hz_to_midi(TONE_HZ))) <= 50  # within 50 cents
    assert sample.status == "sent" and osc_peer.wait_for(1)[0][1][0] == sample.id
    assert np.isfinite(sample.confidence)
