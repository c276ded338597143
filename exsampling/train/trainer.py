"""One training run end to end (:func:`train`): features, splits, the network, fitting, the held-out evaluation,
and what it writes beside the model."""
from __future__ import annotations

import csv
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..features import FeatureParams
from ..mapping import LABELS
from ..records import utc_now
from .errors import TrainError
from .evaluation import confusion_png, evaluate, per_family
from .fitting import fit
from .images import Dataset, TrimRule, extract
from .layouts import Clip
from .models import build_head, build_model, check_imagenet, compose, embed, load_backbone
from .splits import validation_groups


def save_model(model, out: Path, meta: dict) -> None:
    """Write ``out`` (.keras, without optimizer state) and its ``.json`` sidecar."""
    import keras

    out.parent.mkdir(parents=True, exist_ok=True)
    clean = keras.models.clone_model(model)
    clean.set_weights(model.get_weights())
    clean.save(out)
    out.with_suffix(".json").write_text(json.dumps(meta, indent=1) + "\n", encoding="utf-8")


def write_clips_csv(path: Path, clips: list[Clip], val_groups: set[str], root: Path | None) -> None:
    """Every clip used, its split (train / validation / test), source, licence and source family."""
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["file", "label", "split", "source", "licence", "family"])
        for c in clips:
            split = c.split or ("validation" if c.group in val_groups else "train")
            name = c.path.relative_to(root).as_posix() if root and c.path.is_relative_to(root) else str(c.path)
            w.writerow([name, c.label, split, c.source, c.licence, c.family])


@dataclass(frozen=True)
class Options:
    """Everything a training run depends on (from the command line)."""

    out: Path
    alpha: float = 0.35
    weights: str = "none"
    epochs: int = 40
    batch_size: int = 32
    patience: int = 6
    lr: float = 1e-3
    seed: int = 0
    val_fraction: float = 0.15
    dropout: float = 0.3
    bn_momentum: float = 0.9
    cache_dir: Path | None = None
    base: Path | None = None
    trained_on: str = ""
    verbose: int = 1
    backbone: str = "mobilenetv2"
    backbone_file: Path | None = None
    head_hidden: int = 256


def train(clips: list[Clip], params: FeatureParams, trim: TrimRule, opt: Options, data_root: Path | None = None
          ) -> dict:
    """Train (or fine-tune ``opt.base``) on ``clips``, write the model and its reports; return the metrics."""
    import keras

    from ..classifier import mask_untrained, read_info

    if opt.base is None and opt.weights == "imagenet":
        check_imagenet(opt.alpha)  # before minutes of feature extraction
    opt.out.parent.mkdir(parents=True, exist_ok=True)
    keras.utils.set_random_seed(opt.seed)
    started = time.monotonic()
    val_groups = validation_groups(clips, opt.val_fraction, opt.seed)
    ds = extract(clips, params, trim, opt.cache_dir)
    if not len(ds.x):
        raise TrainError("no usable audio in the data (all files silent or unreadable)")
    split = np.array([c.split or ("val" if c.group in val_groups else "train") for c in clips])[ds.clip]
    part = {name: Dataset(ds.x[split == name], ds.y[split == name], ds.clip[split == name])
            for name in ("train", "val", "test")}
    if not len(part["train"].x):
        raise TrainError("no training clips (every clip is in the held-out or validation split)")
    trained = [label for label in LABELS if LABELS.index(label) in set(part["train"].y.tolist())]
    time_axis: int | None = 1 if params.frontend == "sfx-mel" else 2
    predict = None
    if opt.base is not None:
        info = read_info(opt.base)
        if info.features != params:
            raise TrainError(f"{opt.base.name} was trained with other feature parameters than the config's")
        model = keras.saving.load_model(opt.base, compile=False)
        for layer in model.layers:  # a pretrained backbone stays as it is; its head learns
            if layer.name.startswith("conv_block"):
                layer.trainable = False
        trained = [label for label in LABELS if label in set(trained) | set(info.trained_labels)]
        architecture = json.loads(opt.base.with_suffix(".json").read_text()).get("architecture", {})
    elif opt.backbone == "aisfx":
        if params.frontend != "sfx-mel":
            raise TrainError("the aisfx backbone needs the sfx-mel features (exsampling.features.SFX_MEL)")
        backbone = load_backbone(opt.backbone_file)
        emb = {name: Dataset(embed(backbone, d.x), d.y, d.clip) for name, d in part.items()}
        model = head = build_head(emb["train"].x, len(LABELS), opt.head_hidden, opt.dropout)
        architecture = {"name": "aisfx", "weights": "aisfx 0.1.2 (CC BY 4.0), frozen", "head_hidden": opt.head_hidden}
        part, time_axis = emb, None

        def predict(d: Dataset) -> np.ndarray:  # on the embeddings already computed
            return head.predict(d.x, batch_size=256, verbose=0)
    else:
        model = build_model(params.shape, len(LABELS), opt.alpha, None if opt.weights == "none" else opt.weights,
                            opt.dropout, opt.bn_momentum)
        architecture = {"name": "MobileNetV2", "alpha": opt.alpha, "weights": opt.weights}
    print(f"training on {len(part['train'].x)} images ({len(trained)} labels), validating on "
          f"{len(part['val'].x)}, holding out {len(part['test'].x)}", file=sys.stderr)
    history = fit(model, part["train"], part["val"], opt.epochs, opt.batch_size, opt.patience, opt.lr, opt.seed,
                  opt.verbose, time_axis)
    if predict is not None:
        model = compose(backbone, head)
    train_s = time.monotonic() - started

    metrics: dict = {"train_images": len(part["train"].x), "train_seconds": round(train_s, 1),
                     "epochs_run": len(history.get("loss", []))}
    counts = np.bincount(part["train"].y, minlength=len(LABELS))
    metrics["train_images_per_label"] = {LABELS[i]: int(counts[i]) for i in np.flatnonzero(counts)}
    reports = {"val": "validation (held-out recordings of the training sources)",
               "test": "held-out sources (never heard in training)"}
    for name, what in reports.items():
        d = part[name]
        if not len(d.x):
            continue
        raw = predict(d) if predict is not None else model.predict(d.x, batch_size=64, verbose=0)
        probs = mask_untrained(raw, LABELS, tuple(trained))
        metrics[name] = {"what": what, **evaluate(probs, d.y)}
        if name == "test":
            metrics[name]["per_family"] = per_family(probs, d.y, [clips[i].family or clips[i].source for i in d.clip])
        confusion_png(opt.out.with_name(f"{opt.out.stem}.confusion{'' if name == 'test' else '-' + name}.png"),
                      d.y, probs.argmax(axis=1), LABELS, f"{opt.out.stem}: {what}")
    summary = {k: {m: round(metrics[k][m], 4) for m in ("n", "top1", "top3", "instrument")}
               for k in reports if k in metrics}
    meta = {
        "format": 1, "labels": list(LABELS), "trained_labels": trained, "features": params.to_dict(),
        "embedding_layer": "embedding", "architecture": architecture,
        "trained_on": opt.trained_on or f"{len(clips)} clips ({len(trained)} labels)",
        "metrics": summary, "created_at": utc_now(),
    }
    save_model(model, opt.out, meta)
    metrics["history"] = {k: [round(float(v), 4) for v in vs] for k, vs in history.items()}
    opt.out.with_name(f"{opt.out.stem}.metrics.json").write_text(json.dumps(metrics, indent=1) + "\n",
                                                                  encoding="utf-8")
    write_clips_csv(opt.out.with_name(f"{opt.out.stem}.clips.csv"), clips, val_groups, data_root)
    return metrics
