"""The corpus' table of recordings from game and education data: consistent, and honest about families."""
import hashlib
from collections import defaultdict

import pytest

from exsampling import audio, corpus
from exsampling.corpus import world
from exsampling.mapping import LABELS


def test_every_world_sound_has_a_known_label_root_split_and_licence():
    for w in world.WORLD:
        assert w.label in LABELS, w
        assert w.root in world._WORLD_ROOTS and w.root in world._WORLD_NAMES, w
        assert w.split in ("train", "test"), w
        assert w.kind in ("hit", "texture"), w
        assert w.licence.strip(), w


def test_a_family_is_either_training_or_held_out_never_both():
    splits = defaultdict(set)
    for w in world.WORLD:
        splits[w.family].add(w.split)
    assert all(len(s) == 1 for s in splits.values()), {f: s for f, s in splits.items() if len(s) > 1}


def test_each_recording_is_listed_once():
    where = [(w.root, w.where) for w in world.WORLD]
    assert len(where) == len(set(where))


#: the training families added as supplements since the bundled model's GPU fine-tune: root, package, licence, labels
SUPPLEMENTS = (
    ("scratch", "scratch", "CC-BY-SA-3.0", {"Meow", "Squeak", "Laughter", "Cough"}),
    ("qabcs", "qabcs-data", "GPL-3+", {"Meow", "Squeak", "Cello", "Violin_or_fiddle", "Writing"}),
    ("brainparty", "brainparty-data", "GPL-3+", {"Meow", "Shatter"}),
)


@pytest.mark.parametrize(("root", "package", "licence", "labels"), SUPPLEMENTS)
def test_a_supplement_is_one_training_family_of_its_own_package(root, package, licence, labels):
    mine = [w for w in world.WORLD if w.root == root]
    assert {w.family for w in mine} == {root} and {w.split for w in mine} == {"train"}
    assert {w.label for w in mine} >= labels
    assert package in corpus.PACKAGES
    assert all(licence in w.licence for w in mine)
    # its family can be built alone, as a supplement
    wanted = corpus.family_filter(root, "")
    assert wanted(root) and not wanted("hedgewars-duck")


@pytest.mark.parametrize("root", [s[0] for s in SUPPLEMENTS])
def test_installed_supplement_sounds_decode_and_share_no_bytes_with_held_out_files(root):
    if not world._WORLD_ROOTS[root].is_dir():
        pytest.skip(f"the Debian package for {root} is not installed")
    held_out = {hashlib.md5(b).hexdigest() for w in world.WORLD if w.split == "test"
                if (b := world.world_bytes(w)) is not None}
    for w in world.WORLD:
        if w.root != root:
            continue
        data = world.world_bytes(w)
        assert data is not None, w.where
        assert hashlib.md5(data).hexdigest() not in held_out
        y = audio.decode(data, 44100, max_duration_s=60.0)
        assert len(y) > 0.1 * 44100 and float(abs(y).max()) > 0.05, w.where
