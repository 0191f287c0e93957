"""Folding the whole log into emptied views: every row kept in memory, each written once at the end.

A rebuild (and a first run into empty views) starts from tables with no rows, so nothing a fold
reads can be in the database: every read is answered from memory, and each view row is written
once with its final values, by plain ``INSERT`` (``COPY`` on PostgreSQL), instead of being merged
into the tables batch after batch. The monthly and yearly rollups are summed from the final daily
rows (the sum of a day's additions is the day's row), each view's digest is the sum of its final
rows' hashes (``projections.digest``), each row hashed once, and the secondary indexes are built
after their table is filled (one sort instead of a B-tree insert per row).

The folds are the same pure functions the incremental runner applies (``changes_for``), and the
changes of one event are all computed before any is applied, so each event sees the state before
it, as in the runner's batches.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from projections import digest
from projections.base import EVERY, ChangeT, Table


class Rows:
    """Every view's rows during a fold of the whole log: per table, key → the row's other columns
    (a dict of its counters and attributes, in column order)."""

    def __init__(self, tables: Iterable[Table]) -> None:
        self.tables = {t.name: t for t in tables}
        self.rows: dict[str, dict[tuple, dict[str, Any]]] = {name: {} for name in self.tables}
        self._blank = {name: {**dict.fromkeys(t.counters, 0), **dict.fromkeys(t.attributes)}
                       for name, t in self.tables.items()}

    def read(self, name: str, key: tuple) -> dict[str, Any] | None:
        """A row as it stands, key columns included (a copy: the folds only read)."""
        key = tuple(key)
        row = self.rows[name].get(key)
        return None if row is None else {**dict(zip(self.tables[name].keys, key, strict=True)), **row}

    def apply(self, changes: Iterable[ChangeT]) -> None:
        rows, blank = self.rows, self._blank
        for name, key, add, put in changes:
            table = rows[name]
            row = table.get(key)
            if row is None:
                row = table[key] = blank[name].copy()
            if add:
                for column, amount in add.items():
                    row[column] += amount
            if put:
                row.update(put)

    def roll_up(self) -> None:
        """Add each daily table's final rows into its monthly and yearly rollups."""
        for table in self.tables.values():
            if not table.rollups:
                continue
            counters = table.counters
            for target, grain, every in table.rollups:
                into, blank = self.rows[target], self._blank[target]
                for key, row in self.rows[table.name].items():
                    scope, day, *others = key
                    for s in (scope, EVERY) if every else (scope,):
                        at = (s, day[:grain], *others)
                        summed = into.get(at)
                        if summed is None:
                            summed = into[at] = blank.copy()
                        for column in counters:
                            summed[column] += row[column]

    def stored(self, name: str) -> list[tuple]:
        """A table's rows as the store will hold them: tuples in column order, canonical types."""
        return digest.canonical_rows(self.tables[name], [(*key, *row.values()) for key, row in self.rows[name].items()])


def write(cursor: Any, tables: Any, rows: Rows, digests: dict[str, int],
          elsewhere: Mapping[str, tuple[list[tuple], int]] | None = None) -> None:
    """Insert every row into the emptied tables and set ``digests`` to each view's digest over its
    rows. ``elsewhere``: rows another process folded, rolled up and hashed (``projections.fold_apart``),
    per table the rows as stored and the sum of their hashes, written beside these."""
    elsewhere = elsewhere or {}
    rolled = {t.name for t in rows.tables.values() if t.rollups} | {
        target for t in rows.tables.values() for target, _, _ in t.rollups}
    for name, table in rows.tables.items():
        if not rows.rows[name] and name not in elsewhere:
            continue
        ordered = rows.stored(name) if rows.rows[name] else []
        total = digest.sum_of_stored(table, ordered)
        if name in elsewhere:
            if ordered and name in rolled:  # each side would have summed only its own days
                raise RuntimeError(f"{name}: rolled-up rows folded by both processes of the rebuild")
            theirs, summed = elsewhere[name]
            ordered, total = theirs + ordered, total + summed
        digests[name] = total % digest.MODULUS
        if tables.postgres:
            _copy(cursor, tables, table, ordered)
        else:
            _insert(cursor, tables, table, ordered)


def _insert(cursor: Any, tables: Any, table: Table, ordered: list[tuple]) -> None:
    _drop_indexes(cursor, tables, table)
    cursor.executemany(f"INSERT INTO {tables.table(table.name)} ({', '.join(table.columns)}) "
                       f"VALUES ({', '.join('?' * len(table.columns))})", ordered)
    create_indexes(cursor, tables, table)


def _copy(cursor: Any, tables: Any, table: Table, ordered: list[tuple]) -> None:
    _drop_indexes(cursor, tables, table)
    for start in range(0, len(ordered), COPY_ROWS):  # each statement well inside the statement timeout
        with cursor._cursor.copy(f"COPY {tables.table(table.name)} ({', '.join(table.columns)}) FROM STDIN") as copy:
            for values in ordered[start:start + COPY_ROWS]:
                copy.write_row(values)
    create_indexes(cursor, tables, table)


COPY_ROWS = 100_000
"""Rows per ``COPY`` statement on PostgreSQL: a few seconds each, whatever the size of the view."""


def _index_name(table: Table, index: tuple[str, ...]) -> str:
    return f"{table.name}_by_{'_'.join(index)}"


def create_indexes(cursor: Any, tables: Any, table: Table) -> None:
    """A view table's secondary indexes (``Table.indexes``), if they are not there."""
    for index in table.indexes:
        cursor.execute(f"CREATE INDEX IF NOT EXISTS {_index_name(table, index)} "
                       f"ON {tables.table(table.name)} ({', '.join(index)})")


def _drop_indexes(cursor: Any, tables: Any, table: Table) -> None:
    for index in table.indexes:
        cursor.execute(f"DROP INDEX IF EXISTS {tables.table(_index_name(table, index))}")
