"""Derive a model's fast runtime from its .keras: TensorFlow Lite with int8 weights, checked against Keras.

Writes ``NAME.int8.tflite``, ``NAME.runtime.json`` (the SHA-256 of the .keras it came from) and ``NAME.head.npz``
(the layers after the embedding, for in-show adaptation) beside ``NAME.keras``; the classifier uses them, without
TensorFlow, while that hash matches and falls back to Keras, saying so, once the .keras changes. Run it again
after every retraining. With ``--manifest``, it also classifies the held-out (split=test) clips of a corpus with
both, prints what the runtime keeps and loses, and keeps those figures in the record (tools/model_card.py prints
them in the model card).

    .venv/bin/python tools/convert_runtime.py models/default.keras --manifest data/corpus/manifest.csv
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from exsampling import runtime, train
from exsampling.adapt import Head
from exsampling.classifier import Classifier, ModelError, derive_runtime, read_info
from exsampling.mapping import DEFAULT_MAPPING


def classify_all(clf: Classifier, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    parts = [clf.classify(x[i:i + 32]) for i in range(0, len(x), 32)]
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])


def heldout(model: Path, manifest: Path, cache: Path | None) -> dict:
    """Keras and the fresh runtime of ``model`` on the held-out clips of ``manifest``: accuracy and agreement."""
    keras_clf = Classifier.load(model)
    keras_clf = Classifier(keras_clf.info, keras_clf.model, use_runtime=False)
    lite_clf = Classifier(keras_clf.info, keras_clf.model)
    if lite_clf.runtime == keras_clf.runtime:
        raise SystemExit(f"{model.name}'s runtime did not load (see the warning above)")
    clips = [c for c in train.read_manifest(manifest) if c.split == "test"]
    ds = train.extract(clips, keras_clf.info.features, train.TrimRule(), cache)
    families = [clips[i].family or clips[i].source for i in ds.clip]
    out: dict = {"clips": f"{len(ds.y)} held-out pieces (split=test) of {manifest.parent.name}/{manifest.name}"}
    answers = {}
    for name, clf in (("keras", keras_clf), ("runtime", lite_clf)):
        answers[name] = classify_all(clf, ds.x)
        m = train.evaluate(answers[name][0], ds.y)
        out[name] = {k: m[k] for k in ("n", "top1", "top3", "instrument")}
        out[name]["per_family"] = train.per_family(answers[name][0], ds.y, families)
    out["agreement"] = runtime.agreement(answers["keras"], answers["runtime"], keras_clf.info.labels,
                                          DEFAULT_MAPPING)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("model", type=Path, help="the .keras to convert (its .json sidecar beside it)")
    ap.add_argument("--quantization", choices=list(runtime.QUANTIZATIONS), default="int8",
                    help="what the artifact stores (default int8, what ships; see models/README.md)")
    ap.add_argument("--manifest", type=Path, help="a corpus manifest: measure both on its held-out clips")
    ap.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "exsampling" / "features")
    args = ap.parse_args()
    try:
        read_info(args.model)
    except ModelError as exc:
        print(f"convert_runtime: {exc}", file=sys.stderr)
        return 1
    record = derive_runtime(args.model, args.quantization)
    size = args.model.with_name(record.artifact).stat().st_size
    print(f"wrote {args.model.with_name(record.artifact)} ({size / 1e6:.1f} MB), {Head.path_for(args.model)} and "
          f"{runtime.record_path(args.model)} (from {record.source}, sha256 {record.source_sha256[:12]}…)")
    if args.manifest:
        figures = heldout(args.model, args.manifest, args.cache)
        runtime.write_record(args.model, runtime.Record(**{**record.__dict__, "heldout": figures}))
        for name in ("keras", "runtime"):
            m = figures[name]
            print(f"{name:8s} on {m['n']} held-out pieces: top-1 {m['top1']:.1%}, top-3 {m['top3']:.1%}, "
                  f"instrument {m['instrument']:.1%}")
        a = figures["agreement"]
        print(f"agreement: same label {a['top1']:.1%}, same instrument {a['instrument']:.1%}, largest probability "
              f"difference {a['max_prob_diff']:.3f}, lowest embedding cosine {a['min_embedding_cosine']:.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
