"""The converted runtime (TensorFlow Lite on LiteRT): the same answers as Keras, and a stale artifact refused."""
from __future__ import annotations

import logging
import shutil

import numpy as np
import pytest
from conftest import build_tiny_model, noise_bursts, tone

from exsampling import runtime
from exsampling.classifier import Classifier
from exsampling.features import FeatureParams, image

pytestmark = pytest.mark.slow  # converts a network with TensorFlow's converter

PARAMS = FeatureParams()


def sounds(seed: int) -> dict[str, list[np.ndarray]]:
    """Tones and drum hits, a few each: the tiny untrained network tells these apart by a wide margin (two
    kinds of tone it barely tells apart, and int8 arithmetic may then tip a near tie either way)."""
    rng = np.random.default_rng(seed)
    return {
        "Flute": [tone(float(hz), 2.0, harmonics=3) for hz in rng.uniform(300, 1200, 4)],
        "Snare_drum": [noise_bursts(2.0, every_s=float(e), seed=int(s))
                       for e, s in zip(rng.uniform(0.2, 0.6, 4), rng.integers(0, 1000, 4), strict=True)],
    }


@pytest.fixture(scope="module")
def converted(tmp_path_factory):
    """A tiny prototype model and its int8 runtime."""
    path = build_tiny_model(tmp_path_factory.mktemp("lite"), prototypes=sounds(0))
    runtime.convert(path)
    return path


def warnings_of_classifier(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "exsampling.classifier"]


def keras_and_lite(path):
    lite = Classifier.load(path, PARAMS)
    return Classifier(lite.info, lite.model, use_runtime=False), lite


def test_runtime_gives_keras_top1_for_batches_of_any_size(converted):
    keras_clf, lite_clf = keras_and_lite(converted)
    assert lite_clf.runtime.startswith("LiteRT") and keras_clf.runtime.startswith("Keras")
    held = sounds(1)  # other pitches and hits than the prototypes
    images = np.stack([image(y, PARAMS) for ys in held.values() for y in ys] * 3)  # 24: more than one call
    assert len(images) > runtime.MAX_BATCH
    want_probs, want_emb = keras_clf.classify(images)
    for n in (1, 3, runtime.MAX_BATCH + 1, len(images)):
        probs, emb = lite_clf.classify(images[:n])
        assert probs.shape == (n, 41) and emb.shape == want_emb[:n].shape
        assert np.allclose(probs.sum(axis=1), 1.0, atol=1e-4)
        assert list(probs.argmax(axis=1)) == list(want_probs[:n].argmax(axis=1))
    labels = [lite_clf.info.labels[i] for i in lite_clf.classify(images[:8])[0].argmax(axis=1)]
    assert labels == [label for label, ys in held.items() for _ in ys]  # and they are the right answers


def test_float32_runtime_computes_what_keras_computes(converted, tmp_path):
    model = tmp_path / converted.name
    for f in (converted, converted.with_suffix(".json")):
        shutil.copy(f, tmp_path / f.name)
    runtime.convert(model, quantization="float32")
    keras_clf, lite_clf = keras_and_lite(model)
    assert lite_clf.runtime.endswith(".float32.tflite")
    images = np.stack([image(y, PARAMS) for ys in sounds(2).values() for y in ys])
    for got, want in zip(lite_clf.classify(images), keras_clf.classify(images), strict=True):
        assert np.allclose(got, want, atol=1e-4)


def test_no_record_means_keras_without_a_word(tmp_path, caplog):
    path = build_tiny_model(tmp_path)
    with caplog.at_level(logging.WARNING):
        assert Classifier.load(path, PARAMS).runtime.startswith("Keras")
    assert not warnings_of_classifier(caplog)


def test_stale_artifact_is_refused_with_what_to_run_and_keras_is_used(converted, tmp_path, caplog):
    model = tmp_path / converted.name
    for f in converted.parent.iterdir():
        shutil.copy(f, tmp_path / f.name)
    other = tmp_path / "other"
    other.mkdir()
    retrained = build_tiny_model(other, name=converted.stem,
                                 prototypes={"Flute": sounds(2)["Flute"], "Bark": sounds(2)["Snare_drum"]})
    for f in (retrained, retrained.with_suffix(".json")):  # retrained; its runtime was not converted again
        shutil.copy(f, tmp_path / f.name)
    with caplog.at_level(logging.WARNING, logger="exsampling.classifier"):
        clf = Classifier.load(model, PARAMS)
    assert clf.runtime.startswith("Keras")
    [message] = warnings_of_classifier(caplog)
    assert f"converted from another {model.name}" in message and "tools/convert_runtime.py" in message
    assert "using the Keras model" in message
    probs, _ = clf.classify(np.stack([image(y, PARAMS) for y in sounds(3)["Flute"]]))
    assert {clf.info.labels[i] for i in probs.argmax(axis=1)} == {"Flute"}  # the retrained model answers


def test_damaged_artifact_is_refused(converted, tmp_path, caplog):
    for f in converted.parent.iterdir():
        shutil.copy(f, tmp_path / f.name)
    record = runtime.read_record(tmp_path / converted.name)
    assert record is not None
    (tmp_path / record.artifact).write_bytes(b"TFL3 not a model")
    with caplog.at_level(logging.WARNING, logger="exsampling.classifier"):
        assert Classifier.load(tmp_path / converted.name, PARAMS).runtime.startswith("Keras")
    [message] = warnings_of_classifier(caplog)
    assert "damaged or replaced" in message
    (tmp_path / record.artifact).unlink()
    with pytest.raises(runtime.StaleRuntime, match="missing"):
        runtime.load(tmp_path / converted.name, PARAMS.shape)


def test_unknown_quantization_is_refused(converted):
    with pytest.raises(ValueError, match="int8"):
        runtime.convert(converted, quantization="int4")


def test_a_derived_model_loads_without_tensorflow_and_adapts_as_its_keras_head_does(tmp_path):
    import subprocess
    import sys

    from exsampling.adapt import Head, HeadAdapter
    from exsampling.classifier import derive_runtime

    model = build_tiny_model(tmp_path, prototypes=sounds(0))
    derive_runtime(model)
    code = ("import sys; from exsampling.classifier import Classifier; c = Classifier.load(sys.argv[1]); "
            "assert c.head is not None; print(c.runtime, 'tensorflow' in sys.modules, 'keras' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code, str(model)], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["LiteRT,", f"{model.stem}.int8.tflite", "False", "False"], out.stderr[-2000:]

    lite = Classifier.load(model, PARAMS)
    kept, copied = lite.head, Head.of(lite.model, lite.info.embedding_layer)  # the model: Keras, loaded on demand
    assert kept is not None and copied is not None
    probs, embeddings = lite.classify(np.stack([image(y, PARAMS) for ys in sounds(1).values() for y in ys]))
    assert np.array_equal(kept.logits(embeddings), copied.logits(embeddings))
    trained = np.array([label in lite.info.trained_labels for label in lite.info.labels])
    bark = lite.info.labels.index("Bark")
    adapted = [HeadAdapter(head, trained, 0.01, 0.3) for head in (kept, copied)]
    for adapter in adapted:
        adapter.fit(embeddings[:2], [bark, bark])
    answers = [adapter.adapt(probs[0], embeddings[0]) for adapter in adapted]
    assert np.array_equal(*answers) and answers[0].argmax() == bark


def test_a_head_kept_from_another_keras_is_not_used(tmp_path, caplog):
    from exsampling.adapt import Head
    from exsampling.classifier import derive_runtime

    model = build_tiny_model(tmp_path, prototypes=sounds(0))
    derive_runtime(model)
    record = runtime.read_record(model)
    assert Head.read(Head.path_for(model), record.source_sha256) is not None
    assert Head.read(Head.path_for(model), "0" * 64) is None  # the model was retrained since
    kept = Head.path_for(model).read_bytes()
    Head.path_for(model).write_bytes(b"PK not an npz")
    assert Head.read(Head.path_for(model), record.source_sha256) is None
    clf = Classifier.load(model, PARAMS)  # the runtime still runs; the head comes from the Keras model
    assert clf.runtime.startswith("LiteRT") and clf.head is not None

    Head.path_for(model).write_bytes(kept)
    other = tmp_path / "other"
    other.mkdir()
    retrained = build_tiny_model(other, name=model.stem, prototypes={"Bark": sounds(2)["Flute"]})
    shutil.copy(retrained, model)  # retrained; runtime and head not derived again
    with caplog.at_level(logging.WARNING, logger="exsampling.classifier"):
        clf = Classifier.load(model, PARAMS)
    [message] = warnings_of_classifier(caplog)  # said once
    assert f"converted from another {model.name}" in message and clf.runtime.startswith("Keras")
    copied = Head.of(clf.model, clf.info.embedding_layer)
    assert copied is not None and np.array_equal(clf.head.last[0], copied.last[0])  # the new model's head
