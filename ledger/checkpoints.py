"""Signed checkpoints (C2SP tlog-checkpoint) and witness cosignatures (C2SP tlog-cosignature/v1).

A checkpoint is a signed note whose text is three lines — the log's origin, the tree size in
decimal, the base64 root hash — signed by the log key, whose name is the origin. A witness adds a
line ``— <witness> base64(key hash || u64 timestamp || signature)`` signing
``cosignature/v1\\ntime <timestamp>\\n`` followed by the checkpoint text, after checking that the
checkpoint is consistent with the last one it cosigned.
"""

from __future__ import annotations

import base64
import binascii
import itertools
import re
import struct
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from eventsourcing.persistence import IntegrityError

from ledger import merkle
from ledger.messages import Explained, explain, msg
from ledger.sidetables import SideTables, storable
from ledger.signing import (
    ALG_COSIGNATURE,
    SIG_PREFIX,
    Note,
    NoteFormatError,
    Signature,
    SigningKey,
    VerifierKey,
    make_note,
    parse_note,
)

CHECKPOINTS = "wushe_checkpoints"
COSIGNATURES = "wushe_cosignatures"

_SIZE = re.compile(r"^(0|[1-9][0-9]{0,18})$")


class CheckpointError(Explained, ValueError):
    """A checkpoint or cosignature that is malformed or does not verify."""


@dataclass(frozen=True)
class Checkpoint:
    """A tree head: the log's origin, a tree size and the root hash at that size."""

    origin: str
    size: int
    root: bytes

    @property
    def text(self) -> bytes:
        """The note text that is signed."""
        return f"{self.origin}\n{self.size}\n{base64.b64encode(self.root).decode()}\n".encode()


def parse_checkpoint_text(text: bytes) -> Checkpoint:
    """Strictly parse a checkpoint's note text (extension lines are refused: this log writes none)."""
    try:
        lines = text.decode("utf-8").split("\n")
    except UnicodeDecodeError:
        raise CheckpointError(msg("checkpoint text is not UTF-8")) from None
    if len(lines) != 4 or lines[3] != "":
        raise CheckpointError(msg("checkpoint text must be exactly three lines: origin, size, root hash"))
    origin, size, root_b64 = lines[:3]
    if not origin or " " in origin or "+" in origin:
        raise CheckpointError(msg("checkpoint origin is empty or contains a space or '+'"))
    if not _SIZE.match(size):
        raise CheckpointError(msg("checkpoint tree size {size} is not a decimal number", size=repr(size[:20])))
    try:
        root = base64.b64decode(root_b64, validate=True)
    except (ValueError, binascii.Error):
        raise CheckpointError(msg("checkpoint root hash is not base64")) from None
    if len(root) != merkle.HASH_SIZE or base64.b64encode(root).decode() != root_b64:
        raise CheckpointError(msg("checkpoint root hash is not 32 bytes in canonical base64"))
    return Checkpoint(origin, int(size), root)


def sign_checkpoint(checkpoint: Checkpoint, log_key: SigningKey) -> bytes:
    """The signed note of a checkpoint; the log key's name must be the origin."""
    if log_key.name != checkpoint.origin:
        raise CheckpointError(msg("the log key is named {name}, the origin is {origin}", name=repr(log_key.name),
                                  origin=repr(checkpoint.origin)))
    return make_note(checkpoint.text, log_key)


def open_checkpoint(note_bytes: bytes, log_key: VerifierKey) -> tuple[Checkpoint, Note]:
    """Parse a signed checkpoint and check the log key's signature on it."""
    try:
        note = parse_note(note_bytes)
    except NoteFormatError as exc:
        raise CheckpointError(msg("not a signed checkpoint: {problem}", problem=explain(exc))) from None
    checkpoint = parse_checkpoint_text(note.text)
    if checkpoint.origin != log_key.name:
        raise CheckpointError(msg("checkpoint of {origin}, but the log key is {name}", origin=repr(checkpoint.origin),
                                  name=repr(log_key.name)))
    for signature in note.signatures:
        if signature.name == log_key.name and signature.key_hash == log_key.hash:
            if len(signature.signature) == 64 and log_key.verify(note.text, signature.signature):
                return checkpoint, note
            raise CheckpointError(msg("the log's signature on the checkpoint does not verify"))
    raise CheckpointError(msg("the checkpoint carries no signature by {key}", key=log_key.key_id))


def cosigned_message(checkpoint_text: bytes, timestamp: int) -> bytes:
    return b"cosignature/v1\ntime " + str(timestamp).encode() + b"\n" + checkpoint_text


def cosignature_line(checkpoint_text: bytes, witness_key: SigningKey, timestamp: int) -> str:
    """A witness's cosignature line over a checkpoint text at a POSIX ``timestamp``."""
    if witness_key.alg != ALG_COSIGNATURE:
        raise CheckpointError(msg("witness keys have signature type 0x04 (`wushe witness init` makes one)"))
    if not 0 <= timestamp < 2**63:
        raise CheckpointError(msg("cosignature timestamp out of range"))
    signature = witness_key.sign(cosigned_message(checkpoint_text, timestamp))
    blob = base64.b64encode(witness_key.verifier.hash + struct.pack(">Q", timestamp) + signature).decode()
    return f"{SIG_PREFIX}{witness_key.name} {blob}\n"


def verify_cosignature(checkpoint_text: bytes, signature: Signature, witness: VerifierKey) -> int | None:
    """The cosignature's timestamp if it is the witness's valid cosignature, else None."""
    if signature.name != witness.name or signature.key_hash != witness.hash or len(signature.signature) != 72:
        return None
    (timestamp,) = struct.unpack(">Q", signature.signature[:8])
    if not witness.verify(cosigned_message(checkpoint_text, timestamp), signature.signature[8:]):
        return None
    return timestamp


@dataclass(frozen=True)
class StoredCheckpoint:
    """A checkpoint as kept by the ledger, with the cosignatures witnesses added."""

    checkpoint: Checkpoint
    note: bytes
    """The signed note, with every cosignature line appended."""
    signed_at: str
    cosigners: tuple[str, ...]


class CheckpointStore:
    """Every checkpoint the ledger ever signed, and its cosignatures; nothing is deleted."""

    def __init__(self, recorder: Any, *, read_only: bool = False,
                 on_publish: Callable[[Checkpoint, bytes, bool], Any] | None = None) -> None:
        """``on_publish(checkpoint, note, witnessed)`` is told of each checkpoint kept here and of
        each cosignature (``ledger.published`` keeps the newest outside the database)."""
        self.tables = SideTables(recorder)
        self.on_publish = on_publish
        self._writes = itertools.count(1)
        self.generation = 0
        """How many checkpoints and cosignatures this process kept here: a tag basis read before
        the latest of them is stale (``projections.keeper.Basis``)."""
        if read_only:
            return  # a read copy of the store: the tables are the primary's
        t = self.tables
        with t.transaction(commit=True, lock=CHECKPOINTS) as cursor:
            cursor.execute(
                f"CREATE TABLE IF NOT EXISTS {t.table(CHECKPOINTS)} (tree_size {t.bigint} PRIMARY KEY, "
                f"root_hash {t.blob} NOT NULL, note {t.blob} NOT NULL, signed_at TEXT NOT NULL)"
            )
            cursor.execute(
                f"CREATE TABLE IF NOT EXISTS {t.table(COSIGNATURES)} (tree_size {t.bigint} NOT NULL, "
                "witness TEXT NOT NULL, line TEXT NOT NULL, cosigned_at TEXT NOT NULL, "
                "PRIMARY KEY (tree_size, witness))"
            )

    def add(self, note: bytes, checkpoint: Checkpoint) -> bool:
        """Keep a newly signed checkpoint; False if one of that size was kept already."""
        try:
            with self.tables.transaction(commit=True) as cursor:
                cursor.execute(
                    f"INSERT INTO {self.tables.table(CHECKPOINTS)} (tree_size, root_hash, note, signed_at) "
                    "VALUES (?, ?, ?, ?)",
                    (checkpoint.size, checkpoint.root, note, _now()),
                )
        except IntegrityError:
            return False
        self.generation = next(self._writes)
        if self.on_publish is not None:
            self.on_publish(checkpoint, note, False)
        return True

    def add_cosignature(self, checkpoint: Checkpoint, witness: VerifierKey, line: str) -> None:
        """Keep a witness's cosignature line, once it verifies over a checkpoint kept here."""
        kept = self.at(checkpoint.size)
        if kept is None or kept.checkpoint != checkpoint:
            raise CheckpointError(msg("no checkpoint of size {size} with that root was signed here", size=checkpoint.size))
        try:
            signature = parse_note(checkpoint.text + b"\n" + line.encode()).signatures
        except (NoteFormatError, UnicodeError):
            raise CheckpointError(msg("not a cosignature line")) from None
        if len(signature) != 1 or verify_cosignature(checkpoint.text, signature[0], witness) is None:
            raise CheckpointError(msg("the cosignature does not verify under {key}", key=witness.key_id))
        with self.tables.transaction(commit=True) as cursor:
            cursor.execute(
                f"INSERT INTO {self.tables.table(COSIGNATURES)} (tree_size, witness, line, cosigned_at) "
                "VALUES (?, ?, ?, ?)",
                (checkpoint.size, witness.key_id, line, _now()),
            )
        self.generation = next(self._writes)
        if self.on_publish is not None:
            self.on_publish(checkpoint, self.at(checkpoint.size).note, True)  # type: ignore[union-attr]

    def latest(self) -> StoredCheckpoint | None:
        row = self.tables.fetchone(f"SELECT MAX(tree_size) FROM {self.tables.table(CHECKPOINTS)}")
        return None if row is None or row[0] is None else self.at(int(row[0]))

    def standing(self) -> tuple[int, int]:
        """(the latest checkpoint's tree size, how many witnesses cosigned it), or (0, 0): what a
        public answer's tag names of the checkpoints, in one statement (``api.caching.fresh``
        asks it on every request, a cached answer's included)."""
        t = self.tables
        row = t.fetchone(
            f"SELECT c.tree_size, (SELECT COUNT(*) FROM {t.table(COSIGNATURES)} w WHERE w.tree_size = c.tree_size) "
            f"FROM {t.table(CHECKPOINTS)} c ORDER BY c.tree_size DESC LIMIT 1"
        )
        return (0, 0) if row is None else (int(row[0]), int(row[1]))

    def at(self, size: int) -> StoredCheckpoint | None:
        if not storable(size):
            return None
        t = self.tables
        row = t.fetchone(f"SELECT note, signed_at FROM {t.table(CHECKPOINTS)} WHERE tree_size = ?", (size,))
        if row is None:
            return None
        lines = t.fetchall(
            f"SELECT witness, line FROM {t.table(COSIGNATURES)} WHERE tree_size = ? ORDER BY cosigned_at, witness",
            (size,),
        )
        note = bytes(row[0]) + "".join(line for _, line in lines).encode()
        checkpoint = parse_checkpoint_text(parse_note(bytes(row[0])).text)
        return StoredCheckpoint(checkpoint, note, row[1], tuple(w for w, _ in lines))

    def sizes(self) -> list[int]:
        rows = self.tables.fetchall(f"SELECT tree_size FROM {self.tables.table(CHECKPOINTS)} ORDER BY tree_size")
        return [int(r[0]) for r in rows]

    def covering(self, leaf_index: int) -> StoredCheckpoint | None:
        """The smallest checkpoint whose tree contains the leaf."""
        row = self.tables.fetchone(
            f"SELECT MIN(tree_size) FROM {self.tables.table(CHECKPOINTS)} WHERE tree_size > ?", (leaf_index,)
        )
        return None if row is None or row[0] is None else self.at(int(row[0]))


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
