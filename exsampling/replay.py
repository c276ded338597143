"""Play a kept show again: its recordings go through the live chain at the pace they arrived, as new uploads of a
new show, so today's model, mapping and rules decide again; then say which decisions came out differently.

:func:`plan` turns a show into cues (when, what); a feed takes each recording at its time — :class:`ChainFeed`
runs this machine's pipeline into a new library (OSC to the stage with ``--send``), :class:`HttpFeed` uploads to
a running show's upload server (the console: its cards, map and stage react as to the audience); :func:`replay`
paces the cues and gathers what became of each; :class:`Summary` compares that with the original show.
``exsampling replay`` is :mod:`exsampling.replay_cli`.
"""
from __future__ import annotations

import asyncio
import functools
import json
import math
import re
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from .library import Library
from .records import EventKind, Location, Recording, Sample
from .show_state import ShowState

if TYPE_CHECKING:  # the chain is imported only where a replay runs one (``exsampling --help`` stays light)
    from .pipeline import Intake, Pipeline

#: How long a replay waits for one recording's outcome from a running show, in seconds.
OUTCOME_TIMEOUT_S = 120.0


# -- the plan -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Decision:
    """What the chain decided for one sample: its class and its instrument track (None: none)."""

    label: str | None
    instrument: str | None


@dataclass(frozen=True)
class Cue:
    """One recording of the kept show to send again.

    at_s: seconds after the replay's first recording (the show's own pace, before ``speed``). recording: its row
    in the kept library (``path`` there; the file may be missing when the export left it out). originals: what
    the show's chain decided for each of its samples, in recording order; changed_by_performer: how many of them
    the performer re-labelled or rejected.
    """

    at_s: float
    recording: Recording
    originals: tuple[Decision, ...]
    changed_by_performer: int = 0


@dataclass(frozen=True)
class PromptCue:
    """The performer's prompt changing to ``text`` at ``at_s`` (as :attr:`Cue.at_s`)."""

    at_s: float
    text: str


def parse_from(text: str, first: datetime) -> datetime:
    """The moment ``--from`` names: ``HH:MM[:SS]``, a clock time of the show (this machine's time zone; after
    midnight for a show that runs past it), or ``+[H:]MM:SS``, a time after the show's first recording."""
    offset = re.fullmatch(r"\+(?:(\d+):)?(\d{1,2}):(\d{2})", text)
    if offset:
        h, m, s = (int(g or 0) for g in offset.groups())
        return first + timedelta(hours=h, minutes=m, seconds=s)
    clock = re.fullmatch(r"(\d{1,2}):(\d{2})(?::(\d{2}))?", text)
    if not clock or int(clock[1]) > 23 or int(clock[2]) > 59 or int(clock[3] or 0) > 59:
        raise ValueError(f"--from {text!r}: give a clock time HH:MM[:SS] of the show, or +MM:SS after its start")
    local = first.astimezone()
    moment = local.replace(hour=int(clock[1]), minute=int(clock[2]), second=int(clock[3] or 0), microsecond=0)
    if local - moment > timedelta(hours=12):  # a show across midnight: 00:30 is the next day
        moment += timedelta(days=1)
    return moment.astimezone(UTC)


def _when(iso: str) -> datetime:
    return datetime.fromisoformat(iso.replace("Z", "+00:00"))


def plan(library: Library, start: str | None = None) -> list[Cue | PromptCue]:
    """The kept show in ``library`` as cues, oldest first, from ``start`` (see :func:`parse_from`) on: each
    recording, and each prompt the performer gave (the one in force at ``start`` first)."""
    recordings = sorted(library.recordings(), key=lambda r: r.id)
    events = library.events()
    arrived = {r.id: _when(r.received_at) for r in recordings}
    chain: dict[int, Decision] = {}
    changed: set[int] = set()
    prompts = [(_when(e.at), e.data.get("text", "")) for e in events if e.kind == EventKind.PROMPT]
    for e in events:
        if e.kind == EventKind.RECEIVED and e.recording_id in arrived:
            arrived[e.recording_id] = _when(e.at)  # milliseconds, where the row has seconds
        elif e.kind == EventKind.CLASSIFIED and e.sample_id is not None:
            chain[e.sample_id] = Decision(e.data.get("label"), e.data.get("instrument"))
        elif e.kind in (EventKind.RELABELLED, EventKind.REJECTED) and e.sample_id is not None:
            changed.add(e.sample_id)
    if not recordings:
        return []
    first = min(arrived.values())
    begin = parse_from(start, first) if start else first
    chosen = [r for r in recordings if arrived[r.id] >= begin]
    by_recording: dict[int, list[Sample]] = defaultdict(list)
    for s in sorted(library.samples(), key=lambda s: s.id):
        by_recording[s.recording_id].append(s)
    if not chosen:
        return []
    zero, last = min(arrived[r.id] for r in chosen), max(arrived[r.id] for r in chosen)
    before = [text for at, text in prompts if at <= zero]
    cues: list[Cue | PromptCue] = [PromptCue(0.0, before[-1])] if before else []
    cues += [PromptCue((at - zero).total_seconds(), text) for at, text in prompts if zero < at <= last]
    for r in sorted(chosen, key=lambda r: (arrived[r.id], r.id)):
        samples = by_recording[r.id]
        cues.append(Cue((arrived[r.id] - zero).total_seconds(), r,
                        tuple(chain.get(s.id, Decision(s.label, s.instrument)) for s in samples),
                        sum(s.id in changed for s in samples)))
    return sorted(cues, key=lambda c: (c.at_s, isinstance(c, Cue)))  # a prompt before the sound that answers it


# -- feeds ----------------------------------------------------------------------------------------------


@dataclass
class Outcome:
    """What became of one replayed recording: the new samples' decisions, or why there are none."""

    decisions: list[Decision] = field(default_factory=list)
    problem: str | None = None


@dataclass(frozen=True)
class Upload:
    """A recording as a participant's phone sent it: audio bytes and the form's fields."""

    audio: bytes
    extension: str
    participant: str
    location: Location | None
    photo: tuple[bytes, str] | None

    @classmethod
    def of(cls, recording: Recording) -> Upload | None:
        """The kept recording's upload, or None when its audio is not kept (left out of the export)."""
        path = Path(recording.path)
        if not path.is_file():
            return None
        photo = None
        if recording.photo_path and Path(recording.photo_path).is_file():
            p = Path(recording.photo_path)
            photo = (p.read_bytes(), p.suffix.lstrip("."))
        return cls(path.read_bytes(), path.suffix.lstrip(".") or "bin", recording.participant, recording.location,
                   photo)


class Feed(Protocol):
    """Where a replay sends recordings: ``send`` returns once the upload is taken, with an awaitable outcome;
    ``prompt`` shows the performer's prompt of that moment."""

    async def send(self, upload: Upload) -> asyncio.Future[Outcome]: ...

    async def prompt(self, text: str) -> None: ...

    async def close(self) -> None: ...


class ChainFeed:
    """A chain in this process (its model, mapping, live rules and OSC target): each recording is stored in the
    pipeline's library as a new upload (source ``replay``) and processed on the pipeline's worker; the prompts go
    into ``state`` (default: the show state of the pipeline's library). The pipeline stays its owner's to close.
    """

    def __init__(self, pipeline: Pipeline, state: ShowState | None = None) -> None:
        self.pipeline = pipeline
        self.state = state

    async def prompt(self, text: str) -> None:
        """The show's prompt (kept, on the phones, and in its history, as a console keeps it)."""
        if self.state is None:
            self.state = ShowState(self.pipeline.cfg, self.pipeline.library, actor=self.pipeline.actor)
        self.state.prompt = text

    async def send(self, upload: Upload) -> asyncio.Future[Outcome]:
        from .audio import AudioError

        ingest = functools.partial(self.pipeline.ingest, upload.audio, upload.extension,
                                   participant=upload.participant, location=upload.location, photo=upload.photo,
                                   source="replay")
        try:  # decoding and the fsync'd write run beside the loop, as the upload server's do
            intake = await asyncio.get_running_loop().run_in_executor(None, ingest)
        except AudioError as exc:
            return _done(Outcome(problem=f"refused: {exc}"))
        return asyncio.ensure_future(self._process(intake))

    async def _process(self, intake: Intake) -> Outcome:
        try:
            samples = await self.pipeline.process_async(intake)
        except Exception as exc:  # the recording is kept, marked failed: say so, go on with the next
            return Outcome(problem=f"failed: {type(exc).__name__}: {exc}")
        if not samples:
            return Outcome(problem="silent: nothing audible after trimming")
        return Outcome([Decision(s.label, s.instrument) for s in samples])

    async def close(self) -> None:
        """Nothing to let go of: the pipeline is its owner's."""


class HttpFeed:
    """A running show's upload server (docs/http.md), as participants' phones use it: multipart POSTs with the
    show token, a retry after ``Retry-After`` when rate-limited or busy; outcomes from ``GET /api/recordings/<id>``.

    Each kept participant is one phone for the whole replay: the same device id (``X-Exsampling-Device``) on every
    upload of theirs, so the server's per-phone rate limit treats the replay as it treated the show, and a show of
    many participants is not squeezed into one phone's allowance (the per-address ceiling still holds).
    """

    def __init__(self, base_url: str, token: str, poll_s: float = 0.25,
                 on_prompt: Callable[[str], Any] | None = None) -> None:
        from tornado.httpclient import AsyncHTTPClient

        self.base, self.token, self.poll_s, self.on_prompt = base_url.rstrip("/"), token, poll_s, on_prompt
        self.client = AsyncHTTPClient(force_instance=True, max_clients=16)
        self.prefix = f"replay-{uuid.uuid4().hex[:12]}"
        self.count = 0
        self.devices: dict[str, str] = {}  # participant → device id

    def device(self, participant: str) -> str:
        """The device id of ``participant``'s phone in this replay (made on first use, then kept)."""
        return self.devices.setdefault(participant, f"{self.prefix}-phone-{len(self.devices) + 1:04d}")

    async def send(self, upload: Upload) -> asyncio.Future[Outcome]:
        import urllib3
        from tornado.httpclient import HTTPClientError, HTTPRequest

        self.count += 1
        fields: dict[str, Any] = {"audio": (f"recording.{upload.extension}", upload.audio, "application/octet-stream"),
                                  "name": upload.participant, "upload_id": f"{self.prefix}-{self.count:06d}"}
        if upload.location is not None:
            fields |= {"lat": repr(upload.location.lat), "lon": repr(upload.location.lon)}
            if upload.location.accuracy_m is not None:
                fields["accuracy"] = repr(upload.location.accuracy_m)
        if upload.photo is not None:
            fields["photo"] = (f"photo.{upload.photo[1]}", upload.photo[0], "application/octet-stream")
        body, content_type = urllib3.encode_multipart_formdata(fields)
        while True:
            request = HTTPRequest(f"{self.base}/api/recordings?token={self.token}", method="POST", body=body,
                                  headers={"Content-Type": content_type,
                                           "X-Exsampling-Device": self.device(upload.participant)},
                                  request_timeout=60)
            try:
                answer = await self.client.fetch(request)
            except HTTPClientError as exc:
                reply = _json(exc.response.body if exc.response else b"")
                if exc.code in (429, 503):  # the show's limit for one phone, or a crowd: wait as a phone would
                    wait = exc.response.headers.get("Retry-After", "1") if exc.response is not None else "1"
                    await asyncio.sleep(float(wait))
                    continue
                return _done(Outcome(problem=f"refused ({exc.code}): {reply.get('message') or exc}"))
            return asyncio.ensure_future(self._outcome(_json(answer.body)["id"]))

    async def prompt(self, text: str) -> None:
        """Show ``text`` on every phone, through ``on_prompt`` (the show's own state; HTTP has no way to set it)."""
        if self.on_prompt is not None:
            result = self.on_prompt(text)
            if asyncio.iscoroutine(result):
                await result

    async def _outcome(self, recording_id: int) -> Outcome:
        from tornado.httpclient import HTTPRequest

        deadline = time.monotonic() + OUTCOME_TIMEOUT_S
        while time.monotonic() < deadline:
            answer = await self.client.fetch(HTTPRequest(
                f"{self.base}/api/recordings/{recording_id}?token={self.token}", request_timeout=30))
            body = _json(answer.body)
            if body["status"] == "done":
                return Outcome([Decision(s["label"], s["instrument"]) for s in body["samples"]])
            if body["status"] in ("silent", "failed"):
                return Outcome(problem=f"{body['status']}: {body.get('error') or ''}".rstrip(": "))
            await asyncio.sleep(self.poll_s)
        return Outcome(problem=f"no outcome within {OUTCOME_TIMEOUT_S:.0f} s")

    async def close(self) -> None:
        self.client.close()


def _json(body: bytes) -> dict[str, Any]:
    try:
        value = json.loads(body or b"{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _done(outcome: Outcome) -> asyncio.Future[Outcome]:
    future = asyncio.get_running_loop().create_future()
    future.set_result(outcome)
    return future


# -- pacing ---------------------------------------------------------------------------------------------


@dataclass
class Replayed:
    """One cue after the replay: what became of it, and how late it was sent against its schedule (s)."""

    cue: Cue
    outcome: Outcome
    late_s: float


async def replay(cues: Sequence[Cue | PromptCue], feed: Feed, speed: float = 1.0,
                 on_progress: Callable[[Replayed], None] | None = None) -> list[Replayed]:
    """Send each cue's recording (or prompt) through ``feed`` at ``at_s / speed`` seconds after the start (``speed``
    = inf: as fast as the feed takes them), wait for every outcome, and return the recordings' in cue order."""
    if not speed > 0:
        raise ValueError(f"speed {speed} must be > 0 (inf: as fast as possible)")
    start = time.monotonic()
    pending: list[tuple[Cue, asyncio.Future[Outcome], float]] = []
    done: list[Replayed] = []

    def finished(cue: Cue, late_s: float) -> Callable[[asyncio.Future[Outcome]], None]:
        def note(future: asyncio.Future[Outcome]) -> None:
            if on_progress is not None and not future.cancelled() and future.exception() is None:
                on_progress(Replayed(cue, future.result(), late_s))
        return note

    for cue in cues:
        due = start + (0.0 if math.isinf(speed) else cue.at_s / speed)
        wait = due - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)
        late = max(0.0, time.monotonic() - due)
        if isinstance(cue, PromptCue):
            await feed.prompt(cue.text)
            continue
        upload = await asyncio.get_running_loop().run_in_executor(None, Upload.of, cue.recording)
        if upload is None:
            outcome = Outcome(problem="not kept: its audio was left out of the export")
            pending.append((cue, _done(outcome), late))
        else:
            pending.append((cue, await feed.send(upload), late))
        pending[-1][1].add_done_callback(finished(cue, late))
    for cue, future, late in pending:
        done.append(Replayed(cue, await future, late))
    return done


# -- the summary ----------------------------------------------------------------------------------------


@dataclass
class InstrumentChanges:
    """For one of the show's instruments: its samples, how many kept it, and where the others went now."""

    samples: int = 0
    same: int = 0
    moved: Counter[str] = field(default_factory=Counter)


@dataclass
class Summary:
    """How the replay's decisions compare with the show's chain (what it decided before any performer's change).

    A sample counts as differing when its instrument now is another one, or none (the recording refused,
    silent, failed, not kept, or cut into fewer samples).
    """

    recordings: int
    samples: int
    wall_s: float
    speed: float
    per_instrument: dict[str, InstrumentChanges]
    labels_changed: int
    extra_samples: Counter[str]
    problems: list[str]
    performer_changes: int
    max_late_s: float

    @classmethod
    def of(cls, results: Sequence[Replayed], wall_s: float, speed: float) -> Summary:
        per: dict[str, InstrumentChanges] = defaultdict(InstrumentChanges)
        labels_changed, problems = 0, []
        extra: Counter[str] = Counter()
        for r in results:
            if r.outcome.problem:
                problems.append(f"recording {r.cue.recording.id}: {r.outcome.problem}")
            for i, before in enumerate(r.cue.originals):
                now = r.outcome.decisions[i] if i < len(r.outcome.decisions) else None
                row = per[before.instrument or "—"]
                row.samples += 1
                if now is not None and now.instrument == before.instrument:
                    row.same += 1
                else:
                    row.moved[(now.instrument or "—") if now else "nothing"] += 1
                labels_changed += now is None or now.label != before.label
            for later in r.outcome.decisions[len(r.cue.originals):]:
                extra[later.instrument or "—"] += 1
        return cls(len(results), sum(len(r.cue.originals) for r in results), wall_s, speed, dict(per),
                   labels_changed, extra, problems, sum(r.cue.changed_by_performer for r in results),
                   max((r.late_s for r in results), default=0.0))

    @property
    def differing(self) -> int:
        return sum(row.samples - row.same for row in self.per_instrument.values())

    def text(self) -> str:
        """The summary a performer reads at the end of ``exsampling replay``."""
        pace = "as fast as the chain goes" if math.isinf(self.speed) else f"×{self.speed:g}"
        rate = self.recordings / self.wall_s if self.wall_s > 0 else float("inf")
        lines = [f"replayed {self.recordings} recordings ({self.samples} samples in the show) {pace} in "
                 f"{self.wall_s:.1f} s ({rate:.1f} recordings/s; latest send {self.max_late_s:.2f} s behind schedule)",
                 f"decisions that differ from the show: {self.differing} of {self.samples} samples "
                 f"({self.labels_changed} with another class)"]
        width = max([len("instrument")] + [len(i) for i in self.per_instrument])
        lines.append(f"  {'instrument':<{width}}  samples  same  differ  now on")
        for name, row in sorted(self.per_instrument.items()):
            moved = ", ".join(f"{n}×{k}" for k, n in row.moved.most_common()) or "-"
            lines.append(f"  {name:<{width}}  {row.samples:7d}  {row.same:4d}  {row.samples - row.same:6d}  {moved}")
        if self.extra_samples:
            lines.append("  new samples the show did not have: "
                         + ", ".join(f"{n}×{k}" for k, n in self.extra_samples.most_common()))
        if self.performer_changes:
            lines.append(f"the performer re-labelled or rejected {self.performer_changes} of the show's samples; "
                         "a replay does not repeat the performer's decisions")
        lines += self.problems
        return "\n".join(lines)

