"""tools/finetune_aisfx.py head: its configuration argument and the warm start the bundled model was made with."""
import argparse
import importlib.util
from pathlib import Path

import numpy as np
import pytest

from exsampling.mapping import LABELS

pytestmark = pytest.mark.training

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def tool():
    spec = importlib.util.spec_from_file_location("finetune_aisfx", ROOT / "tools" / "finetune_aisfx.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def embeddings():
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(4), 16)
    e = (rng.normal(size=(len(y), 12)) + 3 * np.eye(4, 12)[y]).astype(np.float32)
    return e, y, np.ones(len(y), np.float32)


def weights(head, tool):
    return [w for name in tool.HEAD_LAYERS for w in head.get_layer(name).get_weights()]


def test_a_configuration_is_a_weighting_and_a_number_of_epochs(tool):
    assert tool.head_config("fam-40") == ("fam", 40)
    assert tool.head_config("class-20") == ("class", 20)
    for bad in ("fam", "fam-0", "fam-x", "balanced-40", "-40"):
        with pytest.raises(argparse.ArgumentTypeError):
            tool.head_config(bad)


def test_a_warm_start_begins_at_the_start_head_and_repeats_weight_for_weight(tool, embeddings):
    e, y, w = embeddings
    start, _ = tool.fit_head(e, y, w, 8, (3,), seed=1)
    untouched, _ = tool.fit_head(e[:20], y[:20], w[:20], 8, (), seed=0, start=start)
    # the start's standardisation is kept, not refitted to the new embeddings
    assert all(np.array_equal(a, b) for a, b in zip(weights(untouched, tool), weights(start, tool), strict=True))

    runs = [tool.fit_head(e, y, w, 8, (2,), seed=0, predict=e, start=start, lr=3e-4) for _ in range(2)]
    (first, probs), (second, again) = runs
    assert all(np.array_equal(a, b) for a, b in zip(weights(first, tool), weights(second, tool), strict=True))
    np.testing.assert_array_equal(probs[0], again[0])
    assert probs[0].shape == (len(y), len(LABELS))
    assert not all(np.array_equal(a, b) for a, b in zip(weights(first, tool), weights(start, tool), strict=True))


def test_pieces_pool_into_their_recording_and_real_recordings_report_apart(tool, tmp_path):
    from exsampling.train import Clip

    piece = Clip(tmp_path / "real-ann-0123456789-0-1.wav", "Knock", "test", "real-ann-0123456789", family="real-ann")
    other = Clip(tmp_path / "TimGM6mb-p110-9-0-0.wav", "Violin_or_fiddle", "test", "TimGM6mb-p110-9", family="tim")
    own = Clip(tmp_path / "knock.wav", "Knock", "", "knock.wav")
    assert tool.recording_of(piece) == "real-ann-0123456789-0"
    assert tool.recording_of(other) == "TimGM6mb-p110-9-0"
    assert tool.recording_of(own) == "knock"
    assert tool.held_out_set(piece) == "real" and tool.held_out_set(other) == "test"

    knock, bd = LABELS.index("Knock"), LABELS.index("Bass_drum")
    probs = np.zeros((3, len(LABELS)), np.float32)
    probs[0, knock], probs[0, bd] = 0.9, 0.1   # one confident piece of the knock...
    probs[1, knock], probs[1, bd] = 0.3, 0.7   # ...outweighs its unsure neighbour
    probs[2, bd] = 1.0                         # another recording, all bass drum
    y = np.array([knock, knock, knock])
    pooled, labels = tool.pool(probs, y, np.array(["a", "a", "b"]))
    np.testing.assert_allclose(pooled[0, [knock, bd]], [0.6, 0.4])
    assert labels.tolist() == [knock, knock]
    f = tool.figures(probs, y, np.array(["a", "a", "b"]))
    assert f["n"] == 3 and f["top1"] == pytest.approx(1 / 3)
    assert f["per_recording"]["n"] == 2 and f["per_recording"]["top1"] == 0.5
