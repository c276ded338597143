"""Mapping: the table, live-coded rules, and rules that fail without stopping the show."""
from exsampling.mapping import DEFAULT_MAPPING, DEFAULT_MELODIC, Mapper


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
