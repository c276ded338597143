"""Show simulation: held-out sounds streamed through the real pipeline, with and without the performer's teaching.

Two kinds of stream:

* sample libraries (``MANIFEST``, a corpus manifest.csv whose ``split=test`` rows are sources the model never
  heard): ``--n`` sounds, a label at random, then one of its recordings not used yet in this stream, then one
  augmented clip of it (so no stream hears two variants of one recording);
* real recordings (``--real FOLDER``: whole recordings as a participant sends them, a manifest.csv beside them;
  ``--heldout CORPUS_MANIFEST`` keeps those the corpus holds out, see ``_common.real_recordings``): every
  recording once per stream, in a random order.

Each sound is ingested and processed by :class:`exsampling.pipeline.Pipeline` exactly as an upload is, and the
performer re-labels every piece that lands on the wrong Fig. 5 instrument with its true label, at once, as they
would on stage. The same stream is played three times, on fresh libraries: without learning, with the
re-label memory's vote alone (``adapt = false``), and with the vote and the adapted last layer (the defaults).
Printed per stream and on average: right instrument per piece and per recording (a recording is right when most
of its audio is), corrections (pieces re-labelled, and recordings that needed any), and the right-instrument
share of the pieces that came after the 10th, 20th and 40th correction.

    python bench/show.py data/corpus/manifest.csv [--model models/default.keras] [--n 125] [--streams 5]
    python bench/show.py --real ../shared/sounds [--heldout CORPUS/manifest.csv] [--streams 10]
"""
from __future__ import annotations

import argparse
import csv
import json
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import _common
import numpy as np

from exsampling.classifier import Classifier, leave_the_cores_to_the_model
from exsampling.config import Config
from exsampling.library import Library
from exsampling.mapping import DEFAULT_MAPPING
from exsampling.pipeline import Pipeline
from exsampling.resources import default_model

CONDITIONS = {"without": {"memory": False}, "vote": {"memory": True, "adapt": False},
              "adapt": {"memory": True, "adapt": True}}
CHECKPOINTS = (10, 20, 40)


def streams(rows: list[dict], n: int, count: int, seed: int) -> list[list[dict]]:
    """``count`` streams of ``n`` held-out clips: label uniformly, then an unused recording, then a clip of it."""
    by_label: dict[str, dict[str, list[dict]]] = {}
    for r in rows:
        by_label.setdefault(r["label"], {}).setdefault(r["origin"], []).append(r)
    out = []
    for s in range(count):
        rng = np.random.default_rng([seed, s])
        used: set[str] = set()
        stream = []
        for _ in range(n):
            labels = sorted(label for label, origins in by_label.items() if set(origins) - used)
            if not labels:
                break
            label = labels[rng.integers(len(labels))]
            origins = sorted(set(by_label[label]) - used)
            origin = origins[rng.integers(len(origins))]
            used.add(origin)
            clips = by_label[label][origin]
            stream.append(clips[rng.integers(len(clips))])
        out.append(stream)
    return out


def shuffled(items: list[dict], count: int, seed: int) -> list[list[dict]]:
    """``count`` random orders of all ``items`` (each recording once per stream)."""
    return [[items[i] for i in np.random.default_rng([seed, s]).permutation(len(items))] for s in range(count)]


def play(cfg: Config, classifier: Classifier, stream: list[dict], changes: dict) -> dict:
    """Run ``stream`` (items with ``path`` and ``label``) through a fresh pipeline configured with ``changes``; the
    performer re-labels every piece on the wrong instrument when the memory is on."""
    with tempfile.TemporaryDirectory() as lib_dir:
        run_cfg = cfg.with_changes(library={"path": lib_dir}, classifier=changes)
        pipeline = Pipeline(run_cfg, Library.from_config(run_cfg), classifier, None)
        ok: list[bool] = []  # per piece, in stream order
        recordings_right = recordings = corrections = corrected_recordings = from_memory = 0
        after: dict[int, int] = {}  # correction count → index of the first piece after it
        started = time.perf_counter()
        try:
            for item in stream:
                truth = item["label"]
                samples = pipeline.process(pipeline.ingest_file(item["path"], source="bench"))
                if not samples:
                    continue
                right = [s.instrument == DEFAULT_MAPPING[truth] for s in samples]
                ok += right
                from_memory += sum(r and s.label_source != "model" for r, s in zip(right, samples, strict=True))
                recordings += 1
                seconds = np.array([s.duration_s for s in samples])
                recordings_right += float(seconds[np.array(right)].sum()) > 0.5 * float(seconds.sum())
                wrong = [s for r, s in zip(right, samples, strict=True) if not r]
                corrected_recordings += bool(wrong)
                for s in wrong:
                    corrections += 1
                    after.setdefault(corrections, len(ok))
                    if changes["memory"]:
                        pipeline.relabel(s.id, truth)
        finally:
            pipeline.close()
        later = {k: (float(np.mean(ok[after[k]:])) if k in after and after[k] < len(ok) else None)
                 for k in CHECKPOINTS}
        return {"recordings": recordings, "pieces": len(ok), "right_pieces": int(sum(ok)),
                "right_recordings": int(recordings_right), "corrections": corrections,
                "corrected_recordings": corrected_recordings, "right_from_memory": from_memory,
                "right_after_corrections": later, "seconds": time.perf_counter() - started}


def summarise(rs: list[dict]) -> dict:
    """Averages over streams; corrections are scaled to 125 recordings."""
    later = {k: [r["right_after_corrections"][k] for r in rs if r["right_after_corrections"][k] is not None]
             for k in CHECKPOINTS}
    per_piece = float(np.mean([r["right_pieces"] / r["pieces"] for r in rs]))
    return {"right_instrument_pieces": per_piece, "right_instrument": per_piece,  # the latter: tools/model_card.py
            "right_instrument_recordings": float(np.mean([r["right_recordings"] / r["recordings"] for r in rs])),
            "right_instrument_min": float(np.min([r["right_pieces"] / r["pieces"] for r in rs])),
            "corrections_per_125": float(np.mean([125 * r["corrections"] / r["recordings"] for r in rs])),
            "corrected_recordings_per_125": float(np.mean([125 * r["corrected_recordings"] / r["recordings"]
                                                           for r in rs])),
            "right_after_corrections": {k: (float(np.mean(v)) if v else None) for k, v in later.items()},
            "streams_reaching": {k: len(v) for k, v in later.items()},
            "streams": len(rs), "recordings": rs[0]["recordings"], "sounds": rs[0]["recordings"],
            "pieces": float(np.mean([r["pieces"] for r in rs]))}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("manifest", type=Path, nargs="?", help="corpus manifest.csv (its split=test rows are streamed)")
    ap.add_argument("--real", type=Path, help="a folder of real recordings with its manifest.csv (streamed whole)")
    ap.add_argument("--heldout", type=Path, help="with --real: the corpus manifest that says which are held out")
    ap.add_argument("--model", type=Path, default=default_model())
    ap.add_argument("--n", type=int, default=125, help="sounds per stream (sample libraries)")
    ap.add_argument("--streams", type=int, default=5)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--conditions", default=",".join(CONDITIONS), help="which of " + ", ".join(CONDITIONS))
    ap.add_argument("--json", type=Path, help="write the figures here")
    args = ap.parse_args()
    if (args.manifest is None) == (args.real is None):
        ap.error("give a corpus manifest or --real FOLDER")

    if args.real is not None:
        items = [r for r in _common.real_recordings(args.real, args.heldout) if r["heldout"]]
        plays = shuffled(items, args.streams, args.seed)
        what = f"{len(items)} held-out real recordings from {args.real}" + (
            f" (held out by {args.heldout})" if args.heldout else " (all: the model must never have heard them)")
    else:
        with open(args.manifest, newline="", encoding="utf-8") as f:
            rows = [r for r in csv.DictReader(f) if r["split"] == "test"]
        for r in rows:
            r["path"] = args.manifest.parent / r["file"]
        plays = streams(rows, args.n, args.streams, args.seed)
        what = f"held-out clips: {len(rows)} from {args.manifest}; {args.streams} streams of {args.n} sounds"
    cfg = Config()
    cfg = replace(cfg, classifier=replace(cfg.classifier, model=str(args.model.resolve())))
    classifier = Classifier.from_config(cfg)
    leave_the_cores_to_the_model()  # as exsampling.pipeline.build does for a live chain
    conditions = {k: CONDITIONS[k] for k in args.conditions.split(",")}
    results: dict[str, list[dict]] = {key: [] for key in conditions}
    for i, stream in enumerate(plays):
        for key, changes in conditions.items():
            r = play(cfg, classifier, stream, changes)
            results[key].append(r)
            print(f"stream {i} {key:8s}: right instrument {r['right_pieces']}/{r['pieces']} pieces, "
                  f"{r['right_recordings']}/{r['recordings']} recordings; corrections {r['corrections']} "
                  f"({r['corrected_recordings']} recordings), {r['right_from_memory']} right thanks to learning"
                  f"  [{1000 * r['seconds'] / r['pieces']:.0f} ms per piece]", flush=True)
    summary = {key: summarise(rs) for key, rs in results.items()}
    if "adapt" in summary:
        summary["with"] = summary["adapt"]  # tools/model_card.py's name for learning as shipped
    print(f"model: {args.model}")
    print(what)
    for key, s in summary.items():
        if key == "with":
            continue
        later = ", ".join(f"after {k}: " + (f"{v:.1%} ({s['streams_reaching'][k]} streams)" if v is not None else "—")
                          for k, v in s["right_after_corrections"].items())
        print(f"{key:8s}: right instrument {s['right_instrument_pieces']:.1%} of pieces (worst stream "
              f"{s['right_instrument_min']:.1%}), {s['right_instrument_recordings']:.1%} of recordings; "
              f"{s['corrections_per_125']:.1f} corrections ({s['corrected_recordings_per_125']:.1f} recordings) "
              f"per 125 recordings; right instrument of the pieces {later} corrections")
    print("targets (issue 19): >= 85 % right instrument over the stream with <= 25 corrections per 125 sounds")
    if args.json:
        args.json.write_text(json.dumps(summary, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
