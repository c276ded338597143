"""Mapping: the table, live-coded rules, rules that fail without stopping the show, and the tracks' colours."""
import os
import re
import subprocess
import sys

from exsampling.mapping import (
    DEFAULT_MAPPING,
    DEFAULT_MELODIC,
    EXTRA_COLOURS,
    NO_INSTRUMENT_COLOUR,
    Mapper,
    instrument_colour,
)


def mapper(failures=None):
    return Mapper(dict(DEFAULT_MAPPING), dict(DEFAULT_MELODIC),
                  on_rule_error=failures.append if failures is not None else None)


def test_table_and_edits_apply_at_once():
    m = mapper()
    assert m.instrument_for("Bark") == "Bass" and m.is_melodic("Bass")
    m.table["Bark"] = "Snare"
    assert m.instrument_for("Bark") == "Snare" and not m.is_melodic("Snare")


def test_rules_run_before_the_table_and_none_defers():
    m = mapper()
    m.add_rule(lambda s: None)
    m.add_rule(lambda s: "Piano" if s == "high" else None)
    assert m.instrument_for("Bark", "high") == "Piano"
    assert m.instrument_for("Bark", "low") == "Bass"


def test_a_failing_rule_is_reported_and_skipped():
    failures = []
    m = mapper(failures)

    @m.add_rule
    def broken(sample):
        return 1 / 0

    m.add_rule(lambda s: "bad name!")
    assert m.instrument_for("Flute") == "Wind"
    assert failures[0].rule == "broken" and "ZeroDivisionError" in failures[0].error
    assert "not allowed" in failures[1].error
    m.remove_rule(broken)
    assert len(m.rules) == 1


def test_unmapped_label_has_no_instrument():
    assert mapper().instrument_for(None) is None


def test_every_track_has_its_own_colour_and_an_added_track_keeps_one():
    fig5 = sorted(set(DEFAULT_MAPPING.values()))
    colours = [instrument_colour(track) for track in fig5]
    assert all(re.fullmatch(r"#[0-9a-f]{6}", c) for c in colours)
    assert len(set(colours)) == len(fig5) and NO_INSTRUMENT_COLOUR not in colours
    assert instrument_colour(None) == instrument_colour("") == NO_INSTRUMENT_COLOUR
    added = instrument_colour("Bells")
    assert added in EXTRA_COLOURS and added not in colours
    # the same in another process whatever its string hashing: a show's report is drawn later, by another process
    code = "from exsampling.mapping import instrument_colour; print(instrument_colour('Bells'))"
    other = subprocess.run([sys.executable, "-c", code], env={**os.environ, "PYTHONHASHSEED": "7"},
                           capture_output=True, text=True, check=True)
    assert other.stdout.strip() == added
