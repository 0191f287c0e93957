"""What a view is: tables, and a pure fold from one verified event to row changes.

A fold sees the event and may read rows the views already hold (a fund's street-town, the
original of a reversal); it returns changes and writes nothing itself. The runner applies the
changes and the log position in one transaction; tests apply them to an in-memory store.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from types import MappingProxyType
from typing import Any

CHINA = timezone(timedelta(hours=8))


class Event:
    """A verified event as the folds see it (a plain slotted class: a rebuild makes one per event)."""

    __slots__ = ("_day", "payload", "position", "stream", "timestamp", "type", "version")

    def __init__(self, position: int, type: str, stream: str, version: int, timestamp: datetime,
                 payload: dict[str, Any]) -> None:
        self.position = position
        self.type = type
        self.stream = stream
        self.version = version
        self.timestamp = timestamp
        self.payload = payload
        self._day: str | None = None

    def __repr__(self) -> str:
        return f"Event({self.position}, {self.type!r}, {self.stream!r}, v{self.version})"

    @property
    def code(self) -> str:
        """The stream's business code: ``fund:SF-x`` → ``SF-x``."""
        return self.stream.split(":", 1)[1] if ":" in self.stream else self.stream

    @property
    def recorded_on(self) -> str:
        """The Shanghai date the event was recorded."""
        if self._day is None:
            self._day = self.timestamp.astimezone(CHINA).date().isoformat()
        return self._day


@dataclass(frozen=True)
class Table:
    """A view table: key columns, counters (integers that changes add to) and attributes (set)."""

    name: str
    keys: tuple[str, ...]
    counters: tuple[str, ...] = ()
    attributes: tuple[str, ...] = ()
    """Columns that changes overwrite: text (JSON for lists) unless named in ``integers``."""
    integers: tuple[str, ...] = ()
    """Key or attribute columns holding integers (counters always do)."""
    indexes: tuple[tuple[str, ...], ...] = ()
    """Secondary indexes, each a tuple of columns, for the pages' queries that do not lead with
    the key (part of the views' shape: adding one refolds the views)."""
    rollups: tuple[tuple[str, int, bool], ...] = ()
    """Tables that sum this one's counters by a prefix of its ``day`` (the second key): each
    (table, length of the prefix kept: 7 a month, 4 a year, whether a ``*`` row sums every value of
    the first key too). The folds never write them: the runner (and :class:`MemoryStore`) derive
    their changes from this table's (see :func:`rolled_up` and :class:`Rolled`)."""

    @property
    def columns(self) -> tuple[str, ...]:
        return self.keys + self.counters + self.attributes


_NOTHING: Mapping[str, Any] = MappingProxyType({})


ChangeT = tuple[str, tuple, Mapping[str, int], Mapping[str, Any]]
"""A change: (table, key, counters to add to, attributes to set)."""


def Change(table: str, key: tuple, add: Mapping[str, int] = _NOTHING, put: Mapping[str, Any] = _NOTHING) -> ChangeT:
    """Add to a row's counters and/or set its attributes, creating the row if need be.

    A plain tuple made by a function: a rebuild makes several per event, and a named tuple built
    with keywords costs several times as much."""
    return (table, key, add, put)


def rolled_up(table: Table, key: tuple, add: Mapping[str, int]) -> Iterator[ChangeT]:
    """The changes to ``table``'s rollups that one addition to its row ``key`` makes."""
    scope, day, *rest = key
    for target, grain, every in table.rollups:
        yield (target, (scope, day[:grain], *rest), add, _NOTHING)
        if every:
            yield (target, (EVERY, day[:grain], *rest), add, _NOTHING)


EVERY = "*"
"""The first key of rollup rows that sum every street-town (the whole district)."""


@dataclass(frozen=True)
class Rolled:
    """A daily table and its monthly and yearly sums: any period of whole days is read as at most
    two runs of days (its partial months), two of months (its partial years) and one of years."""

    daily: Table
    months: Table
    years: Table

    @property
    def tables(self) -> tuple[Table, Table, Table]:
        return (self.daily, self.months, self.years)

    def at(self, grain: int) -> Table:
        return {10: self.daily, 7: self.months, 4: self.years}[grain]


def rolled(daily: str, months: str, years: str, keys: tuple[str, ...], counters: tuple[str, ...], *,
           every: bool = False, indexes: tuple[tuple[str, ...], ...] = ()) -> Rolled:
    """A daily table keyed (scope, ``day``, …) with its monthly and yearly rollups."""
    assert keys[1] == "day", keys
    return Rolled(
        Table(daily, keys, counters, indexes=indexes, rollups=((months, 7, every), (years, 4, every))),
        Table(months, keys, counters), Table(years, keys, counters))


Reader = Callable[[str, tuple], dict[str, Any] | None]
"""Reads one row of a view table by key (None if absent)."""

Fold = Callable[[Event, Reader], Iterable[ChangeT]]


def as_json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def day_of(value: str | None, fallback: Event) -> str:
    """A business date as stored (``YYYY-MM-DD``), or the recording date when there is none."""
    if value:
        date.fromisoformat(value)
        return value
    return fallback.recorded_on


class MemoryStore:
    """The views held in dictionaries: for tests, and for folding a log without a database."""

    def __init__(self, tables: Iterable[Table]) -> None:
        self.tables = {t.name: t for t in tables}
        self.rows: dict[str, dict[tuple, dict[str, Any]]] = {name: {} for name in self.tables}

    def read(self, table: str, key: tuple) -> dict[str, Any] | None:
        row = self.rows[table].get(tuple(key))
        return dict(row) if row is not None else None

    def apply(self, changes: Iterable[ChangeT]) -> None:
        for name, key, add, put in changes:
            table = self.tables[name]
            row = self.rows[name].get(key)
            if row is None:
                row = {c: v for c, v in zip(table.keys, key, strict=True)}
                row.update({c: 0 for c in table.counters})
                row.update({c: None for c in table.attributes})
                self.rows[name][key] = row
            for column, amount in add.items():
                row[column] += amount
            row.update(put)
            if table.rollups and add:
                self.apply(rolled_up(table, key, add))
