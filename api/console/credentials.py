"""Staff passwords and the signing keys they seal (登录凭据): a principal's Ed25519 key is kept
encrypted under a key stretched from their password (Argon2id) and mixed with the server secret, so
the operator's database plus the server secret is not enough to sign as anyone.

Nothing that can check a password is stored apart from the sealed key itself: a password is right
when it opens the seal (AES-GCM authenticates). Guessing offline therefore needs the database AND
the server secret, and costs one Argon2id per guess. The optional TOTP secret (pyotp) is sealed
inside the same envelope."""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

from argon2.low_level import Type, hash_secret_raw
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from api.console.settings import ConsoleSettings
from ledger.application import Ledger
from ledger.errors import InvalidInput, NotFound
from ledger.sidetables import SideTables
from ledger.signing import SigningKey

CREDENTIALS = "wushe_console_credentials"
SEAL_INFO = b"wushe-console-seal/v1"
MIN_PASSWORD = 10
"""Shortest password accepted (NIST SP 800-63B asks for at least 8; staff sign key material)."""


def wrapping_key(password: str, salt: bytes, server_secret: bytes, *, time_cost: int, memory_kib: int,
                 parallelism: int) -> bytes:
    """The 32-byte key that seals a principal's signing key: Argon2id of the password, then HKDF
    keyed with the server secret (either alone is useless)."""
    stretched = hash_secret_raw(password.encode(), salt, time_cost=time_cost, memory_cost=memory_kib,
                                parallelism=parallelism, hash_len=32, type=Type.ID)
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=server_secret, info=SEAL_INFO).derive(stretched)


@dataclass(frozen=True)
class Unsealed:
    """What a right password opens: the signing key and, if enrolled, the TOTP secret."""

    key: SigningKey
    totp_secret: str | None
    last_totp_step: int


def _aad(handle: str, key_id: str) -> bytes:
    return f"{handle}\n{key_id}".encode()


def check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise InvalidInput("password", f"at least {MIN_PASSWORD} characters", f"密码至少 {MIN_PASSWORD} 个字符")
    if password != password.strip():
        raise InvalidInput("password", "no spaces at the start or end", "首尾不能有空格")


class CredentialStore:
    """The credential table beside the events: one row per principal who may sign in."""

    def __init__(self, ledger: Ledger, server_secret: bytes, settings: ConsoleSettings | None = None) -> None:
        self.ledger = ledger
        self.secret = server_secret
        self.settings = settings or ConsoleSettings()
        self.tables = SideTables(ledger.recorder)
        t = self.tables
        with t.transaction(commit=True, lock=CREDENTIALS) as cursor:
            cursor.execute(
                f"CREATE TABLE IF NOT EXISTS {t.table(CREDENTIALS)} (handle TEXT PRIMARY KEY, key_id TEXT NOT NULL, "
                f"salt {t.blob} NOT NULL, time_cost INTEGER NOT NULL, memory_kib INTEGER NOT NULL, "
                f"parallelism INTEGER NOT NULL, sealed {t.blob} NOT NULL, totp INTEGER NOT NULL, "
                f"last_totp_step {t.bigint} NOT NULL DEFAULT 0, updated_at TEXT NOT NULL)"
            )

    def set_password(self, key: SigningKey, password: str, *, totp_secret: str | None = None) -> None:
        """Seal ``key`` (the principal's current signing key) under ``password``; replaces any
        earlier password of the principal."""
        check_password(password)
        record = self.ledger.directory().key(key.key_id)
        if record is None or record.principal != key.name:
            raise NotFound("registered key", key.key_id, field="handle")
        if record.revoked_at is not None:
            raise InvalidInput("handle", f"key {key.key_id} is revoked", f"密钥 {key.key_id} 已吊销")
        s = self.settings
        salt = secrets.token_bytes(16)
        wrap = wrapping_key(password, salt, self.secret, time_cost=s.argon2_time, memory_kib=s.argon2_memory_kib,
                            parallelism=s.argon2_parallelism)
        nonce = secrets.token_bytes(12)
        inner = json.dumps({"skey": key.skey, "totp": totp_secret}).encode()
        sealed = nonce + AESGCM(wrap).encrypt(nonce, inner, _aad(key.name, key.key_id))
        t = self.tables
        with t.transaction(commit=True) as cursor:
            cursor.execute(f"DELETE FROM {t.table(CREDENTIALS)} WHERE handle = ?", (key.name,))
            cursor.execute(
                f"INSERT INTO {t.table(CREDENTIALS)} (handle, key_id, salt, time_cost, memory_kib, parallelism, "
                "sealed, totp, last_totp_step, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0, ?)",
                (key.name, key.key_id, salt, s.argon2_time, s.argon2_memory_kib, s.argon2_parallelism, sealed,
                 int(totp_secret is not None), datetime.now(UTC).isoformat()),
            )

    def has_password(self, handle: str) -> bool:
        return self.tables.fetchone(f"SELECT 1 FROM {self.tables.table(CREDENTIALS)} WHERE handle = ?",
                                    (handle,)) is not None

    def unseal(self, handle: str, password: str) -> Unsealed | None:
        """The key a right password opens; None for an unknown handle or a wrong password. An
        unknown handle costs the same Argon2id as a known one, so timing does not tell them apart."""
        t = self.tables
        row = t.fetchone(
            f"SELECT key_id, salt, time_cost, memory_kib, parallelism, sealed, last_totp_step "
            f"FROM {t.table(CREDENTIALS)} WHERE handle = ?", (handle,))
        s = self.settings
        if row is None:
            wrapping_key(password, b"\0" * 16, self.secret, time_cost=s.argon2_time, memory_kib=s.argon2_memory_kib,
                         parallelism=s.argon2_parallelism)
            return None
        key_id, salt, time_cost, memory_kib, parallelism, sealed, last_step = row
        sealed = bytes(sealed)
        wrap = wrapping_key(password, bytes(salt), self.secret, time_cost=int(time_cost), memory_kib=int(memory_kib),
                            parallelism=int(parallelism))
        try:
            inner = json.loads(AESGCM(wrap).decrypt(sealed[:12], sealed[12:], _aad(handle, key_id)))
        except InvalidTag:
            return None
        return Unsealed(SigningKey.from_skey(inner["skey"]), inner.get("totp"), int(last_step or 0))

    def use_totp_step(self, handle: str, step: int) -> bool:
        """Record that a TOTP code of time step ``step`` was used; False if it (or a later one) was
        used before: a code works once."""
        t = self.tables
        with t.transaction(commit=True) as cursor:
            cursor.execute(
                f"UPDATE {t.table(CREDENTIALS)} SET last_totp_step = ? WHERE handle = ? AND last_totp_step < ? "
                "RETURNING handle", (step, handle, step))
            return cursor.fetchone() is not None
