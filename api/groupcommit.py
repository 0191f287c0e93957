"""Group commit for donations: requests that arrive together are saved in one transaction (one
commit and fsync for all), each event still signed by its own principal's key and each
Idempotency-Key row written in that same transaction. A refused donation is answered alone. If the
batch's save fails because another process wrote to one of its funds first, the batch is tried
again on the funds as now stored; if that keeps failing, or another process took one of its keys,
each request of the batch is run again on its own, as it would have been without batching."""

from __future__ import annotations

import json
import queue
import threading
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import UTC, datetime

from eventsourcing.persistence import IntegrityError

from api.idempotency import KEYS, IdempotencyKeys, KeyRace
from ledger.application import Donation, Ledger, Recorded
from ledger.errors import LedgerError

MAX_BATCH = 256
BATCH_ATTEMPTS = 3
"""Saves of one batch tried before each of its requests runs alone (another server process writing
to the same funds makes a batch's save fail on a stream version; the next attempt reads them anew)."""


@dataclass
class Pending:
    donation: Donation
    principal: str
    key: str
    fingerprint: str
    answer: Future


class DonationBatcher:
    """One committer thread per app; request threads hand it donations and wait for the answer."""

    def __init__(self, ledger: Ledger, keys: IdempotencyKeys) -> None:
        self.ledger = ledger
        self.keys = keys
        self._queue: queue.Queue[Pending] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def record(self, donation: Donation, principal: str, key: str, fingerprint: str) -> Recorded:
        """Record one donation under its Idempotency-Key; raises its LedgerError or KeyRace."""
        return self.submit(donation, principal, key, fingerprint).result()

    def submit(self, donation: Donation, principal: str, key: str, fingerprint: str) -> Future:
        """Hand one donation to the committer; the future's answer is what ``record`` returns or raises."""
        answer: Future = Future()
        answer.set_running_or_notify_cancel()  # running from now on: it can no longer be cancelled
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="wushe-group-commit", daemon=True)
                self._thread.start()
        self._queue.put(Pending(donation, principal, key, fingerprint, answer))
        return answer

    def _run(self) -> None:
        while True:
            batch = [self._queue.get()]
            while len(batch) < MAX_BATCH:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            try:
                self._commit(batch)
            except BaseException as exc:  # noqa: BLE001 - never leave a request waiting
                for p in batch:
                    if not p.answer.done():
                        p.answer.set_exception(exc)

    def _commit(self, batch: list[Pending]) -> None:
        t = self.keys.tables
        now = datetime.now(UTC).isoformat()

        def remember(cursor, planned: list[Recorded | LedgerError]) -> None:
            rows = [(p.principal, p.key, p.fingerprint, 201, plan.ident, json.dumps(plan.streams), now)
                    for p, plan in zip(batch, planned, strict=True) if not isinstance(plan, LedgerError)]
            if not rows:
                return
            # One statement for the whole batch; a key another transaction stored first is left
            # out of RETURNING, and then the batch is rolled back.
            cursor.execute(
                f"INSERT INTO {t.table(KEYS)} (principal, idem_key, fingerprint, status, ident, streams, created_at) "
                f"VALUES {', '.join(['(?, ?, ?, ?, ?, ?, ?)'] * len(rows))} ON CONFLICT DO NOTHING RETURNING principal, idem_key",
                [value for row in rows for value in row],
            )
            stored = set(cursor.fetchall())
            for row in rows:
                if row[:2] not in stored:
                    raise KeyRace(row[1])

        keys = [(p.principal, p.key) for p in batch]
        for _ in range(BATCH_ATTEMPTS if len(set(keys)) == len(keys) else 0):
            try:
                answers = self.ledger.record_donations([p.donation for p in batch], alongside=remember)
            except IntegrityError:
                continue  # another process wrote to one of the funds first: load them again and retry
            except KeyRace:
                break  # fall through: each on its own
            for p, answer in zip(batch, answers, strict=True):
                if isinstance(answer, LedgerError):
                    p.answer.set_exception(answer)
                else:
                    p.answer.set_result(answer)
            return
        for p in batch:
            try:
                p.answer.set_result(self._alone(p))
            except Exception as exc:  # noqa: BLE001 - handed to the waiting request
                p.answer.set_exception(exc)

    def _alone(self, p: Pending) -> Recorded:
        d = p.donation
        return self.keys.run(p.principal, p.key, p.fingerprint, 201, lambda: self.ledger.record_donation(
            d.actor, d.fund, d.amount, donor_type=d.donor_type, method=d.method, donor_name=d.donor_name,
            donor_public=d.donor_public, in_kind_description=d.in_kind_description, received_on=d.received_on,
            street_town=d.street_town, note=d.note))
