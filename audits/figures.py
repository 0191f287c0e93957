"""Recompute the published transparency reports from the replayed events alone and compare.

The views' own pure folds (``projections.runner.changes_for``) are applied to the verified history
in memory; the folded rows are then put into a private in-memory SQLite database shaped like the
views, and ``projections.report.transparency_report`` reads them exactly as it reads the ledger's.
The operator's view tables are never read: only the report code is shared, and it is what is tested.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import date
from typing import Any

from audits.findings import CRITICAL, Finding
from audits.replay import Entry
from projections.base import Event, MemoryStore
from projections.report import transparency_report
from projections.runner import POSITION, TABLES, changes_for


class UnfoldableEvent(ValueError):
    """A verified event whose payload the views' folds cannot read (no command writes such a payload)."""

    def __init__(self, entry: Entry, exc: Exception) -> None:
        super().__init__(f"#{entry.position} {entry.stream} v{entry.version} {entry.type}: {type(exc).__name__}: {exc}")
        self.entry = entry


def fold(entries: Sequence[Entry], upto: int) -> MemoryStore:
    """Every view's rows after folding the entries up to log position ``upto``."""
    store = MemoryStore(TABLES)
    for e in entries:
        if e.position > upto:
            break
        event = Event(e.position, e.type, e.stream, e.version, e.timestamp, e.payload)
        try:
            store.apply(changes_for(event, store.read))
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise UnfoldableEvent(e, exc) from exc
    return store


class _Tables:
    """Just enough of ``ledger.sidetables.SideTables`` for the report to read an in-memory copy."""

    postgres = False

    def __init__(self, connection: sqlite3.Connection) -> None:
        self.connection = connection

    def table(self, name: str) -> str:
        return name

    @contextmanager
    def transaction(self, *, commit: bool) -> Iterator[sqlite3.Cursor]:
        yield self.connection.cursor()


class _Views:
    """The report's view of 'a ledger and its projections', built from folded rows."""

    def __init__(self, store: MemoryStore, position: int, origin: str | None, reference: Any) -> None:
        connection = sqlite3.connect(":memory:")
        for table in TABLES:
            columns = [f"{c} {'INTEGER' if c in table.counters or c in table.integers else 'TEXT'}"
                       for c in table.columns]
            connection.execute(f"CREATE TABLE {table.name} ({', '.join(columns)}, PRIMARY KEY ({', '.join(table.keys)}))")
            names = table.columns
            connection.executemany(f"INSERT INTO {table.name} VALUES ({', '.join('?' * len(names))})",
                                   [[row[c] for c in names] for row in store.rows[table.name].values()])
        connection.execute(f"CREATE TABLE {POSITION} (name TEXT PRIMARY KEY, position INTEGER)")
        connection.execute(f"INSERT INTO {POSITION} VALUES ('views', ?)", (position,))
        self.tables = _Tables(connection)
        self.ledger = type("ReplayedLedger", (), {"origin": origin, "reference": reference})()


def recompute(views: _Views, published: dict[str, Any]) -> dict[str, Any]:
    """The report ``published`` describes (same period and scope), from the views at its position."""
    town = published.get("street_town")
    return transparency_report(views, start=date.fromisoformat(published["period"]["start"]),  # type: ignore[arg-type]
                               end=date.fromisoformat(published["period"]["end"]),
                               street_town=town["code"] if town else None)


def compare_figures(entries: Sequence[Entry], reports: Sequence[dict[str, Any]], origin: str | None,
                    reference: Any) -> tuple[list[Finding], int]:
    """A finding for every published report that the events do not reproduce; and how many did."""
    findings, matched = [], 0
    folded: dict[int, _Views] = {}  # reports read at one log position share one fold
    for published in reports:
        try:
            position = int(published["position"])
            town = published.get("street_town")
            if position not in folded:
                folded[position] = _Views(fold(entries, position), position, origin, reference)
            again = recompute(folded[position], published)
        except UnfoldableEvent as exc:  # no report can be recomputed past this event
            findings.append(Finding("integrity.figures", CRITICAL, f"the figures cannot be recomputed: event {exc}",
                                    f"无法由事件重算公布的数字：事件 #{exc.entry.position} 无法读取", (exc.entry.ref(),)))
            break
        except (KeyError, TypeError, ValueError) as exc:
            findings.append(Finding("integrity.figures", CRITICAL, f"a published report cannot be read: {exc}",
                                    "无法读取已公布的报告"))
            continue
        differences = list(_differences(published, again))
        if not differences:
            matched += 1
            continue
        scope = town["code"] if town else "district"
        period = f"{published['period']['start']}–{published['period']['end']}"
        shown = "; ".join(f"{path}: published {a!r}, events give {b!r}" for path, a, b in differences[:5])
        findings.append(Finding("integrity.figures", CRITICAL,
                                f"published figures for {scope} {period} differ from the events: {shown}",
                                f"{scope} {period} 公布的数字与事件重算结果不符（{len(differences)} 处）",
                                street_town=town["code"] if town else None,
                                details={"differences": [{"path": p, "published": a, "recomputed": b}
                                                         for p, a, b in differences[:50]]}))
    return findings, matched


def _differences(a: Any, b: Any, path: str = "") -> Iterator[tuple[str, Any, Any]]:
    if isinstance(a, dict) and isinstance(b, dict):
        for key in sorted(set(a) | set(b), key=str):
            yield from _differences(a.get(key), b.get(key), f"{path}.{key}" if path else str(key))
    elif isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            yield from _differences(x, y, f"{path}[{i}]")
    elif a != b:
        yield path, a, b
