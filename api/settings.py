"""Settings of the HTTP API (``WUSHE_API_*``): the key that seals principals' signing keys at rest,
rate limits and the request size limit."""

from __future__ import annotations

from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict


class ApiSettings(BaseSettings):
    """How the API authenticates, seals keys and limits callers."""

    model_config = SettingsConfigDict(env_prefix="WUSHE_API_", env_file=".env", extra="ignore")

    secret_file: Path | None = None
    """File holding the 32-byte key (base64) that seals signing keys held for API tokens;
    unset means ``<key_dir>/api-secret`` (created 0600 on first use)."""
    public_rate: str = "120/minute"
    """Requests per client address to the public read API (``limits`` notation)."""
    auth_rate: str = "20/minute"
    """Failed authentications per client address before further failures are answered 429 (a
    valid token is always let through)."""
    trusted_proxies: list[str] = []
    """Addresses (or networks, ``10.0.0.0/8``) of reverse proxies whose ``X-Forwarded-For`` and
    ``X-Forwarded-Proto`` name the client; a JSON list in ``WUSHE_API_TRUSTED_PROXIES``. Empty (the
    default): forwarded headers are ignored and the client is the TCP peer."""
    group_commit: bool = True
    """Save donations that arrive together in one transaction (``api.groupcommit``); it roughly
    doubled the donation rate on the two-core test machine (docs/performance.md §7). ``false``
    saves each donation in a transaction of its own."""
    answer_cache_mib: int = 64
    """Memory for the public answers already built, kept by their ETag (``api.caching.Answers``):
    a page is built once per views position and language, then sent as stored; 0 turns it off."""
    max_body_bytes: int = 65_536
    """Largest request body accepted; larger ones are refused with 413 before they are read whole."""
    max_json_depth: int = 32
    """Deepest nesting of arrays and objects in a JSON body; deeper ones are refused with 422
    (``json-too-deep``) before anything parses them."""

    def secret_path(self, key_dir: Path) -> Path:
        return self.secret_file or key_dir / "api-secret"
