"""Whom the console believes about the stage (exsampling/stage.py, docs/osc.md "Whom the console believes"):
answers sent over real UDP by python-osc peers, from loopback and from this machine's LAN address standing in for
a phone on the venue's network."""
from __future__ import annotations

import asyncio
import time

import pytest
from pythonosc.udp_client import SimpleUDPClient
from test_stage import add_sample, until

from exsampling.config import Config, OscConfig
from exsampling.library import Library
from exsampling.server.network import lan_address
from exsampling.stage import MAX_PLAYED, Stage

LAN = lan_address()
needs_lan = pytest.mark.skipif(LAN is None, reason="this machine has no LAN address to send from")


@pytest.fixture
def library(tmp_path) -> Library:
    return Library(tmp_path / "lib")


def peer(port: int, source: str = "127.0.0.1") -> SimpleUDPClient:
    """A device sending from ``source``."""
    client = SimpleUDPClient("127.0.0.1" if source == "127.0.0.1" else source, port)
    client._sock.bind((source, 0))
    return client


def run(library: Library, scenario, **kwargs) -> Stage:
    async def main() -> Stage:
        # a reply host on the LAN: the stage is elsewhere, so the listener binds every interface
        stage = Stage(library, listen_port=0, reply_host=LAN or "127.0.0.1", **kwargs)
        await stage.start()
        try:
            await scenario(stage)
        finally:
            stage.stop()
        return stage

    return asyncio.run(main())


@needs_lan
def test_a_phone_on_the_lan_cannot_claim_a_sample_was_played(library):
    sample = add_sample(library)
    library.stage_sent(sample.id, time.time())

    async def scenario(stage: Stage) -> None:
        phone = peer(stage.port, LAN)
        phone.send_message("/exsampling/played", [sample.id, 7, "Wind"])
        phone.send_message("/exsampling/loaded", [sample.id, "Wind", 1, ""])
        phone.send_message("/exsampling/hello", ["pd-twin", 2, "Wind"])
        await until(lambda: stage.refused == 3)
        assert library.stage_answers([sample.id])[sample.id].state == "sent"
        assert stage.devices() == [] and list(stage.asking) == [LAN]
        assert stage.status().last_heard is None  # nothing believed was heard

        peer(stage.port).send_message("/exsampling/loaded", [sample.id, "Wind", 1, ""])  # the stage, on loopback
        await until(lambda: library.stage_answers([sample.id])[sample.id].state == "loaded")

    stage = run(library, scenario)
    assert stage.refused == 3
    assert [e.actor for e in library.events(sample_id=sample.id, kinds=["loaded", "played"])] == ["stage:127.0.0.1"]


@needs_lan
def test_the_stage_hosts_and_the_devices_the_performer_accepted_are_believed(library):
    sample = add_sample(library)
    library.stage_sent(sample.id, time.time())

    async def configured(stage: Stage) -> None:
        peer(stage.port, LAN).send_message("/exsampling/loaded", [sample.id, "Wind", 1, ""])
        await until(lambda: library.stage_answers([sample.id])[sample.id].state == "loaded")

    run(library, configured, stage_hosts=[LAN])

    async def accepted(stage: Stage) -> None:
        device = peer(stage.port, LAN)
        device.send_message("/exsampling/hello", ["max-hub", 2, "Wind", "Bass"])
        await until(lambda: LAN in stage.asking)
        stage.accept(LAN)
        assert [(d.name, d.host, d.tracks) for d in stage.devices()] == [("max-hub", LAN, ("Wind", "Bass"))]
        device.send_message("/exsampling/played", [sample.id, 2, "Wind"])
        await until(lambda: library.stage_answers([sample.id])[sample.id].played == 2)

    run(library, accepted)
    restarted = Stage(library)  # a reload or a restart still believes it
    assert restarted.trusts(LAN) and not restarted.trusts("192.0.2.99")
    restarted.forget(LAN)
    assert not Stage(library).trusts(LAN)


def test_the_configured_stage_is_believed_by_default(library):
    cfg = Config(osc=OscConfig(host="192.0.2.40", stage_hosts=("192.0.2.41",)))
    stage = Stage.from_config(cfg, library, None)
    assert [stage.trusts(h) for h in ("127.0.0.1", "::1", "192.0.2.40", "192.0.2.41", "192.0.2.42")] == [
        True, True, True, True, False]


def test_an_answer_about_another_track_or_an_absurd_count_is_dropped(library):
    sample = add_sample(library)  # sent to Wind
    library.stage_sent(sample.id, time.time())

    async def scenario(stage: Stage) -> None:
        device = peer(stage.port)
        device.send_message("/exsampling/played", [sample.id, 7, "Bass"])  # not the track it was sent to
        device.send_message("/exsampling/loaded", [sample.id, "Bass", 1, ""])
        device.send_message("/exsampling/played", [sample.id, MAX_PLAYED + 1, "Wind"])
        device.send_message("/exsampling/played", [sample.id, 2 ** 31 - 1, "Wind"])
        await until(lambda: stage.ignored == 4)
        device.send_message("/exsampling/played", [sample.id, 5, "Wind"])
        device.send_message("/exsampling/played", [sample.id, 3, "Wind"])  # lower: changes nothing
        await until(lambda: library.stage_answers([sample.id])[sample.id].played == 5)
        await asyncio.sleep(0.2)

    run(library, scenario)
    assert library.stage_answers([sample.id])[sample.id].played == 5


@pytest.mark.slow
def test_a_flood_of_answers_cannot_grow_the_history(library):
    sample = add_sample(library)
    library.stage_sent(sample.id, time.time())
    before = len(library.events())

    async def scenario(stage: Stage) -> None:
        device = peer(stage.port)
        t0 = time.monotonic()
        for count in range(1, 301):  # 300 rising counts and as many loaded, as fast as the listener reads them
            device.send_message("/exsampling/played", [sample.id, count, "Wind"])
            device.send_message("/exsampling/loaded", [sample.id, "Wind", 1, ""])
            await asyncio.sleep(0)
        while library.stage_answers([sample.id])[sample.id].played < 300:  # the last one may have been dropped
            device.send_message("/exsampling/played", [sample.id, 300, "Wind"])
            await asyncio.sleep(0.05)
            assert time.monotonic() - t0 < 60

    run(library, scenario)
    answer = library.stage_answers([sample.id])[sample.id]
    events = library.events(sample_id=sample.id, kinds=["loaded", "played"])
    assert len(library.events()) - before == len(events) == 2, [(e.kind, e.data) for e in events]
    [played] = [e for e in events if e.kind == "played"]
    assert played.data["count"] == answer.played == 300


@needs_lan
def test_the_console_offers_to_believe_a_device_answering_from_elsewhere(library):
    from exsampling.console.stage_line import StageAsking

    async def scenario(stage: Stage) -> None:
        peer(stage.port, LAN).send_message("/exsampling/hello", ["pd-twin", 2, "Wind"])
        await until(lambda: LAN in stage.asking)
        asking = StageAsking(stage, guard=lambda: None)
        asking.show()
        [line] = asking.children
        text, button = line.children
        assert "pd-twin" in text.value and LAN in text.value and "not believed" in text.value
        button.click()
        assert stage.trusts(LAN) and [d.host for d in stage.devices()] == [LAN]
        assert asking.children == ()

    run(library, scenario)
