"""Console sessions (会话): a random cookie secret per sign-in; the server keeps only its hash and,
beside it, the principal's signing key sealed under a key derived from that secret.

So the signing key exists in the clear only while a request of a live session runs: the database
(and the server secret) hold it sealed under a key that only the browser's HttpOnly cookie can
give. Every request re-derives it; sessions therefore work across server processes and restarts.
Sessions end on sign-out, after ``idle_minutes`` without a request and ``max_hours`` after sign-in."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from api.console.settings import ConsoleSettings
from ledger.application import Actor, Ledger
from ledger.sidetables import SideTables
from ledger.signing import SigningKey

SESSIONS = "wushe_console_sessions"
COOKIE = "wushe_console"
PRE_COOKIE = "wushe_console_pre"
"""Before sign-in: a random value the sign-in form's CSRF token is bound to."""
DEVICE_COOKIE = "wushe_console_device"
"""After a sign-in: proof that this browser has signed in as a handle before (see ``api.console.signin``)."""
TOUCH_EVERY = 60
"""Seconds between updates of a session's last use (not a write per request)."""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes | None:
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (ValueError, TypeError):
        return None


def _session_id(raw: bytes) -> str:
    return hashlib.sha256(b"wushe-console-session-id\n" + raw).hexdigest()


def _session_wrap(raw: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"wushe-console-session/v1").derive(raw)


@dataclass(frozen=True)
class Session:
    """A live console session."""

    session_id: str
    """SHA-256 of the cookie secret: the row's key (the secret itself is never stored)."""
    actor: Actor
    csrf: str
    """The token every form of this session carries."""
    created: float


class SessionStore:
    """The session table, and the HMACs that bind CSRF tokens and device cookies to the server secret."""

    def __init__(self, ledger: Ledger, server_secret: bytes, settings: ConsoleSettings | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self.secret = server_secret
        self.settings = settings or ConsoleSettings()
        self.clock = clock
        self.tables = SideTables(ledger.recorder)
        t = self.tables
        with t.transaction(commit=True, lock=SESSIONS) as cursor:
            cursor.execute(
                f"CREATE TABLE IF NOT EXISTS {t.table(SESSIONS)} (session_id TEXT PRIMARY KEY, handle TEXT NOT NULL, "
                f"sealed {t.blob} NOT NULL, created {t.bigint} NOT NULL, last_seen {t.bigint} NOT NULL)"
            )

    def mac(self, purpose: str, value: str) -> str:
        return _b64(hmac.new(self.secret, f"{purpose}\n{value}".encode(), hashlib.sha256).digest())

    def create(self, key: SigningKey) -> str:
        """A new session for the holder of ``key``; returns the cookie value (shown to nobody else)."""
        raw = secrets.token_bytes(32)
        nonce = secrets.token_bytes(12)
        sid = _session_id(raw)
        sealed = nonce + AESGCM(_session_wrap(raw)).encrypt(nonce, key.skey.encode(), sid.encode())
        now = int(self.clock())
        t = self.tables
        with t.transaction(commit=True) as cursor:
            cursor.execute(f"DELETE FROM {t.table(SESSIONS)} WHERE last_seen < ?", (now - self._idle(),))
            cursor.execute(
                f"INSERT INTO {t.table(SESSIONS)} (session_id, handle, sealed, created, last_seen) VALUES (?, ?, ?, ?, ?)",
                (sid, key.name, sealed, now, now))
        return _b64(raw)

    def _idle(self) -> int:
        return self.settings.idle_minutes * 60

    def lookup(self, cookie: str | None) -> Session | None:
        """The live session of a cookie, its key unsealed; None if unknown, ended or expired."""
        raw = _unb64(cookie) if cookie and len(cookie) < 100 else None
        if raw is None or len(raw) != 32:
            return None
        sid = _session_id(raw)
        t = self.tables
        row = t.fetchone(f"SELECT handle, sealed, created, last_seen FROM {t.table(SESSIONS)} WHERE session_id = ?",
                         (sid,))
        if row is None:
            return None
        handle, sealed, created, last_seen = row[0], bytes(row[1]), int(row[2]), int(row[3])
        now = int(self.clock())
        if now - last_seen > self._idle() or now - created > self.settings.max_hours * 3600:
            self.end(cookie)
            return None
        try:
            skey = AESGCM(_session_wrap(raw)).decrypt(sealed[:12], sealed[12:], sid.encode()).decode()
        except InvalidTag:
            return None
        if now - last_seen >= TOUCH_EVERY:
            with t.transaction(commit=True) as cursor:
                cursor.execute(f"UPDATE {t.table(SESSIONS)} SET last_seen = ? WHERE session_id = ?", (now, sid))
        return Session(sid, Actor(handle, SigningKey.from_skey(skey)), self.mac("csrf", sid), created)

    def end(self, cookie: str | None) -> None:
        """Sign out: the session's row (and with it the sealed key) is gone."""
        raw = _unb64(cookie) if cookie and len(cookie) < 100 else None
        if raw is None:
            return
        t = self.tables
        with t.transaction(commit=True) as cursor:
            cursor.execute(f"DELETE FROM {t.table(SESSIONS)} WHERE session_id = ?", (_session_id(raw),))

    def end_all(self, handle: str) -> int:
        """End every session of a principal (their password changed, their key was rotated)."""
        t = self.tables
        with t.transaction(commit=True) as cursor:
            cursor.execute(f"DELETE FROM {t.table(SESSIONS)} WHERE handle = ? RETURNING session_id", (handle,))
            return len(cursor.fetchall())

    # --- before sign-in, and the device cookie ----------------------------------------------------

    @staticmethod
    def new_pre_session() -> str:
        return _b64(secrets.token_bytes(24))

    def pre_csrf(self, pre: str) -> str:
        return self.mac("pre-csrf", pre)

    def device_cookie(self, handle: str) -> str:
        return f"{handle}.{self.mac('device', handle)}"

    def device_handle(self, cookie: str | None) -> str | None:
        if not cookie or "." not in cookie or len(cookie) > 200:
            return None
        handle, _, mac = cookie.rpartition(".")
        return handle if hmac.compare_digest(mac, self.mac("device", handle)) else None
