"""Settings of the staff console (``WUSHE_CONSOLE_*``): session lifetimes, lockout, password stretching."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class ConsoleSettings(BaseSettings):
    """How staff sign in to the console and how long a session lives."""

    model_config = SettingsConfigDict(env_prefix="WUSHE_CONSOLE_", env_file=".env", extra="ignore")

    idle_minutes: int = Field(30, ge=1, le=24 * 60)
    """A session unused this long is over; the next request asks to sign in again."""
    max_hours: int = Field(12, ge=1, le=24 * 7)
    """A session ends this long after sign-in, however busy."""
    lockout: str = "5/15 minutes"
    """Failed sign-ins for one handle from one client address before that pair is locked out
    (``limits`` notation); the lock lifts when the window has passed."""
    argon2_time: int = Field(3, ge=1, le=20)
    """Argon2id passes over memory when a password is stretched."""
    argon2_memory_kib: int = Field(65_536, ge=1024, le=4 * 1024 * 1024)
    """Argon2id memory in KiB (64 MiB by default, RFC 9106's second recommended choice)."""
    argon2_parallelism: int = Field(2, ge=1, le=16)
