"""Idempotency-Key on every POST: the key, a fingerprint of the request and the answer are stored
in the same transaction as the events the request wrote (``ledger.intransaction``).

- the same key and the same request again: the first answer, and nothing is written;
- the same key with a different request: 422 (``idempotency-key-reused``);
- the same key while the first request is still running: 409 (``idempotency-in-flight``).

Keys belong to the principal who sent them, so two callers can never see each other's answers.
Only successful writes are remembered: a refused request wrote nothing, so its retry runs again.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime

from ledger.application import Ledger, Recorded
from ledger.intransaction import also_in_transaction
from ledger.sidetables import SideTables

KEYS = "wushe_idempotency_keys"


@dataclass(frozen=True)
class Remembered:
    """A stored answer: the business id and the (stream, version) of each event written."""

    fingerprint: str
    status: int
    ident: str
    streams: list[tuple[str, int]]

    @classmethod
    def from_row(cls, row: tuple) -> Remembered:
        """From the stored (fingerprint, status, ident, streams)."""
        return cls(row[0], int(row[1]), row[2], [(s, int(v)) for s, v in json.loads(row[3])])


class KeyRace(Exception):
    """Another transaction stored this key first; this one is rolled back, events and all."""


def create_table(t: SideTables) -> None:
    """The key table, if it is not there yet (the token lookup reads it too)."""
    with t.transaction(commit=True, lock=KEYS) as cursor:
        cursor.execute(
            f"CREATE TABLE IF NOT EXISTS {t.table(KEYS)} (principal TEXT NOT NULL, idem_key TEXT NOT NULL, "
            "fingerprint TEXT NOT NULL, status INTEGER NOT NULL, ident TEXT NOT NULL, streams TEXT NOT NULL, "
            "created_at TEXT NOT NULL, PRIMARY KEY (principal, idem_key))"
        )


def fingerprint(method: str, path: str, body: object) -> str:
    """What makes two requests "the same": method, path and the parsed body, canonically."""
    text = json.dumps([method, path, body], sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


class IdempotencyKeys:
    """The key table, and the keys of requests still running in this process."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger
        self.tables = SideTables(ledger.recorder)
        self._running: set[tuple[str, str]] = set()
        self._lock = threading.Lock()
        create_table(self.tables)

    def find(self, principal: str, key: str) -> Remembered | None:
        row = self.tables.fetchone(
            f"SELECT fingerprint, status, ident, streams FROM {self.tables.table(KEYS)} "
            "WHERE principal = ? AND idem_key = ?",
            (principal, key),
        )
        return None if row is None else Remembered.from_row(row)

    @contextmanager
    def running(self, principal: str, key: str) -> Iterator[bool]:
        """Yields False if a request with this key is already running in this process."""
        slot = (principal, key)
        with self._lock:
            busy = slot in self._running
            if not busy:
                self._running.add(slot)
        try:
            yield not busy
        finally:
            if not busy:
                with self._lock:
                    self._running.discard(slot)

    def run(self, principal: str, key: str, print_: str, status: int, command: Callable[[], Recorded]) -> Recorded:
        """Run ``command`` with the key stored in its events' transaction."""
        t = self.tables

        def remember(cursor, ident: str, streams: list[tuple[str, int]]) -> None:
            cursor.execute(
                f"INSERT INTO {t.table(KEYS)} (principal, idem_key, fingerprint, status, ident, streams, created_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING RETURNING idem_key",
                (principal, key, print_, status, ident, json.dumps(streams), datetime.now(UTC).isoformat()),
            )
            if cursor.fetchone() is None:
                raise KeyRace(key)

        with also_in_transaction(remember):
            return command()

    def positions(self, remembered: Remembered) -> tuple[int, ...]:
        """The log positions of a remembered answer's events (facts that never change)."""
        found = (self.tables.position_of(stream, version) for stream, version in remembered.streams)
        return tuple(p for p in found if p is not None)
