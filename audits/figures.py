"""Recompute the published transparency reports from the replayed events alone and compare.

The views' own pure folds (``projections.runner.changes_for``) are applied to the verified history
in memory; the folded rows are then put into a private in-memory SQLite database shaped like the
views, and ``projections.report.transparency_report`` reads them exactly as it reads the ledger's.
The operator's view tables are never read: only the report code is shared, and it is what is tested.

An incremental audit starts from the private database as a saved audit state kept it (SQLite's own
serialisation of the in-memory database) and folds only the new events into it.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import date
from typing import Any

from audits.findings import CRITICAL, WARNING, Finding, unreadable
from audits.replay import Entry
from projections.base import Event, MemoryStore
from projections.report import transparency_report
from projections.runner import POSITION, TABLES, changes_for


class UnfoldableEvent(ValueError):
    """A verified event whose payload the views' folds cannot read (no command writes such a payload)."""

    def __init__(self, entry: Entry, exc: Exception) -> None:
        self.why_en, self.why_zh = unreadable(exc)
        self.where = f"#{entry.position} {entry.stream} v{entry.version} {entry.type}"
        super().__init__(f"{self.where}: {self.why_en}")
        self.entry = entry


def fold(entries: Sequence[Entry], upto: int, store: MemoryStore | None = None, after: int = 0) -> MemoryStore:
    """Every view's rows after folding the entries after position ``after`` up to ``upto``."""
    store = store if store is not None else MemoryStore(TABLES)
    for e in entries:
        if e.position > upto:
            break
        if e.position <= after:
            continue
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

    def __init__(self, store: MemoryStore | None, position: int, origin: str | None, reference: Any,
                 connection: sqlite3.Connection | None = None) -> None:
        self.position = position
        self.tables = _Tables(connection or self._create(store or MemoryStore(TABLES), position))
        self.ledger = type("ReplayedLedger", (), {"origin": origin, "reference": reference})()

    @staticmethod
    def _create(store: MemoryStore, position: int) -> sqlite3.Connection:
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
        connection.commit()
        return connection

    def image(self) -> bytes:
        """The database as bytes (``sqlite3.Connection.serialize``), for a saved audit state."""
        return self.tables.connection.serialize()

    @classmethod
    def from_image(cls, image: bytes, position: int, origin: str | None, reference: Any) -> _Views:
        connection = sqlite3.connect(":memory:")
        connection.deserialize(image)
        return cls(None, position, origin, reference, connection)


class _Overlay(MemoryStore):
    """The rows new events touch, read from a views database on first use and written back after."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        super().__init__(TABLES)
        self.connection = connection
        self.absent: set[tuple[str, tuple]] = set()

    def _load(self, name: str, key: tuple) -> None:
        if key in self.rows[name] or (name, key) in self.absent:
            return
        table = self.tables[name]
        row = self.connection.execute(f"SELECT {', '.join(table.columns)} FROM {name} WHERE "
                                      + " AND ".join(f"{k} = ?" for k in table.keys), key).fetchone()
        if row is None:
            self.absent.add((name, key))
        else:
            self.rows[name][key] = dict(zip(table.columns, row, strict=True))

    def read(self, table: str, key: tuple) -> dict[str, Any] | None:
        self._load(table, tuple(key))
        return super().read(table, key)

    def apply(self, changes) -> None:
        changes = list(changes)
        for name, key, _, _ in changes:
            self._load(name, key)
        super().apply(changes)

    def write_back(self, position: int) -> None:
        for name, rows in self.rows.items():
            columns = self.tables[name].columns
            self.connection.executemany(f"INSERT OR REPLACE INTO {name} VALUES ({', '.join('?' * len(columns))})",
                                        [[row[c] for c in columns] for row in rows.values()])
        self.connection.execute(f"UPDATE {POSITION} SET position = ? WHERE name = 'views'", (position,))
        self.connection.commit()  # serialize() gives what is committed
        self.rows = {name: {} for name in self.tables}
        self.absent.clear()


ViewsAt = Callable[[int], _Views]
"""The views at a log position."""


def fresh_views(entries: Sequence[Entry], origin: str | None, reference: Any) -> ViewsAt:
    """Views folded from the first event, once per position asked for."""
    folded: dict[int, _Views] = {}

    def at(position: int) -> _Views:
        if position not in folded:
            folded[position] = _Views(fold(entries, position), position, origin, reference)
        return folded[position]

    return at


class BeforeState(ValueError):
    """A report read at a log position the saved state has already folded past."""


def continued_views(image: bytes, position: int, entries: Sequence[Entry], origin: str | None,
                    reference: Any) -> ViewsAt:
    """Views from a saved state at ``position``, folded forward with ``entries`` as positions are asked
    for in rising order (one database, folded on: an earlier position cannot be asked for again)."""
    views = _Views.from_image(image, position, origin, reference)

    def at(upto: int) -> _Views:
        if upto < views.position:
            raise BeforeState(f"the report was read at #{upto}, before the audited state's #{views.position}")
        if upto > views.position:
            overlay = _Overlay(views.tables.connection)
            fold(entries, upto, overlay, after=views.position)
            overlay.write_back(upto)
            views.position = upto
        return views

    return at


def recompute(views: _Views, published: dict[str, Any]) -> dict[str, Any]:
    """The report ``published`` describes (same period and scope), from the views at its position."""
    town = published.get("street_town")
    return transparency_report(views, start=date.fromisoformat(published["period"]["start"]),  # type: ignore[arg-type]
                               end=date.fromisoformat(published["period"]["end"]),
                               street_town=town["code"] if town else None)


def compare_figures(views_at: ViewsAt, reports: Sequence[dict[str, Any]]) -> tuple[list[Finding], int]:
    """A finding for every published report that the events do not reproduce; and how many did."""
    findings, matched = [], 0
    for published in reports:
        try:
            position = int(published["position"])
            town = published.get("street_town")
            again = recompute(views_at(position), published)
        except UnfoldableEvent as exc:  # no report can be recomputed past this event
            findings.append(Finding("integrity.figures", CRITICAL, f"the figures cannot be recomputed: event {exc}",
                                    f"无法由事件重算公布的数字：事件 {exc.where} 无法读取：{exc.why_zh}",
                                    (exc.entry.ref(),)))
            break
        except BeforeState as exc:
            findings.append(Finding("integrity.figures", WARNING, f"a published report was not recomputed: {exc}",
                                    "已公布的报告早于审计状态，未重算"))
            continue
        except (KeyError, TypeError, ValueError) as exc:
            en, zh = unreadable(exc)
            findings.append(Finding("integrity.figures", CRITICAL, f"a published report cannot be read: {en}",
                                    f"无法读取已公布的报告：{zh}"))
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
