"""The model, made ready in the background so that a show takes sounds from its first second.

A :class:`ModelLoader` reads the model's sidecar at once (labels and features, and so the rate the chain works at:
no TensorFlow needed), then imports TensorFlow, loads the weights and warms everything up on a thread of its own
(≈ 10 s on a 2-core laptop, most of it TensorFlow's import). Meanwhile the upload server already listens and stores
what arrives; processing waits (:meth:`exsampling.pipeline.Pipeline.wait_until_ready`). ``state`` is what the
console's header and ``exsampling serve`` say about the model; :meth:`ModelLoader.line` says it in one line.
"""
from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from enum import StrEnum
from pathlib import Path

from .classifier import Classifier, ModelError, ModelInfo, ModelMissing, read_info

#: Called on the loading thread, with the model once loaded (None without one), before the state turns "ready".
Warm = Callable[[Classifier | None], None]


class ModelState(StrEnum):
    """Where a model is."""

    LOADING = "loading"  # TensorFlow, the weights and the warm-up, on the loader's thread: processing waits
    READY = "ready"
    NONE = "none"  # no model file: the chain runs without classes (stored, pitched, shown; never sent)
    FAILED = "failed"  # a model file that cannot be used: recordings are stored and wait, "received"


class ModelLoader:
    """A model named by its path: its sidecar read now, its weights loaded by :meth:`start` on a thread.

    Parameters
    ----------
    path : the ``.keras`` file, or None for no model.

    ``info`` is the sidecar's :class:`~exsampling.classifier.ModelInfo` (None without a usable one), ``classifier``
    the loaded :class:`~exsampling.classifier.Classifier` (None until loaded), ``error`` why there is none
    (``failure``: as a :class:`~exsampling.classifier.ModelError`, when it failed), and ``load_s`` how long
    :meth:`start` took to settle (None before).
    """

    def __init__(self, path: str | Path | None) -> None:
        self.path = None if path is None else Path(path).expanduser()
        self.info: ModelInfo | None = None
        self.classifier: Classifier | None = None
        self.error = ""
        self.failure: ModelError | None = None
        self.load_s: float | None = None
        self._settled = threading.Event()
        self._lock = threading.Lock()
        self._on_settled: list[Callable[[ModelLoader], None]] = []
        self._thread: threading.Thread | None = None
        if self.path is None:
            self.state, self.error = ModelState.NONE, "no model"
            return
        try:
            self.info = read_info(self.path)
            self.state = ModelState.LOADING
        except ModelMissing as exc:
            self.state, self.error = ModelState.NONE, str(exc)
        except ModelError as exc:
            self._fail(exc)

    @classmethod
    def from_config(cls, cfg) -> ModelLoader:
        """The model ``[classifier] model`` names."""
        return cls(cfg.resolve(cfg.classifier.model))

    @classmethod
    def loaded(cls, classifier: Classifier | None) -> ModelLoader:
        """A loader that has nothing left to do: ``classifier`` is ready (None: no model)."""
        loader = cls(None)
        if classifier is not None:
            loader.info, loader.classifier, loader.error = classifier.info, classifier, ""
            loader.state = ModelState.READY
        loader.load_s = 0.0
        loader._settled.set()
        return loader

    @property
    def settled(self) -> bool:
        """Whether loading has ended (ready, failed, or nothing to load) and the warm-up has run."""
        return self._settled.is_set()

    def start(self, warm: Warm | None = None,
              around: Callable[[], AbstractContextManager[object]] | None = None) -> None:
        """Load and warm the model on a thread of its own, then call ``warm`` there (the chain's warm-up); a no-op
        once started. ``around``: a context the loading runs in (the console sends TensorFlow's native start-up
        notices to the kernel's log with it)."""
        with self._lock:
            if self._thread is not None or self.settled:
                return
            self._thread = threading.Thread(target=self._run, args=(warm, around or contextlib.nullcontext),
                                            name="exsampling-model", daemon=True)
        self._thread.start()

    def _run(self, warm: Warm | None, around: Callable[[], AbstractContextManager[object]]) -> None:
        began = time.perf_counter()
        try:
            with around():
                if self.state == ModelState.LOADING:
                    assert self.info is not None
                    self.classifier = self._load(self.info)
                if warm is not None and self.state != ModelState.FAILED:
                    warm(self.classifier)
            if self.state == ModelState.LOADING:
                self.state = ModelState.READY
        except ModelError as exc:
            self._fail(exc)
        except Exception as exc:  # a thread's error reaches nobody: the state carries it to the page and terminal
            failure = ModelError(f"{type(exc).__name__}: {exc}")
            failure.__cause__ = exc
            self._fail(failure)
        self.load_s = time.perf_counter() - began
        with self._lock:
            self._settled.set()
            callbacks, self._on_settled = self._on_settled, []
        for callback in callbacks:
            callback(self)

    def _fail(self, failure: ModelError) -> None:
        self.classifier, self.failure, self.error, self.state = None, failure, str(failure), ModelState.FAILED

    def _load(self, info: ModelInfo) -> Classifier:
        """Import TensorFlow, load the weights, compile and warm the model's call (the slow part)."""
        return Classifier.load(info.path)

    def wait(self, timeout: float | None = None) -> bool:
        """Block until loading has settled (at most ``timeout`` s); whether it has."""
        return self._settled.wait(timeout)

    def on_settled(self, callback: Callable[[ModelLoader], None]) -> None:
        """Call ``callback(self)`` once loading has settled: now if it has, else on the loading thread."""
        with self._lock:
            if not self.settled:
                self._on_settled.append(callback)
                return
        callback(self)

    def line(self) -> str:
        """The model's state in one line, for a terminal or the console's header."""
        name = self.info.name if self.info is not None else (self.path.name if self.path else "")
        if self.state == ModelState.LOADING:
            return f"model {name} loading…"
        if self.state == ModelState.READY:
            took = f" (loaded in {self.load_s:.1f} s)" if self.load_s else ""
            return f"model {name} ready{took}"
        if self.state == ModelState.FAILED:
            return (f"model failed to load: {self.error}. Recordings are kept and wait, \"received\", "
                    "for a restart with a working model")
        return "no model found: recordings are stored and pitched but get no class or instrument"
