"""The verifiable log (可验证日志): reading it by position, its origin, and signed checkpoints."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from eventsourcing.persistence import StoredEvent

from ledger.checkpoints import Checkpoint, CheckpointError, StoredCheckpoint, open_checkpoint, sign_checkpoint
from ledger.commands.base import Actor, LedgerBase
from ledger.errors import InvalidInput, NotAuthorised, NotFound
from ledger.integrity import Break, StructureReport, check_structure
from ledger.messages import Msg, msg
from ledger.principals import LOG
from ledger.sidetables import storable


class HistoryConflict(CheckpointError):
    """The log is shorter than, or differs from, a checkpoint already published: nothing is signed."""


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
        problem = self.history_problem(size)
        if problem is not None:  # never sign over a history smaller than, or other than, one published
            raise HistoryConflict(problem)
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
        opened = self._open_with_log_key(latest.note)
        if opened is not None:
            return opened, None
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

    def history_problem(self, size: int | None = None) -> Msg | None:
        """Why the log here is not the history already published, or None.

        The newest checkpoint published (signed here or cosigned by a witness, kept outside the
        database: ``ledger.published``) fixes the first ``size`` leaves: a log with fewer is an
        older copy (a backup restored over a newer ledger, or a failover to a standby that had not
        received every commit), and one whose first leaves hash to another root has a rewritten
        history. The database's own newest checkpoint counts too, when the record lags behind it."""
        origin = self._directory_origin()
        if origin is None:
            return None  # not founded: nothing was published
        published = self.published.get(origin)
        latest = self.checkpoints.latest()
        if not self.read_only and latest is not None and (published is None
                                                          or latest.checkpoint.size > published.checkpoint.size):
            # signed by another process (another key directory): kept here too, if the log key signed
            # it and it extends ours
            if self._signed_by_log_key(latest.note):
                self._publish(latest.checkpoint, latest.note, bool(latest.cosigners))
            published = self.published.get(origin)
        if size is None:
            size = self.merkle.size()  # the tree only grows: a published size is never beyond it but by a rollback
        if published is None:
            return None
        fixed = published.checkpoint
        witness = msg("witnessed") if published.witnessed else msg("signed")
        if size < fixed.size:
            return msg("the log holds {size} events but a checkpoint of {published} events was already published "
                       "({how}): this database is an older copy (a restored backup or a stale standby); restore the "
                       "newer data, see docs/operations.md, Backup and restore", size=size, published=fixed.size,
                       how=witness)
        if self.merkle.root(fixed.size) != fixed.root:
            return msg("the log's first {published} events are not those of the checkpoint already published "
                       "({how}): the history was rewritten; restore the published data, see docs/operations.md, "
                       "Backup and restore", published=fixed.size, how=witness)
        return None

    def _publish(self, checkpoint: Checkpoint, note: bytes, witnessed: bool) -> None:
        """Keep a checkpoint just stored or cosigned as the newest published, if it extends the kept one."""
        if checkpoint.origin != self._directory_origin():
            return
        if self.merkle.size() < checkpoint.size or self.merkle.root(checkpoint.size) != checkpoint.root:
            return  # not this tree's: never recorded as published
        kept = self.published.get(checkpoint.origin)
        if kept is not None and kept.checkpoint.size < checkpoint.size and (
                self.merkle.size() < kept.checkpoint.size or self.merkle.root(kept.checkpoint.size) != kept.checkpoint.root):
            return  # not an extension of what was published: history_problem() reports it
        self.published.record(checkpoint, note, witnessed=witnessed)

    def _signed_by_log_key(self, note: bytes) -> bool:
        return self._open_with_log_key(note) is not None

    def _open_with_log_key(self, note: bytes) -> Checkpoint | None:
        """The checkpoint a note holds, if a current key of the log signed it."""
        try:
            records = self.directory().active_keys(self.origin)
        except NotFound:
            return None  # no log key registered: nothing of this ledger's was signed
        for record in records:
            try:
                return open_checkpoint(note, record.key)[0]
            except CheckpointError:
                continue
        return None

    def _directory_origin(self) -> str | None:
        try:
            return self.origin
        except NotFound:
            return None

    def log_positions(self, start: int = 1, limit: int = 1000) -> Iterator[Any]:
        """Stored events in log order (position = notification id), in pages."""
        while True:
            page = self.recorder.select_notifications(start=start, limit=limit)
            yield from page
            if len(page) < limit:
                return
            start = page[-1].id + 1

