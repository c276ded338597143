"""Write models/README.md (the model card) from the files a training run wrote: no number is typed by hand.

Reads NAME.json (sidecar), NAME.metrics.json, NAME.clips.csv beside the model, and the corpus'
coverage.json if given. Run: ``.venv/bin/python tools/model_card.py models/default.keras --coverage
data/corpus/coverage.json > models/README.md``
"""
from __future__ import annotations

import argparse
import csv
import json
from collections import Counter, defaultdict
from pathlib import Path

from exsampling.mapping import DEFAULT_MAPPING, LABELS
from exsampling.train import wilson_interval


def pct(x: float) -> str:
    return f"{100 * x:.1f} %"


def with_ci(m: dict, key: str) -> str:
    """``49.5 % (45.9–53.1)``: an accuracy over ``m["n"]`` clips and its 95 % Wilson interval."""
    lo, hi = wilson_interval(round(m[key] * m["n"]), m["n"])
    return f"{pct(m[key])} ({100 * lo:.1f}–{100 * hi:.1f})"


def card(model: Path, coverage: dict | None) -> str:
    """The model card as Markdown."""
    meta = json.loads(model.with_suffix(".json").read_text())
    metrics = json.loads(model.with_name(f"{model.stem}.metrics.json").read_text())
    with open(model.with_name(f"{model.stem}.clips.csv"), newline="") as f:
        clips = list(csv.DictReader(f))
    trained = meta["trained_labels"]
    untrained = [label for label in LABELS if label not in trained]
    counts: dict[str, Counter] = defaultdict(Counter)
    sources: dict[str, set] = defaultdict(set)
    licences: Counter = Counter()
    for c in clips:
        counts[c["label"]][c["split"]] += 1
        sources[(c["label"], c["split"] == "test")].add(c["source"])
        if c["split"] != "test":  # held-out clips are never learnt from
            licences[c["licence"]] += 1
    arch = meta["architecture"]
    out = [
        f"# Model card: `{model.name}`",
        "",
        (f"MobileNetV2 (alpha {arch['alpha']}, weights {arch['weights']}) on {meta['features']['n_mels']}-band log-mel "
        f"images of 5-s samples ({meta['features']['sample_rate']} Hz), 41 FSDKaggle2018 outputs of which "
        f"{len(trained)} were trained. File size {model.stat().st_size / 1e6:.1f} MB. Created {meta['created_at']}. "
        f"Trained on: {meta['trained_on']}."),
        "",
        (f"Training: {metrics['train_images']} images, {metrics['epochs_run']} epochs (early stopping on the "
        f"validation loss), {metrics['train_seconds'] / 60:.0f} min on this project's 2-core CPU, features included."),
        "",
        "## Held-out results",
        "",
        "Two numbers, measured by `exsampling train` on clips it did not train on:",
        "",
        ("* **held-out sources** — SoundFonts, drum kits and effect sets never heard in training "
        "(TimGM6mb + csound's sf_GMbank, which share most samples; the Hydrogen kits ForzeeStereo, Gimme A Hand, "
        "VariBreaks; the Black Pearl kit in both its Hydrogen and AVL versions). This is the honest number."),
        ("* **validation** — other recordings (notes, hits) of the *training* sources: a random split by "
        "recording. It is higher because the sources are familiar; early stopping used it."),
        "",
        "Instrument = the predicted label lands on the right instrument track of the paper's Fig. 5.",
        "",
        "| set | clips | top-1 (95 % interval) | top-3 | instrument (95 % interval) |",
        "|---|---:|---:|---:|---:|",
    ]
    for key in ("test", "val"):
        if key in metrics:
            m = metrics[key]
            out.append(f"| {m['what']} | {m['n']} | {with_ci(m, 'top1')} | {pct(m['top3'])} | "
                       f"{with_ci(m, 'instrument')} |")
    if "test" in metrics:
        t = metrics["test"]
        out += ["", "### Per instrument (held-out sources)", "", "| instrument | clips | right instrument |",
                "|---|---:|---:|"]
        for inst, v in t["per_instrument"].items():
            out.append(f"| {inst} | {v['n']} | {pct(v['accuracy'])} |")
    out += ["", "### Per label", "",
            ("| label | instrument | training-source clips | held-out clips | held-out top-1 | top-3 | instrument | "
            "validation top-1 |"), "|---|---|---:|---:|---:|---:|---:|---:|"]
    t = metrics.get("test", {}).get("per_label", {})
    v = metrics.get("val", {}).get("per_label", {})
    for label in trained:
        tl = t.get(label)
        held = f"{pct(tl['top1'])} | {pct(tl['top3'])} | {pct(tl['instrument'])}" if tl else "— | — | —"
        val = pct(v[label]["top1"]) if label in v else "—"
        out.append(f"| {label} | {DEFAULT_MAPPING[label]} | {counts[label]['train'] + counts[label]['validation']} | "
                   f"{counts[label]['test']} | {held} | {val} |")
    out += [
        "",
        (f"Confusion matrices: [`{model.stem}.confusion.png`]({model.stem}.confusion.png) (held-out sources) and "
        f"[`{model.stem}.confusion-val.png`]({model.stem}.confusion-val.png) (validation). Every number above "
        f"is in [`{model.stem}.metrics.json`]({model.stem}.metrics.json); this card is generated from it by "
        "`tools/model_card.py`."),
        "",
        "## What it cannot know",
        "",
        f"**Never trained ({len(untrained)} labels)** — the classifier masks them, so they are never answered: "
        + ", ".join(untrained) + ". No sound in the Debian packages surveyed honestly holds them. A sound of "
        "these kinds gets the nearest trained label; the console calls it \"unsure\" only when the top "
        "probability is below `[classifier] unsure_below`, which was not measured on such sounds. "
        "Teach them with your own recordings (below) or the console's re-labelling.",
        "",
    ]
    no_test = [label for label in trained if label not in t]
    if no_test:
        out.append(f"**Trained but not measured on a held-out source** (only one source exists): {', '.join(no_test)}.")
        out.append("")
    thin = [f"{label} ({len(sources[(label, False)])})" for label in trained if len(sources[(label, False)]) <= 2]
    if thin:
        out += ["**Thin labels** (distinct training presets, kits or files): " + ", ".join(thin)
                + ". Expect such a label to generalise poorly to other recordings.", ""]
    out += [
        ("All training sounds are instrument samples and sound effects, augmented with synthetic rooms, phone-like "
        "band limits and noise; none is a phone recording of a real room. Expect lower accuracy on real audience "
        "recordings than the held-out numbers above, which are measured on other *sample libraries*."),
        "",
        "## Training data and licences",
        "",
        "| label | training sources | held-out sources |",
        "|---|---|---|",
    ]
    for label in trained:
        out.append(f"| {label} | {'; '.join(sorted(sources[(label, False)]))} | "
                   f"{'; '.join(sorted(sources[(label, True)])) or '—'} |")
    out += ["", "Licences of the clips the model learnt from (training and validation clips):", ""]
    out += [f"* {lic}: {n}" for lic, n in licences.most_common()]
    out += [
        "",
        ("The model's weights are derived from these recordings. The sources are free licences (MIT, public "
        "domain, CC0, CC-BY-3.0, CC-BY-SA-3.0, GPL-2/GPL-2+). Whether a trained network is a derivative work "
        "of its training audio is unsettled; we ship it on the most cautious reading: the model file carries "
        "the attribution above, and anyone redistributing it should keep this card with it, credit the "
        "CC-BY/CC-BY-SA authors (Emanuel Rumpf's rumpf kit, Luc Tunguay's BJA Pacific, Glen MacArthur's AVL "
        "drums) and treat the CC-BY-SA and GPL parts as applying. No audio is shipped; the clips are rebuilt "
        f"locally by `exsampling corpus`. Every clip, its source and licence: [`{model.stem}.clips.csv`]"
        f"({model.stem}.clips.csv)."),
    ]
    if coverage:
        out += ["", f"Corpus packages missing when it was built: {', '.join(coverage['missing_packages']) or 'none'}."]
    out += [
        "",
        "## Retrain",
        "",
        "```sh",
        "exsampling corpus --out data/corpus           # renders and cuts the clips (≈ 3 min, ≈ 250 MB)",
        f"exsampling train data/corpus --out models/{model.name}   # features cached; see docs/training.md",
        (f".venv/bin/python tools/model_card.py models/{model.name} --coverage data/corpus/coverage.json "
        "> models/README.md"),
        "```",
        "",
        ("Your own sounds: `exsampling train MY_SOUNDS/` with one folder per label (e.g. `MY_SOUNDS/Knock/*.wav`); "
        "the console's re-labelled samples: `exsampling train --from-library LIBRARY_DIR`. See docs/training.md."),
        "",
    ]
    return "\n".join(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("model", type=Path)
    ap.add_argument("--coverage", type=Path)
    args = ap.parse_args()
    coverage = json.loads(args.coverage.read_text()) if args.coverage else None
    print(card(args.model, coverage), end="")


if __name__ == "__main__":
    main()
