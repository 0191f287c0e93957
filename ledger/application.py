"""The ledger application: every command checks who is acting and the rules, then saves all the
aggregates it touched in one transaction, every event signed by the acting principal's key."""

from __future__ import annotations

import copy
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, timezone
from typing import Any, TypeVar

from eventsourcing.application import AggregateNotFoundError, Application, project_aggregate
from eventsourcing.persistence import IntegrityError, StoredEvent

from ledger import events
from ledger.bulk import BulkWriter
from ledger.checkpoints import Checkpoint, CheckpointStore, StoredCheckpoint, sign_checkpoint
from ledger.disbursements import DISBURSEMENT_KINDS, Disbursement, disbursement_id
from ledger.envelope import EnvelopeError, open_sealed
from ledger.errors import (
    AlreadyExists,
    InvalidInput,
    KeyRevoked,
    LedgerError,
    NotAuthorised,
    NotFound,
    NotReversible,
    TamperedEvent,
    UnknownKey,
)
from ledger.funds import FUND_KINDS, Fund, fund_id
from ledger.intransaction import also_in_transaction, saving
from ledger.mapper import SigningMapper, signing_as
from ledger.merkle_log import MerkleLog
from ledger.principals import (
    ACCOUNTANT,
    APPROVER,
    DIRECTORY_ID,
    LOG,
    RECORDER,
    ROOT,
    Directory,
    KeyRecord,
    Principal,
)
from ledger.projects import FUNDING_SOURCES, ORGANISATION_KINDS, Organisation, Project, organisation_id, project_id
from ledger.reference import ReferenceData, load_reference
from ledger.settings import Settings
from ledger.sidetables import SideTables, storable
from ledger.signing import SigningKey, VerifierKey
from ledger.stores import persistence_env
from ledger.verify import advance_directory
from ledger.volunteers import Volunteer, volunteer_id

CHINA_STANDARD_TIME = timezone(timedelta(hours=8), "CST")
"""Business dates (receipt dates, service dates) are Shanghai dates; China keeps no daylight saving."""

_BULK: ContextVar[BulkWriter | None] = ContextVar("wushe_bulk", default=None)
"""The bulk import running in this thread or task, if any (``Ledger.bulk``)."""

_CODE_CHARS = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")

T = TypeVar("T")


_DIRECTORY_FRESH: ContextVar[bool] = ContextVar("wushe_directory_fresh", default=False)
"""True while a command attempt runs on a directory caught up at its start."""

MAX_BATCH_FUNDS = 1000
"""Funds whose state the group committer keeps between batches (``record_donations``)."""


def system_clock() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Actor:
    """Who is acting: a principal's handle and the private key they sign with."""

    handle: str
    key: SigningKey

    def __post_init__(self) -> None:
        if self.key.name != self.handle:
            raise InvalidInput("actor", f"key {self.key.key_id} does not belong to {self.handle}")


@dataclass(frozen=True)
class Donation:
    """One donation of a group commit (``Ledger.record_donations``); fields as ``record_donation``."""

    actor: Actor
    fund: str
    amount: int
    donor_type: str
    method: str = "transfer"
    donor_name: str | None = None
    donor_public: bool = False
    in_kind_description: str | None = None
    received_on: date | None = None
    street_town: str | None = None
    note: str | None = None


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


class Ledger(Application[str]):
    """Wushe Ledger (五社账本): funds, donations, disbursements, projects and volunteer hours."""

    name = "WusheLedger"
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
        self._batch_funds: dict[str, Fund] = {}
        self._batch_lock = threading.Lock()
        env = persistence_env(self.database_url, self.settings.aggregate_cache, read_only=read_only,
                              setting="WUSHE_READ_DATABASE_URL" if read_only else "WUSHE_DATABASE_URL")
        super().__init__(env=env)
        self.tables = SideTables(self.recorder)
        self.merkle = MerkleLog(self.recorder, check=self._check_for_tree, read_only=read_only)
        self.checkpoints = CheckpointStore(self.recorder, read_only=read_only)

    # --- infrastructure --------------------------------------------------------------------------

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

    # --- bulk import -----------------------------------------------------------------------------

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

    # --- the directory, kept current and verified in order ---------------------------------------

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

    # --- authority -------------------------------------------------------------------------------

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
            raise UnknownKey(
                f"key {actor.key.key_id} is not registered to {actor.handle}",
                f"密钥 {actor.key.key_id} 未登记在 {actor.handle} 名下",
                field="actor",
            )
        if record.revoked_at is not None:
            raise KeyRevoked(
                f"key {actor.key.key_id} was revoked ({record.revoked_reason})",
                f"密钥 {actor.key.key_id} 已吊销（{record.revoked_reason}）",
                field="actor",
            )
        principal = directory.principal(actor.handle)
        granted = [r for r in roles if principal.has(r)]
        if not granted:
            raise NotAuthorised(
                f"{actor.handle} needs the role {' or '.join(roles)}",
                f"{actor.handle} 需要 {' 或 '.join(roles)} 角色",
                field="actor",
            )
        if foundation is not None and principal.foundation not in (None, foundation) and not principal.has(ROOT):
            raise NotAuthorised(
                f"{actor.handle} works for {principal.foundation}, not {foundation}",
                f"{actor.handle} 隶属 {principal.foundation}，无权操作 {foundation} 的账目",
                field="actor",
            )
        if organisation is not None and granted == [RECORDER] and principal.organisation != organisation:
            raise NotAuthorised(
                f"{actor.handle} records for {principal.organisation}, not {organisation}: the organising "
                "body records and corrects its own hours (谁组织谁记录、谁记录谁证明)",
                f"{actor.handle} 只能为 {principal.organisation} 记录，不能为 {organisation} 记录或更正"
                "（谁组织谁记录、谁记录谁证明）",
                field="organisation",
            )
        return principal

    # --- saving ----------------------------------------------------------------------------------

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

    # --- loading ---------------------------------------------------------------------------------

    def _get(self, stream: str, kind: str, ident: str, field_name: str) -> Any:
        bulk = self._bulk()
        if bulk is None:
            # Revocations written by any process since the last look count for this load.
            self._fresh_directory()
        try:
            return bulk.load(stream) if bulk is not None else self.repository.get(stream)
        except AggregateNotFoundError:
            raise NotFound(kind, ident, field=field_name) from None

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

    # --- founding and the directory --------------------------------------------------------------

    def found(self, root_handle: str, root_name: str, root_key: SigningKey) -> Recorded:
        """Write the genesis event: the directory with its root principal, signed by the root key."""
        if self.is_founded:
            raise AlreadyExists("ledger", self.settings.ledger_name, field="ledger")
        directory = Directory.found(self.settings.ledger_name, root_handle, root_name, root_key.verifier)
        return self._create(Actor(root_handle, root_key), root_handle, directory, "ledger", "ledger")

    def register_principal(
        self, actor: Actor, handle: str, name: str, roles: list[str], *,
        foundation: str | None = None, organisation: str | None = None, key: VerifierKey | None = None,
    ) -> Recorded:
        def body() -> Recorded:
            self.authorise(actor, ROOT)
            if foundation is not None:
                self._require_kind(foundation, ("foundation", "community_foundation"), "foundation")
            if organisation is not None:
                self.organisation(organisation, "organisation")
            directory = self.directory()
            directory.register(handle, name, roles, foundation, organisation)
            if key is not None:
                directory.add_key(handle, key)
            return self._save(actor, handle, directory)

        return self._command(body)

    def add_key(self, actor: Actor, handle: str, key: VerifierKey) -> Recorded:
        def body() -> Recorded:
            self.authorise(actor, ROOT)
            directory = self.directory()
            directory.add_key(handle, key)
            return self._save(actor, key.key_id, directory)

        return self._command(body)

    def rotate_key(self, actor: Actor, handle: str, new_key: VerifierKey) -> Recorded:
        def body() -> Recorded:
            self.authorise(actor, ROOT)
            directory = self.directory()
            directory.rotate_key(handle, new_key)
            return self._save(actor, new_key.key_id, directory)

        return self._command(body)

    def revoke_key(self, actor: Actor, key_id: str, reason: str) -> Recorded:
        def body() -> Recorded:
            self.authorise(actor, ROOT)
            directory = self.directory()
            directory.revoke_key(key_id, reason)
            return self._save(actor, key_id, directory)

        return self._command(body)

    # --- organisations and funds -----------------------------------------------------------------

    def register_organisation(
        self, actor: Actor, code: str, name: str, kind: str, street_town: str, *,
        community: str | None = None, credit_code: str | None = None, registered_on: date | None = None,
    ) -> Recorded:
        self.authorise(actor, ACCOUNTANT, ROOT)
        _check_code(code, "code")
        _require_text(name, "name")
        if kind not in ORGANISATION_KINDS:
            raise InvalidInput("kind", f"choose from {', '.join(ORGANISATION_KINDS)}")
        self.reference.street_town(street_town)
        on = self._business_date(registered_on, "registered_on")
        organisation = Organisation(
            code=code, name=name.strip(), kind=kind, street_town=street_town, community=_clean(community),
            credit_code=_clean(credit_code), registered_on=on.isoformat(),
        )
        return self._create(actor, code, organisation, "organisation", "code")

    def open_fund(
        self, actor: Actor, code: str, name: str, foundation: str, *, kind: str = "general",
        restricted: bool = False, purpose: str = "", street_town: str | None = None,
        domains: list[str] | None = None, street_towns: list[str] | None = None,
        valid_from: date | None = None, valid_until: date | None = None, agreement_ref: str | None = None,
    ) -> Recorded:
        self.authorise(actor, ACCOUNTANT, foundation=foundation)
        _check_code(code, "code")
        _require_text(name, "name")
        self._require_kind(foundation, ("foundation", "community_foundation"), "foundation")
        if kind not in FUND_KINDS:
            raise InvalidInput("kind", f"choose from {', '.join(FUND_KINDS)}")
        if kind == "special":
            if not restricted:
                raise InvalidInput("restricted", "a special fund (专项基金) is always restricted to its purpose")
            if not purpose.strip():
                raise InvalidInput("purpose", "a special fund needs a written purpose", "专项基金须有书面用途")
        if restricted and not purpose.strip():
            raise InvalidInput("purpose", "a restricted fund needs a written purpose", "限定性基金须写明用途")
        if street_town is not None:
            self.reference.street_town(street_town)
        for code_ in street_towns or []:
            self.reference.street_town(code_, field="street_towns")
        for code_ in domains or []:
            self.reference.domain(code_, field="domains")
        if valid_from and valid_until and valid_until < valid_from:
            raise InvalidInput("valid_until", "ends before it starts", "截止日期早于起始日期")
        fund = Fund(
            code=code, name=name.strip(), foundation=foundation, kind=kind, restricted=restricted,
            purpose=purpose.strip(), street_town=street_town, domains=sorted(set(domains or [])),
            street_towns=sorted(set(street_towns or [])),
            valid_from=valid_from.isoformat() if valid_from else None,
            valid_until=valid_until.isoformat() if valid_until else None,
            agreement_ref=_clean(agreement_ref),
        )
        return self._create(actor, code, fund, "fund", "code")

    def close_fund(self, actor: Actor, code: str, reason: str) -> Recorded:
        def body() -> Recorded:
            fund = self.fund(code)
            self.authorise(actor, ACCOUNTANT, foundation=fund.foundation)
            _require_text(reason, "reason")
            fund.close(reason.strip())
            return self._save(actor, code, fund)

        return self._command(body)

    # --- money in --------------------------------------------------------------------------------

    def record_donation(
        self, actor: Actor, fund: str, amount: int, *, donor_type: str, method: str = "transfer",
        donor_name: str | None = None, donor_public: bool = False, in_kind_description: str | None = None,
        received_on: date | None = None, street_town: str | None = None, note: str | None = None,
    ) -> Recorded:
        """A donation (捐赠) into a fund; it carries the fund's restriction. Returns the entry id."""
        _check_amount(amount)
        entry = self.new_id()

        donation = Donation(actor, fund, amount, donor_type, method, donor_name, donor_public, in_kind_description,
                            received_on, street_town, note)

        def body() -> Recorded:
            target = self.fund(fund)
            self.authorise(actor, ACCOUNTANT, foundation=target.foundation)
            self._receive(target, entry, donation)
            return self._save(actor, entry, target)

        return self._command(body)

    def _receive(self, target: Fund, entry: str, d: Donation) -> None:
        target.receive_donation(
            entry=entry, amount=d.amount, method=d.method, donor_type=d.donor_type, donor_name=_clean(d.donor_name),
            donor_public=d.donor_public, in_kind_description=_clean(d.in_kind_description),
            received_on=self._business_date(d.received_on, "received_on"),
            street_town=self._street_town_for(target, d.street_town), note=_clean(d.note),
        )

    def record_donations(
        self, donations: list[Donation], alongside: Callable[[Any, list[Recorded | LedgerError]], None] | None = None
    ) -> list[Recorded | LedgerError]:
        """Group commit: many donations saved in one transaction, each event signed by the key of
        the principal who recorded it. A refused donation is answered with its error and the
        others go ahead; the answers are in the order given. Any failure of the save itself
        (another writer got to a fund first) raises, and nothing of the batch is written.

        ``alongside(cursor, answers)`` runs inside that transaction with each answer's id and
        stream (positions are not known yet), to write rows that must commit with the events.

        One committer calls this at a time. It keeps the funds it saved for the next batch and
        brings them up to date with one read for the whole batch (the events any process stored
        since, each verified as on every load); a fund written by another process between that
        read and the save makes the save fail on the stream's version, as any load-check-save would."""
        codes = {d.fund for d in donations}
        with self._batch_lock:
            self._fresh_directory()
            fresh = _DIRECTORY_FRESH.set(True)
            try:
                funds = self._batch_load(codes)
                answers = self._record_batch(donations, funds, alongside)
            except BaseException:
                for code in codes:  # perhaps changed in memory but not saved: load them again next time
                    self._batch_funds.pop(code, None)
                raise
            finally:
                _DIRECTORY_FRESH.reset(fresh)
            if len(self._batch_funds) + len(funds) > MAX_BATCH_FUNDS:
                self._batch_funds.clear()
            self._batch_funds.update((code, fund) for code, fund in funds.items() if isinstance(fund, Fund))
            return answers

    def _batch_load(self, codes: set[str]) -> dict[str, Fund | LedgerError]:
        """Each fund as stored now: those kept from earlier batches fast-forwarded in one read,
        the others loaded; a fund that cannot be loaded is its error."""
        kept = {code: self._batch_funds[code] for code in codes if code in self._batch_funds}
        funds: dict[str, Fund | LedgerError] = {}
        newer: dict[str, list[Any]] = {}
        for stored in self.tables.events_after({fund_id(code): fund.version for code, fund in kept.items()}):
            newer.setdefault(str(stored.originator_id), []).append(self.mapper.to_domain_event(stored))
        for code, fund in kept.items():
            funds[code] = project_aggregate(fund, newer.get(fund_id(code), []))
        for code in codes - kept.keys():
            try:
                funds[code] = self.fund(code)
            except LedgerError as exc:
                funds[code] = exc
        return funds

    def _record_batch(
        self, donations: list[Donation], funds: dict[str, Fund | LedgerError],
        alongside: Callable[[Any, list[Recorded | LedgerError]], None] | None,
    ) -> list[Recorded | LedgerError]:
        answers: list[Recorded | LedgerError | None] = [None] * len(donations)
        signer: dict[int, SigningKey] = {}
        made: list[tuple[int, str, Any]] = []
        authorised: set[tuple[str, str]] = set()
        touched: dict[str, Fund] = {}
        for i, d in enumerate(donations):
            target = funds[d.fund]
            try:
                _check_amount(d.amount)
                if isinstance(target, LedgerError):
                    raise target
                if (d.actor.key.key_id, target.foundation) not in authorised:
                    self.authorise(d.actor, ACCOUNTANT, foundation=target.foundation)
                    authorised.add((d.actor.key.key_id, target.foundation))
                entry = self.new_id()
                self._receive(target, entry, d)
            except LedgerError as exc:
                answers[i] = exc
                continue
            touched[d.fund] = target
            event = target.pending_events[-1]
            signer[id(event)] = d.actor.key
            made.append((i, entry, event))
        bulk = self._bulk()
        if made and bulk is not None:
            if alongside is not None:
                raise RuntimeError("record_donations(alongside=...) writes rows with its events: not inside bulk()")
            bulk.defer("group", funds.values(), lambda event: signer[id(event)])
            for i, entry, event in made:
                answers[i] = Recorded(ident=entry, positions=(),
                                      streams=((str(event.originator_id), event.originator_version),))
        elif made:
            planned = list(answers)
            for i, entry, event in made:
                planned[i] = Recorded(ident=entry, positions=(),
                                      streams=((str(event.originator_id), event.originator_version),))
            writer = (lambda cursor, ident, streams: alongside(cursor, planned)) if alongside else None
            with signing_as(lambda event: signer[id(event)]), saving("group"), also_in_transaction(writer):
                recordings = self.save(*touched.values())
            position = {id(r.domain_event): r.notification.id for r in recordings}
            for i, entry, event in made:
                answers[i] = Recorded(ident=entry, positions=(position[id(event)],),
                                      streams=((str(event.originator_id), event.originator_version),))
        return answers  # type: ignore[return-value]

    def record_grant(
        self, actor: Actor, fund: str, amount: int, *, source: str, payer: str,
        document_ref: str | None = None, received_on: date | None = None, street_town: str | None = None,
    ) -> Recorded:
        """Income other than donations: government purchase, venture philanthropy, welfare lottery…"""
        _check_amount(amount)
        entry = self.new_id()

        def body() -> Recorded:
            target = self.fund(fund)
            self.authorise(actor, ACCOUNTANT, foundation=target.foundation)
            target.receive_grant(
                entry=entry, amount=amount, source=source, payer=payer, document_ref=_clean(document_ref),
                received_on=self._business_date(received_on, "received_on"),
                street_town=self._street_town_for(target, street_town),
            )
            return self._save(actor, entry, target)

        return self._command(body)

    def allocate(
        self, actor: Actor, from_fund: str, to_fund: str, amount: int, *, reason: str, on: date | None = None
    ) -> Recorded:
        """Move unrestricted money from one fund to another (调拨)."""
        _check_amount(amount)
        _require_text(reason, "reason")
        entry = self.new_id()

        def body() -> Recorded:
            source, target = self._two_funds(from_fund, to_fund)
            self.authorise(actor, ACCOUNTANT, foundation=source.foundation)
            self.authorise(actor, ACCOUNTANT, foundation=target.foundation)
            source.allocate_out(
                entry=entry, amount=amount, to_fund=target, reason=reason.strip(), on=self._business_date(on, "on")
            )
            return self._save(actor, entry, source, target)

        return self._command(body)

    def release_restriction(
        self, actor: Actor, fund: str, to_fund: str, amount: int, *, basis: str, on: date | None = None
    ) -> Recorded:
        """Release a restriction (解除限定): restricted money becomes unrestricted, with its basis."""
        _check_amount(amount)
        entry = self.new_id()

        def body() -> Recorded:
            source, target = self._two_funds(fund, to_fund)
            self.authorise(actor, ACCOUNTANT, foundation=source.foundation)
            self.authorise(actor, ACCOUNTANT, foundation=target.foundation)
            source.release_restriction(
                entry=entry, amount=amount, to_fund=target, basis=basis, on=self._business_date(on, "on")
            )
            return self._save(actor, entry, source, target)

        return self._command(body)

    # --- projects --------------------------------------------------------------------------------

    def register_project(
        self, actor: Actor, code: str, name: str, *, street_town: str, domain: str, organisation: str,
        budget: int, funding_source: str, approval_ref: str, starts_on: date, ends_on: date,
        community: str | None = None, milestones: list[tuple[str, int]] | None = None,
    ) -> Recorded:
        self.authorise(actor, ACCOUNTANT)
        _check_code(code, "code")
        _require_text(name, "name")
        _check_amount(budget, "budget")
        self.reference.street_town(street_town)
        self.reference.domain(domain)
        self._require_kind(organisation, ("social_organisation", "social_work_station", "community_foundation"),
                           "organisation")
        if funding_source not in FUNDING_SOURCES:
            raise InvalidInput("funding_source", f"choose from {', '.join(FUNDING_SOURCES)}")
        _require_text(approval_ref, "approval_ref")
        if ends_on < starts_on:
            raise InvalidInput("ends_on", "ends before it starts", "结束日期早于开始日期")
        planned = []
        for milestone_name, amount in milestones or []:
            _require_text(milestone_name, "milestones")
            _check_amount(amount, "milestones")
            planned.append({"name": milestone_name.strip(), "amount": amount})
        if len({m["name"] for m in planned}) != len(planned):
            raise InvalidInput("milestones", "milestone names must be unique", "里程碑名称不能重复")
        if sum(m["amount"] for m in planned) > budget:
            raise InvalidInput("milestones", "milestones add up to more than the budget", "里程碑金额合计超过预算")
        project = Project(
            code=code, name=name.strip(), street_town=street_town, community=_clean(community), domain=domain,
            organisation=organisation, budget=budget, funding_source=funding_source,
            approval_ref=approval_ref.strip(), starts_on=starts_on.isoformat(), ends_on=ends_on.isoformat(),
            milestones=planned,
        )
        return self._create(actor, code, project, "project", "code")

    def evaluate_project(
        self, actor: Actor, code: str, *, score: int, respondents: int, surveyed_on: date | None = None,
        method: str = "questionnaire",
    ) -> Recorded:
        """Record a residents' satisfaction survey (满意度测评) of a project."""

        def body() -> Recorded:
            project = self.project(code)
            self.authorise(actor, ACCOUNTANT, RECORDER, organisation=project.organisation)
            project.evaluate(
                score=score, respondents=respondents,
                surveyed_on=self._business_date(surveyed_on, "surveyed_on").isoformat(), method=method,
            )
            return self._save(actor, code, project)

        return self._command(body)

    # --- disbursements (maker-checker) -----------------------------------------------------------

    def request_disbursement(
        self, actor: Actor, fund: str, amount: int, *, kind: str = "project", project: str | None = None,
        payee: str | None = None, milestone: str | None = None, domain: str | None = None,
        street_town: str | None = None, purpose: str = "", on: date | None = None,
    ) -> Recorded:
        """Request a payment out of a fund; it is checked now and again when paid."""
        _check_amount(amount)
        if kind not in DISBURSEMENT_KINDS:
            raise InvalidInput("kind", f"choose from {', '.join(DISBURSEMENT_KINDS)}")
        _require_text(purpose, "purpose")
        requested_on = self._business_date(on, "on")
        source = self.fund(fund)
        self.authorise(actor, ACCOUNTANT, foundation=source.foundation)
        source.check_open()
        if kind == "project":
            if project is None:
                raise InvalidInput("project", "a project payment names its project", "项目款须指明项目")
            target = self.project(project)
            payee = payee or target.organisation
            target.check_payee(payee)
            target.check_milestone(milestone)
            target.check_within_budget(amount)
            domain, street_town = target.domain, target.street_town
        else:
            if project is not None:
                raise InvalidInput("project", f"a {kind} disbursement names no project")
            _require_text(payee or "", "payee")
            if kind == "allowance" and (domain is None or street_town is None):
                raise InvalidInput("street_town", "an allowance names its street-town and domain")
            if domain is not None:
                self.reference.domain(domain)
            if street_town is not None:
                self.reference.street_town(street_town)
        if kind in ("management", "fundraising"):
            source.check_unrestricted_spend(kind)
        else:
            source.check_use(domain=domain, street_town=street_town, on=requested_on)
        source.check_covers(amount)
        number = self.new_id()
        disbursement = Disbursement(
            number=number, fund=fund, kind=kind, project=project, payee=(payee or "").strip(), amount=amount,
            milestone=_clean(milestone), domain=domain, street_town=street_town, purpose=purpose.strip(),
            requested_by=actor.handle, requested_on=requested_on.isoformat(),
        )
        return self._create(actor, number, disbursement, "disbursement", "number")

    def approve_disbursement(
        self, actor: Actor, number: str, *, approval_ref: str, on: date | None = None
    ) -> Recorded:
        approved_on = self._business_date(on, "on").isoformat()

        def body() -> Recorded:
            disbursement = self.disbursement(number)
            source = self.fund(disbursement.fund)
            self.authorise(actor, APPROVER, foundation=source.foundation)
            disbursement.approve(approver=actor.handle, approval_ref=approval_ref, approved_on=approved_on)
            source.check_covers(disbursement.amount)
            return self._save(actor, number, disbursement)

        return self._command(body)

    def reject_disbursement(self, actor: Actor, number: str, *, reason: str) -> Recorded:
        def body() -> Recorded:
            disbursement = self.disbursement(number)
            source = self.fund(disbursement.fund)
            self.authorise(actor, APPROVER, foundation=source.foundation)
            disbursement.reject(approver=actor.handle, reason=reason)
            return self._save(actor, number, disbursement)

        return self._command(body)

    def pay_disbursement(self, actor: Actor, number: str, *, on: date | None = None) -> Recorded:
        """Pay an approved disbursement: the fund, the project and the disbursement in one transaction."""

        def body() -> Recorded:
            disbursement = self.disbursement(number)
            source = self.fund(disbursement.fund)
            self.authorise(actor, ACCOUNTANT, foundation=source.foundation)
            paid_on = self._business_date(on, "on")
            disbursement.check_payable(paid_on.isoformat())
            touched: list[Any] = [disbursement, source]
            target = disbursement.project or disbursement.street_town or source.code
            if disbursement.kind == "project":
                project = self.project(disbursement.project)
                project.record_payment(
                    disbursement=number, amount=disbursement.amount, milestone=disbursement.milestone,
                    payee=disbursement.payee,
                )
                touched.append(project)
                target = project.code
            source.pay(
                entry=number, amount=disbursement.amount, kind=disbursement.kind, target=target,
                payee=disbursement.payee, domain=disbursement.domain, street_town=disbursement.street_town,
                on=paid_on,
            )
            disbursement.mark_paid(paid_by=actor.handle, paid_on=paid_on.isoformat())
            return self._save(actor, number, *touched)

        return self._command(body)

    # --- volunteers ------------------------------------------------------------------------------

    def register_volunteer(
        self, actor: Actor, number: str, name: str, street_town: str, *,
        registered_on: date | None = None, name_public: bool = False,
    ) -> Recorded:
        self.authorise(actor, RECORDER, ACCOUNTANT)
        _check_code(number, "number")
        _require_text(name, "name")
        self.reference.street_town(street_town)
        volunteer = Volunteer(
            number=number, name=name.strip(), street_town=street_town,
            registered_on=self._business_date(registered_on, "registered_on").isoformat(), name_public=name_public,
        )
        return self._create(actor, number, volunteer, "volunteer", "number")

    def record_hours(
        self, actor: Actor, volunteer: str, *, organisation: str, domain: str, on: date, start: time, end: time,
        content: str, street_town: str | None = None,
    ) -> Recorded:
        """A service session (志愿服务记录), recorded by the organising body's recorder."""
        self.reference.domain(domain)
        host = self.organisation(organisation)
        self.authorise(actor, RECORDER, organisation=organisation)
        town = street_town or host.street_town
        self.reference.street_town(town)
        day = self._business_date(on, "on")
        record = self.new_id()

        def body() -> Recorded:
            person = self.volunteer(volunteer)
            person.record_service(
                record=record, organisation=organisation, street_town=town, domain=domain, on=day,
                start=start, end=end, content=content,
            )
            return self._save(actor, record, person)

        return self._command(body)

    # --- corrections (更正) ----------------------------------------------------------------------

    def read_position(self, position: int) -> tuple[StoredEvent, Any]:
        """The stored event at a log position, verified and decoded."""
        if isinstance(position, bool) or not isinstance(position, int) or position < 1:
            raise InvalidInput("position", "a log position is a whole number from 1", "日志序号须为正整数")
        if not storable(position):
            raise NotFound("event at log position", str(position), field="position")
        self._flush_bulk()
        found = self.recorder.select_notifications(start=position, limit=1)
        if not found or found[0].id != position:
            raise NotFound("event at log position", str(position), field="position")
        stored = found[0]
        return stored, self.mapper.to_domain_event(stored)

    def reverse(self, actor: Actor, position: int, *, reason: str) -> Recorded:
        """Reverse a money or hours event by appending signed reversing events with a reason."""
        _require_text(reason, "reason")
        reason = reason.strip()

        def body() -> Recorded:
            stored, original = self.read_position(position)
            kind = stored.topic
            if kind not in events.REVERSIBLE:
                raise NotReversible(f"{kind} events cannot be reversed", f"{kind} 类事件不可冲正", field="position")
            reverses = {"stream": str(stored.originator_id), "version": stored.originator_version, "type": kind}
            if kind == "Volunteer.ServiceRecorded":
                return self._reverse_hours(actor, original, reverses, reason)
            if kind == "Disbursement.Paid":
                return self._reverse_payment(actor, self.disbursement(str(stored.originator_id).split(":", 1)[1]),
                                             reverses, reason)
            fund = self.fund(str(stored.originator_id).split(":", 1)[1])
            self.authorise(actor, ACCOUNTANT, foundation=fund.foundation)
            if kind == "Fund.Paid":
                return self._reverse_payment(actor, self.disbursement(original.entry), reverses, reason)
            touched = [fund]
            fund.reverse(entry=original.entry, reverses=reverses, original_postings=original.postings, reason=reason)
            if kind in ("Fund.AllocatedOut", "Fund.AllocatedIn", "Fund.RestrictionReleased"):
                other_code = getattr(original, "to_fund", None) or original.from_fund
                other = self.fund(other_code)
                self.authorise(actor, ACCOUNTANT, foundation=other.foundation)
                leg = self._find_entry(other, original.entry)
                other.reverse(entry=original.entry, reverses=reverses, original_postings=leg.postings, reason=reason)
                touched.append(other)
            return self._save(actor, original.entry, *touched)

        return self._command(body)

    def _reverse_payment(self, actor: Actor, disbursement: Disbursement, reverses: dict, reason: str) -> Recorded:
        fund = self.fund(disbursement.fund)
        self.authorise(actor, ACCOUNTANT, foundation=fund.foundation)
        disbursement.mark_reversed(reason=reason)
        paid = self._find_entry(fund, disbursement.number)
        fund.reverse(entry=disbursement.number, reverses=reverses, original_postings=paid.postings, reason=reason)
        touched: list[Any] = [disbursement, fund]
        if disbursement.kind == "project":
            project = self.project(disbursement.project)
            project.reverse_payment(disbursement=disbursement.number, reason=reason)
            touched.append(project)
        return self._save(actor, disbursement.number, *touched)

    def _reverse_hours(self, actor: Actor, original: Any, reverses: dict, reason: str) -> Recorded:
        volunteer = self.volunteer(original.originator_id.split(":", 1)[1])
        self.authorise(actor, RECORDER, organisation=original.organisation)
        volunteer.reverse_service(record=original.record, reverses=reverses, reason=reason)
        return self._save(actor, original.record, volunteer)

    def _find_entry(self, fund: Fund, entry: str) -> Any:
        """The fund's event of ``entry`` that carries postings (not a reversal), newest first. Rows
        whose signed bytes do not even contain the entry id are passed over unopened, so a
        long-lived fund is not verified event by event to reverse one payment. (Inside a bulk
        import, ``reverse`` has written the batch already when it read the event by position.)"""
        needle = f'"{entry}"'.encode()
        through: int | None = None
        while True:
            page = self.recorder.select_events(fund.id, lte=through, desc=True, limit=500)
            for stored in page:
                if needle not in bytes(stored.state):
                    continue
                event = self.mapper.to_domain_event(stored)
                if getattr(event, "entry", None) == entry and hasattr(event, "postings") and not isinstance(
                    event, Fund.Reversed
                ):
                    return event
            if len(page) < 500:
                raise NotFound("entry", entry, field="position")
            through = page[-1].originator_version - 1

    def _flush_bulk(self) -> None:
        """Before reading the log: write a bulk import's pending batch, so what it reads is there."""
        bulk = self._bulk()
        if bulk is not None:
            bulk.flush()

    # --- the verifiable log ------------------------------------------------------------------

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
            raise NotAuthorised(f"checkpoints are signed by the key named {self.origin!r}",
                                f"检查点须由名为 {self.origin!r} 的日志密钥签名", field="actor")
        self._flush_bulk()
        size = self.merkle.sync()
        latest = self.checkpoints.latest()
        if latest is not None and latest.checkpoint.size >= size:
            return latest
        checkpoint = Checkpoint(self.origin, size, self.merkle.root(size))
        self.checkpoints.add(sign_checkpoint(checkpoint, actor.key), checkpoint)
        # Another process may have signed this size first; either way this one is now kept.
        return self.checkpoints.at(size) or self.checkpoints.latest()  # type: ignore[return-value]

    # --- reading the log -------------------------------------------------------------------------

    def log_positions(self, start: int = 1, limit: int = 1000) -> Iterator[Any]:
        """Stored events in log order (position = notification id), in pages."""
        while True:
            page = self.recorder.select_notifications(start=start, limit=limit)
            yield from page
            if len(page) < limit:
                return
            start = page[-1].id + 1

    # --- helpers ---------------------------------------------------------------------------------

    def _two_funds(self, first: str, second: str) -> tuple[Fund, Fund]:
        if first == second:
            raise InvalidInput("to_fund", "source and target are the same fund", "调出与调入基金相同")
        return self.fund(first, "from_fund"), self.fund(second, "to_fund")

    def _street_town_for(self, fund: Fund, street_town: str | None) -> str:
        town = street_town or fund.street_town
        if town is None:
            raise InvalidInput("street_town", f"fund {fund.code} serves the whole district: name the street-town",
                               "该基金面向全区，须指明街镇")
        self.reference.street_town(town)
        return town

    def _require_kind(self, code: str, kinds: tuple[str, ...], field_name: str) -> Organisation:
        organisation = self.organisation(code, field_name)
        if organisation.kind not in kinds:
            raise InvalidInput(field_name, f"{code} is a {organisation.kind}, expected {' or '.join(kinds)}")
        return organisation

    def _business_date(self, value: date | None, field_name: str) -> date:
        today = self.today()
        if value is None:
            return today
        if isinstance(value, datetime) or not isinstance(value, date):
            raise InvalidInput(field_name, "must be a date (YYYY-MM-DD)", "须为日期（YYYY-MM-DD）")
        if value > today:
            raise InvalidInput(field_name, f"{value} is in the future", f"{value} 是未来日期")
        return value


def _check_amount(amount: int, field_name: str = "amount") -> None:
    from ledger.money import MAX_FEN

    if isinstance(amount, bool) or not isinstance(amount, int):
        raise InvalidInput(field_name, "amounts are integer fen inside the ledger", "金额须为整数（分）")
    if not 0 < amount <= MAX_FEN:
        raise InvalidInput(field_name, "must be greater than zero and at most ¥10,000,000,000.00", "金额超出范围")


def _check_code(code: str, field_name: str) -> None:
    if not code or len(code) > 64 or not set(code) <= _CODE_CHARS:
        raise InvalidInput(field_name, "codes use letters, digits, '-' and '_' (at most 64)", "编码只能使用字母、数字、-和_")


def _require_text(value: str, field_name: str) -> None:
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput(field_name, "must not be empty", "不能为空")
    if len(value) > 2000:
        raise InvalidInput(field_name, "is longer than 2000 characters", "超过2000字")


def _clean(value: str | None) -> str | None:
    if value is None:
        return None
    value = value.strip()
    if len(value) > 2000:
        raise InvalidInput("text", "is longer than 2000 characters", "超过2000字")
    return value or None


__all__ = ["CHINA_STANDARD_TIME", "Actor", "Donation", "Ledger", "LedgerError", "Recorded"]
