"""The library's rows as ExSampling's records (:mod:`exsampling.records`) and back: one place that knows how a
column holds a field (JSON text, 0/1 for a bool, a prefixed column of a join)."""
from __future__ import annotations

import json
import sqlite3
from dataclasses import fields
from typing import Any

from ..records import (
    Event,
    EventKind,
    Judgement,
    LabelSource,
    Location,
    Recording,
    RecordingStatus,
    Sample,
    SampleStatus,
    StageAnswer,
)

#: The ``samples`` columns a :class:`Sample` writes (the id and ``created_at`` are the library's).
SAMPLE_COLUMNS = (
    "recording_id", "path", "start_s", "duration_s", "label", "confidence", "top", "unsure", "label_source",
    "recalled_from", "instrument", "melodic", "pitch_hz", "midi_note", "pitch_confidence", "status", "relabel",
    "sent_at",
)

#: The stage table's columns as a samples query selects them beside a sample's (``stage_`` + the column).
STAGE_COLUMNS = ", ".join(f"st.{c} AS stage_{c}" for c in
                          ("sample_id", "sent_at", "loaded", "reason", "played", "track", "answered_at"))


def stage_answer_from(row: sqlite3.Row, prefix: str = "") -> StageAnswer:
    loaded = row[f"{prefix}loaded"]
    return StageAnswer(sample_id=row[f"{prefix}sample_id"], sent_at=row[f"{prefix}sent_at"],
                       loaded=None if loaded is None else bool(loaded), reason=row[f"{prefix}reason"],
                       played=row[f"{prefix}played"], track=row[f"{prefix}track"],
                       answered_at=row[f"{prefix}answered_at"])


def location_from(row: sqlite3.Row) -> Location | None:
    if row["lat"] is None or row["lon"] is None:
        return None
    return Location(row["lat"], row["lon"], row["accuracy_m"])


def judgement_from(row: sqlite3.Row, prefix: str = "") -> Judgement | None:
    if row[f"{prefix}label"] is None:
        return None
    return Judgement(row[f"{prefix}label"], row[f"{prefix}confidence"], row[f"{prefix}pieces"])


def recording_from(row: sqlite3.Row) -> Recording:
    return Recording(
        id=row["id"], path=row["path"], received_at=row["received_at"], participant=row["participant"],
        location=location_from(row), photo_path=row["photo_path"], source=row["source"],
        duration_s=row["duration_s"], status=RecordingStatus(row["status"]), error=row["error"],
        judgement=judgement_from(row),
    )


def sample_values(sample: Sample) -> dict[str, Any]:
    """A sample's fields as its columns hold them."""
    values = {f.name: getattr(sample, f.name) for f in fields(Sample)}
    values["top"] = json.dumps([[label, float(p)] for label, p in sample.top])
    values["unsure"] = int(sample.unsure)
    values["melodic"] = int(sample.melodic)
    return values


def sample_from(row: sqlite3.Row, with_recording: bool = True) -> Sample:
    """A sample from its row, joined (``with_recording``) with its recording's participant, place, time and
    judgement, and with the stage's answers when the row has them."""
    joined: dict[str, Any] = {"participant": row["participant"], "location": location_from(row),
                              "recorded_at": row["received_at"],
                              "judgement": judgement_from(row, "recording_")} if with_recording else {}
    if "stage_sample_id" in row.keys() and row["stage_sample_id"] is not None:  # noqa: SIM118 (a Row, not a dict)
        joined["stage"] = stage_answer_from(row, "stage_")
    return Sample(
        id=row["id"], recording_id=row["recording_id"], path=row["path"], start_s=row["start_s"],
        duration_s=row["duration_s"], label=row["label"], confidence=row["confidence"],
        top=[(label, p) for label, p in json.loads(row["top"])], unsure=bool(row["unsure"]),
        label_source=LabelSource(row["label_source"]), recalled_from=row["recalled_from"],
        instrument=row["instrument"], melodic=bool(row["melodic"]),
        pitch_hz=row["pitch_hz"], midi_note=row["midi_note"], pitch_confidence=row["pitch_confidence"],
        status=SampleStatus(row["status"]), relabel=row["relabel"], sent_at=row["sent_at"], **joined,
    )


def event_from(row: sqlite3.Row) -> Event:
    return Event(id=row["id"], kind=EventKind(row["kind"]), at=row["at"], recording_id=row["recording_id"],
                 sample_id=row["sample_id"], actor=row["actor"], data=json.loads(row["data"]))
