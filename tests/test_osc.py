"""OSC out, received by two independent peers: python-osc's server and liblo's oscdump."""
import re
import shutil
import subprocess
import time

import pytest
from conftest import free_port

from exsampling.osc import OscSender, instruments_message, note_message, reply_message, sample_message, stage_path
from exsampling.records import Location, Sample

CONTRACT_TAGS = "issfsififffss"


def flute(**overrides) -> Sample:
    fields = {"id": 12, "recording_id": 3, "path": "/lib/samples/000012.wav", "start_s": 0.0, "duration_s": 5.0,
              "label": "Flute", "confidence": 0.91, "instrument": "Wind", "melodic": True, "pitch_hz": 440.1,
              "midi_note": 69, "participant": "Aiko", "location": Location(35.39, 139.43, 12.0),
              "recorded_at": "2026-11-26T21:04:05Z"}
    fields.update(overrides)
    return Sample(**fields)


def test_sample_message_follows_the_contract():
    address, args = sample_message(flute())
    assert address == "/exsampling/sample/Wind"
    assert "".join(tag for _, tag in args) == CONTRACT_TAGS
    assert [v for v, _ in args] == [12, "/lib/samples/000012.wav", "Flute", 0.91, "Wind", 1, 440.1, 69, 35.39, 139.43,
                                    12.0, "Aiko", "2026-11-26T21:04:05Z"]


def test_unpitched_and_unlocated_values():
    _, args = sample_message(flute(pitch_hz=None, midi_note=None, location=None, melodic=False, participant=""))
    values = [v for v, _ in args]
    assert values[5:11] == [0, 0.0, -1, 0.0, 0.0, -1.0] and values[11] == ""


@pytest.mark.parametrize(("root", "expected"), [
    ("", "/lib/samples/000012.wav"),
    ("/Volumes/show/samples", "/Volumes/show/samples/000012.wav"),
    ("/Volumes/show/samples/", "/Volumes/show/samples/000012.wav"),
    ("Z:\\show\\samples", "Z:\\show\\samples\\000012.wav"),
    ("//laptop/share/samples", "//laptop/share/samples/000012.wav"),
])
def test_sample_root_is_the_folder_the_stage_sees(root, expected):
    assert stage_path("/lib/samples/000012.wav", root) == expected
    assert sample_message(flute(), sample_root=root)[1][1] == (expected, "s")


def test_console_messages_for_the_return_path():
    assert instruments_message(["Wind", "Bass", "Wind"]) == ("/exsampling/instruments", [("Bass", "s"), ("Wind", "s")])
    assert instruments_message([]) == ("/exsampling/instruments", [])
    assert reply_message("192.168.1.10", 7401) == ("/exsampling/reply", [("192.168.1.10", "s"), (7401, "i")])
    with pytest.raises(ValueError):
        reply_message("127.0.0.1", 0)


def test_a_sample_without_instrument_cannot_be_sent():
    with pytest.raises(ValueError, match="no instrument"):
        sample_message(flute(instrument=None))


def test_note_range_is_checked():
    with pytest.raises(ValueError):
        note_message("Piano", 128, 100)


def test_python_osc_server_receives_every_argument(osc_peer):
    sender = OscSender("127.0.0.1", osc_peer.port)
    assert sender.sample(flute()) and sender.note("Wind", 76, 100) and sender.note("Wind", 76, 0)
    assert sender.withdraw(flute())
    messages = osc_peer.wait_for(4)
    address, args = messages[0]
    assert address == "/exsampling/sample/Wind"
    assert args[:6] == [12, "/lib/samples/000012.wav", "Flute", pytest.approx(0.91), "Wind", 1]
    assert args[6] == pytest.approx(440.1, abs=1e-3) and args[7] == 69
    assert args[8:11] == [pytest.approx(35.39, abs=1e-4), pytest.approx(139.43, abs=1e-4), 12.0]
    assert args[11:] == ["Aiko", "2026-11-26T21:04:05Z"]
    assert messages[1:] == [("/exsampling/note/Wind", [76, 100]), ("/exsampling/note/Wind", [76, 0]),
                            ("/exsampling/withdraw/Wind", [12])]
    assert sender.last_sent is not None and sender.last_error is None


def _oscdump_lines(port: int, send, expected: int) -> list[str]:
    proc = subprocess.Popen(["oscdump", "-L", str(port)], stdout=subprocess.PIPE, text=True)
    try:
        time.sleep(0.3)  # oscdump has no ready signal; give it time to bind
        send()
        lines = []
        deadline = time.monotonic() + 5
        while len(lines) < expected and time.monotonic() < deadline:
            line = proc.stdout.readline()
            if line:
                lines.append(line.rstrip("\n"))
        return lines
    finally:
        proc.kill()
        proc.wait()


@pytest.mark.skipif(shutil.which("oscdump") is None, reason="liblo-tools (oscdump) not installed")
def test_a_name_the_devices_were_not_told_is_announced_before_its_first_sample(osc_peer):
    sender = OscSender("127.0.0.1", osc_peer.port)
    assert sender.sample(flute())  # nothing announced yet (e.g. classify --send): the sample alone
    assert sender.instruments(["Bass", "Wind"])
    assert sender.sample(flute(instrument="Ghost")) and sender.sample(flute(instrument="Ghost"))
    assert [(address, args if address.endswith("instruments") else args[0]) for address, args in
            osc_peer.wait_for(5)] == [
        ("/exsampling/sample/Wind", 12), ("/exsampling/instruments", ["Bass", "Wind"]),
        ("/exsampling/instruments", ["Bass", "Ghost", "Wind"]), ("/exsampling/sample/Ghost", 12),
        ("/exsampling/sample/Ghost", 12)]
    assert sender.announced == {"Bass", "Ghost", "Wind"}


def test_liblo_oscdump_reads_the_same_types_and_values():
    port = free_port()
    sender = OscSender("127.0.0.1", port)
    lines = _oscdump_lines(port, lambda: (sender.sample(flute(path="/lib/a b.wav")), sender.note("Wind", 60, 0),
                                          sender.instruments(["Wind", "Lead"]), sender.reply("10.0.0.5", 7401)), 4)
    assert len(lines) == 4, lines
    tokens = re.findall(r'"[^"]*"|\S+', lines[0])
    _timetag, address, tags, *args = tokens
    assert address == "/exsampling/sample/Wind" and tags == CONTRACT_TAGS
    assert args[0] == "12" and args[1] == '"/lib/a b.wav"' and args[2] == '"Flute"'
    assert float(args[3]) == pytest.approx(0.91) and args[4] == '"Wind"' and args[5] == "1"
    assert float(args[6]) == pytest.approx(440.1, abs=1e-3) and args[7] == "69"
    assert [float(a) for a in args[8:11]] == [pytest.approx(35.39, abs=1e-4), pytest.approx(139.43, abs=1e-4), 12.0]
    assert args[11:] == ['"Aiko"', '"2026-11-26T21:04:05Z"']
    assert lines[1].split()[1:] == ["/exsampling/note/Wind", "ii", "60", "0"]
    assert lines[2].split()[1:] == ["/exsampling/instruments", "ss", '"Lead"', '"Wind"']
    assert lines[3].split()[1:] == ["/exsampling/reply", "si", '"10.0.0.5"', "7401"]
