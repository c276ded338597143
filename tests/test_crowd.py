"""One recording, one judgement, and a crowd's recordings drained side by side and staged in arrival order: the real
chain with a small model that tells tones from noise bursts, a real library and a real OSC peer (python-osc)."""
import asyncio
import threading

import numpy as np
import pytest
from conftest import SR, build_tiny_model, noise_bursts, tone, write

from exsampling.classifier import Classifier
from exsampling.console.cards import SampleCard
from exsampling.library import Library, Received
from exsampling.osc import OscSender
from exsampling.pipeline import Pipeline
from exsampling.server.shapes import recording_json


@pytest.fixture(scope="module")
def tones_and_noise(tmp_path_factory) -> Classifier:
    """A model that hears harmonic tones as Flute and noise bursts as Snare_drum (prototypes in its head)."""
    model = build_tiny_model(tmp_path_factory.mktemp("model"), "tones-noise", prototypes={
        "Flute": [tone(hz, 3.0, harmonics=n) for hz, n in ((300.0, 3), (520.0, 5), (700.0, 2), (1000.0, 4))],
        "Snare_drum": [noise_bursts(3.0, every_s=every, seed=seed) for every, seed in ((0.25, 11), (0.4, 12))]})
    return Classifier.load(model)


def make(cfg, classifier, workers=None, **classifier_changes) -> Pipeline:
    cfg = cfg.with_changes(classifier=classifier_changes) if classifier_changes else cfg
    return Pipeline(cfg, Library.from_config(cfg), classifier, OscSender.from_config(cfg), workers=workers)


def tones_then_noise() -> np.ndarray:
    """Ten seconds of a tone, then five of noise bursts: three pieces, two of them tones."""
    return np.concatenate([tone(440.0, 10.0, harmonics=4), noise_bursts(5.0, every_s=0.3, seed=3)])


def test_a_recording_is_judged_as_a_whole_and_every_piece_says_so(cfg, tones_and_noise, osc_peer, tmp_path):
    file = write(tmp_path / "r.wav", tones_then_noise())
    pipeline = make(cfg, tones_and_noise, own_label_above=1.0)
    samples = pipeline.process(pipeline.ingest_file(file))
    assert [round(s.duration_s) for s in samples] == [5, 5, 5]
    # the model's own guesses are kept: it heard the tones as Flute and the noise as Snare_drum
    assert [s.top[0][0] for s in samples] == ["Flute", "Flute", "Snare_drum"]
    noise_own = samples[2].top[0][1]
    assert noise_own < 1.0
    rec = pipeline.library.recording(samples[0].recording_id)
    assert rec.judgement is not None and (rec.judgement.label, rec.judgement.pieces) == ("Flute", 3)
    # one judgement: every piece is the recording's, with its pooled probability, and says whose it is
    assert [(s.label, s.instrument) for s in samples] == [("Flute", "Wind")] * 3
    assert all(s.confidence == pytest.approx(rec.judgement.confidence) and s.judgement == rec.judgement
               for s in samples)
    assert [m[0] for m in osc_peer.wait_for(3)] == ["/exsampling/sample/Wind"] * 3
    body = recording_json(rec, pipeline.library.samples(recording_id=rec.id))
    assert body["judgement"] == {"label": "Flute", "confidence": round(rec.judgement.confidence, 4), "pieces": 3}
    card = SampleCard._details(pipeline.library.sample(samples[2].id))  # the performer's card, as the console reads it
    assert f"recording: Flute {rec.judgement.confidence:.0%}, 3 pieces" in card

    # a piece confidently something else keeps its own label (the threshold is inclusive)
    kept = make(cfg, tones_and_noise, own_label_above=noise_own)
    *tones, noise = kept.process(kept.ingest_file(file))
    assert [s.label for s in tones] == ["Flute", "Flute"] and (noise.label, noise.instrument) == ("Snare_drum",
                                                                                                 "Snare")
    assert noise.confidence == pytest.approx(noise_own, abs=1e-6) and noise.judgement.label == "Flute"


def test_the_tail_and_the_quiet_count_less_in_the_judgement(cfg, tones_and_noise, tmp_path):
    """Three pieces of noise against two of tone: louder, the noise decides; far quieter, the tone does."""
    pipeline = make(cfg, tones_and_noise)
    loud = np.concatenate([tone(440.0, 10.0, harmonics=4), 4 * noise_bursts(15.0, every_s=0.3, seed=3)])
    quiet = np.concatenate([tone(440.0, 10.0, harmonics=4), 0.5 * noise_bursts(15.0, every_s=0.3, seed=3)])
    judged = []
    for name, y in (("loud", loud), ("quiet", quiet)):
        samples = pipeline.process(pipeline.ingest_file(write(tmp_path / f"{name}.wav", y)))
        assert [s.top[0][0] for s in samples] == ["Flute"] * 2 + ["Snare_drum"] * 3
        judged.append(samples[0].judgement)
    assert [j.label for j in judged] == ["Snare_drum", "Flute"] and [j.pieces for j in judged] == [5, 5]


class HeldModel:
    """Wraps a pipeline's real classifier: counts the pieces of each call; the first call waits for ``release``."""

    def __init__(self, pipeline: Pipeline, monkeypatch) -> None:
        self.calls: list[int] = []
        self.entered, self.release = threading.Event(), threading.Event()
        self._real = pipeline.classifier.classify
        monkeypatch.setattr(pipeline.classifier, "classify", self.classify)

    def classify(self, images):
        self.calls.append(len(images))
        if len(self.calls) == 1:
            self.entered.set()
            assert self.release.wait(60)
        return self._real(images)


def wait_until_prepared(pipeline: Pipeline, count: int) -> None:
    """Until ``count`` recordings wait in the queue, each prepared (cut, pitched and heard by the model)."""
    done = threading.Event()
    while not done.wait(0.01):
        with pipeline._queue._lock:
            jobs = list(pipeline._queue._jobs)
        if len(jobs) == count and all(j.prepared is not None and j.prepared.done() for j in jobs):
            done.set()


def test_a_burst_is_heard_side_by_side_and_reaches_the_stage_first_in_first_out(
        cfg, tones_and_noise, osc_peer, tmp_path, monkeypatch):
    pipeline = make(cfg, tones_and_noise, workers=2)
    held = HeldModel(pipeline, monkeypatch)
    first = pipeline.ingest_file(write(tmp_path / "first.wav", tone(330.0, 2.0, harmonics=3)))
    crowd = [pipeline.ingest_file(write(tmp_path / f"{i}.wav", tone(200.0 + 50 * i, 2.0 + 5 * (i % 2), harmonics=3)))
             for i in range(6)]
    silent = pipeline.receive(Received(write(tmp_path / "silent.wav", np.zeros(SR, dtype=np.float32)).read_bytes()))
    crowd.insert(3, silent)
    notified: list[int] = []
    pipeline.listeners.append(lambda s: notified.append(s.recording_id))

    async def show():
        head = asyncio.ensure_future(pipeline.process_async(first))
        await asyncio.to_thread(held.entered.wait)  # one worker's model call hears the first recording...
        rest = [asyncio.ensure_future(pipeline.process_async(i)) for i in crowd]  # ...while a crowd arrives
        await asyncio.sleep(0)
        await asyncio.to_thread(wait_until_prepared, pipeline, len(crowd))  # the other worker hears them all
        assert osc_peer.wait_for(1, timeout=0.2) == []  # and none may go on stage before the first
        held.release.set()
        return await asyncio.gather(head, *rest)

    outcomes = asyncio.run(show())
    pipeline.close()
    assert [len(samples) for samples in outcomes] == [1, 1, 2, 1, 0, 2, 1, 2]
    assert held.calls == [1, 1, 2, 1, 2, 1, 2]  # one call per recording; none for the silent one
    assert pipeline.library.recording(silent.recording.id).status == "silent"
    order = [first.recording.id] + [i.recording.id for i in crowd if i is not silent]
    sent = osc_peer.for_tracks(10)
    assert [pipeline.library.sample(m[1][0]).recording_id for m in sent] == [
        r for r, samples in zip([first.recording.id] + [i.recording.id for i in crowd], outcomes, strict=True)
        for _ in samples]
    assert list(dict.fromkeys(notified)) == order  # the console hears them in the same order
    assert [s.id for samples in outcomes for s in samples] == sorted(m[1][0] for m in sent)


def test_close_finishes_the_recording_in_progress_and_leaves_the_queue_for_the_next_start(
        cfg, tones_and_noise, osc_peer, tmp_path, monkeypatch):
    pipeline = make(cfg, tones_and_noise, workers=2)
    held = HeldModel(pipeline, monkeypatch)
    intakes = [pipeline.ingest_file(write(tmp_path / f"{i}.wav", tone(300.0 + 40 * i, 2.0, harmonics=2)))
               for i in range(4)]
    first = pipeline.submit(intakes[0])
    assert held.entered.wait(60)
    queued = [pipeline.submit(i) for i in intakes[1:]]
    closing = threading.Thread(target=pipeline.close)
    closing.start()
    while not pipeline.closed:  # close() has begun: nothing more is taken from the queue
        threading.Event().wait(0.01)
    held.release.set()
    closing.join(60)
    assert [s.recording_id for s in first.result()] == [intakes[0].recording.id]
    assert all(f.cancelled() for f in queued)
    with pytest.raises(RuntimeError):
        pipeline.submit(intakes[1])
    ids = [i.recording.id for i in intakes]
    assert [pipeline.library.recording(i).status for i in ids] == ["done", "received", "received", "received"]

    again = make(cfg, tones_and_noise)
    waiting = again.unfinished()
    assert [i.recording.id for i in waiting] == ids[1:]
    futures = [again.submit(i) for i in waiting]
    assert [f.result(60)[0].recording_id for f in futures] == ids[1:]
    again.close()
    assert {pipeline.library.recording(i).status for i in ids} == {"done"}
    sent = osc_peer.for_tracks(4)
    assert [again.library.sample(m[1][0]).recording_id for m in sent] == ids


def test_one_failing_recording_fails_alone(cfg, tones_and_noise, tmp_path, monkeypatch):
    pipeline = make(cfg, tones_and_noise, workers=2)
    held = HeldModel(pipeline, monkeypatch)
    real_pitch = pipeline.stages.pitch

    def pitch(sample, piece):
        if sample.participant == "broken":
            raise ZeroDivisionError("a stage broke")
        real_pitch(sample, piece)

    monkeypatch.setattr(pipeline.stages, "pitch", pitch)
    head = pipeline.submit(pipeline.ingest_file(write(tmp_path / "h.wav", tone(300.0, 2.0))))
    assert held.entered.wait(60)
    names = ["ok1", "broken", "ok2"]
    futures = [pipeline.submit(pipeline.ingest_file(write(tmp_path / f"{n}.wav", tone(400.0, 2.0)), participant=n))
               for n in names]
    wait_until_prepared(pipeline, 3)
    held.release.set()
    assert len(head.result(60)) == 1 and len(futures[0].result(60)) == 1 and len(futures[2].result(60)) == 1
    with pytest.raises(ZeroDivisionError):
        futures[1].result(60)
    assert held.calls == [1, 1, 1]  # the broken one never reached the model
    statuses = {r.participant: (r.status, r.error) for r in pipeline.library.recordings()}
    assert statuses["broken"] == ("failed", "ZeroDivisionError: a stage broke")
    assert statuses["ok1"][0] == statuses["ok2"][0] == "done"
    pipeline.close()
