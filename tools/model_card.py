"""Write models/README.md (the model card) from the files a training run wrote: no number is typed by hand.

Reads NAME.json (sidecar), NAME.metrics.json, NAME.clips.csv and NAME.runtime.json (the converted runtime,
tools/convert_runtime.py) beside the model, and the corpus' coverage.json if given. Run: ``.venv/bin/python
tools/model_card.py models/default.keras --coverage data/corpus/coverage.json > models/README.md``
"""
from __future__ import annotations

import argparse
import csv
import json
from collections import Counter, defaultdict
from pathlib import Path

from exsampling import runtime
from exsampling.mapping import DEFAULT_MAPPING, LABELS
from exsampling.train import wilson_interval

#: issue 10's bar: no trained label below this top-1 on the held-out sources (the card names those below it).
WEAK_LABEL = 0.30


def pct(x: float) -> str:
    return f"{100 * x:.1f} %"


def with_ci(m: dict, key: str) -> str:
    """``49.5 % (45.9–53.1)``: an accuracy over ``m["n"]`` clips and its 95 % Wilson interval."""
    lo, hi = wilson_interval(round(m[key] * m["n"]), m["n"])
    return f"{pct(m[key])} ({100 * lo:.1f}–{100 * hi:.1f})"


def warm_started(arch: dict) -> bool:
    """Whether tools/finetune_aisfx.py head fine-tuned the earlier head (``--warm-start``: its config ends "-warmLR")
    rather than training a new one."""
    return "-warm" in arch.get("head_config", "")


def describe(meta: dict, model: Path, n_trained: int) -> str:
    """One paragraph: the network, its input, its outputs, size and what it was trained on."""
    arch, feats = meta["architecture"], meta["features"]
    if arch["name"] == "aisfx":
        blocks = ", ".join(b[-1] for b in arch.get("fine_tuned", []))
        tuned = f"blocks {blocks} fine-tuned and " if blocks else ""
        if "head_config" in arch:  # tools/finetune_aisfx.py head: a new head on the earlier model's frozen backbone
            tuned = f"blocks {blocks} fine-tuned earlier on a GPU, kept frozen here, and " if blocks else ""
        net = (f"The aisfx sound-effects embedding (Ma & Lerch, ISMIR 2022; CC BY 4.0, see ../NOTICE) — a 9-layer "
               f"CNN pretrained on professional sound-effects libraries — with "
               f"{tuned}"
               f"{'its earlier head fine-tuned' if warm_started(arch) else 'a new head'} "
               f"({arch.get('head_hidden', 0)} hidden units), on {feats['n_mels']}-band HTK mel maps "
               f"(sfx-mel) of 5-s samples ({feats['sample_rate']} Hz)")
    else:
        net = (f"MobileNetV2 (alpha {arch['alpha']}, weights {arch['weights']}) on {feats['n_mels']}-band log-mel "
               f"images of 5-s samples ({feats['sample_rate']} Hz)")
    return (f"{net}, 41 FSDKaggle2018 outputs of which {n_trained} were trained. File size "
            f"{model.stat().st_size / 1e6:.1f} MB. Created {meta['created_at']}. Trained on: {meta['trained_on']}.")


def training_line(meta: dict, metrics: dict) -> str:
    if "head_config" in metrics:
        sel = metrics["selection"]
        rows = "; ".join(f"{cfg}: {100 * r['oof_inst']:.1f} %" for cfg, r in sel.items())
        warm = warm_started(meta["architecture"])
        chosen = ("was given, fixed before any held-out figure of it was computed (docs/training.md, round 4; right "
                  f"instrument out of fold — {rows})" if metrics.get("head_config_given") else
                  "was chosen by leave-family-out cross-validation over the *training* families (right instrument "
                  f"out of fold — {rows}), never on the held-out families")
        return (f"Training: {metrics['train_images']} clips. The backbone is the earlier bundled model's (its blocks "
                "2–4 were fine-tuned on a GPU on the corpus without the families added since), kept frozen; only "
                f"the head was {'fine-tuned from the earlier bundled head' if warm else 'retrained'}, on a 2-core "
                f"CPU (tools/finetune_aisfx.py head, {metrics['train_seconds']} s with the cross-validation, "
                "embeddings cached). Its configuration (hN: hidden units; class: balanced labels, fam: also balanced "
                f"source families within a label; epochs; warmLR: started from the earlier head, Adam at LR) {chosen}: "
                f"`{metrics['head_config']}`. The out-of-fold figures flatter the families the backbone was "
                "fine-tuned on (its convolutions saw them), not the added ones"
                + (", and a warm-started head saw every earlier family." if warm else "."))
    if meta["architecture"]["name"] == "aisfx" and "selection" in metrics:
        sel = metrics["selection"]
        rows = "; ".join(f"{cfg}: {100 * r['oof_inst']:.1f} %" for cfg, r in sel.items())
        return (f"Training: {metrics['train_images']} clips. Blocks 2–4 and the head were fine-tuned on a GPU "
                f"(tools/finetune_aisfx.py, {metrics.get('train_seconds') or 0:.0f} s for the cross-validation and "
                "the final model). The configuration was chosen by leave-family-out cross-validation over the "
                f"*training* families (right instrument out of fold — {rows}), never on the held-out families.")
    return (f"Training: {metrics['train_images']} images, {metrics['epochs_run']} epochs (early stopping on the "
            f"validation loss), {metrics['train_seconds'] / 60:.0f} min on this project's 2-core CPU, features "
            "included.")


def calibration_lines(metrics: dict) -> list[str]:
    """The "unsure" flag, the memory and the show simulation, from metrics["calibration"] and metrics["show"]."""
    out = []
    cal = metrics.get("calibration")
    if cal:
        u, m = cal["unsure"], cal["memory"]
        oof, test = u["out_of_fold"], u["test"]
        out += ["", "### \"Unsure\" and the re-label memory", "",
                (f"Calibrated on out-of-fold predictions of the *training* families (each clip predicted by a model "
                 f"trained without its source family), never on the held-out families. `unsure_below = "
                 f"{u['unsure_below']}` is the {u['rule']}. A flagged sample is one whose top probability is below it; "
                 "\"wrong\" means on the wrong Fig. 5 instrument."), "",
                ("| set | answers | wrong | flagged | precision (flagged that are wrong) | "
                 "recall (wrong that are flagged) |"),
                "|---|---:|---:|---:|---:|---:|",
                *(f"| {name} | {f['n']} | {f['wrong']} | {f['flagged']} | {pct(f['precision'])} | {pct(f['recall'])} |"
                  for name, f in (("out of fold (calibration)", oof), ("held-out sources (test)", test))),
                "",
                (f"Memory: `memory_max_distance = {m['radius']}` (the vote's radius, cosine distance) and "
                 f"`memory_strength = {m['strength']}`, the best of a grid in offline show streams out of fold: "
                 f"{pct(m['out_of_fold_show']['right_instrument'])} right instrument with "
                 f"{m['out_of_fold_show']['corrections_per_125']:.1f} corrections per 125 sounds "
                 f"(without the memory {pct(m['out_of_fold_show_without_memory']['right_instrument'])})."), ""]
    show = metrics.get("show")
    if show:
        w, wo = show["with"], show["without"]
        out += ["### Show simulation (bench/show.py)", "",
                (f"{w['streams']} streams of {w['sounds']} held-out sounds through the real pipeline; the performer "
                 "re-labels every sample on the wrong instrument at once."), "",
                "| | right instrument over the stream | worst stream | corrections per 125 sounds |",
                "|---|---:|---:|---:|",
                *(f"| {name} | {pct(r['right_instrument'])} | {pct(r['right_instrument_min'])} | "
                  f"{r['corrections_per_125']:.1f} |"
                  for name, r in (("without learning", wo), ("with the memory", w))),
                ""]
    return out


def real_recordings_lines(model: Path) -> list[str]:
    """The "unsure" curve and the show on real recordings, from MODEL.unsure.json (tools/calibrate.py --real) and
    MODEL.show-real.json (bench/show.py --real … --json); nothing when neither is there."""
    unsure_path = model.with_name(f"{model.stem}.unsure.json")
    show_path = model.with_name(f"{model.stem}.show-real.json")
    out: list[str] = []
    if unsure_path.exists():
        u = json.loads(unsure_path.read_text())
        cv, at = u["cross_validated_by_source"], u["at_default"]
        out += ["### \"Unsure\" on real recordings (tools/calibrate.py --real)", "",
                (f"A sample is unsure when its track probability (the summed probability of the labels mapped to its "
                 f"instrument) is below `unsure_below = {u['unsure_below']}`: {u['rule']}, on {u['pieces']} pieces "
                 f"of {u['recordings_judged']} real recordings the model never heard ({u['wrong']} on the wrong "
                 f"track). There it flags {pct(at['flagged'])} of the pieces and catches {pct(at['recall'])} of the "
                 f"wrong ones; cross-validated by recordist ({cv['sources']} sources: each flagged with the "
                 f"threshold chosen on the others) it flags {pct(cv['flagged'])} and catches {pct(cv['recall'])} "
                 f"(precision {pct(cv['precision'])}). The whole curve, with the top label's probability and the "
                 "logits' energy beside it:"), "",
                "| threshold | track: flagged | track: wrong caught | track: precision | top label: flagged | "
                "top label: wrong caught |", "|---:|---:|---:|---:|---:|---:|"]
        top = {c["threshold"]: c for c in u["curves"]["top label probability"]}
        out += [f"| {c['threshold']} | {pct(c['flagged'])} | {pct(c['recall'])} | {pct(c['precision'])} | "
                f"{pct(top[c['threshold']]['flagged'])} | {pct(top[c['threshold']]['recall'])} |"
                for c in u["curves"]["track probability"] if 0 < c["flagged"] < 1]
        out += ["", "Energy (lower = surer), flagged / wrong caught: " + ", ".join(
            f"{c['threshold']}: {pct(c['flagged'])} / {pct(c['recall'])}" for c in u["curves"]["energy"]), ""]
        ad = u.get("adapt")
        if ad:
            out += [(f"In-show adaptation: `adapt_anchor = {ad['adapt_anchor']}`, `adapt_width = {ad['adapt_width']}`"
                     f", chosen on {ad['chosen_on']} ({ad['rule']}). Offline streams of the held-out recordings: "
                     f"{pct(ad['heldout_streams']['right_instrument'])} right instrument (the vote alone "
                     f"{pct(ad['heldout_streams_vote_alone']['right_instrument'])})."), ""]
    if show_path.exists():
        show = json.loads(show_path.read_text())
        names = {"without": "without learning", "vote": "the memory's vote", "adapt": "vote and adaptation"}
        out += ["### Show simulation on real recordings (bench/show.py --real)", "",
                "| | right instrument: pieces | recordings | corrections per 125 recordings | right after 10 / 20 / "
                "40 corrections |", "|---|---:|---:|---:|---:|"]
        for key, name in names.items():
            if key in show:
                r = show[key]
                later = " / ".join(pct(v) if v is not None else "—" for v in r["right_after_corrections"].values())
                out.append(f"| {name} | {pct(r['right_instrument_pieces'])} | "
                           f"{pct(r['right_instrument_recordings'])} | {r['corrections_per_125']:.1f} | {later} |")
        out.append("")
    return out


def runtime_lines(model: Path) -> list[str]:
    """What runs on stage: the converted runtime, whether it belongs to this .keras, and what it keeps."""
    again = f"`python tools/convert_runtime.py models/{model.name} --manifest data/corpus/manifest.csv`"
    try:
        record = runtime.fresh_record(model)
    except runtime.StaleRuntime as exc:
        return ["", "## Runtime", "", f"**Stale**: {exc}. Until then the classifier runs the Keras model (slower).",
                f"Convert it: {again}."]
    if record is None:
        return ["", "## Runtime", "", f"No converted runtime: the classifier runs the Keras model. Convert it: "
                f"{again}."]
    out = ["", "## Runtime", "",
           (f"On stage the classifier runs `{record.artifact}`: this network converted by `tools/convert_runtime.py` "
            f"to TensorFlow Lite ({runtime.QUANTIZATIONS[record.quantization]}; converted by {record.converter}), "
            "run by LiteRT "
            f"(`ai-edge-litert`) with its XNNPACK kernels. `{record.source}` stays the training format; the "
            f"runtime was derived from this very file (SHA-256 {record.source_sha256[:12]}…, checked at every load: "
            "a runtime converted from another `.keras` is refused, with what to run, and the Keras model runs "
            f"instead). Beside it, `{Path(record.source).stem}.head.npz` keeps the layers after the embedding in "
            "numpy (for the in-show adaptation), copied from the same file: with both, the classifier loads without "
            "TensorFlow.")]
    h = record.heldout
    if not h:
        return [*out, "", f"Not measured on held-out clips: run {again}."]
    out += ["", f"Both on the same {h['clips']}:", "",
            "| runs | top-1 | top-3 | instrument |", "|---|---:|---:|---:|"]
    for key, name in (("keras", f"Keras (`{record.source}`)"), ("runtime", f"LiteRT (`{record.artifact}`)")):
        m = h[key]
        out.append(f"| {name} | {pct(m['top1'])} | {pct(m['top3'])} | {pct(m['instrument'])} |")
    a = h["agreement"]
    out += ["", (f"The runtime gives the Keras model's label on {pct(a['top1'])} of these pieces and its instrument on "
                 f"{pct(a['instrument'])}; the largest difference in any probability is {a['max_prob_diff']:.3f}, "
                 f"the lowest cosine similarity of the embeddings {a['min_embedding_cosine']:.4f}. What each way of "
                 "running the model costs per piece: `bench/runtimes.py` and `bench/latency.py` (README, "
                 "Benchmarks).")]
    return out


def pieces_and_recordings(m: dict, key: str = "instrument") -> str:
    """``64.3 % (9/14) · 61.5 % (8/13)``: a figure per piece and per recording, with its counts."""
    r = m["per_recording"]
    return (f"{pct(m[key])} ({round(m[key] * m['n'])}/{m['n']}) · "
            f"{pct(r[key])} ({round(r[key] * r['n'])}/{r['n']})")


def real_lines(metrics: dict, clips: list[dict]) -> list[str]:
    """The held-out real recordings, apart from the sample libraries: per piece and per recording, per label and
    instrument, beside the start model's figures on the same clips (metrics["baseline"]["real"])."""
    real = metrics.get("real")
    if not real:
        return []
    base = metrics.get("baseline", {}).get("real")
    was = f" {metrics.get('baseline_model', 'start model')} on the same clips (instrument / top-1) |" if base else ""
    out = ["", "### Held-out real recordings", "",
           ("Real everyday recordings (not sample libraries) by recordists whose recordings never reach training: "
            + ", ".join(sorted({c["source"].split(",")[0].split(" (")[0] for c in clips
                                if c["split"] == "test" and c.get("family", "").startswith("real-")}
                               or {f.removeprefix("real-") for f in real.get("per_family", {})}))
            + ". Each recording is measured as recorded (no augmentation), cut into ≤ 5-s pieces like a live one; "
            "per recording, its pieces' probabilities are averaged. Figures are *per piece · per recording*. So few "
            "recordings make each figure coarse: one piece is several points."
            + (" Measured after this model was made, by a later training run (docs/training.md, round 5) that scored "
               "this model's own head on the same embeddings as its baseline; so were the per-recording figures of "
               "the held-out sources." if metrics.get("measured_later") else "")), "",
           f"| | right instrument | top-1 |{was}", "|---|---:|---:|" + ("---:|" if base else "")]
    out.append(f"| all | {pieces_and_recordings(real)} | {pieces_and_recordings(real, 'top1')} |"
               + (f" {pieces_and_recordings(base)} / {pieces_and_recordings(base, 'top1')} |" if base else ""))
    out += ["", "| label | instrument | pieces | right instrument | top-1 |"
            + (" before: instrument / top-1 |" if base else ""), "|---|---|---:|---:|---:|" + ("---:|" if base else "")]
    for label, v in real["per_label"].items():
        r = real["per_recording"]["per_label"][label]
        row = (f"| {label} | {DEFAULT_MAPPING[label]} | {v['n']} ({r['n']} rec.) | {pct(v['instrument'])} · "
               f"{pct(r['instrument'])} | {pct(v['top1'])} · {pct(r['top1'])} |")
        if base:
            b, br = base["per_label"][label], base["per_recording"]["per_label"][label]
            row += f" {pct(b['instrument'])} · {pct(br['instrument'])} / {pct(b['top1'])} · {pct(br['top1'])} |"
        out.append(row)
    out += ["", "| instrument | pieces | right instrument |" + (" before |" if base else ""),
            "|---|---:|---:|" + ("---:|" if base else "")]
    for inst, v in real["per_instrument"].items():
        r = real["per_recording"]["per_instrument"][inst]
        out.append(f"| {inst} | {v['n']} ({r['n']} rec.) | {pct(v['accuracy'])} · {pct(r['accuracy'])} |"
                   + (f" {pct(base['per_instrument'][inst]['accuracy'])} · "
                      f"{pct(base['per_recording']['per_instrument'][inst]['accuracy'])} |" if base else ""))
    if real.get("pieces"):
        out += ["", "Every piece: " + "; ".join(
            f"{q['file']} ({q['label']}) → {q['predicted']}"
            + (f" (before: {q['baseline']})" if "baseline" in q else "") for q in real["pieces"]) + "."]
    return out


def measured_later(metrics: dict, run: dict) -> dict:
    """``metrics`` with the figures a later run (tools/finetune_aisfx.py head) measured of this model as its
    ``baseline`` on the same clips: the held-out real recordings, and per recording on the held-out sources."""
    base = run["baseline"]
    out = dict(metrics)
    if "real" in base:
        out["real"] = {"what": run["real"]["what"], **base["real"], "per_family": run["real"].get("per_family", {}),
                       "pieces": [{k: v for k, v in q.items() if k != "baseline"} | {"predicted": q["baseline"]}
                                  for q in run["real"].get("pieces", []) if "baseline" in q]}
    if "test" in base and base["test"]["n"] == metrics.get("test", {}).get("n"):
        out["test"] = metrics["test"] | {"per_recording": base["test"]["per_recording"]}
    out["measured_later"] = True
    return out


def card(model: Path, coverage: dict | None, compare: Path | None = None, show: Path | None = None,
         measured: Path | None = None) -> str:
    """The model card as Markdown; ``measured``: the metrics of a later run whose baseline was this model."""
    meta = json.loads(model.with_suffix(".json").read_text())
    metrics = json.loads(model.with_name(f"{model.stem}.metrics.json").read_text())
    if measured:
        metrics = measured_later(metrics, json.loads(measured.read_text()))
    if show:
        metrics["show"] = json.loads(show.read_text())
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
    out = [
        f"# Model card: `{model.name}`",
        "",
        describe(meta, model, len(trained)),
        "",
        training_line(meta, metrics),
        "",
        "## Held-out results",
        "",
        "Two numbers, measured on clips the model did not train on:",
        "",
        ("* **held-out sources** — source families never heard in training: "
         + ", ".join(metrics.get("test", {}).get("per_family", {}) or ["—"])
         + " (TimGM6mb + csound's sf_GMbank share most samples and form one family; Black Pearl is one kit in its "
         "Hydrogen and AVL versions). This is the honest number."),
        ("* **validation** — other recordings (notes, hits) of the *training* sources: a random split by "
         "recording. It is higher because the sources are familiar"
         + ("; early stopping used it." if "epochs_run" in metrics else "; no choice was made on it.")),
        "",
        "Instrument = the predicted label lands on the right instrument track of the paper's Fig. 5.",
        "",
        "| set | clips | top-1 (95 % interval) | top-3 | instrument (95 % interval) | per recording: top-1 / "
        "instrument |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for key in ("test", "val", "real"):
        if key in metrics:
            m = metrics[key]
            r = m.get("per_recording")
            out.append(f"| {m['what']} | {m['n']} | {with_ci(m, 'top1')} | {pct(m['top3'])} | "
                       f"{with_ci(m, 'instrument')} | "
                       + (f"{pct(r['top1'])} / {pct(r['instrument'])} ({r['n']}) |" if r else "— |"))
    base = metrics.get("baseline", {}).get("test")
    if base:
        out += ["", (f"**{metrics.get('baseline_model', 'The start model')} (the model before this one) on the same "
                     f"held-out sources**: top-1 {pct(base['top1'])}, right instrument {pct(base['instrument'])} "
                     f"({base['n']} clips); per recording {pct(base['per_recording']['top1'])} / "
                     f"{pct(base['per_recording']['instrument'])}.")]
    out += real_lines(metrics, clips)
    other = json.loads(compare.read_text()) if compare else None
    if other:
        out += ["", (f"**The other backbone, on the same held-out clips**: {other.get('what', 'MobileNetV2')} — top-1 "
                     f"{pct(other['top1'])}, top-3 {pct(other['top3'])}, right instrument {pct(other['instrument'])} "
                     f"({other['n']} clips). Its figures are in the MobileNetV2 columns below.")]
    if "test" in metrics:
        t = metrics["test"]
        out += ["", "### By held-out source family", "",
                ("| family | clips | labels | top-1 | top-3 | instrument |"
                 + (" MobileNetV2 top-1 / instrument |" if other else "")),
                "|---|---:|---|---:|---:|---:|" + ("---:|" if other else "")]
        for fam, v in t.get("per_family", {}).items():
            o = (other or {}).get("per_family", {}).get(fam)
            extra = (f" {pct(o['top1'])} / {pct(o['instrument'])} |" if o else " — |") if other else ""
            out.append(f"| {fam} | {v['n']} | {', '.join(v['labels'])} | {pct(v['top1'])} | {pct(v['top3'])} | "
                       f"{pct(v['instrument'])} |{extra}")
        out += ["", "### Per instrument (held-out sources)", "",
                "| instrument | clips | right instrument |" + (" MobileNetV2 |" if other else ""),
                "|---|---:|---:|" + ("---:|" if other else "")]
        for inst, v in t["per_instrument"].items():
            o = (other or {}).get("per_instrument", {}).get(inst)
            extra = (f" {pct(o['accuracy'])} |" if o else " — |") if other else ""
            out.append(f"| {inst} | {v['n']} | {pct(v['accuracy'])} |{extra}")
    out += ["", "### Per label", "",
            ("| label | instrument | training-source clips | held-out clips | held-out top-1 | top-3 | instrument | "
            "validation top-1 |" + (" MobileNetV2 top-1 / instrument |" if other else "")),
            "|---|---|---:|---:|---:|---:|---:|---:|" + ("---:|" if other else "")]
    t = metrics.get("test", {}).get("per_label", {})
    v = metrics.get("val", {}).get("per_label", {})
    for label in trained:
        tl = t.get(label)
        held = f"{pct(tl['top1'])} | {pct(tl['top3'])} | {pct(tl['instrument'])}" if tl else "— | — | —"
        val = pct(v[label]["top1"]) if label in v else "—"
        o = (other or {}).get("per_label", {}).get(label)
        extra = (f" {pct(o['top1'])} / {pct(o['instrument'])} |" if o else " — |") if other else ""
        out.append(f"| {label} | {DEFAULT_MAPPING[label]} | {counts[label]['train'] + counts[label]['validation']} | "
                   f"{counts[label]['test']} | {held} | {val} |{extra}")
    weak = [label for label in trained if label in t and t[label]["top1"] < WEAK_LABEL]
    if weak:
        was = metrics.get("baseline", {}).get("test", {}).get("per_label", {})
        out += ["", (f"**Below issue 10's bar** (a trained label under {100 * WEAK_LABEL:.0f} % top-1 on the held-out "
                     "sources): "
                     + "; ".join(f"{label} {pct(t[label]['top1'])} top-1, {pct(t[label]['instrument'])} right "
                                 f"instrument, {t[label]['n']} clips"
                                 + (f" (the model before: {pct(was[label]['top1'])} / {pct(was[label]['instrument'])})"
                                    if label in was else "") for label in weak)
                     + ". A label that keeps its instrument still plays on the right track; its name on the console "
                       "and in OSC is then wrong.")]
    out += calibration_lines(metrics)
    out += real_recordings_lines(model)
    out += [
        "",
        (f"Confusion matrices: [`{model.stem}.confusion.png`]({model.stem}.confusion.png) (held-out sources), "
        + (f"[`{model.stem}.confusion-real.png`]({model.stem}.confusion-real.png) (held-out real recordings) "
           if model.with_name(f"{model.stem}.confusion-real.png").exists() else "")
        + f"and [`{model.stem}.confusion-val.png`]({model.stem}.confusion-val.png) (validation). Every number above "
        f"is in [`{model.stem}.metrics.json`]({model.stem}.metrics.json); this card is generated from it by "
        "`tools/model_card.py`."),
    ]
    out += runtime_lines(model)
    out += [
        "",
        "## What it cannot know",
        "",
        f"**Never trained ({len(untrained)} labels)** — the classifier masks them, so they are never answered: "
        + ", ".join(untrained) + ". No sound in the Debian packages surveyed honestly holds them. A sound of "
        "these kinds gets the nearest trained label; the console calls it \"unsure\" only when its track's "
        "probability is below `[classifier] unsure_below`, which was calibrated on held-out sources (above), not "
        "on sounds of these kinds. "
        "Teach them with your own recordings (below) or the console's re-labelling.",
        "",
    ]
    no_test = [label for label in trained if label not in t]
    if no_test:
        out.append("**Trained but not measured on a held-out source** (no recording of them could be held out: "
                   f"their few sources all train the model): {', '.join(no_test)}.")
        out.append("")
    thin = [f"{label} ({len(sources[(label, False)])})" for label in trained if len(sources[(label, False)]) <= 2]
    if thin:
        out += ["**Thin labels** (distinct training presets, kits or files): " + ", ".join(thin)
                + ". Expect such a label to generalise poorly to other recordings.", ""]
    real_train = sorted({c["source"] for c in clips
                         if c["split"] != "test" and c.get("family", "").startswith("real-")})
    out += [
        ("All training sounds are instrument samples and sound effects, augmented with synthetic rooms, phone-like "
         "band limits and noise; none is a phone recording of a real room. Expect lower accuracy on real audience "
         "recordings than the held-out numbers above, which are measured on other *sample libraries*.")
        if not real_train
        else (f"Most training sounds are instrument samples and sound effects; {len(real_train)} are real everyday "
              "recordings (below), all augmented with synthetic rooms, phone-like band limits and noise. The "
              "held-out real recordings above are the better guide to an audience's sounds, and they are few."),
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
    real_all = sorted({(c["source"], c["licence"], c["split"] == "test") for c in clips
                       if c.get("family", "").startswith("real-")})
    if real_all:
        out += ["", ("Real recordings (`exsampling corpus --real`), each with its recordist, where it was found and "
                     "its licence; credit them when you redistribute the model:"), ""]
        out += [f"* {src} — {lic}{' (held out: measured, never learnt from)' if held else ''}"
                for src, lic, held in real_all]
    out += [
        "",
        ("The model's weights are derived from these recordings. The sources are free licences (MIT, public "
        "domain, CC0, CC-BY-3.0, CC-BY-4.0, CC-BY-SA-3.0, GPL-2/GPL-2+/GPL-3/GPL-3+, GFDL-1.3, Free Art Licence "
        "1.3, the "
        "GeneralUser GS License v2.0). Whether a "
        "trained network is a derivative work "
        "of its training audio is unsettled; we ship it on the most cautious reading: the model file carries "
        "the attribution above, and anyone redistributing it should keep this card with it, credit the "
        "CC-BY/CC-BY-SA authors (Emanuel Rumpf's rumpf kit, Luc Tunguay's BJA Pacific, Glen MacArthur's AVL "
        "drums, the Massachusetts Institute of Technology's Scratch 1.4 media where the clips list it, and the "
        "recordists of any CC-BY real recordings listed above), Lionel "
        "Allorge and Yves Combe (Free Art Licence), and treat the CC-BY-SA and GPL parts as "
        "applying. No audio is shipped; the clips are rebuilt "
        f"locally by `exsampling corpus`. Every clip, its source and licence: [`{model.stem}.clips.csv`]"
        f"({model.stem}.clips.csv)."),
    ]
    if meta["architecture"]["name"] == "aisfx":
        out += ["", ("**Pretrained weights.** The backbone is aisfx 0.1.2 (\"Representation Learning for the Automatic "
                     "Indexing of Sound Effects Libraries\", ISMIR 2022), © 2022 Alison B. Ma and Alexander Lerch, "
                     "licensed CC BY 4.0 (https://creativecommons.org/licenses/by/4.0/), from its PyPI wheel. Changes "
                     "made: the embedding network re-expressed in Keras with its weights converted from PyTorch "
                     "(tools/convert_aisfx.py, checked against the original network), aisfx's data-set heads dropped, "
                     f"blocks {', '.join(b[-1] for b in meta['architecture'].get('fine_tuned', [])) or '—'} fine-tuned "
                     "and a new 41-label head trained on the corpus above"
                     + (", that head later fine-tuned with more training families"
                        if warm_started(meta["architecture"]) else "")
                     + ", a whole 5-s segment embedded per call. "
                     "See ../NOTICE.")]
    if coverage:
        out += ["", f"Corpus packages missing when it was built: {', '.join(coverage['missing_packages']) or 'none'}."]
    out += [
        "",
        "## Retrain",
        "",
        "```sh",
        "exsampling corpus --out data/corpus --sample-rate 44100   # renders and cuts the clips (≈ 10 min, ≈ 900 MB)",
        "python tools/convert_aisfx.py                              # the aisfx backbone, from its PyPI wheel",
        "exsampling train data/corpus --backbone aisfx --out models/mine.keras   # a head on the frozen embedding",
        "# the bundled model: backbone tuned on a GPU, head on a CPU with supplements (docs/training.md §2)",
        (f".venv/bin/python tools/model_card.py models/{model.name} --coverage data/corpus/coverage.json "
        "--compare models/mobilenetv2.heldout.json --show models/default.show.json"
         + (" --measured RUN.metrics.json" if metrics.get("measured_later") else "")
         + " > models/README.md"),
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
    ap.add_argument("--compare", type=Path, help="tools/evaluate_model.py --json of the other backbone, same clips")
    ap.add_argument("--show", type=Path, help="bench/show.py --json of this model")
    ap.add_argument("--measured", type=Path,
                    help="METRICS.json of a later tools/finetune_aisfx.py head run that measured this model as its "
                         "baseline: its held-out real recordings and per-recording figures")
    args = ap.parse_args()
    coverage = json.loads(args.coverage.read_text()) if args.coverage else None
    print(card(args.model, coverage, args.compare, args.show, args.measured), end="")


if __name__ == "__main__":
    main()
