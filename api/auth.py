"""Bearer API tokens mapped to principals, and the signing keys the server holds for them.

A token is 32 random bytes shown once when issued (``wushe users token``); only its SHA-256 is
stored. Beside the hash the server keeps the principal's Ed25519 signing key sealed with AES-GCM
under a key from the API settings, so a copy of the database alone can neither sign nor log in.
Each write the token makes is signed with that key: the event names the person who acted."""

from __future__ import annotations

import base64
import hashlib
import os
import secrets
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.idempotency import KEYS, Remembered, create_table
from api.problems import Forbidden, Unauthenticated
from ledger.application import Actor, Ledger
from ledger.errors import InvalidInput, KeyRevoked, NotFound, UnknownKey
from ledger.filemodes import private_dir
from ledger.messages import msg
from ledger.principals import DIRECTORY_ID, ROLE_NAMES, ROLES, Principal
from ledger.sidetables import SideTables
from ledger.signing import SigningKey

TOKENS = "wushe_api_tokens"
TOKEN_PREFIX = "wst_"


def load_secret(path: Path) -> bytes:
    """The 32-byte sealing key from ``path``, created (mode 0600) if the file does not exist yet."""
    if not path.exists():
        private_dir(path.parent)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # another process created it first
        else:
            with os.fdopen(fd, "w") as handle:
                handle.write(base64.b64encode(AESGCM.generate_key(bit_length=256)).decode() + "\n")
    raw = base64.b64decode(path.read_text().strip(), validate=True)
    if len(raw) != 32:
        raise InvalidInput("WUSHE_API_SECRET_FILE", "the API secret must be 32 bytes in base64")
    return raw


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class TokenInfo:
    """One issued token, as listed to administrators (never the token itself)."""

    token_id: str
    """The first 12 hex digits of the token's hash."""
    handle: str
    key_id: str
    label: str
    created_at: str
    revoked_at: str | None


class TokenStore:
    """The token table beside the events, and the sealed keys in it."""

    def __init__(self, ledger: Ledger, secret: bytes) -> None:
        self.ledger = ledger
        self.tables = SideTables(ledger.recorder)
        self._aead = AESGCM(secret)
        self._actors: dict[str, Actor] = {}
        self._lock = threading.Lock()
        t = self.tables
        with t.transaction(commit=True, lock=TOKENS) as cursor:
            cursor.execute(
                f"CREATE TABLE IF NOT EXISTS {t.table(TOKENS)} (token_hash TEXT PRIMARY KEY, handle TEXT NOT NULL, "
                f"key_id TEXT NOT NULL, sealed_key {t.blob} NOT NULL, label TEXT NOT NULL, created_at TEXT NOT NULL, "
                "revoked_at TEXT)"
            )
        create_table(t)  # read beside the token by each request's first query

    def issue(self, key: SigningKey, label: str = "") -> str:
        """A new token for the principal who holds ``key``; the key must be registered and current."""
        record = self.ledger.directory().key(key.key_id)
        if record is None or record.principal != key.name:
            raise NotFound("registered key", key.key_id, field="handle")
        if record.revoked_at is not None:
            raise InvalidInput("handle", f"key {key.key_id} is revoked", f"密钥 {key.key_id} 已吊销")
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        digest = token_hash(token)
        nonce = secrets.token_bytes(12)
        sealed = nonce + self._aead.encrypt(nonce, key.skey.encode(), digest.encode())
        t = self.tables
        with t.transaction(commit=True) as cursor:
            cursor.execute(
                f"INSERT INTO {t.table(TOKENS)} (token_hash, handle, key_id, sealed_key, label, created_at) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (digest, key.name, key.key_id, sealed, label, datetime.now(UTC).isoformat()),
            )
        return token

    def revoke(self, token_id: str) -> int:
        """Revoke every token whose hash starts with ``token_id``; returns how many."""
        if len(token_id) < 8 or not all(c in "0123456789abcdef" for c in token_id):
            raise InvalidInput("token_id", "give at least 8 hex digits of the token id", "须给出至少8位令牌编号")
        t = self.tables
        with t.transaction(commit=True) as cursor:
            cursor.execute(
                f"UPDATE {t.table(TOKENS)} SET revoked_at = ? WHERE token_hash LIKE ? AND revoked_at IS NULL "
                "RETURNING token_hash",
                (datetime.now(UTC).isoformat(), token_id + "%"),
            )
            count = len(cursor.fetchall())
        with self._lock:
            self._actors = {h: a for h, a in self._actors.items() if not h.startswith(token_id)}
        return count

    def list(self) -> list[TokenInfo]:
        rows = self.tables.fetchall(
            f"SELECT token_hash, handle, key_id, label, created_at, revoked_at FROM {self.tables.table(TOKENS)} "
            "ORDER BY created_at"
        )
        return [TokenInfo(r[0][:12], r[1], r[2], r[3], r[4], r[5]) for r in rows]

    def actor(self, token: str) -> Actor | None:
        """The acting principal of a live token, with the signing key unsealed; None if unknown or revoked."""
        found = self.lookup(token)
        return found.actor if found else None

    def lookup(self, token: str, idempotency_key: str | None = None) -> FirstRead | None:
        """A request's first read, in one query: the live token, the stored directory's version
        (so a key revoked by any process counts at once) and the answer remembered for the
        request's Idempotency-Key, if any. None if the token is unknown or revoked."""
        if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
            return None
        digest = token_hash(token)
        t = self.tables
        row = t.fetchone(
            f"SELECT t.handle, t.sealed_key, (SELECT MAX(originator_version) FROM {t.events_table} "
            "WHERE originator_id = ?), k.fingerprint, k.status, k.ident, k.streams "
            f"FROM {t.table(TOKENS)} t LEFT JOIN {t.table(KEYS)} k ON k.principal = t.handle AND k.idem_key = ? "
            "WHERE t.token_hash = ? AND t.revoked_at IS NULL",
            (DIRECTORY_ID, idempotency_key, digest),
        )
        if row is None:
            return None
        actor = self._unseal(digest, row[0], bytes(row[1]))
        if actor is None:
            return None
        remembered = None if row[3] is None else Remembered.from_row(row[3:])
        return FirstRead(actor, int(row[2] or 0), idempotency_key, remembered)

    def _unseal(self, digest: str, handle: str, sealed: bytes) -> Actor | None:
        with self._lock:
            cached = self._actors.get(digest)
        if cached is not None:
            return cached
        try:
            skey = self._aead.decrypt(sealed[:12], sealed[12:], digest.encode()).decode()
        except InvalidTag:
            return None  # sealed under another secret: the token cannot sign here
        actor = Actor(handle, SigningKey.from_skey(skey))
        with self._lock:
            self._actors[digest] = actor
        return actor


@dataclass(frozen=True)
class FirstRead:
    """What a request's first query found (``TokenStore.lookup``)."""

    actor: Actor
    directory_version: int
    """The stored directory's version when the request was read."""
    idempotency_key: str | None
    remembered: Remembered | None
    """The stored answer to an earlier request with this Idempotency-Key, if any."""


@dataclass(frozen=True)
class Caller:
    """An authenticated request: who acts, with which key, and what the directory says of them."""

    actor: Actor
    principal: Principal
    first_read: FirstRead | None = None
    """The request's first read, with the answer remembered for its Idempotency-Key."""

    def require(self, *roles: str) -> None:
        """Reads check roles here; writes are checked by the ledger itself, in scope."""
        if not any(self.principal.has(r) for r in roles):
            raise Forbidden(msg("{handle} needs the role {roles}", handle=self.actor.handle,
                                roles=[ROLE_NAMES.get(r, r) for r in roles]), field="authorization")


_bearer = HTTPBearer(auto_error=False, description="An API token issued with `wushe users token HANDLE`.")


def current_caller(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> Caller:
    """The caller of a request with a live token whose key is still current in the directory.

    ``api.limits.LimitsMiddleware`` has looked the token up already, before the body was read, and
    refused a missing or unknown one; its first read is in the request's state."""
    found: FirstRead | None = getattr(request.state, "first_read", None)
    if found is None:  # an app without the middleware
        store: TokenStore = request.app.state.tokens
        key = request.headers.get("idempotency-key") if request.method == "POST" else None
        found = store.lookup(credentials.credentials, key) if credentials else None
    if found is None:
        limiter = getattr(request.app.state, "limiter", None)
        if limiter is not None:
            raise limiter.auth_failed(request)
        raise Unauthenticated("a valid bearer token is required (Authorization: Bearer …)",
                              "需要有效的访问令牌（Authorization: Bearer …）", field="authorization")
    ledger: Ledger = request.app.state.ledger
    actor = found.actor
    try:
        # The ledger's own check: the key is registered to this principal and not revoked, in the
        # directory as stored when the token was read (read again only if it has changed since
        # this process last looked); every principal holds at least one role.
        principal = ledger.authorise(actor, *ROLES, directory_version=found.directory_version)
    except (UnknownKey, KeyRevoked):
        raise Unauthenticated(f"the key of this token ({actor.key.key_id}) is revoked",
                              f"此令牌的密钥（{actor.key.key_id}）已吊销", field="authorization") from None
    return Caller(actor, principal, found)


CallerDep = Annotated[Caller, Depends(current_caller)]
