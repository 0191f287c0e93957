"""The directory: principals (people and bodies, 主体) and their signing keys, in one signed stream.

Key events are signed by a root key; the first event (``Directory.Founded``) is signed by the
root key it introduces. The directory is small and read on every command so that a key revoked by
one process is refused by every other.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from eventsourcing.domain import event

from ledger.aggregate import LedgerAggregate
from ledger.errors import AlreadyExists, InvalidInput, InvalidState, NotFound
from ledger.messages import codes as _codes
from ledger.messages import msg, term
from ledger.signing import VerifierKey, check_key_name

DIRECTORY_ID = "directory"

ROOT = "root"
ACCOUNTANT = "accountant"
APPROVER = "approver"
RECORDER = "recorder"
AUDITOR = "auditor"
LOG = "log"
ROLES = (ROOT, ACCOUNTANT, APPROVER, RECORDER, AUDITOR, LOG)
"""Roles: root (keys and principals), accountant (会计, records money), approver (审批, the
second person on disbursements), organisation recorder (志愿服务记录人, hours for one
organisation), auditor (审计, reads everything), log (the ledger's own key, named after the
log's origin, that signs checkpoints)."""
ROLE_NAMES = {ROOT: term("root"), ACCOUNTANT: term("accountant"), APPROVER: term("approver"),
              RECORDER: term("recorder"), AUDITOR: term("auditor"), LOG: term("log")}
"""Each role as people read it."""


@dataclass
class KeyRecord:
    """A signing key as the directory knows it."""

    principal: str
    """Handle of the principal holding the key."""
    key: VerifierKey
    """The public key."""
    added_at: datetime
    """Recording time of the event that added the key."""
    revoked_at: datetime | None = None
    """Recording time of the event that revoked it or rotated it out."""
    revoked_reason: str | None = None
    revoked_version: int | None = None
    """Version of the directory event that revoked the key; its log position is where the key
    stops counting (positions, not writers' clocks, decide)."""


@dataclass
class Principal:
    """A person or body that signs events."""

    handle: str
    """Stable ASCII handle; also the name of the principal's keys."""
    name: str
    """Display name."""
    roles: list[str]
    foundation: str | None = None
    """Organisation code of the foundation an accountant or approver works for (None: any)."""
    organisation: str | None = None
    """Organisation code a recorder records hours for."""
    keys: list[str] = field(default_factory=list)
    """Key ids, oldest first."""

    def has(self, role: str) -> bool:
        return role in self.roles


class Directory(LedgerAggregate):
    """Principals and keys (主体与密钥目录)."""

    @staticmethod
    def create_id(**_: object) -> str:
        return DIRECTORY_ID

    class Founded(LedgerAggregate.Created):
        ledger_name: str
        root_handle: str
        root_name: str
        root_key: str

    class PrincipalRegistered(LedgerAggregate.Event):
        handle: str
        name: str
        roles: list
        foundation: str | None
        organisation: str | None

        def apply(self, directory: Directory) -> None:
            directory.principals[self.handle] = Principal(
                self.handle, self.name, list(self.roles), self.foundation, self.organisation
            )

    class KeyAdded(LedgerAggregate.Event):
        principal: str
        key: str

        def apply(self, directory: Directory) -> None:
            directory._add_key(self.principal, self.key, self.timestamp)

    class KeyRotated(LedgerAggregate.Event):
        principal: str
        old_key_id: str
        key: str

        def apply(self, directory: Directory) -> None:
            directory._revoke(self.old_key_id, "rotated", self.timestamp, self.originator_version)
            directory._add_key(self.principal, self.key, self.timestamp)

    class KeyRevoked(LedgerAggregate.Event):
        key_id: str
        reason: str

        def apply(self, directory: Directory) -> None:
            directory._revoke(self.key_id, self.reason, self.timestamp, self.originator_version)

    @event(Founded)
    def __init__(self, ledger_name: str, root_handle: str, root_name: str, root_key: str) -> None:
        self.ledger_name = ledger_name
        self.principals: dict[str, Principal] = {root_handle: Principal(root_handle, root_name, [ROOT])}
        self.keys: dict[str, KeyRecord] = {}
        self._add_key(root_handle, root_key, self.created_on)

    @classmethod
    def found(cls, ledger_name: str, root_handle: str, root_name: str, root_key: VerifierKey) -> Directory:
        check_key_name(root_handle)
        if root_key.name != root_handle:
            raise InvalidInput("root_key", msg("the root key must be named after the root handle"))
        return cls(ledger_name=ledger_name, root_handle=root_handle, root_name=root_name, root_key=root_key.vkey)

    # --- queries ---------------------------------------------------------------------------------

    def principal(self, handle: str) -> Principal:
        try:
            return self.principals[handle]
        except KeyError:
            raise NotFound("principal", handle, field="principal") from None

    def key(self, key_id: str) -> KeyRecord | None:
        return self.keys.get(key_id)

    def active_keys(self, handle: str) -> list[KeyRecord]:
        return [self.keys[k] for k in self.principal(handle).keys if self.keys[k].revoked_at is None]

    # --- commands (validate, then trigger) -------------------------------------------------------

    def register(
        self, handle: str, name: str, roles: list[str], foundation: str | None, organisation: str | None
    ) -> None:
        try:
            check_key_name(handle)
        except ValueError as exc:
            raise InvalidInput("handle", msg("{handle} is not a handle: use letters, digits and . _ : / -",
                                             handle=repr(handle))) from exc
        if handle in self.principals:
            raise AlreadyExists("principal", handle, field="handle")
        if not name.strip():
            raise InvalidInput("name", msg("must not be empty"))
        unknown = [r for r in roles if r not in ROLES]
        if not roles or unknown:
            raise InvalidInput("roles", msg("choose from {choices}; got {roles}", choices=_codes(ROLES), roles=_codes(roles)))
        if RECORDER in roles and not organisation:
            raise InvalidInput("organisation", msg("a recorder records for one organisation"))
        self.trigger_event(
            self.PrincipalRegistered,
            handle=handle,
            name=name.strip(),
            roles=sorted(set(roles)),
            foundation=foundation,
            organisation=organisation,
        )

    def add_key(self, handle: str, key: VerifierKey) -> None:
        self._check_new_key(handle, key)
        self.trigger_event(self.KeyAdded, principal=handle, key=key.vkey)

    def rotate_key(self, handle: str, new_key: VerifierKey) -> None:
        current = self.active_keys(handle)
        if not current:
            raise InvalidState(msg("{handle} has no active key to rotate", handle=handle))
        self._check_new_key(handle, new_key)
        self.trigger_event(self.KeyRotated, principal=handle, old_key_id=current[-1].key.key_id, key=new_key.vkey)

    def revoke_key(self, key_id: str, reason: str) -> None:
        record = self.keys.get(key_id)
        if record is None:
            raise NotFound("key", key_id, field="key_id")
        if record.revoked_at is not None:
            raise InvalidState(msg("key {key_id} is already revoked", key_id=key_id))
        if not reason.strip():
            raise InvalidInput("reason", msg("a revocation needs a reason"))
        self.trigger_event(self.KeyRevoked, key_id=key_id, reason=reason.strip())

    def _check_new_key(self, handle: str, key: VerifierKey) -> None:
        self.principal(handle)
        if key.name != handle:
            raise InvalidInput("key", msg("the key is named {name}, not {handle}", name=repr(key.name), handle=repr(handle)))
        if key.key_id in self.keys:
            raise AlreadyExists("key", key.key_id, field="key")

    # --- state changes ---------------------------------------------------------------------------

    def _add_key(self, handle: str, vkey: str, at: datetime) -> None:
        key = VerifierKey.from_vkey(vkey)
        self.keys[key.key_id] = KeyRecord(handle, key, at)
        self.principals[handle].keys.append(key.key_id)

    def _revoke(self, key_id: str, reason: str, at: datetime, version: int) -> None:
        record = self.keys[key_id]
        record.revoked_at = at
        record.revoked_reason = reason
        record.revoked_version = version
