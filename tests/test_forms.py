"""The upload form read as it arrives (exsampling/server/forms.py): the same fields and files as Tornado's own
parser, wherever the network cuts the body, the audio in its own file, and broken forms refused."""
import os
import random
from concurrent.futures import ThreadPoolExecutor

import pytest
import tornado.httputil
import urllib3

from exsampling.server.forms import FormError, FormReader


@pytest.fixture
def writer():
    with ThreadPoolExecutor(1) as pool:
        yield pool


def reader_for(tmp_path, content_type, writer):
    paths = iter(tmp_path / f"spool-{i}" for i in range(1000))
    return FormReader(content_type, "audio", lambda: next(paths), writer)


def read(reader, body, cuts):
    for start, end in zip([0, *cuts], [*cuts, len(body)], strict=True):
        reader.feed(body[start:end])
    reader.close()


def test_the_form_read_in_pieces_is_what_tornado_reads_from_the_whole(tmp_path, writer):
    rng = random.Random(11)
    for trial in range(60):
        # audio holding what looks like a boundary's start, a second audio file and a repeated field (the first
        # counts), a photo
        audio = os.urandom(rng.randint(0, 4000)) + b"\r\n--" + os.urandom(3)
        body, content_type = urllib3.encode_multipart_formdata([
            ("name", "Aiko ☃"), ("audio", ("r.wav", audio, "audio/wav")), ("photo", ("p.jpg", os.urandom(300),
                                                                                     "image/jpeg")),
            ("name", "second"), ("audio", ("x.wav", b"other", "audio/wav"))])
        (tmp_path / str(trial)).mkdir()
        reader = reader_for(tmp_path / str(trial), content_type, writer)
        read(reader, body, sorted(rng.sample(range(1, len(body)), rng.randint(1, 8))))
        reader.spool.close().result()
        fields, files = {}, {}
        tornado.httputil.parse_body_arguments(content_type, body, fields, files)
        assert reader.spool.path.read_bytes() == files["audio"][0].body
        assert reader.spool.head == audio[:16]
        assert bytes(reader.files["photo"]) == files["photo"][0].body
        assert {k: bytes(v) for k, v in reader.fields.items()} == {k: v[0] for k, v in fields.items()}


def test_one_byte_at_a_time(tmp_path, writer):
    body, content_type = urllib3.encode_multipart_formdata({"audio": ("a.wav", b"RIFF" + bytes(300), "audio/wav"),
                                                            "upload_id": "upload-0001"})
    reader = reader_for(tmp_path, content_type, writer)
    read(reader, body, list(range(1, len(body))))
    reader.spool.close().result()
    assert reader.spool.path.read_bytes() == b"RIFF" + bytes(300) and reader.fields == {"upload_id": b"upload-0001"}


GOOD = (b'--B\r\nContent-Disposition: form-data; name="audio"; filename="a.wav"\r\n\r\nRIFF\r\n'
        b'--B\r\nContent-Disposition: form-data; name="name"\r\n\r\nAiko\r\n--B--\r\n')
BROKEN = {
    "cut short": GOOD[:-20],
    "no final boundary": GOOD[:-7],
    "junk after a boundary": GOOD.replace(b"--B\r\nContent-Disposition: form-data; name=\"name\"",
                                          b"--Bxx\r\nContent-Disposition: form-data; name=\"name\""),
    "NUL in a file name": GOOD.replace(b"a.wav", b"a\x00.wav"),
    "headers over 10 KiB": GOOD.replace(b"a.wav", b"a" * 20_000 + b".wav"),
    "not form-data": GOOD.replace(b"form-data; name=\"name\"", b"attachment; name=\"name\""),
    "no name": GOOD.replace(b"; name=\"name\"", b""),
    "headers not UTF-8": GOOD.replace(b"a.wav", b"\xff.wav"),
    "too many parts": b"".join(b'--B\r\nContent-Disposition: form-data; name="f"\r\n\r\nx\r\n' for _ in range(101))
                      + b"--B--\r\n",
}


@pytest.mark.parametrize("case", BROKEN, ids=list(BROKEN))
def test_a_broken_form_is_refused_and_its_file_removed(tmp_path, writer, case):
    reader = reader_for(tmp_path, "multipart/form-data; boundary=B", writer)
    with pytest.raises(FormError):
        read(reader, BROKEN[case], [7, 50])
    reader.discard()
    writer.submit(lambda: None).result()  # the writer has done what it was given
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("content_type", ["multipart/form-data", "multipart/form-dataxyz; boundary=B",
                                          "application/x-www-form-urlencoded", ""])
def test_a_form_without_a_boundary_is_refused_before_its_body(tmp_path, writer, content_type):
    with pytest.raises(FormError):
        reader_for(tmp_path, content_type, writer)


def test_a_quoted_boundary_and_a_preamble(tmp_path, writer):
    reader = reader_for(tmp_path, 'multipart/form-data; boundary="B"', writer)
    read(reader, b"a preamble\r\n" + GOOD + b"an epilogue", [3])
    reader.spool.close().result()
    assert reader.spool.path.read_bytes() == b"RIFF" and reader.fields == {"name": b"Aiko"}
