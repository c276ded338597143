"""Training end to end on tiny synthetic data sets (both layouts, the library), and the ImageNet failure path."""
from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from exsampling import train
from exsampling.features import FeatureParams
from exsampling.train import models

SR = 22050
#: Three labels with sounds a tiny network tells apart: a tone, noise bursts, sparse clicks.
KINDS = {"Flute": "tone", "Snare_drum": "noise", "Hi-hat": "clicks"}


def synth(kind: str, rng: np.random.Generator) -> np.ndarray:
    """One 1–2 s synthetic clip of ``kind`` at SR Hz, with random pitch, rhythm and level."""
    n = int(SR * rng.uniform(1.0, 2.0))
    t = np.arange(n) / SR
    if kind == "tone":
        f0 = rng.uniform(300, 1200)
        y = sum(np.sin(2 * np.pi * f0 * k * t) / k for k in (1, 2, 3))
    elif kind == "noise":
        y = np.zeros(n)
        hit = rng.standard_normal(4000) * np.exp(-np.arange(4000) / 900)
        for start in range(0, n - 4000, int(SR * rng.uniform(0.3, 0.6))):
            y[start:start + 4000] += hit
    else:
        y = np.zeros(n)
        for start in range(0, n - 40, int(SR * rng.uniform(0.08, 0.2))):
            y[start:start + 40] += rng.choice([-1.0, 1.0]) * np.exp(-np.arange(40) / 6)
    y = y / np.max(np.abs(y)) * rng.uniform(0.2, 0.9)
    return (y + rng.normal(0, 0.003, n)).astype(np.float32)


def write_folders(root: Path, per_label: int, seed: int) -> Path:
    rng = np.random.default_rng(seed)
    for label, kind in KINDS.items():
        (root / label).mkdir(parents=True)
        for i in range(per_label):
            sf.write(root / label / f"{i}.wav", synth(kind, rng), SR)
    return root


def write_fsd(root: Path, per_label: int, test_per_label: int, seed: int) -> Path:
    rng = np.random.default_rng(seed)
    for sub, csv_name, n in (("audio_train", "train.csv", per_label), ("audio_test", "test.csv", test_per_label)):
        (root / sub).mkdir(parents=True)
        rows = []
        for label, kind in KINDS.items():
            for i in range(n):
                name = f"{label}-{i}.wav"
                sf.write(root / sub / name, synth(kind, rng), SR)
                rows.append({"fname": name, "label": label, "manually_verified": 1, "usage": "Public"})
        with open(root / csv_name, "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=list(rows[0]))
            w.writeheader()
            w.writerows(rows)
    return root


def tiny_options(out: Path, **changes) -> train.Options:
    """A network small and short enough for CI (seconds on 2 cores)."""
    base = {"out": out, "alpha": 0.35, "epochs": 12, "batch_size": 8, "patience": 10, "lr": 2e-3, "seed": 0,
            "val_fraction": 0.0, "bn_momentum": 0.8, "cache_dir": None, "verbose": 0}
    base.update(changes)
    return train.Options(**base)


@pytest.fixture(scope="module")
def folder_model(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("train")
    data = write_folders(root / "mine", per_label=16, seed=1)
    out = root / "model" / "mine.keras"
    # in a process of its own, as `exsampling train` runs: a tiny 12-epoch training is seed-sensitive, and what
    # earlier tests leave in this process (TensorFlow's and BLAS's thread pools, models loaded on other threads)
    # changed its outcome (0.50 in the whole suite, ≥ 0.6 alone)
    code = ("import sys; from pathlib import Path; sys.path.insert(0, sys.argv[1]); "
            "from test_train import tiny_options; from exsampling import train; "
            "from exsampling.features import FeatureParams; "
            "data, out, cache = map(Path, sys.argv[2:5]); "
            "train.train(train.discover(data), FeatureParams(), train.TrimRule(), "
            "tiny_options(out, cache_dir=cache), data)")
    subprocess.run([sys.executable, "-c", code, str(Path(__file__).parent), str(data), str(out), str(root / "cache")],
                   check=True)
    return out


@pytest.mark.training
def test_folder_layout_trains_a_model_the_classifier_loads_and_beats_chance(folder_model, tmp_path):
    from exsampling.classifier import Classifier
    from exsampling.features import image

    meta = json.loads(folder_model.with_suffix(".json").read_text())
    assert meta["format"] == 1 and meta["embedding_layer"] == "embedding"
    assert sorted(meta["trained_labels"]) == sorted(KINDS)
    clf = Classifier.load(folder_model, FeatureParams())
    rng = np.random.default_rng(99)  # held-out clips: a seed the training set never used
    truth, images = [], []
    for label, kind in KINDS.items():
        for _ in range(6):
            truth.append(label)
            images.append(image(synth(kind, rng), FeatureParams()))
    probs, emb = clf.classify(np.stack(images))
    predicted = [clf.info.labels[i] for i in probs.argmax(axis=1)]
    accuracy = np.mean([p == t for p, t in zip(predicted, truth, strict=True)])
    assert accuracy >= 0.6, f"held-out accuracy {accuracy:.2f} (chance is 0.33): {predicted}"
    assert set(predicted) <= set(KINDS)  # untrained labels are masked out
    assert emb.shape[0] == len(truth)
    assert folder_model.with_name("mine.clips.csv").is_file()


@pytest.mark.training
def test_feature_cache_is_reused(folder_model):
    cache = folder_model.parent.parent / "cache"
    files = list(cache.glob("*.npy"))
    assert len(files) == 16 * len(KINDS)
    params, trim = FeatureParams(), train.TrimRule()
    clip = next((folder_model.parent.parent / "mine" / "Flute").glob("*.wav"))
    key = train.cache_key(clip.read_bytes(), params, trim)
    assert (cache / f"{key}.npy").is_file()
    assert key != train.cache_key(clip.read_bytes(), FeatureParams(n_mels=96), trim)
    fresh = train.load_images(clip, params, trim, None)
    cached = train.load_images(clip, params, trim, cache)
    assert cached.shape == fresh.shape == (1, *params.shape)
    assert np.abs(cached - fresh).max() < 1e-2  # float16 on disk


@pytest.mark.training
def test_fsd_layout_with_held_out_test_set_writes_all_reports(tmp_path):
    data = write_fsd(tmp_path / "fsd", per_label=10, test_per_label=4, seed=2)
    clips = train.discover(data)
    assert sum(c.split == "test" for c in clips) == 4 * len(KINDS)
    out = tmp_path / "fsd.keras"
    metrics = train.train(clips, FeatureParams(), train.TrimRule(), tiny_options(out, epochs=6, val_fraction=0.2),
                          data)
    assert metrics["test"]["n"] == 4 * len(KINDS) and 0 <= metrics["test"]["top1"] <= metrics["test"]["top3"] <= 1
    assert set(metrics["test"]["per_instrument"]) == {"Wind", "Snare", "HH"}
    assert metrics["val"]["n"] > 0
    for suffix in (".json", ".metrics.json", ".confusion.png", ".clips.csv"):
        assert out.with_name("fsd" + suffix).is_file(), suffix
    meta = json.loads(out.with_suffix(".json").read_text())
    assert meta["metrics"]["test"]["top1"] == round(metrics["test"]["top1"], 4)
    assert meta["architecture"] == {"name": "MobileNetV2", "alpha": 0.35, "weights": "none"}


@pytest.mark.training
def test_fine_tune_from_library_learns_the_performers_relabels(folder_model, tmp_path):
    from exsampling.library import Library
    from exsampling.records import Sample

    lib = Library(tmp_path / "lib")
    rng = np.random.default_rng(5)
    rec = lib.add_recording(b"RIFF", "wav")
    for i in range(6):
        s = lib.add_sample(Sample(id=0, recording_id=rec.id, path="", start_s=0.0, duration_s=1.5, label="Flute"),
                           synth("tone", rng), SR)
        if i % 2 == 0:
            lib.update_sample(s.id, relabel="Trumpet")
    clips = train.read_library(lib.root)
    assert [c.label for c in clips] == ["Trumpet"] * 3
    out = tmp_path / "finetuned.keras"
    train.train(clips, FeatureParams(), train.TrimRule(), tiny_options(out, epochs=2, base=folder_model))
    meta = json.loads(out.with_suffix(".json").read_text())
    assert set(meta["trained_labels"]) == set(KINDS) | {"Trumpet"}


def test_imagenet_weights_fail_fast_and_clearly_offline(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))  # nothing cached
    monkeypatch.setattr(models, "IMAGENET_HOST", ("127.0.0.1", 9))  # a port nothing listens on
    data = write_folders(tmp_path / "mine", per_label=2, seed=3)
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers()
    train.register(sub, lambda p: p.add_argument("--config"))
    args = parser.parse_args(["train", str(data), "--weights", "imagenet", "--out", str(tmp_path / "m.keras"),
                              "--no-cache"])
    started = time.monotonic()
    assert args.func(args) == 2
    assert time.monotonic() - started < 30
    err = capsys.readouterr().err
    assert "ImageNet weights cannot be downloaded" in err and "--weights none" in err
    assert "Traceback" not in err
    assert not (tmp_path / "m.keras").exists()


def test_user_errors_are_one_line(tmp_path, capsys):
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers()
    train.register(sub, lambda p: p.add_argument("--config"))
    (tmp_path / "Not_a_label").mkdir()
    for argv, needle in ((["train"], "give DATA"), (["train", str(tmp_path / "nope")], "does not exist"),
                         (["train", str(tmp_path)], "unknown label 'Not_a_label'")):
        args = parser.parse_args(argv)
        assert args.func(args) == 2
        err = capsys.readouterr().err.strip()
        assert needle in err and len(err.splitlines()) == 1


def test_evaluate_counts_instrument_hits_after_fig5_mapping():
    from exsampling.mapping import LABELS

    y = np.array([LABELS.index("Cello"), LABELS.index("Flute"), LABELS.index("Bass_drum")])
    probs = np.zeros((3, len(LABELS)))
    probs[0, LABELS.index("Double_bass")] = 1.0  # wrong label, right instrument (Bass)
    probs[1, LABELS.index("Flute")] = 1.0
    probs[2, LABELS.index("Snare_drum")] = 0.6
    probs[2, LABELS.index("Bass_drum")] = 0.4  # second guess: a top-3 hit
    m = train.evaluate(probs, y)
    assert m["top1"] == pytest.approx(1 / 3) and m["top3"] == pytest.approx(2 / 3)
    assert m["instrument"] == pytest.approx(2 / 3)
    assert m["per_instrument"]["Bass"]["accuracy"] == 1.0 and m["per_instrument"]["BD"]["accuracy"] == 0.0
    assert m["per_label"]["Cello"] == {"n": 1, "top1": 0.0, "top3": 0.0, "instrument": 1.0}


def test_validation_split_keeps_recordings_together():
    clips = [train.Clip(Path(f"{g}-{i}.wav"), "Flute", "", f"g{g}") for g in range(10) for i in range(3)]
    chosen = train.validation_groups(clips, 0.3, seed=0)
    assert len(chosen) == 3 and chosen == train.validation_groups(clips, 0.3, seed=0)
    assert train.class_weights(np.array([0, 0, 0, 1]), 3) == {0: pytest.approx(2 / 3), 1: 2.0}


# ------------------------------------------------------------------------------- the corpus' pure parts
def test_drum_kit_instrument_names_map_to_labels_conservatively():
    from exsampling.corpus import label_for_instrument

    cases = {
        "Kick (Tama Superstar 22\")": "Bass_drum", "BassDrum": "Bass_drum", "c3 - bass drum 1": "Bass_drum",
        "Snare (Pearl Free Floating Maple 14x3.5)": "Snare_drum", "Hi-Hat Closed (Paiste)": "Hi-hat",
        "Pedal HH": "Hi-hat", "Sabian Hat Swish": "Hi-hat", "Tambourine Pedal (Pearl PTM-10GH)": "Tambourine",
        "Cowbell": "Cowbell", "Finger Snaps": "Finger_snapping",
        # not the label, though the name is close: left out
        "Snare Rimshot": None, "Pearl Side Stick": None, "Hand Clap": None, "Tom Low": None, "Ride Bell": None,
    }
    assert {name: label_for_instrument(name) for name in cases} == cases


def test_family_filter_takes_a_supplement_or_leaves_it_out():
    from exsampling.corpus import family_filter

    families = ["fluidr3", "timgm6mb", "generaluser", "lmms"]
    assert [f for f in families if family_filter("", "")(f)] == families
    assert [f for f in families if family_filter("generaluser, lmms", "")(f)] == ["generaluser", "lmms"]
    assert [f for f in families if family_filter("", "generaluser,lmms")(f)] == ["fluidr3", "timgm6mb"]


def test_midi_file_is_a_valid_type0_file():
    from exsampling.corpus import midi_file

    data = midi_file([(0.1, 0.5, 60, 100), (1.0, 0.2, 64, 90)], program=73, channel=0)
    assert data[:4] == b"MThd" and data[8:14] == b"\x00\x00\x00\x01\x01\xe0"
    assert data[14:18] == b"MTrk" and int.from_bytes(data[18:22], "big") == len(data) - 22
    assert bytes([0x90, 60, 100]) in data and bytes([0xC0, 73]) in data and data.endswith(b"\xff\x2f\x00")


def test_augmented_variants_are_cut_like_live_recordings():
    from exsampling.corpus import Origin, augment, cut_like_live

    rng = np.random.default_rng(0)
    hit = (rng.standard_normal(3000) * np.exp(-np.arange(3000) / 500)).astype(np.float32)
    o = Origin("Snare_drum", "test", "test", "CC0", "train", "o1", "hit", hit)
    for v in range(5):
        y = augment(o, np.random.default_rng(v), SR)
        assert y.dtype == np.float32 and np.isfinite(y).all() and 0.09 < np.abs(y).max() <= 0.9
        pieces = cut_like_live(y, SR, 5.0, 1.0, 20.0, -60.0)
        assert pieces and all(len(p) <= 5 * SR for p in pieces)
    assert cut_like_live(np.zeros(SR, np.float32), SR, 5.0, 1.0, 20.0, -60.0) == []


def test_wilson_interval_brackets_the_measured_accuracy():
    lo, hi = train.wilson_interval(50, 100)
    assert lo < 0.5 < hi and hi - lo == pytest.approx(0.19, abs=0.01)
    assert train.wilson_interval(0, 0) == (0.0, 1.0)


@pytest.mark.training
def test_fine_tuning_on_three_samples_says_nothing_validates_it(folder_model, tmp_path, capsys):
    from exsampling.library import Library
    from exsampling.records import Sample

    lib = Library(tmp_path / "lib")
    rng = np.random.default_rng(6)
    rec = lib.add_recording(b"RIFF", "wav")
    for _ in range(3):
        s = lib.add_sample(Sample(id=0, recording_id=rec.id, path="", start_s=0.0, duration_s=1.5, label="Flute"),
                           synth("tone", rng), SR)
        lib.update_sample(s.id, relabel="Trumpet")
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers()
    train.register(sub, lambda p: p.add_argument("--config"))
    args = parser.parse_args(["train", "--from-library", str(lib.root), "--base", str(folder_model), "--epochs", "1",
                              "--no-cache"])
    assert args.func(args) == 0
    out, err = capsys.readouterr()
    assert "warning: 3 clip(s) from too few recordings to validate on any (Trumpet 3)" in err
    assert "a label needs 4 separate recordings" in err and "not validated" in out
    assert (lib.root / "models" / "finetuned.keras").is_file()
