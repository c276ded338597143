"""Readers of the data layouts ``exsampling train`` takes: a corpus manifest, FSDKaggle2018, a folder per label, and
the console's library (its re-labelled samples), each giving :class:`Clip` records."""
from __future__ import annotations

import csv
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from ..library import DATABASE, Library, holds_library
from ..mapping import LABELS, MappingError, check_label
from .errors import TrainError

AUDIO_SUFFIXES = {".wav", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".aif", ".aiff"}


@dataclass(frozen=True)
class Clip:
    """One labelled audio file.

    split: "train", "test" (held out, other sources) or "" (training material from which the
    validation set is drawn). group: clips of one original recording share it and are never
    divided between training and validation. family: sources sharing recordings (a corpus' column),
    used to report held-out figures per source family.
    """

    path: Path
    label: str
    split: str
    group: str
    source: str = ""
    licence: str = ""
    family: str = ""


def _check_label(label: str, where: str) -> str:
    try:
        return check_label(label)
    except MappingError as exc:
        raise TrainError(f"{where}: {exc}") from exc


def read_manifest(path: Path) -> list[Clip]:
    """Clips listed in a corpus manifest CSV (paths relative to the CSV's folder)."""
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    if not rows or not {"file", "label"} <= set(rows[0]):
        raise TrainError(f"{path}: a manifest needs the columns file,label (and optionally source,licence,split)")
    clips = []
    for i, r in enumerate(rows, start=2):
        split = r.get("split", "") or ""
        clips.append(Clip(path.parent / r["file"], _check_label(r["label"], f"{path} line {i}"),
                          "test" if split == "test" else "", r.get("origin") or r["file"],
                          r.get("source", ""), r.get("licence", ""), r.get("family", "")))
    return clips


def _first_existing(root: Path, names: tuple[str, ...]) -> Path | None:
    for name in names:
        if (root / name).exists():
            return root / name
    return None


def read_fsd(root: Path, verified_only: bool = False) -> list[Clip]:
    """The FSDKaggle2018 layout: train.csv + audio_train/, and a labelled test CSV + audio_test/ if present."""
    licence = "CC-BY/CC0/CC-BY-NC per clip (FSDKaggle2018, Freesound)"
    train_csv = _first_existing(root, ("train.csv", "FSDKaggle2018.meta/train_post_competition.csv"))
    train_audio = _first_existing(root, ("audio_train", "FSDKaggle2018.audio_train"))
    if train_csv is None or train_audio is None:
        raise TrainError(f"{root}: the FSDKaggle2018 layout needs train.csv and an audio_train/ folder")
    clips = []
    with open(train_csv, newline="", encoding="utf-8") as f:
        for r in csv.DictReader(f):
            if verified_only and str(r.get("manually_verified", "1")) not in ("1", "True", "true"):
                continue
            clips.append(Clip(train_audio / r["fname"], _check_label(r["label"], str(train_csv)), "", r["fname"],
                              "FSDKaggle2018 train", licence))
    test_csv = _first_existing(root, ("test_post_competition_scoring_clips.csv", "test.csv",
                                      "FSDKaggle2018.meta/test_post_competition_scoring_clips.csv"))
    test_audio = _first_existing(root, ("audio_test", "FSDKaggle2018.audio_test"))
    if test_csv is not None and test_audio is not None:
        with open(test_csv, newline="", encoding="utf-8") as f:
            for r in csv.DictReader(f):
                if r.get("label") in LABELS and (test_audio / r["fname"]).is_file():
                    clips.append(Clip(test_audio / r["fname"], r["label"], "test", r["fname"],
                                      "FSDKaggle2018 test", licence))
    return clips


def read_folders(root: Path) -> list[Clip]:
    """``root/<label>/<file>``: every audio file under a folder named after a label."""
    clips = []
    for sub in sorted(p for p in root.iterdir() if p.is_dir()):
        _check_label(sub.name, str(sub))
        for p in sorted(sub.rglob("*")):
            if p.suffix.lower() in AUDIO_SUFFIXES and p.is_file():
                clips.append(Clip(p, sub.name, "", str(p.relative_to(root)), f"folder {root.name}", "your own"))
    return clips


def read_library(library_dir: Path) -> list[Clip]:
    """The console's samples that the performer labelled: a re-label, or an entry in the re-label memory."""
    if not holds_library(library_dir):
        raise TrainError(f"{library_dir} is not an ExSampling library (no {DATABASE})")
    try:
        labelled = Library(library_dir).labelled_samples()
    except sqlite3.Error as exc:
        raise TrainError(f"{library_dir}: cannot read samples ({exc})") from exc
    return [Clip(path, label, "", f"sample-{sample_id}", f"library {library_dir.name}", "the performer's")
            for sample_id, path, label in labelled if label in LABELS and path.is_file()]


def discover(data: Path, verified_only: bool = False) -> list[Clip]:
    """Read ``data`` in whichever layout it has."""
    if not data.exists():
        raise TrainError(f"{data} does not exist")
    if data.is_file():
        return read_manifest(data)
    if (data / "manifest.csv").is_file():
        return read_manifest(data / "manifest.csv")
    if _first_existing(data, ("train.csv", "FSDKaggle2018.meta")):
        return read_fsd(data, verified_only)
    return read_folders(data)
