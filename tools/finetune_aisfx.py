"""Fine-tune the aisfx backbone's top blocks on a GPU machine, then assemble the Keras model and its reports.

``exsampling train --backbone aisfx`` trains a head on the frozen embedding, on a laptop. Fine-tuning the
convolution blocks too costs hours on 2 CPU cores but seconds on a GPU, so it runs in three steps:

1. ``pack``: the corpus' sfx-mel maps (8-bit, as exsampling.features.sfx_mel makes them, cached), labels,
   the validation recordings (train.validation_groups, seed 0) and 5 folds over the training source
   families, plus the aisfx embedding weights, into DATA (default data/dev, ≈ 50 MB);
2. ``tools/finetune_aisfx_torch.py`` on the GPU machine (PyTorch): compares configurations by
   leave-family-out cross-validation over the training families, trains each on all training
   families, predicts the held-out families;
3. ``assemble``: the chosen configuration's weights into a Keras model (block 1 and batch norm
   statistics are aisfx's, blocks 2–4 and the head fine-tuned), evaluated here, in float32, on the
   validation recordings and the held-out families, with the same reports as ``exsampling train``.

    python tools/finetune_aisfx.py pack data/corpus/manifest.csv --cache data/cache
    python tools/finetune_aisfx.py assemble data/corpus/manifest.csv --results RESULTS_DIR --config b234-30 \\
        --out models/default.keras
"""
from __future__ import annotations

import argparse
import csv
import json
import time
from pathlib import Path

import numpy as np

from exsampling import aisfx, train
from exsampling.classifier import mask_untrained
from exsampling.features import SFX_MEL
from exsampling.library import utc_now
from exsampling.mapping import DEFAULT_MAPPING, LABELS

#: sfx-mel values (≈ 0–1) are stored as round(200·v) in 8 bits: ±0.0025, far below the map's own noise.
QUANT = 200.0


def folds_over_families(families: np.ndarray, train_mask: np.ndarray, k: int = 5, seed: int = 0) -> np.ndarray:
    """Fold number per clip (−1 for held-out clips): training families spread greedily by size over ``k`` folds."""
    fams = sorted(set(families[train_mask]))
    np.random.default_rng(seed).shuffle(fams)
    sizes = {f: int((families[train_mask] == f).sum()) for f in fams}
    fold = np.full(len(families), -1)
    load = [0] * k
    for f in sorted(fams, key=lambda f: -sizes[f]):
        i = int(np.argmin(load))
        fold[(families == f) & train_mask] = i
        load[i] += sizes[f]
    return fold


def pack(args) -> None:
    clips = train.read_manifest(args.manifest)
    ds = train.extract(clips, SFX_MEL, train.TrimRule(), args.cache)
    with open(args.manifest, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    origin = np.array([rows[i]["origin"] for i in ds.clip])
    family = np.array([rows[i]["family"] for i in ds.clip])
    test = np.array([rows[i]["split"] == "test" for i in ds.clip])
    groups = train.validation_groups([c for c in clips if c.split != "test"], 0.15, 0)
    val = np.isin(origin, sorted(groups)) & ~test
    args.data.mkdir(parents=True, exist_ok=True)
    q = np.clip(np.round(ds.x[..., 0] * QUANT), 0, 255).astype(np.uint8)
    np.savez_compressed(args.data / "ft.npz", x=q, y=ds.y, test=test, val=val,
                        fold=folds_over_families(family, ~test), clip=ds.clip)
    state = aisfx.read_checkpoint(args.checkpoint)
    np.savez(args.data / "aisfx_embedding.npz", **{k: v for k, v in state.items()
                                                    if k.startswith("embedding_net.") and "num_batches" not in k})
    (args.data / "inst.json").write_text(json.dumps([DEFAULT_MAPPING[label] for label in LABELS]))
    print(f"packed {len(ds.y)} maps into {args.data}")


def keras_model(checkpoint: Path, results: Path, config: str):
    """The Keras model: aisfx's weights, overridden by the fine-tuned blocks and the head of ``config``."""
    state = dict(aisfx.read_checkpoint(checkpoint))
    for f in sorted(results.glob(f"{config}_conv_block*.npz")):
        state.update(dict(np.load(f)))
    backbone = aisfx.backbone(SFX_MEL.shape)
    aisfx.load_weights(backbone, state)
    h = dict(np.load(results / f"{config}.npz"))
    head = train.build_head(np.zeros((2, 512), np.float32), len(LABELS), hidden=h["head.hidden.weight"].shape[0])
    # torch divides by sqrt(var + 1e-7); keras' Normalization by sqrt(variance): fold the epsilon in
    norm = head.get_layer("head_standardise")
    norm.set_weights([h["head.mean"], h["head.var"] + 1e-7, np.array(1e6)])
    norm.finalize_state()  # the layer divides by statistics computed from these variables
    head.get_layer("head_hidden").set_weights([h["head.hidden.weight"].T, h["head.hidden.bias"]])
    head.get_layer("probs").set_weights([h["head.out.weight"].T, h["head.out.bias"]])
    return train.compose(backbone, head), h


def assemble(args) -> None:
    import tensorflow as tf

    started = time.monotonic()
    model, h = keras_model(args.checkpoint, args.results, args.config)
    clips = train.read_manifest(args.manifest)
    val_groups = train.validation_groups([c for c in clips if c.split != "test"], 0.15, 0)
    ds = train.extract(clips, SFX_MEL, train.TrimRule(), args.cache)
    split = np.array([c.split or ("val" if c.group in val_groups else "train") for c in clips])[ds.clip]
    trained = tuple(label for label in LABELS if LABELS.index(label) in set(ds.y[split == "train"].tolist()))
    call = tf.function(lambda t: model(t, training=False), reduce_retracing=True)
    results = json.loads((args.results / "results.json").read_text())
    chosen = results.get(args.config.replace("-", "@"), {})
    metrics: dict = {"train_images": int((split == "train").sum()), "train_seconds": chosen.get("seconds"),
                     "epochs_run": chosen.get("epochs", [None])[-1], "selection": results}
    counts = np.bincount(ds.y[split == "train"], minlength=len(LABELS))
    metrics["train_images_per_label"] = {LABELS[i]: int(counts[i]) for i in np.flatnonzero(counts)}
    reports = {"val": "validation (held-out recordings of the training sources)",
               "test": "held-out sources (never heard in training)"}
    torch_test = h["test_p"].astype(np.float32)
    for name, what in reports.items():
        m = split == name
        x, y, idx = ds.x[m], ds.y[m], ds.clip[m]
        probs = np.concatenate([call(tf.constant(x[i:i + 32])).numpy() for i in range(0, len(x), 32)])
        probs = mask_untrained(probs, LABELS, trained)
        metrics[name] = {"what": what, **train.evaluate(probs, y)}
        if name == "test":
            metrics[name]["per_family"] = train.per_family(probs, y, [clips[i].family or clips[i].source for i in idx])
            agree = float(np.mean(probs.argmax(1) == torch_test.argmax(1))) if len(torch_test) == len(probs) else None
            metrics["keras_vs_torch_top1_agreement"] = agree
            if args.keep_probs:  # for calibrating "unsure" and measuring its precision and recall
                np.savez(args.keep_probs, probs=probs, y=y, clip=idx)
        train.confusion_png(args.out.with_name(f"{args.out.stem}.confusion{'' if name == 'test' else '-' + name}.png"),
                            y, probs.argmax(axis=1), LABELS, f"{args.out.stem}: {what}")
        print(f"{what}: top-1 {metrics[name]['top1']:.1%}, top-3 {metrics[name]['top3']:.1%}, "
              f"instrument {metrics[name]['instrument']:.1%} ({metrics[name]['n']} clips)", flush=True)
    blocks = sorted({p.stem.split("_", 1)[1] for p in args.results.glob(f"{args.config}_conv_block*.npz")})
    meta = {
        "format": 1, "labels": list(LABELS), "trained_labels": list(trained), "features": SFX_MEL.to_dict(),
        "embedding_layer": "embedding",
        "architecture": {"name": "aisfx", "weights": "aisfx 0.1.2 (CC BY 4.0), fine-tuned", "fine_tuned": blocks,
                         "head_hidden": int(h["head.hidden.weight"].shape[0]), "config": args.config},
        "trained_on": args.trained_on, "created_at": utc_now(),
        "metrics": {k: {m: round(metrics[k][m], 4) for m in ("n", "top1", "top3", "instrument")}
                    for k in reports if k in metrics},
    }
    train.save_model(model, args.out, meta)
    args.out.with_name(f"{args.out.stem}.metrics.json").write_text(json.dumps(metrics, indent=1) + "\n",
                                                                      encoding="utf-8")
    train.write_clips_csv(args.out.with_name(f"{args.out.stem}.clips.csv"), clips, val_groups, args.manifest.parent)
    print(f"wrote {args.out} ({args.out.stat().st_size / 1e6:.1f} MB) in {time.monotonic() - started:.0f} s; "
          f"Keras/torch top-1 agreement on held-out clips: {metrics.get('keras_vs_torch_top1_agreement')}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(required=True)
    for name, fn in (("pack", pack), ("assemble", assemble)):
        p = sub.add_parser(name)
        p.add_argument("manifest", type=Path)
        p.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "exsampling" / "features")
        p.add_argument("--checkpoint", type=Path, required=True, help="aisfx/models/checkpoint.pth from the wheel")
        p.set_defaults(func=fn)
        if name == "pack":
            p.add_argument("--data", type=Path, default=Path("data/dev"))
        else:
            p.add_argument("--results", type=Path, required=True, help="the torch run's $OUT folder")
            p.add_argument("--config", required=True, help="e.g. b234-30 (chosen by out-of-fold accuracy)")
            p.add_argument("--out", type=Path, required=True)
            p.add_argument("--trained-on", default="")
            p.add_argument("--keep-probs", type=Path, help="write the held-out probabilities here (.npz)")
    args = ap.parse_args()
    args.func(args)


if __name__ == "__main__":
    main()
