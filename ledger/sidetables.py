"""Tables of the ledger's own beside eventsourcing's (the Merkle tree, checkpoints, cosignatures),
in the same database, written in either SQL dialect through the recorder's own connections."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from eventsourcing.persistence import IntegrityError as StoreIntegrityError
from eventsourcing.persistence import Notification, StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder

MAX_BIGINT = 2**63 - 1


def storable(value: object) -> bool:
    """A whole number both databases can compare with their 64-bit integer columns."""
    return type(value) is int and -MAX_BIGINT <= value <= MAX_BIGINT


class SideTables:
    """Runs the ledger's SQL (written with ``?`` placeholders and ``{table}`` names) on the store."""

    def __init__(self, recorder: Any) -> None:
        self.recorder = recorder
        self.datastore = recorder.datastore
        self.postgres = isinstance(recorder, PostgresApplicationRecorder)
        self.blob = "BYTEA" if self.postgres else "BLOB"
        self.bigint = "BIGINT" if self.postgres else "INTEGER"
        self._lock_table_made = False

    def table(self, name: str) -> str:
        if self.postgres:
            schema = self.datastore.schema.replace('"', '""')
            return f'"{schema}"."{name}"'
        return name

    def sql(self, statement: str) -> str:
        return statement.replace("?", "%s") if self.postgres else statement

    @property
    def events_table(self) -> str:
        return self.table(self.recorder.events_table_name)

    @property
    def position_column(self) -> str:
        """The events table's log position: PostgreSQL's notification_id, SQLite's rowid."""
        return "notification_id" if self.postgres else "rowid"

    @contextmanager
    def transaction(self, *, commit: bool, lock: str | None = None) -> Iterator[Cursor]:
        """A transaction. ``lock`` serialises writers before anything is read: a named advisory
        lock on PostgreSQL; on SQLite the database write lock, taken up front (a transaction that
        read first could not write after another connection's commit)."""
        if lock and commit and not self.postgres and not self._lock_table_made:
            with self.datastore.transaction(commit=True) as cursor:
                cursor.execute("CREATE TABLE IF NOT EXISTS wushe_write_lock (held INTEGER)")
            self._lock_table_made = True
        try:
            with self.datastore.transaction(commit=commit) as cursor:
                wrapped = Cursor(cursor, self)
                if lock and self.postgres:
                    wrapped.execute("SELECT pg_advisory_xact_lock(hashtext(?))", (lock,))
                elif lock and commit:
                    # The write comes first: had the transaction read anything (even the schema, as
                    # CREATE TABLE IF NOT EXISTS does), a commit by another connection in between
                    # would make taking the lock fail at once ("database is locked") instead of
                    # waiting its turn.
                    wrapped.execute("UPDATE wushe_write_lock SET held = held WHERE 0")
                yield wrapped
        except StoreIntegrityError:
            raise
        except Exception as exc:  # map the drivers' integrity errors onto one type
            if type(exc).__name__ in ("IntegrityError", "UniqueViolation"):
                raise StoreIntegrityError(exc) from exc
            raise

    def position_of(self, stream: str, version: int) -> int | None:
        """The log position (notification id) of one stored event."""
        row = self.fetchone(
            f"SELECT {self.position_column} FROM {self.events_table} WHERE originator_id = ? AND originator_version = ?",
            (stream, version),
        )
        return None if row is None else int(row[0])

    def first_version_after(self, stream: str, position: int) -> tuple[int | None, int | None]:
        """(the first version of ``stream`` stored after log ``position``, or None; the stream's last
        version). Within a stream, versions (one after another) and positions rise together, so one answer
        says "was version v stored after position p?" for every v up to the last version.

        A bisection over the stream's versions, each step one primary-key lookup: a few dozen reads
        for a stream of millions of events (a district's general fund), where scanning the stream's
        rows for their positions took seconds on PostgreSQL at 5M events."""
        row = self.fetchone(f"SELECT MIN(originator_version), MAX(originator_version) FROM {self.events_table} "
                            "WHERE originator_id = ?", (stream,))
        if row is None or row[1] is None:
            return None, None
        low, high = int(row[0]), int(row[1])  # the answer, if any, is in [low, high]
        last = high
        if (self.position_of(stream, high) or 0) <= position:
            return None, last
        while low < high:
            middle = (low + high) // 2
            at = self.position_of(stream, middle)
            if at is None:  # a gap in the versions: the stream's rows answer instead
                return self._scanned_first_after(stream, position), last
            if at > position:
                high = middle
            else:
                low = middle + 1
        return low, last

    def _scanned_first_after(self, stream: str, position: int) -> int | None:
        row = self.fetchone(
            f"SELECT MIN(originator_version) FROM {self.events_table} WHERE originator_id = ? AND {self.position_column} > ?",
            (stream, position),
        )
        return None if row is None or row[0] is None else int(row[0])

    def events_after(self, versions: dict[str, int]) -> list[StoredEvent]:
        """The events of several streams stored after the given version of each, in one read,
        in stream and version order."""
        if not versions:
            return []
        where = " OR ".join("(originator_id = ? AND originator_version > ?)" for _ in versions)
        rows = self.fetchall(
            f"SELECT originator_id, originator_version, topic, state FROM {self.events_table} WHERE {where} "
            "ORDER BY originator_id, originator_version",
            [value for stream, version in versions.items() for value in (stream, version)],
        )
        return [StoredEvent(originator_id=r[0], originator_version=int(r[1]), topic=r[2], state=bytes(r[3]))
                for r in rows]

    def fetchall(self, statement: str, params: Sequence[Any] = ()) -> list[tuple]:
        """The rows of one statement. On PostgreSQL it runs on its own, as eventsourcing's reads do
        (the pool's connections are in autocommit; one statement sees one snapshot): one round trip
        where BEGIN, the query and ROLLBACK would take three."""
        if self.postgres:
            with self.datastore.get_connection() as connection, connection.cursor() as raw:
                raw.execute(self.sql(statement), tuple(params), prepare=True)
                return [_as_tuple(r) for r in raw.fetchall()]
        # SQLite's pooled connections are in autocommit too: one statement is one read transaction,
        # without a BEGIN and ROLLBACK around it (each a statement, and each a hand-over of the GIL).
        with self.datastore.get_connection(commit=False) as connection:
            raw = connection.cursor()
            try:
                raw.execute(statement, tuple(params))
                return [tuple(r) for r in raw.fetchall()]
            finally:
                raw.sqlite_cursor.close()

    def fetchone(self, statement: str, params: Sequence[Any] = ()) -> tuple | None:
        rows = self.fetchall(statement, params)
        return rows[0] if rows else None


def notifications_after(cursor: Cursor, position: int, limit: int, through: int | None = None) -> list[Notification]:
    """Stored events after a log position (and up to ``through``, if given), in order, read inside
    the caller's transaction (a second connection from the pool could wait forever on the one
    writer this one holds)."""
    t = cursor._tables
    bound = "" if through is None else f" AND {t.position_column} <= ?"
    cursor.execute(
        f"SELECT {t.position_column}, originator_id, originator_version, topic, state FROM {t.events_table} "
        f"WHERE {t.position_column} > ?{bound} ORDER BY {t.position_column} LIMIT ?",
        (position, limit) if through is None else (position, through, limit),
    )
    return [Notification(id=int(r[0]), originator_id=r[1], originator_version=int(r[2]), topic=r[3], state=bytes(r[4]))
            for r in cursor.fetchall()]


class Cursor:
    """A cursor that takes ``?`` placeholders and returns rows as tuples in both dialects."""

    def __init__(self, cursor: Any, tables: SideTables) -> None:
        self._cursor = cursor
        self._tables = tables

    def execute(self, statement: str, params: Sequence[Any] = ()) -> None:
        self._cursor.execute(self._tables.sql(statement), tuple(params))

    def executemany(self, statement: str, rows: Sequence[Sequence[Any]]) -> None:
        if rows:
            self._cursor.executemany(self._tables.sql(statement), [tuple(r) for r in rows])

    def fetchall(self) -> list[tuple]:
        if not self._tables.postgres:  # sqlite3 gives tuples (or Rows) of str, int and bytes already
            return [tuple(r) for r in self._cursor.fetchall()]
        return [_as_tuple(r) for r in self._cursor.fetchall()]

    def fetchone(self) -> tuple | None:
        row = self._cursor.fetchone()
        return None if row is None else _as_tuple(row)


def _as_tuple(row: Any) -> tuple:
    values = row.values() if isinstance(row, dict) else row
    return tuple(bytes(v) if isinstance(v, memoryview) else v for v in values)
