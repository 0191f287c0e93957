"""The persisted Merkle tree over the event log: one leaf per stored event (its signed bytes
exactly as stored), in log order, in the same database as the events.

Every perfect subtree (a power-of-two run of leaves, aligned) is stored once when it completes,
so appending a leaf writes O(log n) rows at most (amortised two), and the hash of any range a
proof or root needs — for any past tree size — is a fold over at most log n stored subtrees.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from eventsourcing.persistence import IntegrityError

from ledger import merkle
from ledger.sidetables import SideTables, notifications_after, storable

LEAVES = "wushe_merkle_leaves"
NODES = "wushe_merkle_nodes"
_LOCK = "wushe_merkle_log"


class ProofRangeError(ValueError):
    """A proof or root asked for beyond the tree, or with a malformed index or size."""


class MerkleLog:
    """The tree over one ledger's log.

    With ``check`` (the ledger passes its signature check), the tree grows only over events that
    pass it: a sync first checks every event it is about to add, and stops short of — and raises
    at — the first that fails. A checkpoint of the tree therefore vouches that every event under
    it verified when the tree grew over it, which lets a rebuild trust those events' bytes once
    they hash to the checkpoint's root (``projections.runner``)."""

    def __init__(self, recorder: Any, *, batch: int = 2000, check: Callable[[Any], Any] | None = None,
                 read_only: bool = False) -> None:
        self.recorder = recorder
        self.tables = SideTables(recorder)
        self.batch = batch
        self.check = check
        self.read_only = read_only
        """A read copy of the store (a replica): the tree is as the primary grew it, never appended."""
        if not read_only:
            self._create_tables()

    def _create_tables(self) -> None:
        t = self.tables
        with t.transaction(commit=True, lock=_LOCK) as cursor:
            cursor.execute(
                f"CREATE TABLE IF NOT EXISTS {t.table(LEAVES)} ("
                f"leaf_index {t.bigint} PRIMARY KEY, position {t.bigint} NOT NULL UNIQUE, hash {t.blob} NOT NULL)"
            )
            cursor.execute(
                f"CREATE TABLE IF NOT EXISTS {t.table(NODES)} ("
                f"level INTEGER NOT NULL, node_index {t.bigint} NOT NULL, hash {t.blob} NOT NULL, "
                "PRIMARY KEY (level, node_index))"
            )

    # --- appending -------------------------------------------------------------------------------

    def size(self) -> int:
        """The number of leaves. Leaves are numbered from 0 without gaps, so the largest index
        answers from the primary key at once, where COUNT(*) would scan every leaf."""
        row = self.tables.fetchone(f"SELECT MAX(leaf_index) FROM {self.tables.table(LEAVES)}")
        return 0 if row is None or row[0] is None else int(row[0]) + 1

    def synced_position(self) -> int:
        """The log position of the last event the tree holds (0 for an empty tree)."""
        row = self.tables.fetchone(f"SELECT MAX(position) FROM {self.tables.table(LEAVES)}")
        return 0 if row is None or row[0] is None else int(row[0])

    def sync(self, through: int | None = None) -> int:
        """Append a leaf for every event stored since the last sync (up to log position
        ``through``, if given); returns the tree size.

        Safe to run from several processes: appends are serialised, and a loser retries.
        On a read-only tree nothing is appended: the size it has is returned."""
        if self.read_only:
            return self.size()
        if self.check is not None:
            through = self._checked_through(through)
        while True:
            try:
                appended, size = self._append_batch(through)
            except IntegrityError:
                continue  # another process appended the same leaves first
            if appended < self.batch:
                return size

    def _checked_through(self, through: int | None) -> int:
        """Check every event past the tree up to ``through`` (outside any transaction: the check
        may read the store itself); the last position checked. Raises at the first failure."""
        last = self.synced_position()
        while through is None or last < through:
            page = self.recorder.select_notifications(start=last + 1, limit=self.batch, stop=through)
            for n in page:
                self.check(n)
                last = n.id
            if len(page) < self.batch:
                break
        return last

    def _append_batch(self, through: int | None) -> tuple[int, int]:
        t = self.tables
        with t.transaction(commit=True, lock=_LOCK) as cursor:
            # Two single-aggregate queries: each answers from an index (asked together, SQLite scans).
            cursor.execute(f"SELECT MAX(leaf_index) FROM {t.table(LEAVES)}")
            last_leaf = cursor.fetchone()[0]
            size = 0 if last_leaf is None else int(last_leaf) + 1
            cursor.execute(f"SELECT MAX(position) FROM {t.table(LEAVES)}")
            last_position = int(cursor.fetchone()[0] or 0)
            stored = notifications_after(cursor, last_position, self.batch, through)
            if not stored:
                return 0, size
            frontier = merkle.Frontier(self._frontier(cursor, size), size)
            leaves, nodes = [], []
            for n in stored:
                leaf = merkle.leaf_hash(bytes(n.state))
                leaves.append((frontier.size, n.id, leaf))
                nodes.extend(frontier.append(leaf))
            size = frontier.size
            cursor.executemany(f"INSERT INTO {t.table(LEAVES)} (leaf_index, position, hash) VALUES (?, ?, ?)", leaves)
            cursor.executemany(f"INSERT INTO {t.table(NODES)} (level, node_index, hash) VALUES (?, ?, ?)", nodes)
            return len(stored), size

    def _frontier(self, cursor: Any, size: int) -> list[tuple[int, bytes]]:
        """(level, hash) of the perfect subtrees that make up a tree of ``size`` leaves, left to right."""
        parts = merkle.perfect_parts(0, size)
        hashes = self._subtree_hashes(parts, cursor)
        return [((end - start).bit_length() - 1, hashes[(start, end)]) for start, end in parts]

    # --- reading ---------------------------------------------------------------------------------

    def _subtree_hashes(self, parts: Sequence[tuple[int, int]], cursor: Any = None) -> dict[tuple[int, int], bytes]:
        """Hashes of perfect subtrees, fetched in two queries."""
        leaves = sorted({start for start, end in parts if end - start == 1})
        nodes = sorted({((end - start).bit_length() - 1, start >> ((end - start).bit_length() - 1))
                        for start, end in parts if end - start > 1})
        found: dict[tuple[int, int], bytes] = {}
        t = self.tables

        def run(statement: str, params: Sequence[Any]) -> list[tuple]:
            if cursor is not None:
                cursor.execute(statement, params)
                return cursor.fetchall()
            return t.fetchall(statement, params)

        for chunk in _chunks(leaves, 500):
            marks = ",".join("?" * len(chunk))
            for index, digest in run(f"SELECT leaf_index, hash FROM {t.table(LEAVES)} WHERE leaf_index IN ({marks})",
                                     chunk):
                found[(int(index), int(index) + 1)] = bytes(digest)
        for chunk in _chunks(nodes, 250):
            where = " OR ".join("(level = ? AND node_index = ?)" for _ in chunk)
            params = [v for pair in chunk for v in pair]
            for level, index, digest in run(f"SELECT level, node_index, hash FROM {t.table(NODES)} WHERE {where}",
                                            params):
                width = 1 << int(level)
                found[(int(index) * width, int(index) * width + width)] = bytes(digest)
        missing = [p for p in parts if p not in found]
        if missing:
            raise ProofRangeError(f"subtrees {missing[:3]} are not in the tree (is it synced?)")
        return found

    def _range_hashes(self, ranges: Sequence[tuple[int, int]]) -> list[bytes]:
        decomposed = [merkle.perfect_parts(start, end) for start, end in ranges]
        hashes = self._subtree_hashes([p for parts in decomposed for p in parts])
        return [merkle.fold([hashes[p] for p in parts]) for parts in decomposed]

    def root(self, size: int) -> bytes:
        """The root hash of the tree when it had ``size`` leaves."""
        self._check_size(size)
        if size == 0:
            return merkle.EMPTY_ROOT
        return self._range_hashes([(0, size)])[0]

    def inclusion_proof(self, leaf_index: int, size: int) -> list[bytes]:
        self._check_size(size)
        if isinstance(leaf_index, bool) or not isinstance(leaf_index, int) or not 0 <= leaf_index < size:
            raise ProofRangeError(f"leaf index {leaf_index} is not in a tree of {size} leaves")
        return self._range_hashes(merkle.inclusion_ranges(leaf_index, size))

    def consistency_proof(self, old_size: int, new_size: int) -> list[bytes]:
        self._check_size(new_size)
        if isinstance(old_size, bool) or not isinstance(old_size, int) or not 0 <= old_size <= new_size:
            raise ProofRangeError(f"old size {old_size} must be between 0 and the new size {new_size}")
        if old_size in (0, new_size):
            return []
        return self._range_hashes(merkle.consistency_ranges(old_size, new_size))

    def leaf_at(self, leaf_index: int) -> tuple[int, bytes] | None:
        """(log position, leaf hash) of a leaf."""
        if not storable(leaf_index):
            return None
        row = self.tables.fetchone(
            f"SELECT position, hash FROM {self.tables.table(LEAVES)} WHERE leaf_index = ?", (leaf_index,)
        )
        return None if row is None else (int(row[0]), bytes(row[1]))

    def leaf_index_of(self, position: int) -> int | None:
        """The leaf index of the event at a log position (None until synced, or no such event)."""
        if not storable(position):
            return None
        row = self.tables.fetchone(
            f"SELECT leaf_index FROM {self.tables.table(LEAVES)} WHERE position = ?", (position,)
        )
        return None if row is None else int(row[0])

    def _check_size(self, size: int) -> None:
        if isinstance(size, bool) or not isinstance(size, int) or size < 0:
            raise ProofRangeError(f"tree size {size!r} must be a whole number")
        current = self.size()
        if size > current:
            raise ProofRangeError(f"tree size {size} is beyond the log's {current} leaves")


def _chunks(items: Sequence[Any], size: int) -> list[Sequence[Any]]:
    return [items[i : i + size] for i in range(0, len(items), size)]
