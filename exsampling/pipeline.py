"""The live chain: store → trim → segment → features → classify → pitch → map → OSC, and the stage's decisions.

``Pipeline`` is the one object the CLI, the upload server and the console drive. It owns no
event loop: ``process`` is plain blocking code for one recording; ``submit`` (``process_async`` on an event loop)
puts a recording in the pipeline's queue, first in, first out, so Tornado's loop (the kernel's, in the console)
keeps answering uploads meanwhile.

A crowd's recordings are drained with every core: workers, one per core, each take the next recording waiting,
decode, trim and cut it, pitch its pieces, compute their features and let the model hear them (one call per
recording); one finisher then judges, labels, stores and sends each recording in arrival order, so the first
recording in is the first on stage. (Measured with the bundled model on 2 cores: one call of 4 pieces costs more
per piece than 4 calls of one, its activations outgrowing the caches, and two calls side by side drain pieces
faster than one after another; so recordings are heard side by side, not batched into one call.)

For each recording the labelling chain is: the model's probabilities per piece → :meth:`Pipeline._adapt` (the
performer's corrections have their say) → the recording's judgement (:mod:`exsampling.judgement`: pooled over its
pieces) → :meth:`Pipeline._label` (each piece's label, confidence and "unsure").

Its model may still be loading (:class:`~exsampling.model_loader.ModelLoader`): uploads are stored meanwhile, and
processing waits for it (:meth:`Pipeline.wait_until_ready`).
"""
from __future__ import annotations

import asyncio
import itertools
import os
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import AbstractContextManager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from . import audio, features, judgement, pitch
from .adapt import HeadAdapter
from .classifier import Classifier, ModelMissing, leave_the_cores_to_the_model, top_k
from .config import Config, Mode, Unsure
from .diskspace import is_disk_full
from .library import Library, Received
from .mapping import LABELS, Mapper, RuleFailure, check_label
from .memory import Recall, RelabelMemory, Vote
from .model_loader import ModelLoader, ModelState
from .osc import OscSender
from .records import Judgement, LabelSource, Location, Recording, RecordingStatus, Sample, SampleStatus, utc_now
from .unsure import track_probability

Listener = Callable[[Sample], None]

#: Embeddings kept in memory for quick re-labelling; older samples are re-embedded from their file.
EMBEDDINGS_KEPT = 256
#: Recordings prepared (cut and heard) ahead of the one being finished, at most: enough to keep every core busy, and
#: a bound on the audio held in memory (a 5-s recording at 44.1 kHz: ≈ 1 MB with its features).
PREPARED_AHEAD = 16


def cores() -> int:
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


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


@dataclass
class _Job:
    """A recording in the pipeline's queue: what the caller waits on, and its preparation once started."""

    intake: Intake
    done: Future[list[Sample]]
    cut: Future[_Cut] | None = None


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
        self.mode = Mode(cfg.show.mode)
        self.memory_enabled = cfg.classifier.memory
        self.memory = RelabelMemory(info.labels if info is not None else LABELS,
                                    cfg.classifier.memory_max_distance, cfg.classifier.memory_strength,
                                    adapter=self._adapter(cfg, self.classifier))  # a loading model's: once loaded
        for sample_id, label, vector, at in library.memory():
            self.memory.add(sample_id, label, vector, at)
        self.memory.refit()  # the adapted layer, derived from the library's corrections alone
        self.listeners: list[Listener] = []
        self.rule_failures: list[RuleFailure] = []
        self.timings: deque[tuple[float, float]] = deque(maxlen=1000)
        self._embeddings: OrderedDict[int, np.ndarray] = OrderedDict()
        # the queue (see submit): its jobs, the lock that guards them, the finisher that drains them in order, the
        # workers that prepare them side by side
        self._jobs: deque[_Job] = deque()
        self._lock = threading.Condition()
        self._finisher: threading.Thread | None = None
        self._workers = ThreadPoolExecutor(max_workers=workers or cores(), thread_name_prefix="exsampling-worker")
        self.closed = False
        self._wake = threading.Event()  # set once the model has settled, or the pipeline closed
        self.model.on_settled(lambda _model: self._wake.set())
        self._around = around

    @property
    def classifier(self) -> Classifier | None:
        """The loaded model; None without one, while it loads, or when it failed to load (``model.state``)."""
        return self.model.classifier

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
        if classifier is not None and self.memory.adapter is None:
            self.memory.adapter = self._adapter(self.cfg, classifier)
            self.memory.refit()
        self.warm_up()
        if classifier is not None:
            leave_the_cores_to_the_model()

    @staticmethod
    def _adapter(cfg: Config, classifier: Classifier | None) -> HeadAdapter | None:
        """The offset the corrections fit (``[classifier] adapt``), if the model's head is one it can replay."""
        head = classifier.head if classifier and cfg.classifier.adapt else None
        if head is None or classifier is None:
            return None
        trained = np.array([label in classifier.info.trained_labels for label in classifier.info.labels])
        return HeadAdapter(head, trained, cfg.classifier.adapt_anchor, cfg.classifier.adapt_width)

    def warm_up(self) -> None:
        """Run every stage once on a second of synthetic sound, storing nothing.

        The first decode, resample, pitch and feature calls load code lazily (≈ 1 s); a show's
        first participant should not pay for it.
        """
        sr = self.rate
        t = np.arange(sr) / sr
        data = audio.wav_bytes(0.5 * np.sin(2 * np.pi * 440 * t), 44100 if sr != 44100 else 22050)
        y = audio.decode(data, sr, self.cfg.audio.max_duration_s)
        self._pieces(y)
        self._pitch(Sample(id=0, recording_id=0, path="", start_s=0, duration_s=1), y)
        image = features.image(y, self.params)
        if self.classifier is not None:
            self.classifier.classify(image[None])

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
                y = self._decode(arrival.data, limit) if header.is_float else None
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

    def _decode(self, source: audio.Source, max_duration_s: float) -> np.ndarray:
        return audio.decode(source, self.rate, max_duration_s, audio.MAX_RATE_HZ, audio.MAX_CHANNELS)

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
        job = _Job(intake, Future())
        with self._lock:
            if self.closed:
                raise RuntimeError("the pipeline is closed")
            self._jobs.append(job)
            self._prepare_ahead()
            if self._finisher is None:
                self._finisher = threading.Thread(target=self._drain, name="exsampling-finisher", daemon=True)
                self._finisher.start()
            self._lock.notify()
        return job.done

    async def process_async(self, intake: Intake) -> list[Sample]:
        """:meth:`submit` from an event loop; listeners are called back on the caller's loop, in arrival order."""
        samples = await asyncio.wrap_future(self.submit(intake))
        self._notify(samples)
        return samples

    def _prepare_ahead(self) -> None:
        """Start preparing the first :data:`PREPARED_AHEAD` queued recordings (the lock is held)."""
        for job in itertools.islice(self._jobs, PREPARED_AHEAD):
            if job.cut is None:
                job.cut = self._workers.submit(self._prepare, job.intake)

    def _drain(self) -> None:
        """The finisher: take the recordings in the order they came, each once prepared, and finish them; until
        :meth:`close`, which leaves the rest "received"."""
        while True:
            with self._lock:
                self._lock.wait_for(lambda: bool(self._jobs) or self.closed)
                if self.closed:
                    return
                job = self._jobs.popleft()
                if job.cut is None:
                    job.cut = self._workers.submit(self._prepare, job.intake)
                self._prepare_ahead()
            cut = job.cut.result()
            if not job.done.set_running_or_notify_cancel():
                continue  # its caller stopped waiting (a server stopping): it stays "received", for the next start
            try:
                if cut.ready and self.library.claim(job.intake.recording.id):
                    job.done.set_result(self._finish(cut))
                else:
                    job.done.set_result([])  # another worker has it, or no model could be had: it stays received
            except Exception as exc:  # the finisher outlives every recording; the caller hears what failed it
                job.done.set_exception(exc)

    def _prepare(self, intake: Intake) -> _Cut:
        """Decode (when not yet decoded), trim, cut, pitch, and let the model hear each piece (one call for the
        recording); what fails is kept in ``problem``, for :meth:`_finish` to tell."""
        cut = _Cut(intake)
        if not self.wait_until_ready():  # the model failed to load, or the pipeline closed
            cut.ready = False
            return cut
        rec, sr = intake.recording, self.rate
        try:
            y = intake.y if intake.y is not None else self._decode(rec.path, self.cfg.audio.max_duration_s)
            for span in self._pieces(y, intake.span):
                piece = y[span.start:span.end]
                sample = Sample(id=0, recording_id=rec.id, path="", start_s=span.start / sr,
                                duration_s=len(piece) / sr, participant=rec.participant, location=rec.location,
                                recorded_at=rec.received_at)
                self._pitch(sample, piece)
                cut.pieces.append(piece)
                cut.samples.append(sample)
            if self.classifier is not None:
                cut.heard = self.classifier.classify(np.stack([features.image(p, self.params) for p in cut.pieces]))
        except Exception as exc:
            cut.problem = exc
        return cut

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
        whole: Judgement | None = None  # the recording's, once heard
        if self.classifier is not None:
            assert cut.heard is not None  # heard while prepared
            probs, embeddings = cut.heard
            labels = self.classifier.info.labels
            adapted, votes = self._adapt(probs, embeddings)
            weights = judgement.piece_weights(np.array([s.duration_s for s in cut.samples]),
                                              judgement.loudness(cut.pieces))
            pooled = judgement.pool(adapted, weights)
            final = judgement.piece_probs(adapted, pooled, self.cfg.classifier.own_label_above)
            label, confidence = top_k(pooled, labels, 1)[0]
            whole = Judgement(label, confidence, len(cut.samples))
        samples = []
        for i, (sample, piece) in enumerate(zip(cut.samples, cut.pieces, strict=True)):
            if self.classifier is not None:
                self._label(sample, labels, probs[i], final[i], votes[i])
            sample.instrument = self.mapper.instrument_for(sample.label, sample)
            sample.melodic = self.mapper.is_melodic(sample.instrument)
            model = self.classifier.info.name if self.classifier is not None else None
            stored = self.library.add_sample(sample, piece, self.rate, model=model, actor=self.actor,
                                             judgement=whole if i == 0 else None)
            if self.classifier is not None:
                self._keep_embedding(stored.id, embeddings[i])
            if self.mode == Mode.AUTO and stored.instrument and not self.holds(stored):
                stored = self._send(stored, self.actor, auto=True)
            samples.append(stored)
        return samples

    def holds(self, sample: Sample) -> bool:
        """Whether auto mode keeps ``sample`` off the stage until the performer accepts it: it is unsure and
        ``[show] unsure = "hold"``."""
        return bool(sample.unsure) and self.cfg.show.unsure == Unsure.HOLD

    def _pieces(self, y: np.ndarray, span: audio.Span | None = None) -> list[audio.Span]:
        a = self.cfg.audio
        return audio.pieces(y, self.rate, a.segment_s, a.min_tail_s, a.trim_top_db, a.silence_floor_dbfs,
                            span=span)

    def _keep_embedding(self, sample_id: int, embedding: np.ndarray) -> None:
        self._embeddings[sample_id] = embedding
        while len(self._embeddings) > EMBEDDINGS_KEPT:
            self._embeddings.popitem(last=False)

    def _adapt(self, probs: np.ndarray, embeddings: np.ndarray) -> tuple[np.ndarray, list[Vote | None]]:
        """The model's probabilities ``(n, n_labels)`` for a recording's pieces as the performer's corrections
        adapt them (the re-label memory's vote on each piece), and each piece's vote (None: memory off)."""
        if not self.memory_enabled:
            return probs, [None] * len(probs)
        votes: list[Vote | None] = [self.memory.fuse(p, e) for p, e in zip(probs, embeddings, strict=True)]
        return np.stack([v.probs for v in votes if v is not None]), votes

    def _label(self, sample: Sample, labels: tuple[str, ...], model_probs: np.ndarray, probs: np.ndarray,
               vote: Vote | None) -> None:
        """A piece's label, confidence and "unsure" from its final ``probs`` (its recording's, unless it is
        confidently something else); ``model_probs``: the model's own, kept as its top-k guesses."""
        sample.top = top_k(model_probs, labels, self.cfg.classifier.top_k)  # the model's own, as the history keeps
        sample.label, sample.confidence = top_k(probs, labels, 1)[0]
        # the stage only cares about the track: the labels that share the answer's instrument pool their mass
        tracks = [self.mapper.table.get(label) for label in labels]
        certainty = float(track_probability(probs, tracks, labels.index(sample.label)))
        sample.unsure = certainty < self.cfg.classifier.unsure_below
        # the performer's corrections of similar sounds chose this label, not the model
        if (vote is not None and vote.recall is not None and vote.recall.label == sample.label
                and sample.label != sample.top[0][0]):
            sample.label_source, sample.recalled_from = LabelSource.MEMORY, vote.recall.sample_id

    def _pitch(self, sample: Sample, piece: np.ndarray) -> None:
        p = self.cfg.pitch
        # a model decoding at a low rate (its sidecar's) cannot hear up to [pitch] fmax_hz: search below its Nyquist
        fmax = min(p.fmax_hz, 0.45 * self.rate)
        found = pitch.detect(piece, self.rate, p.fmin_hz, fmax, p.threshold, p.min_confidence)
        sample.pitch_hz, sample.midi_note, sample.pitch_confidence = found.hz, found.midi_note, found.confidence

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
            self.library.remember(sample_id, label, embedding)
            self.memory.add(sample_id, label, embedding, utc_now())
            self.memory.refit()  # here, on the performer's time, not on the next participant's
        if sample.status == SampleStatus.SENT:
            sample = self._send(sample, actor)
        self._notify([sample])
        return sample

    def _embedding(self, sample: Sample) -> np.ndarray | None:
        if sample.id in self._embeddings:
            return self._embeddings[sample.id]
        if self.classifier is None:
            return None
        y = audio.decode(sample.path, self.rate, self.cfg.audio.max_duration_s)
        return self.classifier.classify(features.image(y, self.params)[None])[1][0]

    def recall_of(self, sample: Sample) -> Recall | None:
        """For a sample labelled from memory: which remembered sample decided it, and when."""
        if sample.recalled_from is None:
            return None
        for remembered_id, label, vector, at in self.library.memory():
            if remembered_id == sample.recalled_from:
                e = self._embeddings.get(sample.id)
                norms = max(float(np.linalg.norm(vector) * np.linalg.norm(e)), 1e-12) if e is not None else 1.0
                distance = float(1.0 - np.dot(vector, e) / norms) if e is not None else float("nan")
                return Recall(remembered_id, label, distance, at)
        return None

    def close(self) -> None:
        """Stop: the recording being finished is finished; those still queued stay "received" in the library, for
        :meth:`unfinished` at the next start (whoever waits on them sees them cancelled)."""
        with self._lock:
            self.closed = True
            self._wake.set()  # workers waiting for the model give up (their recordings stay "received")
            self._lock.notify_all()
            left, finisher = list(self._jobs), self._finisher
            self._jobs.clear()
        if finisher is not None and finisher is not threading.current_thread():
            finisher.join()
        self._workers.shutdown(wait=True, cancel_futures=True)
        for job in left:
            job.done.cancel()


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
