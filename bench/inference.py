"""Latency of classifying one 5-s sample on this machine: features + model, p50/p95.

Two paths over the same model and the same audio:

* fast: the console's path, ``exsampling.classifier.Classifier`` (the model's converted runtime on LiteRT when it
  has a fresh one, else one warmed, compiled tf.function; the line says which);
* naive: ``keras.Model.predict`` per call, which builds a data pipeline every time.

bench/runtimes.py compares the ways of running the model with each other.

Run: ``.venv/bin/python bench/inference.py [--model models/default.keras] [--runs 50]``
"""
from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

REPO = Path(__file__).resolve().parent.parent


def test_signal(sr: int, seconds: float, seed: int = 0) -> np.ndarray:
    """A 5-s mix of a tone and noise bursts: realistic work for the feature code (it is content-blind)."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(sr * seconds)) / sr
    y = 0.3 * np.sin(2 * np.pi * 440 * t) + 0.05 * rng.standard_normal(len(t))
    return y.astype(np.float32)


def timings(fn, runs: int, warmup: int = 3) -> np.ndarray:
    """Wall-clock milliseconds of ``runs`` calls of ``fn`` after ``warmup`` untimed calls."""
    for _ in range(warmup):
        fn()
    out = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t0) * 1000)
    return np.array(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", type=Path, default=REPO / "models" / "default.keras")
    ap.add_argument("--runs", type=int, default=50)
    args = ap.parse_args()

    from exsampling.classifier import Classifier
    from exsampling.features import image

    clf = Classifier.load(args.model)
    params = clf.info.features  # the front end the model was trained with
    model = clf.model  # the same keras model, called the naive way
    y = test_signal(params.sample_rate, params.segment_s)

    feats = timings(lambda: image(y, params), args.runs)
    x = image(y, params)[None]
    fast = timings(lambda: clf.classify(x), args.runs)
    naive = timings(lambda: model.predict(x, verbose=0), args.runs)
    end_to_end = timings(lambda: clf.classify(image(y, params)[None]), args.runs)

    def line(name: str, ms: np.ndarray) -> str:
        return f"{name:44s} p50 {np.percentile(ms, 50):7.1f} ms   p95 {np.percentile(ms, 95):7.1f} ms"

    print(f"model {args.model.name} ({args.model.stat().st_size / 1e6:.1f} MB), {args.runs} runs, "
          f"{os.cpu_count()} CPU cores")
    print(line("features.image (5 s)", feats))
    print(line(f"model, Classifier ({clf.runtime})", fast))
    print(line("model, keras predict (naive)", naive))
    print(line("features + Classifier (one sample)", end_to_end))
    print(f"predict / Classifier: {np.percentile(naive, 50) / np.percentile(fast, 50):.1f}x at p50")


if __name__ == "__main__":
    main()
