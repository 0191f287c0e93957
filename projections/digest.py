"""A digest of each view, kept by the runner with the log position, so that a view edited behind
its back (an UPDATE of a view table) is found: ``Projections.check`` recomputes each digest from
the rows and compares.

A view's digest is the sum, modulo 2**256, of a SHA-256 hash of each of its rows (a multiset hash):
a batch changes it by the hashes of the rows it rewrites, new minus old, so keeping it costs the
rows a batch touches, never a scan of the view. It is no secret and no signature: it catches a
view changed without the runner, not an insider who also recomputes the digest — this process
remembers the digests it wrote, and ``wushe projections rebuild`` refolds the views from the
signed log whatever the tables say.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from itertools import repeat
from operator import methodcaller
from typing import Any

import msgspec

from projections.base import Table

DIGESTS = "wushe_projection_digests"
MODULUS = 1 << 256
VERSION = "multiset-sha256-msgpack-2"
"""Part of the views' shape: a change of how digests are made refolds the views."""


def _canonical(table: Table, column: str, value: Any) -> Any:
    if value is None:
        return None
    if column in table.counters or column in table.integers:
        return int(value)
    if isinstance(value, bool):
        value = int(value)
    return str(value)


def canonical_key(table: Table, key: Iterable[Any]) -> tuple:
    return tuple(_canonical(table, c, v) for c, v in zip(table.keys, key, strict=True))


_PLANS: dict[str, tuple[tuple[str, bool], ...]] = {}


def _plan(table: Table) -> tuple[tuple[str, bool], ...]:
    """(column, holds an integer) for each column of a table, in order."""
    plan = _PLANS.get(table.name)
    if plan is None:
        integers = set(table.counters) | set(table.integers)
        plan = _PLANS[table.name] = tuple((c, c in integers) for c in table.columns)
    return plan


def row_hash(table: Table, row: Mapping[str, Any] | None) -> int:
    """The hash of one row as stored (0 for no row): SHA-256 of the MessagePack array of the table's
    name and the array of the row's values in column order, integers as integers and everything
    else as strings (as the store gives them back, whatever type a fold set), nulls as nil."""
    if row is None:
        return 0
    values = []
    for column, integer in _plan(table):
        value = row[column]
        kind = type(value)
        if value is None or (kind is int if integer else kind is str):
            values.append(value)
        else:
            values.append(_canonical(table, column, value))
    return int.from_bytes(hashlib.sha256(_encode((table.name, values))).digest())


_encode = msgspec.msgpack.Encoder().encode


def sum_of_stored(table: Table, rows: Iterable[tuple]) -> int:
    """The sum of the hashes of rows given as the store holds them: tuples in column order whose
    values already have their canonical types (integers, strings, None), as the database returns
    them (and as :func:`canonical_rows` gives a fold's rows). Not reduced modulo 2**256."""
    return sum(map(int.from_bytes, map(_DIGEST, map(hashlib.sha256, map(_encode, zip(repeat(table.name), rows))))))


_DIGEST = methodcaller("digest")
_TYPES: dict[str, Any] = {}


def canonical_rows(table: Table, rows: list[tuple]) -> list[tuple]:
    """A fold's rows (tuples in column order) with their values' canonical types: checked at once
    by msgspec, and only if one is off, each row converted as :func:`row_hash` converts it."""
    kind = _TYPES.get(table.name)
    if kind is None:
        kind = _TYPES[table.name] = list[tuple[tuple(int | None if integer else str | None
                                                     for _, integer in _plan(table))]]
    try:
        msgspec.convert(rows, kind, strict=True)
        return rows
    except msgspec.ValidationError:
        return [tuple(None if v is None else _canonical(table, c, v) for (c, _), v in zip(_plan(table), row, strict=True))
                for row in rows]


def create(cursor: Any, tables: Any) -> None:
    cursor.execute(f"CREATE TABLE IF NOT EXISTS {tables.table(DIGESTS)} (name TEXT PRIMARY KEY, digest TEXT NOT NULL)")


def load(cursor: Any, tables: Any) -> dict[str, int]:
    cursor.execute(f"SELECT name, digest FROM {tables.table(DIGESTS)}")
    return {str(name): int(digest, 16) for name, digest in cursor.fetchall()}


def save(cursor: Any, tables: Any, digests: Mapping[str, int], changed: Iterable[str]) -> None:
    table = tables.table(DIGESTS)
    for name in sorted(set(changed)):
        cursor.execute(f"DELETE FROM {table} WHERE name = ?", (name,))
        cursor.execute(f"INSERT INTO {table} (name, digest) VALUES (?, ?)", (name, f"{digests.get(name, 0):064x}"))


def clear(cursor: Any, tables: Any) -> None:
    cursor.execute(f"DELETE FROM {tables.table(DIGESTS)}")


def apply(batch: Any, by_name: Mapping[str, Table], digests: dict[str, int],
          rollups: Mapping[tuple[str, tuple], Mapping[str, int]] | None = None) -> set[str]:
    """Add to ``digests`` what a batch's pending rows — and the monthly and yearly rollup rows they
    add to — change (new row hash minus old); the views changed. The old rows a fold did not read
    are fetched first, a few queries per table."""
    _prefetch(batch, by_name)
    deltas: dict[str, int] = {}

    def change(name: str, old: Mapping[str, Any] | None, new: Mapping[str, Any] | None) -> None:
        table = by_name[name]
        deltas[name] = deltas.get(name, 0) + row_hash(table, new) - (row_hash(table, old) if old is not None else 0)

    stored, read = batch.stored, batch.read
    for where in batch.pending:
        change(where[0], stored[where], read(*where))
    if rollups:
        olds = _fetch(batch.reader, by_name, set(rollups))
        for (name, key), add in rollups.items():
            table, old = by_name[name], olds.get((name, key))
            new = dict(old) if old is not None else {
                **dict(zip(table.keys, key, strict=True)), **{c: 0 for c in table.counters},
                **{c: None for c in table.attributes}}
            for column, amount in add.items():
                new[column] += amount
            change(name, old, new)
    changed = set()
    for name, delta in deltas.items():
        if delta % MODULUS:
            digests[name] = (digests.get(name, 0) + delta) % MODULUS
            changed.add(name)
    return changed


def _prefetch(batch: Any, by_name: Mapping[str, Table]) -> None:
    reader = batch.reader
    missing: set[tuple[str, tuple]] = set()
    for name, key in batch.pending:
        if (name, key) not in batch.stored:
            missing.add((name, key))
    batch.stored.update(_fetch(reader, by_name, missing))


def _fetch(reader: Any, by_name: Mapping[str, Table], wanted: set[tuple[str, tuple]]) -> dict[tuple[str, tuple], Any]:
    """The stored rows of ``wanted`` (table, key) pairs (None for each that is absent)."""
    missing: dict[str, list[tuple]] = {}
    for name, key in wanted:
        missing.setdefault(name, []).append(key)
    result: dict[tuple[str, tuple], Any] = {}
    for name, keys in missing.items():
        table = by_name[name]
        found: dict[tuple, dict[str, Any]] = {}
        for start in range(0, len(keys), 200):
            chunk = keys[start:start + 200]
            where = " OR ".join("(" + " AND ".join(f"{k} = ?" for k in table.keys) + ")" for _ in chunk)
            reader.cursor.execute(f"SELECT {', '.join(table.columns)} FROM {reader.tables.table(name)} WHERE {where}",
                                  [v for key in chunk for v in key])
            for values in reader.cursor.fetchall():
                row = dict(zip(table.columns, values, strict=True))
                found[canonical_key(table, (row[k] for k in table.keys))] = row
        for key in keys:
            result[(name, key)] = found.get(canonical_key(table, key))
    return result


SCAN_ROWS = 5_000
"""Rows a check reads at a time: its memory stays that of one chunk however large the view grows."""


def recompute(cursor: Any, tables: Any, table: Table) -> int:
    """A view's digest from its rows as they are now: a scan of the table in key order, a chunk of
    :data:`SCAN_ROWS` rows after the last key read at a time."""
    columns, keys = ", ".join(table.columns), ", ".join(table.keys)
    after_last = f"WHERE ({keys}) > ({', '.join('?' for _ in table.keys)}) "
    total, last = 0, None
    while True:
        cursor.execute(f"SELECT {columns} FROM {tables.table(table.name)} {after_last if last else ''}"
                       f"ORDER BY {keys} LIMIT {SCAN_ROWS}", last or ())
        rows = cursor.fetchall()
        total += sum_of_stored(table, rows)
        if len(rows) < SCAN_ROWS:
            return total % MODULUS
        last = tuple(rows[-1][:len(table.keys)])
