"""The live chain: store → trim → segment → features → classify → pitch → map → OSC, and the stage's decisions.

``Pipeline`` is the one object the CLI, the upload server and the console drive. It owns no
event loop: ``process`` is plain blocking code for one recording; ``submit`` (``process_async`` on an event loop)
puts a recording in the pipeline's queue, first in, first out, so Tornado's loop (the kernel's, in the console)
keeps answering uploads meanwhile.

A crowd's recordings are drained with every core (:class:`exsampling.crowd.InOrder`): workers, one per core, each
take the next recording waiting, decode, trim and cut it, pitch its pieces and let the model hear them
(:class:`exsampling.stages.Stages`); one finisher then judges, labels, stores and sends each recording in arrival
order, so the first recording in is the first on stage. The performer's re-labels teach the chain through
:class:`exsampling.corrections.Corrections`.

It runs in its show's mode (:attr:`Pipeline.show`, whose :class:`~exsampling.show_state.ShowState` is the mode's
one home); a pipeline without a show runs in ``[show] mode``.

Its model may still be loading (:class:`~exsampling.model_loader.ModelLoader`): uploads are stored meanwhile, and
processing waits for it (:meth:`Pipeline.wait_until_ready`).
"""
from __future__ import annotations

import asyncio
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from contextlib import AbstractContextManager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from . import audio, features
from .classifier import Classifier, ModelMissing, leave_the_cores_to_the_model
from .config import Config, Mode, Unsure
from .corrections import Corrections
from .crowd import InOrder
from .diskspace import is_disk_full
from .library import Library, Received
from .mapping import LABELS, Mapper, RuleFailure, check_label
from .memory import Recall
from .model_loader import ModelLoader, ModelState
from .osc import OscSender
from .records import LabelSource, Location, Recording, RecordingStatus, Sample, SampleStatus, utc_now
from .stages import Stages

if TYPE_CHECKING:
    from .show_state import ShowState

Listener = Callable[[Sample], None]


@dataclass
class Intake:
    """A stored recording: its row; when already known, its audio (mono, at the model's rate) and the span of it
    that is audible (found while checking it, used when cutting it); and when it was stored (``time.perf_counter``).

    ``y`` and ``span`` are None for a recording taken on the strength of its header (:meth:`Pipeline.receive`) or
    found unfinished after a restart (:meth:`Pipeline.unfinished`): processing decodes its file and trims it.
    """

    recording: Recording
    y: np.ndarray | None
    span: audio.Span | None
    stored_at: float


@dataclass
class _Cut:
    """A recording prepared for the finisher: its pieces (audio at the chain's rate), their unsaved samples (place and
    pitch known), the model's probabilities and embeddings for them (None without a model); or what went wrong
    while preparing it (``problem``)."""

    intake: Intake
    pieces: list[np.ndarray] = field(default_factory=list)
    samples: list[Sample] = field(default_factory=list)
    heard: tuple[np.ndarray, np.ndarray] | None = None
    problem: Exception | None = None
    ready: bool = True  # False: the model failed to load or the pipeline closed first; the recording stays received


class Pipeline:
    """Runs the chain for recordings and applies the performer's decisions.

    Parameters
    ----------
    cfg : Config — the running configuration.
    library : Library — where everything is kept.
    classifier : Classifier, ModelLoader or None — None runs without a model: samples are stored, pitched and
        shown, but get no class, no instrument and never reach OSC (a class is never invented). With a
        :class:`~exsampling.model_loader.ModelLoader` the pipeline takes recordings at once and processes them
        once the model is loaded and the chain warm (:meth:`start_model`, :meth:`wait_until_ready`).
    sender : OscSender or None — None keeps everything off the network (``exsampling classify``
        without ``--send``).
    mapper : Mapper or None — defaults to the config's table.
    actor : str — who runs this chain, as the library's history names it (``console:<id>``, ``cli``, …); the
        performer's decisions may name another.
    workers : int or None — recordings prepared and heard side by side (:meth:`submit`); None: one per core.
    around : the context the model loads in (see :meth:`ModelLoader.start`).

    ``show`` (a :class:`~exsampling.show_state.ShowState`, None until one is given) is the show this chain runs
    for: ``mode`` is read from it, never copied; without one, the chain runs in ``[show] mode``.
    """

    def __init__(self, cfg: Config, library: Library, classifier: Classifier | ModelLoader | None = None,
                 sender: OscSender | None = None, mapper: Mapper | None = None, actor: str = "",
                 workers: int | None = None,
                 around: Callable[[], AbstractContextManager[object]] | None = None) -> None:
        self.cfg = cfg
        self.actor = actor
        self.library = library
        self.model = classifier if isinstance(classifier, ModelLoader) else ModelLoader.loaded(classifier)
        self.sender = sender
        # the model's sidecar says which features it needs, and so at which rate the chain works: known before
        # TensorFlow is even imported
        info = self.model.info
        self.params = info.features if info is not None else features.FeatureParams.from_config(cfg)
        self.rate = self.params.sample_rate
        self.mapper = mapper or Mapper(dict(cfg.mapping), dict(cfg.melodic), on_rule_error=self._rule_failed)
        self.show: ShowState | None = None
        self.stages = Stages(cfg, self.params, self.model, self.mapper)
        # a loading model's adapter: once loaded (see _warm_with)
        self.corrections = Corrections(cfg.classifier, info.labels if info is not None else LABELS, library,
                                       self.classifier)
        self.listeners: list[Listener] = []
        self.rule_failures: list[RuleFailure] = []
        self.timings: deque[tuple[float, float]] = deque(maxlen=1000)
        self._queue: InOrder[Intake, _Cut, list[Sample]] = InOrder(self._prepare, self._finish_claimed, workers)
        self._wake = threading.Event()  # set once the model has settled, or the pipeline closed
        self.model.on_settled(lambda _model: self._wake.set())
        self._around = around

    @property
    def classifier(self) -> Classifier | None:
        """The loaded model; None without one, while it loads, or when it failed to load (``model.state``)."""
        return self.model.classifier

    @property
    def mode(self) -> Mode:
        """How samples reach the stage: the show's mode (:attr:`ShowState.mode`); without a show, ``[show] mode``."""
        return self.show.mode if self.show is not None else Mode(self.cfg.show.mode)

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` has begun: nothing more is taken from the queue."""
        return self._queue.closed

    def start_model(self) -> None:
        """Load the model and warm the chain up, on the loader's thread; returns at once, a no-op once started.

        Callers start what must come first (the upload server) before: TensorFlow's import holds the interpreter
        for seconds and slows everything else in the process meanwhile. Processing starts it if nobody has.
        """
        self.model.start(self._warm_with, self._around)

    def wait_until_ready(self, timeout: float | None = None) -> bool:
        """Block until the model is loaded and the chain warm (or there is no model), starting them if needed:
        whether recordings can be processed now. False when the model failed to load, the pipeline closed, or
        ``timeout`` s passed first: recordings then stay "received" in the library, for :meth:`unfinished` at the
        next start."""
        if not self.closed:
            self.start_model()
        self._wake.wait(timeout)
        return self.model.settled and self.model.state != ModelState.FAILED and not self.closed

    def _warm_with(self, classifier: Classifier | None) -> None:
        """The loader's last step, on its thread: the corrections' adapter for the model just loaded, every stage
        warmed, then numpy's BLAS kept off the model's cores (once TensorFlow and the stages' libraries have loaded
        theirs)."""
        self.corrections.attach(classifier)
        self.stages.warm_up()
        if classifier is not None:
            leave_the_cores_to_the_model()

    # -- intake -------------------------------------------------------------------------------

    def ingest(self, data: bytes, extension: str = "wav", *, participant: str = "", location: Location | None = None,
               photo: tuple[bytes, str] | None = None, source: str = "cli",
               max_duration_s: float | None = None) -> Intake:
        """Check that ``data`` is usable audio, then store it. Nothing is stored if it is refused.

        Raises an :class:`exsampling.audio.AudioError` (empty, undecodable, too long, NaN/inf,
        nothing audible) with a reason a participant can read.
        """
        limit = min(self.cfg.audio.max_duration_s, max_duration_s or np.inf)
        y = audio.decode(data, self.rate, limit)
        a = self.cfg.audio
        span = audio.audible_span(y, self.rate, a.trim_top_db, a.silence_floor_dbfs)
        rec = self.library.add_recording(
            data, extension, participant=participant, location=location, photo=photo, source=source,
            duration_s=len(y) / self.rate, actor=self.actor,
        )
        return Intake(rec, y, span, time.perf_counter())

    def receive(self, arrival: Received, max_duration_s: float | None = None) -> Intake:
        """Store one upload on the strength of its header alone (see :meth:`receive_all`); raise what refused it."""
        [result] = self.receive_all([arrival], max_duration_s)
        if isinstance(result, Exception):
            raise result
        return result

    def receive_all(self, arrivals: list[Received], max_duration_s: float | None = None) -> list[Intake | Exception]:
        """Store uploads on the strength of their headers alone, for answering participants at once; together,
        so a crowd's uploads share the library's commits. For each: its intake, or what refused it.

        Refused before anything is stored: not audio, empty, over 192 kHz or stereo, longer than
        ``max_duration_s`` (by the header), and for float files (the only kind that can hold them) NaN or
        infinite samples: an :class:`exsampling.audio.AudioError`. An ``upload_id`` already stored gives
        :class:`exsampling.library.DuplicateUpload`. Everything else (a damaged body, nothing audible) is found
        while processing and reported on the recording's status.
        """
        limit = min(self.cfg.audio.max_duration_s, max_duration_s or np.inf)
        checked: list[tuple[Received, np.ndarray | None] | Exception] = []
        for arrival in arrivals:
            try:
                header = audio.check_header(arrival.data, limit)
                y = self.stages.decode(arrival.data, limit) if header.is_float else None
                checked.append((replace(arrival, duration_s=header.duration_s, actor=self.actor), y))
            except audio.AudioError as exc:
                checked.append(exc)
        kept = [c for c in checked if not isinstance(c, Exception)]
        stored = iter(self.library.add_recordings([arrival for arrival, _ in kept]) if kept else [])
        results: list[Intake | Exception] = []
        for c in checked:
            if isinstance(c, Exception):
                results.append(c)
                continue
            rec = next(stored)
            results.append(rec if isinstance(rec, Exception) else Intake(rec, c[1], None, time.perf_counter()))
        return results

    def unfinished(self) -> list[Intake]:
        """Recordings stored but never processed (the process stopped or died first), oldest first."""
        return [Intake(rec, None, None, time.perf_counter()) for rec in self.library.unfinished()]

    def ingest_file(self, path: str | Path, **kwargs) -> Intake:
        """:meth:`ingest` for a file on disk (its bytes are copied into the library)."""
        p = Path(path)
        try:
            data = p.read_bytes()
        except OSError as exc:
            raise audio.UndecodableAudio(f"cannot read {p}: {exc.strerror or exc}") from exc
        return self.ingest(data, p.suffix.lstrip(".").lower() or "bin", **kwargs)

    # -- the chain ----------------------------------------------------------------------------

    def process(self, intake: Intake, notify: bool = True) -> list[Sample]:
        """Trim, cut, classify, pitch, map and store every sample of ``intake`` in this thread; send the stage's share.

        Returns the samples in recording order (none when another worker has claimed the recording). In
        "auto" mode mapped samples go to OSC at once (except those :meth:`holds`); in "preview" mode they wait
        (status "new") for :meth:`accept`. Raises what failed the recording (it is then marked "failed"). Waits
        for the model first (:meth:`wait_until_ready`); when it cannot be had, processes nothing and the recording
        stays "received".
        """
        if not self.wait_until_ready():
            return []
        if not self.library.claim(intake.recording.id):
            return []  # already processed, or being processed by another worker
        samples = self._finish(self._prepare(intake))
        if notify:
            self._notify(samples)
        return samples

    def submit(self, intake: Intake) -> Future[list[Sample]]:
        """Queue ``intake`` (first in, first out) and return what it will become: its samples (listeners are not
        called: see :meth:`process_async`), or the exception that failed it. Recordings are prepared side by side
        and finished one by one in the order they were submitted."""
        return self._queue.submit(intake)

    async def process_async(self, intake: Intake) -> list[Sample]:
        """:meth:`submit` from an event loop; listeners are called back on the caller's loop, in arrival order."""
        samples = await asyncio.wrap_future(self.submit(intake))
        self._notify(samples)
        return samples

    def _prepare(self, intake: Intake) -> _Cut:
        """Decode (when not yet decoded), trim, cut, pitch, and let the model hear each piece (one call for the
        recording); what fails is kept in ``problem``, for :meth:`_finish` to tell."""
        cut = _Cut(intake)
        if not self.wait_until_ready():  # the model failed to load, or the pipeline closed
            cut.ready = False
            return cut
        try:
            cut.pieces, cut.samples = self.stages.cut(intake.recording, intake.y, intake.span)
            cut.heard = self.stages.hear(cut.pieces)
        except Exception as exc:
            cut.problem = exc
        return cut

    def _finish_claimed(self, cut: _Cut) -> list[Sample]:
        """The finisher's part: :meth:`_finish` a prepared recording, unless no model could be had or another
        worker has it (it stays "received")."""
        if cut.ready and self.library.claim(cut.intake.recording.id):
            return self._finish(cut)
        return []

    def _finish(self, cut: _Cut) -> list[Sample]:
        """Judge, label, map, store and send a recording's samples; set its status. Raises what failed it."""
        rec = cut.intake.recording
        try:
            if cut.problem is not None:
                raise cut.problem
            samples = self._label_and_store(cut)
        except audio.NothingAudible as exc:
            self.library.set_recording_status(rec.id, RecordingStatus.SILENT, str(exc), actor=self.actor)
            return []
        except audio.AudioError as exc:  # taken on its header, then found unusable: the participant reads why
            self.library.set_recording_status(rec.id, RecordingStatus.FAILED, str(exc), actor=self.actor)
            return []
        except Exception as exc:
            if is_disk_full(exc, self.library.root):  # not the recording's fault: processed again once there is room
                raise
            # the recording stays in the library, marked, so nothing a participant sent is lost
            self.library.set_recording_status(rec.id, RecordingStatus.FAILED, f"{type(exc).__name__}: {exc}",
                                              actor=self.actor)
            raise
        self.library.set_recording_status(rec.id, RecordingStatus.DONE)
        self.timings.append((cut.intake.stored_at, time.perf_counter()))  # (stored, done) for the console and bench
        return samples

    def _label_and_store(self, cut: _Cut) -> list[Sample]:
        whole = self.stages.label(cut.samples, cut.pieces, cut.heard, self.corrections)  # the recording's, if heard
        model = self.classifier.info.name if self.classifier is not None else None
        samples = []
        for i, (sample, piece) in enumerate(zip(cut.samples, cut.pieces, strict=True)):
            sample.instrument = self.mapper.instrument_for(sample.label, sample)
            sample.melodic = self.mapper.is_melodic(sample.instrument)
            stored = self.library.add_sample(sample, piece, self.rate, model=model, actor=self.actor,
                                             judgement=whole if i == 0 else None)
            if cut.heard is not None:
                self.corrections.keep(stored.id, cut.heard[1][i])
            if self.mode == Mode.AUTO and stored.instrument and not self.holds(stored):
                stored = self._send(stored, self.actor, auto=True)
            samples.append(stored)
        return samples

    def holds(self, sample: Sample) -> bool:
        """Whether auto mode keeps ``sample`` off the stage until the performer accepts it: it is unsure and
        ``[show] unsure = "hold"``."""
        return bool(sample.unsure) and self.cfg.show.unsure == Unsure.HOLD

    def _send(self, sample: Sample, actor: str, auto: bool = False) -> Sample:
        """Accept ``sample`` (unless it already is) and send it; the history gets ``accepted`` and ``sent``."""
        events: list[tuple[str, dict]] = []
        if sample.status not in (SampleStatus.ACCEPTED, SampleStatus.SENT):
            events.append(("accepted", {"auto": auto}))
        if self.sender is None or not sample.instrument:
            return self.library.update_sample(sample.id, status=SampleStatus.ACCEPTED, events=events, actor=actor)
        # before the datagram leaves: a local stage answers "loaded" within a millisecond
        self.library.stage_sent(sample.id, time.time())
        sent = self.sender.sample(sample)
        if sent:
            events.append(("sent", {"instrument": sample.instrument}))
        return self.library.update_sample(sample.id, status=SampleStatus.SENT if sent else SampleStatus.ACCEPTED,
                                          sent_at=utc_now() if sent else None, events=events, actor=actor)

    def _notify(self, samples: list[Sample]) -> None:
        for sample in samples:
            for listener in list(self.listeners):
                listener(sample)

    def _rule_failed(self, failure: RuleFailure) -> None:
        self.rule_failures.append(failure)

    # -- the performer's decisions ------------------------------------------------------------

    # Each decision is recorded in the history under ``actor`` (default: the pipeline's own).

    def accept(self, sample_id: int, actor: str | None = None) -> Sample:
        """Let a sample reach the stage (sends it over OSC)."""
        sample = self._send(self.library.sample(sample_id), self.actor if actor is None else actor)
        self._notify([sample])
        return sample

    def reject(self, sample_id: int, actor: str | None = None) -> Sample:
        """Keep a sample off the stage; if it was already sent, tell the device to withdraw it."""
        sample = self.library.sample(sample_id)
        events: list[tuple[str, dict]] = []
        if sample.status == SampleStatus.SENT and self.sender is not None and self.sender.withdraw(sample):
            events.append(("withdrawn", {"instrument": sample.instrument}))
        events.append(("rejected", {}))
        sample = self.library.update_sample(sample_id, status=SampleStatus.REJECTED, events=events,
                                            actor=self.actor if actor is None else actor)
        self._notify([sample])
        return sample

    def resend(self, sample_id: int, actor: str | None = None) -> Sample:
        """Send an accepted or sent sample again (e.g. after the Max device was reloaded)."""
        return self.accept(sample_id, actor)

    def relabel(self, sample_id: int, label: str, actor: str | None = None) -> Sample:
        """Give a sample the performer's label: re-map it, remember it for similar sounds, keep it for training.

        The sample's status is kept; a sample already on stage is sent again under its new instrument.
        """
        check_label(label)
        actor = self.actor if actor is None else actor
        before = self.library.sample(sample_id)
        chosen: dict[str, Any] = {"label": label, "confidence": 1.0, "unsure": False,
                                  "label_source": LabelSource.PERFORMER, "recalled_from": None, "relabel": label}
        instrument = self.mapper.instrument_for(label, replace(before, **chosen))
        sample = self.library.update_sample(
            sample_id, **chosen, instrument=instrument, melodic=self.mapper.is_melodic(instrument), actor=actor,
            events=[("relabelled", {"from": before.label, "to": label, "instrument_from": before.instrument,
                                    "instrument_to": instrument})],
        )
        embedding = self._embedding(sample)
        if embedding is not None:
            self.corrections.teach(sample_id, label, embedding)
        if sample.status == SampleStatus.SENT:
            sample = self._send(sample, actor)
        self._notify([sample])
        return sample

    def _embedding(self, sample: Sample) -> np.ndarray | None:
        kept = self.corrections.embedding(sample.id)
        if kept is not None or self.classifier is None:
            return kept
        heard = self.stages.hear([audio.decode(sample.path, self.rate, self.cfg.audio.max_duration_s)])
        return heard[1][0] if heard is not None else None

    def recall_of(self, sample: Sample) -> Recall | None:
        """For a sample labelled from memory: which remembered sample decided it, and when."""
        return self.corrections.recall_of(sample)

    def close(self) -> None:
        """Stop: the recording being finished is finished; those still queued stay "received" in the library, for
        :meth:`unfinished` at the next start (whoever waits on them sees them cancelled)."""
        self._queue.close(self._wake.set)  # workers waiting for the model give up (their recordings stay "received")


def build(cfg: Config, *, send: bool = True, require_model: bool = False, actor: str = "", wait: bool = True,
          around: Callable[[], AbstractContextManager[object]] | None = None) -> Pipeline:
    """A pipeline from the config: its library, its model (if present) and its OSC target; ``actor`` names it in
    the library's history.

    The model loads and the chain warms up on a thread (see :class:`~exsampling.model_loader.ModelLoader`,
    ``around`` is the context it runs in). With ``wait`` (the default) this returns once they are ready and raises
    :class:`exsampling.classifier.ModelError` when the model cannot be loaded. Without, it returns at once, having
    read only the model's sidecar; the caller starts the upload server, then the loading
    (:meth:`Pipeline.start_model`); a model that fails to load is ``pipeline.model.state`` "failed".
    With ``require_model`` a missing model raises :class:`exsampling.classifier.ModelMissing`;
    otherwise the pipeline runs without classes (see :class:`Pipeline`).
    """
    model = ModelLoader.from_config(cfg)
    if model.state == ModelState.NONE and require_model:
        raise ModelMissing(model.error)
    if model.failure is not None and wait:
        raise model.failure
    pipeline = Pipeline(cfg, Library.from_config(cfg), model, OscSender.from_config(cfg) if send else None,
                        actor=actor, around=around)
    if wait:
        pipeline.wait_until_ready()
        if model.failure is not None:
            pipeline.close()
            raise model.failure
    return pipeline
