"""The upload server over real HTTP: a live server on free ports, a real library, pipeline and OSC peer."""
import asyncio
import contextlib
import io
import math
import select
import signal
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import requests
import soundfile as sf
from conftest import build_tiny_model, free_port, tone

from exsampling.config import Config, LibraryConfig, OscConfig
from exsampling.features import FeatureParams
from exsampling.library import Library
from exsampling.osc import OscSender
from exsampling.pipeline import Pipeline
from exsampling.server import PortInUse, Server, TunnelError, lan_address, qr_png, qr_text, start
from exsampling.show_state import ShowState

TOKEN = "show-token-1"
SR = 22050


def wav(y, sr=SR, subtype="PCM_16") -> bytes:
    buf = io.BytesIO()
    sf.write(buf, y, sr, format="WAV", subtype=subtype)
    return buf.getvalue()


TONE = wav(tone(440.0, 2.0))


@pytest.fixture(scope="module")
def loop():
    """An asyncio loop on its own thread, standing in for the console kernel's loop."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    yield loop
    loop.call_soon_threadsafe(loop.stop)
    thread.join(5)


def on_loop(loop, fn, *args):
    """Run ``fn(*args)`` (a coroutine function or a plain one) on the server's loop and return its result."""
    async def call():
        result = fn(*args)
        return await result if asyncio.iscoroutine(result) else result

    return asyncio.run_coroutine_threadsafe(call(), loop).result(30)


@dataclass
class Live:
    server: Server
    pipeline: Pipeline
    show: ShowState

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server.port}{path}"

    def post(self, data=None, files=None, token=TOKEN, query="", **kwargs) -> requests.Response:
        data = dict(data or {})
        if token is not None:
            data["token"] = token
        if files is None:
            files = {"audio": ("tone.wav", TONE, "audio/wav")}
        return requests.post(self.url(f"/api/recordings{query}"), data=data, files=files, timeout=30, **kwargs)

    def status(self, recording_id: int) -> dict:
        return requests.get(self.url(f"/api/recordings/{recording_id}?token={TOKEN}"), timeout=10).json()

    def wait_processed(self, recording_id: int, timeout: float = 60) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            body = self.status(recording_id)
            if body["status"] in ("done", "silent", "failed"):
                return body
            time.sleep(0.1)
        raise AssertionError(f"recording {recording_id} still {body['status']} after {timeout} s")


@pytest.fixture
def cfg(tmp_path):
    """A fresh library and OSC aimed at a closed port: only tests that ask for ``osc_peer`` listen."""
    return Config(library=LibraryConfig(path=str(tmp_path / "library")),
                  osc=OscConfig(port=free_port()))


@contextlib.contextmanager
def servers(loop):
    """``launch(cfg, model, host, token)`` → a :class:`Live` server on ``loop`` with a fresh pipeline (``model``: a
    Classifier, a ModelLoader or None); every one launched is stopped on leaving."""
    running = []

    def launch(c: Config, model=None, host: str | None = "127.0.0.1", token: str = TOKEN) -> Live:
        pipeline = Pipeline(c, Library.from_config(c), model, OscSender.from_config(c))
        show = ShowState(c, pipeline.library, token=token)
        live = Live(on_loop(loop, start, c, pipeline, show, host), pipeline, show)
        running.append(live)
        return live

    try:
        yield launch
    finally:
        for live in running:
            on_loop(loop, live.server.stop)
            live.pipeline.close()


@pytest.fixture
def serve(cfg, loop):
    """``serve(classifier=None, host="127.0.0.1", osc_port=None, **server_changes)`` → a running :class:`Live`."""
    with servers(loop) as launch:
        def _serve(classifier=None, host="127.0.0.1", token=TOKEN, osc_port=None, **server) -> Live:
            c = cfg.with_changes(server={"port": 0, "rate_limit": 1000, "rate_limit_per_address": 1000, **server},
                                 osc={"port": osc_port or cfg.osc.port})
            return launch(c, classifier, host, token)

        yield _serve


def assert_nothing_stored(library: Library) -> None:
    assert library.counts()["recordings"] == 0
    assert list((library.root / "recordings").iterdir()) == []
    assert list((library.root / "photos").iterdir()) == []
    deadline = time.monotonic() + 5.0  # a refused upload's spooled audio goes on the writer's thread, after the answer
    while spooled(library) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert spooled(library) == []


def spooled(library: Library) -> list[Path]:
    """Uploads' audio written as it arrived and not (yet) stored or removed."""
    return [p for p in (library.root / "incoming").rglob("*") if p.is_file()]


# -- pages, health, show state ------------------------------------------------------------------------


def test_pages_assets_and_health(serve):
    live = serve()
    page = requests.get(live.url("/"))
    assert page.status_code == 200 and "recorder/recorder.js" in page.text
    assert "default-src 'self'" in page.headers["Content-Security-Policy"]
    assert page.headers["Referrer-Policy"] == "no-referrer"
    for asset in ("recorder.js", "strings.js", "capture-worklet.js", "style.css", "map.js"):
        body = requests.get(live.url(f"/recorder/{asset}")).text.replace("http://www.w3.org/2000/svg", "")  # a name
        assert "http://" not in body and "https://" not in body, f"{asset} reaches outside the show"
    assert "recorder/map.js" in requests.get(live.url("/map?sample=3")).text
    assert requests.get(live.url("/healthz")).text == "ok\n"
    missing = requests.get(live.url("/api/nothing"))
    assert missing.status_code == 404 and missing.json()["error"] == "not_found"
    assert requests.get(live.url("/recorder/%2e%2e/pyproject.toml")).status_code in (403, 404)


def test_show_state_needs_the_token_and_follows_the_performer(serve):
    live = serve()
    assert requests.get(live.url("/api/show")).json()["error"] == "bad_token"
    assert requests.get(live.url("/api/show?token=wrong")).status_code == 403
    changes = []
    live.show.listeners.append(lambda show: changes.append((show.is_open, show.prompt)))
    live.show.prompt = "something metallic"
    live.show.is_open = False
    state = requests.get(live.url(f"/api/show?token={TOKEN}")).json()
    assert state["open"] is False and state["prompt"] == "something metallic"
    assert state["counts"] == {"recordings": 0, "participants": 0, "samples": 0}
    assert state["limits"] == {"max_recording_s": 30.0, "max_upload_mb": 20.0, "sample_rate_hz": 22050}
    assert changes == [(True, "something metallic"), (False, "something metallic")]
    with pytest.raises(ValueError, match="280"):
        live.show.prompt = "x" * 281


@pytest.mark.slow  # loads the shipped model
def test_the_recorder_is_told_the_rate_the_model_works_at(serve, tmp_path):
    """The chain decodes at the loaded model's rate, not at ``[audio] sample_rate``: the recorder sends that."""
    from exsampling.classifier import Classifier

    model = build_tiny_model(tmp_path, "wide", params=FeatureParams(sample_rate=44100, fmax_hz=16000.0))
    live = serve(classifier=Classifier.load(model))
    assert live.pipeline.rate == 44100 != live.pipeline.cfg.audio.sample_rate
    limits = requests.get(live.url(f"/api/show?token={TOKEN}")).json()["limits"]
    assert limits["sample_rate_hz"] == 44100


def test_show_state_and_token_outlive_a_restart(cfg):
    library = Library.from_config(cfg)
    first = ShowState(cfg, library)
    assert len(first.token) >= 10
    first.prompt, first.is_open = "water", False
    again = ShowState(cfg, Library.from_config(cfg))
    assert (again.token, again.prompt, again.is_open) == (first.token, "water", False)
    assert ShowState(cfg, library, token="given").token == "given" == ShowState(cfg, library).token


def test_closed_show_refuses_uploads_with_a_reason(serve):
    live = serve()
    live.show.is_open = False
    refused = live.post()
    assert refused.status_code == 409 and refused.json()["error"] == "show_closed"
    assert "closed" in refused.json()["message"]
    assert_nothing_stored(live.pipeline.library)
    live.show.is_open = True
    assert live.post().status_code == 201


# -- uploads --------------------------------------------------------------------------------------------


def test_upload_is_stored_before_the_answer_then_classified_mapped_and_sent(serve, classifier, osc_peer):
    live = serve(classifier=classifier, osc_port=osc_peer.port)
    photo = qr_png("a photo stand-in")  # a real PNG
    answer = live.post(
        data={"lat": "35.39", "lon": "139.43", "accuracy": "12.5", "name": "  Aiko  "},
        files={"audio": ("../../etc/evil.wav", wav(np.concatenate([np.zeros(SR), tone(440.0, 6.0)])), "audio/wav"),
               "photo": ("me.png", photo, "image/png")})
    assert answer.status_code == 201, answer.text
    body = answer.json()
    rec = live.pipeline.library.recording(body["id"])  # in the library the moment the answer arrives
    assert Path(rec.path).read_bytes()[:4] == b"RIFF" and "evil" not in rec.path
    assert Path(rec.photo_path).read_bytes() == photo and rec.photo_path.endswith(".png")
    assert (rec.participant, rec.source) == ("Aiko", "upload")
    assert (rec.location.lat, rec.location.lon, rec.location.accuracy_m) == (35.39, 139.43, 12.5)
    assert body["location"] == {"lat": 35.39, "lon": 139.43, "accuracy_m": 12.5} and body["participant"] == "Aiko"
    assert answer.headers["Location"] == f"/api/recordings/{body['id']}"

    done = live.wait_processed(body["id"])
    assert done["status"] == "done" and [round(s["duration_s"]) for s in done["samples"]] == [5, 1]
    first = done["samples"][0]
    assert first["label"] and first["instrument"] and first["status"] == "sent"
    assert first["midi_note"] == 69 and first["note"] == "A4" and abs(first["pitch_hz"] - 440) < 5
    assert "participant" not in first and "lat" not in first  # no one else's name or place
    messages = osc_peer.wait_for(2)
    assert [m[1][0] for m in messages] == [s["id"] for s in done["samples"]]
    assert messages[0][1][8:12] == [pytest.approx(35.39), pytest.approx(139.43), 12.5, "Aiko"]


def test_a_hand_over_stores_what_arrived_then_ends_every_connection(serve, loop):
    """What ``exsampling console`` does before its console's kernel listens in its place: after ``hand_over``
    nothing more is acknowledged here; an upload still arriving gets no answer (the phone sends it again)."""
    live = serve()
    assert live.post(data={"upload_id": "before-the-hand-over"}).status_code == 201
    idle = socket.create_connection(("127.0.0.1", live.server.port), timeout=10)
    arriving = socket.create_connection(("127.0.0.1", live.server.port), timeout=10)
    arriving.sendall(f"POST /api/recordings?token={TOKEN} HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; "
                     "boundary=b\r\nContent-Length: 100000\r\n\r\n--b\r\n".encode())
    time.sleep(0.3)
    assert on_loop(loop, live.server.hand_over) is True
    for sock in (idle, arriving):
        with sock, contextlib.suppress(ConnectionResetError):  # closed without an answer
            assert sock.recv(4096) == b""
    with pytest.raises(requests.ConnectionError):
        live.post()  # and nobody listens here any more
    assert live.pipeline.library.counts()["recordings"] == 1


def test_recording_status_of_an_unknown_id_is_404(serve):
    live = serve()
    assert requests.get(live.url(f"/api/recordings/999?token={TOKEN}")).status_code == 404
    assert requests.get(live.url("/api/recordings/1")).status_code == 403


def _nan_wav() -> bytes:
    y = tone(440.0, 1.0)
    y[100] = np.nan
    return wav(y, subtype="FLOAT")


REFUSALS = {
    "no token": ({}, None, None, "", 403, "bad_token"),
    "wrong token in the form": ({}, None, "nope", "", 403, "bad_token"),
    "wrong token in the URL": ({}, None, None, "?token=nope", 403, "bad_token"),
    "text named .wav": ({}, {"audio": ("a.wav", b"GIF89a not sound at all", "audio/wav")}, TOKEN, "", 415,
                        "undecodable"),
    "empty file": ({}, {"audio": ("a.wav", b"", "audio/wav")}, TOKEN, "", 422, "empty"),
    "31 s, over the 30 s limit": ({}, {"audio": ("a.wav", wav(tone(300.0, 31.0, sr=8000), sr=8000))}, TOKEN, "", 422,
                                  "too_long"),
    "NaN samples": ({}, {"audio": ("a.wav", _nan_wav())}, TOKEN, "", 422, "invalid_samples"),
    "no audio field": ({"name": "x"}, {"other": ("a.wav", TONE)}, TOKEN, "", 400, "missing_audio"),
    "lat NaN": ({"lat": "NaN", "lon": "1"}, None, TOKEN, "", 400, "invalid_field"),
    "lat inf": ({"lat": "1e999", "lon": "1"}, None, TOKEN, "", 400, "invalid_field"),
    "lat 91": ({"lat": "91", "lon": "1"}, None, TOKEN, "", 400, "invalid_field"),
    "lon -181": ({"lat": "1", "lon": "-181"}, None, TOKEN, "", 400, "invalid_field"),
    "lat without lon": ({"lat": "1"}, None, TOKEN, "", 400, "invalid_field"),
    "lat not a number": ({"lat": "north", "lon": "1"}, None, TOKEN, "", 400, "invalid_field"),
    "negative accuracy": ({"lat": "1", "lon": "1", "accuracy": "-3"}, None, TOKEN, "", 400, "invalid_field"),
    "name with a line break": ({"name": "Aiko\nBob"}, None, TOKEN, "", 400, "invalid_field"),
    "name with an escape": ({"name": "\x1b[31mred"}, None, TOKEN, "", 400, "invalid_field"),
    "name with a bidi override": ({"name": "abc\u202etxt.exe"}, None, TOKEN, "", 400, "invalid_field"),
    "name of 61 characters": ({"name": "x" * 61}, None, TOKEN, "", 400, "invalid_field"),
    "name of 100 kB": ({"name": "x" * 100_000}, None, TOKEN, "", 400, "invalid_field"),
    "name not UTF-8": ({"name": b"\xff\xfe\xfa"}, None, TOKEN, "", 400, "invalid_field"),
    "upload id with a path": ({"upload_id": "../../etc/passwd"}, None, TOKEN, "", 400, "invalid_field"),
    "photo that is no image": ({}, {"audio": ("a.wav", TONE), "photo": ("p.jpg", b"<svg/>" * 10, "image/jpeg")},
                               TOKEN, "", 415, "photo_not_image"),
}


@pytest.mark.parametrize("case", REFUSALS, ids=list(REFUSALS))
def test_refusals_are_json_with_the_right_status_and_store_nothing(serve, case):
    data, files, token, query, status, code = REFUSALS[case]
    live = serve()
    answer = live.post(data=data, files=files, token=token, query=query)
    assert answer.status_code == status, answer.text
    body = answer.json()
    assert body["error"] == code and len(body["message"]) > 10
    if code == "invalid_field":
        assert body["field"] in ("lat", "lon", "accuracy", "name", "upload_id")
    assert_nothing_stored(live.pipeline.library)


def test_silence_is_taken_on_its_header_then_reported_on_the_recording(serve):
    """Only decoding finds silence: the upload is answered at once (issue 11), and its status says why."""
    live = serve()
    answer = live.post(files={"audio": ("a.wav", wav(np.zeros(SR)), "audio/wav")})
    assert answer.status_code == 201
    done = live.wait_processed(answer.json()["id"])
    assert done["status"] == "silent" and "nothing audible" in done["error"] and done["samples"] == []


def _raw_request(port: int, head: str) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock.sendall(head.encode() + b"\r\n")
    return sock


def read_response(sock: socket.socket) -> bytes:
    """Everything the server sends on ``sock`` until it closes (or the socket's timeout)."""
    data = b""
    try:
        while chunk := sock.recv(65536):
            data += chunk
    except (ConnectionResetError, TimeoutError):
        pass
    return data


def test_an_announced_oversize_body_is_refused_before_it_is_sent(serve):
    live = serve(max_upload_mb=1.0)
    sock = _raw_request(live.server.port, f"POST /api/recordings?token={TOKEN} HTTP/1.1\r\nHost: x\r\n"
                        "Content-Type: multipart/form-data; boundary=b\r\nContent-Length: 1000000000\r\n"
                        "Expect: 100-continue\r\n")
    answer = read_response(sock)
    sock.close()
    assert answer.startswith(b"HTTP/1.1 413") and b'"too_large"' in answer and b"100 (Continue)" not in answer
    assert_nothing_stored(live.pipeline.library)


def test_a_streamed_oversize_body_is_cut_off_while_streaming(serve):
    """A chunked body gives no size up front: the server must stop it near the limit, not read 1 GB."""
    live = serve(max_upload_mb=1.0)
    sock = _raw_request(live.server.port, f"POST /api/recordings?token={TOKEN} HTTP/1.1\r\nHost: x\r\n"
                        "Content-Type: multipart/form-data; boundary=b\r\nTransfer-Encoding: chunked\r\n")
    chunk = b"10000\r\n" + b"x" * 0x10000 + b"\r\n"  # 64 KiB per chunk
    sent, answer = 0, b""
    try:
        while sent < 1024 * 2**20:
            if select.select([sock], [], [], 0)[0]:
                break
            sock.sendall(chunk)
            sent += len(chunk)
    except (BrokenPipeError, ConnectionResetError):
        pass
    answer = read_response(sock)
    sock.close()
    assert sent < 32 * 2**20, f"the server read {sent / 2**20:.0f} MiB before stopping"
    assert answer == b"" or (answer.startswith(b"HTTP/1.1 413") and b'"too_large"' in answer)
    assert_nothing_stored(live.pipeline.library)


def test_rate_limit_per_client_and_forwarded_for_only_from_loopback(serve):
    live = serve(rate_limit=2, rate_limit_per_address=2)
    assert [live.post().status_code for _ in range(2)] == [201, 201]  # only stored recordings count
    limited = live.post()
    assert limited.status_code == 429 and limited.json()["error"] == "rate_limited"
    assert 0 < int(limited.headers["Retry-After"]) <= 60
    # Through the tunnel (loopback + X-Forwarded-For) each participant has their own allowance, keyed on
    # the hop the tunnel appended, so a forged first entry buys nothing.
    for forged in ("1.1.1.1, 198.51.100.9", "2.2.2.2, 198.51.100.9"):
        assert live.post(headers={"X-Forwarded-For": forged}).status_code == 201
    again = live.post(headers={"X-Forwarded-For": "198.51.100.9"})
    assert again.status_code == 429


def test_twenty_concurrent_uploads_are_all_stored_once(serve):
    live = serve()
    bodies = {i: wav(tone(200.0 + 20 * i, 1.5)) for i in range(20)}

    def post(i: int) -> requests.Response:
        return live.post(data={"name": f"p{i:02d}", "upload_id": f"upload-{i:04d}"},
                         files={"audio": ("r.wav", bodies[i], "audio/wav")})

    # Five participants' phones also retry at once (their first answer was "lost"): same upload id.
    with ThreadPoolExecutor(max_workers=25) as pool:
        answers = list(pool.map(post, list(range(20)) + list(range(5))))
    assert all(a.status_code in (200, 201) for a in answers), [a.text for a in answers if a.status_code >= 300]
    ids = [a.json()["id"] for a in answers]
    assert len(set(ids[:20])) == 20 and ids[20:] == ids[:5]
    assert sorted(a.status_code for a in answers).count(201) == 20
    library = live.pipeline.library
    recordings = library.recordings()
    assert sorted(r.participant for r in recordings) == [f"p{i:02d}" for i in range(20)]
    assert len(list((library.root / "recordings").iterdir())) == 20
    for r in recordings:
        assert Path(r.path).read_bytes() == bodies[int(r.participant[1:])]


def test_map_page_data_is_for_this_machine_only(serve):
    live = serve()
    for i, (lat, lon) in enumerate(((35.39, 139.43), (35.40, 139.44))):
        assert live.post(data={"lat": lat, "lon": lon, "name": f"n{i}"}).status_code == 201
    assert live.post().status_code == 201  # no location
    for rec in live.pipeline.library.recordings():
        live.wait_processed(rec.id)
    listed = requests.get(live.url("/api/samples")).json()["samples"]
    assert [s["participant"] for s in listed] == ["", "n1", "n0"]  # newest first
    assert (listed[1]["lat"], listed[1]["lon"]) == (35.40, 139.44) and listed[0]["lat"] is None
    assert {"id", "label", "instrument", "accuracy_m", "recorded_at", "midi_note"} <= set(listed[0])
    assert len(requests.get(live.url("/api/samples?limit=1")).json()["samples"]) == 1
    tunnelled = requests.get(live.url("/api/samples"), headers={"X-Forwarded-For": "203.0.113.5"})
    assert tunnelled.status_code == 403 and tunnelled.json()["error"] == "local_only"


# -- listening, TLS, tunnel, QR, the command ----------------------------------------------------------


def test_a_taken_port_is_a_clear_error(serve, loop):
    live = serve()
    port = live.server.port
    with pytest.raises(PortInUse, match=f"port {port}") as caught:
        on_loop(loop, start, live.pipeline.cfg, live.pipeline, live.show, "127.0.0.1", port)
    assert isinstance(caught.value, OSError) and str(caught.value).startswith(f"port {port} on 127.0.0.1 is already")


def test_lan_https_with_a_self_signed_certificate_kept_in_the_library(serve):
    lan = lan_address()
    live = serve(host="0.0.0.0", rate_limit=2, rate_limit_per_address=2)
    cert = live.server.certificate
    assert cert == live.pipeline.library.root / "tls" / "cert.pem"
    assert requests.get(f"https://127.0.0.1:{live.server.https_port}/healthz", verify=str(cert)).text == "ok\n"
    assert requests.get(live.url("/healthz")).text == "ok\n"
    assert live.server.urls["local"] == f"http://127.0.0.1:{live.server.port}/?token={TOKEN}"
    if lan is None:
        return
    assert live.server.urls["lan"] == f"https://{lan}:{live.server.https_port}/?token={TOKEN}"
    assert live.server.recorder_url == live.server.urls["join"]  # the QR code leads to the join page first
    base = f"https://{lan}:{live.server.https_port}"
    # From the LAN, X-Forwarded-For is the client's own claim: ignored, so it cannot dodge the limit.
    codes = [requests.post(f"{base}/api/recordings?token={TOKEN}", files={"audio": ("a.wav", TONE)},
                           verify=str(cert), headers={"X-Forwarded-For": f"198.51.100.{i}"}).status_code
             for i in range(3)]
    assert codes == [201, 201, 429]
    assert requests.get(f"{base}/api/samples", verify=str(cert)).status_code == 403
    first = cert.read_bytes()
    assert serve(host="0.0.0.0").server.certificate.read_bytes() == first  # made once, then reused


def test_a_required_tunnel_that_fails_is_clear_and_leaves_nothing_listening(cfg, loop):
    port = free_port(socket.SOCK_STREAM)
    c = cfg.with_changes(server={"ngrok_token": "not-a-real-token", "host": "127.0.0.1", "port": port})
    pipeline = Pipeline(c, Library.from_config(c))
    with pytest.raises(TunnelError, match="ngrok") as caught:  # pyngrok cannot download ngrok here: no Internet
        on_loop(loop, lambda: start(c, pipeline, ShowState(c, pipeline.library), require_tunnel=True))
    assert "token from [server] ngrok_token" in str(caught.value) and "only this machine" in str(caught.value)
    with socket.socket() as s:
        s.bind(("127.0.0.1", port))  # free again
    pipeline.close()


def test_a_tunnel_that_fails_leaves_the_lan_serving_and_says_so_in_one_line(serve, monkeypatch):
    monkeypatch.setenv("NGROK_AUTHTOKEN", "not-a-real-token")
    live = serve(host="0.0.0.0")  # pyngrok cannot download ngrok here: the real failure
    line = live.server.tunnel_line
    assert line.startswith("tunnel: failed: ngrok could not be installed (no Internet to download it)"), line
    assert "token from NGROK_AUTHTOKEN" in line
    if "join" in live.server.urls:  # a machine with a LAN address: where phones still get in
        assert f"phones on the LAN still join at {live.server.urls['join']}" in line
        assert live.server.recorder_url == live.server.urls["join"]
    assert "public" not in live.server.urls and live.server.tunnel is None
    assert live.post().status_code == 201  # the show goes on


def test_qr_code_decodes_back_to_the_url(tmp_path):
    url = f"https://192.0.2.2:8766/?token={TOKEN}"
    png = tmp_path / "qr.png"
    png.write_bytes(qr_png(url))
    decoded = subprocess.run(["zbarimg", "--raw", "-q", str(png)], check=False, capture_output=True, text=True,
                             timeout=30)
    assert decoded.stdout.strip() == url
    text = qr_text(url)
    assert len(text.splitlines()) > 10 and set(text) & set("█▀▄")


@pytest.mark.slow  # a process that loads TensorFlow
def test_serve_command_prints_the_url_and_qr_then_stops_on_sigterm(tmp_path):
    port = free_port(socket.SOCK_STREAM)
    toml = tmp_path / "show.toml"
    toml.write_text(f'[library]\npath = "lib"\n[classifier]\nmodel = "{tmp_path}/none.keras"\n'
                    '[server]\nhost = "127.0.0.1"\n')
    command = [sys.executable, "-m", "exsampling.cli", "serve", "--port", str(port), "--token", TOKEN,
               "--config", str(toml)]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        lines = []
        while not any(line.startswith("map:") for line in lines):
            line = proc.stdout.readline()
            assert line, proc.stderr.read()
            lines.append(line)
        assert f"local: http://127.0.0.1:{port}/?token={TOKEN}\n" in lines
        assert requests.get(f"http://127.0.0.1:{port}/healthz").text == "ok\n"
        second = subprocess.run(command, check=False, capture_output=True, text=True, timeout=60)
        assert second.returncode == 2 and f"port {port}" in second.stderr
        proc.send_signal(signal.SIGTERM)
        # read through proc.stdout, not communicate(): its buffer may already hold the QR code
        out = "".join(lines) + proc.stdout.read()
        assert proc.wait(timeout=30) == 0 and set(out) & set("█▀▄") and out.endswith("exsampling: stopped\n")
    finally:
        proc.kill()
        proc.wait()


def test_location_parsing_keeps_full_precision():
    from exsampling.server import parse_location

    loc = parse_location("-33.8567844", "151.2152967", "")
    assert (loc.lat, loc.lon, loc.accuracy_m) == (-33.8567844, 151.2152967, None)
    assert parse_location("", "", "5") is None and math.isclose(parse_location("0", "180", "0").lon, 180)



def test_a_crowd_reaches_the_stage_first_in_first_out(serve, classifier, osc_peer):
    """Twelve phones at once: each recording's samples reach the real OSC peer in the order the recordings were
    stored (their ids), however the pipeline batches them."""
    live = serve(classifier=classifier, osc_port=osc_peer.port)
    bodies = [wav(tone(200.0 + 30 * i, 2.0 + 4 * (i % 3 == 0))) for i in range(12)]

    def post(i: int) -> int:
        answer = live.post(data={"name": f"p{i:02d}"}, files={"audio": ("r.wav", bodies[i], "audio/wav")})
        assert answer.status_code == 201, answer.text
        return answer.json()["id"]

    with ThreadPoolExecutor(max_workers=12) as pool:
        ids = list(pool.map(post, range(12)))
    done = [live.wait_processed(i) for i in ids]
    assert all(body["status"] == "done" and body["judgement"]["pieces"] == len(body["samples"]) for body in done)
    sent = osc_peer.for_tracks(sum(len(body["samples"]) for body in done))
    recordings = [live.pipeline.library.sample(m[1][0]).recording_id for m in sent]
    assert recordings == sorted(recordings) and set(recordings) == set(ids)


def test_the_feeder_outlives_a_recording_it_cannot_even_mark_failed(serve, classifier, osc_peer, monkeypatch):
    """A recording whose chain fails on a full disk cannot be marked "failed" either: that is logged, and the next
    recordings are processed as ever."""
    live = serve(classifier=classifier, osc_port=osc_peer.port)
    pipeline, library = live.pipeline, live.pipeline.library
    real_pitch, real_status = pipeline.stages.pitch, library.set_recording_status

    def pitch(sample, piece):
        if sample.participant == "unlucky":
            raise OSError(28, "No space left on device")
        real_pitch(sample, piece)

    def set_status(recording_id, status, *args, **kwargs):
        if status == "failed":
            raise OSError(28, "No space left on device")
        real_status(recording_id, status, *args, **kwargs)

    monkeypatch.setattr(pipeline.stages, "pitch", pitch)
    monkeypatch.setattr(library, "set_recording_status", set_status)
    unlucky = live.post(data={"name": "unlucky"}).json()["id"]
    deadline = time.monotonic() + 60
    while library.recording(unlucky).status == "received" and time.monotonic() < deadline:
        time.sleep(0.05)
    after = [live.post(data={"name": f"next{i}"}).json()["id"] for i in range(2)]
    assert [live.wait_processed(i)["status"] for i in after] == ["done", "done"]
    assert library.recording(unlucky).status == "processing"  # kept, for the next start to try again
