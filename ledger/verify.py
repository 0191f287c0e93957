"""Replay the whole log in order and check every stored event: its bytes, its row, its signature,
and that its key was registered and not yet revoked at that point of the log."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from ledger.envelope import EnvelopeError, SignedEvent, open_sealed
from ledger.errors import TamperedEvent
from ledger.mapper import SigningMapper
from ledger.principals import ROOT, Directory
from ledger.signing import NoteFormatError, VerifierKey, parse_note


@dataclass(frozen=True)
class EventCheck:
    """The verdict on one stored event."""

    position: int
    stream: str
    version: int
    type_name: str
    key_id: str | None
    problem: str | None
    """None when the event verifies; otherwise what is wrong with it."""

    @property
    def ok(self) -> bool:
        return self.problem is None


def advance_directory(directory: Directory | None, sealed: SignedEvent) -> Directory:
    """Apply one directory event after checking it is signed by a root key current at this point.

    The first event must be ``Directory.Founded``, signed by the root key it introduces.
    """
    if directory is None:
        if sealed.type_name != "Directory.Founded" or sealed.version != 1:
            raise TamperedEvent(sealed.stream, sealed.version, "the directory does not begin with Directory.Founded")
        signer = VerifierKey.from_vkey(sealed.payload["root_key"])
        authorised = True
    else:
        record = directory.key(sealed.key_id)
        if record is None:
            raise TamperedEvent(sealed.stream, sealed.version, f"signed by unknown key {sealed.key_id}")
        signer = record.key
        authorised = record.revoked_at is None and ROOT in directory.principals[record.principal].roles
        if not authorised:
            raise TamperedEvent(sealed.stream, sealed.version, f"key {sealed.key_id} is not a current root key")
    if not sealed.signed_by(signer):
        raise TamperedEvent(sealed.stream, sealed.version, "signature does not verify")
    event = SigningMapper.build(sealed.type_name, sealed.stream, sealed.version, sealed.timestamp, sealed.payload)
    return event.mutate(directory)


def _verify_one(directory: Directory | None, n) -> tuple[Directory | None, SignedEvent]:
    stream, version = str(n.originator_id), n.originator_version
    try:
        sealed = open_sealed(n.state, stream=stream, version=version, topic=n.topic)
    except EnvelopeError as exc:
        raise TamperedEvent(stream, version, str(exc)) from None
    if stream == Directory.create_id():
        directory = advance_directory(directory, sealed)
    else:
        _check_signed(directory, sealed)
    return directory, sealed


def verified_events(notifications: Iterable) -> Iterator[tuple[int, SignedEvent]]:
    """(position, event) for stored events given in log order, raising TamperedEvent at the first
    event that does not verify. Directory events update the keys in force as they pass."""
    directory: Directory | None = None
    for n in notifications:
        directory, sealed = _verify_one(directory, n)
        yield n.id, sealed


def check_log(notifications: Iterable) -> Iterator[EventCheck]:
    """Verify stored events given in log order (objects with id, originator_id, originator_version,
    topic and state), yielding one verdict each and carrying on past failures."""
    directory: Directory | None = None
    for n in notifications:
        stream, version = str(n.originator_id), n.originator_version
        try:
            directory, sealed = _verify_one(directory, n)
        except TamperedEvent as exc:
            yield EventCheck(n.id, stream, version, n.topic, _claimed_key(n.state), exc.problem)
        except Exception as exc:  # a malformed payload must be reported, not crash the walk
            yield EventCheck(n.id, stream, version, n.topic, _claimed_key(n.state), f"cannot be applied: {exc}")
        else:
            yield EventCheck(n.id, stream, version, n.topic, sealed.key_id, None)


def _claimed_key(state: bytes) -> str | None:
    """The key id a damaged event claims, for the report; None if even that is unreadable."""
    try:
        return parse_note(bytes(state)).signatures[0].key_id
    except (NoteFormatError, IndexError):
        return None


def _check_signed(directory: Directory | None, sealed: SignedEvent) -> None:
    if directory is None:
        raise TamperedEvent(sealed.stream, sealed.version, "appears before the directory's genesis")
    record = directory.key(sealed.key_id)
    if record is None:
        raise TamperedEvent(sealed.stream, sealed.version, f"signed by unknown key {sealed.key_id}")
    if record.revoked_at is not None:
        raise TamperedEvent(sealed.stream, sealed.version, f"signed by key {sealed.key_id} after it was revoked")
    if not sealed.signed_by(record.key):
        raise TamperedEvent(sealed.stream, sealed.version, "signature does not verify")
