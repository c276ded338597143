"""The show's state in the library: typed, validated, shared between processes, with change notifications."""
import os

import pytest

from exsampling.config import Config, LibraryConfig, Mode
from exsampling.library import Library
from exsampling.show_state import OwnerRecord, ShowState, read_owner


@pytest.fixture
def cfg(tmp_path):
    return Config(library=LibraryConfig(path=str(tmp_path / "library")))


def test_first_run_values_come_from_the_config_and_changes_persist(cfg):
    cfg = cfg.with_changes(show={"mode": "preview", "prompt": "water", "open": False})
    state = ShowState(cfg, Library.from_config(cfg))
    assert (state.prompt, state.is_open, state.mode) == ("water", False, Mode.PREVIEW)
    state.mode, state.prompt, state.is_open = "auto", "  wind  ", True
    again = ShowState(cfg, Library.from_config(cfg))
    assert (again.prompt, again.is_open, again.mode) == ("wind", True, Mode.AUTO)
    assert isinstance(again.mode, Mode)


def test_bad_values_are_refused_and_name_the_value(cfg):
    state = ShowState(cfg, Library.from_config(cfg))
    with pytest.raises(ValueError, match=r"'wild'.*auto"):
        state.mode = "wild"
    with pytest.raises(ValueError, match="281 characters"):
        state.prompt = "x" * 281
    assert (state.mode, state.prompt) == ("auto", "")


def test_listeners_hear_changes_made_here_and_in_another_process(cfg):
    library = Library.from_config(cfg)
    follower, owner = ShowState(cfg, library), ShowState(cfg, Library.from_config(cfg))
    heard = []
    follower.listeners.append(lambda s: heard.append((s.prompt, s.is_open, s.mode)))
    follower.prompt = "here"
    follower.prompt = "here"  # no change, no notification
    owner.mode = "preview"
    owner.is_open = False
    follower.refresh()
    follower.refresh()
    assert heard == [("here", True, "auto"), ("here", False, "preview")]


def test_the_owner_s_record_round_trips_and_only_its_console_clears_it(cfg):
    library = Library.from_config(cfg)
    state = ShowState(cfg, library)
    assert state.owner is None and read_owner(library) is None
    record = OwnerRecord(console="c1", pid=os.getpid(), kernel="k1", control_port=1234, secret="s",
                         urls={"local": "http://127.0.0.1:1/?token=t"}, recorder_url="http://127.0.0.1:1/?token=t")
    state.claim(record)
    assert read_owner(library) == record and record.alive
    state.let_go("c2")
    assert state.owner == record
    state.let_go("c1")
    assert state.owner is None


def test_an_owner_record_from_an_older_version_or_a_dead_process_reads_safely(cfg):
    library = Library.from_config(cfg)
    library.set_setting("console.owner", {"console": "old", "pid": 2**22 + 12345, "kernel": "k", "extra": 1})
    owner = read_owner(library)
    assert owner is not None and (owner.console, owner.live_coding, owner.urls) == ("old", False, {})
    assert not owner.alive and not OwnerRecord(console="x", pid=0).alive
    library.set_setting("console.owner", "garbage")
    assert read_owner(library) is None


def test_prompt_and_open_changes_are_in_the_history_with_who_made_them(cfg):
    library = Library.from_config(cfg)
    state = ShowState(cfg, library, actor="console:ab")
    state.prompt = "something metallic"
    state.prompt = "something metallic"  # no change, no event
    state.is_open = False
    state.is_open = True
    state.mode = "preview"
    assert [(e.kind, e.data, e.actor) for e in library.events()] == [
        ("prompt", {"text": "something metallic"}, "console:ab"), ("closed", {}, "console:ab"),
        ("opened", {}, "console:ab")]
    assert all(e.recording_id is None and e.sample_id is None for e in library.events())
