"""The stored form of an event: a signed note whose text is one line of canonical JSON.

    {"payload":{…},"stream":"fund:XX","timestamp":"2026-11-27T09:30:00.000001+00:00","type":"Fund.Opened","version":1}
    <blank line>
    — <key name> <base64(key hash || Ed25519 signature)>

The signature covers the stream id, version, type, timestamp and payload; the store's own columns
(originator id, version, topic) must repeat what is signed, so moving a row is as visible as
editing it. ``docs/signing.md`` specifies these bytes for outside verifiers.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ledger.signing import (
    Note,
    NoteFormatError,
    Signature,
    SigningKey,
    VerifierKey,
    canonical_json,
    make_note,
    parse_note,
)


class EnvelopeError(ValueError):
    """Stored bytes that are not a well-formed, self-consistent signed event."""


def seal(*, stream: str, version: int, type_name: str, timestamp: datetime, payload: dict, key: SigningKey) -> bytes:
    """The bytes to store for one event, signed by ``key``."""
    if timestamp.utcoffset() is None:
        raise ValueError("event timestamps are timezone-aware")
    body = {
        "payload": payload,
        "stream": stream,
        "timestamp": timestamp.astimezone(UTC).isoformat(),
        "type": type_name,
        "version": version,
    }
    return make_note(canonical_json(body) + b"\n", key)


@dataclass(frozen=True)
class SignedEvent:
    """A stored event opened but not yet checked against a key."""

    stream: str
    version: int
    type_name: str
    timestamp: datetime
    payload: dict[str, Any]
    text: bytes
    """The signed bytes (canonical JSON and a newline)."""
    signature: Signature

    @property
    def key_id(self) -> str:
        return self.signature.key_id

    def signed_by(self, key: VerifierKey) -> bool:
        return key.hash == self.signature.key_hash and key.name == self.signature.name and key.verify(
            self.text, self.signature.signature
        )


def open_sealed(state: bytes, *, stream: str, version: int, topic: str) -> SignedEvent:
    """Parse stored bytes and check they are canonical and agree with the row they sit in."""
    try:
        note: Note = parse_note(bytes(state))
    except NoteFormatError as exc:
        raise EnvelopeError(f"not a signed note: {exc}") from None
    if len(note.signatures) != 1:
        raise EnvelopeError(f"expected one signature, found {len(note.signatures)}")
    try:
        body = json.loads(note.text.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise EnvelopeError(f"signed text is not JSON: {exc}") from None
    if not isinstance(body, dict) or set(body) != {"payload", "stream", "timestamp", "type", "version"}:
        raise EnvelopeError("signed JSON does not have exactly payload, stream, timestamp, type, version")
    try:
        canonical = canonical_json(body)
    except (TypeError, ValueError, OverflowError) as exc:  # floats, integers beyond 2**53, lone surrogates
        raise EnvelopeError(f"signed JSON cannot be canonical: {exc}") from None
    if canonical + b"\n" != note.text:
        raise EnvelopeError("signed text is not in canonical form")
    if type(body["version"]) is not int or not isinstance(body["stream"], str) or not isinstance(body["type"], str):
        raise EnvelopeError("stream and type must be strings and version an integer")
    if body["stream"] != stream:
        raise EnvelopeError(f"signed for stream {body['stream']!r} but stored under {stream!r}")
    if body["version"] != version:
        raise EnvelopeError(f"signed as version {body['version']} but stored as version {version}")
    if body["type"] != topic:
        raise EnvelopeError(f"signed as type {body['type']!r} but stored as {topic!r}")
    try:
        timestamp = datetime.fromisoformat(body["timestamp"])
    except (TypeError, ValueError):
        raise EnvelopeError("timestamp is not ISO 8601") from None
    if timestamp.utcoffset() is None or not isinstance(body["payload"], dict):
        raise EnvelopeError("timestamp lacks a time zone or payload is not an object")
    return SignedEvent(stream, version, topic, timestamp, body["payload"], note.text, note.signatures[0])
