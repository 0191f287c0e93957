"""The verifiable log (可验证日志): reading it by position, its origin, and signed checkpoints."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from eventsourcing.persistence import StoredEvent

from ledger.checkpoints import Checkpoint, CheckpointError, StoredCheckpoint, open_checkpoint, sign_checkpoint
from ledger.commands.base import Actor, LedgerBase
from ledger.errors import InvalidInput, NotAuthorised, NotFound
from ledger.integrity import Break, StructureReport, check_structure
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

    def newest_checkpoint(self) -> tuple[Checkpoint | None, str | None]:
        """The newest stored checkpoint, opened with a current key of the log; (None, why) when
        there is none, or the newest does not verify (its note was altered or forged)."""
        latest = self.checkpoints.latest()
        if latest is None:
            return None, None
        for record in self.directory().active_keys(self.origin):
            try:
                return open_checkpoint(latest.note, record.key)[0], None
            except CheckpointError:
                continue
        return None, f"the newest checkpoint (size {latest.checkpoint.size}) is not signed by the log's key"

    def check_structure(self) -> StructureReport:
        """The log's shape, checked without trusting a checkpoint (``ledger.integrity``): streams
        contiguous, the Merkle leaves equal to the events, the newest checkpoint's root recomputed."""
        self._flush_bulk()
        checkpoint, problem = self.newest_checkpoint()
        report = check_structure(self.recorder, self.merkle, checkpoint)
        if problem is None:
            return report
        broken = (*report.breaks, Break(None, "checkpoint", None, problem))
        return StructureReport(broken, report.events, report.leaves, report.checkpoint_size)

    def log_positions(self, start: int = 1, limit: int = 1000) -> Iterator[Any]:
        """Stored events in log order (position = notification id), in pages."""
        while True:
            page = self.recorder.select_notifications(start=start, limit=limit)
            yield from page
            if len(page) < limit:
                return
            start = page[-1].id + 1

