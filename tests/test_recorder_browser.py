"""The recorder end to end in a real browser: Debian's Chromium, a fake microphone playing a real flute's A4 (a
SoundFont the bundled model never heard, rendered by fluidsynth), a fake GPS, the bundled model, and either nothing
on stage (an OSC peer that never answers) or Pure Data playing the twin and answering.

Set ``EXSAMPLING_SCREENSHOTS=docs/images`` to refresh the documentation's screenshots
(``recorder-before.png``, ``-recording``, ``-review``, ``-result``, ``-played``); otherwise they go to a
temporary folder.
"""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from test_puredata import PATCH_DIR, PD, PdTwin, free_udp_port
from test_server import cfg, loop, on_loop, serve  # noqa: F401  (the live-server fixtures, shared)

from exsampling.pitch import hz_to_midi
from exsampling.resources import default_model
from exsampling.stage import Stage

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


def launch(p, fake_mic: Path):
    return p.chromium.launch(executable_path=CHROMIUM, args=[
        "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-audio-capture={fake_mic}", *QUIET])


needs_chromium = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs Debian's chromium (make system-deps)")
needs_flute = pytest.mark.skipif(shutil.which("fluidsynth") is None or not TIMGM6MB.is_file(),
                                 reason="needs the Debian packages fluidsynth and timgm6mb-soundfont")


@needs_chromium
@needs_flute
def test_a_phone_records_trims_sends_offline_and_is_told_the_truth_about_the_stage(
        serve, bundled, osc_peer, fake_mic, shots):  # noqa: F811
    """Nothing on stage answers (the OSC peer only listens): the sound ends as "sent", never "played"."""
    from playwright.sync_api import expect, sync_playwright

    live = serve(classifier=bundled, osc_port=osc_peer.port)
    live.show.prompt = "something that rings"
    with sync_playwright() as p:
        browser = launch(p, fake_mic)
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

        expect(page.locator("#steps")).to_contain_text("Sent to the stage — waiting for it to answer", timeout=30000)
        page.screenshot(path=shots / "recorder-result.png", full_page=True)
        page.wait_for_timeout(5000)  # the page keeps asking; nobody answers; it never claims more
        expect(page.locator("#steps")).not_to_contain_text("Played on stage")
        expect(page.locator("#steps")).not_to_contain_text("Loaded on the stage")
        browser.close()

    [rec] = live.pipeline.library.recordings()
    assert (rec.location.lat, rec.location.lon, rec.participant) == (35.39, 139.43, "Aiko")
    info = sf.info(rec.path)
    # a WAV made in the browser, at the rate the server advertised: the chain's (the bundled model's)
    assert (info.samplerate, info.channels, info.subtype) == (live.pipeline.rate, 1, "PCM_16")
    assert 2.0 < info.duration < 3.0  # ≈ 90 % of the ≈ 3 s recorded
    [sample] = live.pipeline.library.samples(recording_id=rec.id)
    assert abs(100 * (hz_to_midi(sample.pitch_hz) - hz_to_midi(TONE_HZ))) <= 50  # within 50 cents
    assert sample.status == "sent" and osc_peer.for_tracks(1)[0][1][0] == sample.id
    assert sample.stage.state == "sent"
    assert live.status(rec.id)["samples"][0]["stage"] == {"state": "sent", "played": 0}
    assert np.isfinite(sample.confidence)


@needs_chromium
@needs_flute
@pytest.mark.skipif(PD is None, reason="needs puredata-core")
def test_the_phone_says_played_only_after_pure_data_played_it(serve, loop, bundled, fake_mic, shots,  # noqa: F811
                                                               tmp_path):
    from playwright.sync_api import expect, sync_playwright

    pd_port = free_udp_port()
    live = serve(classifier=bundled, osc_port=pd_port)
    library = live.pipeline.library
    stage = Stage(library, live.pipeline.sender, listen_port=0)
    on_loop(loop, stage.start)
    pd = subprocess.Popen(
        [PD, "-nogui", "-nosound", "-nomidi", "-nrt", "-stderr", "-r", "44100", "-send", f"exsampling-port {pd_port}",
         "-send", f"exsampling-reply 127.0.0.1 {stage.port}", "-open", str(PATCH_DIR / "exsampling.pd")],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        twin = PdTwin(pd, pd_port, tmp_path)
        twin.wait_for(f"listening on port {pd_port}")
        with sync_playwright() as p:
            browser = launch(p, fake_mic)
            page = browser.new_context(viewport={"width": 390, "height": 760}).new_page()
            page.goto(live.server.urls["local"])
            page.click("#record")
            page.wait_for_timeout(2000)
            page.click("#stop")
            page.click("#send")
            expect(page.locator("#steps")).to_contain_text("Loaded on the stage", timeout=30000)
            [sample] = library.samples()
            assert sample.stage.state == "loaded", "the page said loaded only because pd did"
            twin.wait_for(f"new sample {sample.id}")
            page.wait_for_timeout(2000)  # nothing played yet: the page must not say so
            expect(page.locator("#steps li.stage")).to_have_count(0)
            subprocess.run([sys.executable, "-m", "exsampling.cli", "note", sample.instrument, "69", "--hold-s",
                            "0.2", "--osc-port", str(pd_port)], check=True, timeout=60)
            expect(page.locator("#steps li.stage")).to_contain_text("Played on stage", timeout=15000)
            page.screenshot(path=shots / "recorder-played.png", full_page=True)
            browser.close()
    finally:
        pd.kill()
        pd.wait(10)
        on_loop(loop, stage.stop)
    assert live.status(sample.recording_id)["samples"][0]["stage"] == {"state": "played", "played": 1}
