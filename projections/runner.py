"""The projection runner: follows the signed log in order and keeps every view exactly once.

Each batch of events is folded and written in one transaction together with the log position it
reached, so a crash loses nothing and repeats nothing. SQLite has no notifications, so the runner
polls; it works the same on PostgreSQL. Events are verified (signature, key) as they are read.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from ledger.sidetables import Cursor, SideTables, notifications_after
from projections import corrections, donations, funds, hours, projects, streettowns
from projections.base import Change, Event, Table

VIEWS = (funds, streettowns, projects, hours, corrections, donations)
"""Every view, each a module with TABLES and a pure ``fold(event, read)``."""
TABLES: tuple[Table, ...] = tuple(t for view in VIEWS for t in view.TABLES)
_BY_NAME = {t.name: t for t in TABLES}
SHAPE = int.from_bytes(hashlib.sha256(repr(TABLES).encode()).digest()[:6], "big")
"""A fingerprint of every view's definition, kept beside the position."""
POSITION = "wushe_projection_position"
_LOCK = "wushe_projections"
_ENVELOPE = ("originator_id", "originator_version", "originator_topic", "timestamp")


@dataclass(frozen=True)
class Status:
    position: int
    """The last log position folded into the views."""
    head: int
    """The log's last position."""
    lag: int
    """Events stored but not yet in the views."""


def changes_for(event: Event, read) -> list[Change]:
    """Every view's changes for one event, all computed against the state before it."""
    return [change for view in VIEWS for change in view.fold(event, read)]


class Projections:
    """The views of one ledger, in tables beside its events."""

    def __init__(self, ledger: Any, *, batch: int = 500) -> None:
        self.ledger = ledger
        self.tables = SideTables(ledger.recorder)
        self.batch = batch
        self._create()

    def _create(self) -> None:
        """Create the tables; if the views' definitions changed since they were built, drop them
        so the next run folds the log into the new shape (read models are disposable)."""
        t = self.tables
        with t.transaction(commit=True, lock=_LOCK) as cursor:
            cursor.execute(f"CREATE TABLE IF NOT EXISTS {t.table(POSITION)} (name TEXT PRIMARY KEY, "
                           f"position {t.bigint} NOT NULL)")
            cursor.execute(f"SELECT position FROM {t.table(POSITION)} WHERE name = 'shape'")
            shape = cursor.fetchone()
            if shape is None or int(shape[0]) != SHAPE:
                for table in TABLES:
                    cursor.execute(f"DROP TABLE IF EXISTS {t.table(table.name)}")
                cursor.execute(f"DELETE FROM {t.table(POSITION)}")
                cursor.execute(f"INSERT INTO {t.table(POSITION)} (name, position) VALUES ('shape', ?)", (SHAPE,))
            for table in TABLES:
                columns = [f"{c} {self._type(table, c)}" for c in table.columns]
                cursor.execute(f"CREATE TABLE IF NOT EXISTS {t.table(table.name)} ({', '.join(columns)}, "
                               f"PRIMARY KEY ({', '.join(table.keys)}))")

    def _type(self, table: Table, column: str) -> str:
        if column in table.counters:
            return f"{self.tables.bigint} NOT NULL DEFAULT 0"
        kind = self.tables.bigint if column in table.integers else "TEXT"
        return f"{kind} NOT NULL" if column in table.keys else kind

    # --- running ---------------------------------------------------------------------------------

    def status(self) -> Status:
        head = self.ledger.recorder.max_notification_id() or 0
        position = self.position()
        t = self.tables
        row = t.fetchone(f"SELECT COUNT(*) FROM {t.events_table} WHERE {t.position_column} > ?", (position,))
        return Status(position, head, int(row[0]) if row else 0)

    def position(self) -> int:
        row = self.tables.fetchone(f"SELECT position FROM {self.tables.table(POSITION)} WHERE name = 'views'")
        return int(row[0]) if row else 0

    def run(self, limit: int | None = None) -> int:
        """Fold every event stored since the last run (at most ``limit``); returns how many."""
        done = 0
        while limit is None or done < limit:
            size = self.batch if limit is None else min(self.batch, limit - done)
            folded = self._run_batch(size)
            done += folded
            if folded < size:
                break
        return done

    def rebuild(self) -> int:
        """Empty every view and fold the whole log again."""
        with self.tables.transaction(commit=True, lock=_LOCK) as cursor:
            for table in TABLES:
                cursor.execute(f"DELETE FROM {self.tables.table(table.name)}")
            cursor.execute(f"DELETE FROM {self.tables.table(POSITION)}")
        return self.run()

    def _run_batch(self, size: int) -> int:
        with self.tables.transaction(commit=True, lock=_LOCK) as cursor:
            cursor.execute(f"SELECT position FROM {self.tables.table(POSITION)} WHERE name = 'views'")
            row = cursor.fetchone()
            position = int(row[0]) if row else 0
            stored = notifications_after(cursor, position, size)
            if not stored:
                return 0
            batch = _Batch(_Reader(cursor, self.tables))
            for event in self._verified(stored):
                for change in changes_for(event, batch.read):
                    batch.add(change)
            for change in batch.merged():
                self._apply(cursor, change)
            if row is None:
                cursor.execute(f"INSERT INTO {self.tables.table(POSITION)} (name, position) VALUES ('views', ?)",
                               (stored[-1].id,))
            else:
                cursor.execute(f"UPDATE {self.tables.table(POSITION)} SET position = ? WHERE name = 'views'",
                               (stored[-1].id,))
            return len(stored)

    def _verified(self, stored: Iterable[Any]) -> Iterator[Event]:
        for n in stored:
            domain_event = self.ledger.mapper.to_domain_event(n)  # raises TamperedEvent: nothing is projected
            payload = {k: v for k, v in vars(domain_event).items() if k not in _ENVELOPE}
            yield Event(n.id, n.topic, str(n.originator_id), n.originator_version, domain_event.timestamp, payload)

    def _apply(self, cursor: Cursor, change: Change) -> None:
        table = _BY_NAME[change.table]
        values = dict(zip(table.keys, change.key, strict=True))
        values.update({c: change.add.get(c, 0) for c in table.counters})
        values.update({c: change.put.get(c) for c in table.attributes})
        updates = [f"{c} = {table.name}.{c} + excluded.{c}" for c in change.add]
        updates += [f"{c} = excluded.{c}" for c in change.put]
        columns = list(values)
        cursor.execute(
            f"INSERT INTO {self.tables.table(table.name)} AS {table.name} ({', '.join(columns)}) "
            f"VALUES ({', '.join('?' * len(columns))}) ON CONFLICT ({', '.join(table.keys)}) "
            f"DO UPDATE SET {', '.join(updates)}",
            [values[c] for c in columns],
        )

    # --- reading ---------------------------------------------------------------------------------

    def rows(self, table: Table, where: str = "", params: tuple = (), order: str = "") -> list[dict[str, Any]]:
        """Rows of a view as dictionaries (``where``/``order`` are SQL fragments of the caller's)."""
        sql = f"SELECT {', '.join(table.columns)} FROM {self.tables.table(table.name)}"
        if where:
            sql += f" WHERE {where}"
        if order:
            sql += f" ORDER BY {order}"
        return [dict(zip(table.columns, r, strict=True)) for r in self.tables.fetchall(sql, params)]


class _Batch:
    """A batch's changes merged in memory: later events of the batch read them, and each touched
    row is written once at the end (a district's donations hit the same few rows again and again)."""

    def __init__(self, reader: _Reader) -> None:
        self.reader = reader
        self.stored: dict[tuple[str, tuple], dict[str, Any] | None] = {}
        self.pending: dict[tuple[str, tuple], tuple[dict[str, int], dict[str, Any]]] = {}

    def read(self, name: str, key: tuple) -> dict[str, Any] | None:
        where = (name, tuple(key))
        if where not in self.stored:
            self.stored[where] = self.reader(name, key)
        row, pending = self.stored[where], self.pending.get(where)
        if pending is None:
            return dict(row) if row is not None else None
        table = _BY_NAME[name]
        merged = dict(row) if row is not None else {
            **dict(zip(table.keys, key, strict=True)), **{c: 0 for c in table.counters},
            **{c: None for c in table.attributes}}
        add, put = pending
        for column, amount in add.items():
            merged[column] += amount
        merged.update(put)
        return merged

    def add(self, change: Change) -> None:
        add, put = self.pending.setdefault((change.table, tuple(change.key)), ({}, {}))
        for column, amount in change.add.items():
            add[column] = add.get(column, 0) + amount
        put.update(change.put)

    def merged(self) -> Iterator[Change]:
        for (table, key), (add, put) in self.pending.items():
            yield Change(table, key, add=add, put=put)


class _Reader:
    """Reads view rows inside the runner's transaction, so earlier events of a batch are seen."""

    def __init__(self, cursor: Cursor, tables: SideTables) -> None:
        self.cursor = cursor
        self.tables = tables

    def __call__(self, name: str, key: tuple) -> dict[str, Any] | None:
        table = _BY_NAME[name]
        where = " AND ".join(f"{k} = ?" for k in table.keys)
        self.cursor.execute(f"SELECT {', '.join(table.columns)} FROM {self.tables.table(name)} WHERE {where}", key)
        row = self.cursor.fetchone()
        return None if row is None else dict(zip(table.columns, row, strict=True))
