"""A show's report: one static HTML page — timeline, map, counts, re-labels, the samples with players.

Offline-safe: the page is HTML, CSS and inline SVG with no script and nothing from elsewhere (its
Content-Security-Policy forbids it); the samples and photos it plays and shows are copied into a folder beside
it (``report.html`` → ``report_files/``). Every text that came from a participant is escaped.
"""
from __future__ import annotations

import html
import math
import shutil
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .library import Library
from .mapping import instrument_colour
from .pitch import note_name
from .records import Event, EventKind, Recording, Sample

#: Drawing sizes, in CSS pixels.
TIMELINE_WIDTH, LANE_HEIGHT, MAP_WIDTH, MAP_HEIGHT = 960, 26, 960, 420

STATUS_WORDS = {"sent": "on stage", "accepted": "accepted", "rejected": "rejected", "new": "waiting"}

@dataclass(frozen=True)
class ShowFacts:
    """What the report draws, gathered from a library in one place."""

    name: str
    recordings: list[Recording]
    samples: list[Sample]
    events: list[Event]
    received: dict[int, datetime]
    model: dict[str, Any] | None
    mapping: dict[str, Any] | None

    @classmethod
    def of(cls, library: Library, name: str, model: dict[str, Any] | None = None,
           mapping: dict[str, Any] | None = None) -> ShowFacts:
        recordings = sorted(library.recordings(), key=lambda r: r.id)
        events = library.events()
        received = {r.id: _when(r.received_at) for r in recordings}
        for e in events:  # the history's times have milliseconds; the rows' only seconds
            if e.kind == EventKind.RECEIVED and e.recording_id in received:
                received[e.recording_id] = _when(e.at)
        if model is None:
            used = sorted({e.data.get("model") or "" for e in events if e.kind == EventKind.CLASSIFIED} - {""})
            model = {"classified_by": used} if used else None
        return cls(name, recordings, sorted(library.samples(), key=lambda s: s.id), events, received, model, mapping)

    def when(self, sample: Sample) -> datetime:
        return self.received[sample.recording_id]


def _when(iso: str) -> datetime:
    return datetime.fromisoformat(iso.replace("Z", "+00:00"))


def _clock(moment: datetime) -> str:
    return moment.astimezone().strftime("%H:%M:%S")


def _e(text: Any) -> str:
    return html.escape(str(text), quote=True)


def write_report(library: Library, out: str | Path, *, name: str = "show", model: dict[str, Any] | None = None,
                 mapping: dict[str, Any] | None = None) -> Path:
    """Write the report of the show in ``library`` to ``out`` and its media beside it; return ``out``.

    ``model``/``mapping``: what the show was exported with (model.json, mapping.json), when known.
    """
    out = Path(out).expanduser().resolve()
    media = out.with_name(f"{out.stem}_files")
    if media.exists():
        shutil.rmtree(media)
    (media / "samples").mkdir(parents=True)
    (media / "photos").mkdir()
    facts = ShowFacts.of(library, name, model, mapping)
    links: dict[str, str] = {}
    for path in [s.path for s in facts.samples] + [r.photo_path for r in facts.recordings if r.photo_path]:
        source = Path(path)
        if source.is_file():
            shutil.copyfile(source, media / source.parent.name / source.name)
            links[path] = f"{media.name}/{source.parent.name}/{source.name}"
    out.write_text(render(facts, links), encoding="utf-8")
    return out


def render(facts: ShowFacts, links: dict[str, str]) -> str:
    """The page's HTML; ``links`` maps a library file to its URL relative to the page (absent: not kept)."""
    sections = [
        overview(facts),
        _section("Samples", "In the order they arrived.", _sample_table(facts, links)),
        _section("History", "Events in the library's history, by kind.", _history(facts)),
    ]
    return PAGE.format(title=_e(f"ExSampling · {facts.name}"), style=STYLE, body="\n".join(sections))


def overview(facts: ShowFacts) -> str:
    """The show at a glance — title line, timeline, map, counts, re-labels, prompts — as HTML for an element of
    class ``exs-report`` styled by :data:`STYLE` (the page's top, and the console's old-show view)."""
    zone = datetime.now().astimezone().tzname()
    times = sorted(facts.received.values())
    span = f"{times[0].astimezone():%Y-%m-%d %H:%M:%S} – {_clock(times[-1])} ({zone})" if times else "no recordings"
    participants = {r.participant for r in facts.recordings if r.participant}
    sections = [
        f"<header><h1>{_e(facts.name)}</h1><p class='sub'>{_e(span)} · {len(facts.recordings)} recordings · "
        f"{len(facts.samples)} samples · {len(participants)} named participants · {len(facts.events)} events</p>"
        f"{_model_line(facts)}</header>",
        _section("Timeline", "Each dot is a sample, at the time its recording arrived, on its instrument's lane. "
                 "Filled: reached the stage; ringed: rejected; pale: never sent.", _timeline(facts)),
        _section("Where the sounds were recorded", "Recordings with a location, on a plain projection (north up, "
                 "no map tiles); a click opens the sample.", _map(facts)),
        "<div class='pair'>" + _section("Per instrument", "", _per_instrument(facts))
        + _section("Per participant", "", _per_participant(facts)) + "</div>",
        _section("Re-labels", "The performer's corrections.", _relabels(facts)),
        _section("Prompts", "What the performer asked for.", _prompts(facts)) if _prompt_events(facts) else "",
    ]
    return "\n".join(s for s in sections if s)


def _section(title: str, note: str, body: str) -> str:
    note_html = f"<p class='note'>{_e(note)}</p>" if note else ""
    return f"<section><h2>{_e(title)}</h2>{note_html}{body}</section>"


def _model_line(facts: ShowFacts) -> str:
    model = facts.model or {}
    parts = []
    if model.get("name"):
        digest = f" (SHA-256 {model['sha256'][:12]}…)" if model.get("sha256") else " (file not found at export)"
        parts.append(f"model at export: <b>{_e(model['name'])}</b>{_e(digest)}")
    if model.get("classified_by"):
        parts.append("classified by: " + ", ".join(f"<b>{_e(m)}</b>" for m in model["classified_by"]))
    if facts.mapping:
        parts.append(f"mapping at export: {len(facts.mapping.get('mapping', {}))} classes → "
                     f"{len(set(facts.mapping.get('mapping', {}).values()))} tracks")
    return f"<p class='sub'>{' · '.join(parts)}</p>" if parts else ""


def _instruments(samples: Iterable[Sample]) -> list[str]:
    return sorted({s.instrument or "—" for s in samples})


def _timeline(facts: ShowFacts) -> str:
    if not facts.samples:
        return "<p>No samples.</p>"
    lanes = _instruments(facts.samples)
    left, right, top = 90, 20, 26
    width, height = TIMELINE_WIDTH, top + LANE_HEIGHT * len(lanes) + 10
    times = [facts.when(s).timestamp() for s in facts.samples]
    t0, t1 = min(times), max(times)
    scale = (width - left - right - 40) / max(t1 - t0, 1.0)  # room on the right for a recording's later samples

    def x(t: float) -> float:
        return left + (t - t0) * scale

    seen: Counter[int] = Counter()
    nth = {}
    for s in facts.samples:
        nth[s.id] = seen[s.recording_id]
        seen[s.recording_id] += 1

    parts = [f"<svg class='timeline' viewBox='0 0 {width} {height}' width='{width}' height='{height}' role='img' "
             f"aria-label='timeline'>"]
    for i, lane in enumerate(lanes):
        y = top + i * LANE_HEIGHT + LANE_HEIGHT / 2
        parts.append(f"<line x1='{left}' y1='{y:.1f}' x2='{width - right}' y2='{y:.1f}' class='lane'/>"
                     f"<text x='{left - 8}' y='{y + 4:.1f}' text-anchor='end' class='lane-name' "
                     f"fill='{instrument_colour(None if lane == '—' else lane)}'>{_e(lane)}</text>")
    for tick in _ticks(t0, t1):
        parts.append(f"<line x1='{x(tick):.1f}' y1='{top - 6}' x2='{x(tick):.1f}' y2='{height - 6}' class='tick'/>"
                     f"<text x='{x(tick):.1f}' y='{top - 10}' text-anchor='middle' class='tick-label'>"
                     f"{_clock(datetime.fromtimestamp(tick, UTC))}</text>")
    for event in _prompt_events(facts):
        px = x(min(max(_when(event.at).timestamp(), t0), t1))
        parts.append(f"<line x1='{px:.1f}' y1='{top - 4}' x2='{px:.1f}' y2='{height - 4}' class='prompt'>"
                     f"<title>prompt: {_e(event.data.get('text', ''))}</title></line>")
    for sample, t in zip(facts.samples, times, strict=True):
        row = lanes.index(sample.instrument or "—")
        colour = instrument_colour(sample.instrument)
        fill = {"sent": colour, "rejected": "#fff"}.get(sample.status, colour)
        cls = {"sent": "dot sent", "rejected": "dot rejected"}.get(sample.status, "dot waiting")
        title = f"#{sample.id} {_clock(facts.when(sample))} {sample.label or 'no class'} → {sample.instrument or '—'}" \
                f" · {sample.participant or 'anonymous'} · {STATUS_WORDS.get(sample.status, sample.status)}"
        cx = x(t) + 9 * nth[sample.id]  # a recording's samples side by side, in recording order
        cy = top + row * LANE_HEIGHT + LANE_HEIGHT / 2
        parts.append(f"<a href='#s{sample.id}'><circle cx='{cx:.1f}' cy='{cy:.1f}'"
                     f" r='6' class='{cls}' fill='{fill}' stroke='{colour}'><title>{_e(title)}</title></circle></a>")
    parts.append("</svg>")
    return "".join(parts)


def _ticks(t0: float, t1: float) -> list[float]:
    """Round clock times between ``t0`` and ``t1`` (POSIX seconds), at most about eight."""
    span = max(t1 - t0, 1.0)
    step = next((s for s in (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200) if span / s <= 8), 14400)
    first = math.ceil(t0 / step) * step
    return [first + i * step for i in range(int((t1 - first) // step) + 1)]


def _map(facts: ShowFacts) -> str:
    located = [(r, r.location) for r in facts.recordings if r.location is not None]
    if not located:
        return "<p>No recording had a location.</p>"
    by_recording: dict[int, list[Sample]] = defaultdict(list)
    for s in facts.samples:
        by_recording[s.recording_id].append(s)
    lat0 = sum(loc.lat for _, loc in located) / len(located)
    shrink = math.cos(math.radians(lat0))  # metres per degree of longitude shrink with latitude

    def project(lat: float, lon: float) -> tuple[float, float]:
        return lon * shrink, -lat

    points = [project(loc.lat, loc.lon) for _, loc in located]
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    span = max(max(xs) - min(xs), max(ys) - min(ys), 0.002)  # at least ≈ 200 m across
    pad = 40
    scale = min((MAP_WIDTH - 2 * pad) / max(max(xs) - min(xs), span * 0.2),
                (MAP_HEIGHT - 2 * pad) / max(max(ys) - min(ys), span * 0.2))
    cx, cy = (max(xs) + min(xs)) / 2, (max(ys) + min(ys)) / 2

    def to_px(p: tuple[float, float]) -> tuple[float, float]:
        return MAP_WIDTH / 2 + (p[0] - cx) * scale, MAP_HEIGHT / 2 + (p[1] - cy) * scale

    metres_per_px = 111_320 / scale
    bar_m = _round_length(metres_per_px * 120)
    bar_px = bar_m / metres_per_px
    parts = [f"<svg class='map' viewBox='0 0 {MAP_WIDTH} {MAP_HEIGHT}' width='{MAP_WIDTH}' height='{MAP_HEIGHT}' "
             "role='img' aria-label='map'><rect width='100%' height='100%' class='ground'/>"]
    for (_, loc), p in zip(located, points, strict=True):
        px, py = to_px(p)
        if loc.accuracy_m:
            radius = min(loc.accuracy_m / metres_per_px, 200)
            parts.append(f"<circle cx='{px:.1f}' cy='{py:.1f}' r='{radius:.1f}' class='accuracy'/>")
    for (r, _), p in zip(located, points, strict=True):
        px, py = to_px(p)
        samples = by_recording.get(r.id, [])
        colour = instrument_colour(samples[0].instrument if samples else None)
        what = ", ".join(f"{s.label or 'no class'} → {s.instrument or '—'}" for s in samples) or r.status
        title = f"{r.participant or 'anonymous'} · {_clock(facts.received[r.id])} · {what}"
        target = f"#s{samples[0].id}" if samples else "#samples"
        parts.append(f"<a href='{target}'><circle cx='{px:.1f}' cy='{py:.1f}' r='8' class='marker' fill='{colour}'>"
                     f"<title>{_e(title)}</title></circle></a>")
        if r.participant:
            parts.append(f"<text x='{px + 11:.1f}' y='{py + 4:.1f}' class='marker-label'>{_e(r.participant)}</text>")
    y = MAP_HEIGHT - 18
    parts.append(f"<line x1='20' y1='{y}' x2='{20 + bar_px:.1f}' y2='{y}' class='scale'/>"
                 f"<text x='20' y='{y - 6}' class='scale-label'>{_e(_length_text(bar_m))}</text>"
                 f"<text x='{MAP_WIDTH - 20}' y='{y}' text-anchor='end' class='scale-label'>N ↑ · "
                 f"{len(located)} of {len(facts.recordings)} recordings located</text></svg>")
    return "".join(parts)


def _round_length(metres: float) -> float:
    """A round length (1, 2, 5 × 10ⁿ metres) near ``metres``."""
    exponent = 10 ** math.floor(math.log10(max(metres, 1e-3)))
    return next(m * exponent for m in (1, 2, 5, 10) if m * exponent >= metres * 0.6)


def _length_text(metres: float) -> str:
    return f"{metres / 1000:g} km" if metres >= 1000 else f"{metres:g} m"


def _bar(value: int, most: int, colour: str) -> str:
    width = 0 if most == 0 else max(2, round(160 * value / most))
    return f"<span class='bar' style='width:{width}px;background:{colour}'></span>"


def _per_instrument(facts: ShowFacts) -> str:
    counts = Counter(s.instrument or "—" for s in facts.samples)
    sent = Counter(s.instrument or "—" for s in facts.samples if s.status == "sent")
    rejected = Counter(s.instrument or "—" for s in facts.samples if s.status == "rejected")
    most = max(counts.values(), default=0)
    rows = "".join(
        f"<tr><td><span class='swatch' style='background:{instrument_colour(None if i == '—' else i)}'></span>{_e(i)}"
        f"</td><td class='n'>{counts[i]}</td><td>{_bar(counts[i], most, instrument_colour(None if i == '—' else i))}"
        f"</td><td class='n'>{sent[i]}</td><td class='n'>{rejected[i]}</td></tr>"
        for i in sorted(counts, key=lambda k: (-counts[k], k)))
    return ("<table class='counts instruments'><tr><th>instrument</th><th>samples</th><th></th><th>on stage</th>"
            f"<th>rejected</th></tr>{rows}</table>")


def _per_participant(facts: ShowFacts) -> str:
    recordings = Counter(r.participant for r in facts.recordings)
    samples = Counter(s.participant for s in facts.samples)
    tracks: dict[str, set[str]] = defaultdict(set)
    for s in facts.samples:
        if s.instrument:
            tracks[s.participant].add(s.instrument)
    most = max(samples.values(), default=0)
    rows = "".join(
        f"<tr><td>{_e(p) if p else '<i>anonymous</i>'}</td><td class='n'>{recordings[p]}</td>"
        f"<td class='n'>{samples[p]}</td><td>{_bar(samples[p], most, '#607d8b')}</td>"
        f"<td>{_e(', '.join(sorted(tracks[p])))}</td></tr>"
        for p in sorted(recordings, key=lambda k: (-recordings[k], k)))
    return ("<table class='counts participants'><tr><th>participant</th><th>recordings</th><th>samples</th><th></th>"
            f"<th>tracks</th></tr>{rows}</table>")


def _relabels(facts: ShowFacts) -> str:
    relabels = [e for e in facts.events if e.kind == EventKind.RELABELLED]
    if not relabels:
        return "<p>None: every class stayed as the model (or the memory) gave it.</p>"
    rows = "".join(
        f"<tr><td>{_clock(_when(e.at))}</td><td><a href='#s{e.sample_id}'>#{e.sample_id}</a></td>"
        f"<td>{_e(e.data.get('from') or '?')} → <b>{_e(e.data.get('to'))}</b></td>"
        f"<td>{_e(e.data.get('instrument_from') or '?')} → <b>{_e(e.data.get('instrument_to'))}</b></td>"
        f"<td class='small'>{_e(e.actor or 'unknown')}</td></tr>" for e in relabels)
    return ("<table class='relabels'><tr><th>time</th><th>sample</th><th>class</th><th>instrument</th><th>by</th></tr>"
            f"{rows}</table>")


def _prompt_events(facts: ShowFacts) -> list[Event]:
    return [e for e in facts.events if e.kind == EventKind.PROMPT]


def _prompts(facts: ShowFacts) -> str:
    rows = "".join(f"<tr><td>{_clock(_when(e.at))}</td><td>{_e(e.data.get('text') or '(no prompt)')}</td></tr>"
                   for e in _prompt_events(facts))
    return f"<table class='prompts'><tr><th>time</th><th>prompt</th></tr>{rows}</table>"


def _sample_table(facts: ShowFacts, links: dict[str, str]) -> str:
    photos = {r.id: links.get(r.photo_path or "") for r in facts.recordings}
    rows = []
    for s in facts.samples:
        audio = (f"<audio controls preload='none' src='{_e(links[s.path])}'></audio>" if s.path in links
                 else "<span class='small'>audio not kept</span>")
        photo = photos.get(s.recording_id)
        photo_html = f"<img src='{_e(photo)}' alt='photo' class='photo'>" if photo else ""
        pitch = f"{note_name(s.midi_note)} · {s.pitch_hz:.0f} Hz" if s.midi_note is not None and s.pitch_hz else "—"
        label = _e(s.label or "no class")
        if s.relabel:
            label = f"<b>{label}</b> <span class='small'>(re-labelled)</span>"
        elif s.unsure:
            label += " <span class='small'>(unsure)</span>"
        colour = instrument_colour(s.instrument)
        rows.append(
            f"<tr id='s{s.id}' class='{_e(s.status)}'><td class='n'>#{s.id}</td><td>{_clock(facts.when(s))}</td>"
            f"<td>{_e(s.participant) if s.participant else '<i>anonymous</i>'}{photo_html}</td>"
            f"<td>{label} <span class='small'>{s.confidence:.0%}</span></td>"
            f"<td><span class='swatch' style='background:{colour}'></span>{_e(s.instrument or '—')}</td>"
            f"<td>{_e(pitch)}</td><td>{_e(STATUS_WORDS.get(s.status, s.status))}</td><td>{audio}</td></tr>")
    return ("<table id='samples' class='samples'><tr><th>sample</th><th>time</th><th>participant</th><th>class</th>"
            "<th>instrument</th><th>pitch</th><th>status</th><th>listen</th></tr>" + "".join(rows) + "</table>")


def _history(facts: ShowFacts) -> str:
    kinds = Counter(e.kind for e in facts.events)
    if not kinds:
        return "<p>No history (a library from before the history, never opened since?).</p>"
    cells = "".join(f"<span class='kind'><b>{n}</b> {_e(k)}</span>" for k, n in kinds.most_common())
    return f"<p>{cells}</p>"


#: The report's look, every rule under ``.exs-report`` so the console can show an overview without restyling itself.
STYLE = """
.exs-report { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #222; }
.exs-report header, .exs-report section { max-width: 1000px; margin: 0 auto; padding: 12px 20px; }
.exs-report header { padding-top: 24px; }
.exs-report h1 { margin: 0 0 4px; font-size: 26px; }
.exs-report h2 { font-size: 18px; margin: 18px 0 4px; border-bottom: 1px solid #ddd; padding-bottom: 4px; }
.exs-report .sub, .exs-report .note, .exs-report .small { color: #666; }
.exs-report .note { margin: 2px 0 8px; font-size: 13px; }
.exs-report .small { font-size: 12px; }
.exs-report svg { max-width: 100%; height: auto; background: #fff; border: 1px solid #e3e3e3; border-radius: 4px; }
.exs-report .lane { stroke: #eee; } .exs-report .tick { stroke: #f0f0f0; }
.exs-report .lane-name { font-size: 12px; font-weight: 600; } .exs-report .tick-label { font-size: 11px; fill: #888; }
.exs-report .prompt { stroke: #ff9800; stroke-width: 2; stroke-dasharray: 4 3; }
.exs-report .dot { stroke-width: 2; } .exs-report .dot.waiting { fill-opacity: 0.35; }
.exs-report .dot.rejected { stroke-width: 2.5; }
.exs-report .ground { fill: #f4f1e8; }
.exs-report .accuracy { fill: #90a4ae; fill-opacity: 0.12; stroke: #90a4ae; stroke-opacity: 0.4; }
.exs-report .marker { stroke: #fff; stroke-width: 2; } .exs-report .marker-label { font-size: 12px; fill: #333; }
.exs-report .scale { stroke: #333; stroke-width: 3; } .exs-report .scale-label { font-size: 11px; fill: #555; }
.exs-report table { border-collapse: collapse; width: 100%; }
.exs-report th { text-align: left; font-weight: 600; color: #555; border-bottom: 1px solid #ddd; padding: 4px 6px; }
.exs-report td { border-bottom: 1px solid #f0f0f0; padding: 4px 6px; vertical-align: middle; }
.exs-report td.n { text-align: right; font-variant-numeric: tabular-nums; }
.exs-report .pair { display: flex; gap: 0; max-width: 1040px; margin: 0 auto; }
.exs-report .pair section { flex: 1 1 50%; }
.exs-report .bar { display: inline-block; height: 10px; border-radius: 2px; }
.exs-report .swatch { display: inline-block; width: 10px; height: 10px; border-radius: 5px; margin-right: 6px; }
.exs-report tr.rejected td { color: #999; }
.exs-report .photo { height: 28px; margin-left: 8px; vertical-align: middle; border-radius: 3px; }
.exs-report audio { height: 28px; width: 220px; }
.exs-report .kind { display: inline-block; margin: 0 14px 4px 0; }
"""

PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy"
      content="default-src 'none'; style-src 'unsafe-inline'; img-src 'self' file: data:; media-src 'self' file:">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>
body {{ margin: 0; background: #fafafa; }}
{style}
</style>
</head>
<body class="exs-report">
{body}
</body>
</html>
"""


# -- ``exsampling report`` ------------------------------------------------------------------------------


def register(sub, add_config: Callable) -> None:
    """Add ``exsampling report`` to the command line's subparsers."""
    p = sub.add_parser("report", help="a show's report as a static HTML page (timeline, map, counts, players)")
    p.add_argument("show", metavar="SHOW.zip|DIR", help="a zip from 'exsampling export', or a library folder")
    p.add_argument("--out", metavar="HTML", default="report.html",
                   help="the page to write (default report.html); its media go in a folder beside it")
    p.set_defaults(func=_report)


def _report(args) -> int:
    import sys

    from .archive import ArchiveError, open_show

    try:
        with open_show(args.show) as (library, info):
            out = write_report(library, args.out, name=info.name, model=info.model, mapping=info.mapping)
    except ArchiveError as exc:
        print(f"exsampling: {args.show} refused: {exc}", file=sys.stderr)
        return 1
    print(f"wrote {out} (media in {out.with_name(out.stem + '_files')})")
    return 0
