"""The mapping a console plays with: :class:`MappingStore` keeps the class → instrument table and the playing rules
the pipeline uses, saves them to the TOML file, follows edits of that file on disk, and holds the live-coded rules.

Every change passes the console's owner check (``guard``) first, so a read-only console changes nothing. Edits of
the file on disk are not changes made by the console: every console follows them.
"""
from __future__ import annotations

import time
from collections.abc import Callable, Iterator, MutableMapping
from pathlib import Path
from typing import Any

import traitlets

from ..config import Config, ConfigError, load, save_mapping
from ..mapping import DEFAULT_MAPPING, MappingError, Rule, check_instrument_name, check_label, check_mapping
from ..pipeline import Pipeline

Failures = dict[str, tuple[int, str, float]]


class LiveTable(MutableMapping[str, Any]):
    """``show.mapping`` and ``show.melodic``: the mapper's own dict, where a write also updates the widgets and
    is saved to the TOML file; deleting a label restores the paper's default (every label keeps a track)."""

    def __init__(self, data: dict[str, Any], write: Callable[[str, Any], None], reset: Callable[[str], None]) -> None:
        self._data, self._write, self._reset = data, write, reset

    def __getitem__(self, key: str) -> Any:
        return self._data[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self._write(key, value)

    def __delitem__(self, key: str) -> None:
        self._reset(key)

    def __iter__(self) -> Iterator[str]:
        return iter(dict(self._data))

    def __len__(self) -> int:
        return len(self._data)

    def __repr__(self) -> str:
        return repr(self._data)


class MappingStore(traitlets.HasTraits):
    """The mapping in use (``pipeline.mapper``), its TOML file and the live-coded rules.

    Parameters
    ----------
    cfg : Config — written to a new file along with the mapping.
    pipeline : its ``mapper`` is what the next sample uses; its ``rule_failures`` are collected here.
    config_file : Path — the TOML file saved and followed.
    guard : called before every change; raises to refuse it (the console's owner check).

    Traits: ``table_version`` (bumped when the table or playing rules change), ``rules_version`` (when the rules
    or their failures change), ``saved_at`` (POSIX time of the last save, 0 before one).
    """

    table_version = traitlets.Int(0)
    rules_version = traitlets.Int(0)
    saved_at = traitlets.Float(0.0)

    def __init__(self, cfg: Config, pipeline: Pipeline, config_file: Path, guard: Callable[[], None]) -> None:
        super().__init__()
        self.cfg, self.pipeline, self.mapper = cfg, pipeline, pipeline.mapper
        self.config_file, self._guard = config_file, guard
        self.mapping = LiveTable(self.mapper.table, self.set_instrument, self.reset_instrument)
        self.melodic = LiveTable(self.mapper.melodic, self.set_melodic, self._refuse_delete)
        self.failures: Failures = {}
        self.problems: dict[str, str] = {}
        self._failures_seen = len(pipeline.rule_failures)
        self._stamp = self._file_stamp()

    # -- the table ------------------------------------------------------------------------------------

    def set_instrument(self, label: str, instrument: str) -> None:
        """Map ``label`` to ``instrument`` from the next sample on; a new instrument starts percussive."""
        self._guard()
        check_label(label)
        check_instrument_name(instrument)
        if instrument not in self.mapper.melodic:
            self.mapper.melodic[instrument] = False
        self.mapper.table[label] = instrument
        self._changed()

    def set_melodic(self, instrument: str, melodic: bool) -> None:
        """Play ``instrument`` melodically (transposed to the note) or percussively; adds it if new."""
        self._guard()
        check_instrument_name(instrument)
        self.mapper.melodic[instrument] = bool(melodic)
        self._changed()

    def reset_instrument(self, label: str) -> None:
        """Map ``label`` back to the paper's Fig. 5."""
        self.set_instrument(label, DEFAULT_MAPPING[check_label(label)])

    @staticmethod
    def _refuse_delete(instrument: str) -> None:
        raise MappingError(f"a track's playing rule cannot be deleted; set show.melodic[{instrument!r}] = True/False")

    def _changed(self) -> None:
        self.table_version += 1
        self.save()

    def save(self) -> Path:
        """Write the mapping in use to the config file and return its path.

        The file stays as the performer wrote it: only the mapping's keys that changed are added or changed
        (:func:`~exsampling.config.save_mapping`); a new file gets them and what the running configuration sets
        differently from the defaults.
        """
        self._guard()
        check_mapping(self.mapper.table, self.mapper.melodic)
        path = save_mapping(self.config_file, dict(self.mapper.table), dict(self.mapper.melodic), self.cfg)
        self._stamp = self._file_stamp()
        self.saved_at = time.time()
        return path

    def follow_disk(self) -> None:
        """An edit of the TOML file on disk shows up in the table and applies to the next sample."""
        stamp = self._file_stamp()
        if stamp == self._stamp:
            return
        self._stamp = stamp
        if stamp is None:
            return
        try:
            cfg = load(self.config_file)
        except ConfigError as exc:
            self.problems["config"] = f"{exc} — the mapping in use is unchanged until the file is fixed"
            return
        self.problems.pop("config", None)
        # key by key: the pipeline's worker thread may be reading these dicts
        self.mapper.melodic.update(cfg.melodic)
        self.mapper.table.update(cfg.mapping)
        for name in set(self.mapper.melodic) - set(cfg.melodic):
            del self.mapper.melodic[name]
        self.table_version += 1

    def _file_stamp(self) -> int | None:
        try:
            return self.config_file.stat().st_mtime_ns
        except OSError:
            return None

    # -- live-coded rules -----------------------------------------------------------------------------

    def rule(self, fn: Rule) -> Rule:
        """Decorator: ``fn(sample) -> instrument or None`` runs before the table for every new sample.

        A rule with the same name as an earlier one replaces it (re-running a cell must not stack copies).
        A rule that raises is skipped and reported on the page; None defers to the next rule, then the table.
        """
        self._guard()
        self.remove_rule(getattr(fn, "__name__", fn))
        self.mapper.add_rule(fn)
        self.rules_version += 1
        return fn

    def remove_rule(self, fn_or_name: Rule | str) -> None:
        """Forget a rule, given the function or its name."""
        self._guard()
        for rule in list(self.mapper.rules):
            if rule is fn_or_name or getattr(rule, "__name__", None) == fn_or_name:
                self.mapper.remove_rule(rule)
        self.failures.pop(str(getattr(fn_or_name, "__name__", fn_or_name)), None)
        self.rules_version += 1

    @property
    def rules(self) -> list[Rule]:
        """The live rules, in the order they run."""
        return list(self.mapper.rules)

    def collect_failures(self) -> None:
        """Count the rule failures the pipeline reported since the last call."""
        failures = self.pipeline.rule_failures
        if len(failures) == self._failures_seen:
            return
        for failure in failures[self._failures_seen:]:
            count = self.failures.get(failure.rule, (0, "", 0.0))[0]
            self.failures[failure.rule] = (count + 1, failure.error, time.time())
        self._failures_seen = len(failures)
        self.rules_version += 1
