"""The signing mapper: every event is sealed with the acting principal's key on its way into the
store, and opened and verified on its way out, so a tampered row can never load silently."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from eventsourcing.persistence import JSONTranscoder, Mapper, StoredEvent

from ledger import events
from ledger.envelope import EnvelopeError, open_sealed, seal
from ledger.errors import TamperedEvent
from ledger.principals import KeyRecord
from ledger.signing import SigningKey
from ledger.text import check_tree

_SIGNER: ContextVar[SigningKey | Callable[[object], SigningKey] | None] = ContextVar("wushe_signer", default=None)

_ENVELOPE_FIELDS = ("originator_id", "originator_version", "originator_topic", "timestamp")


@contextmanager
def signing_as(key: SigningKey | Callable[[object], SigningKey]) -> Iterator[None]:
    """Events stored inside this block are signed by ``key``, or by ``key(event)`` when one save
    holds several principals' events (a group commit)."""
    token = _SIGNER.set(key)
    try:
        yield
    finally:
        _SIGNER.reset(token)


class SigningMapper(Mapper[str]):
    """Maps domain events to signed notes and back (see ``ledger.envelope``)."""

    def __init__(
        self,
        key_lookup: Callable[[str], KeyRecord | None],
        signed_after_revocation: Callable[[str, int, KeyRecord], bool],
    ):
        super().__init__(transcoder=JSONTranscoder())
        self.key_lookup = key_lookup
        self.signed_after_revocation = signed_after_revocation

    def to_stored_event(self, domain_event) -> StoredEvent:  # type: ignore[override]
        key = _SIGNER.get()
        if key is not None and not isinstance(key, SigningKey):
            key = key(domain_event)
        if key is None:
            raise RuntimeError("refusing to store an unsigned event: save inside signing_as(key)")
        type_name = events.type_name(type(domain_event))
        payload = {k: v for k, v in vars(domain_event).items() if k not in _ENVELOPE_FIELDS}
        for name, value in payload.items():  # the last guard, whichever command made the event
            check_tree(value, (name,))
        state = seal(
            stream=domain_event.originator_id,
            version=domain_event.originator_version,
            type_name=type_name,
            timestamp=domain_event.timestamp,
            payload=payload,
            key=key,
        )
        return StoredEvent(
            originator_id=domain_event.originator_id,
            originator_version=domain_event.originator_version,
            topic=type_name,
            state=state,
        )

    def to_domain_event(self, stored_event: StoredEvent):  # type: ignore[override]
        stream, version = str(stored_event.originator_id), stored_event.originator_version
        try:
            sealed = open_sealed(stored_event.state, stream=stream, version=version, topic=stored_event.topic)
            cls = events.event_class(sealed.type_name)
        except EnvelopeError as exc:
            raise TamperedEvent(stream, version, str(exc)) from None
        except KeyError:
            raise TamperedEvent(stream, version, f"unknown event type {stored_event.topic!r}") from None
        record = self.key_lookup(sealed.key_id)
        if record is None:
            raise TamperedEvent(stream, version, f"signed by unknown key {sealed.key_id}")
        if not sealed.signed_by(record.key):
            raise TamperedEvent(stream, version, "signature does not verify")
        if record.revoked_version is not None and self.signed_after_revocation(stream, version, record):
            raise TamperedEvent(stream, version, f"signed by key {sealed.key_id} after it was revoked")
        return self.build(sealed.type_name, stream, version, sealed.timestamp, sealed.payload, cls)

    @staticmethod
    def build(type_name, stream, version, timestamp, payload, cls=None):
        """Construct the domain event object from verified parts."""
        cls = cls or events.event_class(type_name)
        state = dict(payload)
        state.update(originator_id=stream, originator_version=version, timestamp=timestamp)
        if events.is_created(type_name):
            state["originator_topic"] = events.aggregate_topic(type_name)
        domain_event = object.__new__(cls)
        object.__setattr__(domain_event, "__dict__", state)
        return domain_event
