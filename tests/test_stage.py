"""The return path (exsampling/stage.py): answers sent by a real OSC peer over UDP, heard by a real listener.

The devices' side is played here by python-osc's client (Pure Data plays it for real in test_puredata.py); the
console's side is the Stage object bound on an asyncio loop, as in the console's kernel.
"""
from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import pytest
from conftest import SR, free_port, tone
from pythonosc.udp_client import SimpleUDPClient

from exsampling.library import Library
from exsampling.osc import OscSender
from exsampling.records import Sample, StageAnswer, outcome_json
from exsampling.stage import (
    LOAD_WARNING_S,
    SILENT_AFTER_S,
    Hello,
    Loaded,
    Played,
    Stage,
    ago,
    parse,
    reply_host_for,
)


@pytest.mark.parametrize(("address", "args", "expected"), [
    ("/exsampling/hello", ["pd-twin", 2, "Bass", "Wind"], Hello("pd-twin", 2, ("Bass", "Wind"))),
    ("/exsampling/hello", ["max-hub", 2], Hello("max-hub", 2, ())),
    ("/exsampling/hello", ["pd-twin", 2.0, "Bass"], Hello("pd-twin", 2, ("Bass",))),   # Pd's floats
    ("/exsampling/loaded", [12, "Wind", 1, ""], Loaded(12, "Wind", True, "")),
    ("/exsampling/loaded", [12, "Wind", 1, "ok", "later", 3], Loaded(12, "Wind", True, "")),  # extra args ignored
    ("/exsampling/loaded", [12, "Wind", 0, "not found: /x.wav"], Loaded(12, "Wind", False, "not found: /x.wav")),
    ("/exsampling/played", [12, 3, "Wind"], Played(12, 3, "Wind")),
    ("/other/played", [12, 3, "Wind"], None),
    ("/exsampling/played", [12, 3], None),
    ("/exsampling/played", [12, 0, "Wind"], None),
    ("/exsampling/played", [12.5, 1, "Wind"], None),
    ("/exsampling/loaded", [12, "Wind", 2, ""], None),
    ("/exsampling/loaded", ["12", "Wind", 1, ""], None),
    ("/exsampling/hello", ["pd-twin"], None),
    ("/exsampling/hello", [2, 2], None),
    ("/exsampling/sample/Wind", [12], None),
])
def test_parse_follows_the_contract(address, args, expected):
    assert parse(address, args) == expected


def test_ago_reads_like_a_person():
    assert [ago(0.4), ago(45), ago(180), ago(3 * 3600)] == ["0 s", "45 s", "3 min", "3 h"]


def test_a_local_stage_is_answered_on_loopback():
    assert reply_host_for("127.0.0.1") == reply_host_for("localhost") == "127.0.0.1"


@pytest.fixture
def library(tmp_path) -> Library:
    return Library(tmp_path / "lib")


def add_sample(library: Library) -> Sample:
    rec = library.add_recording(b"RIFF", "wav")
    return library.add_sample(Sample(id=0, recording_id=rec.id, path="", start_s=0, duration_s=1, instrument="Wind"),
                              tone(440, 0.5), SR)


async def until(condition: Callable[[], object], timeout_s: float = 5.0) -> None:
    """Let the loop run until ``condition()`` is true (the listener works on this very loop)."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.01)


def test_answers_reach_the_library_over_udp(library):
    sent, never_sent = add_sample(library), add_sample(library)
    library.stage_sent(sent.id, time.time())
    heard: list = []

    async def scenario() -> None:
        stage = Stage(library, listen_port=0)
        stage.listeners.append(lambda answer, updated: heard.append((answer, updated)))
        await stage.start()
        device = SimpleUDPClient("127.0.0.1", stage.port)
        try:
            assert library.stage_answers([sent.id])[sent.id].state == "sent"
            device.send_message("/exsampling/loaded", [sent.id, "Wind", 1, ""])
            await until(lambda: len(heard) == 1)
            assert library.stage_answers([sent.id])[sent.id].state == "loaded"
            device.send_message("/exsampling/played", [sent.id, 1, "Wind"])
            device.send_message("/exsampling/played", [never_sent.id, 1, "Wind"])
            device.send_message("/exsampling/loaded", [10_000, "Wind", 1, ""])
            await until(lambda: len(heard) == 4)
        finally:
            stage.stop()

    asyncio.run(scenario())
    answer = library.stage_answers([sent.id, never_sent.id])
    assert list(answer) == [sent.id], "answers about samples this library never sent are not recorded"
    assert answer[sent.id].state == "played" and answer[sent.id].played == 1 and answer[sent.id].track == "Wind"
    assert [updated is None for _, updated in heard] == [False, False, True, True]


def test_nothing_changes_without_an_answer(library):
    sample = add_sample(library)
    library.stage_sent(sample.id, time.time())

    async def scenario() -> Stage:
        stage = Stage(library, listen_port=0)
        await stage.start()
        garbage = SimpleUDPClient("127.0.0.1", stage.port)
        garbage._sock.sendto(b"\x00not osc at all", ("127.0.0.1", stage.port))
        garbage.send_message("/exsampling/loaded", [sample.id, "Wind", "yes", ""])
        garbage.send_message("/exsampling/sample/Wind", [sample.id])
        await until(lambda: stage.ignored == 3)
        stage.stop()
        return stage

    stage = asyncio.run(scenario())
    answer = library.stage_answers([sample.id])[sample.id]
    assert (answer.state, answer.loaded, answer.played, answer.answered_at) == ("sent", None, 0, None)
    assert stage.status().last_heard is None


def test_not_loaded_keeps_the_reason_one_ok_wins_and_a_new_send_starts_afresh(library):
    sample = add_sample(library)
    stage = Stage(library)
    library.stage_sent(sample.id, time.time())
    stage.handle(Loaded(sample.id, "Wind", False, "not found: /stage/000001.wav"), "10.0.0.2")
    answer = library.stage_answers([sample.id])[sample.id]
    assert (answer.state, answer.reason) == ("not_loaded", "not found: /stage/000001.wav")
    assert answer.as_json() == {"state": "not_loaded", "played": 0}
    stage.handle(Loaded(sample.id, "Wind", True, ""), "10.0.0.3")       # another device has it
    stage.handle(Loaded(sample.id, "Wind", False, "unreadable: x"), "10.0.0.2")
    assert library.stage_answers([sample.id])[sample.id].state == "loaded"
    stage.handle(Played(sample.id, 4, "Wind"), "10.0.0.3")
    stage.handle(Played(sample.id, 2, "Wind"), "10.0.0.2")             # the highest count wins
    assert library.stage_answers([sample.id])[sample.id].as_json() == {"state": "played", "played": 4}
    library.stage_sent(sample.id, time.time())                        # "send again"
    assert library.stage_answers([sample.id])[sample.id].state == "sent"
    history = [(e.kind, e.actor, e.data) for e in library.events(sample_id=sample.id, kinds=["loaded", "played"])]
    assert history == [
        ("loaded", "stage:10.0.0.2", {"instrument": "Wind", "ok": False, "reason": "not found: /stage/000001.wav"}),
        ("loaded", "stage:10.0.0.3", {"instrument": "Wind", "ok": True, "reason": ""}),
        ("loaded", "stage:10.0.0.2", {"instrument": "Wind", "ok": False, "reason": "unreadable: x"}),
        ("played", "stage:10.0.0.3", {"instrument": "Wind", "count": 4})]   # the lower count 2 changed nothing


def test_the_console_tells_the_devices_where_to_answer_and_which_names_exist(library, osc_peer):
    async def scenario() -> tuple[Stage, int]:
        stage = Stage(library, OscSender("127.0.0.1", osc_peer.port), listen_port=0)
        await stage.start()
        port = stage.port
        await asyncio.to_thread(osc_peer.wait_for, 1)
        assert stage.announce(["Wind", "Bass", "Lead"]) and not stage.announce(["Bass", "Lead", "Wind"])
        SimpleUDPClient("127.0.0.1", port).send_message("/exsampling/hello", ["pd-twin", 2, "Bass", "Wind"])
        await until(lambda: len(osc_peer.messages) >= 3)
        stage.stop()
        return stage, port

    stage, port = asyncio.run(scenario())
    reply, announced, answered = osc_peer.wait_for(3)[:3]
    assert reply == ("/exsampling/reply", ["127.0.0.1", port])
    assert announced == answered == ("/exsampling/instruments", ["Bass", "Lead", "Wind"])
    (device,) = stage.devices()
    assert (device.name, device.host, device.version, device.tracks) == ("pd-twin", "127.0.0.1", 2, ("Bass", "Wind"))
    assert stage.followed() == {"Bass", "Wind"}


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def test_status_says_who_is_there_and_when_the_stage_falls_silent(library):
    clock = Clock()
    stage = Stage(library, clock=clock)
    stage.port = 7401  # as if bound: the status is about what was heard
    assert stage.status().text() == "stage: listening on UDP 7401, no device yet" and not stage.status().silent
    clock.now += SILENT_AFTER_S
    assert stage.status().silent
    assert stage.status().text() == "stage silent: no device has answered for 10 s"
    stage.handle(Hello("max-hub", 2, ("Bass", "BD", "Wind")), "127.0.0.1")
    clock.now += 1
    stage.handle(Hello("pd-twin", 2, tuple("ABCDEF")), "127.0.0.1")
    assert stage.status().text() == "stage: 2 devices, 9 tracks, heard 0 s ago"
    clock.now += 1
    assert stage.status().text() == "stage: 2 devices, 9 tracks, heard 1 s ago"
    clock.now += SILENT_AFTER_S - 1.5
    assert stage.status().text() == "stage: 1 device, 6 tracks, heard 9 s ago"
    clock.now += 0.5
    assert stage.status().silent and stage.followed() == set()
    assert stage.status().text() == "stage silent: no device has answered for 10 s"


def test_unconfirmed_samples_are_those_without_an_answer_after_two_seconds(library):
    clock = Clock()
    stage = Stage(library, clock=clock)
    answers = [StageAnswer(1, clock.now - LOAD_WARNING_S), StageAnswer(2, clock.now - 1),
               StageAnswer(3, clock.now - 60, loaded=True), StageAnswer(4, clock.now - 60, loaded=False),
               StageAnswer(5, clock.now - 60, played=1)]
    assert stage.unconfirmed(answers) == [1]


def test_devices_heard_are_remembered_across_a_restart_and_seen_by_a_read_only_console(library):
    clock = Clock()
    Stage(library, clock=clock).handle(Hello("pd-twin", 2, ("Bass", "Lead")), "192.168.1.20")
    clock.now += 1
    restarted, viewer = Stage(library, clock=clock), Stage(library, clock=clock)
    (device,) = restarted.devices()
    assert (device.name, device.host, device.tracks) == ("pd-twin", "192.168.1.20", ("Bass", "Lead"))
    assert restarted.status().text() == "stage: 1 device, 2 tracks, heard 1 s ago"
    clock.now += 2
    restarted.handle(Hello("pd-twin", 2, ("Bass", "Lead", "Wind")), "192.168.1.20")
    viewer.follow()
    assert viewer.status().text() == "stage: 1 device, 3 tracks, heard 0 s ago"
    clock.now += SILENT_AFTER_S
    assert Stage(library, clock=clock).status().silent


def test_a_sample_carries_what_the_stage_answered(library):
    sample = add_sample(library)
    assert library.sample(sample.id).stage is None
    library.stage_sent(sample.id, 1000.0)
    Stage(library).handle(Loaded(sample.id, "Wind", True, ""), "127.0.0.1")
    stored = library.sample(sample.id)
    assert (stored.stage.state, stored.stage.sent_at, stored.stage.track) == ("loaded", 1000.0, "Wind")
    assert library.samples()[0].stage == stored.stage
    assert outcome_json(stored)["stage"] == {"state": "loaded", "played": 0}


def test_a_taken_port_is_reported_not_raised(library):
    port = free_port()

    async def scenario() -> Stage:
        first, second = Stage(library, listen_port=port), Stage(library, listen_port=port)
        await first.start()
        await second.start()
        first.stop()
        return second

    second = asyncio.run(scenario())
    assert second.port is None and f"UDP port {port} cannot be bound" in second.error
    assert second.status().silent and second.status().text().startswith("stage answers not heard: UDP port")
