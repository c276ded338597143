"""``exsampling replay``: the command line of :mod:`exsampling.replay` (docs/shows.md) — a kept show into a new
library through this machine's chain (:class:`~exsampling.replay.ChainFeed`), or into the running console's show
over HTTP (:class:`~exsampling.replay.HttpFeed`), with a progress bar and the summary at the end.
"""
from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from .library import Library
from .replay import ChainFeed, Cue, Feed, HttpFeed, PromptCue, Summary, plan, replay
from .show_state import ShowState, read_owner


def register(sub, add_config: Callable) -> None:
    """Add ``exsampling replay`` to the command line's subparsers."""
    p = sub.add_parser("replay", help="play a kept show again through today's chain, at its own pace")
    p.add_argument("show", metavar="SHOW.zip|DIR", help="a zip from 'exsampling export', or a library folder")
    p.add_argument("--speed", type=float, default=1.0,
                   help="how many times faster than the show (default 1; inf: as fast as the chain goes)")
    p.add_argument("--from", dest="start", metavar="HH:MM[:SS]|+MM:SS",
                   help="start at this clock time of the show, or this long after its first recording")
    p.add_argument("--send", action="store_true", help="send the samples to the stage over OSC ([osc] of the config)")
    p.add_argument("--console", action="store_true",
                   help="upload to the running console's show instead (its cards, map and stage react)")
    p.add_argument("--library", metavar="DIR",
                   help="the new show's library (default: a new folder beside [library] path)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_config(p)
    p.set_defaults(func=_replay)


def _replay(args) -> int:
    from .archive import ArchiveError, open_show, show_config

    if not args.speed > 0:
        raise ValueError(f"--speed {args.speed:g} must be > 0 (inf: as fast as the chain goes)")
    cfg = show_config(_without_library(args))
    try:
        with open_show(args.show) as (kept, info):
            cues = plan(kept, args.start)
            recordings = sum(isinstance(c, Cue) for c in cues)
            if not recordings:
                print(f"exsampling: nothing to replay in {args.show}" + (f" from {args.start}" if args.start else ""),
                      file=sys.stderr)
                return 1
            feed: Feed
            if args.console:
                feed, where = _console_feed(cfg), "the running console's show"
            else:
                feed = _chain_feed(cfg, args, kept)
                where = str(feed.pipeline.library.root)
            print(f"replaying {recordings} recordings of {info.name} into {where}", flush=True)
            try:
                summary = asyncio.run(_run(cues, feed, args.speed, not args.no_progress))
            finally:
                if isinstance(feed, ChainFeed):
                    feed.pipeline.close()
    except ArchiveError as exc:
        print(f"exsampling: {args.show} refused: {exc}", file=sys.stderr)
        return 1
    print(summary.text(), flush=True)
    return 0


def _without_library(args):
    """``args`` for :func:`exsampling.archive.show_config` without ``--library`` (here it names the new show)."""
    import argparse

    return argparse.Namespace(**{k: v for k, v in vars(args).items() if k != "library"})


def _chain_feed(cfg, args, kept: Library) -> ChainFeed:
    from .pipeline import build

    if args.library:
        target = Path(args.library).expanduser().resolve()
    else:
        base = cfg.resolve(cfg.library.path)
        target = base.with_name(f"{base.name}-replay-{datetime.now():%Y%m%d-%H%M%S}")
    if target == kept.root:
        raise ValueError(f"{target} is the show being replayed: give the replay its own --library")
    pipeline = build(cfg.with_changes(library={"path": str(target)}), send=args.send, actor="replay")
    if pipeline.classifier is None:
        print("exsampling: no model found: the replay's samples get no class or instrument", file=sys.stderr)
    return ChainFeed(pipeline)


def _console_feed(cfg) -> HttpFeed:
    from urllib.parse import parse_qs, urlsplit

    library = Library.from_config(cfg)
    owner = read_owner(library)
    if owner is None or not owner.alive or "local" not in owner.urls:
        raise ValueError(f"no console runs the show of {cfg.resolve(cfg.library.path)}: start it "
                         "(exsampling console), or replay without --console")
    local = urlsplit(owner.urls["local"])
    # HTTP has no way to set the prompt: it goes into the show's state, which the running console follows
    state = ShowState(cfg, library, actor="replay")
    return HttpFeed(f"{local.scheme}://{local.netloc}", parse_qs(local.query)["token"][0],
                    on_prompt=lambda text: setattr(state, "prompt", text))


async def _run(cues: list[Cue | PromptCue], feed: Feed, speed: float, progress: bool) -> Summary:
    from tqdm import tqdm

    bar = tqdm(total=sum(isinstance(c, Cue) for c in cues), unit="rec", file=sys.stderr, disable=not progress,
               dynamic_ncols=True)
    start = time.monotonic()
    try:
        results = await replay(cues, feed, speed, on_progress=lambda r: bar.update(1))
    finally:
        bar.close()
        await feed.close()
    return Summary.of(results, time.monotonic() - start, speed)

