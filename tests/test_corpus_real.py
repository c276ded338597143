"""Real recordings as corpus families (``exsampling corpus --real DIR``): split by recordist, measured as recorded."""
import csv

import numpy as np
import pytest

from exsampling import audio, corpus

SR = 22050

#: (file, label, attribution): two knock recordists, three crowdsourced coughs, one laugher with two files
ROWS = (
    ("Knock/a.wav", "Knock", "Ann, freesound.org/s/1"),
    ("Knock/b.wav", "Knock", "Bob, freesound.org/s/2"),
    ("Cough/c1.wav", "Cough", "COUGHVID crowdsourced dataset (EPFL), zenodo.org/record/4048312"),
    ("Cough/c2.wav", "Cough", "COUGHVID crowdsourced dataset (EPFL), zenodo.org/record/4048312"),
    ("Cough/c3.wav", "Cough", "COUGHVID crowdsourced dataset (EPFL), zenodo.org/record/4048312"),
    ("Laughter/l1.wav", "Laughter", "Cy, opengameart.org/node/1"),
    ("Laughter/l2.wav", "Laughter", "Cy, opengameart.org/node/2"),
    ("Bark/d1.wav", "Bark", "Bob, freesound.org/s/3"),
    ("Bark/d2.wav", "Bark", "Dee, freesound.org/s/4"),
)


def rows() -> list[dict[str, str]]:
    return [{"file": f, "label": label, "licence": "CC0 1.0", "attribution": a, "source_repo": "",
             "source_path": f"datasets/{f.split('/')[1]}"} for f, label, a in ROWS]


@pytest.fixture
def folder(tmp_path):
    rng = np.random.default_rng(0)
    for i, r in enumerate(rows()):
        p = tmp_path / r["file"]
        p.parent.mkdir(parents=True, exist_ok=True)
        t = np.arange(int(SR * (2.0 + i))) / SR  # bursts of a tone in noise, one length per recording
        y = 0.5 * np.sin(2 * np.pi * (300 + 50 * i) * t) * (np.sin(2 * np.pi * 2 * t) > 0) + 0.01 * rng.normal(
            size=len(t))
        p.write_bytes(audio.wav_bytes(y.astype(np.float32), SR))
    with open(tmp_path / "manifest.csv", "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=list(rows()[0]))
        w.writeheader()
        w.writerows(rows())
    return tmp_path


def test_a_recordist_is_named_by_the_attribution_and_a_crowd_by_its_files():
    r = rows()
    assert corpus.recordist(r[0]) == "Ann"
    assert len({corpus.recordist(x) for x in r[2:5]}) == 3
    assert corpus.real_family("Jonathan Shaw (InspectorJ)") == "real-jonathan-shaw-inspectorj"


def test_the_split_holds_out_whole_recordists_never_both_sides():
    split = corpus.real_splits(rows())
    # Knock: Bob's file sorts last, so Bob is held out — and so are his barks; Dee, Bark's last, too
    assert split["Bob"] == "test" and split["Ann"] == "train" and split["Dee"] == "test"
    assert split["Cy"] == "train"  # one recordist: the label trains
    coughs = [split[corpus.recordist(x)] for x in rows()[2:5]]
    assert sorted(coughs) == ["test", "train", "train"]
    assert set(split.values()) == {"train", "test"}


def test_real_origins_are_one_family_per_recordist_and_keep_their_attribution(folder):
    origins = corpus.real_origins(folder, SR)
    assert len(origins) == len(ROWS)
    for o in origins:
        assert o.family.startswith("real-") and o.kind == "recording"
        assert o.licence == "CC0 1.0"
    by_family: dict[str, set] = {}
    for o in origins:
        by_family.setdefault(o.family, set()).add(o.split)
    assert all(len(s) == 1 for s in by_family.values())
    assert any("freesound.org/s/2" in o.source for o in origins)
    # a family filter's name stands for the families it prefixes
    wanted = corpus.family_filter("real", "")
    assert all(wanted(o.family) for o in origins) and not wanted("scratch") and not wanted("realistic")
    assert not corpus.family_filter("", "real")(origins[0].family)


def test_held_out_recordings_are_measured_once_as_recorded_and_training_ones_augmented(folder):
    origins = corpus.real_origins(folder, SR)
    counts = corpus.plan_variants(origins, {"train": 20, "test": 30})
    for o, n in zip(origins, counts, strict=True):
        rng = np.random.default_rng(1)
        if o.split == "test":
            assert n == 1
            np.testing.assert_array_equal(corpus.augment(o, rng, SR), o.y)
        else:
            assert n >= 10
            v = corpus.augment(o, rng, SR)
            assert len(v) <= len(o.y) * 1.1 + SR  # never repeated or looped, at most a room's tail longer


def test_a_bad_manifest_is_refused(tmp_path):
    (tmp_path / "manifest.csv").write_text("file,label,licence,attribution\nx.wav,Kazoo,CC0,Someone\n")
    with pytest.raises(corpus.CorpusError, match="Kazoo"):
        corpus.real_origins(tmp_path, SR)
    (tmp_path / "manifest.csv").write_text("file,label\nx.wav,Knock\n")
    with pytest.raises(corpus.CorpusError, match="attribution"):
        corpus.real_origins(tmp_path, SR)
    with pytest.raises(corpus.CorpusError):
        corpus.real_origins(tmp_path / "nowhere", SR)


def test_the_clips_list_names_each_clip_s_family(tmp_path):
    from exsampling.train import Clip, write_clips_csv

    clips = [Clip(tmp_path / "a.wav", "Knock", "test", "g1", "Ann (repo a.flac)", "CC0 1.0", "real-ann"),
             Clip(tmp_path / "b.wav", "Knock", "", "g2", "Bob", "CC BY 3.0", "real-bob")]
    write_clips_csv(tmp_path / "m.clips.csv", clips, {"g2"}, tmp_path)
    with open(tmp_path / "m.clips.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [(r["file"], r["split"], r["family"]) for r in rows] == [("a.wav", "test", "real-ann"),
                                                                     ("b.wav", "validation", "real-bob")]
