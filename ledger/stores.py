"""Persistence: turn a database URL into eventsourcing settings, with durability enforced.

SQLite runs in WAL mode with ``synchronous=FULL`` so an acknowledged write survives power loss;
a PostgreSQL server with ``fsync`` or ``synchronous_commit`` off is refused at start-up.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from eventsourcing.postgres import PostgresApplicationRecorder, PostgresFactory
from eventsourcing.sqlite import (
    SQLiteApplicationRecorder,
    SQLiteConnection,
    SQLiteConnectionPool,
    SQLiteDatastore,
    SQLiteFactory,
)

from ledger.errors import InvalidInput
from ledger.filemodes import private_sqlite_file
from ledger.intransaction import write_alongside


class UnsafeDatabase(RuntimeError):
    """The database would not keep acknowledged writes."""


SQLITE_WAIT = 30
"""Seconds a SQLite writer waits for the database's write lock, and a request for the pool's writer
slot or a pooled connection."""


class _DurableSQLitePool(SQLiteConnectionPool):
    def _create_connection(self) -> SQLiteConnection:
        connection = super()._create_connection()
        cursor = connection.cursor()
        cursor.execute("PRAGMA synchronous=FULL;")
        cursor.execute("PRAGMA foreign_keys=ON;")
        return connection


class _ReadOnlySQLitePool(SQLiteConnectionPool):
    """Connections that cannot write: a read copy of the store is never written by this process."""

    def _create_connection(self) -> SQLiteConnection:
        connection = super()._create_connection()
        connection.cursor().execute("PRAGMA query_only=ON;")
        return connection


class _SQLiteRecorder(SQLiteApplicationRecorder):
    """Inserts the events, then any rows registered to share their transaction."""

    def _insert_events(self, c, stored_events, **kwargs):
        ids = super()._insert_events(c, stored_events, **kwargs)
        write_alongside(self, c, stored_events)
        return ids


class _PostgresRecorder(PostgresApplicationRecorder):
    """Writes any rows registered to share the events' transaction, before the events."""

    def _insert_events(self, curs, stored_events, **kwargs):
        super()._insert_events(curs, stored_events, **kwargs)
        write_alongside(self, curs, stored_events)


class DurableSQLiteFactory(SQLiteFactory):
    """eventsourcing's SQLite factory with every connection set to ``synchronous=FULL``."""

    application_recorder_class = _SQLiteRecorder

    def __init__(self, env):
        super().__init__(env)
        old: SQLiteDatastore = self.datastore
        old.pool.close()
        pool = _ReadOnlySQLitePool if env.get(READ_ONLY) else _DurableSQLitePool
        # A file cannot go away as a server can: waiting for the one writer's turn or a pooled
        # connection means contention, so a request waits as long as for SQLite's own lock
        # (eventsourcing's 5 s answered busy moments on a loaded machine with 503s).
        old.pool = pool(db_name=old.pool.db_name, lock_timeout=old.pool.lock_timeout,
                        pool_timeout=float(old.pool.lock_timeout or SQLITE_WAIT))


class CheckedPostgresFactory(PostgresFactory):
    """eventsourcing's PostgreSQL factory that refuses a server which may lose commits."""

    application_recorder_class = _PostgresRecorder

    def __init__(self, env):
        super().__init__(env)
        if env.get(READ_ONLY):
            # Every transaction of every connection is read-only: the server refuses its own writes.
            self.datastore.pool.kwargs["options"] = "-c default_transaction_read_only=on"
        with self.datastore.transaction(commit=False) as cursor:
            for setting in ("fsync", "synchronous_commit"):
                cursor.execute(f"SHOW {setting}")
                value = next(iter(cursor.fetchone().values()))
                if str(value).lower() == "off":
                    self.datastore.close()
                    raise UnsafeDatabase(
                        f"PostgreSQL has {setting}=off: acknowledged writes could be lost; turn it on"
                    )


READ_ONLY = "WUSHE_READ_ONLY"
"""Set in the environment of a store opened only to read (``persistence_env(read_only=True)``)."""


def persistence_env(database_url: str, aggregate_cache: int = 0, *, read_only: bool = False,
                    setting: str = "WUSHE_DATABASE_URL") -> dict[str, str]:
    """eventsourcing environment variables for a ``sqlite:///…`` or ``postgresql://…`` URL.

    ``aggregate_cache`` keeps that many aggregates in memory; each load then reads and verifies
    only the events stored since (eventsourcing's fast-forward), instead of the whole stream.
    ``read_only`` opens a store to read only: no table is created and every connection refuses
    writes (SQLite ``query_only``; PostgreSQL ``default_transaction_read_only``). ``setting``
    names the URL's setting in errors."""
    parts = urlsplit(database_url)
    common = {"ORIGINATOR_ID_TYPE": "text", "AGGREGATE_CACHE_MAXSIZE": str(aggregate_cache) if aggregate_cache else ""}
    if read_only:
        common.update({"CREATE_TABLE": "no", READ_ONLY: "yes"})
    if parts.scheme == "sqlite":
        path = unquote(parts.path)
        if parts.netloc or not path or path == "/":
            raise InvalidInput(setting, "use sqlite:///relative/path or sqlite:////absolute/path")
        file = Path(path[1:]) if path.startswith("/") else Path(path)
        if str(file) != ":memory:" and not read_only:
            private_sqlite_file(file)  # 0600 before SQLite opens it: its -wal and -shm take that mode
        return {
            **common,
            "PERSISTENCE_MODULE": f"{__name__}:DurableSQLiteFactory",
            "SQLITE_DBNAME": str(file),
            "SQLITE_LOCK_TIMEOUT": str(SQLITE_WAIT),
        }
    if parts.scheme in ("postgresql", "postgres"):
        query = parse_qs(parts.query)
        return {
            **common,
            "PERSISTENCE_MODULE": f"{__name__}:CheckedPostgresFactory",
            "POSTGRES_DBNAME": unquote(parts.path.lstrip("/")) or "postgres",
            "POSTGRES_HOST": parts.hostname or "127.0.0.1",
            "POSTGRES_PORT": str(parts.port or 5432),
            "POSTGRES_USER": unquote(parts.username or "postgres"),
            "POSTGRES_PASSWORD": unquote(parts.password or ""),
            "POSTGRES_SCHEMA": query.get("schema", [""])[0],
            # How long a request waits for a pooled connection. eventsourcing retries its reads and
            # inserts ten times, so while the server is down a request waits about ten times this
            # before it is answered 503: short enough that a restart never looks like a hang.
            "POSTGRES_CONNECT_TIMEOUT": "2",
            "POSTGRES_POOL_SIZE": "5",
            "POSTGRES_MAX_OVERFLOW": "10",
        }
    raise InvalidInput(setting, f"unsupported database URL scheme {parts.scheme!r}")


def display_url(database_url: str) -> str:
    """The URL without its password, for messages and logs."""
    parts = urlsplit(database_url)
    if parts.password is None:
        return database_url
    return parts._replace(netloc=parts.netloc.replace(f":{parts.password}@", ":***@")).geturl()


def is_postgres(database_url: str) -> bool:
    return urlsplit(database_url).scheme in ("postgresql", "postgres")
