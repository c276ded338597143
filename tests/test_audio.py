"""Audio intake: formats in, bad inputs refused with a reason, trimming and segmenting."""
import io
import itertools

import numpy as np
import pytest
import soundfile as sf
from conftest import SR, noise_bursts, tone, write

from exsampling import audio


def decode(src, sr=SR, max_s=120.0):
    return audio.decode(src, sr, max_s)


@pytest.mark.parametrize("fmt,subtype,ext", [
    ("WAV", "PCM_16", "wav"), ("WAV", "PCM_24", "wav"), ("WAV", "FLOAT", "wav"),
    ("FLAC", "PCM_16", "flac"), ("OGG", "VORBIS", "ogg"), ("MP3", "MPEG_LAYER_III", "mp3"),
])
def test_formats_decode_to_mono_at_model_rate(tmp_path, fmt, subtype, ext):
    y = tone(440, 2.0, sr=44100)
    path = tmp_path / f"t.{ext}"
    channels = 3 if fmt in ("WAV", "FLAC") else 2  # lossy codecs take at most stereo
    sf.write(path, np.stack([y] * channels, axis=1), 44100, format=fmt, subtype=subtype)
    out = decode(path)
    assert out.dtype == np.float32 and out.ndim == 1
    assert abs(len(out) - 2.0 * SR) < 0.06 * SR  # lossy codecs pad a little
    assert np.max(np.abs(out)) == pytest.approx(0.5, abs=0.08)


def test_bytes_and_path_decode_alike(tmp_path):
    path = write(tmp_path / "t.wav", tone(220, 1.0))
    assert np.array_equal(decode(path), decode(path.read_bytes()))


def _truncated_header(tmp_path):
    data = write(tmp_path / "ok.wav", tone(440, 1.0)).read_bytes()
    return data[:20]


@pytest.mark.parametrize("make,error", [
    (lambda tmp: b"", audio.EmptyAudio),
    (_truncated_header, audio.UndecodableAudio),
    (lambda tmp: np.random.default_rng(1).bytes(50_000), audio.UndecodableAudio),
    (lambda tmp: write(tmp / "zero.wav", np.zeros(0, dtype=np.float32)).read_bytes(), audio.EmptyAudio),
    (lambda tmp: write(tmp / "nan.wav", np.array([0.1, np.nan, 0.2] * 1000, dtype=np.float32),
                       subtype="FLOAT").read_bytes(), audio.InvalidSamples),
    (lambda tmp: write(tmp / "inf.wav", np.array([0.1, np.inf] * 1000, dtype=np.float32),
                       subtype="FLOAT").read_bytes(), audio.InvalidSamples),
    (lambda tmp: b"\x89PNG\r\n\x1a\n" + bytes(2000), audio.UndecodableAudio),
    (lambda tmp: b"<html><body>not audio</body></html>" * 100, audio.UndecodableAudio),
])
def test_bad_inputs_are_refused_with_a_reason(tmp_path, make, error):
    with pytest.raises(error) as info:
        decode(make(tmp_path))
    assert str(info.value) and info.value.code


def test_ten_minute_file_is_refused_from_its_header(tmp_path):
    path = tmp_path / "long.wav"
    with sf.SoundFile(path, "w", 8000, 1, subtype="PCM_16") as f:
        f.write(np.zeros(600 * 8000, dtype=np.int16))
    with pytest.raises(audio.TooLongAudio, match=r"600\.0 s"):
        decode(path)


def test_a_missing_file_is_an_undecodable_error(tmp_path):
    with pytest.raises((audio.UndecodableAudio, FileNotFoundError)):
        decode(tmp_path / "absent.wav")


def test_trim_keeps_the_audible_span():
    pad = np.zeros(int(1.5 * SR), dtype=np.float32)
    y = np.concatenate([pad, tone(330, 2.0), pad, pad])
    span = audio.audible_span(y, SR, top_db=20)
    start, end = span.seconds(SR)
    assert start == pytest.approx(1.5, abs=0.05)
    assert end == pytest.approx(3.5, abs=0.05)


def test_trim_cuts_what_is_20_db_below_the_peak():
    quiet = tone(330, 1.0, amp=0.5 * 10 ** (-30 / 20))
    y = np.concatenate([quiet, tone(330, 1.0), quiet])
    start, end = audio.audible_span(y, SR, top_db=20).seconds(SR)
    assert start == pytest.approx(1.0, abs=0.05) and end == pytest.approx(2.0, abs=0.05)


@pytest.mark.parametrize("y", [np.zeros(SR, dtype=np.float32), np.full(SR, 1e-5, dtype=np.float32)])
def test_silence_is_nothing_audible(y):
    with pytest.raises(audio.NothingAudible, match="nothing audible"):
        audio.audible_span(y, SR)


@pytest.mark.parametrize("seconds,expected", [
    (0.4, [0.4]),               # a lone short sound is kept
    (5.0, [5.0]),
    (12.0, [5.0, 5.0, 2.0]),    # a tail of >= 1 s becomes a shorter sample
    (10.5, [5.0, 5.0]),         # a tail under 1 s is dropped
    (30.0, [5.0] * 6),
])
def test_segments(seconds, expected):
    spans = audio.segments(int(seconds * SR), SR, segment_s=5.0, min_tail_s=1.0)
    assert [round((s.end - s.start) / SR, 3) for s in spans] == expected
    assert all(a.end == b.start for a, b in itertools.pairwise(spans))


def test_noise_bursts_survive_trim():
    y = noise_bursts(3.0)
    span = audio.audible_span(y, SR)
    assert span.end - span.start > 2 * SR


def test_pieces_trim_then_cut_in_the_recording_s_own_positions():
    y = np.concatenate([np.zeros(SR), tone(440, 11.5), np.zeros(SR)])  # 1 s silence, 11.5 s tone, 1 s silence
    pieces = audio.pieces(y, SR, segment_s=5.0, min_tail_s=1.0)
    starts = [s.start / SR for s in pieces]
    lengths = [(s.end - s.start) / SR for s in pieces]
    assert starts == pytest.approx([1.0, 6.0, 11.0], abs=0.05)  # the trim is exact to about half an RMS frame
    assert lengths == pytest.approx([5.0, 5.0, 1.5], abs=0.05)
    assert audio.pieces(y, SR, span=audio.audible_span(y, SR)) == pieces  # a known span gives the same cut


def test_pieces_keep_the_tail_rule_and_the_silence_floor():
    assert len(audio.pieces(tone(440, 5.5), SR)) == 1  # a 0.5 s tail is dropped...
    assert len(audio.pieces(tone(440, 0.5), SR)) == 1  # ...but a short recording keeps its only piece
    quiet = tone(440, 2.0, amp=10 ** (-50 / 20))  # peak −50 dBFS
    assert len(audio.pieces(quiet, SR)) == 1
    with pytest.raises(audio.NothingAudible, match="-40"):
        audio.pieces(quiet, SR, silence_floor_dbfs=-40.0)


def test_wav_bytes_round_trip():
    y = tone(440, 0.5)
    back, sr = sf.read(io.BytesIO(audio.wav_bytes(y, SR)), dtype="float32")
    assert sr == SR and np.max(np.abs(back - y)) < 1e-4
