"""Build a labelled training corpus from real recordings found in Debian packages (``exsampling corpus``).

The command: its options, what it installs when asked, and the one-line messages of a user's error.
"""
from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from .builder import build, missing_packages
from .origin import CorpusError


def family_filter(only: str, without: str) -> Callable[[str], bool]:
    """A ``wanted`` predicate from comma-separated family names: only ``only`` (if any), never ``without``.
    A name also stands for the families it prefixes with a hyphen ("real" for "real-lphyper", ...)."""
    keep = {f.strip() for f in only.split(",") if f.strip()}
    drop = {f.strip() for f in without.split(",") if f.strip()}

    def named(family: str, names: set[str]) -> bool:
        return any(family == n or family.startswith(n + "-") for n in names)

    return lambda family: (not keep or named(family, keep)) and not named(family, drop)


def register(subparsers, add_config) -> None:
    """Add the ``corpus`` subcommand."""
    p = subparsers.add_parser("corpus", help="build a labelled training corpus from sounds in Debian packages",
                              description=__doc__.split("\n\n")[0])
    add_config(p)
    p.add_argument("--out", default="data/corpus", help="output folder (default: data/corpus)")
    p.add_argument("--per-label", type=int, default=90, help="training clips wanted per label (default 90)")
    p.add_argument("--test-per-label", type=int, default=30, help="held-out clips wanted per label (default 30)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--sample-rate", type=int, default=None,
                   help="rate of the clips in Hz (default [audio] sample_rate; 44100 keeps the band the aisfx "
                        "backbone hears)")
    p.add_argument("--families", default="",
                   help="take only these source families (comma-separated, e.g. generaluser,airfont,lmms): a "
                        "supplement to an existing corpus")
    p.add_argument("--without-families", default="",
                   help="leave these source families out (comma-separated); the held-out sample of the other "
                        "families depends on what is rendered, so this rebuilds an earlier corpus exactly")
    p.add_argument("--real", metavar="DIR", type=Path,
                   help="also take the real recordings listed in DIR/manifest.csv (file,label,licence,attribution), "
                        "one family per recordist (real-NAME), some recordists held out (see docs/training.md)")
    p.add_argument("--install", action="store_true",
                   help="apt-get install the missing source packages first (needs root)")
    p.set_defaults(func=run)


def run(args) -> int:
    from ..config import ConfigError, load

    try:
        cfg = load(args.config)
    except ConfigError as exc:
        print(f"exsampling corpus: {exc}", file=sys.stderr)
        return 2
    missing = missing_packages()
    if missing and args.install:
        r = subprocess.run(["apt-get", "install", "-y", "--no-install-recommends", *missing], check=False)
        if r.returncode != 0:
            print(f"exsampling corpus: apt-get install failed for {' '.join(missing)}", file=sys.stderr)
            return 1
        missing = missing_packages()
    if missing:
        print(f"exsampling corpus: not installed (their sounds are skipped): {' '.join(missing)}", file=sys.stderr)
    out = Path(args.out).expanduser().resolve()
    if (out / "manifest.csv").exists():
        print(f"exsampling corpus: {out} already holds a corpus; choose another --out or remove it", file=sys.stderr)
        return 2
    try:
        out.mkdir(parents=True, exist_ok=True)
        summary = build(out, args.sample_rate or cfg.audio.sample_rate, cfg.audio.segment_s, cfg.audio.min_tail_s,
                        cfg.audio.trim_top_db, cfg.audio.silence_floor_dbfs,
                        {"train": args.per_label, "test": args.test_per_label}, args.seed,
                        family_filter(args.families, args.without_families), args.real)
    except (CorpusError, OSError, subprocess.CalledProcessError) as exc:
        print(f"exsampling corpus: {exc}", file=sys.stderr)
        return 1
    for label, d in summary["labels"].items():
        print(f"{label:24s} train {d['train']:4d}  test {d['test']:4d}")
    print(f"uncovered ({len(summary['uncovered'])}): {', '.join(summary['uncovered'])}")
    print(f"no held-out source: {', '.join(summary['no_held_out_source']) or 'none'}")
    print(f"manifest: {out / 'manifest.csv'}")
    return 0
