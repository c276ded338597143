"""The SoundFonts in the catalogue and the sounds rendered from them: instrument notes (GM programs), General
MIDI and GS effects, drum kits, and the AVL drum kits' SoundFonts."""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import audio
from .origin import Origin
from .soundfont import render, samples_on

SF2_DIR = Path("/usr/share/sounds/sf2")
MINUET_SF2_DIR = Path("/usr/share/minuet/soundfonts")
TIMIDITY_DIR = Path("/etc/timidity")

#: Melodic labels: GM programs (0-based) that honestly are the instrument, and the MIDI key range played.
MELODIC: dict[str, tuple[tuple[int, ...], tuple[int, int]]] = {
    "Acoustic_guitar": ((24, 25), (40, 84)),
    "Cello": ((42,), (36, 76)),
    "Clarinet": ((71,), (50, 91)),
    "Double_bass": ((43, 32), (28, 60)),  # arco contrabass and the GM acoustic (upright) bass
    "Electric_piano": ((4, 5), (36, 96)),
    "Flute": ((73,), (60, 96)),
    "Glockenspiel": ((9,), (79, 105)),
    "Harmonica": ((22,), (60, 84)),
    "Oboe": ((68,), (58, 91)),
    "Saxophone": ((64, 65, 66, 67), (44, 84)),
    "Trumpet": ((56, 59), (54, 84)),
    "Violin_or_fiddle": ((40, 110), (55, 96)),
    "Chime": ((14,), (60, 77)),  # tubular bells: the orchestra's chimes
}

#: GM effect programs that are recordings of the label, played near their root key.
GM_EFFECTS: dict[str, int] = {"Telephone": 124, "Applause": 126, "Gunshot_or_gunfire": 127}

#: GM percussion keys per label (channel 10); 26 is the GS finger snap, which only some kits have.
GM_DRUM_KEYS: dict[str, tuple[int, ...]] = {
    "Bass_drum": (35, 36), "Snare_drum": (38, 40), "Hi-hat": (42, 44, 46), "Tambourine": (54,), "Cowbell": (56,),
    "Finger_snapping": (26,),
}

#: Keys of the GS "SFX" kit (bank 128, program 56) that hold a label, checked against the samples' names.
GS_SFX_KEYS: dict[str, tuple[int, ...]] = {
    "Laughter": (52,), "Applause": (58,), "Chime": (62,), "Gunshot_or_gunfire": (72, 73), "Bark": (76,),
}

TEXTURES = {"Applause", "Laughter", "Telephone", "Computer_keyboard"}


@dataclass(frozen=True)
class Font:
    """A SoundFont (or timidity patch set) in the catalogue: its family, split and drum kits (bank 128).

    skip: GM programs left out, because a note of them renders within 0.97 log-mel correlation of a held-out
    font's (one recording re-packed scores ≥ 0.99; independent recordings of one instrument ≤ 0.965).
    folder: where the file lives when not in the usual folder (see :func:`font_path`).
    """

    file: str
    family: str
    licence: str
    split: str
    kits: tuple[int, ...]
    gm: bool
    sfx: bool
    skip: tuple[int, ...] = ()
    folder: Path | None = None


FONTS = (
    Font("FluidR3_GM.sf2", "fluidr3", "MIT (Frank Wen, fluid-soundfont-gm)", "train", (0, 8, 16, 24, 25, 32, 40), True,
         False),
    Font("FluidR3_GS.sf2", "fluidr3", "MIT (Frank Wen, fluid-soundfont-gs)", "train", (), False, True),
    # TimGM6mb and csound's sf_GMbank share most samples: one held-out family. Their other drum kits
    # layer filter snaps and sine waves over the GM keys, so only the Standard kit is used.
    Font("TimGM6mb.sf2", "timgm6mb", "GPL-2 (Tim Brechbill, timgm6mb-soundfont)", "test", (0,), True, False),
    Font("sf_GMbank.sf2", "timgm6mb", "public domain (csound-soundfont)", "test", (0,), True, True),
    # freepats: recordings independent of Fluid's, a second training source for most instruments
    Font("freepats.cfg", "freepats", "GPL-2+ with a sound-use exception (freepats)", "train", (0,), True, False),
    # two more GM sets with their own recordings, for the orchestral labels (their drums add nothing new)
    Font("GeneralUser-v1.47.sf2", "generaluser",
         "GeneralUser GS License v2.0 (S. Christian Collins; minuet-data)", "train", (), True, False,
         skip=(14, 68), folder=MINUET_SF2_DIR),
    Font("A320U.sf2", "airfont", "GPL-2 (Milton Paredes, Airfont 320; denemo-data)", "train", (), True, False,
         skip=(5, 110)),
)


def font_path(font: Font) -> Path:
    """Where the font file lives: SoundFonts in /usr/share/sounds/sf2, timidity configs in /etc/timidity."""
    if font.folder is not None:
        return font.folder / font.file
    return (TIMIDITY_DIR if font.file.endswith(".cfg") else SF2_DIR) / font.file


def _sf2_notes(rng: np.random.Generator, keys: list[int], durations: tuple[float, float], gap_s: float
               ) -> list[tuple[float, float, int, int]]:
    """Schedule one note per key with random velocity and length, ``gap_s`` seconds of tail between."""
    notes, t = [], 0.2
    for key in keys:
        dur = float(rng.uniform(*durations))
        notes.append((t, dur, int(key), int(rng.integers(45, 128))))
        t += dur + gap_s
    return notes


def font_origins(font: Font, zones: dict, train_samples: set[str], sr: int, rng: np.random.Generator,
                 notes_per_preset: int) -> Iterator[Origin]:
    """Origins rendered from one font; ``zones`` tells which keys of which preset hold which samples."""
    path = font_path(font)

    def keep(bank: int, preset: int, key: int) -> bool:
        used = samples_on(zones.get((bank, preset), []), key)
        return bool(used) and not (font.split == "test" and used & train_samples)

    def emit(label, source, clips, kind, tag):
        for i, y in enumerate(clips):
            if audio.peak_dbfs(y) > -50.0:  # some presets are silent outside their key range
                yield Origin(label, source, font.family, font.licence, font.split,
                             f"{Path(font.file).stem}-{tag}-{i}", kind, y)

    if font.gm:
        for label, (programs, (lo, hi)) in MELODIC.items():
            for prog in (p for p in programs if p not in font.skip):
                keys = [k for k in rng.integers(lo, hi + 1, size=notes_per_preset) if keep(0, prog, int(k))]
                if keys:
                    notes = _sf2_notes(rng, keys, (0.3, 3.5), gap_s=3.0)
                    yield from emit(label, f"{font.file} program {prog}", render(path, notes, prog, 0, sr),
                                    "note", f"p{prog}")
        for label, prog in ((label, prog) for label, prog in GM_EFFECTS.items() if prog not in font.skip):
            keys = [k for k in rng.integers(55, 66, size=max(2, notes_per_preset // 3)) if keep(0, prog, int(k))]
            if keys:
                notes = _sf2_notes(rng, keys, (1.0, 6.0), gap_s=2.0)
                yield from emit(label, f"{font.file} program {prog}", render(path, notes, prog, 0, sr),
                                "texture" if label in TEXTURES else "hit", f"p{prog}")
        for kit in font.kits:
            for label, drum_keys in GM_DRUM_KEYS.items():
                hits = [k for k in drum_keys for _ in range(3) if keep(128, kit, k)]
                if hits:
                    notes = _sf2_notes(rng, hits, (0.2, 0.4), gap_s=2.5)
                    yield from emit(label, f"{font.file} drum kit {kit}", render(path, notes, kit, 9, sr),
                                    "hit", f"k{kit}-{label}")
    if font.sfx:
        for label, sfx_keys in GS_SFX_KEYS.items():
            hits = [k for k in sfx_keys for _ in range(3) if keep(128, 56, k)]
            if hits:
                dur = (2.0, 6.0) if label in TEXTURES else (0.3, 1.0)
                notes = _sf2_notes(rng, hits, dur, gap_s=3.0)
                yield from emit(label, f"{font.file} GS SFX kit", render(path, notes, 56, 9, sr),
                                "texture" if label in TEXTURES else "hit", f"sfx-{label}")


def avl_origins(font_file: str, family: str, split: str, zones: dict, sr: int, rng: np.random.Generator
                ) -> Iterator[Origin]:
    """Drum hits rendered from one of the AVL drum kits' SoundFonts (its kit is bank 0, preset 0)."""
    path = SF2_DIR / font_file
    licence = "CC-BY-SA-3.0 (Glen MacArthur, avldrums.lv2-soundfont)"
    for label, keys in GM_DRUM_KEYS.items():
        hits = [k for k in keys if samples_on(zones.get((0, 0), []), k)] * 4
        if hits:
            notes = _sf2_notes(rng, hits, (0.2, 0.4), gap_s=2.5)
            for i, y in enumerate(render(path, notes, 0, 0, sr)):
                if audio.peak_dbfs(y) > -50.0:
                    yield Origin(label, f"{font_file} (AVL drums)", family, licence, split,
                                 f"{font_file[:-4]}-{label}-{i}", "hit", y)
