"""Train the sound classifier (``exsampling train``): a head on the aisfx sound-effects CNN, or the paper's MobileNetV2
on log-mel images; 41 FSDKaggle2018 labels.

The command: its options, their defaults when fine-tuning, and the one-line messages of a user's error.
"""
from __future__ import annotations

import sys
from pathlib import Path

from .. import features
from ..features import FeatureParams
from .errors import TrainError
from .images import TrimRule
from .layouts import discover, read_fsd, read_library
from .models import BACKBONES, DEFAULT_AISFX_BACKBONE
from .splits import unvalidated
from .trainer import Options, train


def register(subparsers, add_config) -> None:
    """Add the ``train`` subcommand."""
    p = subparsers.add_parser("train", help="train the classifier on a corpus, FSDKaggle2018, your own folders "
                                            "or the console's re-labelled samples",
                              description=__doc__.split("\n\n")[0])
    p.add_argument("data", nargs="?", type=Path,
                   help="corpus manifest CSV (or its folder), FSDKaggle2018 folder, or a folder per label")
    p.add_argument("--from-library", type=Path, metavar="LIBRARY_DIR",
                   help="fine-tune the model in use on this library's re-labelled samples")
    p.add_argument("--base", type=Path, help="model to fine-tune (default with --from-library: [classifier] model)")
    p.add_argument("--out", type=Path, help="model file to write (.keras); default models/custom.keras, or "
                                            "LIBRARY_DIR/models/finetuned.keras with --from-library")
    p.add_argument("--backbone", choices=BACKBONES, default="mobilenetv2",
                   help="mobilenetv2: the paper's network on log-mel images, trained from scratch (default); "
                        "aisfx: the pretrained sound-effects embedding (44.1 kHz sfx-mel features) with a "
                        "trained head (run tools/convert_aisfx.py once first)")
    p.add_argument("--backbone-file", type=Path, default=None,
                   help=f"the converted aisfx backbone (default {DEFAULT_AISFX_BACKBONE})")
    p.add_argument("--head-hidden", type=int, default=256, help="aisfx: hidden units of the head (0: linear)")
    p.add_argument("--alpha", type=float, default=0.35, help="MobileNetV2 width (default 0.35: fastest on a CPU)")
    p.add_argument("--weights", choices=("none", "imagenet"), default="none",
                   help="start from random weights (default) or ImageNet's (needs a download)")
    p.add_argument("--epochs", type=int, default=None, help="most epochs (default 40; 8 when fine-tuning)")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--patience", type=int, default=6, help="epochs without validation gain before stopping")
    p.add_argument("--lr", type=float, default=None, help="learning rate (default 1e-3; 1e-4 when fine-tuning)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--val-fraction", type=float, default=0.15, help="share of recordings kept for validation")
    p.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "exsampling" / "features",
                   help="feature cache folder (default ~/.cache/exsampling/features)")
    p.add_argument("--no-cache", action="store_true", help="do not read or write the feature cache")
    p.add_argument("--verified-only", action="store_true", help="FSDKaggle2018: only manually verified clips")
    p.add_argument("--trained-on", default="", help="one sentence for the sidecar: what the data was")
    add_config(p)
    p.set_defaults(func=run)


def run(args) -> int:
    from ..classifier import ModelError
    from ..config import ConfigError, load

    try:
        cfg = load(args.config)
        if args.data is None and args.from_library is None:
            raise TrainError("give DATA (a corpus, FSDKaggle2018 or label folders) and/or --from-library DIR")
        clips = discover(args.data.expanduser().resolve()) if args.data is not None else []
        if args.verified_only and args.data is not None:
            clips = read_fsd(args.data.expanduser().resolve(), verified_only=True)
        base = args.base
        out = args.out
        if args.from_library is not None:
            lib = args.from_library.expanduser().resolve()
            mine = read_library(lib)
            if not mine:
                raise TrainError(f"{lib} holds no re-labelled samples to learn from")
            clips += mine
            base = base or cfg.resolve(cfg.classifier.model)
            out = out or lib / "models" / "finetuned.keras"
        out = (out or Path("models") / "custom.keras").expanduser().resolve()
        if out.suffix != ".keras":
            raise TrainError(f"--out must end in .keras, got {out.name}")
        if base is not None and not Path(base).is_file():
            raise TrainError(f"no model to fine-tune at {base}")
        fine_tune = base is not None
        opt = Options(
            out=out, alpha=args.alpha, weights=args.weights, epochs=args.epochs or (8 if fine_tune else 40),
            batch_size=args.batch_size, patience=args.patience, lr=args.lr or (1e-4 if fine_tune else 1e-3),
            seed=args.seed, val_fraction=args.val_fraction, cache_dir=None if args.no_cache else args.cache,
            base=Path(base).resolve() if base else None, trained_on=args.trained_on, backbone=args.backbone,
            backbone_file=args.backbone_file, head_hidden=args.head_hidden,
        )
        root = args.data.expanduser().resolve() if args.data is not None else None
        if base is not None:
            from ..classifier import read_info

            params = read_info(base).features  # a fine-tuned model keeps its features
        else:
            params = features.SFX_MEL if args.backbone == "aisfx" else FeatureParams.from_config(cfg)
        unchecked = unvalidated(clips, opt.val_fraction, opt.seed)
        if unchecked:
            print(f"exsampling train: warning: {unchecked}", file=sys.stderr)
        metrics = train(clips, params, TrimRule.from_config(cfg), opt,
                        root.parent if root and root.is_file() else root)
    except (TrainError, ConfigError, ModelError) as exc:
        print(f"exsampling train: {exc}", file=sys.stderr)
        return 2
    if unchecked:
        print("not validated: no recording was held out, so nothing measured this model (see the warning above)")
    for name in ("val", "test"):
        if name in metrics:
            m = metrics[name]
            print(f"{m['what']}: top-1 {m['top1']:.1%}, top-3 {m['top3']:.1%}, instrument {m['instrument']:.1%} "
                  f"({m['n']} clips)")
    print(f"wrote {out} ({out.stat().st_size / 1e6:.1f} MB) in {metrics['train_seconds']:.0f} s")
    return 0
