"""Bulk import: the ledger's own commands, every rule checked as usual, with their saves deferred
and written as one transaction per batch of a few thousand events (``Ledger.bulk``).

Inside a bulk a command loads the batch's working aggregates (the state its own unsaved events
give them), authorises against a directory held in memory and advanced by the batch's own
directory events, and hands its new events to the batch instead of saving them. A batch is
flushed when it holds ``batch_events`` events (always between two commands, so a command's
events share one transaction), before anything that reads the log (a correction by log position,
a checkpoint, ``positions``) and when the bulk ends. Each event is sealed and signed with the key
of the principal whose command made it, exactly as one at a time: the stored rows cannot be told
apart.

A failure writes nothing of the current batch: an exception that leaves the ``with`` block drops
it, and so does a failure to flush (another writer got to a stream first). A command refused
before it changed anything (the usual case: rules are checked first) leaves the batch as it was,
so a caller may catch the error and go on; a command that failed half-way through would leave
changed aggregates behind, so the bulk then refuses to go on (``BulkAborted``) and writes nothing
more. Batches flushed before a failure stay written: each is a transaction of whole commands.

The bulk path assumes it is the only writer of the streams it touches while it runs (an import,
the demo): a concurrent write to one of them makes the next flush fail and the bulk stop.
"""

from __future__ import annotations

import copy
from collections import OrderedDict
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from ledger import merkle
from ledger.intransaction import saving
from ledger.mapper import signing_as
from ledger.principals import Directory
from ledger.signing import SigningKey

if TYPE_CHECKING:
    from ledger.application import Ledger, Recorded

WORKING_SET = 50_000
"""Aggregates kept in memory between batches; the least recently used beyond this are dropped
(after a flush, so none of them holds unsaved events) and loaded again from the store if needed."""


class BulkAborted(RuntimeError):
    """An earlier failure inside ``Ledger.bulk()``: nothing of its batch was written."""


class BulkWriter:
    """The pending batch of one ``Ledger.bulk()`` block (see the module docstring)."""

    def __init__(self, ledger: Ledger, batch_events: int) -> None:
        if isinstance(batch_events, bool) or not isinstance(batch_events, int) or batch_events < 1:
            raise ValueError("batch_events must be a whole number from 1")
        self.ledger = ledger
        self.batch_events = batch_events
        self.directory: Directory = copy.deepcopy(ledger._directory)  # type: ignore[assignment]
        """The directory as the batch's own directory events leave it; authorises its commands."""
        self.written = 0
        """Events written by the flushed batches."""
        self.batches = 0
        self._working: OrderedDict[str, Any] = OrderedDict()
        self._events: list[Any] = []
        self._signers: dict[int, SigningKey] = {}
        self._touched: list[Any] = []
        self._vouched: dict[int, tuple[bytes, str]] = {}
        self._failed: BaseException | None = None

    @property
    def pending(self) -> int:
        """Events made by commands and not yet written."""
        return len(self._events)

    # --- what the ledger's commands call -------------------------------------------------------

    def load(self, stream: str) -> Any:
        """The batch's working aggregate for ``stream``, loaded from the store on first use.
        Raises eventsourcing's ``AggregateNotFoundError`` for an unknown stream."""
        self._check_usable()
        aggregate = self._working.get(stream)
        if aggregate is None:
            aggregate = self.ledger.load_aggregate(stream)
            self._working[stream] = aggregate
        else:
            if aggregate.pending_events:
                self._abort(BulkAborted(f"{stream} holds changes of a command that failed half-way"))
                raise self._failed  # type: ignore[misc]
            self._working.move_to_end(stream)
        self._touched.append(aggregate)
        return aggregate

    def exists(self, stream: str) -> bool:
        """Whether a stream is written or pending: a new aggregate must not reuse it."""
        self._check_usable()
        return stream in self._working or bool(self.ledger.recorder.select_events(stream, limit=1))

    def defer(self, ident: str, aggregates: Iterable[Any], signer: Callable[[Any], SigningKey]) -> Recorded:
        """Take a successful command's new events into the batch; flush if the batch is full.
        The answer names the (stream, version) of each event; its positions are known only after
        the flush (``positions``)."""
        from ledger.application import Recorded

        self._check_usable()
        streams: list[tuple[str, int]] = []
        for aggregate in aggregates:
            for event in aggregate.collect_events():
                self._events.append(event)
                self._signers[id(event)] = signer(event)
                streams.append((str(event.originator_id), event.originator_version))
            if isinstance(aggregate, Directory):
                self.directory = aggregate
            else:
                self._working[aggregate.id] = aggregate
                self._working.move_to_end(aggregate.id)
        left = [a for a in self._touched if a.pending_events]  # loaded by a command that then failed
        self._touched.clear()
        if left:
            self._abort(BulkAborted(f"{left[0].id} holds changes of a command that failed half-way"))
            raise self._failed  # type: ignore[misc]
        if len(self._events) >= self.batch_events:
            self.flush()
        return Recorded(ident=ident, positions=(), streams=tuple(streams))

    # --- writing -------------------------------------------------------------------------------

    def flush(self) -> None:
        """Write the pending events in one transaction, each signed by its command's actor."""
        self._check_usable()
        if any(a.pending_events for a in self._touched):
            self._abort(BulkAborted("a command failed half-way; its batch is dropped"))
            raise self._failed  # type: ignore[misc]
        if not self._events:
            return
        events, signers = self._events, self._signers
        try:
            with signing_as(lambda event: signers[id(event)]), saving("bulk"):
                recordings = self.ledger.save(*events)
        except BaseException as exc:
            self._abort(exc)
            raise
        self._events, self._signers = [], {}
        self.written += len(recordings)
        self.batches += 1
        for recording in recordings:
            key = signers[id(recording.domain_event)]
            self._vouched[recording.notification.id] = (merkle.leaf_hash(bytes(recording.notification.state)),
                                                        key.key_id)
        ledger = self.ledger
        ledger._catch_up_directory()  # the batch's own directory events, and any other process's
        with ledger._directory_lock:
            if ledger._directory is not None and ledger._directory.version != self.directory.version:
                self.directory = copy.deepcopy(ledger._directory)
        while len(self._working) > WORKING_SET:
            self._working.popitem(last=False)

    def positions(self, recorded: Recorded) -> tuple[int, ...]:
        """The log positions of a command's events, flushing the batch first if they are pending."""
        if recorded.positions:
            return recorded.positions
        if self._events:
            self.flush()
        found = [self.ledger.tables.position_of(stream, version) for stream, version in recorded.streams]
        if any(p is None for p in found):
            raise BulkAborted(f"events {recorded.streams} were not written")
        return tuple(found)  # type: ignore[arg-type]

    def vouches_for(self, notification: Any) -> bool:
        """Whether a stored event is byte for byte one this bulk sealed, with a key that was not
        revoked before its position: it then verifies without checking the signature again (the
        Merkle tree's growth asks this of every event it takes)."""
        vouched = self._vouched.pop(notification.id, None)
        if vouched is None:
            return False
        leaf, key_id = vouched
        if merkle.leaf_hash(bytes(notification.state)) != leaf:
            return False
        record = self.ledger._key_lookup(key_id)
        if record is None:
            return False
        if record.revoked_version is None:
            return True
        return notification.id < self.ledger._revocation_position(record)

    # --- failure -------------------------------------------------------------------------------

    def _check_usable(self) -> None:
        if self._failed is not None:
            raise BulkAborted(f"an earlier failure stopped this bulk import: {self._failed}") from self._failed

    def _abort(self, exc: BaseException) -> None:
        """Drop the batch: nothing pending is written, and the working aggregates, which may hold
        its changes, are forgotten."""
        if self._failed is None:
            self._failed = exc
        self._events, self._signers = [], {}
        self._working.clear()
        self._touched.clear()
        self._vouched.clear()
