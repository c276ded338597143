"""The corpus' table of recordings from game and education data: consistent, and honest about families."""
import hashlib
from collections import defaultdict

import pytest

from exsampling import audio, corpus
from exsampling.mapping import LABELS


def test_every_world_sound_has_a_known_label_root_split_and_licence():
    for w in corpus.WORLD:
        assert w.label in LABELS, w
        assert w.root in corpus._WORLD_ROOTS and w.root in corpus._WORLD_NAMES, w
        assert w.split in ("train", "test"), w
        assert w.kind in ("hit", "texture"), w
        assert w.licence.strip(), w


def test_a_family_is_either_training_or_held_out_never_both():
    splits = defaultdict(set)
    for w in corpus.WORLD:
        splits[w.family].add(w.split)
    assert all(len(s) == 1 for s in splits.values()), {f: s for f, s in splits.items() if len(s) > 1}


def test_each_recording_is_listed_once():
    where = [(w.root, w.where) for w in corpus.WORLD]
    assert len(where) == len(set(where))


def test_scratch_is_a_training_family_of_its_own_package():
    scratch = [w for w in corpus.WORLD if w.root == "scratch"]
    assert {w.family for w in scratch} == {"scratch"} and {w.split for w in scratch} == {"train"}
    assert {w.label for w in scratch} >= {"Meow", "Squeak", "Laughter", "Cough"}
    assert "scratch" in corpus.PACKAGES
    assert all("CC-BY-SA-3.0" in w.licence for w in scratch)
    # its family can be built alone, as a supplement
    wanted = corpus.family_filter("scratch", "")
    assert wanted("scratch") and not wanted("hedgewars-duck")


@pytest.mark.skipif(not corpus.SCRATCH_SOUNDS.is_dir(), reason="Debian package scratch not installed")
def test_installed_scratch_sounds_decode_and_share_no_bytes_with_held_out_files():
    held_out = {hashlib.md5(b).hexdigest() for w in corpus.WORLD if w.split == "test"
                if (b := corpus.world_bytes(w)) is not None}
    for w in corpus.WORLD:
        if w.root != "scratch":
            continue
        data = corpus.world_bytes(w)
        assert data is not None, w.where
        assert hashlib.md5(data).hexdigest() not in held_out
        y = audio.decode(data, 44100, max_duration_s=60.0)
        assert len(y) > 0.1 * 44100 and float(abs(y).max()) > 0.05, w.where
