"""Calibrate "unsure" and the re-label memory on held-out SOURCES, and measure the flag on the test families.

Two sets to calibrate on. With ``--real FOLDER`` (real recordings, a manifest.csv beside them; see below), one
command re-runs everything for a new model::

    python tools/calibrate.py models/default.keras --real ../shared/sounds [--heldout CORPUS/manifest.csv] \
        [--never-heard]

Without ``--real``, the training families' out-of-fold predictions:

Calibration never sees the test families: it uses out-of-fold predictions and embeddings of the
training clips, each made by a model trained without that clip's source family (leave-family-out
cross-validation, from tools/finetune_aisfx_torch.py). Then:

* ``unsure_below``: the smallest threshold (0.05 steps) whose flag (the answer's track probability below it,
  exsampling.unsure) catches ≥ 75 % of the out-of-fold answers on the wrong Fig. 5 instrument; its precision
  and recall on the held-out test families (the shipped model's probabilities, ``--test-probs``) are reported,
  not tuned;
* the memory's ``radius`` and ``strength``: of the pairs within half a point of the best right-instrument
  share in offline show streams (125 sounds, the performer re-labels every wrong instrument; played
  within each fold, so all embeddings of a stream come from one network), the one with the smallest
  radius: as good, and it reaches fewer unrelated sounds.

Writes the figures under "calibration" in MODEL.metrics.json.

With ``--real``: every piece of the real recordings is classified once; those the model never heard are those
``--heldout``'s corpus holds out (all of them without ``--heldout``, or with ``--never-heard``). Then

* ``unsure_below``: of the thresholds (0.025 steps), the one catching most pieces on the wrong track while
  flagging at most 30 % of all pieces (exsampling.unsure.choose_threshold). Its figures are cross-validated by
  source: each recordist's pieces are flagged with the threshold chosen on the other recordists' pieces. The
  whole curve (every threshold: pieces flagged, wrong ones caught, precision) is written for the card, for the
  track probability, the top label's probability and the logits' energy;
* ``adapt_anchor`` and ``adapt_width``: of a grid, among the pairs where one odd correction (a right piece
  re-labelled, alone, to another track) moves at most 5 % of the other recordings' right pieces, the one with
  the best right-instrument share in offline show streams (every
  recording once, in random orders; the performer re-labels every wrong piece; the chain's own memory and
  adapted layer) over the recordings NOT held out (the model must never have heard them either: true of the
  round-4 model and /work/shared/sounds), so the held-out recordings that bench/show.py reports on never chose
  it. Only with ``--heldout`` and ``--never-heard``: without the first nothing is left to choose on, without the
  second the recordings not held out trained the model, and streams of them say nothing; they are then kept.

Writes MODEL.unsure.json (tools/model_card.py's "unsure" section reads it) and prints the config lines.

    python tools/calibrate.py models/default.keras --oof RESULTS/b234-30.npz --data data/dev/ft.npz \\
        --manifest data/corpus/manifest.csv --test-probs data/models/aisfx.test-probs.npz
"""
from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path

import numpy as np

from exsampling.adapt import HeadAdapter
from exsampling.mapping import DEFAULT_MAPPING, LABELS
from exsampling.memory import RelabelMemory
from exsampling.unsure import choose_threshold, energy, flag_curve, track_probability

INSTRUMENT = np.array([DEFAULT_MAPPING[label] for label in LABELS])
THRESHOLDS = np.round(np.arange(0.2, 0.951, 0.05), 2)
RADII = (0.05, 0.1, 0.2, 0.3, 0.4)
STRENGTHS = (0.5, 1.0, 2.0)
REAL_THRESHOLDS = np.round(np.arange(0.1, 0.951, 0.025), 3)
ADAPT_GRID = tuple((anchor, width) for anchor in (0.01, 0.03, 0.1) for width in (0.1, 0.2, 0.3, 0.5))
MAX_FLAGGED = 0.30
#: The most an odd correction may move: the share of the other recordings' right pieces it sends to a wrong track.
MAX_COLLATERAL = 0.05


def flag_figures(probs: np.ndarray, y: np.ndarray, threshold: float) -> dict:
    """Precision and recall of "unsure" (track probability < threshold) for answers on the wrong instrument."""
    wrong = INSTRUMENT[probs.argmax(1)] != INSTRUMENT[y]
    flag = track_probability(probs, list(INSTRUMENT), probs.argmax(1)) < threshold
    return {"threshold": float(threshold), "n": len(y), "wrong": int(wrong.sum()), "flagged": int(flag.sum()),
            "precision": float((flag & wrong).sum() / max(1, flag.sum())),
            "recall": float((flag & wrong).sum() / max(1, wrong.sum()))}


def show_streams(probs, emb, y, origin, radius, strength, learn, n=125, streams=6, seed=0) -> tuple[float, float]:
    """Right-instrument share and corrections per 125 sounds over offline streams (see bench/show.py)."""
    rng = np.random.default_rng(seed)
    by_label: dict[int, dict[str, list[int]]] = {}
    for i, (label, o) in enumerate(zip(y, origin, strict=True)):
        by_label.setdefault(int(label), {}).setdefault(o, []).append(i)
    accs, fixes = [], []
    for _ in range(streams):
        memory = RelabelMemory(LABELS, radius, strength)
        used: set[str] = set()
        right = wrong = 0
        for t in range(n):
            labels = sorted(label for label, origins in by_label.items() if set(origins) - used)
            if not labels:
                break
            label = labels[rng.integers(len(labels))]
            origins = sorted(set(by_label[label]) - used)
            o = origins[rng.integers(len(origins))]
            used.add(o)
            i = by_label[label][o][rng.integers(len(by_label[label][o]))]
            p = memory.fuse(probs[i], emb[i]).probs if learn else probs[i]
            if INSTRUMENT[int(np.argmax(p))] == INSTRUMENT[label]:
                right += 1
            else:
                wrong += 1
                if learn:
                    memory.add(t, LABELS[label], emb[i])
        accs.append(right / max(1, right + wrong))
        fixes.append(125 * wrong / max(1, right + wrong))
    return float(np.mean(accs)), float(np.mean(fixes))


def classify_real(model: Path, items: list[dict]) -> dict[str, np.ndarray]:
    """Every piece of the recordings ``items`` (path, label, source) as the chain cuts them, classified by ``model``:
    probs, embeddings, logits, label index, recording index, source, seconds."""
    from exsampling import audio, features
    from exsampling.classifier import Classifier
    from exsampling.config import Config

    a = Config().audio
    classifier = Classifier.load(model)
    head = classifier.head
    sr = classifier.info.features.sample_rate
    rows: dict[str, list] = {k: [] for k in ("probs", "emb", "y", "recording", "source", "seconds")}
    for r, item in enumerate(items):
        y = audio.decode(item["path"], sr, a.max_duration_s)
        spans = audio.pieces(y, sr, a.segment_s, a.min_tail_s, a.trim_top_db, a.silence_floor_dbfs)
        probs, emb = classifier.classify(np.stack([features.image(y[s.start:s.end], classifier.info.features)
                                                   for s in spans]))
        for k, span in enumerate(spans):
            for key, value in (("probs", probs[k]), ("emb", emb[k]), ("y", LABELS.index(item["label"])),
                               ("recording", r), ("source", item["source"]), ("seconds", (span.end - span.start) / sr)):
                rows[key].append(value)
    out = {k: np.array(v) for k, v in rows.items()}
    out["logits"] = head.logits(out["emb"]) if head is not None else np.log(np.maximum(out["probs"], 1e-30))
    out["trained"] = np.array([label in classifier.info.trained_labels for label in classifier.info.labels])
    out["head"] = np.array(head, dtype=object)
    return out


def cross_validated(certainty: np.ndarray, wrong: np.ndarray, source: np.ndarray) -> dict:
    """The flag's figures when each source's pieces are flagged with the threshold chosen on the other sources."""
    flag = np.zeros(len(certainty), dtype=bool)
    chosen = []
    for s in sorted(set(source.tolist())):
        mine = source == s
        t = choose_threshold(flag_curve(certainty[~mine], wrong[~mine], REAL_THRESHOLDS), MAX_FLAGGED)["threshold"]
        chosen.append(t)
        flag[mine] = certainty[mine] < t
    return {"flagged": float(flag.mean()), "recall": float((flag & wrong).sum() / max(1, wrong.sum())),
            "precision": float((flag & wrong).sum() / max(1, flag.sum())), "pieces": len(flag),
            "wrong": int(wrong.sum()), "sources": len(chosen), "thresholds_chosen": sorted(set(chosen))}


def real_streams(d: dict[str, np.ndarray], keep: np.ndarray, anchor: float | None, width: float = 0.2,
                 radius: float = 0.1, strength: float = 1.0, streams: int = 20, seed: int = 0) -> dict:
    """Offline show streams over the recordings whose pieces ``keep`` selects (each once, random orders): the
    performer re-labels every piece on the wrong instrument after its recording. ``anchor`` None: no adapted
    layer (the vote alone). Right-instrument share of the pieces, corrections per 125 recordings."""
    recordings = sorted(set(d["recording"][keep].tolist()))
    head = d["head"].item()
    rng = np.random.default_rng(seed)
    right, fixes = [], []
    for _ in range(streams):
        adapter = HeadAdapter(head, d["trained"], anchor, width) if anchor is not None and head is not None else None
        memory = RelabelMemory(LABELS, radius, strength, adapter=adapter)
        ok = []
        for r in rng.permutation(recordings):
            wrong = []
            for i in np.flatnonzero(d["recording"] == r):
                p = memory.fuse(d["probs"][i], d["emb"][i]).probs
                ok.append(INSTRUMENT[int(np.argmax(p))] == INSTRUMENT[d["y"][i]])
                if not ok[-1]:
                    wrong.append(i)
            for i in wrong:
                memory.add(int(i), LABELS[d["y"][i]], d["emb"][i])
            memory.refit()
        right.append(float(np.mean(ok)))
        fixes.append(125 * (len(ok) - sum(ok)) / len(recordings))
    return {"anchor": anchor, "width": width, "right_instrument": float(np.mean(right)),
            "corrections_per_125": float(np.mean(fixes)), "recordings": len(recordings)}


def collateral(d: dict[str, np.ndarray], keep: np.ndarray, anchor: float, width: float, seed: int = 0) -> float:
    """What one odd correction does: each right piece ``keep`` selects is re-labelled, alone, with a label on another
    track; the mean share of the other recordings' right pieces that the adapted layer then puts on a wrong track."""
    head, rng = d["head"].item(), np.random.default_rng(seed)
    right = keep & (INSTRUMENT[d["probs"].argmax(1)] == INSTRUMENT[d["y"]])
    shares = []
    for i in np.flatnonzero(right):
        odd = rng.choice(np.flatnonzero(d["trained"] & (INSTRUMENT[d["y"][i]] != INSTRUMENT)))
        adapter = HeadAdapter(head, d["trained"], anchor, width)
        adapter.fit(d["emb"][[i]], [int(odd)])
        others = np.flatnonzero(right & (d["recording"] != d["recording"][i]))
        moved = [INSTRUMENT[int(np.argmax(adapter.adapt(d["probs"][j], d["emb"][j])))] != INSTRUMENT[d["y"][j]]
                 for j in others]
        shares.append(float(np.mean(moved)) if len(others) else 0.0)
    return float(np.mean(shares))


def calibrate_real(args: argparse.Namespace) -> None:
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))
    from _common import real_recordings

    items = real_recordings(args.real, args.heldout)
    d = classify_real(args.model, items)
    heldout = np.array([items[r]["heldout"] for r in d["recording"]])
    top = d["probs"].argmax(1)
    wrong = INSTRUMENT[top] != INSTRUMENT[d["y"]]
    scores = {"track probability": track_probability(d["probs"], list(INSTRUMENT), top),
              "top label probability": d["probs"].max(1),
              "energy": -energy(np.where(d["trained"], d["logits"], -np.inf))}  # higher = surer, as the others
    # "unsure" is judged on every recording the model never heard: the held-out ones, or all with --never-heard
    u = np.ones(len(heldout), dtype=bool) if args.never_heard else heldout
    curves = {name: flag_curve(s[u], wrong[u], REAL_THRESHOLDS if name != "energy" else
                               np.round(np.quantile(s[u], np.linspace(0, 1, 21)), 3)) for name, s in scores.items()}
    track = scores["track probability"]
    chosen = choose_threshold(curves["track probability"], MAX_FLAGGED)
    report = {
        "model": args.model.name, "recordings": args.real.name, "heldout_by": str(args.heldout or "none (all)"),
        "rule": f"the threshold catching most wrong-track pieces while flagging at most {MAX_FLAGGED:.0%} of pieces",
        "unsure_below": chosen["threshold"], "pieces": int(u.sum()), "wrong": int(wrong[u].sum()),
        "recordings_judged": len(set(d["recording"][u].tolist())), "never_heard": bool(args.never_heard),
        "at_default": chosen, "cross_validated_by_source": cross_validated(track[u], wrong[u], d["source"][u]),
        "curves": curves,
    }
    h = heldout
    if args.heldout is not None and args.never_heard and (~h).any():
        grid = [real_streams(d, ~h, anchor, width) | {"collateral": collateral(d, ~h, anchor, width)}
                for anchor, width in ADAPT_GRID]
        safe = [g for g in grid if g["collateral"] <= MAX_COLLATERAL] or [min(grid, key=lambda g: g["collateral"])]
        best = max(safe, key=lambda g: (g["right_instrument"], g["anchor"], -g["width"]))
        report["adapt"] = {"adapt_anchor": best["anchor"], "adapt_width": best["width"],
                           "chosen_on": "the recordings not held out",
                           "rule": "the best right-instrument share in the streams among the anchors where one odd "
                                   f"correction moves at most {MAX_COLLATERAL:.0%} of the other right pieces",
                           "grid": grid, "vote_alone": real_streams(d, ~h, None),
                           "heldout_streams": real_streams(d, h, best["anchor"], best["width"]),
                           "heldout_streams_vote_alone": real_streams(d, h, None)}
    out = args.out or args.model.with_name(f"{args.model.stem}.unsure.json")
    out.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    cv = report["cross_validated_by_source"]
    print(f"{report['pieces']} pieces never heard ({report['recordings_judged']} recordings), {report['wrong']} on the "
          f"wrong track; wrote {out}")
    print(f"unsure_below = {chosen['threshold']}: flags {chosen['flagged']:.1%}, catches {chosen['recall']:.1%} of the "
          f"wrong (precision {chosen['precision']:.1%}); cross-validated by source: flags {cv['flagged']:.1%}, catches "
          f"{cv['recall']:.1%}")
    if "adapt" in report:
        ad = report["adapt"]
        print(f"adapt_anchor = {ad['adapt_anchor']}, adapt_width = {ad['adapt_width']} (on "
              f"{ad['grid'][0]['recordings']} recordings not held out: "
              + ", ".join(f"{g['anchor']}/{g['width']}: {g['right_instrument']:.1%} (an odd correction moves "
                          f"{g['collateral']:.1%})" for g in ad["grid"])
              + f"; the vote alone {ad['vote_alone']['right_instrument']:.1%}); on the held-out recordings "
              f"{ad['heldout_streams']['right_instrument']:.1%} right instrument with "
              f"{ad['heldout_streams']['corrections_per_125']:.1f} corrections per 125 (vote alone "
              f"{ad['heldout_streams_vote_alone']['right_instrument']:.1%})")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("model", type=Path)
    ap.add_argument("--real", type=Path, help="real recordings with a manifest.csv (file, label, attribution, …)")
    ap.add_argument("--heldout", type=Path, help="with --real: the corpus manifest that holds some out")
    ap.add_argument("--out", type=Path, help="with --real: where the curve goes (default MODEL.unsure.json)")
    ap.add_argument("--never-heard", action="store_true",
                    help="with --real: the model never heard any of them (true of the round-4 model): judge "
                         "\"unsure\" on all, not only on the held-out ones")
    ap.add_argument("--oof", type=Path, help="the torch run's <config>.npz (oof_p, oof_e)")
    ap.add_argument("--data", type=Path, help="the packed ft.npz (y, fold, clip)")
    ap.add_argument("--manifest", type=Path)
    ap.add_argument("--test-probs", type=Path, help="the shipped model's held-out probabilities")
    args = ap.parse_args()
    if args.real is not None:
        calibrate_real(args)
        return
    if None in (args.oof, args.data, args.manifest, args.test_probs):
        ap.error("give --real FOLDER, or --oof, --data, --manifest and --test-probs")

    run, data = np.load(args.oof), np.load(args.data)
    with open(args.manifest, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    y, fold = data["y"], data["fold"]
    clip = data["clip"] if "clip" in data.files else np.arange(len(y))  # packs of one map per clip
    origin = np.array([rows[i]["origin"] for i in clip])
    probs = run["oof_p"].astype(np.float64)
    probs /= np.maximum(probs.sum(1, keepdims=True), 1e-12)
    emb = run["oof_e"].astype(np.float32)
    cal = fold >= 0

    curve = [flag_figures(probs[cal], y[cal], t) for t in THRESHOLDS]
    chosen = next(c for c in curve if c["recall"] >= 0.75)
    test = np.load(args.test_probs)
    unsure = {"unsure_below": chosen["threshold"], "rule": "smallest threshold catching >= 75 % of wrong "
              "instruments out of fold", "out_of_fold": chosen, "test": flag_figures(test["probs"], test["y"],
                                                                                       chosen["threshold"]),
              "curve_out_of_fold": curve}

    grid = []
    for radius in RADII:
        for strength in STRENGTHS:
            runs = [show_streams(probs[fold == k], emb[fold == k], y[fold == k], origin[fold == k], radius, strength,
                                 True, seed=k) for k in sorted(set(fold[cal].tolist()))]
            grid.append({"radius": radius, "strength": strength,
                         "right_instrument": float(np.mean([r[0] for r in runs])),
                         "corrections_per_125": float(np.mean([r[1] for r in runs]))})
            print(grid[-1], flush=True)
    # the smallest radius within half a point of the best: as good, and it reaches fewer unrelated sounds
    top = max(g["right_instrument"] for g in grid)
    best = min((g for g in grid if g["right_instrument"] >= top - 0.005),
               key=lambda g: (g["radius"], -g["right_instrument"]))
    base = [show_streams(probs[fold == k], emb[fold == k], y[fold == k], origin[fold == k], 1.0, 1.0, False, seed=k)
            for k in sorted(set(fold[cal].tolist()))]
    memory = {"radius": best["radius"], "strength": best["strength"], "out_of_fold_show": best,
              "out_of_fold_show_without_memory": {"right_instrument": float(np.mean([b[0] for b in base])),
                                                  "corrections_per_125": float(np.mean([b[1] for b in base]))},
              "grid": grid}
    metrics_path = args.model.with_name(f"{args.model.stem}.metrics.json")
    metrics = json.loads(metrics_path.read_text())
    metrics["calibration"] = {"unsure": unsure, "memory": memory}
    metrics_path.write_text(json.dumps(metrics, indent=1) + "\n", encoding="utf-8")
    print(f"unsure_below {unsure['unsure_below']}: out of fold P {chosen['precision']:.1%} R {chosen['recall']:.1%}; "
          f"held-out test P {unsure['test']['precision']:.1%} R {unsure['test']['recall']:.1%}")
    print(f"memory radius {memory['radius']} strength {memory['strength']}: out-of-fold show "
          f"{best['right_instrument']:.1%} with {best['corrections_per_125']:.1f} corrections per 125 "
          f"(without memory {memory['out_of_fold_show_without_memory']['right_instrument']:.1%})")


if __name__ == "__main__":
    main()
