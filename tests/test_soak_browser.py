"""Soak: real recorder pages in headless Chromium contexts (phones that accepted the show's certificate) record
and upload over LAN HTTPS while hostile traffic hits the same server; nothing acknowledged is lost.

Bounded: 6 phones × 2 recordings, one network cut, a few hundred junk requests. Loopback/LAN address only.
"""
import socket
import threading
import time
from pathlib import Path

import pytest
import requests
import soundfile as sf
from test_hostile import GOOD, post_raw
from test_recorder_browser import CHROMIUM, QUIET, fake_mic  # noqa: F401  (the fake microphone fixture)
from test_server import TOKEN, cfg, loop, serve  # noqa: F401  (the live-server fixtures, shared)

from exsampling.server import lan_address

pytestmark = [pytest.mark.browser, pytest.mark.slow,
              pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs Debian's chromium")]

PHONES = 6
TAKES = 2


def hostile(port: int, https_port: int, stop: threading.Event) -> dict[str, int]:
    """Junk until ``stop``: idle sockets, malformed forms, wrong tokens, a TLS handshake never finished. Like any
    attacker it shrugs off what the server does to it (a closed socket, a timeout) and counts what it sent."""
    sent = {"idle": 0, "bad_form": 0, "bad_token": 0, "no_tls": 0, "shrugged": 0}
    idle: list[socket.socket] = []
    attacks = {
        "idle": lambda: idle.append(socket.create_connection(("127.0.0.1", port), timeout=5)),
        "bad_form": lambda: post_raw(port, GOOD[:300]),
        "bad_token": lambda: requests.get(f"http://127.0.0.1:{port}/api/show?token=wrong", timeout=5),
        "no_tls": lambda: idle.append(socket.create_connection(("127.0.0.1", https_port), timeout=5)),
    }
    while not stop.is_set():
        for kind, attack in attacks.items():
            try:
                attack()
                sent[kind] += 1
            except (OSError, requests.RequestException):
                sent["shrugged"] += 1
        while len(idle) > 60:
            idle.pop(0).close()
        time.sleep(0.05)
    for sock in idle:
        sock.close()
    return sent


def test_phones_record_and_upload_over_lan_https_under_hostile_traffic_and_nothing_is_lost(serve, fake_mic):  # noqa: F811
    from playwright.sync_api import expect, sync_playwright

    live = serve(host="0.0.0.0", rate_limit=TAKES, rate_limit_per_address=PHONES * TAKES)  # the venue's NAT
    host = lan_address() or "127.0.0.1"
    recorder = f"https://{host}:{live.server.https_port}/?token={TOKEN}"
    stop, junk = threading.Event(), {}
    attacker = threading.Thread(target=lambda: junk.update(hostile(live.server.port, live.server.https_port, stop)))
    attacker.start()
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=[
                "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
                f"--use-file-for-fake-audio-capture={fake_mic}", *QUIET])
            contexts = [browser.new_context(ignore_https_errors=True, viewport={"width": 390, "height": 760})
                        for _ in range(PHONES)]
            pages = [c.new_page() for c in contexts]
            for page in pages:
                page.goto(recorder)
                expect(page.locator("#show")).to_have_attribute("data-state", "open")
            for take in range(TAKES):
                for page in pages:  # every phone records at once
                    page.click("#record")
                for page in pages:
                    expect(page.locator("body")).to_have_attribute("data-phase", "recording")
                pages[0].wait_for_timeout(1200)
                for page in pages:
                    page.click("#stop")
                    expect(page.locator("#review")).to_be_visible()
                if take == 1:
                    contexts[0].set_offline(True)  # one phone loses the network as it sends
                for page in pages:
                    page.click("#send")
                if take == 1:
                    expect(pages[0].locator("#upload-text")).to_contain_text("No connection")
                    contexts[0].set_offline(False)
                for page in pages:
                    expect(page.locator("#steps")).to_contain_text("Received by the show", timeout=30000)
                    if take == 0:
                        page.click("#another")
            browser.close()
    finally:
        stop.set()
        attacker.join(30)
    library = live.pipeline.library
    recordings = library.recordings()
    assert len(recordings) == PHONES * TAKES
    for rec in recordings:
        assert live.wait_processed(rec.id)["status"] == "done"
        info = sf.info(rec.path)
        assert (info.samplerate, info.channels) == (22050, 1) and info.duration > 0.8  # what each phone recorded
    assert junk["bad_form"] > 10 and junk["idle"] > 10, junk
    assert library.sweep() == []  # nothing half-stored
