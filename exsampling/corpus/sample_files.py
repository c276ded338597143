"""Sample files in the catalogue: Hydrogen's drum kits, sonic-pi's samples and bucklespring's key clicks."""
from __future__ import annotations

import hashlib
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from .. import audio
from .origin import Origin

HYDROGEN_DIR = Path("/usr/share/hydrogen/data/drumkits")
SONIC_PI_DIR = Path("/usr/share/sonic-pi/samples")
BUCKLE_DIR = Path("/usr/share/buckle/wav")

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


def file_origins(sr: int, train_hashes: set[str], rng: np.random.Generator, max_files: int
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


def keyboard_origins(sr: int, rng: np.random.Generator, n: int) -> Iterator[Origin]:
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
