"""Fixtures that make their own audio, models, libraries and OSC peers, so tests pass on a fresh clone."""
from __future__ import annotations

import json
import os
import re
import socket
import threading
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from exsampling.config import ClassifierConfig, Config, LibraryConfig, OscConfig
from exsampling.features import FeatureParams
from exsampling.mapping import LABELS

SR = 22050
# the console header once the stage has been silent 10 s; it refreshes once a second, so it may read 10–19 s
SILENT_LINE = re.compile(r"stage silent: no device has answered for 1\d s")


def tone(hz: float, seconds: float, sr: int = SR, amp: float = 0.5, harmonics: int = 1) -> np.ndarray:
    """A tone at ``hz`` with ``harmonics`` partials (1/k amplitudes), 10 ms fades against clicks."""
    t = np.arange(int(seconds * sr)) / sr
    y = sum(np.sin(2 * np.pi * hz * k * t) / k for k in range(1, harmonics + 1) if hz * k < sr / 2)
    y = amp * y / np.max(np.abs(y))
    fade = min(int(0.01 * sr), len(y) // 2)
    y[:fade] *= np.linspace(0, 1, fade)
    y[len(y) - fade:] *= np.linspace(1, 0, fade)
    return y.astype(np.float32)


def noise_bursts(seconds: float, sr: int = SR, every_s: float = 0.5, seed: int = 0) -> np.ndarray:
    """Decaying white-noise hits (a drum-like, unpitched sound)."""
    rng = np.random.default_rng(seed)
    y = np.zeros(int(seconds * sr), dtype=np.float32)
    hit = (rng.standard_normal(2000) * np.exp(-np.arange(2000) / 300)).astype(np.float32)
    for start in range(0, len(y) - len(hit), int(every_s * sr)):
        y[start:start + len(hit)] += 0.5 * hit
    return y


def write(path: Path, y: np.ndarray, sr: int = SR, **kwargs) -> Path:
    sf.write(path, y, sr, **kwargs)
    return path


def free_port(kind: int = socket.SOCK_DGRAM) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def build_tiny_model(directory: Path, name: str = "tiny", trained_labels=LABELS, params: FeatureParams | None = None,
                     prototypes: dict[str, list[np.ndarray]] | None = None) -> Path:
    """An untrained two-layer CNN with the real sidecar, for tests only: it builds and loads in a fraction of a
    second (an untrained MobileNetV2 took seconds), and what the tests check does not depend on its size.

    params: the features it takes (default: ``FeatureParams()``, 22050 Hz).
    prototypes: label → example sounds (mono, at ``params.sample_rate``). Untrained, the network hears every sound
        as the same class; with prototypes its head answers the label whose examples' mean embedding is nearest
        (a nearest-centroid head written into the last layer), and only those labels are trained.
    """
    import keras

    from exsampling.features import image

    params = params or FeatureParams()
    keras.utils.set_random_seed(0)
    images = keras.Input(params.shape)
    x = keras.layers.Conv2D(16, 3, strides=2, activation="relu")(images)
    x = keras.layers.Conv2D(32, 3, strides=2, activation="relu")(x)
    x = keras.layers.GlobalAveragePooling2D(name="embedding")(x)
    # random ReLU features share one large component; normalising it away leaves what tells sounds apart
    normalised = keras.layers.LayerNormalization()(x)
    model = keras.Model(images, keras.layers.Dense(len(LABELS), activation="softmax", name="probs")(normalised))
    if prototypes:
        trained_labels = list(prototypes)
        embed = keras.Model(images, normalised)
        head = np.zeros((normalised.shape[-1], len(LABELS)), np.float32)
        for label, sounds in prototypes.items():
            centroid = embed.predict(np.stack([image(y, params) for y in sounds]), verbose=0).mean(axis=0)
            head[:, LABELS.index(label)] = 20 * centroid / np.linalg.norm(centroid)
        model.get_layer("probs").set_weights([head, np.zeros(len(LABELS), np.float32)])
    path = directory / f"{name}.keras"
    model.save(path)
    path.with_suffix(".json").write_text(json.dumps({
        "format": 1, "labels": list(LABELS), "trained_labels": list(trained_labels),
        "features": params.to_dict(), "embedding_layer": "embedding",
        "architecture": {"name": "two-layer test CNN", "weights": "none" if not prototypes else "prototypes"},
        "trained_on": "prototypes written into the head of an untrained test model" if prototypes else
                      "nothing: an untrained test model", "metrics": {},
    }))
    return path


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("model"))


@pytest.fixture(scope="session")
def classifier(tiny_model):
    from exsampling.classifier import Classifier

    return Classifier.load(tiny_model, FeatureParams())


class OscCollector:
    """A real python-osc UDP server on a free port that records every message it receives."""

    def __init__(self) -> None:
        from pythonosc.dispatcher import Dispatcher
        from pythonosc.osc_server import ThreadingOSCUDPServer

        self.messages: list[tuple[str, list]] = []
        self._arrived = threading.Condition()
        dispatcher = Dispatcher()
        dispatcher.set_default_handler(self._handle)
        self.server = ThreadingOSCUDPServer(("127.0.0.1", 0), dispatcher)
        self.port = self.server.server_address[1]
        # a short poll interval: shutdown() waits for one poll, and tests close many peers
        self._thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()

    def _handle(self, address: str, *args) -> None:
        with self._arrived:
            self.messages.append((address, list(args)))
            self._arrived.notify_all()

    def wait_for(self, count: int, timeout: float = 5.0) -> list[tuple[str, list]]:
        with self._arrived:
            self._arrived.wait_for(lambda: len(self.messages) >= count, timeout)
            return list(self.messages)

    def for_tracks(self, count: int, timeout: float = 5.0) -> list[tuple[str, list]]:
        """The messages for the tracks (sample, withdraw, note) once there are ``count`` (or after ``timeout`` s),
        leaving out what the console tells the devices themselves (instrument names, where to answer)."""
        def tracks() -> list[tuple[str, list]]:
            return [m for m in self.messages if m[0].split("/")[2:3] in (["sample"], ["withdraw"], ["note"])]

        with self._arrived:
            self._arrived.wait_for(lambda: len(tracks()) >= count, timeout)
            return tracks()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def osc_peer():
    peer = OscCollector()
    yield peer
    peer.close()


@pytest.fixture
def cfg(tmp_path, tiny_model, osc_peer) -> Config:
    """Defaults, with a fresh library, the tiny model, and OSC aimed at the test's own peer."""
    return Config(
        library=LibraryConfig(path=str(tmp_path / "library")),
        classifier=ClassifierConfig(model=str(tiny_model)),
        osc=OscConfig(port=osc_peer.port, listen_port=0),  # the stage's answers on a free port, not 7401
    )


@pytest.fixture(scope="session")
def made_show(tmp_path_factory):
    """A show made through the real upload server and the console's API (tests/showmaker.py); read it, never
    change it: tests copy it first."""
    from showmaker import make_show

    return make_show(tmp_path_factory.mktemp("show"))
