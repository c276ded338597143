"""What a hostile phone sends, over real HTTP to the real Tornado app: each case of issue 21's hostile half gets a
4xx with a reason (or, for a full disk, 507), never a 500, a closed connection or a traceback in the log."""
import socket
import struct
import time

import numpy as np
import pytest
import requests
from conftest import tone
from serving import Serve, wav
from test_hostile import GOOD, multipart, png_of, raw_exchange, status_and_json
from test_server import TOKEN, assert_nothing_stored, cfg, loop, read_response, serve  # noqa: F401  (shared fixtures)

TONE = wav(tone(440.0, 1.0))


def ask(port: int, request: bytes) -> bytes:
    """Send ``request`` on a fresh connection (``Connection: close``) and read the answer until the server closes."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(request)
        return read_response(sock)


def webp_claiming(width: int, height: int) -> bytes:
    """A WebP whose extended header (VP8X) claims ``width`` × ``height`` and holds no picture at all."""
    vp8x = (b"VP8X" + struct.pack("<I", 10) + bytes(4) + (width - 1).to_bytes(3, "little")
            + (height - 1).to_bytes(3, "little"))
    body = b"WEBP" + vp8x
    return b"RIFF" + struct.pack("<I", len(body)) + body


def gif_with_huge_frame() -> bytes:
    """A GIF whose screen is 1 × 1 and whose one frame claims 65535 × 65535."""
    screen = b"GIF89a" + struct.pack("<HH", 1, 1) + bytes([0x80, 0, 0]) + b"\0\0\0\xff\xff\xff"
    frame = b"," + struct.pack("<HHHH", 0, 0, 65535, 65535) + b"\0" + b"\x02\x02\x4c\x01\x00"
    return screen + frame + b";"


def jpeg(width: int = 64, height: int = 48) -> bytes:
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (width, height), (200, 30, 30)).save(buf, format="JPEG")
    return buf.getvalue()


BOMBS = {"WebP claiming 16384 × 16384": webp_claiming(16384, 16384),
         "GIF with a 65535 × 65535 frame": gif_with_huge_frame()}
GARBAGE = {"JPEG magic, then noise": b"\xff\xd8\xff" + bytes(range(256)) * 4,
           "PNG magic, then noise": b"\x89PNG\r\n\x1a\n" + b"\x00" * 600,
           "GIF magic, then noise": b"GIF89a" + b"\x07" * 600,
           "WebP magic, then noise": b"RIFF\x00\x01\x00\x00WEBPVP8 " + b"\x55" * 600,
           "a JPEG cut after its header": jpeg(640, 480)[:400]}


@pytest.mark.parametrize("case", BOMBS, ids=list(BOMBS))
def test_an_image_header_bomb_is_refused_with_a_reason(serve, case):  # noqa: F811
    live = serve()
    answer = live.post(files={"audio": ("a.wav", TONE), "photo": ("p.img", BOMBS[case], "image/webp")})
    assert answer.status_code == 422 and answer.json()["error"] == "photo_too_large", answer.text
    assert "megapixels" in answer.json()["message"]
    assert_nothing_stored(live.pipeline.library)


@pytest.mark.parametrize("case", GARBAGE, ids=list(GARBAGE))
def test_garbage_with_an_images_magic_bytes_is_not_a_photo(serve, case):  # noqa: F811
    live = serve()
    answer = live.post(files={"audio": ("a.wav", TONE), "photo": ("p.jpg", GARBAGE[case], "image/jpeg")})
    assert answer.status_code == 415 and answer.json()["error"] == "photo_not_image", answer.text
    assert_nothing_stored(live.pipeline.library)


def test_a_real_photo_is_still_kept(serve):  # noqa: F811
    live = serve()
    answer = live.post(files={"audio": ("a.wav", TONE), "photo": ("p.jpg", jpeg(), "image/jpeg")})
    assert answer.status_code == 201, answer.text
    assert [p.suffix for p in (live.pipeline.library.root / "photos").iterdir()] == [".jpg"]
    answer = live.post(files={"audio": ("a.wav", TONE), "photo": ("p.png", png_of(300, 200), "image/png")})
    assert answer.status_code == 201, answer.text


@pytest.mark.parametrize("method", ["TRACE", "PROPFIND", "BREW", "PATCH"])
def test_an_unknown_method_is_405_without_a_traceback(serve, method, caplog):  # noqa: F811
    live = serve()
    answer = requests.request(method, live.url(f"/api/recordings?token={TOKEN}"), timeout=10)
    assert answer.status_code == 405
    time.sleep(0.2)  # the loop logs just after the answer left
    assert not [r for r in caplog.records if r.exc_info], [r.getMessage() for r in caplog.records]


def test_a_retry_at_the_rate_limit_gets_its_first_answer(serve):  # noqa: F811
    live = serve(rate_limit=2)
    headers = {"X-Exsampling-Device": "eager-phone-1"}

    def send(upload_id: str, token_in_url: bool) -> requests.Response:
        query, data = (f"?token={TOKEN}", {}) if token_in_url else ("", {"token": TOKEN})
        return requests.post(live.url(f"/api/recordings{query}"), data=data | {"upload_id": upload_id},
                             files={"audio": ("r.wav", TONE, "audio/wav")}, headers=headers, timeout=30)

    first, second = send("first-upload-01", True), send("second-upload-02", True)
    assert (first.status_code, second.status_code) == (201, 201)
    assert send("third-upload-03", True).status_code == 429
    for token_in_url in (True, False):
        again = send("first-upload-01", token_in_url)
        assert again.status_code == 200, again.text
        assert again.json()["id"] == first.json()["id"]
    live.show.is_open = False
    assert send("second-upload-02", True).status_code == 200  # stored before the show closed: its answer still
    assert send("fourth-upload-04", True).json()["error"] == "show_closed"
    assert live.pipeline.library.counts()["recordings"] == 2


def test_a_retry_answers_what_became_of_the_recording(serve):  # noqa: F811
    live = serve()
    first = live.post(data={"upload_id": "retried-upload-1"})
    assert first.status_code == 201
    done = live.wait_processed(first.json()["id"])
    assert done["status"] == "done" and done["samples"]
    again = live.post(data={"upload_id": "retried-upload-1"})
    assert again.status_code == 200
    assert again.json()["status"] == "done"
    assert again.json()["samples"] == done["samples"]


def test_audio_sent_as_a_plain_field_is_missing_audio(serve):  # noqa: F811
    live = serve()
    body = multipart([("audio", None, TONE[:2000])])
    head = (f"POST /api/recordings?token={TOKEN} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
            f"Content-Type: multipart/form-data; boundary=b0undary\r\nContent-Length: {len(body)}\r\n\r\n")
    status, answer = status_and_json(raw_exchange(live.server.port, head.encode() + body))
    assert (status, answer["error"]) == (400, "missing_audio"), answer
    assert "file" in answer["message"]


@pytest.mark.parametrize("path", ["/api/recordings", "/healthz", "/"])
def test_20_kib_of_headers_is_431_with_an_answer(serve, path):  # noqa: F811
    live = serve()
    filler = "".join(f"X-Filler-{i}: {'a' * 200}\r\n" for i in range(100))  # ≈ 21 KiB
    request = (f"GET {path}?token={TOKEN} HTTP/1.1\r\nHost: 127.0.0.1\r\n{filler}Connection: close\r\n\r\n")
    answer = ask(live.server.port, request.encode())
    assert answer.startswith(b"HTTP/1.1 431"), answer[:200]
    assert status_and_json(answer)[1]["error"] == "headers_too_large"
    assert requests.get(live.url("/healthz"), timeout=5).text == "ok\n"  # and the server is fine


def test_uploads_are_refused_with_507_before_the_disk_is_full(serve):  # noqa: F811
    import shutil

    live = serve()
    free_mb = shutil.disk_usage(live.pipeline.library.root).free / 2 ** 20
    full = serve(disk_reserve_mb=free_mb + 1024)  # as if the disk had less than the reserve left
    answer = full.post()
    assert answer.status_code == 507 and answer.json()["error"] == "disk_full", answer.text
    assert "disk" in answer.json()["message"] and int(answer.headers["Retry-After"]) > 0
    assert_nothing_stored(full.pipeline.library)
    assert live.post().status_code == 201  # a reserve the disk has room for takes sounds


# -- the log over every hostile case ---------------------------------------------------------------------------


def test_no_hostile_request_leaves_a_traceback_in_the_log(tmp_path):
    server = Serve.start(tmp_path, rate_limit=1)
    port = server.port
    try:
        def form(photo: bytes | None = None, upload_id: str | None = None) -> requests.Response:
            files = {"audio": ("a.wav", TONE, "audio/wav")} | ({"photo": ("p", photo, "image/png")} if photo else {})
            data = {"upload_id": upload_id} if upload_id else {}
            return requests.post(server.url(f"/api/recordings?token={TOKEN_SERVE}"), files=files, data=data,
                                 timeout=30)

        answers = [form(bomb).status_code for bomb in BOMBS.values()]
        answers += [form(garbage).status_code for garbage in GARBAGE.values()]
        answers += [requests.request(m, server.url("/api/recordings"), timeout=10).status_code
                    for m in ("TRACE", "PROPFIND", "OPTIONS", "DELETE")]
        answers.append(form(upload_id="stored-once-01").status_code)  # the one allowed
        answers.append(form(upload_id="stored-once-01").status_code)  # its retry, at the limit
        answers.append(form(upload_id="one-too-many-02").status_code)
        body = multipart([("audio", None, TONE[:500])])
        answers.append(requests.post(server.url(f"/api/recordings?token={TOKEN_SERVE}"), data=body, timeout=10,
                                     headers={"Content-Type": "multipart/form-data; boundary=b0undary"}).status_code)
        filler = "".join(f"X-Filler-{i}: {'a' * 200}\r\n" for i in range(100))
        big = ask(port, f"GET /healthz HTTP/1.1\r\nHost: x\r\n{filler}Connection: close\r\n\r\n".encode())
        answers.append(int(big.split()[1]))
        answers.append(requests.post(server.url(f"/api/recordings?token={TOKEN_SERVE}"), data=GOOD[:50],
                                     timeout=10).status_code)
        with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
            sock.sendall(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + bytes(200))  # TLS to the HTTP port
    finally:
        server.stop()
    assert all(400 <= a < 500 for a in answers if a not in (200, 201)), answers
    assert answers.count(201) == 1 and answers.count(200) == 1, answers
    log = server.log.read_text(errors="replace")
    assert "Traceback" not in log and "Task exception" not in log, log[-4000:]


TOKEN_SERVE = "venue-token-1"  # tests/serving.py's


def test_uploads_over_https_hear_507_whole(serve):  # noqa: F811
    """Refused before the body like 403/409/429, so a browser still sending hears the answer."""
    import shutil

    live = serve()
    reserve = shutil.disk_usage(live.pipeline.library.root).free / 2 ** 20 + 1024
    full = serve(host="0.0.0.0", disk_reserve_mb=reserve)
    big = wav(0.1 * np.random.default_rng(0).standard_normal(22050 * 20))
    answer = requests.post(f"https://127.0.0.1:{full.server.https_port}/api/recordings?token={TOKEN}",
                           files={"audio": ("r.wav", big, "audio/wav")}, verify=str(full.server.certificate),
                           timeout=30)
    assert answer.status_code == 507 and answer.json()["error"] == "disk_full"


def test_the_console_says_when_the_disk_refuses_sounds(cfg, tmp_path):  # noqa: F811
    import html
    import shutil

    from test_console import make_console

    free_mb = shutil.disk_usage(tmp_path).free / 2 ** 20
    roomy = make_console(cfg.with_changes(server={"host": "127.0.0.1", "disk_reserve_mb": 0}), None, tmp_path)
    roomy.tick()
    assert "Disk" not in roomy.warnings.value or free_mb < 2048  # a nearly full test machine says so too
    full = make_console(cfg.with_changes(server={"host": "127.0.0.1", "disk_reserve_mb": free_mb + 1024}), None,
                        tmp_path)
    full.tick()
    warnings = html.unescape(full.warnings.value)
    assert "Disk nearly full" in warnings and "phones' sounds are refused (507)" in warnings, warnings
