"""The console's old-show panel: open a kept show read-only, listen to it, and replay it into tonight's show."""
import asyncio
import time

import pytest
from test_replay import replay_config, stage_view

from exsampling.archive import export_show
from exsampling.config import load
from exsampling.console import Console
from exsampling.console.ownership import ReadOnlyConsole, Role
from exsampling.library import Library
from exsampling.osc import OscSender
from exsampling.pipeline import build

pytestmark = pytest.mark.slow  # a show made through the real server, consoles with its model

@pytest.fixture(scope="module")
def kept_zip(made_show, tmp_path_factory):
    folder = tmp_path_factory.mktemp("kept")
    return export_show(Library(made_show.library), load(made_show.config), folder / "last-night.zip").path


def tonight(tmp_path, model, osc_port):
    """Tonight's console: the replay tests' config (``model``, a fresh library, OSC to ``osc_port``), shows kept
    beside it."""
    config = replay_config(tmp_path, model, osc_port)
    cfg = load(config)
    return Console(cfg, build(cfg), config_file=config)


def test_an_old_show_opens_read_only_and_plays_its_samples(kept_zip, made_show, tmp_path):
    (tmp_path / "last-night.zip").write_bytes(kept_zip.read_bytes())
    console = tonight(tmp_path, made_show.model, 9)
    panel = console.kept
    assert str(tmp_path / "last-night.zip") in panel.path.options  # shows kept beside the config are offered
    assert panel.replay.disabled  # nothing open yet, and this console does not run the show
    assert panel.show_file(tmp_path / "last-night.zip")
    story = panel.story.value
    assert "<h1>last-night</h1>" in story and "6 recordings · 7 samples" in story and "<svg class='timeline'" in story
    assert "read-only" in panel.message.value and len(panel.picker.options) == 7
    first = Library(made_show.library).sample(panel.picker.options[0][1])
    panel.picker.value = panel.picker.options[1][1]
    panel.picker.value = panel.picker.options[0][1]
    assert bytes(panel.player.value) == open(first.path, "rb").read()  # noqa: SIM115
    assert panel.replay.disabled  # read-only console: it may look, not replay
    with pytest.raises(ReadOnlyConsole):
        asyncio.run(console.replay(kept_zip))
    copy = panel.opened.library.root
    panel.close_show()
    assert not copy.exists() and panel.picker.options == () and panel.close_button.disabled
    assert not panel.show_file(tmp_path / "missing.zip") and "does not exist" in panel.message.value
    console.close()
    console.pipeline.close()


def test_the_replay_button_plays_the_old_show_into_tonight(kept_zip, made_show, tmp_path, osc_peer):
    console = tonight(tmp_path, made_show.model, osc_peer.port)
    console.ownership.role = Role.OWNER  # as after take_over(), without serving uploads
    panel = console.kept

    async def scenario():
        assert panel.show_file(kept_zip)
        assert not panel.replay.disabled
        panel.speed.value = 20.0
        panel.replay.click()
        deadline = time.monotonic() + 120
        while not panel.result.value.startswith("<pre") and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        await asyncio.sleep(0.2)

    asyncio.run(scenario())
    assert "differ from the show: 0 of 7 samples" in panel.result.value, (panel.result.value, console.problems)
    assert panel.bar.value == panel.bar.max == 6 and panel.bar.bar_style == "success"
    expected = stage_view(made_show.messages)
    assert stage_view(osc_peer.wait_for(len(expected))) == expected  # the stage heard the show again
    tonight_library = console.library
    assert {r.source for r in tonight_library.recordings()} == {"replay"} and len(tonight_library.samples()) == 7
    cards = [card.sample_id for card in console.sounds.grid.children if card.sample_id]
    assert sorted(cards) == sorted(s.id for s in tonight_library.samples())
    last_prompt = Library(made_show.library).events(kinds=["prompt"])[-1].data["text"]
    assert console.state.prompt == console.prompt_panel.prompt == last_prompt
    actor = f"console:{console.ownership.console_id[:8]}"
    assert {e.actor for e in tonight_library.events()} == {actor}
    console.close()
    console.pipeline.close()


def test_a_replay_can_be_stopped(kept_zip, made_show, tmp_path):
    console = tonight(tmp_path, made_show.model, 9)
    console.pipeline.sender = OscSender("127.0.0.1", 9)
    console.ownership.role = Role.OWNER

    async def scenario():
        task = asyncio.ensure_future(console.replay(kept_zip, speed=0.5))  # ≈ 6 s of show at half speed
        while console.kept.bar.max == 1:
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.5)
        console.stop_replay()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(scenario())
    assert "stopped" in console.kept.result.value and console.kept.bar.bar_style == "danger"
    assert len(console.library.recordings()) < 6 and not console.kept.replaying
    console.close()
    console.pipeline.close()
