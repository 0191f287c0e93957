"""Persistence: turn a database URL into eventsourcing settings, with durability enforced.

SQLite runs in WAL mode with ``synchronous=FULL`` so an acknowledged write survives power loss.
A PostgreSQL server with ``fsync`` or ``synchronous_commit`` off is refused at start-up, and so is
a primary with standbys whose commits no synchronous standby confirms (asynchronous replication,
or ``synchronous_commit`` of ``local`` or ``remote_write``): a failover to such a standby loses
acknowledged writes (``WUSHE_REPLICATION_CHECK=warn`` only warns, loudly).

A PostgreSQL URL is handed to libpq whole (several hosts, ``target_session_attrs``, ``sslmode``
and every other parameter), except ``schema``, which names the ledger's schema. Every wait on the
server is bounded: libpq's ``connect_timeout``, TCP keepalives and ``tcp_user_timeout``, a server
``statement_timeout``, and on the client a deadline on each round trip (a server that stopped
answering, whose kernel still acknowledges every packet, is given up on after it).
"""

from __future__ import annotations

import logging
from pathlib import Path
from urllib.parse import parse_qs, quote, unquote, urlencode, urlsplit

import psycopg
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

logger = logging.getLogger("wushe.store")


class StoreRefused(RuntimeError):
    """The store cannot be used: unreachable, or unsafe."""


class UnsafeDatabase(StoreRefused):
    """The database would not keep acknowledged writes."""


class DatabaseUnreachable(StoreRefused):
    """No connection to the database could be made (libpq's reason is in the message)."""


class DatabaseUnresponsive(ConnectionError):
    """The server did not answer a round trip within the client's deadline (it may be hung).
    Not a psycopg error, so that eventsourcing passes it on at once instead of retrying ten times."""


class UnconfirmedCommit(DatabaseUnresponsive):
    """PostgreSQL stopped waiting for the synchronous standby to confirm a commit (the statement
    timeout cancelled the wait; the commit stands on the primary only): answered 503, not 201."""


def bounded_connection_class(deadline: float | None) -> type[psycopg.Connection]:
    """A psycopg connection class whose every round trip gives up after ``deadline`` seconds:
    the connection is then closed (it is in an unknown state) and ``DatabaseUnresponsive`` raised.
    eventsourcing does not retry that error, so a request to a hung server ends within one deadline."""

    class BoundedConnection(psycopg.Connection):
        def wait(self, gen, interval=0.1, timeout=None):  # type: ignore[override]
            unconfirmed = self.__dict__.get("_wushe_unconfirmed")
            if unconfirmed is None:
                unconfirmed = self.__dict__["_wushe_unconfirmed"] = []
                self.add_notice_handler(lambda notice: unconfirmed.append(notice.message_primary)
                                        if "synchronous replication" in (notice.message_primary or "") else None)
            try:
                result = super().wait(gen, interval=interval, timeout=timeout or deadline)
            except psycopg.errors._WaitTimeout:
                self.pgconn.finish()
                raise DatabaseUnresponsive(f"the database did not answer within {deadline} s") from None
            if unconfirmed:
                # The server gave up waiting for the synchronous standby (a statement timeout): the
                # commit is on the primary only. It must not be acknowledged as saved.
                said = unconfirmed[0]
                unconfirmed.clear()
                raise UnconfirmedCommit(f"committed on the primary but not confirmed by a synchronous standby: {said}")
            return result

    return BoundedConnection


SQLITE_WAIT = 30
"""Seconds a SQLite writer waits for the database's write lock, and a request for the pool's writer
slot or a pooled connection."""


SQLITE_POOL_SIZE = 20
"""SQLite connections kept open between requests (eventsourcing keeps 5). Beyond the kept ones a
pool opens overflow connections and closes each when it is handed back, so with more readers at
once than kept connections most reads opened a connection (and read the schema) anew."""


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
                        pool_timeout=float(old.pool.lock_timeout or SQLITE_WAIT), pool_size=SQLITE_POOL_SIZE)


class CheckedPostgresFactory(PostgresFactory):
    """eventsourcing's PostgreSQL factory that refuses a server which may lose commits."""

    application_recorder_class = _PostgresRecorder

    replication_problem: str | None = None
    """Why this primary's replication could lose acknowledged writes, when the setting said only
    to warn about it (``WUSHE_REPLICATION_CHECK=warn``); None when it is safe."""

    def __init__(self, env):
        super().__init__(env)
        pool = self.datastore.pool
        kwargs = pool.kwargs
        kwargs.update(url_params(env.get(LIBPQ_PARAMS, "")))
        timeout = float(env.get(STATEMENT_TIMEOUT) or 0)
        options = [kwargs.get("options", "")]
        if env.get(READ_ONLY):
            # Every transaction of every connection is read-only: the server refuses its own writes.
            options.append("-c default_transaction_read_only=on")
        if timeout:
            options.append(f"-c statement_timeout={int(timeout * 1000)}")
        kwargs["options"] = " ".join(o for o in options if o)
        for name, value in BOUNDED_WAITS.items():
            kwargs.setdefault(name, value)
        if timeout:
            kwargs.setdefault("tcp_user_timeout", str(int((timeout + CLIENT_MARGIN) * 1000)))
        pool.connection_class = bounded_connection_class(timeout + CLIENT_MARGIN if timeout else None)
        try:
            # One connection first, outside the pool, whose retries would hide libpq's reason
            # (a refused TLS handshake, a wrong password, no host accepting writes).
            pool.connection_class.connect(**{k: v for k, v in kwargs.items() if k != "row_factory"}).close()
        except (psycopg.Error, DatabaseUnresponsive) as exc:
            self.datastore.close()
            raise DatabaseUnreachable(f"cannot connect to PostgreSQL: {str(exc).strip()}") from None
        try:
            with self.datastore.transaction(commit=False) as cursor:
                for setting in ("fsync", "synchronous_commit"):
                    cursor.execute(f"SHOW {setting}")
                    value = next(iter(cursor.fetchone().values()))
                    if str(value).lower() == "off":
                        raise UnsafeDatabase(
                            f"PostgreSQL has {setting}=off: acknowledged writes could be lost; turn it on"
                        )
                problem = None if env.get(READ_ONLY) else replication_problem(cursor)
        except BaseException:
            self.datastore.close()
            raise
        if problem is not None:
            if env.get(REPLICATION_CHECK, "refuse") != "warn":
                self.datastore.close()
                raise UnsafeDatabase(problem + "; or set WUSHE_REPLICATION_CHECK=warn to run anyway")
            self.replication_problem = problem
            logger.warning("UNSAFE REPLICATION (WUSHE_REPLICATION_CHECK=warn): %s", problem)


def replication_problem(cursor) -> str | None:
    """Why a primary's commits could be acknowledged before any standby has them, or None.

    With standbys streaming from it (or ``synchronous_standby_names`` set), a commit must wait for
    a synchronous standby to flush it (``synchronous_commit`` ``on`` or ``remote_apply``), else a
    failover to a standby loses writes that clients were told are saved."""
    cursor.execute("SHOW synchronous_commit")
    commit = str(next(iter(cursor.fetchone().values()))).lower()
    cursor.execute("SHOW synchronous_standby_names")
    names = str(next(iter(cursor.fetchone().values()))).strip()
    cursor.execute("SELECT count(*) AS n FROM pg_stat_replication")
    standbys = int(cursor.fetchone()["n"])
    if not standbys and not names:
        return None
    if not names:
        return (f"PostgreSQL streams to {standbys} standby(s) asynchronously (synchronous_standby_names is "
                "empty): a failover would lose acknowledged writes; name a synchronous standby")
    if commit in ("local", "remote_write"):
        return (f"PostgreSQL has synchronous_commit={commit} with synchronous standbys: a commit is "
                "acknowledged before a standby has flushed it; use on or remote_apply")
    return None


READ_ONLY = "WUSHE_READ_ONLY"
"""Set in the environment of a store opened only to read (``persistence_env(read_only=True)``)."""
LIBPQ_PARAMS = "WUSHE_LIBPQ_PARAMS"
"""The URL's other libpq parameters (``sslmode``, ``target_session_attrs``…), URL-encoded."""
STATEMENT_TIMEOUT = "WUSHE_STATEMENT_TIMEOUT"
REPLICATION_CHECK = "WUSHE_REPLICATION_CHECK"
CLIENT_MARGIN = 2.0
"""Seconds the client waits for an answer beyond the server's statement timeout."""
BOUNDED_WAITS = {"connect_timeout": "3", "keepalives": "1", "keepalives_idle": "10", "keepalives_interval": "3",
                 "keepalives_count": "3"}
"""libpq's waits, unless the URL sets them: a connection attempt gives up after 3 s per host, and
a peer that vanished is noticed by TCP keepalives within about 20 s."""


def url_params(encoded: str) -> dict[str, str]:
    return {k: v[-1] for k, v in parse_qs(encoded, keep_blank_values=True).items()}


def persistence_env(database_url: str, aggregate_cache: int = 0, *, read_only: bool = False,
                    setting: str = "WUSHE_DATABASE_URL", statement_timeout: float = 0,
                    replication_check: str = "refuse") -> dict[str, str]:
    """eventsourcing environment variables for a ``sqlite:///…`` or ``postgresql://…`` URL.

    ``aggregate_cache`` keeps that many aggregates in memory; each load then reads and verifies
    only the events stored since (eventsourcing's fast-forward), instead of the whole stream.
    ``read_only`` opens a store to read only: no table is created and every connection refuses
    writes (SQLite ``query_only``; PostgreSQL ``default_transaction_read_only``). ``setting``
    names the URL's setting in errors. ``statement_timeout`` (seconds, 0: none) bounds each
    statement on PostgreSQL; ``replication_check`` is ``refuse`` or ``warn`` (see the module)."""
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
        query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        schema = query.pop("schema", "")
        try:  # libpq's own parser: several hosts and ports, percent-encoding, every parameter
            params = psycopg.conninfo.conninfo_to_dict(parts._replace(query=urlencode(query, quote_via=quote)).geturl())
        except psycopg.ProgrammingError as exc:
            raise InvalidInput(setting, f"not a PostgreSQL URL libpq accepts: {exc}") from None
        named = {"dbname", "host", "port", "user", "password"}
        return {
            **common,
            "PERSISTENCE_MODULE": f"{__name__}:CheckedPostgresFactory",
            "POSTGRES_DBNAME": str(params.get("dbname") or "postgres"),
            "POSTGRES_HOST": str(params.get("host") or "127.0.0.1"),
            "POSTGRES_PORT": str(params.get("port") or 5432),
            "POSTGRES_USER": str(params.get("user") or "postgres"),
            "POSTGRES_PASSWORD": str(params.get("password") or ""),
            "POSTGRES_SCHEMA": schema,
            LIBPQ_PARAMS: urlencode({k: str(v) for k, v in params.items() if k not in named}, quote_via=quote),
            STATEMENT_TIMEOUT: str(statement_timeout or 0),
            REPLICATION_CHECK: replication_check,
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
