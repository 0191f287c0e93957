"""The verifiable log (可验证日志): reading it by position, its origin, and signed checkpoints."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from eventsourcing.persistence import StoredEvent

from ledger.checkpoints import Checkpoint, StoredCheckpoint, sign_checkpoint
from ledger.commands.base import Actor, LedgerBase
from ledger.errors import InvalidInput, NotAuthorised, NotFound
from ledger.messages import msg
from ledger.principals import LOG
from ledger.sidetables import storable


class LogCommands(LedgerBase):
    """The log in order, and checkpoints signed by the log key."""

    def read_position(self, position: int) -> tuple[StoredEvent, Any]:
        """The stored event at a log position, verified and decoded."""
        if isinstance(position, bool) or not isinstance(position, int) or position < 1:
            raise InvalidInput("position", msg("a log position is a whole number from 1"))
        if not storable(position):
            raise NotFound("event at log position", str(position), field="position")
        self._flush_bulk()
        found = self.recorder.select_notifications(start=position, limit=1)
        if not found or found[0].id != position:
            raise NotFound("event at log position", str(position), field="position")
        stored = found[0]
        return stored, self.mapper.to_domain_event(stored)

    @property
    def origin(self) -> str:
        """The log's origin line: the ledger name written into the genesis event."""
        self._catch_up_directory()
        with self._directory_lock:
            if self._directory is None:
                raise NotFound("ledger", "directory", field="ledger")
            return self._directory.ledger_name

    def sign_checkpoint(self, actor: Actor) -> StoredCheckpoint:
        """Bring the Merkle tree up to the log's head and sign a checkpoint of it with the log key,
        unless the latest checkpoint already covers the whole log."""
        self.authorise(actor, LOG)
        if actor.handle != self.origin:
            raise NotAuthorised(msg("checkpoints are signed by the key named {origin}", origin=repr(self.origin)),
                                field="actor")
        self._flush_bulk()
        size = self.merkle.sync()
        latest = self.checkpoints.latest()
        if latest is not None and latest.checkpoint.size >= size:
            return latest
        checkpoint = Checkpoint(self.origin, size, self.merkle.root(size))
        self.checkpoints.add(sign_checkpoint(checkpoint, actor.key), checkpoint)
        # Another process may have signed this size first; either way this one is now kept.
        return self.checkpoints.at(size) or self.checkpoints.latest()  # type: ignore[return-value]

    def log_positions(self, start: int = 1, limit: int = 1000) -> Iterator[Any]:
        """Stored events in log order (position = notification id), in pages."""
        while True:
            page = self.recorder.select_notifications(start=start, limit=limit)
            yield from page
            if len(page) < limit:
                return
            start = page[-1].id + 1

