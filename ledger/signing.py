"""The one signer: canonical JSON (RFC 8785), Ed25519 keys, and C2SP signed notes.

Every stored event and every checkpoint is a *signed note* (C2SP signed-note): a UTF-8 text ending
in a newline, a blank line, then one or more signature lines ``— <key name> <base64>``, where the
base64 carries the 4-byte key hash followed by the 64-byte Ed25519 signature over the text bytes.
Keys are written in the note key formats: ``PRIVATE+KEY+<name>+<hash>+<base64>`` and
``<name>+<hash>+<base64>`` (the verifier key, "vkey").
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import re
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import rfc8785
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat, PublicFormat

from ledger.filemodes import check_key_dir, private_dir

ALG_ED25519 = 0x01
"""Signature type byte of Ed25519 note keys (events and checkpoints)."""

ALG_COSIGNATURE = 0x04
"""Signature type byte of Ed25519 witness keys (C2SP tlog-cosignature/v1)."""

_ALGS = (ALG_ED25519, ALG_COSIGNATURE)

SIG_PREFIX = "— "
"""An em dash (U+2014) and a space open every signature line."""

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/-]{0,99}$")


class NoteFormatError(ValueError):
    """Bytes that are not a well-formed signed note or key."""


_MAX_SAFE = 2**53 - 1
"""RFC 8785 serialises numbers as IEEE 754 doubles: integers beyond this are not exact."""


def canonical_json(value: Any) -> bytes:
    """RFC 8785 (JCS) bytes of a JSON value; floats are refused because money is integer fen.

    For the ledger's values — string keys within the Basic Multilingual Plane, integers within
    ±(2**53 − 1), strings, booleans, null, lists, objects — the standard library's compact,
    key-sorted JSON is byte for byte RFC 8785 (the same escapes; code-point order equals UTF-16
    order on such keys), and is made in C. Anything else goes to the rfc8785 encoder."""
    if _plain(value):
        return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode("utf-8")
    return rfc8785.dumps(value)


def _plain(value: Any) -> bool:
    """Whether ``value`` is within the fast path; raises TypeError on a float anywhere in it."""
    if isinstance(value, str) or value is None or isinstance(value, bool):
        return True
    if isinstance(value, int):
        return -_MAX_SAFE <= value <= _MAX_SAFE
    if isinstance(value, float):
        raise TypeError("floats are not allowed in signed data")
    if isinstance(value, dict):
        plain = True
        for key, item in value.items():
            if not isinstance(key, str) or (not key.isascii() and max(key) > "\uffff"):
                plain = False
            if not _plain(item):
                plain = False
        return plain
    if isinstance(value, list | tuple):
        plain = True
        for item in value:
            if not _plain(item):
                plain = False
        return plain
    return False


def check_key_name(name: str) -> str:
    """Key names are principal handles: ASCII, no spaces or '+', at most 100 characters."""
    if not _NAME.match(name):
        raise ValueError(f"invalid key name {name!r}: use letters, digits and . _ : / -")
    return name


def key_hash(name: str, public_key: bytes, alg: int = ALG_ED25519) -> bytes:
    """The 4-byte key hash of C2SP signed-note: SHA-256(name || 0x0A || type || public key)[:4]."""
    return hashlib.sha256(name.encode() + b"\n" + bytes([alg]) + public_key).digest()[:4]


@dataclass(frozen=True)
class VerifierKey:
    """A named Ed25519 public key."""

    name: str
    """Key name: the handle of the principal who holds the key."""
    public_key: bytes
    """The 32-byte raw Ed25519 public key."""
    alg: int = ALG_ED25519
    """0x01 for signing notes, 0x04 for witness cosignatures."""

    @cached_property
    def hash(self) -> bytes:
        return key_hash(self.name, self.public_key, self.alg)

    @property
    def key_id(self) -> str:
        """``<name>+<hex key hash>``: how events, checkpoints and docs name this key."""
        return f"{self.name}+{self.hash.hex()}"

    @property
    def vkey(self) -> str:
        """The verifier key string ``<name>+<hash>+<base64(0x01 || key)>``."""
        blob = base64.b64encode(bytes([self.alg]) + self.public_key).decode()
        return f"{self.key_id}+{blob}"

    @cached_property
    def _key(self) -> Ed25519PublicKey:
        return Ed25519PublicKey.from_public_bytes(self.public_key)

    def verify(self, message: bytes, signature: bytes) -> bool:
        """True when ``signature`` is this key's Ed25519 signature of ``message``."""
        try:
            self._key.verify(signature, message)
        except InvalidSignature:
            return False
        return True

    @classmethod
    def from_vkey(cls, text: str) -> VerifierKey:
        """Parse a verifier key string, checking its embedded hash."""
        try:
            name, hash_hex, blob = text.strip().split("+", 2)
            raw = base64.b64decode(blob, validate=True)
        except (ValueError, binascii.Error) as exc:
            raise NoteFormatError(f"not a verifier key: {text[:40]!r}") from exc
        if len(raw) != 33 or raw[0] not in _ALGS:
            raise NoteFormatError("verifier key is not a 32-byte Ed25519 key")
        try:
            key = cls(check_key_name(name), raw[1:], raw[0])
        except ValueError as exc:
            raise NoteFormatError(str(exc)) from None
        if key.hash.hex() != hash_hex:
            raise NoteFormatError(f"verifier key hash mismatch for {name!r}")
        return key


@dataclass(frozen=True)
class SigningKey:
    """A named Ed25519 private key; never stored in the ledger database."""

    name: str
    """Key name: the handle of the principal who holds the key."""
    seed: bytes
    """The 32-byte Ed25519 private seed."""
    alg: int = ALG_ED25519
    """0x01 for signing notes, 0x04 for witness cosignatures."""

    @classmethod
    def generate(cls, name: str, alg: int = ALG_ED25519) -> SigningKey:
        private = Ed25519PrivateKey.generate()
        seed = private.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
        return cls(check_key_name(name), seed, alg)

    @cached_property
    def _private(self) -> Ed25519PrivateKey:
        return Ed25519PrivateKey.from_private_bytes(self.seed)

    @cached_property
    def verifier(self) -> VerifierKey:
        return VerifierKey(self.name, self._private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw), self.alg)

    @property
    def key_id(self) -> str:
        return self.verifier.key_id

    def sign(self, message: bytes) -> bytes:
        return self._private.sign(message)

    def signature_line(self, text: bytes) -> str:
        """The note signature line of this key over ``text``."""
        blob = base64.b64encode(self.verifier.hash + self.sign(text)).decode()
        return f"{SIG_PREFIX}{self.name} {blob}\n"

    @property
    def skey(self) -> str:
        """The private key string ``PRIVATE+KEY+<name>+<hash>+<base64(0x01 || seed)>``."""
        blob = base64.b64encode(bytes([self.alg]) + self.seed).decode()
        return f"PRIVATE+KEY+{self.key_id}+{blob}"

    @classmethod
    def from_skey(cls, text: str) -> SigningKey:
        try:
            private, keyword, name, hash_hex, blob = text.strip().split("+", 4)
            raw = base64.b64decode(blob, validate=True)
        except (ValueError, binascii.Error) as exc:
            raise NoteFormatError("not a private key file") from exc
        if (private, keyword) != ("PRIVATE", "KEY") or len(raw) != 33 or raw[0] not in _ALGS:
            raise NoteFormatError("not an Ed25519 private key file")
        key = cls(check_key_name(name), raw[1:], raw[0])
        if key.verifier.hash.hex() != hash_hex:
            raise NoteFormatError(f"private key hash mismatch for {name!r}")
        return key

    def write(self, directory: Path) -> Path:
        """Write ``<name>.key`` (mode 0600) and ``<name>.pub`` into ``directory``; returns the key path.

        Never replaces a file: a private key lost to an overwrite cannot be had back, and the
        ledger that registered it could no longer sign (KeyFileExists names the file)."""
        private_dir(directory)
        path = directory / f"{key_file_stem(self.name)}.key"
        public = directory / f"{key_file_stem(self.name)}.pub"
        for existing in (path, public):
            if existing.exists():
                raise KeyFileExists(existing)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process wrote it in between
            raise KeyFileExists(path) from None
        with os.fdopen(fd, "w") as handle:
            handle.write(self.skey + "\n")
        os.chmod(path, 0o600)
        with public.open("x") as handle:
            handle.write(self.verifier.vkey + "\n")
        return path


class KeyFileExists(FileExistsError):
    """A key file is already there; the ledger never writes over one."""

    def __init__(self, path: Path) -> None:
        super().__init__(f"{path} already exists; a key file is never overwritten")
        self.path = path


def retire_key_files(directory: Path, name: str, position: int) -> None:
    """Keep a rotated-out key beside its successor: ``<stem>.key`` and ``<stem>.pub`` become
    ``<stem>.retired-<position>.key`` and ``.pub``, after the log position of the rotation."""
    stem = key_file_stem(name)
    for suffix in ("key", "pub"):
        current = directory / f"{stem}.{suffix}"
        if current.exists():
            current.rename(directory / f"{stem}.retired-{position}.{suffix}")


def key_file_stem(name: str) -> str:
    return name.replace("/", "_").replace(":", "_")


def read_signing_key(directory: Path, name: str) -> SigningKey:
    """Load ``<name>.key`` from a key directory, refusing files and directories others may read."""
    check_key_dir(directory)
    path = directory / f"{key_file_stem(name)}.key"
    if not path.exists():
        raise FileNotFoundError(f"no private key for {name!r} in {directory}")
    if path.stat().st_mode & 0o077:
        raise PermissionError(f"{path} must not be readable by group or others (chmod 600)")
    return SigningKey.from_skey(path.read_text())


@dataclass(frozen=True)
class Signature:
    """One signature line of a note."""

    name: str
    """Key name the line claims."""
    key_hash: bytes
    """The 4-byte key hash."""
    signature: bytes
    """What follows the key hash: a 64-byte Ed25519 signature, or for a witness cosignature an
    8-byte big-endian timestamp and then the signature."""

    @property
    def key_id(self) -> str:
        return f"{self.name}+{self.key_hash.hex()}"


@dataclass(frozen=True)
class Note:
    """A parsed signed note: the signed text and its signature lines."""

    text: bytes
    """The signed bytes: everything before the blank line, including the final newline."""
    signatures: tuple[Signature, ...]


def make_note(text: bytes, *keys: SigningKey) -> bytes:
    """Sign ``text`` (which must end in exactly one newline) with every key."""
    if not text.endswith(b"\n") or b"\n\n" in text:
        raise ValueError("note text must end in one newline and contain no blank line")
    return text + b"\n" + "".join(k.signature_line(text) for k in keys).encode()


def parse_note(data: bytes) -> Note:
    """Split a signed note into its text and signatures, strictly."""
    split = data.rfind(b"\n\n")
    if split < 0 or not data.endswith(b"\n"):
        raise NoteFormatError("no blank line between text and signatures")
    text, tail = data[: split + 1], data[split + 2 :]
    try:
        lines = tail.decode("utf-8").split("\n")[:-1]
    except UnicodeDecodeError as exc:
        raise NoteFormatError("signature lines are not UTF-8") from exc
    if not lines:
        raise NoteFormatError("no signature lines")
    signatures = []
    for line in lines:
        if not line.startswith(SIG_PREFIX):
            raise NoteFormatError(f"malformed signature line {line[:40]!r}")
        try:
            name, blob = line[len(SIG_PREFIX) :].split(" ")
            raw = base64.b64decode(blob, validate=True)
        except (ValueError, binascii.Error) as exc:
            raise NoteFormatError(f"malformed signature line {line[:40]!r}") from exc
        if len(raw) not in (68, 76):
            raise NoteFormatError(f"signature of {name!r} is neither 4 + 64 nor 4 + 8 + 64 bytes")
        signatures.append(Signature(name, raw[:4], raw[4:]))
    return Note(text, tuple(signatures))
