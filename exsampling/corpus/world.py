"""Recordings in game and education data packages (GCompris, Tux Paint, Hedgewars, Wesnoth, LMMS, Scratch 1.4,
qABCs, Brain Party), each checked by its spectrogram and length before it was listed."""
from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from .. import audio
from .origin import Origin

GCOMPRIS_RCC = Path("/usr/share/gcompris-qt/rcc")
TUXPAINT_STAMPS = Path("/usr/share/tuxpaint/stamps")
HEDGEWARS_SOUNDS = Path("/usr/share/games/hedgewars/Data/Sounds")
WESNOTH_SOUNDS = Path("/usr/share/games/wesnoth/1.16/data/core/sounds")
LMMS_SAMPLES = Path("/usr/share/lmms/samples")
SCRATCH_SOUNDS = Path("/usr/share/scratch/Media/Sounds")
QABCS_NOISES = Path("/usr/share/qabcs/abcs/all/noises")
BRAINPARTY_SOUNDS = Path("/usr/share/games/brainparty")


@dataclass(frozen=True)
class WorldSound:
    """One recording in a game's or an educational program's data, checked by its spectrogram and length.

    where: ``rcc:<resource file stem>:<path inside>`` for a GCompris Qt resource, else a path under
    ``root``. family: recordings that share an author or session form one family (held out together).
    """

    label: str
    root: str
    where: str
    family: str
    licence: str
    split: str
    kind: str


_GC = "GPL-3 (Bruno Coudoin and others, gcompris-qt-data)"
_GC_LA = "Free Art Licence 1.3 (Lionel Allorge, Yves Combe; gcompris-qt-data)"
_GC_INST = "GPL-3+ (Sylvain Dechy, Jérome Blanchard, Julie Jules, Chloé Tuvuku; gcompris-qt-data)"
_TP = "GPL-2 (Bill Kendrick and others, tuxpaint-stamps-default)"
_HW = "GFDL-1.3 (Hedgewars sounds, hedgewars-data)"
_WN = "GPL-2+ (The Battle for Wesnoth, wesnoth-1.16-data)"
_LM = "GPL-2+ (the LMMS developers, lmms-common)"
_SC = "CC-BY-SA-3.0 (Massachusetts Institute of Technology, Scratch 1.4 media library; scratch)"
_QA = "GPL-3+ (DanSoft, qABCs; qabcs-data)"
_BP = "GPL-3+ (Paul Hudson, Scott Ewart; Brain Party, brainparty-data)"
_GC_INSTRUMENTS = {"Cello": "cello", "Clarinet": "clarinet", "Flute": "flute_traversiere",
                   "Acoustic_guitar": "guitar", "Harmonica": "harmonica", "Saxophone": "saxophone",
                   "Snare_drum": "snare_drum", "Tambourine": "tambourine", "Trumpet": "trumpet",
                   "Violin_or_fiddle": "violin"}
#: Hedgewars voice packs: each is another voice actor. "Robot" is left out (a vocoder, not a laugh);
#: Default and Classic share one laugh, which the shared-bytes check drops from held-out material.
_HW_TRAIN_PACKS = ("Classic", "Default", "Default_es", "Default_pl", "Default_uk", "HillBilly", "Mobster",
                   "Russian", "Russian_pl", "Singer")
_HW_TEST_PACKS = ("British", "Default_ru", "Pirate", "Surfer")

WORLD: tuple[WorldSound, ...] = (
    # GCompris: farm animals and the melody activity's door knock (one author set), Lionel Allorge's
    # field recordings, and the instruments activity's real instrument phrases (held out)
    WorldSound("Bark", "gcompris", "rcc:explore_farm_animals:animals/dog.ogg", "gcompris", _GC, "train", "hit"),
    WorldSound("Meow", "gcompris", "rcc:explore_farm_animals:animals/cat.ogg", "gcompris", _GC, "train", "hit"),
    WorldSound("Knock", "gcompris", "rcc:melody:knock.wav", "gcompris", _GC, "train", "hit"),
    WorldSound("Bark", "gcompris", "rcc:memory-sound:LRBark_1_LA_cut.ogg", "gcompris-allorge", _GC_LA, "train", "hit"),
    WorldSound("Bark", "gcompris", "rcc:memory-sound:LRBark_3_LA_cut.ogg", "gcompris-allorge", _GC_LA, "train", "hit"),
    WorldSound("Applause", "gcompris", "rcc:memory-sound:LRApplauses_1_LA_cut.ogg", "gcompris-allorge", _GC_LA,
               "train", "texture"),
    WorldSound("Gong", "gcompris", "rcc:memory-sound:LRBuddhist_gong_05_LA.ogg", "gcompris-allorge", _GC_LA,
               "train", "hit"),
    *(WorldSound(label, "gcompris", f"rcc:instruments:{name}.ogg", "gcompris-instruments", _GC_INST, "test",
                 "texture") for label, name in _GC_INSTRUMENTS.items()),
    # Tux Paint stamps' sounds: one family per stamp group (different recordings); the animals and the
    # instruments are held out, the household and seasonal ones are the only source of their labels
    WorldSound("Scissors", "tuxpaint", "household/arttools/scissors_small_open.ogg", "tuxpaint-household", _TP,
               "train", "hit"),
    WorldSound("Scissors", "tuxpaint", "household/arttools/scissors_small_closed.ogg", "tuxpaint-household", _TP,
               "train", "hit"),
    WorldSound("Squeak", "tuxpaint", "household/rubberduck.ogg", "tuxpaint-household", _TP, "train", "hit"),
    WorldSound("Fireworks", "tuxpaint", "seasonal/newyears/fireworks.ogg", "tuxpaint-seasonal", _TP, "train", "hit"),
    WorldSound("Bark", "tuxpaint", "animals/mammals/dogs/dog.ogg", "tuxpaint-animals", _TP, "test", "hit"),
    WorldSound("Meow", "tuxpaint", "seasonal/halloween/blackcat.ogg", "tuxpaint-animals", _TP, "test", "hit"),
    WorldSound("Cello", "tuxpaint", "hobbies/music/string/cello.ogg", "tuxpaint-music", _TP, "test", "texture"),
    WorldSound("Violin_or_fiddle", "tuxpaint", "hobbies/music/string/violin.ogg", "tuxpaint-music", _TP, "test",
               "texture"),
    # Hedgewars: laughs and coughs of its voice packs (one family each), guns, and rubber-duck squeaks
    *(WorldSound("Laughter", "hedgewars", f"voices/{pack}/Laugh.ogg", f"hedgewars-{pack}", _HW, split, "hit")
      for packs, split in ((_HW_TRAIN_PACKS, "train"), (_HW_TEST_PACKS, "test")) for pack in packs),
    *(WorldSound("Cough", "hedgewars", f"voices/{pack}/PoisonCough.ogg", f"hedgewars-{pack}", _HW, split, "hit")
      for packs, split in ((_HW_TRAIN_PACKS, "train"), (_HW_TEST_PACKS, "test")) for pack in packs),
    WorldSound("Gunshot_or_gunfire", "hedgewars", "gun.ogg", "hedgewars-weapons", _HW, "train", "hit"),
    WorldSound("Gunshot_or_gunfire", "hedgewars", "shotgunfire.ogg", "hedgewars-weapons", _HW, "train", "hit"),
    WorldSound("Squeak", "hedgewars", "rubberduck_die.ogg", "hedgewars-duck", _HW, "test", "hit"),
    WorldSound("Squeak", "hedgewars", "rubberduck_drop.ogg", "hedgewars-duck", _HW, "test", "hit"),
    # Wesnoth: a pistol, a musket and a dwarf's laugh (held out)
    WorldSound("Gunshot_or_gunfire", "wesnoth", "gunshot.wav", "wesnoth", _WN, "test", "hit"),
    WorldSound("Gunshot_or_gunfire", "wesnoth", "thunderstick.ogg", "wesnoth", _WN, "test", "hit"),
    WorldSound("Laughter", "wesnoth", "dwarf-laugh.wav", "wesnoth", _WN, "test", "hit"),
    # LMMS: single recorded instrument phrases and an applause, one family
    WorldSound("Cello", "lmms", "instruments/cello01.ogg", "lmms", _LM, "train", "texture"),
    WorldSound("Violin_or_fiddle", "lmms", "instruments/violin_fingered01.ogg", "lmms", _LM, "train", "texture"),
    WorldSound("Violin_or_fiddle", "lmms", "instruments/violin_double_stop01.ogg", "lmms", _LM, "train", "texture"),
    WorldSound("Trumpet", "lmms", "instruments/trumpet01.ogg", "lmms", _LM, "train", "texture"),
    WorldSound("Flute", "lmms", "instruments/flute01.ogg", "lmms", _LM, "train", "texture"),
    WorldSound("Applause", "lmms", "misc/applause01.ogg", "lmms", _LM, "train", "texture"),
    # Scratch 1.4's media library: cats (one recorded at 44.1 kHz, full band; two at 11 and 22 kHz), a rubbed
    # balloon's squeaks (44.1 kHz, full band) and a creaking door (11 kHz), laughs and coughs of other voices
    # than Hedgewars', and a gong. One family: one library, added after the bundled model was made.
    WorldSound("Meow", "scratch", "Animal/Cat.mp3", "scratch", _SC, "train", "hit"),
    WorldSound("Meow", "scratch", "Animal/Kitten.wav", "scratch", _SC, "train", "hit"),
    WorldSound("Meow", "scratch", "Animal/Meow.wav", "scratch", _SC, "train", "hit"),
    WorldSound("Squeak", "scratch", "Effects/BalloonScratch.mp3", "scratch", _SC, "train", "texture"),
    WorldSound("Squeak", "scratch", "Effects/DoorCreak.wav", "scratch", _SC, "train", "texture"),
    *(WorldSound("Laughter", "scratch", f"Human/{name}", "scratch", _SC, "train", "hit")
      for name in ("Laugh-female.wav", "Laugh-male1.wav", "Laugh-male2.wav", "Laugh-male3.mp3")),
    WorldSound("Cough", "scratch", "Human/Cough-female.wav", "scratch", _SC, "train", "hit"),
    WorldSound("Cough", "scratch", "Human/Cough-male.wav", "scratch", _SC, "train", "hit"),
    WorldSound("Gong", "scratch", "Percussion/Gong.wav", "scratch", _SC, "train", "hit"),
    # qABCs' "noises" (an alphabet game's sounds for its words): a cat band-limited near 6 kHz, a mouse's squeaks,
    # a cello and a violin phrase, a dog, typing, chalk and a pen writing. Its wind instruments, balls, balloons
    # and paper are left out: some may be synthesised, some are not clearly one label.
    *(WorldSound(label, "qabcs", f"{name}.ogg", "qabcs", _QA, "train", kind) for label, name, kind in (
        ("Meow", "cat", "hit"), ("Squeak", "mouse", "hit"), ("Cello", "cello", "texture"),
        ("Violin_or_fiddle", "violin", "texture"), ("Bark", "dog", "hit"),
        ("Computer_keyboard", "keyboard", "texture"), ("Writing", "chalkboard", "texture"),
        ("Writing", "pen", "texture"))),
    # Brain Party: a full-band meow and a glass breaking
    WorldSound("Meow", "brainparty", "meow.wav", "brainparty", _BP, "train", "hit"),
    WorldSound("Shatter", "brainparty", "glass_break.wav", "brainparty", _BP, "train", "hit"),
)

_WORLD_ROOTS = {"gcompris": GCOMPRIS_RCC, "tuxpaint": TUXPAINT_STAMPS, "hedgewars": HEDGEWARS_SOUNDS,
                "wesnoth": WESNOTH_SOUNDS, "lmms": LMMS_SAMPLES, "scratch": SCRATCH_SOUNDS,
                "qabcs": QABCS_NOISES, "brainparty": BRAINPARTY_SOUNDS}
_WORLD_NAMES = {"gcompris": "GCompris", "tuxpaint": "Tux Paint stamps", "hedgewars": "Hedgewars",
                "wesnoth": "Wesnoth", "lmms": "LMMS", "scratch": "Scratch 1.4", "qabcs": "qABCs",
                "brainparty": "Brain Party"}


def world_bytes(w: WorldSound) -> bytes | None:
    """The file bytes of ``w`` (unpacked from its Qt resource for GCompris), or None if not installed."""
    from .. import qrc

    root = _WORLD_ROOTS[w.root]
    if w.where.startswith("rcc:"):
        _, stem, inside = w.where.split(":", 2)
        rcc = root / f"{stem}.rcc"
        if not rcc.is_file():
            return None
        found = [data for name, data in qrc.files(rcc).items() if name.endswith("/" + inside)]
        return found[0] if found else None
    p = root / w.where
    return p.read_bytes() if p.is_file() else None


def world_origins(sr: int, train_hashes: set[str]) -> Iterator[tuple[str, Origin]]:
    """Origins from game and education data packages, training ones first (for the shared-bytes check)."""
    for w in sorted(WORLD, key=lambda w: w.split != "train"):
        data = world_bytes(w)
        if data is None:
            continue
        digest = hashlib.md5(data).hexdigest()
        if w.split == "test" and digest in train_hashes:
            continue
        try:
            y = audio.decode(data, sr, max_duration_s=60.0)
        except audio.AudioError:
            continue
        source = f"{_WORLD_NAMES[w.root]} {w.where.removeprefix('rcc:')}"
        yield digest, Origin(w.label, source, w.family, w.licence, w.split, f"{w.family}-{digest[:10]}", w.kind, y)
