"""What each way of running the model costs and keeps, side by side on the same pieces, in one run.

Keras as the classifier runs it without a converted runtime (one compiled tf.function), then TensorFlow Lite
on LiteRT with XNNPACK (float32, float16 weights, dynamic-range int8), then ONNX Runtime (float32 and its
dynamic int8) when ``tf2onnx`` and ``onnxruntime`` are installed (they are not dependencies:
``pip install tf2onnx onnxruntime`` to include them). Every option is timed round-robin on the same pieces, so a
busy machine slows them alike; each call's time is divided by its batch size.

What each keeps is measured against Keras on the same pieces: same top-1 label, same Fig. 5 instrument, the largest
probability difference; with ``--manifest`` also accuracy on the corpus' held-out (split=test) clips.

    python bench/runtimes.py --manifest data/corpus/manifest.csv     # held-out clips of a corpus
    python bench/runtimes.py --sounds ../shared/sounds                # any recordings (agreement only)
    python bench/runtimes.py                                          # synthetic clips: timing only
"""
from __future__ import annotations

import argparse
import importlib.util
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from _common import clips, model_path, percentiles

from exsampling import features, runtime, train
from exsampling.classifier import Classifier, mask_untrained
from exsampling.mapping import DEFAULT_MAPPING, LABELS

Run = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]


def tflite_options(model: Path, work: Path, shape: tuple[int, ...]) -> dict[str, tuple[Run, Path]]:
    out = {}
    for q in ("float32", "float16", "int8"):
        folder = work / q
        folder.mkdir()
        for f in (model, model.with_suffix(".json")):
            shutil.copy(f, folder / f.name)
        record = runtime.convert(folder / model.name, quantization=q)
        artifact = folder / record.artifact
        out[f"TFLite {q} (LiteRT, XNNPACK)"] = (runtime.LiteModel(artifact, shape), artifact)
    return out


def onnx_options(tflite_float32: Path, work: Path) -> dict[str, tuple[Run, Path]]:
    import onnxruntime as ort
    import tf2onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    f32, i8 = work / "model.onnx", work / "model.int8.onnx"
    tf2onnx.convert.from_tflite(str(tflite_float32), opset=17, output_path=str(f32))
    quantize_dynamic(str(f32), str(i8), weight_type=QuantType.QInt8)
    out = {}
    for name, path in (("ONNX Runtime float32", f32), ("ONNX Runtime dynamic int8", i8)):
        options = ort.SessionOptions()
        options.intra_op_num_threads = runtime.cores()
        session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        feed = session.get_inputs()[0].name
        # outputs in the order tf2onnx took them from the TFLite signature: embedding, probs
        names = {o.name: o.shape[-1] for o in session.get_outputs()}
        probs_name = next(n for n, width in names.items() if width == len(LABELS))
        emb_name = next(n for n in names if n != probs_name)

        def run(x: np.ndarray, session=session, feed=feed, probs_name=probs_name, emb_name=emb_name):
            probs, emb = session.run([probs_name, emb_name], {feed: x})
            return probs, emb

        out[name] = (run, path)
    return out


def pieces(args, clf: Classifier) -> tuple[np.ndarray, np.ndarray | None, str]:
    """Feature images to run, their true labels (held-out clips only) and what they are."""
    params = clf.info.features
    if args.manifest:
        held = [c for c in train.read_manifest(args.manifest) if c.split == "test"]
        ds = train.extract(held, params, train.TrimRule(), args.cache)
        return ds.x, ds.y, f"{len(ds.y)} held-out pieces (split=test) of {args.manifest}"
    if args.sounds:
        files = sorted(p for p in args.sounds.rglob("*") if p.suffix.lower() in {".ogg", ".wav", ".flac", ".mp3"})
        x = np.concatenate([train.load_images(p, params, train.TrimRule(), None) for p in files])
        return x, None, f"{len(x)} pieces of {len(files)} recordings in {args.sounds}"
    x = np.stack([features.image(y, params) for y in clips(24, params.sample_rate)])
    return x, None, f"{len(x)} synthetic pieces (tones and noise hits: timing only)"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--manifest", type=Path, help="a corpus manifest: its held-out clips")
    ap.add_argument("--sounds", type=Path, help="a folder of recordings, cut into 5-s pieces as live")
    ap.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "exsampling" / "features")
    ap.add_argument("--runs", type=int, default=20, help="timed calls per option and batch size")
    ap.add_argument("--batches", default="1,8", help="batch sizes to time (comma-separated)")
    ap.add_argument("--without", default="",
                    help="leave out the options whose name contains one of these (comma-separated, e.g. "
                         "'ONNX Runtime dynamic': it takes ≈ 1 s a piece)")
    args = ap.parse_args()
    path, what = model_path()
    loaded = Classifier.load(path)
    keras_clf = Classifier(loaded.info, loaded.model, use_runtime=False)
    info = keras_clf.info
    x, y, described = pieces(args, keras_clf)
    options: dict[str, tuple[Run, Path | None]] = {"Keras (tf.function), today": (keras_clf.classify, path)}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        options |= tflite_options(path, work, info.features.shape)
        if importlib.util.find_spec("tf2onnx") and importlib.util.find_spec("onnxruntime"):
            options |= onnx_options(options["TFLite float32 (LiteRT, XNNPACK)"][1], work)
        else:
            print("(ONNX Runtime left out: pip install tf2onnx onnxruntime to include it)")
        for unwanted in filter(None, args.without.split(",")):
            options = {name: o for name, o in options.items() if unwanted not in name or name.startswith("Keras")}
        answers = {}
        for name, (run, _) in options.items():
            parts = [run(x[i:i + 32]) for i in range(0, len(x), 32)]
            answers[name] = (mask_untrained(np.concatenate([p[0] for p in parts]), info.labels, info.trained_labels),
                             np.concatenate([p[1] for p in parts]))
        times: dict[tuple[str, int], list[float]] = {}
        batches = [int(b) for b in args.batches.split(",")]
        rng = np.random.default_rng(0)
        for b in batches:
            for run, _ in options.values():
                run(x[:b])  # a batch size's first call plans its buffers
            for _ in range(args.runs):
                batch = x[rng.choice(len(x), b)]
                for name, (run, _) in options.items():
                    start = time.perf_counter()
                    run(batch)
                    times.setdefault((name, b), []).append((time.perf_counter() - start) / b)
        sizes = {name: (p.stat().st_size / 1e6 if p else float("nan")) for name, (_, p) in options.items()}
    print(f"model: {what}; {runtime.cores()} cores; pieces: {described}")
    head = f"{'option':36s} {'MB':>5s}" + "".join(f"  b={b} p50 / p95 ms/piece" for b in batches)
    head += "  same label  same instr.  max |Δp|"
    if y is not None:
        head += "  top-1   top-3   instrument"
    print(head)
    reference = answers["Keras (tf.function), today"]
    for name in options:
        line = f"{name:36s} {sizes[name]:5.1f}"
        for b in batches:
            p50, p95 = percentiles(times[(name, b)])
            line += f"  {p50:11.1f} / {p95:6.1f}      "
        a = runtime.agreement(reference, answers[name], info.labels, DEFAULT_MAPPING)
        line += f"  {a['top1']:9.1%}  {a['instrument']:10.1%}  {a['max_prob_diff']:8.3f}"
        if y is not None:
            m = train.evaluate(answers[name][0], y)
            line += f"  {m['top1']:6.1%}  {m['top3']:6.1%}  {m['instrument']:6.1%}"
        print(line)


if __name__ == "__main__":
    main()
