"""Replaying a kept show through today's chain: pace, OSC identical to the show's for an unchanged model and
mapping, differences reported for a changed mapping, the Pure Data twin driven by the replay."""
import itertools
import math
import socket
import subprocess
import sys
import threading
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from conftest import OscCollector
from pythonosc.osc_message import OscMessage
from test_puredata import PD, sounding, twin  # noqa: F401 -- twin: the Pure Data fixture
from test_server import cfg, loop, serve  # noqa: F401 -- the live-server fixtures

from exsampling.archive import export_show
from exsampling.config import load
from exsampling.library import Library
from exsampling.pitch import detect, midi_to_hz
from exsampling.records import Recording
from exsampling.replay import Cue, Decision, Outcome, Replayed, Summary, parse_from, plan


def exsampling(*args, timeout=300):
    return subprocess.run([sys.executable, "-m", "exsampling.cli", *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL)


class Ran:
    """``exsampling …`` run in this process (the model is loaded once per test session), its output captured."""

    def __init__(self, capsys, *args) -> None:
        from exsampling.cli import main

        self.returncode = main([str(a) for a in args])
        captured = capsys.readouterr()
        self.stdout, self.stderr = captured.out, captured.err


@pytest.fixture(scope="module")
def show_zip(made_show, tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("kept")
    return export_show(Library(made_show.library), load(made_show.config), folder / "tonight.zip").path


def replay_config(folder: Path, model: Path, osc_port: int, mapping: dict[str, str] | None = None) -> Path:
    """Today's config: ``model`` (the show's, for an unchanged chain), OSC to ``osc_port``, a server (if one runs)
    on loopback only, and maybe a changed mapping."""
    lines = ['[library]\npath = "today"\n', f'[classifier]\nmodel = "{model}"\n', f"[osc]\nport = {osc_port}\n",
             '[server]\nhost = "127.0.0.1"\n']
    if mapping:
        lines.append("[mapping]\n" + "".join(f'{label} = "{track}"\n' for label, track in mapping.items()))
    path = folder / "today.toml"
    path.write_text("".join(lines))
    return path


def stage_view(messages):
    """What the stage learnt from each sample's first ``/sample/`` message, without what a new show renumbers (its id
    and file) or re-dates: class, confidence, track, melodic, pitch, note, place, participant."""
    first, seen = [], set()
    for address, args in messages:
        if "/sample/" in address and args[0] not in seen:
            seen.add(args[0])
            first.append((address, args[2:12]))
    return first


# -- the plan ------------------------------------------------------------------------------------------


def test_from_understands_clock_times_and_offsets():
    first = datetime(2026, 11, 26, 20, 4, 5, tzinfo=UTC)
    local = first.astimezone()
    at = parse_from(local.strftime("%H:%M"), first)
    assert at == first.replace(second=0)
    assert parse_from("+1:30", first) == first + timedelta(minutes=1, seconds=30)
    assert parse_from("+2:00:00", first) == first + timedelta(hours=2)
    after_midnight = (local - timedelta(hours=13)).strftime("%H:%M")  # 13 h "before" the start: the next day
    assert parse_from(after_midnight, first) > first
    for bad in ("25:00", "8pm", "12:61", "+1", ""):
        with pytest.raises(ValueError, match="--from"):
            parse_from(bad, first)


def test_the_plan_keeps_the_show_pace_and_what_the_chain_decided(made_show):
    library = Library(made_show.library)
    cues = [c for c in plan(library) if isinstance(c, Cue)]
    assert [c.recording.id for c in cues] == [1, 2, 3, 4, 5, 6] and cues[0].at_s == 0.0
    assert all(b.at_s >= a.at_s for a, b in itertools.pairwise(cues)) and cues[-1].at_s > 1.0
    relabelled = library.events(kinds=["relabelled"])[0]
    [third] = [c for c in cues if c.recording.id == library.sample(relabelled.sample_id).recording_id]
    assert third.originals == (Decision(relabelled.data["from"], relabelled.data["instrument_from"]),)
    assert sum(c.changed_by_performer for c in cues) == 2  # one re-label, one rejection
    later = [c for c in plan(library, "+00:01") if isinstance(c, Cue)]
    assert later and len(later) < len(cues) and later[0].at_s == 0.0


def test_the_summary_counts_what_moved():
    def cue(recording_id, *decisions, changed=0):
        return Cue(0.0, Recording(recording_id, "", ""), tuple(decisions), changed)

    results = [
        Replayed(cue(1, Decision("Flute", "Wind"), Decision("Bark", "Bass"), Decision("Cough", "TT"), changed=1),
                 Outcome([Decision("Flute", "Wind"), Decision("Bark", "Piano")]), 0.01),
        Replayed(cue(2, Decision("Flute", "Wind")), Outcome(problem="silent: nothing audible"), 0.2),
        Replayed(cue(3, Decision("Knock", "Snare")), Outcome([Decision("Bark", "Snare"), Decision("Knock", "BD")]), 0),
    ]
    summary = Summary.of(results, 2.0, 4.0)
    assert summary.differing == 3 and summary.per_instrument["Bass"].moved == {"Piano": 1}
    assert summary.per_instrument["TT"].moved == {"nothing": 1} and summary.per_instrument["Wind"].moved == {
        "nothing": 1}
    assert summary.per_instrument["Snare"].same == 1 and summary.labels_changed == 3
    assert summary.extra_samples == {"BD": 1} and summary.performer_changes == 1 and summary.max_late_s == 0.2
    text = summary.text()
    assert "differ from the show: 3 of 5 samples (3 with another class)" in text and "1×Piano" in text
    assert "×4 in 2.0 s (1.5 recordings/s" in text and "recording 2: silent: nothing audible" in text
    assert "new samples the show did not have: 1×BD" in text and "re-labelled or rejected 1" in text


# -- the command ---------------------------------------------------------------------------------------


@pytest.mark.slow  # runs `exsampling replay` in a second process
def test_an_unchanged_chain_sends_the_stage_what_the_show_sent(made_show, show_zip, tmp_path):
    peer = OscCollector()
    try:
        config = replay_config(tmp_path, made_show.model, peer.port)
        result = exsampling("replay", show_zip, "--speed", "20", "--send", "--config", config,
                            "--library", tmp_path / "again")
        assert result.returncode == 0, result.stderr
        expected = stage_view(made_show.messages)
        got = stage_view(peer.wait_for(len(expected)))
    finally:
        peer.close()
    assert len(expected) == 7 and got == expected
    assert "decisions that differ from the show: 0 of 7 samples" in result.stdout
    assert "replayed 6 recordings" in result.stdout and "rec/s" in result.stderr  # the progress bar
    again = Library(tmp_path / "again")
    assert {r.source for r in again.recordings()} == {"replay"} and len(again.samples()) == 7
    assert {e.actor for e in again.events()} == {"replay"}
    original = Library(made_show.library)
    assert [r.participant for r in sorted(again.recordings(), key=lambda r: r.id)] == \
        [r.participant for r in sorted(original.recordings(), key=lambda r: r.id)]
    assert sum(r.photo_path is not None for r in again.recordings()) == 1


def test_a_changed_mapping_is_reported_per_instrument(made_show, show_zip, tmp_path, capsys):
    library = Library(made_show.library)
    chain = [Decision(e.data["label"], e.data["instrument"]) for e in library.events(kinds=["classified"])]
    moved = {d.label: ("Snare" if d.instrument != "Snare" else "Bass") for d in chain[:2]}  # two of the show's classes
    expected = sum(d.label in moved for d in chain)
    config = replay_config(tmp_path, made_show.model, 9, moved)
    result = Ran(capsys, "replay", show_zip, "--speed", "inf", "--config", config, "--library", tmp_path / "again",
                 "--no-progress")
    assert result.returncode == 0, result.stderr
    assert f"decisions that differ from the show: {expected} of 7 samples (0 with another class)" in result.stdout
    lines = {line.split()[0]: line for line in result.stdout.splitlines() if line.startswith("  ")}
    for (instrument, target), n in Counter((d.instrument, moved[d.label]) for d in chain if d.label in moved).items():
        assert f"{n}×{target}" in lines[instrument]
    assert "as fast as the chain goes" in result.stdout


def test_audio_left_out_of_the_export_is_said_and_counted(made_show, tmp_path, capsys):
    small = export_show(Library(made_show.library), load(made_show.config), tmp_path / "small.zip",
                        no_audio_over=200_000).path
    result = Ran(capsys, "replay", small, "--speed", "inf", "--config", replay_config(tmp_path, made_show.model, 9),
                 "--library", tmp_path / "again", "--no-progress")
    assert result.returncode == 0, result.stderr
    assert "not kept: its audio was left out of the export" in result.stdout
    assert "now on" in result.stdout and "nothing" in result.stdout


def test_bad_arguments_are_refused_clearly(show_zip, made_show, tmp_path, capsys):
    config = replay_config(tmp_path, made_show.model, 9)
    result = Ran(capsys, "replay", show_zip, "--speed", "0", "--config", config, "--library", tmp_path / "x")
    assert result.returncode == 2 and "--speed 0 must be > 0" in result.stderr
    result = Ran(capsys, "replay", show_zip, "--from", "8pm", "--config", config)
    assert result.returncode == 2 and "--from" in result.stderr
    result = Ran(capsys, "replay", made_show.library, "--library", made_show.library, "--config", config)
    assert result.returncode == 2 and "its own --library" in result.stderr
    result = Ran(capsys, "replay", tmp_path / "none.zip")
    assert result.returncode == 1 and "refused" in result.stderr
    assert not (tmp_path / "x").exists()


# -- the Pure Data twin --------------------------------------------------------------------------------


class Tap:
    """A UDP relay in front of the stage: records every OSC message it passes on."""

    def __init__(self, target_port: int) -> None:
        self.messages: list[tuple[str, list]] = []
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.1)
        self.port, self.target = self.sock.getsockname()[1], ("127.0.0.1", target_port)
        self.running = True
        self.thread = threading.Thread(target=self._relay, daemon=True)
        self.thread.start()

    def _relay(self) -> None:
        out = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        while self.running:
            try:
                data = self.sock.recv(65536)
            except TimeoutError:
                continue
            message = OscMessage(data)
            self.messages.append((message.address, list(message.params)))
            out.sendto(data, self.target)
        out.close()

    def close(self) -> None:
        self.running = False
        self.thread.join(2)
        self.sock.close()


@pytest.mark.slow
@pytest.mark.skipif(PD is None, reason="Pure Data (pd) is not installed: apt-get install puredata-core")
def test_a_replay_at_speed_20_drives_the_pure_data_twin(made_show, show_zip, tmp_path, twin):  # noqa: F811
    tap = Tap(twin.port)
    try:
        config = replay_config(tmp_path, made_show.model, tap.port)
        result = exsampling("replay", show_zip, "--speed", "20", "--send", "--config", config,
                            "--library", tmp_path / "again", "--no-progress")
        assert result.returncode == 0, result.stderr
        again = sorted(Library(tmp_path / "again").samples(), key=lambda s: s.id)
        for sample in again:  # the twin loaded each replayed file into its track
            twin.wait_for(f"exsampling-{sample.instrument}: new sample {sample.id}")
    finally:
        tap.close()
    assert stage_view(tap.messages) == stage_view(made_show.messages)
    # and it plays them: the last melodic sample a track got, a fifth up
    last_on_track = {s.instrument: s for s in again}
    played = next(s for s in reversed(again) if s.melodic and s.midi_note is not None
                  and last_on_track[s.instrument] is s)
    note = played.midi_note + 7
    pitch = detect(sounding(twin.play(played.instrument, note, hold_s=0.5)), 44100)
    assert pitch.hz is not None and abs(1200 * math.log2(pitch.hz / midi_to_hz(note))) < 50, pitch


@pytest.mark.slow  # a second process
def test_a_replay_into_the_running_console_shows_up_there(made_show, show_zip, tmp_path):
    """``--console``: over HTTP to the console's own upload server, as the audience's phones; its cards, map and
    stage follow."""
    import asyncio

    from conftest import free_port

    from exsampling.console import Console
    from exsampling.pipeline import build

    peer = OscCollector()
    config = replay_config(tmp_path, made_show.model, peer.port)
    today_cfg = load(config)

    async def scenario():
        pipeline = build(today_cfg)
        console = Console(today_cfg, pipeline, config_file=config, upload_port=free_port(socket.SOCK_STREAM))
        await console.start()
        assert console.role == "owner"
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "exsampling.cli", "replay", str(show_zip), "--console", "--speed", "10",
            "--config", str(config), "--no-progress", stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        out, err = await asyncio.wait_for(proc.communicate(), 240)
        console.tick()
        cards = [card.sample_id for card in console.sounds.grid.children if card.sample_id]
        markers = len(console.map.markers.layers)
        prompt = (console.prompt_panel.prompt, console.state.prompt)
        console.close()
        pipeline.close()
        return proc.returncode, out.decode(), err.decode(), cards, markers, prompt

    try:
        code, out, err, cards, markers, prompt = asyncio.run(scenario())
        expected = stage_view(made_show.messages)
        got = stage_view(peer.wait_for(len(expected)))
    finally:
        peer.close()
    assert code == 0, err
    assert "into the running console's show" in out and "differ from the show: 0 of 7 samples" in out
    assert len(cards) == 7 and markers == 5  # every sample has its card; every located recording its marker
    assert got == expected
    today = Library(tmp_path / "today")
    assert {r.source for r in today.recordings()} == {"upload"}  # it came in as the audience's uploads
    shown = [e.data["text"] for e in Library(made_show.library).events(kinds=["prompt"])]
    assert len(shown) == 2 and prompt == (shown[-1], shown[-1])  # the phones and the page follow the prompts
    assert [(e.data["text"], e.actor) for e in today.events(kinds=["prompt"])] == [(t, "replay") for t in shown]


@pytest.mark.slow  # waits out Retry-After
def test_a_replay_over_http_is_one_phone_per_participant_and_waits_out_the_rate_limit(serve, loop):  # noqa: F811
    """The server's per-phone allowance: a kept participant is one phone for the whole replay (the same device id on
    each upload), many participants are not squeezed into one allowance, and a 429 is waited out, never lost."""
    import asyncio

    import requests
    from test_server import TOKEN, TONE

    from exsampling.replay import HttpFeed, Upload

    async def send_all(feed: HttpFeed, names: list[str]) -> list[Outcome]:
        try:
            taken = [await feed.send(Upload(TONE, "wav", name, None, None)) for name in names]
            return list(await asyncio.gather(*taken))
        finally:
            await feed.close()

    # Three participants, two sounds each, an allowance of two per phone per minute: nothing waits a minute.
    live = serve(rate_limit=2, rate_limit_per_address=100, rate_window_s=60)
    feed = HttpFeed(live.url(""), TOKEN)
    names = ["Aiko", "Ben", "Chen"] * 2
    outcomes = asyncio.run(asyncio.wait_for(send_all(feed, names), 50))
    assert [o.problem for o in outcomes] == [None] * 6
    assert live.pipeline.library.counts()["recordings"] == 6
    for name in ("Aiko", "Ben", "Chen"):  # each phone spent its allowance under the one id it kept
        again = live.post(headers={"X-Exsampling-Device": feed.device(name)})
        assert again.status_code == 429, again.text
    assert len(set(feed.devices.values())) == 3
    assert requests.get(live.url("/healthz"), timeout=10).status_code == 200

    # One participant over their allowance (one per second): the replay waits as a phone would; all go through.
    live = serve(rate_limit=1, rate_limit_per_address=100, rate_window_s=1)  # the same library: 6 already there
    outcomes = asyncio.run(asyncio.wait_for(send_all(HttpFeed(live.url(""), TOKEN), ["Aiko"] * 4), 50))
    assert [o.problem for o in outcomes] == [None] * 4
    assert live.pipeline.library.counts()["recordings"] == 6 + 4


def test_prompts_are_replayed_where_they_fell(tmp_path):
    import asyncio
    import io
    import time

    import soundfile as sf
    from conftest import tone

    from exsampling.config import Config, LibraryConfig
    from exsampling.pipeline import Pipeline
    from exsampling.replay import ChainFeed, PromptCue, replay

    def wav():
        buf = io.BytesIO()
        sf.write(buf, tone(440, 1.0), 22050, format="WAV")
        return buf.getvalue()

    kept = Library(tmp_path / "kept")
    kept.add_event("prompt", data={"text": "something that rings"})
    for text in ("now water", "too late: after the last sound"):
        time.sleep(0.02)
        kept.add_recording(wav(), "wav", participant="Ana")
        time.sleep(0.02)
        kept.add_event("prompt", data={"text": text})
    cues = plan(kept)
    assert [(type(c).__name__, getattr(c, "text", None)) for c in cues] == [
        ("PromptCue", "something that rings"), ("Cue", None), ("PromptCue", "now water"), ("Cue", None)]
    assert cues[0].at_s == 0.0 and 0 < cues[2].at_s < cues[3].at_s
    assert next(c.text for c in plan(kept, "+0:00") if isinstance(c, PromptCue)) == "something that rings"

    new_cfg = Config(library=LibraryConfig(path=str(tmp_path / "new")))
    feed = ChainFeed(Pipeline(new_cfg, Library(tmp_path / "new"), None, actor="replay"))
    results = asyncio.run(replay(cues, feed, 10.0))
    feed.pipeline.close()  # the feed leaves its pipeline to whoever made it
    new = Library(tmp_path / "new")
    assert len(results) == 2 and new.setting("show.prompt") == "now water"
    assert [(e.kind, e.data.get("text")) for e in new.events(kinds=["prompt", "received"])] == [
        ("prompt", "something that rings"), ("received", None), ("prompt", "now water"), ("received", None)]
