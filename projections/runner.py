"""The projection runner: follows the signed log in order and keeps every view exactly once.

Each batch of events is folded and written in one transaction together with the log position it
reached, so a crash loses nothing and repeats nothing. SQLite has no notifications, so the runner
polls; it works the same on PostgreSQL. Events are verified (signature, key) as they are read.

A rebuild (and a first run into empty views) folds the whole log in one transaction and trusts
what a checkpoint vouches for: the Merkle tree grows only over events that verify
(``ledger.merkle_log``), so events under the newest checkpoint signed by the log's key are folded
without checking each signature again, once their stored bytes hash to that checkpoint's root;
the events after it are verified one by one. Any difference rolls the whole rebuild back.
"""

from __future__ import annotations

import gc
import hashlib
import logging
import pickle
import subprocess
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import msgspec
from eventsourcing.persistence import Notification

from ledger import merkle
from ledger.checkpoints import Checkpoint, CheckpointError, open_checkpoint
from ledger.errors import TamperedEvent
from ledger.events import EVENT_TYPES
from ledger.merkle_log import LEAVES
from ledger.sidetables import Cursor, SideTables, notifications_after
from projections import bulk, corrections, digest, donations, fold_apart, funds, hours, projects, streettowns
from projections.base import EVERY, ChangeT, Event, Table

VIEWS = (funds, streettowns, projects, hours, corrections, donations)
"""Every view, each a module with TABLES and a pure ``fold(event, read)``."""
TABLES: tuple[Table, ...] = tuple(t for view in VIEWS for t in view.TABLES)
_BY_NAME = {t.name: t for t in TABLES}
_STORAGE = "sqlite-without-rowid"
"""How the tables are laid out (on SQLite, clustered on their primary key: no rowid)."""
SHAPE = int.from_bytes(hashlib.sha256((repr(TABLES) + digest.VERSION + _STORAGE).encode()).digest()[:6], "big")
"""A fingerprint of every view's definition, kept beside the position."""
POSITION = "wushe_projection_position"
_LOCK = "wushe_projections"
_ENVELOPE = ("originator_id", "originator_version", "originator_topic", "timestamp")
_PAGE = 5000
"""Events read per query when folding the whole log."""
FOLD_APART_FROM = 20_000
"""Events under the trusted checkpoint from which a rebuild has the volunteers' events folded by a
second process (``projections.fold_apart``): below it, starting one costs more than it saves."""
_REBUILD_CACHE_KIB = 256 * 1024
"""SQLite's page cache while folding the whole log (the default is 2 MiB): the tables' B-trees
stay in memory while the rows are inserted."""
_decode = msgspec.json.Decoder().decode
logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Status:
    position: int
    """The last log position folded into the views."""
    head: int
    """The log's last position."""
    lag: int
    """Events stored but not yet in the views."""


@dataclass(frozen=True)
class ViewCheck:
    """The views checked against the digests the runner kept (``Projections.check``)."""

    position: int
    """The log position the views stand at."""
    failed: tuple[str, ...]
    """The view tables whose rows no longer give their digest (changed behind the runner's back)."""

    @property
    def ok(self) -> bool:
        return not self.failed


def changes_for(event: Event, read) -> list[ChangeT]:
    """Every view's changes for one event, all computed against the state before it."""
    return [change for view in _CONCERNED.get(event.type, VIEWS) for change in view.fold(event, read)]


_CONCERNED = {name: tuple(view for view in VIEWS if name in view.TYPES) for name in EVENT_TYPES}
"""The views each event type concerns (every view names the types it folds; a type the ledger
does not know goes to every view)."""


class Projections:
    """The views of one ledger, in tables beside its events."""

    def __init__(self, ledger: Any, *, batch: int = 500) -> None:
        self.ledger = ledger
        self.tables = SideTables(ledger.recorder)
        self.batch = batch
        self._statements: dict[tuple[str, tuple[str, ...], tuple[str, ...]], str] = {}
        self.written: tuple[int, dict[str, int]] | None = None
        """(position, digests) this object last wrote: a digest row changed since shows in ``check``."""
        self.read_only = bool(getattr(ledger, "read_only", False))
        """Views read from a read copy of the store (a replica): only the primary's runner folds."""
        if not self.read_only:
            self._create()

    def _create(self) -> None:
        """Create the tables; if the views' definitions changed since they were built, drop them
        so the next run folds the log into the new shape (read models are disposable)."""
        t = self.tables
        with t.transaction(commit=True, lock=_LOCK) as cursor:
            cursor.execute(f"CREATE TABLE IF NOT EXISTS {t.table(POSITION)} (name TEXT PRIMARY KEY, "
                           f"position {t.bigint} NOT NULL)")
            cursor.execute(f"SELECT position FROM {t.table(POSITION)} WHERE name = 'shape'")
            shape = cursor.fetchone()
            if shape is None or int(shape[0]) != SHAPE:
                for table in TABLES:
                    cursor.execute(f"DROP TABLE IF EXISTS {t.table(table.name)}")
                cursor.execute(f"DELETE FROM {t.table(POSITION)}")
                cursor.execute(f"INSERT INTO {t.table(POSITION)} (name, position) VALUES ('shape', ?)", (SHAPE,))
                cursor.execute(f"DROP TABLE IF EXISTS {t.table(digest.DIGESTS)}")
            digest.create(cursor, t)
            for table in TABLES:
                columns = [f"{c} {self._type(table, c)}" for c in table.columns]
                cursor.execute(f"CREATE TABLE IF NOT EXISTS {t.table(table.name)} ({', '.join(columns)}, "
                               f"PRIMARY KEY ({', '.join(table.keys)})){'' if t.postgres else ' WITHOUT ROWID'}")
                bulk.create_indexes(cursor, t, table)

    def _type(self, table: Table, column: str) -> str:
        if column in table.counters:
            return f"{self.tables.bigint} NOT NULL DEFAULT 0"
        kind = self.tables.bigint if column in table.integers else "TEXT"
        return f"{kind} NOT NULL" if column in table.keys else kind

    # --- running ---------------------------------------------------------------------------------

    def status(self) -> Status:
        head = self.ledger.recorder.max_notification_id() or 0
        position = self.position()
        t = self.tables
        row = t.fetchone(f"SELECT COUNT(*) FROM {t.events_table} WHERE {t.position_column} > ?", (position,))
        return Status(position, head, int(row[0]) if row else 0)

    def position(self) -> int:
        row = self.tables.fetchone(f"SELECT position FROM {self.tables.table(POSITION)} WHERE name = 'views'")
        return int(row[0]) if row else 0

    def run(self, limit: int | None = None) -> int:
        """Fold every event stored since the last run (at most ``limit``); returns how many.
        Into empty views with no limit, the whole log is folded as a rebuild folds it."""
        if self.read_only:
            raise RuntimeError("these views are read from a read-only copy of the store; fold on the primary")
        self.ledger.refresh_directory()  # keys known before the write lock is taken (Ledger.refresh_directory)
        if limit is None and self.position() == 0:
            return self._fold_log()
        done = 0
        while limit is None or done < limit:
            size = self.batch if limit is None else min(self.batch, limit - done)
            folded = self._run_batch(size)
            done += folded
            if folded < size:
                break
        return done

    def rebuild(self, *, verify_all: bool = False) -> int:
        """Fold the whole log again into empty views, in one transaction (readers see the old
        views until it commits); returns how many events. ``verify_all`` also checks the
        signature of every event the newest checkpoint vouches for."""
        self.ledger.refresh_directory()
        return self._fold_log(verify_all=verify_all)

    def check(self) -> ViewCheck:
        """Recompute each view's digest from its rows and compare it with the one the runner kept.
        A view that fails was changed behind the runner's back; ``wushe projections rebuild``
        folds it again from the signed log.

        The check reads one snapshot (a read transaction on SQLite's WAL; REPEATABLE READ on
        PostgreSQL) and takes no lock: the position, the kept digests and every row are those of
        one moment, while the runner goes on folding beside it (at 5M events a check reads for
        minutes)."""
        return self.judged(*self.recomputed())

    def recomputed(self) -> tuple[int, dict[str, int], tuple[str, ...]]:
        """The reading half of :meth:`check`, all from one snapshot: (the views' position, the
        digests kept with them, the views whose rows no longer give their kept digest). It needs
        only the store, so the server's runner may have it done in a process of its own
        (``projections.keeper``)."""
        t = self.tables
        with t.transaction(commit=False) as cursor:
            if t.postgres:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            position = self._position(cursor)
            kept = digest.load(cursor, t)
            failed = [table.name for table in TABLES if digest.recompute(cursor, t, table) != kept.get(table.name, 0)]
        return position, kept, tuple(failed)

    def judged(self, position: int, kept: dict[str, int], failed: tuple[str, ...]) -> ViewCheck:
        """:meth:`recomputed`'s findings, and a kept digest that is not the one this object last
        wrote at that position (a digest row changed behind the runner's back)."""
        found = list(failed)
        if self.written is not None and self.written[0] == position:
            mine = self.written[1]
            found += [name for name in sorted(set(mine) | set(kept))
                      if mine.get(name, 0) != kept.get(name, 0) and name not in found]
        return ViewCheck(position, tuple(found))

    def _run_batch(self, size: int) -> int:
        with self.tables.transaction(commit=True, lock=_LOCK) as cursor:
            position = self._position(cursor)
            stored = notifications_after(cursor, position, size)
            if not stored:
                return 0
            _check_leaves(cursor, [(n.id, n.originator_id, n.originator_version, n.state) for n in stored])
            batch = _Batch(_Reader(cursor, self.tables))
            for event in self._verified(stored):
                for change in changes_for(event, batch.read):
                    batch.add(change)
            digests = digest.load(cursor, self.tables)
            changed = self._write(cursor, batch, digests)
            digest.save(cursor, self.tables, digests, changed)
            self._set_position(cursor, stored[-1].id)
        self.written = (stored[-1].id, digests)
        return len(stored)

    def _fold_log(self, *, verify_all: bool = False) -> int:
        checkpoint = self.trusted_checkpoint()
        trusted = checkpoint.size if checkpoint else 0
        t = self.tables
        with t.transaction(commit=True, lock=_LOCK) as cursor:
            if not t.postgres:  # the rebuild writes millions of rows into a dozen B-trees: cache them
                cursor.execute(f"PRAGMA cache_size = -{_REBUILD_CACHE_KIB}")
            else:  # one long transaction on purpose: at 5M events a fold goes over 5 s between statements
                cursor.execute("SET LOCAL idle_in_transaction_session_timeout = 0")
            collecting = gc.isenabled()
            gc.disable()  # millions of rows stay alive until the write: the collector would walk them again and again
            try:
                folded, position, digests = self._fold_into(cursor, checkpoint, trusted, verify_all)
            finally:
                if collecting:
                    gc.enable()
                if not t.postgres:
                    cursor.execute("PRAGMA cache_size = -2000")
        self.written = (position, digests)
        return folded

    def _fold_into(self, cursor: Cursor, checkpoint: Checkpoint | None, trusted: int,
                   verify_all: bool) -> tuple[int, int, dict[str, int]]:
        """Fold the whole log into emptied views, in memory, then write every row once
        (``projections.bulk``): (events folded, position, each view's digest)."""
        t = self.tables
        for table in TABLES:
            cursor.execute(f"DELETE FROM {t.table(table.name)}")
        cursor.execute(f"DELETE FROM {t.table(POSITION)} WHERE name = 'views'")
        digest.clear(cursor, t)
        digests: dict[str, int] = {}
        frontier = merkle.Frontier()
        rows = bulk.Rows(TABLES)
        read, apply = rows.read, rows.apply
        cursor.execute(f"SELECT MAX({t.position_column}) FROM {t.events_table}")
        head = int(cursor.fetchone()[0] or 0)  # events stored after this wait for the next run
        apart = _Apart(self.ledger, trusted, final=head == trusted) if self._folds_apart(trusted, verify_all) else None
        elsewhere: dict[str, tuple[list[tuple], int]] = {}
        leaf_hash, apart_types = merkle.leaf_hash, fold_apart.APART
        position = folded = 0
        try:
            while page := _rows_after(cursor, position, _PAGE, head):
                if frontier.size + len(page) > trusted:  # rows past the checkpoint: none may be off the tree
                    _check_leaves(cursor, [(r[0], r[1], r[2], r[4]) for r in page[max(0, trusted - frontier.size):]])
                for row in page:
                    if frontier.size < trusted:
                        if apart is not None and row[3] in apart_types:  # folded by the other process
                            leaf = leaf_hash(bytes(row[4]))
                            frontier.append(leaf)
                            apart.binding.append(leaf)
                            event = None
                        else:
                            event = _vouched(row, frontier)
                            if verify_all:
                                event = next(self._verified([_notification(row)]))
                        if frontier.size == trusted:
                            self._check_root(cursor, frontier, checkpoint)
                        if event is None:
                            continue
                    else:
                        if apart is not None:  # the events after the checkpoint read the volunteers' rows
                            apart, joining = None, apart
                            elsewhere = joining.join(cursor, rows)
                        event = next(self._verified([_notification(row)]))
                    apply(changes_for(event, read))
                position = page[-1][0]
                folded += len(page)
            if frontier.size < trusted:
                raise TamperedEvent("log", frontier.size, f"the log holds {frontier.size} events, fewer than the "
                                    f"{checkpoint.size} its newest checkpoint was signed over (events removed)")
            if apart is not None:
                apart, joining = None, apart
                elsewhere = joining.join(cursor, rows)
        finally:
            if apart is not None:
                apart.stop()
        rows.roll_up()
        bulk.write(cursor, t, rows, digests, elsewhere)
        digest.save(cursor, t, digests, digests)
        if folded:
            self._set_position(cursor, position)
        return folded, position, digests

    def _folds_apart(self, trusted: int, verify_all: bool) -> bool:
        """Whether a whole-log fold has the volunteers' events folded by a second process
        (``projections.fold_apart``): for a log this size, on a store another process can open."""
        return (not verify_all and trusted >= FOLD_APART_FROM and ":memory:" not in str(self.ledger.database_url)
                and hasattr(self.ledger, "settings"))

    def trusted_checkpoint(self) -> Checkpoint | None:
        """The newest checkpoint signed by a current key of the log (None if there is none)."""
        latest = self.ledger.checkpoints.latest()
        if latest is None:
            return None
        for record in self.ledger.directory().active_keys(self.ledger.origin):
            try:
                return open_checkpoint(latest.note, record.key)[0]
            except CheckpointError:
                continue
        return None

    def _check_root(self, cursor: Cursor, frontier: merkle.Frontier, checkpoint: Checkpoint) -> None:
        """The events folded so far must hash to the checkpoint's root; else name the first whose
        bytes differ from the leaf the tree took when it grew over it."""
        if frontier.root() == checkpoint.root:
            return
        t, position = self.tables, 0
        while page := _rows_after(cursor, position, _PAGE):
            cursor.execute(f"SELECT position, hash FROM {t.table(LEAVES)} WHERE position >= ? AND position <= ?",
                           (page[0][0], page[-1][0]))
            leaves = {int(p): bytes(h) for p, h in cursor.fetchall()}
            for row in page:
                if leaves.get(row[0]) != merkle.leaf_hash(bytes(row[4])):
                    raise TamperedEvent(str(row[1]), int(row[2]), f"its stored bytes are not those the Merkle tree "
                                        f"took at log position {row[0]}, under checkpoint {checkpoint.size}")
            position = page[-1][0]
        raise TamperedEvent("log", checkpoint.size, f"the events do not hash to the root of checkpoint "
                            f"{checkpoint.size} (events added, removed or reordered, or the tree altered)")

    def _position(self, cursor: Cursor) -> int:
        cursor.execute(f"SELECT position FROM {self.tables.table(POSITION)} WHERE name = 'views'")
        row = cursor.fetchone()
        return int(row[0]) if row else 0

    def _set_position(self, cursor: Cursor, position: int) -> None:
        table = self.tables.table(POSITION)
        cursor.execute(f"DELETE FROM {table} WHERE name = 'views'")
        cursor.execute(f"INSERT INTO {table} (name, position) VALUES ('views', ?)", (position,))

    def _verified(self, stored: Iterable[Any]) -> Iterator[Event]:
        for n in stored:
            domain_event = self.ledger.mapper.to_domain_event(n)  # raises TamperedEvent: nothing is projected
            payload = {k: v for k, v in vars(domain_event).items() if k not in _ENVELOPE}
            yield Event(n.id, n.topic, str(n.originator_id), n.originator_version, domain_event.timestamp, payload)

    def _write(self, cursor: Cursor, batch: _Batch, digests: dict[str, int]) -> set[str]:
        """Write a batch's merged rows: one statement per table and shape of change, many rows each.
        The views' digests take the change first (``projections.digest``); the views changed."""
        rollups = _rollups(batch.pending)
        changed = digest.apply(batch, _BY_NAME, digests, rollups)
        shapes: dict[tuple[str, tuple[str, ...], tuple[str, ...]], list[tuple]] = {}
        for (name, key), (add, put) in batch.pending.items():
            shapes.setdefault((name, tuple(add), tuple(put)), []).append((*key, *add.values(), *put.values()))
        for (name, key), add in rollups.items():
            shapes.setdefault((name, tuple(add), ()), []).append((*key, *add.values()))
        for (name, adds, puts), rows in shapes.items():
            cursor.executemany(self._upsert(name, adds, puts), rows)
        return changed

    def _upsert(self, name: str, adds: tuple[str, ...], puts: tuple[str, ...]) -> str:
        statement = self._statements.get((name, adds, puts))
        if statement is None:
            table = _BY_NAME[name]
            columns = (*table.keys, *adds, *puts)
            updates = [f"{c} = {name}.{c} + excluded.{c}" for c in adds] + [f"{c} = excluded.{c}" for c in puts]
            action = f"DO UPDATE SET {', '.join(updates)}" if updates else "DO NOTHING"
            statement = (f"INSERT INTO {self.tables.table(name)} AS {name} ({', '.join(columns)}) "
                         f"VALUES ({', '.join('?' * len(columns))}) ON CONFLICT ({', '.join(table.keys)}) {action}")
            self._statements[(name, adds, puts)] = statement
        return statement

    # --- reading ---------------------------------------------------------------------------------

    def rows(self, table: Table, where: str = "", params: tuple = (), order: str = "") -> list[dict[str, Any]]:
        """Rows of a view as dictionaries (``where``/``order`` are SQL fragments of the caller's)."""
        sql = f"SELECT {', '.join(table.columns)} FROM {self.tables.table(table.name)}"
        if where:
            sql += f" WHERE {where}"
        if order:
            sql += f" ORDER BY {order}"
        return [dict(zip(table.columns, r, strict=True)) for r in self.tables.fetchall(sql, params)]


def _rollups(pending: dict[tuple[str, tuple], tuple[dict[str, int], dict[str, Any]]]) -> dict[tuple[str, tuple], dict[str, int]]:
    """The monthly and yearly rows a batch's daily rows add to, merged: a batch of a district's
    events touches thousands of days but only a few months, so the rollups cost little to keep
    (the same sums as :func:`projections.base.rolled_up`, inlined: a rebuild derives millions)."""
    merged: dict[tuple[str, tuple], dict[str, int]] = {}
    get = merged.get
    for (name, key), (add, _put) in pending.items():
        targets = _TARGETS.get(name)
        if targets is None or not add:
            continue
        scope, day, *rest = key
        for target, grain, scopes in targets:
            if scopes is None:
                scopes = (scope,)
            else:
                scopes = (scope, EVERY)
            period = day[:grain]
            for s in scopes:
                row = (target, (s, period, *rest))
                into = get(row)
                if into is None:
                    merged[row] = dict(add)
                else:
                    for column, amount in add.items():
                        into[column] += amount
    return merged


_TARGETS = {t.name: tuple((target, grain, EVERY if every else None) for target, grain, every in t.rollups)
            for t in TABLES if t.rollups}


class _Batch:
    """A batch's changes merged in memory: later events of the batch read them, and each touched
    row is written once at the end (a district's donations hit the same few rows again and again)."""

    def __init__(self, reader: _Reader) -> None:
        self.reader = reader
        self.stored: dict[tuple[str, tuple], dict[str, Any] | None] = {}
        self.pending: dict[tuple[str, tuple], tuple[dict[str, int], dict[str, Any]]] = {}

    def read(self, name: str, key: tuple) -> dict[str, Any] | None:
        where = (name, tuple(key))
        if where not in self.stored:
            self.stored[where] = self.reader(name, key)
        row, pending = self.stored[where], self.pending.get(where)
        if pending is None:
            return dict(row) if row is not None else None
        table = _BY_NAME[name]
        merged = dict(row) if row is not None else {
            **dict(zip(table.keys, key, strict=True)), **{c: 0 for c in table.counters},
            **{c: None for c in table.attributes}}
        add, put = pending
        for column, amount in add.items():
            merged[column] += amount
        merged.update(put)
        return merged

    def add(self, change: ChangeT) -> None:
        name, key, adds, puts = change
        pending = self.pending.get((name, key))
        if pending is None:
            pending = self.pending[(name, key)] = ({}, {})
        if adds:
            add = pending[0]
            for column, amount in adds.items():
                add[column] = add.get(column, 0) + amount
        if puts:
            pending[1].update(puts)



class _Reader:
    """Reads view rows inside the runner's transaction, so earlier events of a batch are seen."""

    def __init__(self, cursor: Cursor, tables: SideTables) -> None:
        self.cursor = cursor
        self.tables = tables

    def __call__(self, name: str, key: tuple) -> dict[str, Any] | None:
        table = _BY_NAME[name]
        where = " AND ".join(f"{k} = ?" for k in table.keys)
        self.cursor.execute(f"SELECT {', '.join(table.columns)} FROM {self.tables.table(name)} WHERE {where}", key)
        row = self.cursor.fetchone()
        return None if row is None else dict(zip(table.columns, row, strict=True))


class _Apart:
    """A ``python -m projections.fold_apart`` started for a rebuild, folding the volunteers' events
    up to ``through``, and the binding of the events this process hashed for it. ``final``: no event
    comes after ``through``, so the other process also rolls up, hashes and orders its rows for
    writing; else it gives its rows back for the events after the checkpoint to read."""

    def __init__(self, ledger: Any, through: int, *, final: bool) -> None:
        self.through = through
        self.binding = fold_apart.Binding()
        self.child = subprocess.Popen([sys.executable, "-m", "projections.fold_apart"], stdin=subprocess.PIPE,
                                      stdout=subprocess.PIPE)
        try:
            self.child.stdin.write(pickle.dumps((ledger.settings, ledger.database_url, through, final)))
            self.child.stdin.close()
        except OSError:
            pass  # it died at once: join() finds out and folds the events here

    def join(self, cursor: Cursor, rows: bulk.Rows) -> dict[str, tuple[list[tuple], int]]:
        """Take the other process's rows: into ``rows``, or (when it prepared them) as the rows to
        write beside them, per table (rows as stored, the sum of their hashes). If it failed, fold
        its events here (they touch no row the others do, so out of log order they give the same
        views). Either way, what was folded must be what this process hashed into the tree."""
        out = self.child.stdout.read()
        self.child.wait()
        try:
            status, found = pickle.loads(out) if self.child.returncode == 0 and out else (
                "failed", f"exit code {self.child.returncode}")
        except (pickle.UnpicklingError, EOFError, ValueError) as exc:
            status, found = "failed", f"unreadable answer: {exc}"
        prepared: dict[str, tuple[list[tuple], int]] = {}
        if status == "ok":
            kind, held, count, bound = found
            if kind == "final":
                prepared = held
            else:
                for name, items in held.items():
                    kept, columns = rows.rows[name], rows.tables[name].counters + rows.tables[name].attributes
                    for key, values in items:
                        if key in kept:
                            raise RuntimeError(f"{name} row {key} was folded by both processes of the rebuild")
                        kept[key] = dict(zip(columns, values, strict=True))
        else:
            logger.warning("folding the volunteers' events apart failed (%s); folding them in this process", found)
            binding = fold_apart.fold(cursor, rows, self.through)
            count, bound = binding.count, binding.digest()
        if (count, bound) != (self.binding.count, self.binding.digest()):
            raise TamperedEvent("log", self.through, f"the {count} volunteer events folded apart are not the "
                                f"{self.binding.count} hashed into the tree (the log changed during the rebuild)")
        return prepared

    def stop(self) -> None:
        if self.child.poll() is None:
            self.child.kill()
        self.child.communicate()


def _rows_after(cursor: Cursor, position: int, limit: int, through: int | None = None) -> list[tuple]:
    """Stored events after a position (up to ``through``) as plain rows: (position, stream, version,
    type, bytes)."""
    t = cursor._tables
    bound = f"AND {t.position_column} <= {int(through)} " if through is not None else ""
    cursor.execute(
        f"SELECT {t.position_column}, originator_id, originator_version, topic, state FROM {t.events_table} "
        f"WHERE {t.position_column} > ? {bound}ORDER BY {t.position_column} LIMIT ?",
        (position, limit),
    )
    return cursor.fetchall()


def _check_leaves(cursor: Cursor, rows: list[tuple[int, str, int, bytes]]) -> None:
    """Rows (position, stream, version, bytes) at or below the Merkle tree's head must be its leaves,
    byte for byte: the tree grows only at the head, in order, so a row it passed without taking
    was written behind the ledger's back (``ledger.integrity``). One query per batch."""
    t = cursor._tables
    cursor.execute(f"SELECT MAX(position) FROM {t.table(LEAVES)}")
    head = int(cursor.fetchone()[0] or 0)
    if not rows or rows[0][0] > head:
        return
    cursor.execute(f"SELECT position, hash FROM {t.table(LEAVES)} WHERE position >= ? AND position <= ?",
                   (rows[0][0], min(rows[-1][0], head)))
    leaves = {int(p): bytes(h) for p, h in cursor.fetchall()}
    for position, stream, version, state in rows:
        if position > head:
            return
        if leaves.get(int(position)) != merkle.leaf_hash(bytes(state)):
            problem = ("is not a leaf of the Merkle log although the tree has grown past its position: it was "
                       "written behind the ledger's back") if int(position) not in leaves else (
                       f"its stored bytes are not those the Merkle tree took at log position {position}")
            raise TamperedEvent(str(stream), int(version), problem)


def _notification(row: tuple) -> Notification:
    position, stream, version, topic, state = row
    return Notification(id=int(position), originator_id=stream, originator_version=int(version), topic=topic,
                        state=bytes(state))


def _vouched(row: tuple, frontier: merkle.Frontier) -> Event:
    """An event under a checkpoint: its leaf joins the tree being rebuilt, its signed text is
    decoded and must agree with the row it is stored in (the leaf covers the bytes, not the row)."""
    position, stream, version, topic, state = row
    state = bytes(state)
    frontier.append(merkle.leaf_hash(state))
    try:
        body = _decode(state[: state.rindex(b"\n\n") + 1])
        payload, timestamp = body["payload"], datetime.fromisoformat(body["timestamp"])
        agrees = body["stream"] == str(stream) and body["version"] == version and body["type"] == topic
    except (ValueError, KeyError, TypeError, msgspec.DecodeError) as exc:
        raise TamperedEvent(str(stream), int(version), f"its signed text cannot be read: {exc}") from None
    if not agrees:
        raise TamperedEvent(str(stream), int(version), f"signed as {body['stream']} v{body['version']} "
                            f"{body['type']} but stored as {stream} v{version} {topic}")
    return Event(int(position), topic, str(stream), int(version), timestamp, payload)
