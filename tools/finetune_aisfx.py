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
import os
import re
import time
from pathlib import Path

import numpy as np

from exsampling import aisfx, train
from exsampling.classifier import mask_untrained
from exsampling.features import SFX_MEL
from exsampling.mapping import DEFAULT_MAPPING, LABELS
from exsampling.records import utc_now

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
    families = sorted(set(family))
    np.savez_compressed(args.data / "ft.npz", x=q, y=ds.y, test=test, val=val,
                        fold=folds_over_families(family, ~test), clip=ds.clip,
                        family=np.array([families.index(f) for f in family], dtype=np.int16))
    state = aisfx.read_checkpoint(args.checkpoint)
    # The blocks that may be fine-tuned only start from these weights (assemble takes the trained ones, and
    # block 1 and every batch norm from the checkpoint itself): float16 halves what travels to the GPU machine.
    tunable = re.compile(r"embedding_net\.conv_block[234]\.conv\d\.weight")
    np.savez_compressed(args.data / "aisfx_embedding.npz", **{
        k: v.astype(np.float16) if tunable.fullmatch(k) else v
        for k, v in state.items() if k.startswith("embedding_net.") and "num_batches" not in k})
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


REPORTS = {"val": "validation (held-out recordings of the training sources)",
           "test": "held-out sources (never heard in training)",
           "real": "held-out real recordings (recordists never heard in training)"}


def held_out_set(c) -> str:
    """Which report a held-out clip belongs to: the real recordings (``exsampling corpus --real``: families
    ``real-*``) apart from the sample-library families."""
    return "real" if c.family.startswith("real-") else "test"


def recording_of(c) -> str:
    """The recording a clip is a piece of: a corpus cuts each (augmented) recording into pieces named
    ``<origin>-<variant>-<piece>``; any other file is a recording of its own."""
    stem = c.path.stem
    return stem.rsplit("-", 1)[0] if stem.startswith(c.group) and stem.count("-") >= 2 else stem


def pool(probs: np.ndarray, y: np.ndarray, recordings: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One judgement per recording: the mean of its pieces' probabilities, and its label."""
    names, first, inverse = np.unique(recordings, return_index=True, return_inverse=True)
    pooled = np.zeros((len(names), probs.shape[1]), np.float64)
    np.add.at(pooled, inverse, probs)
    return pooled / np.bincount(inverse)[:, None], y[first]


def figures(probs: np.ndarray, y: np.ndarray, recordings: np.ndarray) -> dict:
    """:func:`exsampling.train.evaluate` per piece, with the same per recording (pieces pooled) under
    ``per_recording``."""
    return train.evaluate(probs, y) | {"per_recording": train.evaluate(*pool(probs, y, recordings))}


def report(model, clips: list, ds, split: np.ndarray, trained: tuple[str, ...], out: Path, metrics: dict,
           keep_probs: Path | None, reference: np.ndarray | None = None,
           baseline: tuple[np.ndarray, tuple[str, ...]] | None = None,
           embedded: tuple[np.ndarray, object] | None = None) -> None:
    """Evaluate ``model`` on the validation recordings, the held-out families and the held-out real recordings
    (per piece, and per recording with its pieces pooled) into ``metrics`` (and the confusion images beside
    ``out``); ``reference``: another run's held-out probabilities to compare with; ``baseline``: another model's
    probabilities for every image of ``ds`` and its trained labels, measured on the same clips under
    ``metrics["baseline"]``; ``embedded``: every image's embedding and ``model``'s head, so that the frozen
    backbone is not run again (the same figures, computed from the embedding)."""
    import tensorflow as tf

    call = tf.function(lambda t: model(t, training=False), reduce_retracing=True)
    recordings = np.array([recording_of(clips[i]) for i in ds.clip])
    for name, what in REPORTS.items():
        m = split == name
        if not m.any():
            continue
        x, y, idx = ds.x[m], ds.y[m], ds.clip[m]
        if embedded is not None:
            probs = embedded[1].predict(embedded[0][m], batch_size=256, verbose=0)
        else:
            probs = np.concatenate([call(tf.constant(x[i:i + 32])).numpy() for i in range(0, len(x), 32)])
        probs = mask_untrained(probs, LABELS, trained)
        metrics[name] = {"what": what, **figures(probs, y, recordings[m])}
        if baseline is not None:
            before = mask_untrained(baseline[0][m], LABELS, baseline[1])
            metrics.setdefault("baseline", {})[name] = figures(before, y, recordings[m])
        if name in ("test", "real"):
            fams = [clips[i].family or clips[i].source for i in idx]
            metrics[name]["per_family"] = train.per_family(probs, y, fams)
        if name == "real":
            metrics[name]["pieces"] = [
                {"file": clips[i].path.name, "recording": r, "label": LABELS[t], "predicted": LABELS[int(p.argmax())],
                 **({"baseline": LABELS[int(b.argmax())]} if baseline is not None else {})}
                for i, r, t, p, b in zip(idx, recordings[m], y, probs,
                                         before if baseline is not None else probs, strict=True)]
        if name == "test":
            if reference is not None:
                agree = float(np.mean(probs.argmax(1) == reference.argmax(1))) if len(reference) == len(probs) else None
                metrics["keras_vs_torch_top1_agreement"] = agree
            if keep_probs:  # for calibrating "unsure" and measuring its precision and recall
                np.savez(keep_probs, probs=probs, y=y, clip=idx)
        train.confusion_png(out.with_name(f"{out.stem}.confusion{'' if name == 'test' else '-' + name}.png"),
                            y, probs.argmax(axis=1), LABELS, f"{out.stem}: {what}")
        r = metrics[name]["per_recording"]
        was = (f"; before: {metrics['baseline'][name]['instrument']:.1%} / "
               f"{metrics['baseline'][name]['per_recording']['instrument']:.1%}" if baseline is not None else "")
        print(f"{what}: top-1 {metrics[name]['top1']:.1%}, top-3 {metrics[name]['top3']:.1%}, "
              f"instrument {metrics[name]['instrument']:.1%} ({metrics[name]['n']} pieces), per recording "
              f"{r['instrument']:.1%} ({r['n']}){was}", flush=True)


def save(model, meta: dict, metrics: dict, out: Path, clips: list, val_groups: set[str], root: Path) -> None:
    """The model, its sidecar, its metrics and the list of clips it was made and measured with."""
    train.save_model(model, out, meta)
    out.with_name(f"{out.stem}.metrics.json").write_text(json.dumps(metrics, indent=1) + "\n", encoding="utf-8")
    train.write_clips_csv(out.with_name(f"{out.stem}.clips.csv"), clips, val_groups, root)
    print(f"wrote {out} ({out.stat().st_size / 1e6:.1f} MB)")


def assemble(args) -> None:
    started = time.monotonic()
    model, h = keras_model(args.checkpoint, args.results, args.config)
    clips = train.read_manifest(args.manifest)
    val_groups = train.validation_groups([c for c in clips if c.split != "test"], 0.15, 0)
    ds = train.extract(clips, SFX_MEL, train.TrimRule(), args.cache)
    split = np.array([c.split or ("val" if c.group in val_groups else "train") for c in clips])[ds.clip]
    trained = tuple(label for label in LABELS if LABELS.index(label) in set(ds.y[split == "train"].tolist()))
    results = json.loads((args.results / "results.json").read_text())
    chosen = results.get(args.config.replace("-", "@").replace(".", "+"), {})
    metrics: dict = {"train_images": int((split == "train").sum()), "train_seconds": chosen.get("seconds"),
                     "epochs_run": chosen.get("epochs", [None])[-1], "selection": results}
    counts = np.bincount(ds.y[split == "train"], minlength=len(LABELS))
    metrics["train_images_per_label"] = {LABELS[i]: int(counts[i]) for i in np.flatnonzero(counts)}
    torch_test = h["test_p"].astype(np.float32)
    report(model, clips, ds, split, trained, args.out, metrics, args.keep_probs, torch_test)
    blocks = sorted({p.stem.split("_", 1)[1] for p in args.results.glob(f"{args.config}_conv_block*.npz")})
    meta = {
        "format": 1, "labels": list(LABELS), "trained_labels": list(trained), "features": SFX_MEL.to_dict(),
        "embedding_layer": "embedding",
        "architecture": {"name": "aisfx", "weights": "aisfx 0.1.2 (CC BY 4.0), fine-tuned", "fine_tuned": blocks,
                         "head_hidden": int(h["head.hidden.weight"].shape[0]), "config": args.config},
        "trained_on": args.trained_on, "created_at": utc_now(),
        "metrics": {k: {m: round(metrics[k][m], 4) for m in ("n", "top1", "top3", "instrument")}
                    for k in REPORTS if k in metrics},
    }
    save(model, meta, metrics, args.out, clips, val_groups, args.manifest.parent)
    print(f"assembled in {time.monotonic() - started:.0f} s; "
          f"Keras/torch top-1 agreement on held-out clips: {metrics.get('keras_vs_torch_top1_agreement')}")


#: head configurations compared out of fold: hidden units, loss weighting ("class": balanced labels;
#: "fam": also each source family of a label weighs the same, within 4x of its clip share), epochs
HEAD_HIDDEN = (256,)
HEAD_WEIGHTING = ("class", "fam")
HEAD_EPOCHS = (20, 40, 80)
HEAD_LAYERS = ("head_standardise", "head_hidden", "probs")


def clip_weights(y: np.ndarray, family: np.ndarray, weighting: str) -> np.ndarray:
    """Per-image loss weights: balanced labels (train.class_weights), and with "fam" balanced families within
    each label, so that a label's one big source does not drown its others."""
    cw = train.class_weights(y, len(LABELS))
    w = np.array([cw[int(label)] for label in y], np.float32)
    if weighting == "fam":
        for label in np.unique(y):
            m = y == label
            fams, counts = np.unique(family[m], return_counts=True)
            for fam, c in zip(fams, counts, strict=True):
                w[m & (family == fam)] *= np.clip(m.sum() / len(fams) / c, 0.25, 4.0)
    return w / w.mean()


def fit_head(e: np.ndarray, y: np.ndarray, w: np.ndarray, hidden: int, epochs: tuple[int, ...], seed: int,
             predict: np.ndarray | None = None, start=None, lr: float = 1e-3):
    """A head (train.build_head) fitted on embeddings ``e`` with Adam at ``lr`` (batches of 256: a 2-core CPU
    spends its time per step, not per example) and label smoothing 0.05; returns it and,
    if ``predict`` is given, its probabilities for those embeddings after each of ``epochs``.

    start: a model whose head (its standardisation, hidden and output layers) the fit starts from, so that a
    label only the start's training material held is fine-tuned rather than forgotten."""
    import keras

    keras.utils.set_random_seed(seed)
    head = train.build_head(e, len(LABELS), hidden)
    if start is not None:
        # rebuilt rather than overwritten, so that the dropout seeds are those of docs/training.md's round 4,
        # whose head is the bundled one: the same command gives the same weights
        head = train.build_head(e[:2], len(LABELS), hidden)
        for name in HEAD_LAYERS:
            head.get_layer(name).set_weights(start.get_layer(name).get_weights())
        head.get_layer("head_standardise").finalize_state()
    head.compile(optimizer=keras.optimizers.Adam(lr),
                 loss=keras.losses.CategoricalCrossentropy(label_smoothing=0.05))
    onehot = keras.utils.to_categorical(y, len(LABELS)).astype(np.float32)
    probs, done = [], 0
    for upto in epochs:
        head.fit(e, onehot, sample_weight=w, batch_size=256, epochs=upto, initial_epoch=done, verbose=0)
        done = upto
        if predict is not None:
            probs.append(head.predict(predict, batch_size=256, verbose=0))
    return head, probs


def head_of(model, e: np.ndarray):
    """``model``'s head (its standardisation, hidden and output layers) as a model on embeddings ``e``."""
    head = train.build_head(e[:2], len(LABELS), model.get_layer("head_hidden").units)
    for name in HEAD_LAYERS:
        head.get_layer(name).set_weights(model.get_layer(name).get_weights())
    head.get_layer("head_standardise").finalize_state()
    return head


def embeddings(embedder, model_file: Path, manifest: Path, clips: list, cache: Path, work: Path):
    """Images and embeddings of one manifest's clips, the embeddings cached in ``work`` (keyed by the model's
    and the manifest's bytes: the backbone is frozen, so they are computed once)."""
    import hashlib

    ds = train.extract(clips, SFX_MEL, train.TrimRule(), cache)
    key = hashlib.sha1(model_file.read_bytes() + manifest.read_bytes()).hexdigest()[:16]
    path = work / f"embeddings-{key}.npz"
    if path.is_file():
        return ds, np.load(path)["e"]
    e = train.embed(embedder, ds.x)
    work.mkdir(parents=True, exist_ok=True)
    np.savez(path, e=e)
    return ds, e


def export(path: Path, e: np.ndarray, ds, clips: list, split: np.ndarray, family: np.ndarray, model: Path) -> None:
    """Every image's embedding with its label, family, split (train, val, test: held-out sample libraries,
    real: held-out real recordings), file and recording, for out-of-distribution scores and show simulations."""
    np.savez_compressed(path, e=e.astype(np.float32), y=ds.y, label=np.array(LABELS)[ds.y], family=family,
                        split=split, held_out=np.isin(split, ("test", "real")),
                        path=np.array([clips[i].path.resolve().as_posix() for i in ds.clip]),
                        recording=np.array([recording_of(clips[i]) for i in ds.clip]),
                        labels=np.array(LABELS), model=np.array(model.name))
    print(f"wrote {path} ({len(e)} embeddings)", flush=True)


def head_config(text: str) -> tuple[str, int]:
    """``fam-40`` → ("fam", 40): a loss weighting of HEAD_WEIGHTING and a number of epochs."""
    weighting, _, epochs = text.partition("-")
    if weighting not in HEAD_WEIGHTING or not epochs.isdigit() or int(epochs) < 1:
        raise argparse.ArgumentTypeError(f"expected WEIGHTING-EPOCHS with WEIGHTING in {HEAD_WEIGHTING}, e.g. fam-40")
    return weighting, int(epochs)


def head(args) -> None:
    """Retrain only the head of a model on a frozen backbone (its layers up to ``embedding``), on a CPU."""
    import keras

    started = time.monotonic()
    shipped = keras.saving.load_model(args.model, compile=False)
    embedder = keras.Model(shipped.inputs, shipped.get_layer("embedding").output, name=shipped.name)
    clips, val_groups, parts = [], set(), []
    for manifest in args.manifests:
        mine = train.read_manifest(manifest)
        # each corpus keeps its own validation recordings: those the backbone was tuned without stay so
        val_groups |= train.validation_groups([c for c in mine if c.split != "test"], 0.15, 0)
        ds, e = embeddings(embedder, args.model, manifest, mine, args.cache, args.work)
        parts.append((ds, e, len(clips)))
        clips += mine
    ds = train.Dataset(np.concatenate([d.x for d, _, _ in parts]), np.concatenate([d.y for d, _, _ in parts]),
                       np.concatenate([d.clip + offset for d, _, offset in parts]))
    e = np.concatenate([e for _, e, _ in parts])
    split = np.array([held_out_set(c) if c.split == "test" else "val" if c.group in val_groups else "train"
                      for c in clips])[ds.clip]
    family = np.array([clips[i].family or clips[i].source for i in ds.clip])
    if args.export:
        export(args.export, e, ds, clips, split, family, args.model)
    fold = folds_over_families(family, ~np.isin(split, ("test", "real")))
    trained = tuple(label for label in LABELS if LABELS.index(label) in set(ds.y[split == "train"].tolist()))
    inst = np.array([DEFAULT_MAPPING[label] for label in LABELS])

    # leave-family-out cross-validation over the training families: never the held-out ones
    cal = fold >= 0
    start = shipped if args.warm_start else None
    lr = args.warm_start or 1e-3
    grid = [(h, wt, (ep,)) for h in HEAD_HIDDEN for wt, ep in [args.config]] if args.config else \
        [(h, wt, HEAD_EPOCHS) for h in HEAD_HIDDEN for wt in HEAD_WEIGHTING]
    oof = {(h, wt, ep): np.zeros((len(e), len(LABELS)), np.float32) for h, wt, eps in grid for ep in eps}
    for h, wt, eps in grid:
        for k in sorted(set(fold[cal].tolist())):
            tr, te = cal & (fold != k), fold == k
            _, probs = fit_head(e[tr], ds.y[tr], clip_weights(ds.y[tr], family[tr], wt), h, eps, args.seed, e[te],
                                start, lr)
            for ep, p in zip(eps, probs, strict=True):
                oof[h, wt, ep][te] = mask_untrained(p, LABELS, trained)
    selection = {}
    for (h, wt, ep), p in oof.items():
        pred = p[cal].argmax(1)
        per_label = [np.mean(pred[ds.y[cal] == i] == i) for i in np.unique(ds.y[cal])]
        selection[f"h{h}-{wt}-{ep}"] = {"oof_top1": float(np.mean(pred == ds.y[cal])),
                                        "oof_inst": float(np.mean(inst[pred] == inst[ds.y[cal]])),
                                        "oof_label_min": float(np.min(per_label))}
        print(f"h{h}-{wt}-{ep}", {k: round(v, 4) for k, v in selection[f"h{h}-{wt}-{ep}"].items()}, flush=True)
    h, wt, ep = max(oof, key=lambda c: (selection[f"h{c[0]}-{c[1]}-{c[2]}"]["oof_inst"],
                                         selection[f"h{c[0]}-{c[1]}-{c[2]}"]["oof_top1"]))
    config = f"h{h}-{wt}-{ep}" + (f"-warm{lr:g}" if start is not None else "")
    print("chosen" if not args.config else "given", "configuration:", config, flush=True)
    np.savez(args.work / "oof.npz", oof_p=oof[h, wt, ep], oof_e=e.astype(np.float16))
    np.savez(args.work / "folds.npz", y=ds.y, fold=fold, clip=ds.clip)
    with open(args.work / "manifest.csv", "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=("file", "label", "split", "family", "origin"))
        w.writeheader()
        w.writerows({"file": c.path.resolve().as_posix(), "label": c.label, "split": c.split or "train",
                     "family": c.family, "origin": c.group} for c in clips)

    tr = split == "train"
    fitted, _ = fit_head(e[tr], ds.y[tr], clip_weights(ds.y[tr], family[tr], wt), h, (ep,), args.seed, None,
                         start, lr)
    model = train.compose(embedder, fitted)
    counts = np.bincount(ds.y[tr], minlength=len(LABELS))
    metrics: dict = {"train_images": int(tr.sum()), "train_images_per_label": {
        LABELS[i]: int(counts[i]) for i in np.flatnonzero(counts)}, "selection": selection, "head_config": config,
        "head_config_given": bool(args.config),
        "train_seconds": None, "backbone_from": args.model.name}
    meta = json.loads(args.model.with_suffix(".json").read_text())
    start_head = head_of(shipped, e)
    report(model, clips, ds, split, trained, args.out, metrics, args.keep_probs,
           baseline=(start_head.predict(e, batch_size=256, verbose=0), tuple(meta["trained_labels"])),
           embedded=(e, fitted))
    metrics["baseline_model"] = args.model.name
    arch = meta["architecture"] | {"head_hidden": h, "head_config": config,
                                   "head": "retrained on the frozen backbone (tools/finetune_aisfx.py head)"}
    meta |= {"trained_labels": list(trained), "architecture": arch, "trained_on": args.trained_on or meta["trained_on"],
             "created_at": utc_now(),
             "metrics": {k: {m: round(metrics[k][m], 4) for m in ("n", "top1", "top3", "instrument")}
                         for k in REPORTS if k in metrics}}
    metrics["train_seconds"] = round(time.monotonic() - started)
    root = Path(os.path.commonpath([m.parent.resolve() for m in args.manifests]))
    save(model, meta, metrics, args.out, clips, val_groups, root)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(required=True)
    cache = Path.home() / ".cache" / "exsampling" / "features"
    for name, fn in (("pack", pack), ("assemble", assemble)):
        p = sub.add_parser(name)
        p.add_argument("manifest", type=Path)
        p.add_argument("--cache", type=Path, default=cache)
        p.add_argument("--checkpoint", type=Path, required=True, help="aisfx/models/checkpoint.pth from the wheel")
        p.set_defaults(func=fn)
        if name == "pack":
            p.add_argument("--data", type=Path, default=Path("data/dev"))
        else:
            p.add_argument("--results", type=Path, required=True, help="the torch run's $OUT folder")
            p.add_argument("--config", required=True,
                           help="e.g. b234-30 or b234-30.fs (the file name of the configuration chosen out of fold)")
            p.add_argument("--out", type=Path, required=True)
            p.add_argument("--trained-on", default="")
            p.add_argument("--keep-probs", type=Path, help="write the held-out probabilities here (.npz)")
    p = sub.add_parser("head", help="retrain only the head of MODEL, its backbone frozen (a CPU is enough)")
    p.add_argument("model", type=Path, help="the model whose backbone (up to its embedding layer) is kept")
    p.add_argument("manifests", type=Path, nargs="+", help="corpus manifests (e.g. a corpus and a supplement)")
    p.add_argument("--cache", type=Path, default=cache)
    p.add_argument("--work", type=Path, default=Path("data/head"),
                   help="embeddings, out-of-fold predictions and folds (for tools/calibrate.py)")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--trained-on", default="")
    p.add_argument("--keep-probs", type=Path, help="write the held-out probabilities here (.npz)")
    p.add_argument("--export", type=Path, metavar="NPZ",
                   help="also write every clip's embedding, label, family and split here, as soon as they are computed")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--warm-start", type=float, metavar="LR",
                   help="fine-tune MODEL's own head at this Adam learning rate instead of training a fresh one")
    p.add_argument("--config", type=head_config, metavar="WEIGHTING-EPOCHS",
                   help="e.g. fam-40: use this loss weighting and number of epochs instead of choosing them out of "
                        "fold (the out-of-fold predictions are still written, for tools/calibrate.py)")
    p.set_defaults(func=head)
    args = ap.parse_args()
    args.func(args)


if __name__ == "__main__":
    main()
