"""The classifier: loading, shapes, top-k, masking and clear errors (the re-label memory: test_memory.py)."""
import json
import shutil

import numpy as np
import pytest
from conftest import build_tiny_model

from exsampling.classifier import Classifier, ModelError, ModelMismatch, ModelMissing, mask_untrained, top_k
from exsampling.features import FeatureParams
from exsampling.mapping import LABELS


def test_load_classify_shapes(classifier):
    images = np.zeros((3, *FeatureParams().shape), dtype=np.float32)
    probs, emb = classifier.classify(images)
    assert probs.shape == (3, 41) and emb.shape[0] == 3 and emb.shape[1] > 0
    assert np.allclose(probs.sum(axis=1), 1.0, atol=1e-4)
    with pytest.raises(ValueError, match="shape"):
        classifier.classify(np.zeros((1, 10, 10, 3)))


def test_top_k_is_sorted():
    probs = np.zeros(41)
    probs[[3, 7, 9]] = [0.2, 0.5, 0.3]
    assert top_k(probs, LABELS, 3) == [(LABELS[7], 0.5), (LABELS[9], 0.3), (LABELS[3], 0.2)]


def test_untrained_labels_never_come_out():
    probs = np.full((1, 41), 1 / 41)
    probs[0, 0] = 0.5
    masked = mask_untrained(probs, LABELS, LABELS[1:3])
    assert masked[0, 0] == 0 and masked[0, 1:3].sum() == pytest.approx(1.0)


def test_missing_model_says_how_to_get_one(tmp_path):
    with pytest.raises(ModelMissing, match="exsampling train"):
        Classifier.load(tmp_path / "none.keras")


def test_feature_mismatch_is_refused(tiny_model):
    with pytest.raises(ModelMismatch, match="retrain"):
        Classifier.load(tiny_model, FeatureParams(n_mels=128))


def test_bad_sidecars(tmp_path, tiny_model):
    model = tmp_path / "m.keras"
    shutil.copy(tiny_model, model)
    with pytest.raises(ModelError, match="no sidecar"):
        Classifier.load(model)
    sidecar = json.loads(tiny_model.with_suffix(".json").read_text())
    model.with_suffix(".json").write_text(json.dumps({**sidecar, "labels": ["Bark", "Dragon"]}))
    with pytest.raises(ModelError, match="Dragon"):
        Classifier.load(model)
    model.with_suffix(".json").write_text(json.dumps({**sidecar, "labels": ["Bark", "Meow"]}))
    with pytest.raises(ModelMismatch, match="41 outputs"):
        Classifier.load(model)
    model.with_suffix(".json").write_text(json.dumps({**sidecar, "features": {**sidecar["features"],
                                                                            "frontend": "mfcc"}}))
    with pytest.raises(ModelError, match="unknown feature front end 'mfcc'; known: logmel-delta, sfx-mel"):
        Classifier.load(model)


@pytest.mark.slow  # builds and saves a second network
def test_trained_labels_mask_in_the_loaded_model(tmp_path):
    clf = Classifier.load(build_tiny_model(tmp_path, "two", trained_labels=["Bark", "Meow"]))
    probs, _ = clf.classify(np.random.default_rng(0).standard_normal((2, *FeatureParams().shape)).astype(np.float32))
    nonzero = {LABELS[i] for i in np.flatnonzero(probs.sum(axis=0))}
    assert nonzero <= {"Bark", "Meow"}
