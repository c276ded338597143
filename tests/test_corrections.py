"""The performer's corrections in the chain (exsampling.corrections): the console teaches a re-label while the
finisher adapts a recording's answers, and neither sees half of the other's memory."""
import threading
from concurrent.futures import ThreadPoolExecutor, wait

from conftest import noise_bursts, write

from exsampling import audio
from exsampling.library import Library
from exsampling.pipeline import Pipeline


def test_a_recording_finished_during_a_re_label_waits_for_the_whole_correction(cfg, classifier, tmp_path,
                                                                                 monkeypatch):
    pipeline = Pipeline(cfg, Library.from_config(cfg), classifier, None)
    [sample] = pipeline.process(pipeline.ingest_file(write(tmp_path / "a.wav", noise_bursts(2.0))))
    corrections = pipeline.corrections
    heard = pipeline.stages.hear([audio.decode(sample.path, pipeline.rate, cfg.audio.max_duration_s)])
    assert heard is not None and corrections.embedding(sample.id) is not None

    halfway, go_on = threading.Event(), threading.Event()
    add = corrections.memory.add

    def add_slowly(*args):  # the console's thread, stopped in the middle of remembering the correction
        halfway.set()
        assert go_on.wait(30)
        add(*args)

    monkeypatch.setattr(corrections.memory, "add", add_slowly)
    with ThreadPoolExecutor(2) as threads:
        try:
            taught = threads.submit(corrections.teach, sample.id, "Knock", corrections.embedding(sample.id))
            assert halfway.wait(30)
            adapted = threads.submit(corrections.adapt, *heard)  # the finisher's thread, meanwhile
            assert not wait([adapted], timeout=0.3).done  # it waits for the correction to be whole
        finally:
            go_on.set()
        taught.result(30)
        _, [vote] = adapted.result(30)
    assert vote is not None and vote.recall is not None and (vote.recall.sample_id, vote.recall.label) == (
        sample.id, "Knock")  # and then hears it
    pipeline.close()
