"""The upload server under hostile traffic and a crowded venue, every case on loopback with bounded loops.

Each test is one case of issue 11's "Why": idle and slow connections, malformed forms, decompression bombs,
absurd samples, sneaky names, DNS rebinding, the token in logs, and a rate limit a venue can live with.
"""
import contextlib
import io
import logging
import socket
import statistics
import struct
import time
import zlib
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import requests
import soundfile as sf
from conftest import tone
from serving import Serve
from test_server import SR, TOKEN, assert_nothing_stored, cfg, loop, read_response, serve, wav  # noqa: F401  (shared fixtures)

from exsampling.config import ServerConfig

TONE = wav(tone(440.0, 1.0))


def raw_exchange(port: int, request: bytes, wait_s: float = 10) -> bytes:
    """Send ``request`` as it is on a fresh connection; everything the server answers until it closes."""
    with socket.create_connection(("127.0.0.1", port), timeout=wait_s) as sock:
        sock.sendall(request)
        sock.shutdown(socket.SHUT_WR)
        return read_response(sock)


def multipart(parts: list[tuple[str, str | None, bytes]], boundary: str = "b0undary") -> bytes:
    """A multipart body from ``(name, filename or None, content)``, built by hand so it can be broken."""
    out = b""
    for name, filename, content in parts:
        disposition = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename is not None else "")
        out += f"--{boundary}\r\nContent-Disposition: {disposition}\r\n\r\n".encode("utf-8", "surrogateescape")
        out += content + b"\r\n"
    return out + f"--{boundary}--\r\n".encode()


def post_raw(port: int, body: bytes, content_type: str = "multipart/form-data; boundary=b0undary",
             length: int | None = None) -> bytes:
    head = (f"POST /api/recordings?token={TOKEN} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n"
            f"Content-Type: {content_type}\r\nContent-Length: {len(body) if length is None else length}\r\n\r\n")
    return raw_exchange(port, head.encode() + body)


def status_and_json(answer: bytes) -> tuple[int, dict]:
    import json

    head, _, body = answer.partition(b"\r\n\r\n")
    return int(head.split()[1]), json.loads(body[body.find(b"{"):body.rfind(b"}") + 1])


# -- connections ------------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_300_idle_sockets_under_a_256_descriptor_limit_leave_healthz_answering(tmp_path):
    server = Serve.start(tmp_path, nofile=256)
    idle = []
    try:
        # processing waits for the chain's warm-up (numba, librosa: seconds of CPU on a loaded machine), so one
        # processed sound puts that work behind us before the CPU is measured
        server.wait_final([server.upload(TONE).json()["id"]])
        for _ in range(300):
            with contextlib.suppress(OSError):  # a full listen queue makes us wait: what is open is enough
                idle.append(socket.create_connection(("127.0.0.1", server.port), timeout=1))
        time.sleep(1.0)
        cpu_before = server.cpu_seconds()
        latencies = []
        for _ in range(7):
            t0 = time.perf_counter()
            answer = requests.get(server.url("/healthz"), timeout=2)
            latencies.append(time.perf_counter() - t0)
            assert answer.text == "ok\n"
            time.sleep(0.3)
        assert statistics.median(latencies) <= 0.1, latencies
        spent = server.cpu_seconds() - cpu_before
        assert spent < 1.0, f"the server spun: {spent:.1f} s of CPU in {sum(latencies) + 2.1:.1f} s"
        assert server.upload(TONE).status_code == 201  # and it still takes sounds
    finally:
        for sock in idle:
            sock.close()
        server.stop()
    log = server.log.read_text(errors="replace")
    assert len(log) < 20_000 and log.count("Traceback") == 0, log[-3000:]
    assert "connection" in log.lower()  # the refusal was logged, once


def test_slow_senders_are_closed(serve):  # noqa: F811
    live = serve(idle_timeout_s=1.0, body_timeout_s=2.0)
    slow_head = socket.create_connection(("127.0.0.1", live.server.port), timeout=10)
    slow_body = socket.create_connection(("127.0.0.1", live.server.port), timeout=10)
    slow_body.sendall(f"POST /api/recordings?token={TOKEN} HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; "
                      "boundary=b\r\nContent-Length: 100000\r\n\r\n".encode())
    slow_head.sendall(b"GET /healthz HTTP/1.1\r\n")
    t0, closed = time.monotonic(), {}
    while len(closed) < 2 and time.monotonic() - t0 < 8:
        for name, sock in (("head", slow_head), ("body", slow_body)):
            if name in closed:
                continue
            try:
                sock.sendall(b"X")  # a byte a second: never enough to finish
            except OSError:
                closed[name] = time.monotonic() - t0
        time.sleep(0.25)
    slow_head.close()
    slow_body.close()
    assert closed.keys() == {"head", "body"}, f"still open after 8 s: {closed}"
    assert closed["head"] < 4 and closed["body"] < 6, closed
    assert_nothing_stored(live.pipeline.library)


def test_a_full_server_closes_idle_connections_never_an_upload_in_progress(serve):  # noqa: F811
    live = serve(max_connections=20)
    body = multipart([("audio", "a.wav", TONE), ("upload_id", None, b"in-progress-0001")])
    uploading = socket.create_connection(("127.0.0.1", live.server.port), timeout=10)
    uploading.sendall(f"POST /api/recordings?token={TOKEN} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                      f"Content-Type: multipart/form-data; boundary=b0undary\r\nContent-Length: {len(body)}\r\n\r\n"
                      .encode() + body[:1000])
    time.sleep(0.3)
    idle = [socket.create_connection(("127.0.0.1", live.server.port), timeout=2) for _ in range(40)]
    try:
        assert requests.get(live.url("/healthz"), timeout=5).text == "ok\n"
        uploading.sendall(body[1000:])
        answer = b""
        while chunk := uploading.recv(65536):
            answer += chunk
        assert status_and_json(answer)[0] == 201
    finally:
        uploading.close()
        for sock in idle:
            sock.close()


# -- malformed forms --------------------------------------------------------------------------------------------


GOOD = multipart([("audio", "a.wav", TONE)])
MALFORMED = {
    "truncated": (GOOD[:len(GOOD) // 2], "multipart/form-data; boundary=b0undary", None),
    "no boundary": (GOOD, "multipart/form-data", None),
    "NUL in the file name": (multipart([("audio", "a\x00.wav", TONE)]), "multipart/form-data; boundary=b0undary",
                             None),
    "20 kB file name": (multipart([("audio", "a" * 20_000 + ".wav", TONE)]), "multipart/form-data; boundary=b0undary",
                        None),
    "short Content-Length": (GOOD, "multipart/form-data; boundary=b0undary", len(GOOD) - 300),
}


@pytest.mark.parametrize("case", MALFORMED, ids=list(MALFORMED))
def test_a_malformed_form_is_400_bad_form_and_stores_nothing(serve, case):  # noqa: F811
    body, content_type, length = MALFORMED[case]
    live = serve()
    status, answer = status_and_json(post_raw(live.server.port, body, content_type, length))
    assert (status, answer["error"]) == (400, "bad_form"), answer
    assert len(answer["message"]) > 10
    assert_nothing_stored(live.pipeline.library)
    assert live.post().status_code == 201  # the server is fine


# -- decompression bombs --------------------------------------------------------------------------------------


def audio_file(seconds: float, rate: int, channels: int, fmt: str = "WAV", subtype: str = "PCM_16") -> bytes:
    buf = io.BytesIO()
    y = np.zeros((int(seconds * rate), channels), dtype=np.float32)
    y[:, 0] = np.resize(tone(440.0, 0.1, sr=rate), len(y))
    sf.write(buf, y, rate, format=fmt, subtype=subtype)
    return buf.getvalue()


BOMBS = {
    "FLAC at 655 kHz, 8 channels": lambda: audio_file(2.0, 655_350, 8, "FLAC"),
    "WAV at 384 kHz": lambda: audio_file(0.5, 384_000, 1),
    "WAV with 3 channels": lambda: audio_file(1.0, 48_000, 3),
}


@pytest.mark.parametrize("case", BOMBS, ids=list(BOMBS))
def test_audio_over_192_khz_or_2_channels_is_refused_from_its_header(serve, case):  # noqa: F811
    live = serve()
    answer = live.post(files={"audio": ("a.flac", BOMBS[case](), "audio/flac")})
    assert answer.status_code == 422 and answer.json()["error"] == "unsupported_audio", answer.text
    assert_nothing_stored(live.pipeline.library)


def test_bombs_at_once_never_hold_up_a_participant(serve):  # noqa: F811
    live = serve()
    bomb = audio_file(2.0, 655_350, 8, "FLAC")
    with ThreadPoolExecutor(5) as pool:
        bombs = [pool.submit(live.post, files={"audio": ("b.flac", bomb)}) for _ in range(4)]
        honest = pool.submit(live.post).result()
        assert [b.result().status_code for b in bombs] == [422] * 4
    assert honest.status_code == 201


def test_192_khz_stereo_is_taken_and_processed(serve):  # noqa: F811
    live = serve()
    answer = live.post(files={"audio": ("hi.wav", audio_file(3.0, 192_000, 2, subtype="PCM_24"))})
    assert answer.status_code == 201, answer.text
    assert live.wait_processed(answer.json()["id"])["status"] == "done"


def png_of(width: int, height: int) -> bytes:
    """A valid black 1-bit PNG of ``width`` × ``height`` pixels: tiny on disk, huge once decoded."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    row = bytes(1 + (width + 7) // 8)
    packer = zlib.compressobj(9)
    idat = b"".join(packer.compress(row) for _ in range(height)) + packer.flush()
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0))
            + chunk(b"IDAT", idat) + chunk(b"IEND", b""))


@pytest.mark.parametrize("megapixels", [200, 50])
def test_a_photo_over_40_megapixels_is_refused_from_its_header(serve, megapixels):  # noqa: F811
    live = serve()
    photo = png_of(10_000, megapixels * 100)
    assert len(photo) < 300_000
    answer = live.post(files={"audio": ("a.wav", TONE), "photo": ("p.png", photo, "image/png")})
    assert answer.status_code == 422 and answer.json()["error"] == "photo_too_large", answer.text
    assert f"{megapixels}" in answer.json()["message"]
    assert_nothing_stored(live.pipeline.library)


@pytest.mark.parametrize("megapixels", [200, 100, 50])
def test_the_console_card_never_raises_on_a_bad_photo(tmp_path, megapixels):
    from exsampling.console.cards import photo_thumbnail

    path = tmp_path / f"bomb{megapixels}.png"
    path.write_bytes(png_of(10_000, megapixels * 100))
    assert photo_thumbnail(str(path)) is None


# -- samples and names ----------------------------------------------------------------------------------------


def test_absurd_sample_values_are_clipped_not_a_failure(serve):  # noqa: F811
    live = serve()
    loud = wav(tone(440.0, 2.0) * np.float32(1e30), subtype="FLOAT")
    answer = live.post(files={"audio": ("loud.wav", loud)})
    assert answer.status_code == 201, answer.text
    done = live.wait_processed(answer.json()["id"])
    assert (done["status"], done["error"]) == ("done", None)
    [sample] = live.pipeline.library.samples(recording_id=answer.json()["id"])
    y, _ = sf.read(sample.path)
    assert np.isfinite(y).all() and np.max(np.abs(y)) <= 1.0
    assert done["samples"][0]["note"] == "A4"


SNEAKY = {"line separator U+2028": "Aiko\u2028Bob", "paragraph separator U+2029": "Ai\u2029ko",
          "zero-width space": "Ai\u200bko", "right-to-left mark": "\u200fAiko", "left-to-right mark": "Aiko\u200e",
          "byte order mark": "\ufeffAiko", "soft hyphen": "Ai\u00adko", "word joiner": "Ai\u2060ko",
          "tag characters": "Aiko\U000e0041", "zero-width joiner between letters": "Ai\u200dko"}


@pytest.mark.parametrize("case", SNEAKY, ids=list(SNEAKY))
def test_names_with_invisible_or_line_breaking_characters_are_refused(serve, case):  # noqa: F811
    live = serve()
    answer = live.post(data={"name": SNEAKY[case]})
    assert answer.status_code == 400 and answer.json()["field"] == "name", answer.text
    assert_nothing_stored(live.pipeline.library)


def test_names_with_emoji_sequences_and_accents_are_kept(serve):  # noqa: F811
    live = serve()
    for name in ("\U0001f469\u200d\U0001f3a4 Zoë", "Søren 🎻", "北斎"):
        answer = live.post(data={"name": name})
        assert answer.status_code == 201 and answer.json()["participant"] == name, answer.text


# -- the performer's own machine --------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/api/samples", "/map"])
def test_local_only_routes_check_the_host_header(serve, path):  # noqa: F811
    """A page elsewhere that rebinds its own name to 127.0.0.1 reaches us with its name in ``Host``."""
    live = serve()
    port = live.server.port
    for host in ("evil.example", f"evil.example:{port}", f"127.0.0.1.evil.example:{port}"):
        refused = requests.get(live.url(path), headers={"Host": host})
        assert refused.status_code == 403 and refused.json()["error"] == "local_only", (host, refused.text)
    for host in (f"127.0.0.1:{port}", f"localhost:{port}", f"[::1]:{port}", "localhost"):
        assert requests.get(live.url(path), headers={"Host": host}).status_code == 200, host


def test_the_token_never_reaches_the_access_log(serve, caplog):  # noqa: F811
    live = serve()
    caplog.set_level(logging.INFO, logger="tornado.access")
    # (a refusal of a kind logged in the last minute is not logged again: this test's own path is new)
    assert live.status(918273)["error"] == "not_found"
    requests.get(live.url(f"/api/show?token={TOKEN}"))
    requests.get(live.url("/api/show?token=a-wrong-one"))
    live.post(query=f"?token={TOKEN}")
    deadline = time.monotonic() + 5  # the server's loop logs a request just after its answer left
    while not any(r.getMessage().startswith("POST") for r in caplog.records) and time.monotonic() < deadline:
        time.sleep(0.05)
    lines = [r.getMessage() for r in caplog.records if r.name == "tornado.access"]
    assert any("/api/recordings/918273" in line for line in lines), lines  # requests are still logged
    assert any(line.startswith("POST /api/recordings (127.0.0.1) 201") for line in lines), lines
    assert not [line for line in lines if TOKEN in line or "a-wrong-one" in line], lines


# -- the rate limit a venue can live with -----------------------------------------------------------------------


def phone(live, device: str, audio: bytes = TONE, **kwargs) -> requests.Response:
    return live.post(files={"audio": ("r.wav", audio, "audio/wav")}, headers={"X-Exsampling-Device": device},
                     **kwargs)


def test_refused_and_unauthenticated_posts_spend_no_allowance(serve):  # noqa: F811
    live = serve(rate_limit=3)
    for _ in range(10):
        assert phone(live, "device-aaaa", token=None).status_code == 403
        assert phone(live, "device-aaaa", token="wrong").status_code == 403
        assert phone(live, "device-aaaa", audio=b"not audio at all").status_code == 415
        assert post_raw(live.server.port, GOOD[:100]).startswith(b"HTTP/1.1 400")
    assert [phone(live, "device-aaaa").status_code for _ in range(4)] == [201, 201, 201, 429]


def test_fifteen_participants_behind_one_address_all_get_in(serve):  # noqa: F811
    venue = ServerConfig()  # the defaults
    live = serve(rate_limit=venue.rate_limit, rate_limit_per_address=venue.rate_limit_per_address)
    codes = [phone(live, f"phone-{i:02d}-device").status_code for i in range(15) for _ in range(2)]
    assert codes == [201] * 30


def test_one_phone_over_its_allowance_waits_and_the_others_do_not(serve):  # noqa: F811
    live = serve(rate_limit=2)
    assert [phone(live, "eager-phone-1").status_code for _ in range(2)] == [201, 201]
    limited = phone(live, "eager-phone-1")
    assert limited.status_code == 429 and limited.json()["error"] == "rate_limited"
    assert 0 < int(limited.headers["Retry-After"]) <= 60
    assert phone(live, "calm-phone-22").status_code == 201


def test_changing_device_ids_meets_the_address_ceiling(serve):  # noqa: F811
    live = serve(rate_limit=2, rate_limit_per_address=5)
    codes = [phone(live, f"forged-device-{i}").status_code for i in range(6)]
    assert codes == [201] * 5 + [429]


def test_a_flood_of_one_refusal_is_one_log_line(serve, caplog):  # noqa: F811
    live = serve()
    caplog.set_level(logging.INFO)
    for _ in range(300):
        assert requests.get(live.url("/api/recordings/424242?token=wrong")).status_code == 403
    lines = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert len([line for line in lines if "/api/recordings/424242" in line]) == 1, lines[:5]


def test_a_refusal_is_heard_whole_over_https_not_as_a_broken_connection(serve):  # noqa: F811
    """A refusal decided before the body (wrong token, closed show, rate limit) is answered once the body is in:
    a client still sending when the server answers and closes (a phone's browser, Python's TLS client) reports a
    network error, and a phone would retry what was refused."""
    live = serve(host="0.0.0.0", rate_limit=1, rate_limit_per_address=1)  # HTTPS beside HTTP
    cert = live.server.certificate
    base = f"https://127.0.0.1:{live.server.https_port}/api/recordings"
    big = wav(0.1 * np.random.default_rng(0).standard_normal(SR * 20))  # ≈ 0.9 MB: still sending when decided

    def post(token: str) -> requests.Response:
        return requests.post(f"{base}?token={token}", files={"audio": ("r.wav", big, "audio/wav")},
                             verify=str(cert), timeout=30)

    assert [post("wrong").status_code for _ in range(3)] == [403] * 3
    assert post(TOKEN).status_code == 201
    refused = [post(TOKEN) for _ in range(3)]
    assert [(r.status_code, r.json()["error"]) for r in refused] == [(429, "rate_limited")] * 3
    live.show.is_open = False
    assert post(TOKEN).json()["error"] in ("show_closed", "rate_limited")
    assert live.pipeline.library.counts()["recordings"] == 1
