"""What ``exsampling classify`` costs per 5-s piece, and where it goes.

The command's own loop (``build`` as it builds it, then ingest and process each file, storing into a library),
in a process of its own per source tree, timed per file after one warm-up file, so TensorFlow's import and the
model's load are left out: ms per piece, p50 and p95 over the files (two 5-s pieces each). ``--baseline REF``
runs another commit's code the same way (``git archive REF``, same virtualenv), in turns. A second pass over the
same files under cProfile splits a piece's cost by stage: decode and trim, features, the model call, pitch, and
the library (files written and synced, SQLite commits).

    python bench/classify.py [--files 12] [--baseline REF] [--rounds 2]

The console's figure (bench/latency.py: stored -> OSC) ends at the OSC send; the command's also holds the file's
decoding and every library write after the send.
"""
from __future__ import annotations

import argparse
import json
import os
import pstats
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from _common import clips, model_path, percentiles
from uploads import compared_trees

from exsampling.audio import wav_bytes
from exsampling.classifier import read_info

#: ``exsampling classify``'s loop (exsampling/cli.py), timed per file, then once more under cProfile (saved to
#: argv[2]); run with the tree to time on PYTHONPATH.
LOOP = """
import cProfile, json, sys, tempfile, time
from exsampling.config import ClassifierConfig, Config, LibraryConfig
from exsampling.pipeline import build
model, profile_to, files = sys.argv[1], sys.argv[2], sys.argv[3:]
with tempfile.TemporaryDirectory() as tmp:
    cfg = Config(library=LibraryConfig(path=tmp), classifier=ClassifierConfig(model=model))
    pipeline = build(cfg, send=False, require_model=True, actor="cli")
    pipeline.process(pipeline.ingest_file(files[0], source="cli"))  # lazy start-up costs, paid once
    per_piece, pieces = [], 0
    for file in files[1:]:
        began = time.perf_counter()
        done = pipeline.process(pipeline.ingest_file(file, source="cli"))
        per_piece.append((time.perf_counter() - began) / len(done))
    profile = cProfile.Profile()
    profile.enable()
    for file in files[1:]:
        pieces += len(pipeline.process(pipeline.ingest_file(file, source="cli")))
    profile.disable()
    profile.dump_stats(profile_to)
    pipeline.close()
print(json.dumps({"per_piece": per_piece, "profiled_pieces": pieces}))
"""

#: The chain's modules (a baseline from before the split has pipeline.py alone).
CHAIN = ("exsampling/pipeline.py", "exsampling/stages.py", "exsampling/corrections.py")
#: Where a piece's time goes, by the functions the chain calls (their module, and name prefixes).
STAGES = {
    "decode + trim": ("audio", ("decode", "audible_span")),
    "features": ("features", ("image",)),
    "model call": ("classifier", ("classify",)),
    "pitch": ("pitch", ("detect",)),
    "library (files, SQLite)": ("library", ("",)),
}


def in_module(file: str, module: str) -> bool:
    """Whether ``file`` is ``exsampling.<module>``'s, as a module or a package (a baseline from before the library
    became a package is profiled alike)."""
    return file.endswith(f"exsampling/{module}.py") or f"exsampling/{module}/" in file


def run(tree: Path, model: Path, files: list[Path]) -> tuple[list[float], dict[str, float]]:
    """The command's loop from ``tree``: seconds per piece for each file after the first, and ms per piece by stage
    (under cProfile)."""
    with tempfile.NamedTemporaryFile(suffix=".prof") as profile:
        done = subprocess.run([sys.executable, "-c", LOOP, str(model), profile.name, *map(str, files)],
                              capture_output=True, text=True,
                              env=os.environ | {"TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": str(tree)})
        if done.returncode != 0:
            raise SystemExit(f"the classify loop failed ({done.returncode}): {done.stderr[-2000:]}")
        result = json.loads(done.stdout.strip().splitlines()[-1])
        stats = pstats.Stats(profile.name).stats  # type: ignore[attr-defined]  # (file, line, name) -> (.., callers)
    spent = dict.fromkeys(STAGES, 0.0)
    for (file, _, name), (*_, callers) in stats.items():
        for stage, (module, prefixes) in STAGES.items():
            if in_module(file, module) and name.startswith(prefixes):
                # the chain's own calls: what they call is in their figure already
                spent[stage] += sum(c[3] for (f, _, _), c in callers.items() if f.endswith(CHAIN))
    return result["per_piece"], {k: 1000 * v / result["profiled_pieces"] for k, v in spent.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--files", type=int, default=12, help="10-s files per run, the first to warm up (default 12)")
    ap.add_argument("--baseline", metavar="REF", help="also time this commit's command, for comparison")
    ap.add_argument("--rounds", type=int, default=2, help="runs of each tree's loop, in turns (default 2)")
    args = ap.parse_args()
    model, what = model_path()
    sr = read_info(model).features.sample_rate
    with tempfile.TemporaryDirectory() as tmp:
        files = []
        for i, y in enumerate(clips(args.files, sr, seconds=10.0)):
            files.append(Path(tmp) / f"clip{i:02d}.wav")
            files[-1].write_bytes(wav_bytes(y, sr))
        print(f"model: {what}; {args.files} files of 10 s at {sr} Hz; {args.rounds} round(s), in turns")
        trees = compared_trees(model, args.baseline, Path(tmp) / "baseline")
        times: dict[str, list[float]] = {label: [] for label, _, _ in trees}
        stages: dict[str, list[dict[str, float]]] = {label: [] for label, _, _ in trees}
        for round_ in range(args.rounds):
            for label, tree, its_model in trees:
                per_piece, split = run(tree, its_model, files)
                times[label] += per_piece
                stages[label].append(split)
                print(f"  round {round_ + 1}, {label}: median {1000 * np.median(per_piece):.0f} ms per piece",
                      flush=True)
    print()
    for label, values in times.items():
        p50, p95 = percentiles(values)
        split = {stage: float(np.median([s[stage] for s in stages[label]])) for stage in STAGES}
        print(f"{label}: exsampling classify's loop, p50 {p50:.0f} ms, p95 {p95:.0f} ms per 5-s piece over "
              f"{len(values)} files; under cProfile, per piece: "
              + ", ".join(f"{stage} {ms:.1f} ms" for stage, ms in split.items()))


if __name__ == "__main__":
    main()
