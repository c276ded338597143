"""Latency of the live chain per 5-s sample: from "recording stored" to the OSC message received by a peer.

Compared in the same run with a paper-like baseline on the same clips: librosa's trim, mel
spectrogram and pyin, then ``model.predict`` per call (nothing reloaded), then the same OSC send.

    python bench/latency.py [--n 20] [--baseline-n 8]
"""
from __future__ import annotations

import argparse
import tempfile
import threading
import time

import librosa
import numpy as np
from _common import clips, model_path, percentiles
from pythonosc.dispatcher import Dispatcher
from pythonosc.osc_server import ThreadingOSCUDPServer

from exsampling import features
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


def ours(pipeline: Pipeline, peer: Peer, y_list: list[np.ndarray], sr: int) -> list[float]:
    out = []
    for y in y_list:
        intake = pipeline.ingest(wav_bytes(y, sr), source="bench")
        pipeline.process(intake)
        out.append(peer.wait() - intake.stored_at)
    return out


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
    ap.add_argument("--n", type=int, default=20, help="clips through ExSampling's chain")
    ap.add_argument("--baseline-n", type=int, default=8, help="clips through the baseline (pyin ≈ 1 s each)")
    ap.add_argument("--blas-threads", action="store_true",
                    help="leave numpy's BLAS its default threads (the chain before it kept them to one)")
    args = ap.parse_args()
    path, what = model_path()
    peer = Peer()
    cfg = Config(library=LibraryConfig(path=tempfile.mkdtemp()), classifier=ClassifierConfig(model=str(path)),
                 osc=OscConfig(port=peer.port))
    sr = 44100  # what phones record; the pipeline decodes to the model's own rate
    t0 = time.perf_counter()
    classifier = Classifier.from_config(cfg)
    cold = time.perf_counter() - t0
    if not args.blas_threads:
        leave_the_cores_to_the_model()  # as exsampling.pipeline.build does for the console and the server
    pipeline = Pipeline(cfg, Library.from_config(cfg), classifier, OscSender.from_config(cfg))
    y_list = clips(args.n, sr)
    fast = ours(pipeline, peer, y_list, sr)
    slow = baseline(classifier.model, classifier.info.features, OscSender("127.0.0.1", peer.port), peer,
                    y_list[: args.baseline_n], sr)
    fast50, fast95 = percentiles(fast)
    slow50, slow95 = percentiles(slow)
    print(f"model: {what} ({classifier.info.features.frontend} features at {classifier.info.features.sample_rate} Hz)")
    print(f"model load + warm-up (cold start): {cold * 1000:.0f} ms; numpy's BLAS threads: "
          f"{'default' if args.blas_threads else 1}")
    print(f"exsampling  stored→OSC per 5-s sample  n={len(fast):3d}  p50 {fast50:7.1f} ms  p95 {fast95:7.1f} ms")
    print(f"baseline    (pyin + model.predict)     n={len(slow):3d}  p50 {slow50:7.1f} ms  p95 {slow95:7.1f} ms")
    print(f"speed-up at p50: {slow50 / fast50:.1f}x   at p95: {slow95 / fast95:.1f}x")
    print("targets: p50 <= 150 ms per 5-s sample on 2 cores, >= 5x faster than the baseline")


if __name__ == "__main__":
    main()
