"""What phones' own recorders save, made by Debian's ffmpeg and sent through the real HTTP API: AAC in M4A, MP4
(with a video track), MOV and 3GP, Opus and Vorbis in WebM, become samples; hostile containers get a 4xx with a
reason and leave nothing behind."""
import shutil
import struct
import subprocess
from pathlib import Path

import numpy as np
import pytest
from test_server import assert_nothing_stored, cfg, loop, serve  # noqa: F401  (the live-server fixtures, shared)

from exsampling.containers import ContainerReader, DecodeTimeout
from exsampling.pitch import hz_to_midi

pytestmark = pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="needs Debian's ffmpeg (make system-deps)")

TONE_HZ = 440.0
SECONDS = 3.0


def ffmpeg(out: Path, *encode: str, video: bool = False, audio_track: bool = True, seconds: float = SECONDS) -> bytes:
    """A file as a phone's recorder or camera saves it: a 440 Hz tone (and a small test picture), ``encode``d."""
    inputs = ["-f", "lavfi", "-i", f"sine=f={TONE_HZ:g}:d={seconds:g}"] if audio_track else []
    if video:
        inputs += ["-f", "lavfi", "-i", f"testsrc=size=160x120:rate=15:d={seconds:g}", "-c:v", "mpeg4"]
    subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-y", *inputs, *encode, str(out)], check=True,
                   timeout=120)
    return out.read_bytes()


PHONES = {  # what each saves: (file name, ffmpeg's encoder options, with a video track, kept as)
    "iphone-voice-memo.m4a": (["-c:a", "aac", "-b:a", "64k"], False, "m4a"),
    "android-camera.mp4": (["-c:a", "aac", "-ar", "48000", "-ac", "2"], True, "mp4"),
    "iphone-camera.mov": (["-c:a", "aac", "-ar", "44100"], True, "mov"),
    "old-android.3gp": (["-c:a", "aac", "-ar", "16000", "-ac", "1"], False, "3gp"),
    "chrome-recorder.webm": (["-c:a", "libopus"], False, "webm"),
    "firefox-recorder.webm": (["-c:a", "libvorbis"], False, "webm"),
    "android-recorder.ogg": (["-c:a", "libopus"], False, "ogg"),
}


@pytest.mark.parametrize("name", PHONES)
def test_what_a_phone_saves_becomes_a_sample(serve, tmp_path, name):  # noqa: F811
    encode, video, kept_as = PHONES[name]
    data = ffmpeg(tmp_path / name, *encode, video=video)
    live = serve()
    answer = live.post(files={"audio": (name, data, "application/octet-stream")})
    assert answer.status_code == 201, answer.text
    rec = live.pipeline.library.recording(answer.json()["id"])
    assert rec.path.endswith(f".{kept_as}") and Path(rec.path).read_bytes() == data  # kept as it came
    assert rec.duration_s == pytest.approx(SECONDS, abs=0.1)  # from the container's header
    done = live.wait_processed(rec.id)
    assert done["status"] == "done", done
    [sample] = done["samples"]
    assert sample["duration_s"] == pytest.approx(SECONDS, abs=0.15)
    assert abs(100 * (hz_to_midi(sample["pitch_hz"]) - hz_to_midi(TONE_HZ))) <= 20  # decoded, not noise


def _claim_hours_mp4(data: bytes, hours: float = 3.0) -> bytes:
    """An M4A whose every header (movie, track, edit list, sample table) says it lasts ``hours``; its body holds
    3 s."""
    out = bytearray(data)
    for box in (b"mvhd", b"mdhd"):
        at = out.find(box) + 4
        assert out[at] == 0  # version 0: 32-bit fields
        (scale,) = struct.unpack_from(">I", out, at + 12)
        struct.pack_into(">I", out, at + 16, int(hours * 3600 * scale))
    (movie_scale,) = struct.unpack_from(">I", out, out.find(b"mvhd") + 16)
    struct.pack_into(">I", out, out.find(b"elst") + 12, int(hours * 3600 * movie_scale))
    struct.pack_into(">I", out, out.find(b"stts") + 16, 1024 * 4000)  # each packet: 4000 times its 1024 samples
    return bytes(out)


def _claim_hours_webm(data: bytes, hours: float = 3.0) -> bytes:
    """A WebM whose Segment Info says it lasts ``hours``."""
    out = bytearray(data)
    at = out.find(b"\x44\x89")  # the Duration element: a float of milliseconds
    assert out[at + 2] in (0x84, 0x88)
    struct.pack_into(">d" if out[at + 2] == 0x88 else ">f", out, at + 3, hours * 3600 * 1000.0)
    return bytes(out)


def test_hostile_containers_are_refused_with_a_reason_and_nothing_kept(serve, tmp_path):  # noqa: F811
    m4a = ffmpeg(tmp_path / "a.m4a", "-c:a", "aac")
    webm = ffmpeg(tmp_path / "a.webm", "-c:a", "libopus")
    cases = {
        "m4a claiming 3 hours": (_claim_hours_mp4(m4a), 422, "too_long", "10800"),
        "webm claiming 3 hours": (_claim_hours_webm(webm), 422, "too_long", "10800"),
        "m4a cut before its index": (m4a[:len(m4a) // 2], 415, "undecodable", "not audio we can read"),
        "video without sound": (ffmpeg(tmp_path / "mute.mp4", video=True, audio_track=False), 415, "undecodable",
                                "no sound track"),
        "5.1 surround": (ffmpeg(tmp_path / "surround.m4a", "-c:a", "aac", "-ac", "6"), 422, "unsupported_audio",
                         "6 channels"),
        "a minute, over the 30 s limit": (ffmpeg(tmp_path / "long.m4a", "-c:a", "aac", "-ar", "8000", seconds=60),
                                          422, "too_long", "60.0 s"),
    }
    live = serve()
    for case, (data, status, code, reason) in cases.items():
        answer = live.post(files={"audio": ("r.m4a", data, "audio/mp4")})
        assert (answer.status_code, answer.json()["error"]) == (status, code), (case, answer.text)
        assert reason in answer.json()["message"], (case, answer.text)
    assert_nothing_stored(live.pipeline.library)


def test_a_streamed_webm_without_a_duration_is_measured_by_its_packets(serve, tmp_path):  # noqa: F811
    """MediaRecorder (and ffmpeg writing to a pipe) cannot go back to write the length: the header has none."""
    def streamed(seconds: float) -> bytes:
        return subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-f", "lavfi", "-i",
                               f"sine=f={TONE_HZ:g}:d={seconds:g}", "-c:a", "libopus", "-f", "webm", "pipe:1"],
                              check=True, capture_output=True, timeout=120).stdout

    live = serve()
    long = live.post(files={"audio": ("r.webm", streamed(60), "audio/webm")})
    assert (long.status_code, long.json()["error"]) == (422, "too_long"), long.text
    answer = live.post(files={"audio": ("r.webm", streamed(SECONDS), "audio/webm")})
    assert answer.status_code == 201, answer.text
    assert answer.json()["duration_s"] == pytest.approx(SECONDS, abs=0.1)
    done = live.wait_processed(answer.json()["id"])
    assert done["status"] == "done", done


def test_a_container_decode_has_a_deadline(tmp_path):
    path = tmp_path / "a.m4a"
    ffmpeg(path, "-c:a", "aac")
    with ContainerReader(path, max_decode_s=0.0) as reader, pytest.raises(DecodeTimeout):
        reader.read(out=np.empty((4096, reader.channels), dtype="float32"))
