"""A kept show of N recordings: export and import times and sizes, and how fast it replays at full speed.

The show is made first through the real chain (5-s clips from 20 participants, with places; no OSC). Then, each
compared in the same run with its baseline on the same show:

- export (``exsampling.archive.export_show``) vs copying the library's folder (``shutil.copytree``);
- import (every check, every checksum, fsync) vs the same copy;
- replay at full speed (``--speed inf``: ``ChainFeed`` through today's chain, into a new library) vs the chain
  itself processing the same recordings one after the other (``pipeline.ingest`` + ``pipeline.process``).

    python bench/replay.py [--n 200] [--repeat 5]
"""
from __future__ import annotations

import argparse
import asyncio
import math
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
from _common import clips, model_path, percentiles

from exsampling.archive import export_show, import_show
from exsampling.audio import wav_bytes
from exsampling.classifier import Classifier
from exsampling.config import ClassifierConfig, Config, LibraryConfig
from exsampling.library import Library
from exsampling.pipeline import Pipeline
from exsampling.records import Location
from exsampling.replay import ChainFeed, Summary, plan, replay

MAX_N = 1000


def make_show(cfg: Config, classifier: Classifier, n: int) -> tuple[Library, list[bytes]]:
    """``n`` recordings through the chain into ``cfg``'s library; returns it and the uploads' bytes."""
    pipeline = Pipeline(cfg, Library.from_config(cfg), classifier)
    rng = np.random.default_rng(1)
    uploads = [wav_bytes(y, cfg.audio.sample_rate) for y in clips(n, cfg.audio.sample_rate)]
    for i, data in enumerate(uploads):
        place = Location(35.39 + rng.normal(0, 0.002), 139.43 + rng.normal(0, 0.002), float(rng.uniform(5, 40)))
        pipeline.process(pipeline.ingest(data, participant=f"p{i % 20:02d}", location=place, source="upload"))
    pipeline.close()
    return pipeline.library, uploads


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def folder_bytes(root: Path) -> int:
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file())


def line(name: str, seconds: list[float], extra: str = "") -> str:
    p50, p95 = percentiles(seconds)
    return f"{name:<40} n={len(seconds):3d}  p50 {p50:8.1f} ms  p95 {p95:8.1f} ms{extra}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=200, help=f"recordings in the show (at most {MAX_N})")
    ap.add_argument("--repeat", type=int, default=5, help="exports, imports and copies timed")
    args = ap.parse_args()
    n = max(1, min(args.n, MAX_N))
    path, what = model_path()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        cfg = Config(library=LibraryConfig(path=str(tmp / "show")), classifier=ClassifierConfig(model=str(path)))
        classifier = Classifier.from_config(cfg)
        made = time.perf_counter()
        library, uploads = make_show(cfg, classifier, n)
        made = time.perf_counter() - made
        counts = library.counts()

        copies = [timed(lambda i=i: shutil.copytree(library.root, tmp / f"copy{i}")) for i in range(args.repeat)]
        exports = [timed(lambda i=i: export_show(library, cfg, tmp / f"show{i}.zip")) for i in range(args.repeat)]
        zipped = tmp / "show0.zip"
        imports = [timed(lambda i=i: import_show(zipped, tmp / f"imported{i}")) for i in range(args.repeat)]
        same = all((tmp / f"show{i}.zip").read_bytes() == zipped.read_bytes() for i in range(args.repeat))

        # the baseline: the chain alone, on the same recordings, one after the other
        chain = Pipeline(cfg.with_changes(library={"path": str(tmp / "chain")}),
                         Library(tmp / "chain"), classifier)
        per_chain = []
        chain_wall = time.perf_counter()
        for data in uploads:
            start = time.perf_counter()
            chain.process(chain.ingest(data, source="bench"))
            per_chain.append(time.perf_counter() - start)
        chain_wall = time.perf_counter() - chain_wall
        chain.close()

        kept = Library(tmp / "imported0")
        cues = plan(kept)
        feed = ChainFeed(Pipeline(cfg.with_changes(library={"path": str(tmp / "again")}), Library(tmp / "again"),
                                  classifier, actor="replay"))
        done_at: list[float] = []

        async def run() -> float:
            start = time.perf_counter()
            results = await replay(cues, feed, math.inf, on_progress=lambda r: done_at.append(time.perf_counter()))
            wall = time.perf_counter() - start
            feed.pipeline.close()
            summary = Summary.of(results, wall, math.inf)
            assert summary.differing == 0, summary.text()  # same model, same mapping: the same decisions
            return wall

        replay_wall = asyncio.run(run())
        library_bytes, zip_bytes = folder_bytes(library.root), zipped.stat().st_size

    mib = 2 ** 20
    print(f"model: {what}")
    print(f"show: {counts['recordings']} recordings of 5 s, {counts['samples']} samples, "
          f"{counts['participants']} participants; library {library_bytes / mib:.1f} MiB "
          f"(made through the chain in {made:.1f} s)")
    print(f"zip: {zip_bytes / mib:.1f} MiB; exports byte-identical: {same}")
    print(line("baseline: copy the library folder", copies))
    print(line("export (zip, SHA-256 of every file)", exports, f"   ({np.median(exports) / np.median(copies):.1f}x "
                                                               "the copy)"))
    print(line("import (checks, checksums, fsync)", imports, f"   ({np.median(imports) / np.median(copies):.1f}x "
                                                              "the copy)"))
    print(line("baseline: chain per recording", per_chain))
    # every cue is sent at once at full speed: the interval between two outcomes is one recording's cost
    print(line("replay per recording (between outcomes)", list(np.diff(done_at))))
    print(f"baseline: chain alone        {n / chain_wall:6.1f} recordings/s ({chain_wall:.1f} s)")
    print(f"replay at full speed         {n / replay_wall:6.1f} recordings/s ({replay_wall:.1f} s), "
          f"{n / replay_wall / (n / chain_wall):.2f}x the chain alone")


if __name__ == "__main__":
    main()
