"""The volunteers' half of a rebuild in a Python process of its own, on the machine's other core.

Volunteer events (service records, reversals, registrations: over half of a district's log) go to
views no other event touches and read only those views, so a whole-log fold can have them folded
by a second process while the rebuilding one hashes every event into the Merkle tree and folds the
rest (``Projections.rebuild``); it then takes this process's rows into its own before writing.
Only events under the trusted checkpoint are folded here (the rebuild folds those after it itself,
verifying each), and the rebuild checks that the events folded here are the ones it hashed: the
count and a SHA-256 over their Merkle leaves, in log order.

Run as ``python -m projections.fold_apart``: reads ``(settings, database URL, last position,
final)`` pickled on standard input, opens the store read-only, and writes ``("ok", (kind, rows,
count, binding))`` or ``("failed", why)`` pickled on standard output: with ``final`` (no event after
the last position), the rows rolled up and ready to write (``"final"``, :func:`prepared`), else the
rows as folded (``"raw"``, :func:`held`). Only the rebuilding process of the same user
starts it: what it unpickles comes from that process.
"""

from __future__ import annotations

import gc
import hashlib
import os
import pickle
import sys
from typing import Any

from ledger.events import EVENT_TYPES

APART = frozenset(t for t in EVENT_TYPES if t.startswith("Volunteer."))
"""The event types folded apart."""
_PAGE = 5000


class Binding:
    """What a rebuild and this process compare: the events folded apart, counted, and a SHA-256
    over their Merkle leaves in log order (it stands where the rebuild's tree would: ``append``)."""

    def __init__(self) -> None:
        self.count = 0
        self._hash = hashlib.sha256()

    def append(self, leaf: bytes) -> None:
        self.count += 1
        self._hash.update(leaf)

    def digest(self) -> bytes:
        return self._hash.digest()


def fold(cursor: Any, rows: Any, through: int) -> Binding:
    """Fold every event of the types in :data:`APART` up to log position ``through`` into ``rows``
    (a ``projections.bulk.Rows``); the binding of what was folded."""
    from projections.runner import _vouched, changes_for

    t = cursor._tables
    types = sorted(APART)
    binding, position = Binding(), 0
    read, apply = rows.read, rows.apply
    while True:
        cursor.execute(
            f"SELECT {t.position_column}, originator_id, originator_version, topic, state FROM {t.events_table} "
            f"WHERE {t.position_column} > ? AND {t.position_column} <= ? AND topic IN ({', '.join('?' * len(types))}) "
            f"ORDER BY {t.position_column} LIMIT {_PAGE}", (position, through, *types))
        page = cursor.fetchall()
        for row in page:
            apply(changes_for(_vouched(row, binding), read))
        if len(page) < _PAGE:
            return binding
        position = page[-1][0]


def held(rows: Any) -> dict[str, list[tuple[tuple, tuple]]]:
    """The rows folded, as plain tuples to pickle: per table, (key, the other columns' values)."""
    return {name: [(key, tuple(row.values())) for key, row in kept.items()] for name, kept in rows.rows.items() if kept}


def prepared(rows: Any) -> dict[str, tuple[list[tuple], int]]:
    """The rows folded, rolled up and made ready to write: per table, the rows as the store will
    hold them in key order (a B-tree filled in order) and the sum of their hashes."""
    from projections import digest

    rows.roll_up()
    ready = {}
    for name, kept in rows.rows.items():
        if kept:
            stored = rows.stored(name)
            stored.sort()
            ready[name] = (stored, digest.sum_of_stored(rows.tables[name], stored))
    return ready


def main() -> int:
    answer = sys.stdout.buffer
    sys.stdout = sys.stderr  # a print or a log line on the way must not corrupt the pickled answer
    settings, database_url, through, final = pickle.load(sys.stdin.buffer)
    gc.disable()  # the rows stay alive until the answer is written
    try:
        from ledger.application import Ledger
        from ledger.sidetables import SideTables
        from projections.bulk import Rows
        from projections.runner import TABLES

        ledger = Ledger(settings, database_url=database_url, read_only=True)
        try:
            rows = Rows(TABLES)
            with SideTables(ledger.recorder).transaction(commit=False) as cursor:
                binding = fold(cursor, rows, through)
            outcome = ("ok", (*(("final", prepared(rows)) if final else ("raw", held(rows))),
                              binding.count, binding.digest()))
        finally:
            ledger.close()
    except Exception as exc:  # noqa: BLE001 -- reported to the rebuild, which folds these events itself
        outcome = ("failed", f"{type(exc).__name__}: {exc}")
    answer.write(pickle.dumps(outcome, protocol=pickle.HIGHEST_PROTOCOL))
    answer.flush()
    os._exit(0)  # the rows need no freeing: the rebuild is waiting


if __name__ == "__main__":
    sys.exit(main())
