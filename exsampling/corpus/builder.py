"""A corpus written to disk: every origin the installed packages offer, augmented to a target count per label and
split, cut like live recordings, with its manifest and coverage summary."""
from __future__ import annotations

import csv
import hashlib
import json
import math
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np

from .. import audio
from ..mapping import LABELS
from .augmentation import augment, cut_like_live
from .fonts import FONTS, SF2_DIR, avl_origins, font_origins, font_path
from .origin import CorpusError, Origin
from .real import real_origins
from .sample_files import file_origins, keyboard_origins
from .soundfont import sf2_zones, timidity_zones
from .world import world_origins

#: Debian packages the catalogue reads; ``--install`` installs the missing ones.
PACKAGES = (
    "fluidsynth", "fluid-soundfont-gm", "fluid-soundfont-gs", "timgm6mb-soundfont", "csound-soundfont",
    "hydrogen-drumkits", "avldrums.lv2-soundfont", "sonic-pi-samples", "bucklespring-data", "timidity", "freepats",
    "gcompris-qt-data", "tuxpaint-stamps-default", "hedgewars-data", "wesnoth-1.16-data", "minuet-data",
    "denemo-data", "lmms-common", "scratch", "qabcs-data", "brainparty-data",
)

MANIFEST_FIELDS = ("file", "label", "source", "family", "licence", "split", "origin")


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
        origins += font_origins(font, zones, train_samples, sr, rng, notes_per_preset[font.split])
    for font_file, family, split in (("Red_Zeppelin_4_LV2.sf2", "avl-redzeppelin", "train"),
                                     ("Black_Pearl_4_LV2.sf2", "blackpearl", "test")):
        if (SF2_DIR / font_file).is_file() and wanted(family):
            origins += avl_origins(font_file, family, split, sf2_zones(SF2_DIR / font_file), sr, rng)
    hashes: set[str] = set()
    for digest, o in file_origins(sr, hashes, rng, max_files):
        if o.split == "train":
            hashes.add(digest)
        origins.append(o)
    for digest, o in world_origins(sr, hashes):
        if o.split == "train":
            hashes.add(digest)
        origins.append(o)
    origins += keyboard_origins(sr, rng, 40)
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
