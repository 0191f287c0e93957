"""Receipts (捐赠收据) and volunteer service certificates (志愿服务记录证明) that anyone can
verify offline with the ledger's log key alone.

A receipt is one JSON document holding, under one signed checkpoint, the recorded event's stored
bytes with their inclusion proof, the directory event that registered the key that signed it
(so the signature can be checked without the server), and for a certificate the volunteer's
registration. ``docs/verification.md`` gives the format byte by byte.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta, timezone
from typing import Any

from eventsourcing.persistence import StoredEvent

from ledger import merkle
from ledger.checkpoints import Checkpoint, CheckpointError, open_checkpoint, verify_cosignature
from ledger.envelope import EnvelopeError, SignedEvent, open_sealed
from ledger.messages import Explained, Msg, day, explain, msg, term
from ledger.signing import NoteFormatError, VerifierKey, parse_note

FORMAT = "wushe-receipt/v1"
SHANGHAI = timezone(timedelta(hours=8))
KINDS = {"Fund.DonationReceived": "donation", "Volunteer.ServiceRecorded": "volunteer-service"}
_ROLES = {"record": term("record"), "signer-key": term("signer-key"), "volunteer": term("volunteer")}
"""The entries of a receipt, as messages name them."""
_KINDS_OF_VALUE = {str: term("a string"), int: term("a whole number"), list: term("a list")}


class ReceiptError(Explained, ValueError):
    """A receipt that is malformed, or that does not verify; the message says exactly why."""


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def issue_receipt(ledger: Any, position: int, log_actor: Any, *, reversed_ok: bool = False) -> dict:
    """The receipt of the event at ``position`` under the latest checkpoint, signing a new
    checkpoint with the log key if the latest one does not yet contain the event.

    A record a correction has reversed gets no new receipt (RecordReversed says which correction);
    ``reversed_ok`` is for the pages that show such a record together with its reversal."""
    stored, event = ledger.read_position(position)  # refuses unknown positions and events that do not verify
    if not reversed_ok and (found := reversal_of(ledger, stored, event)) is not None:
        raise RecordReversed(position, found)
    ledger.merkle.sync()
    leaf_index = ledger.merkle.leaf_index_of(position)
    latest = ledger.checkpoints.latest()
    if latest is None or leaf_index is None or latest.checkpoint.size <= leaf_index:
        if log_actor is None:
            raise ReceiptError(msg("no checkpoint covers this event yet; the next scheduled checkpoint will"))
        latest = ledger.sign_checkpoint(log_actor)
    return build_receipt(ledger, position, latest.note, latest.checkpoint)


def build_receipt(ledger: Any, position: int, checkpoint_note: bytes, checkpoint: Checkpoint) -> dict:
    """The receipt of the event at ``position`` under a checkpoint whose tree contains it."""
    stored, _ = ledger.read_position(position)
    leaf_index = ledger.merkle.leaf_index_of(position)
    if leaf_index is None or leaf_index >= checkpoint.size:
        raise ReceiptError(msg("log position {position} is not under the checkpoint of size {size}", position=position,
                               size=checkpoint.size))
    record = _entry(ledger, "record", leaf_index, checkpoint.size)
    sealed = open_sealed(stored.state, stream=str(stored.originator_id), version=stored.originator_version,
                         topic=stored.topic)
    entries = [record, _entry(ledger, "signer-key", _key_leaf(ledger, sealed.key_id), checkpoint.size)]
    if stored.topic == "Volunteer.ServiceRecorded":
        registered = ledger.merkle.leaf_index_of(_position(ledger, str(stored.originator_id), 1))
        entries.append(_entry(ledger, "volunteer", registered, checkpoint.size))
    head = ledger.merkle.leaf_at(leaf_index)
    return {
        "format": FORMAT,
        "kind": KINDS.get(stored.topic, "event"),
        "origin": checkpoint.origin,
        "position": position,
        "leaf_index": leaf_index,
        "tree_size": checkpoint.size,
        "checkpoint": checkpoint_note.decode(),
        "entries": entries,
        "verify_path": f"/v/{leaf_index}-{head[1].hex()[:16]}",
        "issued_on": ledger.today().isoformat(),
    }


def _entry(ledger: Any, role: str, leaf_index: int | None, size: int) -> dict:
    if leaf_index is None:
        raise ReceiptError(msg("the {role} event is not in the Merkle tree yet", role=_ROLES[role]))
    position, _ = ledger.merkle.leaf_at(leaf_index)
    stored, _ = ledger.read_position(position)
    return {
        "role": role,
        "leaf_index": leaf_index,
        "stream": str(stored.originator_id),
        "version": stored.originator_version,
        "type": stored.topic,
        "event": _b64(bytes(stored.state)),
        "inclusion_proof": [_b64(h) for h in ledger.merkle.inclusion_proof(leaf_index, size)],
    }


def _position(ledger: Any, stream: str, version: int) -> int:
    found = ledger.tables.position_of(stream, version)
    if found is None:
        raise ReceiptError(msg("{stream} v{version} is not in the log", stream=stream, version=version))
    return found


def _key_leaf(ledger: Any, key_id: str) -> int | None:
    """The leaf of the directory event that introduced ``key_id``."""
    for stored in ledger.recorder.select_events("directory"):
        payload = json.loads(parse_note(bytes(stored.state)).text)["payload"]
        vkey = payload.get("key") or payload.get("root_key")
        if vkey and VerifierKey.from_vkey(vkey).key_id == key_id:
            return ledger.merkle.leaf_index_of(_position(ledger, "directory", stored.originator_version))
    return None


# --- whether a record still stands -------------------------------------------------------------

REVERSALS: dict[str, str | None] = {
    "Fund.Reversed": "entry", "Volunteer.ServiceReversed": "record", "Project.PaymentReversed": "disbursement",
    "Disbursement.Reversed": None,
}
"""The events that reverse a record of their own stream, and the payload field naming which one
(a disbursement is paid once: its reversal needs no name)."""


@dataclass(frozen=True)
class Reversal:
    """The correction (更正) that reversed a record: where it is in the log, when and why."""

    position: int
    date: str
    """The Shanghai date it was recorded (ISO), the day the correction counts on."""
    reason: str

    def as_json(self) -> dict[str, Any]:
        return {"position": self.position, "date": self.date, "reason": self.reason}


class RecordReversed(ReceiptError):
    """No receipt for a record that no longer stands."""

    def __init__(self, position: int, reversal: Reversal) -> None:
        super().__init__(msg("the record at log position {position} was reversed by the correction #{by} of "
                             "{date} ({reason}); no receipt is issued for it", position=position,
                             by=reversal.position, date=day(reversal.date), reason=reversal.reason))
        self.reversal = reversal


def reversal_of(ledger: Any, stored: Any, event: Any) -> Reversal | None:
    """The correction that reversed the stored event, if the log holds one, read and verified from
    the store: a reversal is always in the stream of what it reverses, after it. ``event`` is the
    stored event decoded (``Ledger.read_position``)."""
    stream, version = str(stored.originator_id), stored.originator_version
    t = ledger.tables
    types = ", ".join(f"'{name}'" for name in REVERSALS)
    rows = t.fetchall(
        f"SELECT {t.position_column}, originator_version, topic, state FROM {t.events_table} "
        f"WHERE originator_id = ? AND originator_version > ? AND topic IN ({types}) ORDER BY originator_version",
        (stream, version),
    )
    for position, later, topic, state in rows:
        name = REVERSALS[topic]
        if name is not None and getattr(event, name, None) is None:
            continue
        reversing = ledger.mapper.to_domain_event(
            StoredEvent(originator_id=stream, originator_version=int(later), topic=topic, state=bytes(state)))
        if name is None or getattr(reversing, name) == getattr(event, name):
            day = reversing.timestamp.astimezone(SHANGHAI).date().isoformat()
            return Reversal(int(position), day, reversing.reason)
    return None


@dataclass(frozen=True)
class Standing:
    """What the ledger itself says of a record a receipt is shown for (not part of any proof):
    who issues the document and whether the record still stands."""

    issuer: str | None
    """The body that issues it: for a certificate the organising body that recorded the session
    (谁记录谁证明), for a donation receipt the foundation hosting the fund."""
    recorded_by: str | None
    """The name of the principal whose key signed the record."""
    fund_name: str | None
    reversal: Reversal | None


def standing(ledger: Any, position: int) -> Standing:
    """The names and the standing of the record at ``position``, read from the ledger."""
    stored, event = ledger.read_position(position)
    directory = ledger.directory()
    sealed = open_sealed(stored.state, stream=str(stored.originator_id), version=stored.originator_version,
                         topic=stored.topic)
    key = directory.key(sealed.key_id)
    signer = directory.principals.get(key.principal) if key else None
    issuer = fund_name = None
    if stored.topic == "Volunteer.ServiceRecorded":
        issuer = ledger.organisation(event.organisation).name
    elif str(stored.originator_id).startswith("fund:"):
        fund = ledger.fund(str(stored.originator_id).split(":", 1)[1])
        fund_name, issuer = fund.name, ledger.organisation(fund.foundation).name
    return Standing(issuer, signer.name if signer else None, fund_name, reversal_of(ledger, stored, event))


# --- offline verification --------------------------------------------------------------------


@dataclass
class VerifiedReceipt:
    """What a receipt proves."""

    kind: str
    origin: str
    leaf_index: int
    """Proven: the record is this leaf of the log. (The receipt's ``position``, the store's
    notification id, is a reference for people and is not part of any proof.)"""
    checkpoint: Checkpoint
    record: SignedEvent
    signer: str
    """Key id of the principal who signed the record."""
    volunteer: dict | None = None
    """The volunteer's registration payload, for a certificate."""
    cosigners: list[str] = field(default_factory=list)
    """Key ids of the trusted witnesses whose cosignatures verify."""
    unchecked_signatures: int = 0
    """Other signature lines on the checkpoint (witnesses not given as trusted): not checked."""


def verify_receipt(
    data: bytes | str | dict, log_key: VerifierKey, witnesses: Sequence[VerifierKey] = (),
    *, required: Sequence[VerifierKey] = (),
) -> VerifiedReceipt:
    """Check a receipt with nothing but the log key; raise ReceiptError naming what fails.

    ``witnesses`` are the witness keys one trusts: their cosignatures are counted, and a line in
    one's name that does not verify fails the receipt. Each of the ``required`` witnesses (the
    keys a verifier names) must have cosigned the checkpoint."""
    try:
        return _verify(_load(data), log_key, witnesses, required)
    except NoteFormatError as exc:
        raise ReceiptError(msg("a key in the receipt is malformed: {problem}", problem=explain(exc))) from None
    except UnicodeError:
        raise ReceiptError(msg("the receipt contains text that is not valid Unicode")) from None


def _verify(receipt: dict, log_key: VerifierKey, witnesses: Sequence[VerifierKey],
            required: Sequence[VerifierKey]) -> VerifiedReceipt:
    try:
        checkpoint, note = open_checkpoint(receipt["checkpoint"].encode(), log_key)
    except CheckpointError as exc:
        raise ReceiptError(msg("checkpoint: {problem}", problem=explain(exc))) from None
    if checkpoint.origin != receipt["origin"] or checkpoint.size != receipt["tree_size"]:
        raise ReceiptError(msg("the receipt's origin or tree size differs from its checkpoint"))
    opened: dict[str, tuple[dict, SignedEvent]] = {}
    for entry in receipt["entries"]:
        role = entry["role"]
        data_bytes = _unb64(entry["event"], msg("{role} event", role=_ROLES.get(role, role)))
        proof = [_unb64(h, msg("{role} proof", role=_ROLES.get(role, role))) for h in entry["inclusion_proof"]]
        if not merkle.verify_inclusion(data_bytes, entry["leaf_index"], checkpoint.size, proof, checkpoint.root):
            raise ReceiptError(msg("the {role} event is not in the log at leaf {leaf} under this checkpoint",
                                   role=_ROLES.get(role, role), leaf=entry["leaf_index"]))
        try:
            sealed = open_sealed(data_bytes, stream=entry["stream"], version=entry["version"], topic=entry["type"])
        except EnvelopeError as exc:
            raise ReceiptError(msg("the {role} event is malformed: {problem}", role=_ROLES.get(role, role),
                                   problem=explain(exc))) from None
        opened[role] = (entry, sealed)
    if set(opened) - {"record", "signer-key", "volunteer"} or not {"record", "signer-key"} <= set(opened):
        raise ReceiptError(msg("a receipt has a record, a signer-key and, for a certificate, a volunteer entry"))
    record_entry, record = opened["record"]
    if record_entry["leaf_index"] != receipt["leaf_index"]:
        raise ReceiptError(msg("the record's leaf index differs from the receipt's"))
    _, key_event = opened["signer-key"]
    vkey = key_event.payload.get("key") or key_event.payload.get("root_key")
    if key_event.stream != "directory" or not vkey:
        raise ReceiptError(msg("the signer-key entry is not a directory event that adds a key"))
    signer = VerifierKey.from_vkey(vkey)
    if signer.key_id != record.key_id or not record.signed_by(signer):
        raise ReceiptError(msg("the record is not signed by the key the log registered"))
    volunteer = None
    if record.type_name == "Volunteer.ServiceRecorded":
        if "volunteer" not in opened:
            raise ReceiptError(msg("a certificate carries the volunteer's registration"))
        _, registration = opened["volunteer"]
        if registration.stream != record.stream or registration.type_name != "Volunteer.Registered":
            raise ReceiptError(msg("the volunteer entry is not this volunteer's registration"))
        volunteer = registration.payload
    others = [s for s in note.signatures if s.name != log_key.name]
    cosigners = _cosigners(checkpoint, others, [*witnesses, *required])
    for witness in required:
        if witness.key_id not in cosigners:
            raise ReceiptError(msg("the checkpoint carries no cosignature of witness {key}", key=witness.key_id))
    return VerifiedReceipt(
        kind=KINDS.get(record.type_name, "event"), origin=checkpoint.origin, leaf_index=receipt["leaf_index"],
        checkpoint=checkpoint, record=record, signer=signer.key_id, volunteer=volunteer, cosigners=cosigners,
        unchecked_signatures=len(others) - len(cosigners),
    )


def _cosigners(checkpoint: Checkpoint, lines: Sequence, witnesses: Sequence[VerifierKey]) -> list[str]:
    """Key ids of the trusted witnesses that cosigned; a line in a trusted witness's name and key
    hash that does not verify is a forgery, and refuses the receipt."""
    found = set()
    for witness in witnesses:
        claimed = [s for s in lines if s.name == witness.name and s.key_hash == witness.hash]
        if not claimed:
            continue
        if not any(verify_cosignature(checkpoint.text, s, witness) is not None for s in claimed):
            raise ReceiptError(msg("the cosignature of witness {key} does not verify", key=witness.key_id))
        found.add(witness.key_id)
    return sorted(found)


def _load(data: bytes | str | dict) -> dict:
    try:
        receipt = json.loads(data) if isinstance(data, bytes | str) else data
    except UnicodeDecodeError:
        raise ReceiptError(msg("the receipt is not JSON: it is not UTF-8 text")) from None
    except json.JSONDecodeError as exc:
        raise ReceiptError(msg("the receipt is not JSON (at line {line}, column {column})",
                               line=exc.lineno, column=exc.colno)) from None
    if not isinstance(receipt, dict) or receipt.get("format") != FORMAT:
        raise ReceiptError(msg("not a {format} document", format=FORMAT))
    required = {"origin": str, "position": int, "leaf_index": int, "tree_size": int, "checkpoint": str,
                "entries": list}
    for name, kind in required.items():
        if type(receipt.get(name)) is not kind:
            raise ReceiptError(msg("field {name!r} is missing or not {kind}", name=name, kind=_KINDS_OF_VALUE[kind]))
    for entry in receipt["entries"]:
        if not isinstance(entry, dict) or not all(
            type(entry.get(k)) is t for k, t in
            {"role": str, "leaf_index": int, "stream": str, "version": int, "type": str, "event": str,
             "inclusion_proof": list}.items()
        ) or not all(isinstance(h, str) for h in entry["inclusion_proof"]):
            raise ReceiptError(msg("an entry is missing role, leaf_index, stream, version, type, event or inclusion_proof"))
    if len({e["role"] for e in receipt["entries"]}) != len(receipt["entries"]):
        raise ReceiptError(msg("an entry role appears twice"))
    return receipt


def _unb64(text: str, what: Msg) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (ValueError, binascii.Error):
        raise ReceiptError(msg("{what} is not base64", what=what)) from None


