"""The aisfx backbone: torch-format checkpoints read without torch, the Keras network against an independent
numpy forward pass in torch's layout, the sfx-mel front end, and a head trained on a tiny backbone.

The checkpoint is a small one written here in torch.save's zip format (exsampling.torchzip.save), with
the real network's layer names and shapes at a smaller width: no download, no PyTorch.
"""
from __future__ import annotations

import collections
import json
import pickle
import zipfile

import numpy as np
import pytest

from exsampling import aisfx, features, torchzip
from exsampling.features import SFX_MEL, FeatureParams, Frontend
from exsampling.resources import default_model

CHANNELS = (4, 8, 8, 16)


def fixture_state(rng: np.random.Generator, channels=CHANNELS) -> collections.OrderedDict:
    """A state dict shaped like aisfx's EmbeddingNet (at a smaller width), plus a data-set head."""
    state = collections.OrderedDict()
    c_in = 1
    for b, ch in enumerate(channels, start=1):
        for c, cin in ((1, c_in), (2, ch)):
            p = f"embedding_net.conv_block{b}."
            state[p + f"conv{c}.weight"] = rng.normal(0, 0.4, (ch, cin, 3, 3)).astype(np.float32)
            state[p + f"bn{c}.weight"] = rng.uniform(0.5, 1.5, ch).astype(np.float32)
            state[p + f"bn{c}.bias"] = rng.normal(0, 0.1, ch).astype(np.float32)
            state[p + f"bn{c}.running_mean"] = rng.normal(0, 0.1, ch).astype(np.float32)
            state[p + f"bn{c}.running_var"] = rng.uniform(0.5, 2.0, ch).astype(np.float32)
            state[p + f"bn{c}.num_batches_tracked"] = np.array(7, dtype=np.int64)
        c_in = ch
    state["fc.0.0.weight"] = rng.normal(0, 0.1, (3, channels[-1])).astype(np.float32)
    return state


def reference_embedding(state: dict, x: np.ndarray, channels=CHANNELS) -> np.ndarray:
    """aisfx's EmbeddingNet.forward written out in numpy, in torch's NCHW layout: x is (n, time, freq)."""
    h = x[:, None].astype(np.float64)
    for b in range(1, len(channels) + 1):
        for c in (1, 2):
            p = f"embedding_net.conv_block{b}."
            w = state[p + f"conv{c}.weight"].astype(np.float64)  # (out, in, 3, 3)
            padded = np.pad(h, ((0, 0), (0, 0), (1, 1), (1, 1)))
            n, _, t, f = h.shape
            out = np.zeros((n, w.shape[0], t, f))
            for i in range(3):
                for j in range(3):
                    out += np.einsum("nctf,oc->notf", padded[:, :, i:i + t, j:j + f], w[:, :, i, j])
            mean, var = state[p + f"bn{c}.running_mean"], state[p + f"bn{c}.running_var"]
            gamma, beta = state[p + f"bn{c}.weight"], state[p + f"bn{c}.bias"]
            out = (out - mean[None, :, None, None]) / np.sqrt(var[None, :, None, None] + 1e-5)
            h = np.maximum(out * gamma[None, :, None, None] + beta[None, :, None, None], 0)
        if b < len(channels):
            n, ch, t, f = h.shape
            h = h[:, :, : t // 2 * 2, : f // 2 * 2].reshape(n, ch, t // 2, 2, f // 2, 2).max(axis=(3, 5))
    return h.mean(axis=3).max(axis=2)


def test_torch_zip_roundtrip_keeps_values_shapes_and_strides(tmp_path):
    a = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    obj = (collections.OrderedDict(w=a, t=a.transpose(2, 0, 1), n=np.array(3, np.int64)), {"ds": (0, 78)})
    torchzip.save(obj, tmp_path / "c.pth")
    with zipfile.ZipFile(tmp_path / "c.pth") as z:
        assert "archive/data.pkl" in z.namelist() and "archive/data/0" in z.namelist()
    state, extra = torchzip.load(tmp_path / "c.pth")
    assert np.array_equal(state["w"], a) and np.array_equal(state["t"], a.transpose(2, 0, 1))
    assert state["n"] == 3 and extra == {"ds": (0, 78)}


def test_torch_zip_refuses_anything_but_tensors(tmp_path):
    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    with zipfile.ZipFile(tmp_path / "evil.pth", "w") as z:
        z.writestr("archive/data.pkl", pickle.dumps({"x": Evil()}, protocol=2))
    with pytest.raises(torchzip.CheckpointError, match="print, which this reader does not load"):
        torchzip.load(tmp_path / "evil.pth")
    (tmp_path / "plain.pth").write_bytes(b"not a zip")
    with pytest.raises(torchzip.CheckpointError, match="not a zip"):
        torchzip.load(tmp_path / "plain.pth")


@pytest.mark.slow  # builds and runs the full network
def test_converted_network_matches_the_torch_layout_forward_pass(tmp_path):
    rng = np.random.default_rng(0)
    state = fixture_state(rng)
    torchzip.save((state, {"prosfx": (0, 3)}), tmp_path / "checkpoint.pth")
    shape = (37, 20, 1)  # odd sizes: pooling must floor like torch's max_pool2d
    model = aisfx.converted(tmp_path / "checkpoint.pth", shape)
    x = rng.uniform(0, 1, (3, *shape)).astype(np.float32)
    got = model(x).numpy()
    want = reference_embedding(state, x[..., 0])
    assert got.shape == (3, CHANNELS[-1])
    np.testing.assert_allclose(got, want, rtol=2e-4, atol=2e-4)
    assert model.get_layer("embedding").output.shape[-1] == CHANNELS[-1]


@pytest.mark.slow  # builds the full network
def test_conversion_refuses_a_checkpoint_of_another_network(tmp_path):
    torchzip.save(collections.OrderedDict(w=np.zeros((2, 2), np.float32)), tmp_path / "other.pth")
    with pytest.raises(aisfx.ConversionError, match="not an aisfx network"):
        aisfx.converted(tmp_path / "other.pth", (16, 16, 1))
    state = fixture_state(np.random.default_rng(1))
    state["embedding_net.conv_block2.conv1.weight"] = np.zeros((8, 4, 5, 5), np.float32)
    torchzip.save(state, tmp_path / "bad.pth")
    with pytest.raises(aisfx.ConversionError, match=r"conv_block2\.conv1"):
        aisfx.converted(tmp_path / "bad.pth", (16, 16, 1))


def test_sfx_mel_front_end():
    sr = SFX_MEL.sample_rate
    t = np.arange(sr) / sr
    tone = (0.01 * np.sin(2 * np.pi * 1000 * t)).astype(np.float32)
    m = features.image(tone, SFX_MEL)
    assert m.shape == SFX_MEL.shape == (216, 96, 1) and m.dtype == np.float32
    # peak-normalised: a quiet and a loud copy give the same map; padding after the sound is silence (0)
    np.testing.assert_allclose(m, features.image(tone * 50, SFX_MEL), atol=1e-4)
    assert np.all(m[60:] == 0) and m[:40].max() > 0.3
    band = np.argmax(m[20, :, 0])
    hz = 700 * (10 ** (np.linspace(0, 2595 * np.log10(1 + 22050 / 700), 98)[1:-1] / 2595) - 1)
    assert abs(hz[band] - 1000) < 150  # HTK mel band centred near the tone
    assert np.all(features.image(np.zeros(sr, np.float32), SFX_MEL) == 0)
    assert FeatureParams(**json.loads(json.dumps(SFX_MEL.to_dict()))) == SFX_MEL
    # the shipped sidecar reads and writes the same JSON
    shipped = json.loads(default_model().with_suffix(".json").read_text())["features"]
    assert shipped["frontend"] == "sfx-mel" and FeatureParams(**shipped).frontend is Frontend.SFX_MEL
    assert json.dumps(FeatureParams(**shipped).to_dict(), sort_keys=True) == json.dumps(shipped, sort_keys=True)
    old_sidecar = {k: v for k, v in FeatureParams().to_dict().items() if k != "frontend"}
    assert FeatureParams(**old_sidecar).frontend == "logmel-delta"  # models saved before front ends existed


@pytest.mark.training
def test_train_an_aisfx_head_on_a_tiny_backbone(tmp_path):
    from test_train import KINDS, tiny_options, write_folders

    from exsampling import train
    from exsampling.classifier import Classifier

    backbone = aisfx.backbone(SFX_MEL.shape, CHANNELS)
    aisfx.load_weights(backbone, fixture_state(np.random.default_rng(2)))
    backbone.save(tmp_path / "bb.keras")
    data = write_folders(tmp_path / "mine", per_label=10, seed=4)
    out = tmp_path / "sfx.keras"
    opt = tiny_options(out, epochs=30, lr=1e-2, backbone="aisfx", backbone_file=tmp_path / "bb.keras",
                       head_hidden=0, dropout=0.0)
    train.train(train.discover(data), SFX_MEL, train.TrimRule(), opt, data)
    meta = json.loads(out.with_suffix(".json").read_text())
    assert meta["features"]["frontend"] == "sfx-mel" and meta["architecture"]["name"] == "aisfx"
    assert sorted(meta["trained_labels"]) == sorted(KINDS)
    clf = Classifier.load(out)
    assert clf.info.features == SFX_MEL
    from test_train import synth

    rng = np.random.default_rng(98)
    import librosa

    truth, x = [], []
    for label, kind in KINDS.items():
        for _ in range(4):
            truth.append(label)
            x.append(features.image(librosa.resample(synth(kind, rng), orig_sr=22050, target_sr=44100), SFX_MEL))
    probs, emb = clf.classify(np.stack(x))
    assert emb.shape == (len(truth), CHANNELS[-1])
    predicted = [clf.info.labels[i] for i in probs.argmax(axis=1)]
    assert np.mean([p == t for p, t in zip(predicted, truth, strict=True)]) >= 0.6, predicted
