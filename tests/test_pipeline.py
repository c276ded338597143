"""The live chain end to end with a real (untrained) model, a real library and a real OSC peer."""
import asyncio
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import SR, noise_bursts, tone, write

from exsampling import audio
from exsampling.classifier import Classifier
from exsampling.config import Mode
from exsampling.library import Library, Received
from exsampling.osc import OscSender
from exsampling.pipeline import Pipeline, build
from exsampling.show_state import ShowState


def make(cfg, classifier, mode="auto"):
    cfg = cfg.with_changes(show={"mode": mode})  # a pipeline without a show runs in [show] mode
    return Pipeline(cfg, Library.from_config(cfg), classifier, OscSender.from_config(cfg))


def padded_tone(hz, seconds, pad_s=1.0):
    pad = np.zeros(int(pad_s * SR), dtype=np.float32)
    return np.concatenate([pad, tone(hz, seconds), pad])


def test_auto_mode_classifies_pitches_maps_and_sends(cfg, classifier, osc_peer, tmp_path):
    pipeline = make(cfg, classifier)
    intake = pipeline.ingest_file(write(tmp_path / "a.wav", padded_tone(440, 12.0)))
    samples = pipeline.process(intake)
    assert [s.duration_s for s in samples] == [5.0, 5.0, pytest.approx(2.0, abs=0.06)]  # trim works in 12-ms hops
    assert samples[0].start_s == pytest.approx(1.0, abs=0.05)
    for s in samples:
        assert s.label in cfg.mapping and s.instrument == cfg.mapping[s.label]
        assert s.melodic == cfg.melodic[s.instrument]
        assert abs(1200 * np.log2(s.pitch_hz / 440)) <= 50 and s.midi_note == 69
        assert s.status == "sent" and len(s.top) == 3
    messages = osc_peer.wait_for(3)
    assert [m[0] for m in messages] == [f"/exsampling/sample/{s.instrument}" for s in samples]
    assert [m[1][0] for m in messages] == [s.id for s in samples]
    assert pipeline.library.recording(intake.recording.id).status == "done"
    assert len(pipeline.timings) == 1


def test_preview_mode_waits_for_the_performer(cfg, classifier, osc_peer, tmp_path):
    pipeline = make(cfg, classifier, mode="preview")
    [sample] = pipeline.process(pipeline.ingest_file(write(tmp_path / "b.wav", noise_bursts(3.0))))
    assert sample.status == "new" and sample.pitch_hz is None and sample.midi_note is None
    assert osc_peer.wait_for(1, timeout=0.5) == []
    assert pipeline.accept(sample.id).status == "sent"
    assert pipeline.reject(sample.id).status == "rejected"
    messages = osc_peer.wait_for(2)
    assert messages[0][0].startswith("/exsampling/sample/") and messages[1] == (
        f"/exsampling/withdraw/{sample.instrument}", [sample.id])


def test_the_chain_runs_in_its_show_s_mode_and_keeps_no_copy(cfg, classifier, osc_peer, tmp_path):
    pipeline = make(cfg, classifier, mode="preview")
    assert pipeline.mode == Mode.PREVIEW  # no show: [show] mode
    pipeline.show = ShowState(cfg, pipeline.library)  # the show's first run: its own [show] mode, "auto"
    assert pipeline.mode == Mode.AUTO
    [sent] = pipeline.process(pipeline.ingest_file(write(tmp_path / "a.wav", noise_bursts(3.0))))
    assert sent.status == "sent" and len(osc_peer.wait_for(1)) == 1
    pipeline.show.mode = "preview"
    [waiting] = pipeline.process(pipeline.ingest_file(write(tmp_path / "b.wav", noise_bursts(3.0, seed=1))))
    assert waiting.status == "new" and len(osc_peer.wait_for(2, timeout=0.3)) == 1
    with pytest.raises(AttributeError):
        pipeline.mode = Mode.AUTO  # the show's state is the one home of the mode


def test_hold_keeps_unsure_samples_off_the_stage_until_accepted(cfg, classifier, osc_peer, tmp_path):
    # the untrained network's answers are near uniform (top ≈ 1/41): every sample is unsure
    held = make(cfg.with_changes(show={"unsure": "hold"}), classifier)
    [sample] = held.process(held.ingest_file(write(tmp_path / "u.wav", noise_bursts(3.0))))
    assert sample.unsure and sample.instrument and sample.status == "new"
    sure = make(cfg.with_changes(show={"unsure": "hold"}, classifier={"unsure_below": 0.0}), classifier)
    [sent] = sure.process(sure.ingest_file(write(tmp_path / "s.wav", noise_bursts(3.0))))
    assert not sent.unsure and sent.status == "sent"
    assert osc_peer.wait_for(1)[0][1][0] == sent.id  # only the sure one reached the stage
    assert held.accept(sample.id).status == "sent"
    assert osc_peer.wait_for(2)[1][1][0] == sample.id
    send = make(cfg, classifier)  # the default, "send": unsure samples go on as in the paper
    [also] = send.process(send.ingest_file(write(tmp_path / "v.wav", noise_bursts(3.0))))
    assert also.unsure and also.status == "sent"


def test_unsure_is_judged_on_the_track(cfg, classifier, tmp_path):
    """The untrained network spreads its answer over all 41 labels: unsure on the paper's tracks (≈ 5 labels each),
    sure when every label is mapped to one track, whatever its top label's own probability."""
    y = noise_bursts(2.0)
    spread = make(cfg, classifier)
    [sample] = spread.process(spread.ingest_file(write(tmp_path / "a.wav", y)))
    assert sample.unsure and sample.confidence < cfg.classifier.unsure_below
    one_track = make(cfg.with_changes(mapping=dict.fromkeys(cfg.mapping, "Bass")), classifier)
    [same] = one_track.process(one_track.ingest_file(write(tmp_path / "b.wav", y)))
    assert not same.unsure and same.confidence == pytest.approx(sample.confidence) and same.instrument == "Bass"


def test_relabel_remaps_resends_and_teaches_the_memory(cfg, classifier, osc_peer, tmp_path):
    # An untrained network squeezes all embeddings together (unrelated sounds at cosine ≈ 0.015, a near copy at
    # ≈ 0.002), so this test tightens the radius; the shipped model's own test uses the default. It is the vote's
    # test: the adapted answers (which reach past the radius, and move everything for a network sure of nothing)
    # have theirs in tests/test_adapt.py.
    cfg = cfg.with_changes(classifier={"memory_max_distance": 0.008, "adapt": False})
    pipeline = make(cfg, classifier)
    rng = np.random.default_rng(7)
    bark = noise_bursts(3.0, every_s=0.37, seed=1) + tone(180, 3.0, amp=0.2, harmonics=5)
    [first] = pipeline.process(pipeline.ingest_file(write(tmp_path / "bark.wav", bark)))
    relabelled = pipeline.relabel(first.id, "Bark")
    assert (relabelled.label, relabelled.instrument, relabelled.relabel) == ("Bark", "Bass", "Bark")
    assert osc_peer.wait_for(2)[-1][0] == "/exsampling/sample/Bass"

    copy = bark + 0.002 * rng.standard_normal(len(bark)).astype(np.float32)
    [near] = pipeline.process(pipeline.ingest_file(write(tmp_path / "near.wav", copy)))
    assert (near.label, near.label_source, near.recalled_from, near.instrument) == ("Bark", "memory", first.id, "Bass")
    assert pipeline.recall_of(near).sample_id == first.id
    # the history keeps the model's own guesses beside the chain's answer
    [told] = [e.data for e in pipeline.library.events() if e.kind == "classified" and e.sample_id == near.id]
    assert (told["label"], told["label_source"], told["recalled_from"]) == ("Bark", "memory", first.id)
    assert told["top"] == [[label, round(p, 6)] for label, p in near.top] and told["top"][0][0] != "Bark"

    [other] = pipeline.process(pipeline.ingest_file(write(tmp_path / "tone.wav", tone(1500, 3.0))))
    assert (other.label_source, other.recalled_from) == ("model", None)

    # the memory is in the library: a restarted pipeline still knows the performer's label
    again = make(cfg, classifier)
    [near2] = again.process(again.ingest_file(write(tmp_path / "near2.wav", copy)))
    assert near2.label == "Bark" and (near2.label_source, near2.recalled_from) == ("memory", first.id)
    again.corrections.enabled = False
    [plain] = again.process(again.ingest_file(write(tmp_path / "near3.wav", copy)))
    assert plain.label_source == "model"


def test_every_step_and_decision_is_in_the_history_with_who_did_it(cfg, classifier, osc_peer, tmp_path):
    pipeline = make(cfg, classifier, mode="preview")
    pipeline.actor = "console:one"
    [sample] = pipeline.process(pipeline.ingest_file(write(tmp_path / "b.wav", noise_bursts(3.0)), participant="Ana"))
    pipeline.accept(sample.id)
    pipeline.relabel(sample.id, "Bark", actor="console:two")  # on stage: re-sent under its new instrument
    pipeline.reject(sample.id)
    pipeline.accept(sample.id)
    story = [(e.kind, e.actor) for e in pipeline.library.events()]
    assert story == [("received", "console:one"), ("classified", "console:one"),
                     ("accepted", "console:one"), ("sent", "console:one"),
                     ("relabelled", "console:two"), ("sent", "console:two"),
                     ("withdrawn", "console:one"), ("rejected", "console:one"),
                     ("accepted", "console:one"), ("sent", "console:one")]
    events = pipeline.library.events()
    assert events[0].data["participant"] == "Ana" and events[0].recording_id == sample.recording_id
    classified = events[1].data
    assert classified["model"] == "tiny" and [label for label, _ in classified["top"]] == [lbl for lbl, _ in sample.top]
    assert (classified["label"], classified["instrument"]) == (sample.label, sample.instrument)
    assert events[2].data == {"auto": False}
    assert events[4].data == {"from": sample.label, "to": "Bark", "instrument_from": sample.instrument,
                              "instrument_to": "Bass"}
    assert events[5].data == {"instrument": "Bass"} and events[6].data == {"instrument": "Bass"}
    assert len(osc_peer.wait_for(4)) == 4  # sample, sample (re-label), withdraw, sample


def test_auto_mode_tells_the_chain_decided(cfg, classifier, osc_peer, tmp_path):
    pipeline = make(cfg, classifier)
    samples = pipeline.process(pipeline.ingest_file(write(tmp_path / "a.wav", tone(440, 7.0))))
    kinds = [(e.kind, e.sample_id) for e in pipeline.library.events()]
    assert kinds == [("received", None)] + [(k, s.id) for s in samples for k in ("classified", "accepted", "sent")]
    assert all(e.data == {"auto": True} for e in pipeline.library.events(kinds=["accepted"]))


def test_live_coded_rule_and_broken_rule(cfg, classifier, osc_peer, tmp_path):
    pipeline = make(cfg, classifier)
    pipeline.mapper.add_rule(lambda s: s.nonexistent)
    pipeline.mapper.add_rule(lambda s: "Piano" if s.midi_note and s.midi_note > 70 else None)
    [high] = pipeline.process(pipeline.ingest_file(write(tmp_path / "h.wav", tone(880, 2.0))))
    assert high.instrument == "Piano" and high.melodic
    assert pipeline.rule_failures and "AttributeError" in pipeline.rule_failures[0].error


@pytest.mark.parametrize("y,error", [
    (np.zeros(SR * 3, dtype=np.float32), audio.NothingAudible),
    (np.full(SR * 3, 1e-4, dtype=np.float32), audio.NothingAudible),
])
def test_refused_recordings_leave_nothing_behind(cfg, classifier, tmp_path, y, error):
    pipeline = make(cfg, classifier)
    with pytest.raises(error):
        pipeline.ingest_file(write(tmp_path / "s.wav", y))
    assert pipeline.library.recordings() == [] and list((pipeline.library.root / "recordings").iterdir()) == []


def test_without_a_model_nothing_is_invented_or_sent(cfg, osc_peer, tmp_path):
    pipeline = make(cfg, None)
    [sample] = pipeline.process(pipeline.ingest_file(write(tmp_path / "a.wav", tone(440, 2.0))))
    assert sample.label is None and sample.instrument is None and sample.midi_note == 69
    assert sample.status == "new" and osc_peer.wait_for(1, timeout=0.3) == []


def test_build_without_model_file(cfg, tmp_path):
    cfg = cfg.with_changes(classifier={"model": str(tmp_path / "absent.keras")})
    assert build(cfg).classifier is None
    from exsampling.classifier import ModelMissing
    with pytest.raises(ModelMissing):
        build(cfg, require_model=True)


def test_process_async_keeps_the_loop_free_and_notifies_on_it(cfg, classifier, tmp_path):
    pipeline = make(cfg, classifier)
    seen = []
    pipeline.listeners.append(lambda s: seen.append((s.id, asyncio.get_running_loop())))

    async def main():
        ticks = 0
        intake = pipeline.ingest_file(write(tmp_path / "x.wav", tone(300, 9.0)))
        task = asyncio.ensure_future(pipeline.process_async(intake))
        while not task.done():
            ticks += 1
            await asyncio.sleep(0.001)
        return await task, ticks, asyncio.get_running_loop()

    samples, ticks, loop = asyncio.run(main())
    assert len(samples) == 2 and ticks > 1
    assert [s for s, _ in seen] == [s.id for s in samples] and all(on is loop for _, on in seen)
    pipeline.close()


def test_classifier_fixture_is_real(classifier):
    assert isinstance(classifier, Classifier) and classifier.info.labels[0] == "Acoustic_guitar"


def test_relabel_after_restart_re_embeds_from_the_file(cfg, classifier, tmp_path):
    first = make(cfg, classifier)
    [sample] = first.process(first.ingest_file(write(tmp_path / "a.wav", noise_bursts(2.0))))
    restarted = make(cfg, classifier)  # knows no embeddings in memory: must read the sample's WAV
    restarted.relabel(sample.id, "Knock")
    [(sample_id, label, vector, _)] = restarted.library.memory()
    assert (sample_id, label) == (sample.id, "Knock")
    assert np.allclose(vector, first.corrections.embedding(sample.id), atol=1e-3)


def test_a_failing_stage_marks_the_recording_and_keeps_it(cfg, classifier, tmp_path, monkeypatch):
    pipeline = make(cfg, classifier)
    intake = pipeline.ingest_file(write(tmp_path / "a.wav", tone(440, 2.0)))
    monkeypatch.setattr(pipeline.stages, "pitch", lambda sample, piece: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        pipeline.process(intake)
    rec = pipeline.library.recording(intake.recording.id)
    assert rec.status == "failed" and "ZeroDivisionError" in rec.error
    assert Path(rec.path).exists()


def test_warm_up_stores_nothing(cfg, classifier):
    pipeline = make(cfg, classifier)
    pipeline.stages.warm_up()
    assert pipeline.library.recordings() == [] and pipeline.library.samples() == []


@pytest.mark.slow  # loads the shipped model
def test_memory_with_the_shipped_model_and_default_radius(tmp_path, osc_peer):
    """Issue 10's check: a few re-labels of one kind of sound decide the next take; other sounds keep the
    model's answer."""
    from exsampling.config import Config, LibraryConfig, OscConfig

    cfg = Config(library=LibraryConfig(path=str(tmp_path / "lib")), osc=OscConfig(port=osc_peer.port))
    pipeline = build(cfg)
    assert pipeline.classifier.info.name == "default"

    def bark(seed, gain=1.0):
        return gain * (noise_bursts(3.0, every_s=0.37, seed=seed) + tone(180, 3.0, amp=0.2, harmonics=5))

    takes = []
    for seed in (1, 2, 3):
        [take] = pipeline.process(pipeline.ingest_file(write(tmp_path / f"bark{seed}.wav", bark(seed))))
        takes.append(pipeline.relabel(take.id, "Bark").id)
    [take4] = pipeline.process(pipeline.ingest_file(write(tmp_path / "bark4.wav", bark(4, gain=0.6))))
    assert (take4.label, take4.label_source, take4.instrument) == ("Bark", "memory", "Bass")
    assert take4.recalled_from in takes
    for name, y in [("tone", tone(1500, 3.0)), ("sweep", 0.5 * np.sin(2 * np.pi * np.cumsum(
            np.linspace(200, 2000, 3 * SR)) / SR).astype(np.float32))]:
        [other] = pipeline.process(pipeline.ingest_file(write(tmp_path / f"{name}.wav", y)))
        assert other.label_source == "model" and other.label != "Bark", name
    pipeline.close()


def test_received_on_its_header_then_processed_from_its_file(cfg, tmp_path):
    """Issue 11: an upload is stored on the strength of its header; what only decoding finds is reported on
    the recording's status, and nothing float-only (NaN) gets in."""
    pipeline = make(cfg, None)
    y = tone(440, 2.0)
    heard = pipeline.receive(Received(write(tmp_path / "a.wav", y).read_bytes(), upload_id="first-upload"))
    silent = pipeline.receive(Received(write(tmp_path / "s.wav", np.zeros(SR, dtype=np.float32)).read_bytes()))
    assert heard.y is None and heard.recording.duration_s == 2.0
    assert [s.midi_note for s in pipeline.process(heard)] == [69]
    assert pipeline.process(heard) == []  # processed once only
    assert pipeline.process(silent) == [] and pipeline.library.recording(silent.recording.id).status == "silent"
    nan = y.copy()
    nan[5] = np.nan
    three_channels = np.zeros((SR, 3), dtype=np.float32)
    results = pipeline.receive_all([Received(write(tmp_path / "n.wav", nan, subtype="FLOAT").read_bytes()),
                                    Received(write(tmp_path / "m.wav", three_channels).read_bytes()),
                                    Received(write(tmp_path / "b.wav", y).read_bytes(), upload_id="first-upload"),
                                    Received(write(tmp_path / "c.wav", y).read_bytes(), upload_id="other-upload")])
    assert [type(r).__name__ for r in results] == ["InvalidSamples", "UnsupportedAudio", "DuplicateUpload", "Intake"]
    assert results[2].recording.id == heard.recording.id
    assert pipeline.library.counts()["recordings"] == 3


def test_unfinished_recordings_are_found_again_and_processed_once(cfg, tmp_path):
    pipeline = make(cfg, None)
    ids = [pipeline.receive(Received(write(tmp_path / f"{i}.wav", tone(300 + 100 * i, 1.0)).read_bytes())).recording.id
           for i in range(3)]
    pipeline.process(pipeline.unfinished()[0])
    restarted = make(cfg, None)
    waiting = restarted.unfinished()
    assert [i.recording.id for i in waiting] == ids[1:]
    for intake in waiting:
        restarted.process(intake)
    assert {r.status for r in restarted.library.recordings()} == {"done"} and restarted.unfinished() == []


@pytest.mark.slow  # a second process
def test_a_pipeline_with_a_model_leaves_the_cores_to_it(tiny_model, tmp_path):
    """numpy's BLAS threads spin after each call and take a 2-core laptop's cores from TensorFlow (bench/latency.py):
    a pipeline built with a model keeps BLAS to one thread in its process."""
    script = ("import sys\nfrom threadpoolctl import threadpool_info\nfrom exsampling.config import Config, "
              "ClassifierConfig, LibraryConfig\nfrom exsampling.pipeline import build\n"
              "cfg = Config(library=LibraryConfig(path=sys.argv[1]), classifier=ClassifierConfig(model=sys.argv[2]))\n"
              "build(cfg, send=False, require_model=True)\n"
              "print(sorted({p['num_threads'] for p in threadpool_info() if p['user_api'] == 'blas'}))\n")
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "2"}  # as on a 2-core laptop, whatever this machine has
    done = subprocess.run([sys.executable, "-c", script, str(tmp_path / "lib"), str(tiny_model)],
                          capture_output=True, text=True, timeout=300, env=env, check=True)
    assert done.stdout.strip().splitlines()[-1] == "[1]", done.stdout + done.stderr
