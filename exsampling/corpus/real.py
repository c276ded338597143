"""Real recordings as corpus families (``exsampling corpus --real DIR``): one family per recordist, some recordists
held out by a rule fixed before any figure of them."""
from __future__ import annotations

import csv
import hashlib
import re
from pathlib import Path

from .. import audio
from ..mapping import LABELS
from .origin import CorpusError, Origin

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
