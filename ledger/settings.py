"""Settings, read from the environment (``WUSHE_*``) or a ``.env`` file, in one place."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic_settings import BaseSettings, SettingsConfigDict

from ledger.signing import VerifierKey


class Settings(BaseSettings):
    """How a Wushe Ledger process finds its store, keys and reference data."""

    model_config = SettingsConfigDict(env_prefix="WUSHE_", env_file=".env", extra="ignore")

    data_dir: Path = Path(".wushe")
    """Where the embedded SQLite file and the demo key directory live."""
    database_url: str | None = None
    """``sqlite:///path/to/file`` or ``postgresql://user@host:port/db[?schema=name]``;
    unset means ``sqlite:///<data_dir>/ledger.sqlite3``."""
    read_database_url: str | None = None
    """A copy of the store that the public pages and the public JSON, checkpoint and proof routes
    read from (a PostgreSQL streaming replica); the server never writes there, and opens it with
    read-only sessions. Unset: they read the store itself."""
    statement_timeout: float = 15.0
    """Seconds a statement may run on PostgreSQL before the server cancels it; the client gives up
    on a server that does not answer 2 s after that (0: no bound). Waits for a connection are
    bounded apart (libpq ``connect_timeout``, TCP keepalives; ``ledger.stores``)."""
    replication_check: Literal["refuse", "warn"] = "refuse"
    """``refuse`` (the default): a PostgreSQL primary with standbys but no synchronous standby, or
    with ``synchronous_commit`` ``local``/``remote_write``, is refused at start. ``warn``: it is
    used, with a warning in the log and on ``/health`` (acknowledged writes may be lost on failover)."""
    replica_wait: float = 0.5
    """Seconds a public read waits at most for the read copy to catch up with this process's last
    write; after that it answers what the copy has, with the lag shown, and does not wait again
    until the copy has caught up."""
    views_interval: float = 1.0
    """Seconds between the server's background looks at the log for events to fold into the views
    and the Merkle tree (a write of the server's own wakes it at once). 0: no background runner;
    each public read catches the views up itself, as before."""
    views_check_interval: float = 900.0
    """Seconds between the server's checks of the views against the digests the runner kept
    (``wushe projections check``; a scan of every view). A view that fails is not served. The
    scan holds the runner for 0.14–0.30 of a rebuild's time (docs/performance.md §9), seconds at a
    million events: every quarter of an hour keeps that under a few per cent of the runner's time."""
    key_dir: Path | None = None
    """Directory of private key files (``<handle>.key``, mode 0600); unset means ``<data_dir>/keys``."""
    reference_file: Path | None = None
    """A district's reference data (TOML); unset means the embedded Changning file."""
    ledger_name: str = "wushe.example/changning"
    """The ledger's name, written into the genesis event: the origin line of its checkpoints and
    the name of the log key that signs them (a schema-less URL, as C2SP recommends)."""
    public_url: str = "http://127.0.0.1:8000"
    """Where the public pages are served; receipts' QR codes link here."""
    contact: str | None = None
    """Whom a holder asks about a receipt or certificate (an office and its public phone), printed
    on every one."""
    checkpoint_interval: int = 300
    """Seconds between scheduled checkpoints while `wushe serve` runs (0: only on demand)."""
    witness_keys: list[str] = []
    """Verifier keys of the witnesses whose cosignatures count (besides ``<key_dir>/witnesses/*.pub``)."""
    aggregate_cache: int = 1000
    """How many aggregates a process keeps in memory (0: none, every load replays its stream)."""
    actor: str | None = None
    """Default principal handle for CLI commands (``--as`` overrides it)."""

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'ledger.sqlite3'}"

    @property
    def resolved_key_dir(self) -> Path:
        return self.key_dir or self.data_dir / "keys"


def trusted_witnesses(settings: Settings) -> list[VerifierKey]:
    """The witness keys a process trusts: from settings and from ``<key_dir>/witnesses/*.pub``."""
    texts = list(settings.witness_keys)
    folder = settings.resolved_key_dir / "witnesses"
    if folder.is_dir():
        texts += [p.read_text() for p in sorted(folder.glob("*.pub"))]
    return [VerifierKey.from_vkey(t) for t in texts]
