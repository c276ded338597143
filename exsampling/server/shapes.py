"""The JSON bodies the upload server answers with (docs/http.md): plain dicts of plain values."""
from __future__ import annotations

from typing import Any

from ..config import Config
from ..library import Library
from ..pitch import note_name
from ..records import Location, Recording, Sample, outcome_json
from ..show_state import ShowState


def show_json(state: ShowState, cfg: Config, library: Library, sample_rate_hz: int) -> dict[str, Any]:
    """``GET /api/show``: open, prompt, counts, and the limits the recorder needs.

    ``limits``: ``max_recording_s`` (seconds), ``max_upload_mb`` (MiB), ``sample_rate_hz`` (the rate the chain
    works at, the model's: a recorder may send at this rate, nothing above it is used).
    """
    s = cfg.server
    return {
        "open": state.is_open, "prompt": state.prompt, "counts": library.counts(),
        "limits": {"max_recording_s": s.max_recording_s, "max_upload_mb": s.max_upload_mb,
                   "sample_rate_hz": sample_rate_hz},
    }


def location_json(loc: Location | None) -> dict[str, float | None] | None:
    return None if loc is None else {"lat": loc.lat, "lon": loc.lon, "accuracy_m": loc.accuracy_m}


def sample_json(s: Sample) -> dict[str, Any]:
    """A sample as the participant's page sees it (no other participant's name or place)."""
    return {"id": s.id, **outcome_json(s), "note": note_name(s.midi_note) if s.midi_note is not None else None}


def recording_json(rec: Recording, samples: list[Sample]) -> dict[str, Any]:
    """``GET /api/recordings/<id>``: the recording's progress, its judgement (its class over all its pieces, None
    until classified) and its samples in recording order."""
    return {
        "id": rec.id, "status": str(rec.status), "error": rec.error, "received_at": rec.received_at,
        "duration_s": round(rec.duration_s, 3) if rec.duration_s is not None else None,
        "judgement": rec.judgement.as_json() if rec.judgement is not None else None,
        "samples": [sample_json(s) for s in sorted(samples, key=lambda s: s.id)],
    }


def created_json(rec: Recording, samples: list[Sample] | None = None) -> dict[str, Any]:
    """``POST /api/recordings``: the stored recording (and, for a retry, what became of it: its ``samples``), with
    the name and place kept for it."""
    return recording_json(rec, samples or []) | {"participant": rec.participant,
                                                 "location": location_json(rec.location)}


def map_sample_json(s: Sample) -> dict[str, Any]:
    """A sample for the performer's map: ``sample_json`` plus where, when and by whom."""
    loc = s.location
    return sample_json(s) | {
        "recording_id": s.recording_id, "lat": loc.lat if loc else None, "lon": loc.lon if loc else None,
        "accuracy_m": loc.accuracy_m if loc else None, "participant": s.participant, "recorded_at": s.recorded_at,
    }
