"""Latency of the live chain per 5-s sample: from "recording stored" to the OSC message received by a peer.

The chain runs once per way of running the model, taking turns clip by clip so a busy machine slows them alike:
the shipped runtime (``NAME.int8.tflite`` on LiteRT, what the console and the CLI use), Keras (the classifier
without a converted runtime), and TensorFlow Lite with float32 and float16 weights (converted here). Compared in
the same run with a paper-like baseline on the same clips: librosa's trim, mel spectrogram and pyin, then
``model.predict`` per call (nothing reloaded), then the same OSC send.

    python bench/latency.py [--n 20] [--baseline-n 8] [--runtimes shipped,keras,float32,float16]
"""
from __future__ import annotations

import argparse
import shutil
import tempfile
import threading
import time
from pathlib import Path

import librosa
import numpy as np
from _common import clips, model_path, percentiles
from pythonosc.dispatcher import Dispatcher
from pythonosc.osc_server import ThreadingOSCUDPServer

from exsampling import features, runtime
from exsampling.audio import wav_bytes
from exsampling.classifier import Classifier, leave_the_cores_to_the_model
from exsampling.config import ClassifierConfig, Config, LibraryConfig, OscConfig
from exsampling.library import Library
from exsampling.osc import OscSender
from exsampling.pipeline import Pipeline
from exsampling.records import Sample


class Peer:
    """A python-osc server that timestamps each message's arrival."""

    def __init__(self) -> None:
        self.arrivals: list[float] = []
        self.event = threading.Event()
        dispatcher = Dispatcher()
        dispatcher.set_default_handler(self._on_message)
        self.server = ThreadingOSCUDPServer(("127.0.0.1", 0), dispatcher)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def _on_message(self, address, *args) -> None:
        self.arrivals.append(time.perf_counter())
        self.event.set()

    def wait(self) -> float:
        self.event.wait(10)
        self.event.clear()
        return self.arrivals[-1]


def ours(pipelines: dict[str, Pipeline], peer: Peer, y_list: list[np.ndarray], sr: int) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {name: [] for name in pipelines}
    for y in y_list:
        for name, pipeline in pipelines.items():
            intake = pipeline.ingest(wav_bytes(y, sr), source="bench")
            pipeline.process(intake)
            out[name].append(peer.wait() - intake.stored_at)
    return out


def converted(model: Path, quantization: str, work: Path) -> Classifier:
    """A classifier on ``model`` converted here to ``quantization`` (a copy in ``work``; the shipped files stay)."""
    folder = work / quantization
    folder.mkdir()
    for f in (model, model.with_suffix(".json")):
        shutil.copy(f, folder / f.name)
    runtime.convert(folder / model.name, quantization=quantization)
    return Classifier.load(folder / model.name)


def baseline(model, params: features.FeatureParams, sender: OscSender, peer: Peer, y_list: list[np.ndarray],
             sr: int) -> list[float]:
    out = []
    for y in y_list:
        start = time.perf_counter()
        y = librosa.resample(y, orig_sr=sr, target_sr=params.sample_rate)
        trimmed, _ = librosa.effects.trim(y, top_db=20)
        image = features.image(trimmed, params)[None]  # the model's own features, so its answer means something
        f0, voiced, _ = librosa.pyin(trimmed, fmin=50, fmax=2500, sr=params.sample_rate)
        hz = float(np.nanmedian(f0)) if np.any(voiced) else None
        probs = model.predict(image, verbose=0)[0]
        label = str(np.argmax(probs))
        sender.sample(Sample(id=0, recording_id=0, path="/tmp/x.wav", start_s=0, duration_s=5, label=label,
                             instrument="Piano", pitch_hz=hz))
        out.append(peer.wait() - start)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=20, help="clips through ExSampling's chain, per runtime")
    ap.add_argument("--baseline-n", type=int, default=8, help="clips through the baseline (pyin ≈ 1 s each)")
    ap.add_argument("--runtimes", default="shipped,keras,float32,float16",
                    help="ways to run the model: shipped (its converted runtime, what ships), keras, float32, "
                         "float16 (TensorFlow Lite converted here)")
    ap.add_argument("--blas-threads", action="store_true",
                    help="leave numpy's BLAS its default threads (the chain before it kept them to one)")
    args = ap.parse_args()
    path, what = model_path()
    peer = Peer()
    sr = 44100  # what phones record; the pipeline decodes to the model's own rate
    t0 = time.perf_counter()
    shipped = Classifier.load(path)
    cold = time.perf_counter() - t0
    work = Path(tempfile.mkdtemp())
    classifiers: dict[str, Classifier] = {}
    for name in args.runtimes.split(","):
        if name == "shipped":
            classifiers[name] = shipped
        elif name == "keras":
            classifiers[name] = Classifier(shipped.info, shipped.model, use_runtime=False)
        else:
            classifiers[name] = converted(path, name, work)
    if not args.blas_threads:
        leave_the_cores_to_the_model()  # as exsampling.pipeline.build does for the console and the server
    pipelines = {}
    for name, classifier in classifiers.items():
        cfg = Config(library=LibraryConfig(path=str(work / f"library-{name}")),
                     classifier=ClassifierConfig(model=str(classifier.info.path)), osc=OscConfig(port=peer.port))
        pipelines[name] = Pipeline(cfg, Library.from_config(cfg), classifier, OscSender.from_config(cfg))
    y_list = clips(args.n, sr)
    fast = ours(pipelines, peer, y_list, sr)
    slow = baseline(shipped.model, shipped.info.features, OscSender("127.0.0.1", peer.port), peer,
                    y_list[: args.baseline_n], sr)
    shutil.rmtree(work, ignore_errors=True)
    slow50, slow95 = percentiles(slow)
    print(f"model: {what} ({shipped.info.features.frontend} features at {shipped.info.features.sample_rate} Hz); "
          f"{runtime.cores()} cores")
    print(f"model load + warm-up (cold start, shipped runtime): {cold * 1000:.0f} ms; numpy's BLAS threads: "
          f"{'default' if args.blas_threads else 1}")
    for name, times in fast.items():
        p50, p95 = percentiles(times)
        label = f"{name}: {classifiers[name].runtime}"
        print(f"exsampling  {label:44s} stored→OSC per 5-s sample  n={len(times):3d}  p50 {p50:7.1f} ms  "
              f"p95 {p95:7.1f} ms  speed-up over baseline at p50 {slow50 / p50:.1f}x")
    print(f"baseline    {'(pyin + model.predict, Keras)':44s} stored→OSC per 5-s sample  n={len(slow):3d}  "
          f"p50 {slow50:7.1f} ms  p95 {slow95:7.1f} ms")
    print("targets: p50 <= 60 ms per 5-s sample on 2 cores (issue 22), >= 5x faster than the baseline")


if __name__ == "__main__":
    main()
