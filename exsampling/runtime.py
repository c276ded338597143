"""The runtime that classifies on stage: the Keras model converted to TensorFlow Lite, run by LiteRT's XNNPACK.

Keras stays the training format. :func:`convert` (``tools/convert_runtime.py``) derives ``NAME.int8.tflite``
from ``NAME.keras`` — the same network with its weights stored as int8 and its convolutions run on int8
("dynamic-range quantization": activations are quantized per call) — and writes ``NAME.runtime.json`` beside it:
what was converted, how, and the SHA-256 of the ``.keras`` it came from. :func:`load` checks that hash, so an
artifact converted from another ``.keras`` (the model was retrained since) is refused with :class:`StaleRuntime`
and the classifier runs the ``.keras`` itself. Measured on the bundled model's held-out clips: see
models/README.md ("Runtime") and bench/runtimes.py.

Loading needs only ``ai-edge-litert`` (imports in milliseconds); converting needs TensorFlow.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import tempfile
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

#: What each quantization stores and computes in; ``int8`` is what ships (models/README.md, "Runtime").
QUANTIZATIONS = {
    "int8": "dynamic-range int8: int8 weights, activations quantized per call",
    "float16": "float16 weights, float32 arithmetic",
    "float32": "float32",
}
#: Record format written by :func:`convert`.
FORMAT = 1
#: The most pieces one interpreter call takes: XNNPACK's time per piece stops falling well before this, and an
#: interpreter keeps buffers for the largest batch it has run (≈ 6 MB per piece for the aisfx network).
MAX_BATCH = 8


class StaleRuntime(Exception):
    """The converted artifact does not belong to this ``.keras`` (or is missing, damaged or unreadable)."""


@dataclass(frozen=True)
class Record:
    """``NAME.runtime.json``: the converted artifact and the ``.keras`` it was derived from."""

    artifact: str
    quantization: str
    source: str
    source_sha256: str
    artifact_sha256: str
    converter: str
    created_at: str
    heldout: dict

    def to_dict(self) -> dict:
        return {"format": FORMAT, **self.__dict__}


def record_path(model_path: str | Path) -> Path:
    """Where the runtime record of ``model_path`` (``NAME.keras``) lives: ``NAME.runtime.json`` beside it."""
    return Path(model_path).with_suffix(".runtime.json")


def sha256(path: str | Path) -> str:
    """Hex SHA-256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def read_record(model_path: str | Path) -> Record | None:
    """The runtime record beside ``model_path``; None when there is none. Raises StaleRuntime when unreadable."""
    path = record_path(model_path)
    if not path.is_file():
        return None
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
        if meta.get("format") != FORMAT:
            raise StaleRuntime(f"{path.name}: unsupported format {meta.get('format')!r} (expected {FORMAT})")
        return Record(**{k: meta[k] for k in Record.__dataclass_fields__ if k != "heldout"},
                      heldout=meta.get("heldout", {}))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise StaleRuntime(f"{path.name} is unreadable ({exc})") from exc


def fresh_record(model_path: str | Path) -> Record | None:
    """The record beside ``model_path`` if its artifact was converted from this very ``.keras``; None when
    there is no record. Raises StaleRuntime with what to run when the artifact is stale, missing or damaged."""
    model_path = Path(model_path)
    record = read_record(model_path)
    if record is None:
        return None
    again = f"run `python tools/convert_runtime.py {model_path}` to convert it again"
    artifact = model_path.with_name(record.artifact)
    if sha256(model_path) != record.source_sha256:
        raise StaleRuntime(f"{record.artifact} was converted from another {model_path.name} (the model changed "
                           f"since {record.created_at}); {again}")
    if not artifact.is_file():
        raise StaleRuntime(f"{record.artifact} (named by {record_path(model_path).name}) is missing; {again}")
    if sha256(artifact) != record.artifact_sha256:
        raise StaleRuntime(f"{record.artifact} is not the file {record_path(model_path).name} describes "
                           f"(damaged or replaced); {again}")
    return record


@contextmanager
def _delegate_notice_dropped():
    """Drop the one line LiteRT prints to stderr when it creates its XNNPACK delegate (it has no switch for it);
    anything else written to stderr meanwhile is passed on afterwards."""
    try:
        fd = os.dup(2)
    except OSError:  # no stderr to guard
        yield
        return
    with tempfile.TemporaryFile() as caught:
        os.dup2(caught.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(fd, 2)
            os.close(fd)
            caught.seek(0)
            rest = [line for line in caught.read().splitlines(keepends=True)
                    if not line.startswith(b"INFO: Created TensorFlow Lite XNNPACK delegate")]
            if rest:
                os.write(2, b"".join(rest))


def cores() -> int:
    """The CPU cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


class LiteModel:
    """A converted model on LiteRT: ``model(images)`` → ``(probabilities, embeddings)``, float32 numpy arrays.

    One interpreter, calls serialised (an interpreter is not thread-safe), batches of any size cut into calls of
    at most :data:`MAX_BATCH` pieces. ``threads``: XNNPACK's worker threads (default: every core).
    """

    def __init__(self, path: str | Path, input_shape: tuple[int, ...], threads: int | None = None) -> None:
        from ai_edge_litert.interpreter import Interpreter

        self.path = Path(path)
        self._lock = threading.Lock()
        with _delegate_notice_dropped():
            self._interpreter = Interpreter(model_path=str(self.path), num_threads=threads or cores())
            self._run = self._interpreter.get_signature_runner()
            outputs = set(self._run.get_output_details())
            if outputs != {"probs", "embedding"}:
                raise StaleRuntime(f"{self.path.name} has outputs {sorted(outputs)}, not probs and embedding; "
                                   "convert it again with tools/convert_runtime.py")
            # the first call at a batch size larger than any before plans buffers and kernels (≈ 10 ms a piece);
            # done here, a burst's first batch does not pay for it
            self(np.zeros((MAX_BATCH, *input_shape), np.float32))

    def __call__(self, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        images = np.ascontiguousarray(images, dtype=np.float32)
        probs, embeddings = [], []
        with self._lock:
            for start in range(0, len(images), MAX_BATCH):
                out = self._run(images=images[start:start + MAX_BATCH])
                probs.append(out["probs"])
                embeddings.append(out["embedding"])
        return np.concatenate(probs), np.concatenate(embeddings)


def load(model_path: str | Path, input_shape: tuple[int, ...], threads: int | None = None) -> LiteModel | None:
    """The converted runtime of ``model_path`` (``NAME.keras``); None when it has none.

    Raises StaleRuntime (the message says what to run) when the artifact does not belong to this ``.keras``, or
    when LiteRT (``ai-edge-litert``) cannot load it.
    """
    record = fresh_record(model_path)
    if record is None:
        return None
    artifact = Path(model_path).with_name(record.artifact)
    try:
        return LiteModel(artifact, input_shape, threads)
    except ImportError as exc:
        raise StaleRuntime(f"LiteRT is not installed ({exc}); `pip install ai-edge-litert` to use "
                           f"{record.artifact}") from exc
    except ValueError as exc:  # LiteRT's word for a file it cannot read
        raise StaleRuntime(f"LiteRT cannot load {record.artifact}: {exc}") from exc


def agreement(a: tuple[np.ndarray, np.ndarray], b: tuple[np.ndarray, np.ndarray], labels: tuple[str, ...],
              mapping: dict[str, str]) -> dict:
    """How often two classifiers' ``(probabilities, embeddings)`` agree: same top-1 label, same instrument
    (the paper's Fig. 5), largest probability difference, lowest cosine similarity of the embeddings."""
    top_a, top_b = a[0].argmax(axis=1), b[0].argmax(axis=1)
    inst_a = np.array([mapping.get(labels[i], "") for i in top_a])
    inst_b = np.array([mapping.get(labels[i], "") for i in top_b])
    cos = (a[1] * b[1]).sum(axis=1) / np.maximum(np.linalg.norm(a[1], axis=1) * np.linalg.norm(b[1], axis=1), 1e-12)
    return {"n": len(top_a), "top1": float(np.mean(top_a == top_b)), "instrument": float(np.mean(inst_a == inst_b)),
            "max_prob_diff": float(np.abs(a[0] - b[0]).max()), "min_embedding_cosine": float(cos.min())}


# ------------------------------------------------------------------------------------------------ convert
def convert(model_path: str | Path, embedding_layer: str = "embedding", quantization: str = "int8",
            heldout: dict | None = None) -> Record:
    """Convert ``NAME.keras`` to ``NAME.<quantization>.tflite`` beside it and write ``NAME.runtime.json``.

    The artifact computes the model's probabilities and the ``embedding_layer`` output (the classifier's two
    answers) for any batch size. ``heldout``: measured figures to keep in the record (tools/convert_runtime.py).
    Needs TensorFlow.
    """
    if quantization not in QUANTIZATIONS:
        raise ValueError(f"quantization must be one of {', '.join(QUANTIZATIONS)}, not {quantization!r}")
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras
    import tensorflow as tf

    model_path = Path(model_path)
    model = keras.saving.load_model(model_path, compile=False)
    try:
        embedding = model.get_layer(embedding_layer).output
    except ValueError:
        embedding = model.layers[-2].output
    both = keras.Model(model.inputs, {"probs": model.outputs[0], "embedding": embedding})
    spec = tf.TensorSpec((None, *model.inputs[0].shape[1:]), tf.float32, name="images")
    with tempfile.TemporaryDirectory() as saved:
        archive = keras.export.ExportArchive()
        archive.track(both)
        archive.add_endpoint("serving_default", lambda images: both(images, training=False), input_signature=[spec])
        archive.write_out(saved, verbose=False)
        converter = tf.lite.TFLiteConverter.from_saved_model(saved)
        if quantization != "float32":
            converter.optimizations = [tf.lite.Optimize.DEFAULT]
        if quantization == "float16":
            converter.target_spec.supported_types = [tf.float16]
        flatbuffer = converter.convert()
    artifact = model_path.with_name(f"{model_path.stem}.{quantization}.tflite")
    artifact.write_bytes(flatbuffer)
    record = Record(
        artifact=artifact.name, quantization=quantization, source=model_path.name,
        source_sha256=sha256(model_path), artifact_sha256=sha256(artifact),
        converter=f"tensorflow {tf.__version__} TFLiteConverter",
        created_at=dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"), heldout=heldout or {},
    )
    write_record(model_path, record)
    return record


def write_record(model_path: str | Path, record: Record) -> None:
    """Write ``record`` as ``NAME.runtime.json`` beside ``model_path``."""
    record_path(model_path).write_text(json.dumps(record.to_dict(), indent=1) + "\n", encoding="utf-8")
