"""Checkpoints (C2SP tlog-checkpoint) and cosignatures (C2SP tlog-cosignature/v1), byte by byte.

The expected bytes are recomputed here with hashlib and cryptography alone, so these tests do not
trust the code they check."""

from __future__ import annotations

import base64
import hashlib
import struct

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from ledger.checkpoints import (
    Checkpoint,
    CheckpointError,
    cosignature_line,
    open_checkpoint,
    parse_checkpoint_text,
    sign_checkpoint,
    verify_cosignature,
)
from ledger.signing import ALG_COSIGNATURE, SigningKey, parse_note

ORIGIN = "wushe.example/changning"
ROOT = hashlib.sha256(b"some tree").digest()
ROOT_B64 = base64.b64encode(ROOT).decode()
EM_DASH = "\u2014".encode()
URLSAFE_ROOT = base64.urlsafe_b64encode(bytes([0xFB]) * 32).decode()


def _public(seed: bytes) -> bytes:
    return Ed25519PrivateKey.from_private_bytes(seed).public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


def _key_hash(name: str, seed: bytes, alg: int) -> bytes:
    return hashlib.sha256(name.encode() + b"\n" + bytes([alg]) + _public(seed)).digest()[:4]


@pytest.fixture(scope="module")
def log_key() -> SigningKey:
    return SigningKey.generate(ORIGIN)


@pytest.fixture(scope="module")
def witness_key() -> SigningKey:
    return SigningKey.generate("mca.changning.example/witness", ALG_COSIGNATURE)


# --- the text -------------------------------------------------------------------------------------


def test_checkpoint_text_is_origin_size_root_each_on_its_own_line():
    text = Checkpoint(ORIGIN, 1234, ROOT).text
    assert text == f"{ORIGIN}\n1234\n{ROOT_B64}\n".encode()
    assert Checkpoint(ORIGIN, 0, hashlib.sha256(b"").digest()).text == (
        b"wushe.example/changning\n0\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n")
    assert parse_checkpoint_text(text) == Checkpoint(ORIGIN, 1234, ROOT)


def _noncanonical_root() -> str:
    # 32 bytes in base64 end in one data character carrying 4 bits and 2 padding bits that must be 0
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    last = ROOT_B64[-2]
    bumped = alphabet[alphabet.index(last) ^ 1]
    text = ROOT_B64[:-2] + bumped + "="
    assert base64.b64decode(text) == ROOT  # same bytes, different text
    return text


@pytest.mark.parametrize(
    "text, why",
    [
        (f"{ORIGIN}\n12\n{ROOT_B64}\nextension line\n", "extension line"),
        (f"{ORIGIN}\n12\n{ROOT_B64}", "no final newline"),
        (f"{ORIGIN}\n12\n{ROOT_B64}\n\n", "blank line"),
        (f"{ORIGIN}\n12\n", "no root"),
        (f"{ORIGIN}\n012\n{ROOT_B64}\n", "leading zero"),
        (f"{ORIGIN}\n00\n{ROOT_B64}\n", "leading zero"),
        (f"{ORIGIN}\n+12\n{ROOT_B64}\n", "plus sign"),
        (f"{ORIGIN}\n-1\n{ROOT_B64}\n", "negative"),
        (f"{ORIGIN}\n 12\n{ROOT_B64}\n", "space"),
        (f"{ORIGIN}\n1e3\n{ROOT_B64}\n", "exponent"),
        (f"{ORIGIN}\n１２\n{ROOT_B64}\n", "full-width digits"),
        (f"{ORIGIN}\n12\n{_noncanonical_root()}\n", "non-canonical base64"),
        (f"{ORIGIN}\n12\n{ROOT_B64.rstrip('=')}\n", "unpadded base64"),
        (f"{ORIGIN}\n12\n{URLSAFE_ROOT}\n", "URL-safe alphabet"),
        (f"{ORIGIN}\n12\n{base64.b64encode(ROOT[:31]).decode()}\n", "31-byte root"),
        (f"{ORIGIN}\n12\n{base64.b64encode(ROOT + b'x').decode()}\n", "33-byte root"),
        (f"wushe.example+x\n12\n{ROOT_B64}\n", "'+' in origin"),
        (f"wushe example\n12\n{ROOT_B64}\n", "space in origin"),
        (f"\n12\n{ROOT_B64}\n", "empty origin"),
    ],
)
def test_parsing_is_strict(text, why):
    with pytest.raises(CheckpointError):
        parse_checkpoint_text(text.encode())


def test_parsing_refuses_bytes_that_are_not_utf8():
    with pytest.raises(CheckpointError, match="UTF-8"):
        parse_checkpoint_text(b"wushe\xff\n12\n" + ROOT_B64.encode() + b"\n")


# --- the log's signature --------------------------------------------------------------------------


def test_signed_checkpoint_is_a_note_with_the_log_signature_recomputed_independently(log_key):
    checkpoint = Checkpoint(ORIGIN, 77, ROOT)
    note = sign_checkpoint(checkpoint, log_key)
    text = f"{ORIGIN}\n77\n{ROOT_B64}\n".encode()
    signature = Ed25519PrivateKey.from_private_bytes(log_key.seed).sign(text)  # Ed25519 is deterministic
    blob = base64.b64encode(_key_hash(ORIGIN, log_key.seed, 0x01) + signature)
    assert note == text + b"\n" + EM_DASH + b" " + ORIGIN.encode() + b" " + blob + b"\n"
    opened, parsed = open_checkpoint(note, log_key.verifier)
    assert opened == checkpoint and parsed.text == text


def test_only_a_key_named_after_the_origin_signs_its_checkpoints():
    with pytest.raises(CheckpointError, match="origin"):
        sign_checkpoint(Checkpoint(ORIGIN, 1, ROOT), SigningKey.generate("root"))


def test_open_checkpoint_refuses_another_key_of_the_same_name(log_key):
    note = sign_checkpoint(Checkpoint(ORIGIN, 5, ROOT), log_key)
    impostor = SigningKey.generate(ORIGIN)
    with pytest.raises(CheckpointError, match="no signature by"):
        open_checkpoint(note, impostor.verifier)


def test_open_checkpoint_refuses_a_checkpoint_of_another_origin(log_key):
    other = SigningKey.generate("other.example/log")
    note = sign_checkpoint(Checkpoint("other.example/log", 5, ROOT), other)
    with pytest.raises(CheckpointError, match="other.example/log"):
        open_checkpoint(note, log_key.verifier)


@pytest.mark.parametrize(
    "old, new",
    [(b"\n5\n", b"\n6\n"), (b"\n5\n", b"\n50\n"), (ROOT_B64.encode(), base64.b64encode(b"\x00" * 32))],
    ids=["size+1", "size*10", "root"],
)
def test_open_checkpoint_refuses_a_tampered_text(log_key, old, new):
    note = sign_checkpoint(Checkpoint(ORIGIN, 5, ROOT), log_key)
    tampered = note.replace(old, new, 1)
    assert tampered != note
    with pytest.raises(CheckpointError, match="does not verify"):
        open_checkpoint(tampered, log_key.verifier)


def test_open_checkpoint_refuses_garbage_and_a_cosignature_shaped_log_line(log_key):
    with pytest.raises(CheckpointError):
        open_checkpoint(b"not a note at all", log_key.verifier)
    checkpoint = Checkpoint(ORIGIN, 5, ROOT)
    # a 4 + 8 + 64 byte line under the log key's own name and hash is not the log's signature
    forged = cosignature_line(checkpoint.text, SigningKey(ORIGIN, log_key.seed, ALG_COSIGNATURE), 1)
    blob = base64.b64decode(forged.split(" ")[-1])
    line = f"\u2014 {ORIGIN} " + base64.b64encode(log_key.verifier.hash + blob[4:]).decode() + "\n"
    with pytest.raises(CheckpointError, match="does not verify"):
        open_checkpoint(checkpoint.text + b"\n" + line.encode(), log_key.verifier)


# --- cosignatures ---------------------------------------------------------------------------------


def test_cosignature_line_follows_tlog_cosignature_v1_byte_for_byte(log_key, witness_key):
    text = Checkpoint(ORIGIN, 77, ROOT).text
    timestamp = 1_795_000_000
    line = cosignature_line(text, witness_key, timestamp)

    message = b"cosignature/v1\ntime 1795000000\n" + text
    signature = Ed25519PrivateKey.from_private_bytes(witness_key.seed).sign(message)
    key_hash = _key_hash(witness_key.name, witness_key.seed, 0x04)
    assert key_hash != _key_hash(witness_key.name, witness_key.seed, 0x01)
    blob = key_hash + (1_795_000_000).to_bytes(8, "big") + signature
    assert len(blob) == 4 + 8 + 64
    assert line == f"\u2014 mca.changning.example/witness {base64.b64encode(blob).decode()}\n"

    note = sign_checkpoint(Checkpoint(ORIGIN, 77, ROOT), log_key) + line.encode()
    _, parsed = open_checkpoint(note, log_key.verifier)  # the log's signature still opens it
    [cosig] = [s for s in parsed.signatures if s.name == witness_key.name]
    assert verify_cosignature(text, cosig, witness_key.verifier) == timestamp


def test_verify_cosignature_refuses_a_changed_timestamp_text_or_key(log_key, witness_key):
    text = Checkpoint(ORIGIN, 77, ROOT).text
    line = cosignature_line(text, witness_key, 1_795_000_000)
    [cosig] = parse_note(text + b"\n" + line.encode()).signatures
    assert verify_cosignature(text, cosig, witness_key.verifier) == 1_795_000_000

    later = type(cosig)(cosig.name, cosig.key_hash, struct.pack(">Q", 1_795_000_001) + cosig.signature[8:])
    assert verify_cosignature(text, later, witness_key.verifier) is None
    assert verify_cosignature(Checkpoint(ORIGIN, 78, ROOT).text, cosig, witness_key.verifier) is None
    other = SigningKey.generate(witness_key.name, ALG_COSIGNATURE)
    assert verify_cosignature(text, cosig, other.verifier) is None
    # the log's own 64-byte signature is not a cosignature
    [log_sig] = parse_note(sign_checkpoint(Checkpoint(ORIGIN, 77, ROOT), log_key)).signatures
    assert verify_cosignature(text, log_sig, log_key.verifier) is None


def test_cosignature_needs_a_witness_key_and_a_timestamp_in_range(log_key, witness_key):
    text = Checkpoint(ORIGIN, 1, ROOT).text
    with pytest.raises(CheckpointError, match="0x04"):
        cosignature_line(text, log_key, 1)
    for bad in (-1, 2**63):
        with pytest.raises(CheckpointError, match="range"):
            cosignature_line(text, witness_key, bad)
    assert cosignature_line(text, witness_key, 0)
