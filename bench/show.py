"""Show simulation: held-out sounds streamed through the real pipeline, with and without the re-label memory.

A stream is ``--n`` sounds drawn from the held-out sources of a corpus (``split=test``: sound sources
the model never heard): a label at random, then one of its recordings not used yet in this stream,
then one augmented clip of it (so no stream hears two variants of one recording). Each sound is
ingested and processed by :class:`exsampling.pipeline.Pipeline` exactly as an upload is, and the
performer re-labels every sample that lands on the wrong Fig. 5 instrument with its true label, at
once, as they would on stage. The same stream is played twice, on fresh libraries: with the memory
(``[classifier] memory = true``) and without it. Printed: right-instrument share over the stream and
corrections made, per stream and on average.

    python bench/show.py data/corpus/manifest.csv [--model models/default.keras] [--n 125] [--streams 5]
"""
from __future__ import annotations

import argparse
import csv
import json
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import _common  # noqa: F401  (the Keras backend, TensorFlow kept quiet)
import numpy as np

from exsampling.classifier import Classifier
from exsampling.config import Config
from exsampling.library import Library
from exsampling.mapping import DEFAULT_MAPPING
from exsampling.pipeline import Pipeline
from exsampling.resources import default_model


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


def play(cfg: Config, classifier: Classifier, stream: list[dict], root: Path, learn: bool) -> dict:
    """Run ``stream`` through a fresh pipeline; re-label wrong instruments when ``learn``."""
    with tempfile.TemporaryDirectory() as lib_dir:
        run_cfg = cfg.with_changes(library={"path": lib_dir}, classifier={"memory": learn})
        pipeline = Pipeline(run_cfg, Library.from_config(run_cfg), classifier, None)
        right = corrections = from_memory = 0
        started = time.perf_counter()
        try:
            for row in stream:
                truth = row["label"]
                samples = pipeline.process(pipeline.ingest_file(root / row["file"], source="bench"))
                if not samples:
                    continue
                sample = samples[0]
                if sample.instrument == DEFAULT_MAPPING[truth]:
                    right += 1
                    from_memory += sample.label_source != "model"
                else:
                    corrections += 1
                    if learn:
                        pipeline.relabel(sample.id, truth)
        finally:
            pipeline.close()
        return {"n": len(stream), "right": right, "corrections": corrections, "right_from_memory": from_memory,
                "seconds": time.perf_counter() - started}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("manifest", type=Path, help="corpus manifest.csv (its split=test rows are streamed)")
    ap.add_argument("--model", type=Path, default=default_model())
    ap.add_argument("--n", type=int, default=125, help="sounds per stream")
    ap.add_argument("--streams", type=int, default=5)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", type=Path, help="write the figures here")
    args = ap.parse_args()

    with open(args.manifest, newline="", encoding="utf-8") as f:
        rows = [r for r in csv.DictReader(f) if r["split"] == "test"]
    cfg = Config()
    cfg = replace(cfg, classifier=replace(cfg.classifier, model=str(args.model.resolve())))
    classifier = Classifier.from_config(cfg)
    results = {"with": [], "without": []}
    for i, stream in enumerate(streams(rows, args.n, args.streams, args.seed)):
        for key, learn in (("with", True), ("without", False)):
            r = play(cfg, classifier, stream, args.manifest.parent, learn)
            results[key].append(r)
            print(f"stream {i}: {'with' if learn else 'without'} learning: right instrument {r['right']}/{r['n']} "
                  f"({r['right'] / r['n']:.1%}), corrections {r['corrections']}"
                  + (f", {r['right_from_memory']} right thanks to the memory" if learn else "")
                  + f"  [{1000 * r['seconds'] / r['n']:.0f} ms per sound]", flush=True)
    summary = {}
    for key, rs in results.items():
        acc = [r["right"] / r["n"] for r in rs]
        per125 = [125 * r["corrections"] / r["n"] for r in rs]
        summary[key] = {"right_instrument": float(np.mean(acc)), "right_instrument_min": float(np.min(acc)),
                        "corrections_per_125": float(np.mean(per125)), "streams": len(rs), "sounds": rs[0]["n"]}
    print(f"model: {args.model}")
    print(f"held-out clips: {len(rows)} from {args.manifest}; {args.streams} streams of {args.n} sounds")
    for key in ("without", "with"):
        s = summary[key]
        print(f"{key:7s} learning: right instrument {s['right_instrument']:.1%} (worst stream "
              f"{s['right_instrument_min']:.1%}), corrections {s['corrections_per_125']:.1f} per 125 sounds")
    print("targets: >= 80 % right instrument with learning, <= 35 corrections per 125 sounds")
    if args.json:
        args.json.write_text(json.dumps(summary, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
