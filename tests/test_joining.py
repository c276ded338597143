"""Joining at a venue: the plain-HTTP join page on the LAN, the LAN certificate that follows the laptop's
addresses, and (in a real browser) the join page sending a phone on to the HTTPS recorder."""
import hashlib
import os
import re
import shutil
import ssl
import subprocess
from pathlib import Path

import pytest
import requests
from conftest import tone
from test_recorder_browser import CHROMIUM, QUIET
from test_server import TOKEN, cfg, loop, serve, wav  # noqa: F401  (the live-server fixtures, shared)

from exsampling.server import ensure_certificate, lan_address

LAN = lan_address()
needs_lan = pytest.mark.skipif(LAN is None, reason="this machine has no LAN address")


def fingerprint(cert: Path) -> str:
    """The certificate's SHA-256 fingerprint as browsers show it (AB:CD:…)."""
    der = ssl.PEM_cert_to_DER_cert(cert.read_text())
    return ":".join(f"{b:02X}" for b in hashlib.sha256(der).digest())


def names_in(cert: Path) -> set[str]:
    text = subprocess.run(["openssl", "x509", "-in", str(cert), "-noout", "-ext", "subjectAltName"],
                          check=True, capture_output=True, text=True).stdout
    return set(re.findall(r"(?:DNS|IP Address):([^,\s]+)", text))


def test_the_certificate_follows_the_laptops_addresses(tmp_path):
    folder = tmp_path / "tls"
    cert, _ = ensure_certificate(folder, ["192.0.2.1"])
    first = cert.read_bytes()
    assert {"localhost", "127.0.0.1", "192.0.2.1"} <= names_in(cert)
    assert ensure_certificate(folder, ["192.0.2.1"])[0].read_bytes() == first  # same venue: kept
    cert, _ = ensure_certificate(folder, ["198.51.100.7"])  # another venue's network
    assert "198.51.100.7" in names_in(cert) and cert.read_bytes() != first


def test_a_certificate_about_to_expire_is_renewed(tmp_path):
    folder = tmp_path / "tls"
    folder.mkdir()
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "5", "-subj", "/CN=old",
                    "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1,IP:192.0.2.1",
                    "-keyout", str(folder / "key.pem"), "-out", str(folder / "cert.pem")],
                   check=True, capture_output=True)
    old = (folder / "cert.pem").read_bytes()
    cert, _ = ensure_certificate(folder, ["192.0.2.1"])
    assert cert.read_bytes() != old
    end = subprocess.run(["openssl", "x509", "-in", str(cert), "-noout", "-checkend", str(400 * 86400)],
                         check=False, capture_output=True)
    assert end.returncode == 0  # valid for more than 400 days again


@needs_lan
def test_the_join_page_explains_the_warning_per_browser_and_shows_the_fingerprint(serve):  # noqa: F811
    live = serve(host="0.0.0.0", lan_http_uploads=False)
    server = live.server
    join = f"http://{LAN}:{server.port}/join?token={TOKEN}"
    assert server.urls["join"] == join and server.recorder_url == join  # what the QR code holds
    page = requests.get(join, timeout=10)
    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
    text = page.text
    assert fingerprint(server.certificate) in text
    assert f'href="https://{LAN}:{server.https_port}/?token={TOKEN}"' in text
    for browser, steps in {"iOS Safari": ["Show Details", "visit this website"],
                           "Android Chrome": ["Advanced", "Proceed to"],
                           "Firefox": ["Advanced", "Accept the Risk and Continue"]}.items():
        assert browser in text and all(s in text for s in steps), browser
    assert "default-src 'self'" in page.headers["Content-Security-Policy"]
    # everything else over plain HTTP from the LAN leads to the join page; the API stays on HTTPS
    home = requests.get(f"http://{LAN}:{server.port}/?token={TOKEN}", allow_redirects=False, timeout=10)
    assert home.status_code in (302, 307) and home.headers["Location"] == f"/join?token={TOKEN}"
    upload = requests.post(f"http://{LAN}:{server.port}/api/recordings?token={TOKEN}",
                           files={"audio": ("a.wav", b"RIFF")}, timeout=10)
    assert upload.status_code == 403 and upload.json()["error"] == "use_https"
    assert requests.get(f"http://{LAN}:{server.port}/api/samples", timeout=10).json()["error"] == "use_https"
    # the performer's own machine keeps the whole app on plain HTTP
    assert requests.get(live.url("/healthz")).text == "ok\n"
    assert requests.get(live.url(f"/join?token={TOKEN}")).status_code == 200
    assert 'id="own-go"' not in text  # no phone's-recorder path when the LAN takes sounds over HTTPS only


@needs_lan
def test_plain_http_on_the_lan_takes_what_the_phones_own_recorder_saved(serve, tmp_path):  # noqa: F811
    """``[server] lan_http_uploads`` (the default): the join page offers the phone's own recorder, whose page,
    show state, upload and progress work over plain HTTP on the LAN; nothing else does."""
    live = serve(host="0.0.0.0")
    plain = f"http://{LAN}:{live.server.port}"
    join = requests.get(f"{plain}/join?token={TOKEN}", timeout=10).text
    assert f'id="own-go" class="button primary" href="/?token={TOKEN}"' in join
    assert "Show Details" in join  # the HTTPS recorder's steps are still there
    page = requests.get(f"{plain}/?token={TOKEN}", allow_redirects=False, timeout=10)
    assert page.status_code == 200 and 'id="own-file"' in page.text and 'accept="audio/*,video/*"' in page.text
    for asset in ("recorder.js", "strings.js", "style.css"):
        assert requests.get(f"{plain}/recorder/{asset}", allow_redirects=False, timeout=10).status_code == 200
    assert requests.get(f"{plain}/api/show?token={TOKEN}", timeout=10).json()["open"] is True
    upload = requests.post(f"{plain}/api/recordings?token={TOKEN}", timeout=30,
                           files={"audio": ("a.wav", wav(tone(440.0, 1.0)), "audio/wav")})
    assert upload.status_code == 201, upload.text
    progress = requests.get(f"{plain}/api/recordings/{upload.json()['id']}?token={TOKEN}", timeout=10)
    assert progress.status_code == 200
    # the performer's routes stay where they were
    assert requests.get(f"{plain}/api/samples", timeout=10).json()["error"] == "use_https"
    assert requests.get(f"{plain}/map", allow_redirects=False, timeout=10).status_code in (302, 307)
    assert requests.get(f"{plain}/recorder/capture-worklet.js", allow_redirects=False, timeout=10).status_code \
        in (302, 307)


def test_the_join_page_escapes_what_it_is_given(serve):  # noqa: F811
    live = serve(host="0.0.0.0")
    page = requests.get(live.url('/join?token="><script>alert(1)</script>'), timeout=10)
    assert page.status_code == 200 and "<script>alert(1)" not in page.text


@needs_lan
@pytest.mark.browser
@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs Debian's chromium")
def test_the_join_page_picks_the_phones_browser_and_forwards_once_the_certificate_is_trusted(serve):  # noqa: F811
    from playwright.sync_api import expect, sync_playwright

    live = serve(host="0.0.0.0")
    join, recorder = live.server.urls["join"], f"https://{LAN}:{live.server.https_port}/?token={TOKEN}"
    agents = {"ios": "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
                     "Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
              "android": "Mozilla/5.0 (Linux; Android 14; Pixel 7) AppleWebKit/537.36 (KHTML, like Gecko) "
                         "Chrome/124.0.0.0 Mobile Safari/537.36",
              "firefox": "Mozilla/5.0 (Android 14; Mobile; rv:126.0) Gecko/126.0 Firefox/126.0"}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=QUIET)
        for kind, agent in agents.items():
            page = browser.new_context(user_agent=agent).new_page()
            page.goto(join)
            expect(page.locator(f"details#{kind}")).to_have_attribute("open", "")
            assert page.locator("details[open]").count() == 1
            expect(page.locator("#go")).to_have_attribute("href", recorder)
            page.wait_for_timeout(1500)
            assert page.url == join  # the certificate is not trusted yet: the phone stays to read
        trusted = browser.new_context(ignore_https_errors=True).new_page()  # a phone that accepted it already
        trusted.goto(join)
        trusted.wait_for_url(recorder, timeout=10000)
        expect(trusted.locator("#show")).to_have_attribute("data-state", "open")
        browser.close()


@needs_lan
@pytest.mark.browser
@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs Debian's chromium")
@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="needs Debian's ffmpeg")
def test_chromium_on_the_plain_http_join_page_sends_what_the_phones_recorder_saved(serve, tmp_path):  # noqa: F811
    """The same path in WebKit and Firefox: test_recorder_engines.py. ``EXSAMPLING_SCREENSHOTS=docs/images`` keeps
    ``join-chromium.png`` and ``own-recorder-chromium.png``."""
    from playwright.sync_api import expect, sync_playwright

    shots = Path(os.environ.get("EXSAMPLING_SCREENSHOTS") or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)
    memo = tmp_path / "recording.3gp"  # an Android recorder's file
    subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-f", "lavfi", "-i", "sine=f=440:d=3", "-c:a", "aac",
                    "-ar", "16000", str(memo)], check=True, timeout=120)
    live = serve(host="0.0.0.0")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=QUIET)
        page = browser.new_context(viewport={"width": 390, "height": 760}).new_page()
        page.goto(live.server.urls["join"])
        page.screenshot(path=shots / "join-chromium.png")
        page.click("#own-go")
        expect(page.locator("#own-recorder")).to_be_visible()
        expect(page.locator("#record")).to_be_hidden()
        expect(page.locator("#show")).to_have_attribute("data-state", "open")
        page.screenshot(path=shots / "own-recorder-chromium.png")
        page.set_input_files("#own-file", memo)
        expect(page.locator("#steps")).to_contain_text("Not classified", timeout=60000)
        browser.close()
    [rec] = live.pipeline.library.recordings()
    assert rec.path.endswith(".3gp") and live.status(rec.id)["status"] == "done"


@pytest.mark.slow  # openssl processes
def test_the_shows_authority_signs_the_lan_certificate_and_installs_on_house_devices(serve, cfg, tmp_path):  # noqa: F811
    import plistlib
    import sys

    toml = tmp_path / "show.toml"
    toml.write_text(f'[library]\npath = "{cfg.resolve(cfg.library.path)}"\n')
    made = subprocess.run([sys.executable, "-m", "exsampling.cli", "ca", "--config", str(toml)], check=False,
                          capture_output=True, text=True, timeout=120)
    assert made.returncode == 0, made.stderr
    tls = cfg.resolve(cfg.library.path) / "tls"
    ca, profile = tls / "ca" / "exsampling-ca.pem", tls / "ca" / "exsampling.mobileconfig"
    assert str(ca) in made.stdout and fingerprint(ca) in made.stdout
    live = serve(host="0.0.0.0")
    # a device that installed the authority trusts the recorder: no warning
    assert requests.get(f"https://127.0.0.1:{live.server.https_port}/healthz", verify=str(ca)).text == "ok\n"
    payload = plistlib.loads(profile.read_bytes())["PayloadContent"][0]
    assert payload["PayloadType"] == "com.apple.security.root"
    assert payload["PayloadContent"] == ssl.PEM_cert_to_DER_cert(ca.read_text())
    join = requests.get(live.url(f"/join?token={TOKEN}")).text
    assert "/join/exsampling.mobileconfig" in join and "/join/exsampling-ca.pem" in join
    served = requests.get(live.url("/join/exsampling.mobileconfig"))
    assert served.headers["Content-Type"] == "application/x-apple-aspen-config"
    assert served.content == profile.read_bytes()
    # its key can never vouch for a site on the Internet (name constraints)
    leaf = tmp_path / "leaf"
    leaf.mkdir()
    subprocess.run(["openssl", "req", "-new", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=x", "-keyout",
                    str(leaf / "k.pem"), "-out", str(leaf / "r.csr")], check=True, capture_output=True)
    (leaf / "ext").write_text("subjectAltName=IP:8.8.8.8\n")
    subprocess.run(["openssl", "x509", "-req", "-in", str(leaf / "r.csr"), "-CA", str(ca), "-CAkey",
                    str(tls / "ca" / "exsampling-ca-key.pem"), "-set_serial", "7", "-days", "30", "-extfile",
                    str(leaf / "ext"), "-out", str(leaf / "c.pem")], check=True, capture_output=True)
    verdict = subprocess.run(["openssl", "verify", "-CAfile", str(ca), str(leaf / "c.pem")], capture_output=True,
                             text=True)
    assert verdict.returncode != 0 and "subtree violation" in verdict.stdout + verdict.stderr


def test_without_an_authority_there_is_nothing_to_install(serve):  # noqa: F811
    live = serve(host="0.0.0.0")
    assert requests.get(live.url("/join/exsampling-ca.pem")).status_code == 404
    assert "mobileconfig" not in requests.get(live.url(f"/join?token={TOKEN}")).text
