"""What the console says about the stage beyond its header line: the sounds it has not confirmed, the tracks no
device follows, and the instrument names it is told (docs/osc.md, "The stage answers").

Small functions over the library's recent samples and the :class:`~exsampling.stage.Stage`; the console calls
them once a second and on every change.
"""
from __future__ import annotations

from collections.abc import Iterable

from ..records import Sample, SampleStatus
from ..stage import LOAD_WARNING_S, Stage, unconfirmed

#: The newest samples checked for answers the stage owes (a warning for each still unanswered), and whose
#: instrument names (a live-coded rule's, say) are told to the stage.
RECENT_SAMPLES = 50
#: How long a sent sample's missing answer, or its instrument that no device follows, stays in the warnings, in s.
STAGE_WARNING_S = 600.0


def instruments(mapped: Iterable[str], recent: Iterable[Sample]) -> set[str]:
    """Every instrument name the show may send to: the mapping's (``mapped``) and those the ``recent`` samples got
    (a live-coded rule may name a track the mapping does not)."""
    return set(mapped) | {s.instrument for s in recent if s.instrument}


def answers_owed(recent: Iterable[Sample], stage: Stage, now: float) -> list[str]:
    """Warnings for what the stage has not confirmed among the ``recent`` samples sent within
    :data:`STAGE_WARNING_S` before ``now`` (Unix seconds): those it did not load within ``LOAD_WARNING_S``, and
    the tracks no device on stage follows (said only while the stage answers at all: when it is silent the header
    says so for every track at once)."""
    sent = [(s, s.stage) for s in recent
            if s.status == SampleStatus.SENT and s.stage is not None and now - s.stage.sent_at < STAGE_WARNING_S]
    problems = []
    late = [f"#{s.id} → {s.instrument}" for s, answer in sent if unconfirmed(answer, now)]
    if late:
        problems.append(f"Not loaded by the stage within {LOAD_WARNING_S:.0f} s: {', '.join(late[:6])}"
                        f"{' …' if len(late) > 6 else ''}")
    if not stage.status().silent:
        followed = stage.followed()
        for name in sorted({s.instrument for s, _ in sent if s.instrument and s.instrument not in followed}):
            problems.append(f"No device on stage follows {name}: the sounds sent there are not heard. Choose "
                            f"or type {name} in a track device (the Pd twin makes the track itself)")
    return problems
