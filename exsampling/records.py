"""The two records that flow through ExSampling — a participant's recording and the samples cut from it — and the
typed values they carry.

The enums are ``StrEnum``: each member *is* its string (``SampleStatus.SENT == "sent"``), so the values stored in
SQLite and written in the HTTP/JSON and OSC contracts stay the plain strings documented in docs/.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any


class RecordingStatus(StrEnum):
    """Where a recording is: ``received`` → ``processing`` → ``done`` | ``silent`` | ``failed``."""

    RECEIVED = "received"
    PROCESSING = "processing"
    DONE = "done"
    SILENT = "silent"
    FAILED = "failed"


class SampleStatus(StrEnum):
    """Where a sample is: ``new`` (waiting for the performer in preview mode) → ``accepted`` → ``sent`` |
    ``rejected``."""

    NEW = "new"
    ACCEPTED = "accepted"
    SENT = "sent"
    REJECTED = "rejected"


class LabelSource(StrEnum):
    """Who chose a sample's class: the ``model``, the ``performer`` (a re-label), or the re-label ``memory`` (then
    :attr:`Sample.recalled_from` names the remembered sample)."""

    MODEL = "model"
    PERFORMER = "performer"
    MEMORY = "memory"


class StageState(StrEnum):
    """What the stage answered about a sent sample (docs/osc.md): ``sent`` (no answer yet) → ``loaded`` →
    ``played``, or ``not_loaded``."""

    SENT = "sent"
    LOADED = "loaded"
    PLAYED = "played"
    NOT_LOADED = "not_loaded"


def utc_now() -> str:
    """Now, as the records write times: ISO 8601 UTC with a ``Z``, second precision."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class Location:
    """Where a recording was made: WGS84 degrees and the browser's accuracy radius in metres."""

    lat: float
    lon: float
    accuracy_m: float | None = None


@dataclass(frozen=True)
class StageAnswer:
    """What the stage answered about a sample the console sent (docs/osc.md, "Stage → console").

    sent_at: ``time.time()`` of the latest send (a send starts the answers afresh).
    loaded: None until a device answers ``PREFIX/loaded``; then whether one loaded it (one ``ok`` is enough).
    reason: why it was not loaded, as the device said ("" when loaded or not answered).
    played: note-ons that sounded it since it was loaded (the highest count a device reported; 0 = none yet).
    track: the instrument of the track that answered last; answered_at: ``time.time()`` of that answer.
    """

    sample_id: int
    sent_at: float
    loaded: bool | None = None
    reason: str = ""
    played: int = 0
    track: str | None = None
    answered_at: float | None = None

    @property
    def state(self) -> StageState:
        """What the answers so far amount to: a refusal wins, then a note, then a load."""
        if self.loaded is False:
            return StageState.NOT_LOADED
        if self.played > 0:
            return StageState.PLAYED
        return StageState.LOADED if self.loaded else StageState.SENT

    def as_json(self) -> dict[str, Any]:
        """What a participant's page may know (docs/http.md): the state and the played count, not the reason
        (it names the performer's paths)."""
        return {"state": str(self.state), "played": self.played}


@dataclass(frozen=True)
class Judgement:
    """What the chain made of a whole recording (:mod:`exsampling.judgement`): its class, the pooled probability
    of that class over its pieces (0–1), and how many pieces it was cut into."""

    label: str
    confidence: float
    pieces: int

    def as_json(self) -> dict[str, Any]:
        """Plain JSON values (the probability to 4 places)."""
        return {"label": self.label, "confidence": round(self.confidence, 4), "pieces": self.pieces}


@dataclass
class Recording:
    """One upload or file as received, before it is cut (``error`` says why it is ``silent`` or ``failed``);
    ``judgement``: its class over all its pieces, once classified (None before, or without a model)."""

    id: int
    path: str
    received_at: str
    participant: str = ""
    location: Location | None = None
    photo_path: str | None = None
    source: str = "cli"
    duration_s: float | None = None
    status: RecordingStatus = RecordingStatus.RECEIVED
    error: str | None = None
    judgement: Judgement | None = None


@dataclass
class Sample:
    """A piece of a recording (≤ one segment long) with everything the stage needs to play it.

    start_s/duration_s: position in the recording and length, seconds.
    top: the classifier's top-k ``[(label, probability), …]``; ``label``/``confidence`` are the chosen
    class; ``label_source`` says who chose it, and ``recalled_from`` is the id of the re-labelled sample whose
    label the re-label memory gave it (None unless ``label_source`` is ``memory``).
    pitch_hz/midi_note: dominant pitch, or None when unpitched. melodic: how the instrument plays it.
    stage: what the stage answered since the latest send (None: never sent).
    judgement: its recording's class over all the recording's pieces (None without a model); ``label`` is the
    recording's unless this piece is confidently something else.
    """

    id: int
    recording_id: int
    path: str
    start_s: float
    duration_s: float
    label: str | None = None
    confidence: float = 0.0
    top: list[tuple[str, float]] = field(default_factory=list)
    unsure: bool = False
    label_source: LabelSource = LabelSource.MODEL
    recalled_from: int | None = None
    instrument: str | None = None
    melodic: bool = False
    pitch_hz: float | None = None
    midi_note: int | None = None
    pitch_confidence: float = 0.0
    participant: str = ""
    location: Location | None = None
    recorded_at: str = ""
    status: SampleStatus = SampleStatus.NEW
    relabel: str | None = None
    sent_at: str | None = None
    stage: StageAnswer | None = None
    judgement: Judgement | None = None


class EventKind(StrEnum):
    """What the library's history records (docs/shows.md gives each kind's ``data``); the value is what the
    ``events`` table and an exported show keep.

    Recording events: received, silent, failed. Sample events: classified, relabelled, accepted, rejected, sent,
    withdrawn, and the stage's answers loaded and played. Show events (neither recording nor sample): prompt,
    opened, closed. ``EventKind("exploded")`` raises ValueError naming the kinds.
    """

    RECEIVED = "received"
    SILENT = "silent"
    FAILED = "failed"
    CLASSIFIED = "classified"
    RELABELLED = "relabelled"
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    SENT = "sent"
    WITHDRAWN = "withdrawn"
    LOADED = "loaded"
    PLAYED = "played"
    PROMPT = "prompt"
    OPENED = "opened"
    CLOSED = "closed"

    @classmethod
    def _missing_(cls, value: object) -> None:
        raise ValueError(f"unknown event kind {value!r}; kinds: {', '.join(cls)}")


@dataclass(frozen=True)
class Event:
    """One thing that happened in a show, as the library's history keeps it.

    kind: what happened (:class:`EventKind`). at: when, ISO 8601 UTC with milliseconds (``2026-11-26T21:04:05.123Z``).
    recording_id/sample_id: what it happened to (a sample event names its recording too; None for show
    events). actor: who did it — ``console:<id>`` for a console, ``cli``, ``serve``, ``replay``, a stage name;
    "" when unknown (events rebuilt from an older library). data: the kind's details, plain JSON values.
    """

    id: int
    kind: EventKind
    at: str
    recording_id: int | None = None
    sample_id: int | None = None
    actor: str = ""
    data: dict[str, Any] = field(default_factory=dict)


def outcome_json(sample: Sample) -> dict[str, Any]:
    """What became of a sample, as plain JSON values: place in the recording, class, instrument, pitch, state.

    Times in seconds (rounded to ms), probabilities to 4 places, pitch in Hz to 0.01; None where unknown.
    Callers add their own context (the CLI the file name, the server its id).
    """
    return {
        "start_s": round(sample.start_s, 3), "duration_s": round(sample.duration_s, 3), "label": sample.label,
        "confidence": round(sample.confidence, 4), "unsure": sample.unsure, "instrument": sample.instrument,
        "melodic": sample.melodic, "pitch_hz": round(sample.pitch_hz, 2) if sample.pitch_hz is not None else None,
        "midi_note": sample.midi_note, "status": str(sample.status),
        "stage": sample.stage.as_json() if sample.stage is not None else None,
    }

