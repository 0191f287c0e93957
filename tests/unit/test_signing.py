"""The one signer: RFC 8785 canonical JSON, Ed25519 note keys, and C2SP signed notes."""

from __future__ import annotations

import base64
import hashlib
import os
import stat

import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.signing import (
    SIG_PREFIX,
    KeyFileExists,
    NoteFormatError,
    SigningKey,
    VerifierKey,
    canonical_json,
    key_hash,
    make_note,
    parse_note,
    read_signing_key,
)

# --- canonical JSON (RFC 8785) -------------------------------------------------------------------


def test_canonical_json_sorts_keys_and_drops_whitespace():
    value = {"b": 1, "a": [1, "x", None, True, False], "c": {"z": 0, "y": -5}}
    assert canonical_json(value) == b'{"a":[1,"x",null,true,false],"b":1,"c":{"y":-5,"z":0}}'


def test_canonical_json_sorts_keys_by_utf16_code_units_not_code_points():
    # RFC 8785 §3.2.3: U+1F600 is the surrogate pair D83D DE00, which sorts before U+FB33.
    value = {"\ufb33": 1, "\U0001f600": 2, "\u00e9": 3, "a": 4}
    assert canonical_json(value) == '{"a":4,"\u00e9":3,"\U0001f600":2,"\ufb33":1}'.encode()


def test_canonical_json_string_escaping():
    value = {"s": 'q"b\\/\n\u000f€'}
    assert canonical_json(value) == b'{"s":"q\\"b\\\\/\\n\\u000f' + "€".encode() + b'"}'


def test_canonical_json_integers_are_plain():
    assert canonical_json([0, -1, 123450, 2**53 - 1]) == b"[0,-1,123450,9007199254740991]"


_json_scalars = (
    st.none() | st.booleans() | st.text(max_size=12)
    | st.integers(-(2**53) - 5, 2**53 + 5) | st.integers(-(2**70), 2**70)
)
_json_values = st.recursive(
    _json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=20,
)


def _outcome(encode, value):
    try:
        return encode(value)
    except Exception as exc:  # noqa: BLE001 - only whether both refuse matters
        return type(exc).__mro__[-2]


@settings(max_examples=400, derandomize=True)
@given(_json_values)
def test_canonical_json_fast_path_gives_exactly_the_rfc8785_bytes(value):
    """The standard-library fast path is taken only where it equals RFC 8785: any Unicode text
    (escapes, astral characters, keys that sort differently in UTF-16), any integer size."""
    fast = _outcome(canonical_json, value)
    reference = _outcome(rfc8785.dumps, value)
    if isinstance(reference, bytes):
        assert fast == reference
    else:
        assert not isinstance(fast, bytes)  # both refuse (e.g. integers beyond 2**53, lone surrogates)


@pytest.mark.parametrize("value", [1.5, 1.0, {"amount": 0.1}, [1, [2.0]], {"a": {"b": (1, 2.5)}}])
def test_canonical_json_refuses_floats_anywhere(value):
    with pytest.raises(TypeError):
        canonical_json(value)


# --- keys ----------------------------------------------------------------------------------------


def test_key_hash_is_the_c2sp_definition():
    key = SigningKey.generate("acct")
    public = key.verifier.public_key
    expected = hashlib.sha256(b"acct\n\x01" + public).digest()[:4]
    assert key_hash("acct", public) == expected
    assert key.verifier.hash == expected
    assert key.key_id == f"acct+{expected.hex()}"


def test_vkey_round_trip():
    key = SigningKey.generate("rec-leling")
    vkey = key.verifier.vkey
    name, hash_hex, blob = vkey.split("+", 2)
    assert (name, hash_hex) == ("rec-leling", key.verifier.hash.hex())
    assert base64.b64decode(blob) == b"\x01" + key.verifier.public_key
    assert VerifierKey.from_vkey(vkey) == key.verifier
    assert VerifierKey.from_vkey(vkey + "\n") == key.verifier


def test_vkey_with_wrong_hash_or_name_is_refused():
    key = SigningKey.generate("alice")
    name, hash_hex, blob = key.verifier.vkey.split("+", 2)
    wrong_hash = f"{name}+{'00000000' if hash_hex != '00000000' else '11111111'}+{blob}"
    with pytest.raises(NoteFormatError):
        VerifierKey.from_vkey(wrong_hash)
    with pytest.raises(NoteFormatError):
        VerifierKey.from_vkey(f"bob+{hash_hex}+{blob}")
    with pytest.raises(NoteFormatError):
        VerifierKey.from_vkey("alice+deadbeef+!!notbase64")
    short = base64.b64encode(b"\x01" + b"\x00" * 31).decode()
    with pytest.raises(NoteFormatError):
        VerifierKey.from_vkey(f"alice+{hash_hex}+{short}")


def test_skey_has_the_note_private_key_format():
    key = SigningKey.generate("alice")
    private, keyword, name, hash_hex, blob = key.skey.split("+", 4)
    assert (private, keyword, name, hash_hex) == ("PRIVATE", "KEY", "alice", key.verifier.hash.hex())
    assert base64.b64decode(blob) == b"\x01" + key.seed


def test_skey_round_trip():
    key = SigningKey.generate("alice")
    assert SigningKey.from_skey(key.skey) == key
    assert SigningKey.from_skey(key.skey + "\n").verifier == key.verifier


def test_skey_with_wrong_hash_is_refused():
    key = SigningKey.generate("alice")
    private, keyword, name, hash_hex, blob = key.skey.split("+", 4)
    with pytest.raises(NoteFormatError):
        SigningKey.from_skey(f"{private}+{keyword}+{name}+00000000+{blob}")
    with pytest.raises(NoteFormatError):
        SigningKey.from_skey(key.verifier.vkey)


@pytest.mark.parametrize("name", ["", "has space", "a+b", "é", "x" * 101, "-lead"])
def test_key_names_are_restricted(name):
    with pytest.raises(ValueError):
        SigningKey.generate(name)


# --- signed notes --------------------------------------------------------------------------------


def test_make_note_and_parse_note_round_trip():
    a, b = SigningKey.generate("alice"), SigningKey.generate("bob")
    text = "第一行 line one\nline two\n".encode()
    data = make_note(text, a, b)
    assert data.startswith(text + b"\n" + SIG_PREFIX.encode() + b"alice ")
    note = parse_note(data)
    assert note.text == text
    assert [s.name for s in note.signatures] == ["alice", "bob"]
    assert [s.key_hash for s in note.signatures] == [a.verifier.hash, b.verifier.hash]
    assert note.signatures[0].key_id == a.key_id
    assert a.verifier.verify(note.text, note.signatures[0].signature)
    assert b.verifier.verify(note.text, note.signatures[1].signature)
    assert not a.verifier.verify(note.text, note.signatures[1].signature)
    assert not a.verifier.verify(note.text.replace(b"one", b"One"), note.signatures[0].signature)


@pytest.mark.parametrize("text", [b"no newline", b"two\n\nparagraphs\n", b"ends twice\n\n"])
def test_make_note_refuses_text_that_would_not_parse_back(text):
    with pytest.raises(ValueError):
        make_note(text, SigningKey.generate("alice"))


def _sig_line(name: str, raw: bytes) -> bytes:
    return f"{SIG_PREFIX}{name} {base64.b64encode(raw).decode()}\n".encode()


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(b"text\n" + _sig_line("alice", b"\x00" * 68), id="no-blank-line"),
        pytest.param(b"text\n\n", id="no-signature-lines"),
        pytest.param(b"text\n\n" + _sig_line("alice", b"\x00" * 68)[:-1], id="no-final-newline"),
        pytest.param(b"text\n\n- alice " + base64.b64encode(b"\x00" * 68) + b"\n", id="hyphen-not-em-dash"),
        pytest.param(b"text\n\n" + SIG_PREFIX.encode() + b"alice\n", id="no-signature"),
        pytest.param(b"text\n\n" + SIG_PREFIX.encode() + b"alice not*base64\n", id="bad-base64"),
        pytest.param(b"text\n\n" + SIG_PREFIX.encode() + b"alice x y\n", id="extra-field"),
        pytest.param(b"text\n\n" + _sig_line("alice", b"\x00" * 67), id="too-short"),
        pytest.param(b"text\n\n" + _sig_line("alice", b"\x00" * 69), id="too-long"),
        pytest.param(b"text\n\n\xff\xfe\n", id="not-utf8"),
    ],
)
def test_parse_note_rejects_malformed_notes(data):
    with pytest.raises(NoteFormatError):
        parse_note(data)


def test_signature_by_another_key_with_the_same_name_does_not_verify():
    real, impostor = SigningKey.generate("acct"), SigningKey.generate("acct")
    assert real.verifier.hash != impostor.verifier.hash
    text = b'{"amount":100}\n'
    forged = parse_note(make_note(text, impostor)).signatures[0]
    assert forged.name == "acct"
    assert forged.key_id != real.key_id
    assert not real.verifier.verify(text, forged.signature)
    # Even with the real key's hash pasted in, the Ed25519 signature is not the real key's.
    pasted = base64.b64encode(real.verifier.hash + forged.signature).decode()
    note = parse_note(text + b"\n" + f"{SIG_PREFIX}acct {pasted}\n".encode())
    assert note.signatures[0].key_id == real.key_id
    assert not real.verifier.verify(note.text, note.signatures[0].signature)


# --- key files -----------------------------------------------------------------------------------


def test_key_files_are_written_private(tmp_path):
    old_umask = os.umask(0o022)
    try:
        key = SigningKey.generate("org:leling/rec")
        path = key.write(tmp_path / "keys")
    finally:
        os.umask(old_umask)
    assert path.name == "org_leling_rec.key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_text() == key.skey + "\n"
    pub = tmp_path / "keys" / "org_leling_rec.pub"
    assert VerifierKey.from_vkey(pub.read_text()) == key.verifier


def test_a_key_file_is_never_written_over_and_a_loose_one_is_refused(tmp_path):
    key = SigningKey.generate("alice")
    path = key.write(tmp_path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    path.chmod(0o644)
    with pytest.raises(KeyFileExists):
        SigningKey.generate("alice").write(tmp_path)
    assert SigningKey.from_skey(path.read_text()) == key
    with pytest.raises(PermissionError, match="chmod 600"):
        read_signing_key(tmp_path, "alice")


def test_read_signing_key_round_trip(tmp_path):
    key = SigningKey.generate("alice")
    key.write(tmp_path)
    assert read_signing_key(tmp_path, "alice") == key


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604])
def test_read_signing_key_refuses_files_readable_by_others(tmp_path, mode):
    key = SigningKey.generate("alice")
    path = key.write(tmp_path)
    path.chmod(mode)
    with pytest.raises(PermissionError):
        read_signing_key(tmp_path, "alice")


def test_read_signing_key_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError):
        read_signing_key(tmp_path, "nobody")
