"""Build a labelled training corpus from real recordings found in Debian packages (``exsampling corpus``).

Every clip comes from a recording that honestly is what its label says: a SoundFont's flute preset is a
flute, a recorded drum kit's kick is a bass drum, the GS effects kit's dog is a bark. Labels that no
installed source covers stay uncovered and are listed (docs/training.md summarises the survey of Debian's
sound packages this catalogue follows).

Sources are grouped into *families*: sources that share recordings (e.g. TimGM6mb and csound's
sf_GMbank hold mostly the same samples) are one family. Each family is either training or held-out
test material, so the held-out numbers measure a source the model never heard. Test material whose
underlying sample also appears in training material (same SoundFont sample name and length, or same
file bytes) is dropped.

Each original sound (one rendered note, one drum hit, one effect) is turned into several clips with
different pitch, velocity, length, repetition, room, phone colouring and noise, then trimmed and cut
exactly like a live recording (20 dB trim, ≤ 5 s pieces).

Output layout::

    OUT/manifest.csv        file,label,source,family,licence,split,origin
    OUT/coverage.json       clips per label and split, uncovered labels, missing packages
    OUT/clips/<split>/<label>/<origin>-<variant>-<piece>.wav   mono 16-bit PCM at the model's rate
"""
from __future__ import annotations

import csv
import hashlib
import json
import math
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import audio
from .mapping import LABELS

SF2_DIR = Path("/usr/share/sounds/sf2")
MINUET_SF2_DIR = Path("/usr/share/minuet/soundfonts")
TIMIDITY_DIR = Path("/etc/timidity")
HYDROGEN_DIR = Path("/usr/share/hydrogen/data/drumkits")
SONIC_PI_DIR = Path("/usr/share/sonic-pi/samples")
BUCKLE_DIR = Path("/usr/share/buckle/wav")

#: Debian packages the catalogue reads; ``--install`` installs the missing ones.
PACKAGES = (
    "fluidsynth", "fluid-soundfont-gm", "fluid-soundfont-gs", "timgm6mb-soundfont", "csound-soundfont",
    "hydrogen-drumkits", "avldrums.lv2-soundfont", "sonic-pi-samples", "bucklespring-data", "timidity", "freepats",
    "gcompris-qt-data", "tuxpaint-stamps-default", "hedgewars-data", "wesnoth-1.16-data", "minuet-data",
    "denemo-data", "lmms-common", "scratch", "qabcs-data", "brainparty-data",
)

MANIFEST_FIELDS = ("file", "label", "source", "family", "licence", "split", "origin")


class CorpusError(RuntimeError):
    """The corpus cannot be built (nothing installed, no fluidsynth, unwritable output)."""


@dataclass(frozen=True)
class Origin:
    """One original sound before augmentation.

    kind: "note" (pitched, rendered at the wanted pitch), "hit" (a one-shot that may be repeated in a
    pattern), "texture" (a sound with no natural end, looped or cropped to a random length) or "recording"
    (a whole real recording, already a performance: never repeated or looped; a held-out one is used as is).
    y: mono float32 audio at the corpus rate. origin: unique id; clips of one origin stay in one split.
    """

    label: str
    source: str
    family: str
    licence: str
    split: str
    origin: str
    kind: str
    y: np.ndarray


# --------------------------------------------------------------------------------------------- SoundFonts
def _riff_chunks(b: bytes, off: int, end: int) -> Iterator[tuple[bytes, int, int]]:
    while off + 8 <= end:
        cid, size = b[off:off + 4], struct.unpack("<I", b[off + 4:off + 8])[0]
        yield cid, off + 8, size
        off += 8 + size + (size & 1)


def sf2_zones(path: Path) -> dict[tuple[int, int], list[tuple[int, int, str]]]:
    """Which samples each preset plays on which keys.

    Returns ``{(bank, preset): [(key_lo, key_hi, sample_id), ...]}`` where ``sample_id`` is
    ``"<sample name>/<length in frames>"`` — the identity used to spot one recording shared by two fonts.
    """
    b = Path(path).read_bytes()
    chunks: dict[bytes, bytes] = {}
    for cid, o, s in _riff_chunks(b, 12, len(b)):
        if cid == b"LIST":
            for c2, o2, s2 in _riff_chunks(b, o + 4, o + s):
                chunks[c2] = b[o2:o2 + s2]

    def records(name: bytes, fmt: str) -> list[tuple]:
        size, data = struct.calcsize(fmt), chunks[name]
        return [struct.unpack(fmt, data[i:i + size]) for i in range(0, len(data) - size + 1, size)]

    phdr, pbag, pgen = records(b"phdr", "<20sHHH12x"), records(b"pbag", "<HH"), records(b"pgen", "<HH")
    inst, ibag, igen = records(b"inst", "<20sH"), records(b"ibag", "<HH"), records(b"igen", "<HH")
    shdr = records(b"shdr", "<20sII18x")

    def generators(bags: list[tuple], gens: list[tuple], i: int) -> dict[int, int]:
        return {gens[g][0]: gens[g][1] for g in range(bags[i][0], bags[i + 1][0])}

    def key_range(g: dict[int, int]) -> tuple[int, int]:
        v = g.get(43)  # generator 43 = keyRange, lo byte then hi byte
        return (v & 0xFF, v >> 8) if v is not None else (0, 127)

    zones: dict[tuple[int, int], list[tuple[int, int, str]]] = {}
    for p in range(len(phdr) - 1):
        _, preset, bank, bag0 = phdr[p]
        out = []
        for pz in range(bag0, phdr[p + 1][3]):
            g = generators(pbag, pgen, pz)
            if 41 not in g:  # 41 = instrument; a zone without one is a global zone
                continue
            plo, phi = key_range(g)
            for iz in range(inst[g[41]][1], inst[g[41] + 1][1]):
                gi = generators(ibag, igen, iz)
                if 53 not in gi:  # 53 = sampleID
                    continue
                lo, hi = key_range(gi)
                lo, hi = max(lo, plo), min(hi, phi)
                if lo <= hi:
                    name, start, end = shdr[gi[53]]
                    sample_name = name.split(b"\x00")[0].decode("latin1")
                    out.append((lo, hi, f"{sample_name}/{end - start}"))
        zones[(bank, preset)] = out
    return zones


def timidity_zones(cfg: Path) -> dict[tuple[int, int], list[tuple[int, int, str]]]:
    """The same map as :func:`sf2_zones` for a timidity config: ``bank N`` programs and ``drumset N`` keys.

    Timidity plays a default instrument for a program its config lacks, so a render cannot tell a
    missing instrument by silence: this map is the only safe test.
    """
    zones: dict[tuple[int, int], list[tuple[int, int, str]]] = {}
    section = None
    for line in Path(cfg).read_text(encoding="latin1").splitlines():
        words = line.split("#")[0].split()
        if len(words) >= 2 and words[0] in ("bank", "drumset") and words[1].isdigit():
            section = (words[0], int(words[1]))
        elif len(words) >= 2 and words[0].isdigit() and section is not None:
            n = int(words[0])
            if section[0] == "bank":
                zones.setdefault((section[1], n), []).append((0, 127, words[1]))
            else:
                zones.setdefault((128, section[1]), []).append((n, n, words[1]))
    return zones


def samples_on(zones: list[tuple[int, int, str]], key: int) -> set[str]:
    """The sample ids a preset plays on MIDI ``key``."""
    return {s for lo, hi, s in zones if lo <= key <= hi}


def _vlq(n: int) -> bytes:
    out = [n & 0x7F]
    n >>= 7
    while n:
        out.append(0x80 | (n & 0x7F))
        n >>= 7
    return bytes(reversed(out))


def midi_file(notes: list[tuple[float, float, int, int]], program: int, channel: int, bank: int = 0) -> bytes:
    """A type-0 Standard MIDI File playing ``notes`` = ``[(start_s, duration_s, key, velocity), ...]``.

    Tempo is 120 bpm at 480 ticks per quarter note, so one tick is 1/960 s.
    """
    events: list[tuple[int, bytes]] = [(0, bytes([0xB0 | channel, 0, bank])), (0, bytes([0xC0 | channel, program]))]
    for start, dur, key, vel in notes:
        events.append((round(start * 960), bytes([0x90 | channel, key, vel])))
        events.append((round((start + dur) * 960), bytes([0x80 | channel, key, 0])))
    events.sort(key=lambda e: (e[0], e[1][0] & 0xF0 != 0x80))  # note-offs before note-ons at one tick
    track, now = bytearray(), 0
    for tick, data in events:
        track += _vlq(tick - now) + data
        now = tick
    track += _vlq(960) + b"\xff\x2f\x00"  # one second of tail, then end of track
    return b"MThd" + struct.pack(">IHHH", 6, 0, 1, 480) + b"MTrk" + struct.pack(">I", len(track)) + bytes(track)


def render(font: Path, notes: list[tuple[float, float, int, int]], program: int, channel: int, sr: int,
           bank: int = 0) -> list[np.ndarray]:
    """Render ``notes`` (no reverb, no chorus) and cut one mono clip per note.

    ``font`` is a SoundFont (.sf2, rendered by fluidsynth) or a timidity config (.cfg, e.g. freepats).
    Each clip runs from its note-on to the next note-on (or the end), so release tails are kept;
    callers leave gaps long enough for the tail. Returns float32 arrays at ``sr`` Hz.
    """
    synth = "timidity" if font.suffix == ".cfg" else "fluidsynth"
    if shutil.which(synth) is None:
        raise CorpusError(f"{synth} is not installed (apt-get install {synth})")
    with tempfile.TemporaryDirectory() as tmp:
        mid, wav = Path(tmp) / "in.mid", Path(tmp) / "out.wav"
        mid.write_bytes(midi_file(notes, program, channel, bank))
        if synth == "timidity":
            cmd = ["timidity", "-c", str(font), "-Ow1M", "-s", str(sr), "-EFreverb=d", "-EFchorus=d", "-o", str(wav),
                   str(mid)]
        else:
            cmd = ["fluidsynth", "-ni", "-q", "-R", "0", "-C", "0", "-g", "0.8", "-r", str(sr), "-F", str(wav),
                   str(font), str(mid)]
        subprocess.run(cmd, check=True, capture_output=True, timeout=600)
        y = audio.decode(wav, sr, max_duration_s=1e6)
    starts = [round(n[0] * sr) for n in notes] + [len(y)]
    return [y[starts[i]:starts[i + 1]].copy() for i in range(len(notes))]


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


def _font_origins(font: Font, zones: dict, train_samples: set[str], sr: int, rng: np.random.Generator,
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


# ------------------------------------------------------------------------------------------- sample files
#: Hydrogen kits: (family, split). Kits sharing samples (the Millo kits, the two Black Pearl kits) share a family.
HYDROGEN_KITS: dict[str, tuple[str, str]] = {
    "Audiophob": ("h2-audiophob", "train"), "BJA_Pacific": ("h2-bja", "train"),
    "ColomboAcousticDrumkit": ("h2-colombo", "train"), "ElectricEmpireKit": ("h2-electricempire", "train"),
    "HardElectro1": ("h2-hardelectro", "train"), "Millo-Drums_v.1": ("h2-millo", "train"),
    "Millo_MultiLayered2": ("h2-millo", "train"), "Millo_MultiLayered3": ("h2-millo", "train"),
    "rumpf_kit_z01_h2": ("h2-rumpf", "train"),
    "ForzeeStereo": ("h2-forzee", "test"), "Gimme A Hand 1.0": ("h2-gimmeahand", "test"),
    "The Black Pearl 1.0": ("blackpearl", "test"), "VariBreaks": ("h2-varibreaks", "test"),
}

#: Licences from Debian's copyright file, for kits whose drumkit.xml names none.
HYDROGEN_LICENCES = {
    "ColomboAcousticDrumkit": "GPL-2+ with composition exception", "Millo-Drums_v.1": "GPL-2",
    "Millo_MultiLayered2": "GPL-2", "Millo_MultiLayered3": "GPL-2",
}

#: Instrument name patterns in Hydrogen kits → label; the first match wins, so exclusions come first.
INSTRUMENT_PATTERNS: tuple[tuple[str, str | None], ...] = (
    (r"stick|rim|clap|tom|ride|crash|splash|china|cymbal|conga|zap|fx|whistle|click", None),
    (r"kick|bass ?drum|\bbd\b", "Bass_drum"),
    (r"snare", "Snare_drum"),
    (r"hi-?hat|\bhh\b|\bhat\b|\bohh\b", "Hi-hat"),
    (r"tambourine", "Tambourine"),
    (r"cowbell", "Cowbell"),
    (r"finger snap", "Finger_snapping"),
)


def label_for_instrument(name: str) -> str | None:
    """The label of a drum-kit instrument named ``name`` (e.g. "Hi-Hat Closed (Paiste)"), or None."""
    for pattern, label in INSTRUMENT_PATTERNS:
        if re.search(pattern, name, flags=re.IGNORECASE):
            return label
    return None


def hydrogen_kit(kit_dir: Path) -> tuple[str, dict[str, list[Path]]]:
    """``(licence, {label: [sample files]})`` from a Hydrogen kit's drumkit.xml."""
    root = ET.parse(kit_dir / "drumkit.xml").getroot()
    for el in root.iter():
        el.tag = el.tag.split("}")[-1]  # drop the XML namespace
    licence = (root.findtext("license") or "").strip() or HYDROGEN_LICENCES.get(kit_dir.name, "GPL-2")
    files: dict[str, list[Path]] = {}
    for inst in root.iter("instrument"):
        label = label_for_instrument(inst.findtext("name") or "")
        if label is None:
            continue
        for fn in inst.iter("filename"):
            p = kit_dir / (fn.text or "").strip()
            if p.is_file():
                files.setdefault(label, []).append(p)
    return f"{licence} (hydrogen-drumkits: {kit_dir.name})", files


#: sonic-pi sample files per label (CC0, from Freesound; all training material).
SONIC_PI: dict[str, tuple[str, ...]] = {
    "Bass_drum": ("drum_bass_hard", "drum_bass_soft", "drum_heavy_kick", "bd_808", "bd_ada", "bd_boom", "bd_fat",
                  "bd_haus", "bd_klub", "bd_pure", "bd_tek", "bd_zum"),
    "Snare_drum": ("drum_snare_hard", "drum_snare_soft", "sn_dolf", "sn_dub", "sn_generic", "sn_zome"),
    "Hi-hat": ("drum_cymbal_closed", "drum_cymbal_open", "drum_cymbal_pedal"),
    "Cowbell": ("drum_cowbell",),
    "Finger_snapping": ("perc_snap", "perc_snap2"),
    "Burping_or_eructation": ("misc_burp",),
}


def _file_origins(sr: int, train_hashes: set[str], rng: np.random.Generator, max_files: int
                  ) -> Iterator[tuple[str, Origin]]:
    """Origins from sample files, each with the md5 of its bytes (for the shared-recording check)."""
    def load(p: Path, label: str, source: str, family: str, licence: str, split: str, kind: str):
        digest = hashlib.md5(p.read_bytes()).hexdigest()
        if split == "test" and digest in train_hashes:
            return None
        try:
            y = audio.decode(p, sr, max_duration_s=60.0)
        except audio.AudioError:
            return None
        return digest, Origin(label, source, family, licence, split, f"{family}-{digest[:10]}", kind, y)

    # training files first, so that their hashes are known when held-out files are checked
    kits = sorted(HYDROGEN_KITS.items(), key=lambda kv: kv[1][1] != "train")
    for name, (family, split) in kits:
        kit_dir = HYDROGEN_DIR / name
        if not (kit_dir / "drumkit.xml").is_file():
            continue
        licence, files = hydrogen_kit(kit_dir)
        for label, paths in files.items():
            paths = sorted(set(paths))
            if len(paths) > max_files:
                paths = [paths[i] for i in sorted(rng.choice(len(paths), max_files, replace=False))]
            for p in paths:
                got = load(p, label, f"Hydrogen kit {name}", family, licence, split, "hit")
                if got:
                    yield got
    for label, names in SONIC_PI.items():
        for n in names:
            p = SONIC_PI_DIR / f"{n}.flac"
            if p.is_file():
                got = load(p, label, f"sonic-pi {n}", "sonic-pi", "CC0 (Freesound, sonic-pi-samples)", "train", "hit")
                if got:
                    yield got


def _avl_origins(font_file: str, family: str, split: str, zones: dict, sr: int, rng: np.random.Generator
                 ) -> Iterator[Origin]:
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


def _keyboard_origins(sr: int, rng: np.random.Generator, n: int) -> Iterator[Origin]:
    """Typing: bucklespring's key presses and releases of one IBM Model M, joined at typing rhythm."""
    files = sorted(BUCKLE_DIR.glob("*.wav"))
    if not files:
        return
    keys = [audio.decode(p, sr, max_duration_s=10.0) for p in files]
    for i in range(n):
        out = np.zeros(int(sr * rng.uniform(1.5, 6.0)), dtype=np.float32)
        t = int(sr * 0.05)
        while t < len(out):
            k = keys[int(rng.integers(len(keys)))] * float(10 ** (rng.uniform(-6, 0) / 20))
            end = min(len(out), t + len(k))
            out[t:end] += k[:end - t]
            t += int(sr * rng.exponential(0.16)) + int(sr * 0.04)  # ≈ 5 keystrokes a second, with pauses
        yield Origin("Computer_keyboard", "bucklespring IBM Model M", "bucklespring",
                     "GPL-2+ (bucklespring-data)", "train", f"buckle-{i}", "texture", out)


# ------------------------------------------------------------------------------ game and education data
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
    from . import qrc

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


def _world_origins(sr: int, train_hashes: set[str]) -> Iterator[tuple[str, Origin]]:
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


# ------------------------------------------------------------------------------------- real recordings
#: columns a real-recordings manifest (``--real DIR``) must have
REAL_FIELDS = ("file", "label", "licence", "attribution")


def recordist(row: dict[str, str]) -> str:
    """Who recorded a row of a real-recordings manifest: its attribution's first part ("LPHypeR, freesound.org/s/1"
    → "LPHypeR"); in a crowdsourced dataset every file is its own contributor, so the file's stem."""
    author = row["attribution"].split(",")[0].strip()
    if "crowdsourced" in row["attribution"].lower():
        return f"{author.split()[0]} {Path(row.get('source_path') or row['file']).stem[:8]}"
    return author


def real_family(name: str) -> str:
    """The family of one recordist's recordings: ``real-`` and a slug of the name."""
    return "real-" + (re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "unknown")


def real_splits(rows: list[dict[str, str]]) -> dict[str, str]:
    """Split per recordist (``test`` or ``train``), by a rule fixed before any figure of the recordings: in each
    label with two or more recordists, the recordist of the label's last file (by name) is held out and the
    others train; a label with one recordist trains. A recordist held out in one label is held out in all, so
    no recordist is ever on both sides."""
    by_label: dict[str, list[dict[str, str]]] = {}
    for r in rows:
        by_label.setdefault(r["label"], []).append(r)
    split: dict[str, str] = {}
    for label_rows in by_label.values():
        names = {recordist(r) for r in label_rows}
        last = recordist(max(label_rows, key=lambda r: r["file"]))
        for name in names:
            if split.get(name) == "test" or (len(names) > 1 and name == last):
                split[name] = "test"
            else:
                split.setdefault(name, "train")
    return split


def real_origins(folder: Path, sr: int) -> list[Origin]:
    """The real recordings listed in ``folder/manifest.csv`` (``file,label,licence,attribution``, paths relative
    to ``folder``; ``source_repo``/``source_path`` if present name where each came from), one family per
    recordist, split by :func:`real_splits`. Raises CorpusError for a missing column or an unknown label."""
    manifest = Path(folder) / "manifest.csv"
    try:
        with open(manifest, newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
    except OSError as exc:
        raise CorpusError(f"cannot read {manifest}: {exc}") from exc
    missing = [c for c in REAL_FIELDS if rows and c not in rows[0]]
    if missing:
        raise CorpusError(f"{manifest} lacks the column(s) {', '.join(missing)}")
    unknown = sorted({r["label"] for r in rows} - set(LABELS))
    if unknown:
        raise CorpusError(f"{manifest}: not FSDKaggle2018 labels: {', '.join(unknown)}")
    split = real_splits(rows)
    out = []
    for r in rows:
        data = (Path(folder) / r["file"]).read_bytes()
        try:
            y = audio.decode(data, sr, max_duration_s=60.0)
        except audio.AudioError as exc:
            raise CorpusError(f"{r['file']}: {exc}") from exc
        name = recordist(r)
        where = f"{r['source_repo']} {r['source_path']}" if r.get("source_repo") else r["file"]
        source = f"{r['attribution']} ({where})"
        family = real_family(name)
        digest = hashlib.md5(data).hexdigest()
        out.append(Origin(r["label"], source, family, r["licence"], split[name], f"{family}-{digest[:10]}",
                          "recording", y))
    return out


# ---------------------------------------------------------------------------------------------- augmentation
def room_ir(rng: np.random.Generator, sr: int, rt60_s: float) -> np.ndarray:
    """A synthetic room impulse response: the direct sound, then noise decaying 60 dB over ``rt60_s`` s."""
    n = int(sr * rt60_s)
    t = np.arange(n) / sr
    tail = rng.standard_normal(n) * 10 ** (-3 * t / rt60_s)
    tail *= float(rng.uniform(0.05, 0.4)) / max(1e-9, np.sqrt(np.sum(tail ** 2)) / 10)
    tail[0] = 1.0
    return tail.astype(np.float32)


def coloured_noise(rng: np.random.Generator, n: int, exponent: float) -> np.ndarray:
    """Noise of length ``n`` whose power falls as f**-exponent (0 white, 1 pink, 2 brown), unit RMS."""
    spec = np.fft.rfft(rng.standard_normal(n))
    f = np.maximum(np.arange(len(spec)), 1)
    y = np.fft.irfft(spec / f ** (exponent / 2), n)
    return (y / (np.sqrt(np.mean(y ** 2)) + 1e-12)).astype(np.float32)


def pattern(y: np.ndarray, rng: np.random.Generator, sr: int) -> np.ndarray:
    """Repeat a one-shot 2–8 times at a steady or loose rhythm, as someone knocking or tapping would."""
    hits = int(rng.integers(2, 9))
    step = rng.uniform(0.15, 0.8)
    starts = [max(0, int(sr * (i * step + (rng.normal(0, 0.02) if i else 0.0)))) for i in range(hits)]
    out = np.zeros(max(starts) + len(y), dtype=np.float32)
    for s in starts:
        out[s:s + len(y)] += y * float(10 ** (rng.uniform(-6, 0) / 20))
    return out


def fit_texture(y: np.ndarray, rng: np.random.Generator, sr: int) -> np.ndarray:
    """Loop (with short crossfades) or crop a texture to a random 1–6 s."""
    want = int(sr * rng.uniform(1.0, 6.0))
    if len(y) >= want:
        start = int(rng.integers(0, len(y) - want + 1))
        return y[start:start + want]
    fade = min(len(y) // 4, int(0.05 * sr))
    ramp = np.linspace(0, 1, fade, dtype=np.float32) if fade else np.zeros(0, np.float32)
    out = y.copy()
    while len(out) < want:
        if fade:
            out[-fade:] = out[-fade:] * ramp[::-1] + y[:fade] * ramp
        out = np.concatenate([out, y[fade:]])
    return out[:want]


def augment(o: Origin, rng: np.random.Generator, sr: int) -> np.ndarray:
    """One variant of ``o``: speed, repetition/length, room, phone band, noise and level, all random.

    Returns mono float32 at ``sr`` Hz, peak between −20 and −1 dBFS, not yet trimmed.
    """
    import scipy.signal  # here, not at the top: it costs ≈ 0.5 s on every `exsampling` command otherwise

    y: np.ndarray = o.y.astype(np.float32)
    if o.kind == "recording" and o.split == "test":  # what a participant records is measured as recorded
        return y
    if o.kind != "note" and rng.random() < 0.5:  # ±1.7 semitones of speed change for unpitched sounds
        factor = float(rng.uniform(0.9, 1.1))
        y = scipy.signal.resample(y, max(16, int(len(y) * factor))).astype(np.float32)
    if o.kind == "hit" and rng.random() < 0.5:
        y = pattern(y, rng, sr)
    elif o.kind == "texture":
        y = fit_texture(y, rng, sr)
    if rng.random() < 0.6:
        y = scipy.signal.fftconvolve(y, room_ir(rng, sr, float(rng.uniform(0.15, 1.0))))[: len(y) + sr // 2]
    if rng.random() < 0.7:  # a phone's microphone: little below 100–300 Hz, little above 4–10 kHz
        lo, hi = float(rng.uniform(80, 300)), float(rng.uniform(4000, 10000))
        sos = scipy.signal.butter(2, [lo, min(hi, 0.45 * sr)], btype="band", fs=sr, output="sos")
        y = scipy.signal.sosfilt(sos, y)
    y = np.asarray(y, dtype=np.float32)
    peak = float(np.max(np.abs(y))) or 1.0
    y = y / peak
    if rng.random() < 0.7:
        active = y[np.abs(y) > 0.05]
        rms = float(np.sqrt(np.mean(active ** 2))) if active.size else 0.1
        snr_db = float(rng.uniform(15, 45))
        y = y + coloured_noise(rng, len(y), float(rng.choice([0.0, 1.0, 2.0]))) * rms * 10 ** (-snr_db / 20)
    y = y / (float(np.max(np.abs(y))) or 1.0)
    return (y * 10 ** (rng.uniform(-20, -1) / 20)).astype(np.float32)


def cut_like_live(y: np.ndarray, sr: int, segment_s: float, min_tail_s: float, top_db: float,
                  silence_floor_dbfs: float) -> list[np.ndarray]:
    """Trim and cut into ≤ ``segment_s`` pieces with :func:`exsampling.audio.pieces`, as the live console does."""
    try:
        spans = audio.pieces(y, sr, segment_s, min_tail_s, top_db, silence_floor_dbfs)
    except audio.NothingAudible:
        return []
    return [y[s.start:s.end] for s in spans]


# ------------------------------------------------------------------------------------------------- build
def missing_packages() -> list[str]:
    """Catalogue packages that dpkg does not report as installed."""
    out = []
    for pkg in PACKAGES:
        r = subprocess.run(["dpkg-query", "-W", "-f=${Status}", pkg], capture_output=True, text=True, check=False)
        if "install ok installed" not in r.stdout:
            out.append(pkg)
    return out


def collect_origins(sr: int, seed: int, notes_per_preset: dict[str, int] | None = None, max_files: int = 12,
                    wanted: Callable[[str], bool] = lambda family: True, real: Path | None = None) -> list[Origin]:
    """Every original sound the installed packages offer, training families before held-out ones, then the real
    recordings in ``real`` (:func:`real_origins`), if given: last, so that they change no other draw.

    notes_per_preset: notes rendered per melodic preset, per split (training fonts get more pitches).
    max_files: most sample files taken per label from one drum kit.
    wanted: which families to take (by family name); the others are neither rendered nor returned.
    """
    notes_per_preset = notes_per_preset or {"train": 30, "test": 10}
    rng = np.random.default_rng(seed)
    origins: list[Origin] = []
    train_samples: set[str] = set()
    fonts = [f for f in FONTS if font_path(f).is_file() and wanted(f.family)]
    for font in sorted(fonts, key=lambda f: f.split != "train"):
        zones = sf2_zones(font_path(font)) if font.file.endswith(".sf2") else timidity_zones(font_path(font))
        if font.split == "train":
            train_samples |= {s for zs in zones.values() for _, _, s in zs}
        print(f"  rendering {font.file}", file=sys.stderr)
        origins += _font_origins(font, zones, train_samples, sr, rng, notes_per_preset[font.split])
    for font_file, family, split in (("Red_Zeppelin_4_LV2.sf2", "avl-redzeppelin", "train"),
                                     ("Black_Pearl_4_LV2.sf2", "blackpearl", "test")):
        if (SF2_DIR / font_file).is_file() and wanted(family):
            origins += _avl_origins(font_file, family, split, sf2_zones(SF2_DIR / font_file), sr, rng)
    hashes: set[str] = set()
    for digest, o in _file_origins(sr, hashes, rng, max_files):
        if o.split == "train":
            hashes.add(digest)
        origins.append(o)
    for digest, o in _world_origins(sr, hashes):
        if o.split == "train":
            hashes.add(digest)
        origins.append(o)
    origins += _keyboard_origins(sr, rng, 40)
    if real is not None:
        origins += real_origins(real, sr)
    return [o for o in origins if wanted(o.family)]


def plan_variants(origins: list[Origin], per_label: dict[str, int], max_per_origin: int = 30) -> list[int]:
    """How many augmented variants each origin gets so each (label, split) reaches its target clip count."""
    groups: dict[tuple[str, str], list[int]] = {}
    for i, o in enumerate(origins):
        groups.setdefault((o.label, o.split), []).append(i)
    counts = [0] * len(origins)
    for (_, split), idx in groups.items():
        as_is = [i for i in idx if split == "test" and origins[i].kind == "recording"]
        for i in as_is:  # a held-out real recording is measured once, as recorded
            counts[i] = 1
        idx = [i for i in idx if i not in as_is]
        if not idx:
            continue
        target = per_label[split]
        each = min(max_per_origin, max(1, math.ceil(target / len(idx))))
        for rank, i in enumerate(idx):
            counts[i] = each if rank < math.ceil(target / each) else 0
    return counts


def build(out: Path, sr: int, segment_s: float, min_tail_s: float, top_db: float, silence_floor_dbfs: float,
          per_label: dict[str, int], seed: int, wanted: Callable[[str], bool] = lambda family: True,
          real: Path | None = None) -> dict:
    """Write the corpus under ``out``; return the coverage summary (also written to coverage.json).

    wanted: which source families to take; real: a folder of real recordings (see :func:`collect_origins`).
    """
    from tqdm import tqdm

    origins = collect_origins(sr, seed, wanted=wanted, real=real)
    if not origins:
        raise CorpusError(f"no sound sources found; install them with: apt-get install {' '.join(PACKAGES)}")
    rng = np.random.default_rng(seed + 1)
    order = rng.permutation(len(origins))  # so that a capped label takes origins from all its sources
    origins = [origins[i] for i in order]
    counts = plan_variants(origins, per_label)
    rows = []
    for o, n in tqdm(list(zip(origins, counts, strict=True)), desc="augmenting", unit="origin"):
        for v in range(n):
            vr = np.random.default_rng([seed, int(hashlib.md5(o.origin.encode()).hexdigest()[:8], 16), v])
            cut = cut_like_live(augment(o, vr, sr), sr, segment_s, min_tail_s, top_db, silence_floor_dbfs)
            for k, piece in enumerate(cut):
                rel = Path("clips") / o.split / o.label / f"{o.origin}-{v}-{k}.wav"
                (out / rel).parent.mkdir(parents=True, exist_ok=True)
                audio_bytes = audio.wav_bytes(piece, sr)
                (out / rel).write_bytes(audio_bytes)
                rows.append({"file": rel.as_posix(), "label": o.label, "source": o.source, "family": o.family,
                             "licence": o.licence, "split": o.split, "origin": o.origin})
    with open(out / "manifest.csv", "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=MANIFEST_FIELDS)
        w.writeheader()
        w.writerows(rows)
    return write_coverage(out, rows)


def write_coverage(out: Path, rows: list[dict]) -> dict:
    """Clips per label and split, sources per label, and the labels nothing covers."""
    per: dict[str, dict] = {}
    for r in rows:
        d = per.setdefault(r["label"], {"train": 0, "test": 0, "sources": set(), "licences": set()})
        d[r["split"]] += 1
        d["sources"].add(f"{r['source']} [{r['split']}]")
        d["licences"].add(r["licence"])
    summary = {
        "labels": {k: {"train": v["train"], "test": v["test"], "sources": sorted(v["sources"]),
                       "licences": sorted(v["licences"])} for k, v in sorted(per.items())},
        "uncovered": [label for label in LABELS if label not in per],
        "no_held_out_source": [label for label in LABELS if label in per and per[label]["test"] == 0],
        "missing_packages": missing_packages(),
    }
    (out / "coverage.json").write_text(json.dumps(summary, indent=1), encoding="utf-8")
    return summary


# -------------------------------------------------------------------------------------------------- CLI
def family_filter(only: str, without: str) -> Callable[[str], bool]:
    """A ``wanted`` predicate from comma-separated family names: only ``only`` (if any), never ``without``.
    A name also stands for the families it prefixes with a hyphen ("real" for "real-lphyper", ...)."""
    keep = {f.strip() for f in only.split(",") if f.strip()}
    drop = {f.strip() for f in without.split(",") if f.strip()}

    def named(family: str, names: set[str]) -> bool:
        return any(family == n or family.startswith(n + "-") for n in names)

    return lambda family: (not keep or named(family, keep)) and not named(family, drop)


def register(subparsers, add_config) -> None:
    """Add the ``corpus`` subcommand."""
    p = subparsers.add_parser("corpus", help="build a labelled training corpus from sounds in Debian packages",
                              description=__doc__.split("\n\n")[0])
    add_config(p)
    p.add_argument("--out", default="data/corpus", help="output folder (default: data/corpus)")
    p.add_argument("--per-label", type=int, default=90, help="training clips wanted per label (default 90)")
    p.add_argument("--test-per-label", type=int, default=30, help="held-out clips wanted per label (default 30)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--sample-rate", type=int, default=None,
                   help="rate of the clips in Hz (default [audio] sample_rate; 44100 keeps the band the aisfx "
                        "backbone hears)")
    p.add_argument("--families", default="",
                   help="take only these source families (comma-separated, e.g. generaluser,airfont,lmms): a "
                        "supplement to an existing corpus")
    p.add_argument("--without-families", default="",
                   help="leave these source families out (comma-separated); the held-out sample of the other "
                        "families depends on what is rendered, so this rebuilds an earlier corpus exactly")
    p.add_argument("--real", metavar="DIR", type=Path,
                   help="also take the real recordings listed in DIR/manifest.csv (file,label,licence,attribution), "
                        "one family per recordist (real-NAME), some recordists held out (see docs/training.md)")
    p.add_argument("--install", action="store_true",
                   help="apt-get install the missing source packages first (needs root)")
    p.set_defaults(func=run)


def run(args) -> int:
    from .config import ConfigError, load

    try:
        cfg = load(args.config)
    except ConfigError as exc:
        print(f"exsampling corpus: {exc}", file=sys.stderr)
        return 2
    missing = missing_packages()
    if missing and args.install:
        r = subprocess.run(["apt-get", "install", "-y", "--no-install-recommends", *missing], check=False)
        if r.returncode != 0:
            print(f"exsampling corpus: apt-get install failed for {' '.join(missing)}", file=sys.stderr)
            return 1
        missing = missing_packages()
    if missing:
        print(f"exsampling corpus: not installed (their sounds are skipped): {' '.join(missing)}", file=sys.stderr)
    out = Path(args.out).expanduser().resolve()
    if (out / "manifest.csv").exists():
        print(f"exsampling corpus: {out} already holds a corpus; choose another --out or remove it", file=sys.stderr)
        return 2
    try:
        out.mkdir(parents=True, exist_ok=True)
        summary = build(out, args.sample_rate or cfg.audio.sample_rate, cfg.audio.segment_s, cfg.audio.min_tail_s,
                        cfg.audio.trim_top_db, cfg.audio.silence_floor_dbfs,
                        {"train": args.per_label, "test": args.test_per_label}, args.seed,
                        family_filter(args.families, args.without_families), args.real)
    except (CorpusError, OSError, subprocess.CalledProcessError) as exc:
        print(f"exsampling corpus: {exc}", file=sys.stderr)
        return 1
    for label, d in summary["labels"].items():
        print(f"{label:24s} train {d['train']:4d}  test {d['test']:4d}")
    print(f"uncovered ({len(summary['uncovered'])}): {', '.join(summary['uncovered'])}")
    print(f"no held-out source: {', '.join(summary['no_held_out_source']) or 'none'}")
    print(f"manifest: {out / 'manifest.csv'}")
    return 0
