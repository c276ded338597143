"""The two records that flow through ExSampling: a participant's recording and the samples cut from it."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


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
    def state(self) -> str:
        """``"sent"`` (no answer yet) → ``"loaded"`` → ``"played"``, or ``"not_loaded"``."""
        if self.loaded is False:
            return "not_loaded"
        if self.played > 0:
            return "played"
        return "loaded" if self.loaded else "sent"

    def as_json(self) -> dict[str, Any]:
        """What a participant's page may know (docs/http.md): the state and the played count, not the reason
        (it names the performer's paths)."""
        return {"state": self.state, "played": self.played}


@dataclass
class Recording:
    """One upload or file as received, before it is cut.

    status: "received" → "processing" → "done" | "silent" | "failed" (``error`` says why).
    """

    id: int
    path: str
    received_at: str
    participant: str = ""
    location: Location | None = None
    photo_path: str | None = None
    source: str = "cli"
    duration_s: float | None = None
    status: str = "received"
    error: str | None = None


@dataclass
class Sample:
    """A piece of a recording (≤ one segment long) with everything the stage needs to play it.

    start_s/duration_s: position in the trimmed recording and length, seconds.
    top: the classifier's top-k ``[(label, probability), …]``; ``label``/``confidence`` are the chosen
    class (which may come from the re-label memory, then ``label_source`` says so).
    pitch_hz/midi_note: dominant pitch, or None when unpitched. melodic: how the instrument plays it.
    status: "new" (waiting for the performer in preview mode) → "accepted" → "sent" | "rejected".
    stage: what the stage answered since the latest send (None: never sent).
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
    label_source: str = "model"
    instrument: str | None = None
    melodic: bool = False
    pitch_hz: float | None = None
    midi_note: int | None = None
    pitch_confidence: float = 0.0
    participant: str = ""
    location: Location | None = None
    recorded_at: str = ""
    status: str = "new"
    relabel: str | None = None
    sent_at: str | None = None
    stage: StageAnswer | None = None


def outcome_json(sample: Sample) -> dict[str, Any]:
    """What became of a sample, as plain JSON values: place in the recording, class, instrument, pitch, state.

    Times in seconds (rounded to ms), probabilities to 4 places, pitch in Hz to 0.01; None where unknown.
    Callers add their own context (the CLI the file name, the server its id).
    """
    return {
        "start_s": round(sample.start_s, 3), "duration_s": round(sample.duration_s, 3), "label": sample.label,
        "confidence": round(sample.confidence, 4), "unsure": sample.unsure, "instrument": sample.instrument,
        "melodic": sample.melodic, "pitch_hz": round(sample.pitch_hz, 2) if sample.pitch_hz is not None else None,
        "midi_note": sample.midi_note, "status": sample.status,
        "stage": sample.stage.as_json() if sample.stage is not None else None,
    }

