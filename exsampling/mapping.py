"""Class → instrument mapping: the 41 FSDKaggle2018 labels, the paper's Fig. 5, and live-coded rules."""
from __future__ import annotations

import re
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

#: The 41 FSDKaggle2018 labels, in the dataset's alphabetical order (the model's output order).
LABELS: tuple[str, ...] = (
    "Acoustic_guitar", "Applause", "Bark", "Bass_drum", "Burping_or_eructation", "Bus", "Cello", "Chime",
    "Clarinet", "Computer_keyboard", "Cough", "Cowbell", "Double_bass", "Drawer_open_or_close",
    "Electric_piano", "Fart", "Finger_snapping", "Fireworks", "Flute", "Glockenspiel", "Gong",
    "Gunshot_or_gunfire", "Harmonica", "Hi-hat", "Keys_jangling", "Knock", "Laughter", "Meow",
    "Microwave_oven", "Oboe", "Saxophone", "Scissors", "Shatter", "Snare_drum", "Squeak", "Tambourine",
    "Tearing", "Telephone", "Trumpet", "Violin_or_fiddle", "Writing",
)

#: Fig. 5 of the ExSampling paper (NIME 2020): the default instrument track of every label.
DEFAULT_MAPPING: dict[str, str] = {
    "Bark": "Bass", "Burping_or_eructation": "Bass", "Bus": "Bass", "Cello": "Bass", "Double_bass": "Bass",
    "Microwave_oven": "Bass",
    "Bass_drum": "BD", "Drawer_open_or_close": "BD", "Fart": "BD", "Gunshot_or_gunfire": "BD",
    "Applause": "Chorus", "Laughter": "Chorus", "Meow": "Chorus", "Squeak": "Chorus",
    "Computer_keyboard": "HH", "Finger_snapping": "HH", "Hi-hat": "HH", "Keys_jangling": "HH", "Scissors": "HH",
    "Writing": "HH",
    "Acoustic_guitar": "Piano", "Electric_piano": "Piano", "Harmonica": "Piano", "Telephone": "Piano",
    "Violin_or_fiddle": "Piano",
    "Cough": "Snare", "Fireworks": "Snare", "Knock": "Snare", "Shatter": "Snare", "Snare_drum": "Snare",
    "Tambourine": "Snare", "Tearing": "Snare",
    "Chime": "T", "Glockenspiel": "T", "Gong": "T",
    "Cowbell": "TT",
    "Clarinet": "Wind", "Flute": "Wind", "Oboe": "Wind", "Saxophone": "Wind", "Trumpet": "Wind",
}

#: Default playing rule per instrument: True = melodic (transposed to the MIDI note played),
#: False = percussive (always played at the sample's own pitch). The paper names piano and wind as
#: melodic, hi-hat, tom and snare as percussive; T and TT are the paper's tom tracks.
DEFAULT_MELODIC: dict[str, bool] = {
    "Bass": True, "Piano": True, "Wind": True, "Chorus": True,
    "BD": False, "Snare": False, "HH": False, "T": False, "TT": False,
}

#: The colour of each Fig. 5 track (CSS ``#rrggbb``): the console's cards and map and a show's report draw a track
#: in the same colour.
INSTRUMENT_COLOURS: dict[str, str] = {
    "Bass": "#1f77b4", "BD": "#d62728", "Chorus": "#9467bd", "HH": "#bcbd22", "Piano": "#2ca02c",
    "Snare": "#ff7f0e", "T": "#17becf", "TT": "#8c564b", "Wind": "#e377c2",
}
#: Colours of the tracks a performer adds (none of them a Fig. 5 track's), and of "no instrument".
EXTRA_COLOURS: tuple[str, ...] = ("#393b79", "#637939", "#8c6d31", "#843c39", "#7b4173", "#3182bd", "#31a354",
                                  "#756bb1")
NO_INSTRUMENT_COLOUR = "#888888"

_INSTRUMENT_NAME = re.compile(r"^[A-Za-z0-9_-]{1,32}$")


class MappingError(ValueError):
    """A mapping names an unknown label or an instrument that cannot travel in an OSC address."""


def check_label(label: str) -> str:
    """Return ``label`` if it is one of the 41 :data:`LABELS`; raise :class:`MappingError` naming it otherwise."""
    if label not in LABELS:
        raise MappingError(f"unknown label {label!r}; labels are the 41 FSDKaggle2018 names, e.g. 'Bark'")
    return label


def check_instrument_name(name: str) -> str:
    """Return ``name`` if it can be an OSC address part (letters, digits, ``_`` and ``-``, 1–32 chars)."""
    if not isinstance(name, str) or not _INSTRUMENT_NAME.match(name):
        raise MappingError(
            f"instrument name {name!r} is not allowed: use 1-32 letters, digits, '_' or '-' "
            "(it becomes part of an OSC address)"
        )
    return name


def check_mapping(mapping: Mapping[str, str], melodic: Mapping[str, bool]) -> None:
    """Raise :class:`MappingError` unless every label is known and every instrument has a playing rule."""
    for label in sorted(mapping):
        check_label(label)
    for instrument in set(mapping.values()) | set(melodic):
        check_instrument_name(instrument)
    missing = sorted(set(mapping.values()) - set(melodic))
    if missing:
        raise MappingError(f"instrument(s) {missing} have no melodic/percussive setting in [instruments]")


Rule = Callable[[Any], "str | None"]


@dataclass
class RuleFailure:
    """A live-coded rule raised; the sample fell through to the table."""

    rule: str
    error: str


class Mapper:
    """Decide the instrument of a classified sample: live-coded rules first, then the label table.

    ``table`` and ``melodic`` are plain dicts that the caller may edit at any time; the next
    sample sees the change. A rule is ``f(sample) -> instrument name | None``; ``None`` defers
    to the next rule and finally the table. A rule that raises is skipped and reported through
    ``on_rule_error`` so that a typo in a live-coded cell never stops the show.
    """

    def __init__(
        self,
        table: dict[str, str],
        melodic: dict[str, bool],
        on_rule_error: Callable[[RuleFailure], None] | None = None,
    ) -> None:
        check_mapping(table, melodic)
        self.table = table
        self.melodic = melodic
        self.rules: list[Rule] = []
        self.on_rule_error = on_rule_error

    def add_rule(self, rule: Rule) -> Rule:
        """Register ``rule`` (usable as a decorator); rules run in the order they were added."""
        self.rules.append(rule)
        return rule

    def remove_rule(self, rule: Rule) -> None:
        """Forget ``rule``; it is not an error if it was never added."""
        if rule in self.rules:
            self.rules.remove(rule)

    def instrument_for(self, label: str | None, sample: Any = None) -> str | None:
        """Return the instrument for ``sample`` whose class is ``label``, or None if nothing maps it."""
        for rule in list(self.rules):
            try:
                chosen = rule(sample)
            except Exception as exc:  # a live-coded rule must never stop the show
                if self.on_rule_error is not None:
                    self.on_rule_error(RuleFailure(getattr(rule, "__name__", repr(rule)),
                                                   f"{type(exc).__name__}: {exc}"))
                continue
            if chosen is not None:
                try:
                    return check_instrument_name(chosen)
                except MappingError as exc:
                    if self.on_rule_error is not None:
                        self.on_rule_error(RuleFailure(getattr(rule, "__name__", repr(rule)), str(exc)))
        if label is None:
            return None
        return self.table.get(label)

    def is_melodic(self, instrument: str | None) -> bool:
        """Whether ``instrument`` is played transposed to the MIDI note (unknown instruments: percussive)."""
        return bool(instrument is not None and self.melodic.get(instrument, False))

    def instruments(self) -> list[str]:
        """All instrument names known to the table and the playing rules, sorted."""
        return sorted(set(self.table.values()) | set(self.melodic))


def instrument_colour(instrument: str | None) -> str:
    """The CSS colour (``#rrggbb``) of the track ``instrument``; grey for None or "".

    A Fig. 5 track has its own colour; a track the performer adds gets one of :data:`EXTRA_COLOURS`, chosen by the
    CRC-32 of its name, so it is the same in every process and every show.
    """
    if not instrument:
        return NO_INSTRUMENT_COLOUR
    return INSTRUMENT_COLOURS.get(instrument) or EXTRA_COLOURS[zlib.crc32(instrument.encode()) % len(EXTRA_COLOURS)]


def invert(mapping: Mapping[str, str]) -> dict[str, list[str]]:
    """Group labels by instrument: ``{"Bass": ["Bark", ...], ...}`` (labels sorted)."""
    grouped: dict[str, list[str]] = {}
    for label, instrument in sorted(mapping.items()):
        grouped.setdefault(instrument, []).append(label)
    return grouped

