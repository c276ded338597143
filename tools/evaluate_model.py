"""Evaluate a trained model on the held-out (split=test) clips of a corpus manifest, without training.

Lets two models be compared on the same clips, and redraws the confusion matrix. Prints overall and
per-instrument numbers; ``--json PATH`` writes the full :func:`exsampling.train.evaluate` result and
``--png PATH`` the confusion matrix.

Run: ``.venv/bin/python tools/evaluate_model.py models/default.keras data/corpus/manifest.csv``
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from exsampling import train
from exsampling.classifier import Classifier


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("model", type=Path)
    ap.add_argument("manifest", type=Path)
    ap.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "exsampling" / "features")
    ap.add_argument("--json", type=Path)
    ap.add_argument("--png", type=Path)
    args = ap.parse_args()

    clf = Classifier.load(args.model)
    params = clf.info.features  # the front end the model was trained with (its sidecar)
    clips = [c for c in train.read_manifest(args.manifest) if c.split == "test"]
    ds = train.extract(clips, params, train.TrimRule(), args.cache)
    probs = np.concatenate([clf.classify(ds.x[i:i + 64])[0] for i in range(0, len(ds.x), 64)])
    m = train.evaluate(probs, ds.y)
    m["per_family"] = train.per_family(probs, ds.y, [clips[i].family or clips[i].source for i in ds.clip])
    print(f"{args.model.name} on {m['n']} held-out clips: top-1 {m['top1']:.1%}, top-3 {m['top3']:.1%}, "
          f"instrument {m['instrument']:.1%}")
    for inst, v in m["per_instrument"].items():
        print(f"  {inst:8s} {v['n']:4d} clips  right instrument {v['accuracy']:.1%}")
    if args.json:
        args.json.write_text(json.dumps(m, indent=1) + "\n", encoding="utf-8")
    if args.png:
        train.confusion_png(args.png, ds.y, probs.argmax(axis=1), clf.info.labels,
                            f"{args.model.stem}: held-out sources ({args.manifest.parent.name})")


if __name__ == "__main__":
    main()
