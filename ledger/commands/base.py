"""What every command context shares: the store and its signing mapper, the directory kept current,
authority, one transaction per command (with retries) or a bulk import's batch, and loading aggregates."""

from __future__ import annotations

import copy
import logging
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any, TypeVar

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.persistence import IntegrityError

from ledger.bulk import BulkWriter
from ledger.checkpoints import CheckpointStore
from ledger.disbursements import Disbursement, disbursement_id
from ledger.envelope import EnvelopeError, open_sealed
from ledger.errors import AlreadyExists, InvalidInput, KeyRevoked, NotAuthorised, NotFound, TamperedEvent, UnknownKey
from ledger.funds import Fund, fund_id
from ledger.intransaction import saving
from ledger.mapper import SigningMapper, signing_as
from ledger.merkle_log import LEAVES, MerkleLog
from ledger.messages import codes as _codes
from ledger.messages import msg, term
from ledger.principals import DIRECTORY_ID, RECORDER, ROLE_NAMES, ROOT, Directory, KeyRecord, Principal
from ledger.projects import Organisation, Project, organisation_id, project_id
from ledger.published import PublishedRecord
from ledger.reference import ReferenceData, load_reference
from ledger.settings import Settings
from ledger.sidetables import SideTables
from ledger.signing import SigningKey
from ledger.stores import persistence_env
from ledger.verify import advance_directory
from ledger.volunteers import Volunteer, volunteer_id

CHINA_STANDARD_TIME = timezone(timedelta(hours=8), "CST")
"""Business dates (receipt dates, service dates) are Shanghai dates; China keeps no daylight saving."""

_BULK: ContextVar[BulkWriter | None] = ContextVar("wushe_bulk", default=None)
"""The bulk import running in this thread or task, if any (``Ledger.bulk``)."""

_DIRECTORY_FRESH: ContextVar[bool] = ContextVar("wushe_directory_fresh", default=False)
"""True while a command attempt runs on a directory caught up at its start."""

T = TypeVar("T")

logger = logging.getLogger("wushe.ledger")

_REVOKING = ("KeyRevoked", "KeyRotated")
"""Directory events after which the key they retire signs nothing more: the tree grows over them at once."""


def system_clock() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Actor:
    """Who is acting: a principal's handle and the private key they sign with."""

    handle: str
    key: SigningKey

    def __post_init__(self) -> None:
        if self.key.name != self.handle:
            raise InvalidInput("actor", msg("key {key_id} does not belong to {handle}", key_id=self.key.key_id,
                                              handle=self.handle))


@dataclass(frozen=True)
class Recorded:
    """What a command wrote: the log positions of its events and the id it created or touched."""

    ident: str
    """The business id: entry, disbursement number, service record, fund code…"""
    positions: tuple[int, ...]
    """Notification ids (log positions) of the events written, in order. Empty for a command run
    inside ``Ledger.bulk()``: positions exist only once its batch is written (``BulkWriter.positions``)."""
    streams: tuple[tuple[str, int], ...] = field(default=())
    """(stream, version) of each event written."""


class LedgerBase(Application[str]):
    """The shared machinery of the ledger's command contexts (``ledger.commands``)."""

    command_retries = 5

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        database_url: str | None = None,
        reference: ReferenceData | None = None,
        clock: Callable[[], datetime] = system_clock,
        new_id: Callable[[], str] | None = None,
        read_only: bool = False,
    ) -> None:
        """``read_only`` opens the store only to read (a replica): nothing is created or written."""
        self.settings = settings or Settings()
        self.read_only = read_only
        self.written_through = 0
        """The log position of the last event this process saved through this ledger."""
        self.database_url = database_url or self.settings.resolved_database_url
        self.reference = reference or load_reference(self.settings.reference_file)
        self.clock = clock
        self.new_id = new_id or (lambda: uuid.uuid4().hex)
        self._directory: Directory | None = None
        self._directory_lock = threading.RLock()
        self._revocation_positions: dict[str, int] = {}
        self._first_after_revocation: dict[tuple[str, int], tuple[int | None, int | None]] = {}
        self._leaves_checked: dict[str, int] = {}
        """Per stream, the version up to which every event was found to be a leaf of the Merkle log."""
        self._batch_funds: dict[str, Fund] = {}
        self._batch_lock = threading.Lock()
        env = persistence_env(self.database_url, self.settings.aggregate_cache, read_only=read_only,
                              setting="WUSHE_READ_DATABASE_URL" if read_only else "WUSHE_DATABASE_URL",
                              statement_timeout=self.settings.statement_timeout,
                              replication_check=self.settings.replication_check)
        super().__init__(env=env)
        self.tables = SideTables(self.recorder)
        self.merkle = MerkleLog(self.recorder, check=self._check_for_tree, read_only=read_only)
        self.published = PublishedRecord(self.settings.resolved_key_dir)
        """The newest checkpoint this ledger published, kept outside the database (``ledger.published``)."""
        self.checkpoints = CheckpointStore(self.recorder, read_only=read_only,
                                           on_publish=None if read_only else self._publish)

    def construct_mapper(self) -> SigningMapper:
        return SigningMapper(key_lookup=self._key_lookup, signed_after_revocation=self._signed_after_revocation)

    def today(self) -> date:
        return self.clock().astimezone(CHINA_STANDARD_TIME).date()

    def close(self) -> None:
        self.factory.close()

    def save(self, *objs: Any, **kwargs: Any) -> Any:
        recordings = super().save(*objs, **kwargs)
        if recordings:
            # Readers of this process wait for the views to reach it (api.reads).
            self.written_through = max(self.written_through, max(r.notification.id for r in recordings))
        return recordings

    def _check_for_tree(self, notification: Any) -> None:
        """The Merkle tree grows only over events that verify: an event this thread's bulk import
        sealed itself, byte for byte, needs no second signature check."""
        bulk = self._bulk()
        if bulk is None or not bulk.vouches_for(notification):
            self.mapper.to_domain_event(notification)

    @contextmanager
    def bulk(self, batch_events: int = 2000) -> Iterator[BulkWriter]:
        """Run commands with every rule checked, but write their events in batches of about
        ``batch_events``, one transaction each (``ledger.bulk``). An exception leaving the block
        writes nothing of the pending batch; batches already flushed stay written."""
        if self._bulk() is not None:
            raise RuntimeError("a bulk import is already running here")
        self._catch_up_directory()
        if self._directory is None:
            raise NotFound("ledger", "directory", field="ledger")
        writer = BulkWriter(self, batch_events)
        token = _BULK.set(writer)
        try:
            yield writer
            writer.flush()
        except BaseException as exc:
            writer._abort(exc)
            raise
        finally:
            _BULK.reset(token)

    def _bulk(self) -> BulkWriter | None:
        bulk = _BULK.get()
        return bulk if bulk is not None and bulk.ledger is self else None

    def positions_of(self, recorded: Recorded) -> tuple[int, ...]:
        """The log positions of a command's events, also for a command run inside ``bulk()``
        (whose batch is then written first, if it is still pending)."""
        bulk = self._bulk()
        return bulk.positions(recorded) if bulk is not None else recorded.positions

    def directory(self) -> Directory:
        """The current directory, verified event by event from its genesis; a private copy."""
        bulk = self._bulk()
        if bulk is not None:
            return copy.deepcopy(bulk.directory)
        self._catch_up_directory()
        with self._directory_lock:
            if self._directory is None:
                raise NotFound("ledger", "directory", field="ledger")
            return copy.deepcopy(self._directory)

    @property
    def is_founded(self) -> bool:
        self._catch_up_directory()
        with self._directory_lock:
            return self._directory is not None

    def refresh_directory(self) -> None:
        """Read the directory events stored by any process since the last look. A reader about to
        verify events inside a write transaction calls this first, so that looking their keys up
        does not need a second connection while it holds the store's write lock."""
        self._catch_up_directory()

    def _catch_up_directory(self) -> None:
        """Apply the directory events stored since our copy's version, in order.

        The store is read WITHOUT holding ``_directory_lock``: a thread holding the store's write
        lock (the views' runner verifying a batch) may need that lock to look a key up, so
        waiting for the store while holding it could deadlock. Callers must not hold it either.
        Events another thread has applied meanwhile are skipped."""
        with self._directory_lock:
            after = self._directory.version if self._directory else 0
        stored_events = list(self.recorder.select_events(DIRECTORY_ID, gt=after or None))
        with self._directory_lock:
            for stored in stored_events:
                stream, version = str(stored.originator_id), stored.originator_version
                if self._directory is not None and version <= self._directory.version:
                    continue
                try:
                    sealed = open_sealed(stored.state, stream=stream, version=version, topic=stored.topic)
                except EnvelopeError as exc:
                    raise TamperedEvent(stream, version, str(exc)) from None
                self._directory = advance_directory(self._directory, sealed)

    def _key_lookup(self, key_id: str) -> KeyRecord | None:
        with self._directory_lock:
            record = self._directory.key(key_id) if self._directory else None
        if record is None:
            # A key added by another process since we last looked.
            self._catch_up_directory()
            with self._directory_lock:
                record = self._directory.key(key_id) if self._directory else None
        return record

    def _signed_after_revocation(self, stream: str, version: int, record: KeyRecord) -> bool:
        """Was (stream, version) stored after the log position that revoked ``record``'s key?

        Both facts are immutable once known, so they are cached; only a stream with no event
        after the revocation yet is asked again, and only for versions newer than it had."""
        revoked_at = self._revocation_position(record)
        first, last = self._first_after_revocation.get((stream, revoked_at), (None, None))
        if first is None and (last is None or version > last):
            first, last = self.tables.first_version_after(stream, revoked_at)
            self._first_after_revocation[(stream, revoked_at)] = (first, last)
        return first is not None and version >= first

    def _revocation_position(self, record: KeyRecord) -> int:
        """The log position of the directory event that revoked ``record``'s key (cached)."""
        key_id = record.key.key_id
        revoked_at = self._revocation_positions.get(key_id)
        if revoked_at is None:
            revoked_at = self.tables.position_of(DIRECTORY_ID, record.revoked_version) or 0
            self._revocation_positions[key_id] = revoked_at
        return revoked_at

    def _fresh_directory(self, stored_version: int | None = None) -> Directory | None:
        """The directory as stored now: read again, unless this command attempt has just done so
        or the caller read the stored directory's version (in its own query) and ours is that one."""
        with self._directory_lock:
            current = self._directory is not None and stored_version is not None and (
                self._directory.version >= stored_version)
        if not (current or _DIRECTORY_FRESH.get()):
            self._catch_up_directory()
        with self._directory_lock:
            return self._directory

    def authorise(
        self, actor: Actor, *roles: str, foundation: str | None = None, organisation: str | None = None,
        directory_version: int | None = None,
    ) -> Principal:
        """The acting principal, if their key is current and they hold one of ``roles`` in scope.

        ``organisation`` scopes recorders: a principal acting only through the recorder role
        records and corrects for their own organisation (谁组织谁记录、谁记录谁证明).
        ``directory_version``: the stored directory's version, if the caller has just read it;
        the directory is then read again only when it has changed (inside a bulk import the
        bulk's own directory is the current one)."""
        bulk = self._bulk()
        directory = bulk.directory if bulk is not None else self._fresh_directory(directory_version)
        if directory is None:
            raise NotFound("ledger", "directory", field="ledger")
        record = directory.key(actor.key.key_id)
        if record is None or record.principal != actor.handle:
            raise UnknownKey(msg("key {key_id} is not registered to {handle}", key_id=actor.key.key_id,
                                 handle=actor.handle), field="actor")
        if record.revoked_at is not None:
            raise KeyRevoked(msg("key {key_id} was revoked ({reason})", key_id=actor.key.key_id,
                                 reason=term("rotated") if record.revoked_reason == "rotated" else record.revoked_reason),
                             field="actor")
        principal = directory.principal(actor.handle)
        granted = [r for r in roles if principal.has(r)]
        if not granted:
            raise NotAuthorised(msg("{handle} needs the role {roles}", handle=actor.handle,
                                    roles=[ROLE_NAMES.get(r, r) for r in roles]), field="actor")
        if foundation is not None and principal.foundation not in (None, foundation) and not principal.has(ROOT):
            raise NotAuthorised(msg("{handle} works for {own}, not {foundation}", handle=actor.handle,
                                    own=principal.foundation, foundation=foundation), field="actor")
        if organisation is not None and granted == [RECORDER] and principal.organisation != organisation:
            raise NotAuthorised(msg("{handle} records for {own}, not {organisation}: the organising body records "
                                    "and corrects its own hours", handle=actor.handle, own=principal.organisation,
                                    organisation=organisation), field="organisation")
        return principal

    def authorise_for_project(self, actor: Actor, project: Project, *roles: str, payment: bool = False) -> None:
        """Scope against the project itself (OWASP API1): an accountant of its foundation, or — where
        ``roles`` allow a recorder — the recorder of its undertaking organisation. A project from
        before foundations were recorded keeps its old meaning for payments (the paying fund's
        scope decides, checked by the caller); anything else is written to it only by accountants
        for every foundation (or that recorder)."""
        principal = self.authorise(actor, *roles, foundation=project.foundation, organisation=project.organisation)
        own_recorder = RECORDER in roles and principal.has(RECORDER) and principal.organisation == project.organisation
        if project.foundation is None and principal.foundation is not None and not own_recorder and not payment:
            raise NotAuthorised(
                f"project {project.code} names no responsible foundation: only its undertaking organisation's "
                f"recorder or an accountant for every foundation may write to it, not {actor.handle}",
                f"项目 {project.code} 未登记负责基金会：只有承接组织的记录人或不限基金会的会计可以操作，"
                f"{actor.handle} 无权操作", field="actor")

    def _command(self, body: Callable[[], T]) -> T:
        """Run load-check-save, retrying when another writer got to a stream first. Each attempt
        reads the directory once, at its start: revocations stored by any process before then count.
        Inside a bulk import nothing is saved until the batch is flushed, so there is nothing to retry."""
        if self._bulk() is not None:
            return body()
        for attempt in range(self.command_retries):
            self._catch_up_directory()
            fresh = _DIRECTORY_FRESH.set(True)
            try:
                return body()
            except IntegrityError:
                if attempt == self.command_retries - 1:
                    raise
            finally:
                _DIRECTORY_FRESH.reset(fresh)
        raise AssertionError("unreachable")

    def _save(self, actor: Actor, ident: str, *aggregates: Any) -> Recorded:
        bulk = self._bulk()
        if bulk is not None:
            return bulk.defer(ident, aggregates, lambda event: actor.key)
        with signing_as(actor.key), saving(ident):
            recordings = self.save(*aggregates)
        if any(isinstance(a, Directory) for a in aggregates):
            self._catch_up_directory()
            if any(type(r.domain_event).__name__ in _REVOKING for r in recordings):
                self._grow_tree()
        return Recorded(
            ident=ident,
            positions=tuple(r.notification.id for r in recordings),
            streams=tuple((str(r.notification.originator_id), r.notification.originator_version) for r in recordings),
        )

    def _create(self, actor: Actor, ident: str, aggregate: Any, kind: str, field_name: str) -> Recorded:
        bulk = self._bulk()
        if bulk is not None and bulk.exists(aggregate.id):
            raise AlreadyExists(kind, ident, field=field_name)
        try:
            return self._save(actor, ident, aggregate)
        except IntegrityError:
            raise AlreadyExists(kind, ident, field=field_name) from None

    def _get(self, stream: str, kind: str, ident: str, field_name: str) -> Any:
        bulk = self._bulk()
        if bulk is None:
            # Revocations written by any process since the last look count for this load.
            self._fresh_directory()
        try:
            return bulk.load(stream) if bulk is not None else self.load_aggregate(stream)
        except AggregateNotFoundError:
            raise NotFound(kind, ident, field=field_name) from None

    def load_aggregate(self, stream: str) -> Any:
        """An aggregate from the store, once every event of its stream that the Merkle tree has grown
        past is one of its leaves (``_check_leaves``)."""
        self._check_leaves(stream)
        return self.repository.get(stream)

    def _check_leaves(self, stream: str) -> None:
        """Refuse a stream holding an event that is not a leaf of the Merkle log although the tree
        has grown past its position. The tree grows only at the log's head, in order, over events
        that verify, so such an event was written behind the ledger's back — typically into a free
        id below a key's revocation (PostgreSQL never reuses the ids of rolled-back inserts), where
        a stolen key's signature would otherwise pass as made before the revocation. Events past the
        tree's head are judged by their signatures and their place after any revocation. One query
        per load; versions already checked are not asked again."""
        checked = self._leaves_checked.get(stream, 0)
        t, pos, leaves = self.tables, self.tables.position_column, self.tables.table(LEAVES)
        row = t.fetchone(
            f"SELECT MIN(CASE WHEN l.position IS NULL THEN e.originator_version END), MAX(e.originator_version) "
            f"FROM {t.events_table} e LEFT JOIN {leaves} l ON l.position = e.{pos} "
            f"WHERE e.originator_id = ? AND e.originator_version > ? AND e.{pos} <= (SELECT MAX(position) FROM {leaves})",
            (stream, checked),
        )
        if row is None or row[1] is None:
            return
        if row[0] is not None:
            raise TamperedEvent(stream, int(row[0]), "is not a leaf of the Merkle log although the tree has grown "
                                "past its position: it was written behind the ledger's back")
        self._leaves_checked[stream] = max(checked, int(row[1]))

    def _grow_tree(self) -> None:
        """Grow the Merkle tree to the log's head now (after a revocation: an event slipped in below
        it later is then off the tree, and refused). A tampered event stops the growth; it is
        reported where the tree is read (the views' runner, ``wushe log --verify``)."""
        if self.read_only or self._bulk() is not None:
            return
        try:
            self.merkle.sync()
        except TamperedEvent as exc:
            logger.warning("the Merkle tree stops short of a tampered event: %s", exc)

    def fund(self, code: str, field_name: str = "fund") -> Fund:
        return self._get(fund_id(code), "fund", code, field_name)

    def project(self, code: str, field_name: str = "project") -> Project:
        return self._get(project_id(code), "project", code, field_name)

    def organisation(self, code: str, field_name: str = "organisation") -> Organisation:
        return self._get(organisation_id(code), "organisation", code, field_name)

    def disbursement(self, number: str, field_name: str = "disbursement") -> Disbursement:
        return self._get(disbursement_id(number), "disbursement", number, field_name)

    def volunteer(self, number: str, field_name: str = "volunteer") -> Volunteer:
        return self._get(volunteer_id(number), "volunteer", number, field_name)

    def _flush_bulk(self) -> None:
        """Before reading the log: write a bulk import's pending batch, so what it reads is there."""
        bulk = self._bulk()
        if bulk is not None:
            bulk.flush()

    def _require_kind(self, code: str, kinds: tuple[str, ...], field_name: str) -> Organisation:
        organisation = self.organisation(code, field_name)
        if organisation.kind not in kinds:
            raise InvalidInput(field_name, msg("{code} is of the kind {kind}, expected {expected}", code=code,
                                               kind=_codes([organisation.kind]), expected=_codes(kinds)))
        return organisation

    def _business_date(self, value: date | None, field_name: str) -> date:
        today = self.today()
        if value is None:
            return today
        if isinstance(value, datetime) or not isinstance(value, date):
            raise InvalidInput(field_name, msg("must be a date written YYYY-MM-DD, such as 2026-03-01"))
        if value > today:
            raise InvalidInput(field_name, msg("{day} is in the future", day=value.isoformat()))
        return value

