"""What the stored log can be checked for without trusting a checkpoint: the shape a database
insider cannot change without it showing.

Signatures (``ledger.verify``) prove each event was written by a key in force; they cannot show a
row deleted, rows reordered, or a genuinely signed event slipped into a free log position (a
PostgreSQL sequence keeps the gaps of rolled-back writes for ever). These checks can:

* each stream's versions run 1, 2, 3 … in log order, with none missing;
* the Merkle tree's leaves are numbered without gaps, their positions rise, each names a stored
  event whose bytes hash to it, and every event at or below the tree's last leaf is a leaf — the
  tree grows only at the log's head, in order, so an event that is not a leaf although the tree
  has passed its position was put there behind the ledger's back;
* the events' own bytes, in log order, hash to the root of the newest checkpoint (when one is
  given, already opened with the log's key), and so does the stored tree.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from ledger import merkle
from ledger.checkpoints import Checkpoint
from ledger.merkle_log import LEAVES, MerkleLog, ProofRangeError
from ledger.sidetables import SideTables

_PAGE = 5000


@dataclass(frozen=True)
class Break:
    """One way the stored log is not what the ledger wrote."""

    position: int | None
    """The log position of the first event concerned (None when it concerns the tree as a whole)."""
    stream: str
    version: int | None
    problem: str

    @property
    def sort_key(self) -> tuple[int, int]:
        return (self.position if self.position is not None else 2**63, 0)


@dataclass(frozen=True)
class StructureReport:
    breaks: tuple[Break, ...]
    """Sorted by log position: the first is the first event that breaks the log."""
    events: int
    leaves: int
    checkpoint_size: int | None
    """The size of the checkpoint the log was checked against (None: no trusted checkpoint)."""

    @property
    def ok(self) -> bool:
        return not self.breaks


def _events(tables: SideTables) -> Iterator[tuple[int, str, int, bytes]]:
    position = 0
    while True:
        rows = tables.fetchall(
            f"SELECT {tables.position_column}, originator_id, originator_version, state FROM {tables.events_table} "
            f"WHERE {tables.position_column} > ? ORDER BY {tables.position_column} LIMIT ?", (position, _PAGE))
        for row in rows:
            yield int(row[0]), str(row[1]), int(row[2]), bytes(row[3])
        if len(rows) < _PAGE:
            return
        position = int(rows[-1][0])


def _leaves(tables: SideTables) -> Iterator[tuple[int, int, bytes]]:
    index = -1
    while True:
        rows = tables.fetchall(f"SELECT leaf_index, position, hash FROM {tables.table(LEAVES)} WHERE leaf_index > ? "
                               "ORDER BY leaf_index LIMIT ?", (index, _PAGE))
        for row in rows:
            yield int(row[0]), int(row[1]), bytes(row[2])
        if len(rows) < _PAGE:
            return
        index = int(rows[-1][0])


def check_structure(recorder: Any, tree: MerkleLog, checkpoint: Checkpoint | None) -> StructureReport:
    """Check the log's shape (module docstring); every break found, the first event first."""
    tables = SideTables(recorder)
    breaks: list[Break] = []
    versions: dict[str, int] = {}
    events_frontier = merkle.Frontier()
    leaves_frontier = merkle.Frontier()
    leaves = _leaves(tables)
    leaf = next(leaves, None)
    expected_index = 0
    last_leaf_position = 0
    count = 0

    def take_leaf() -> None:
        nonlocal leaf, expected_index, last_leaf_position
        index, position, digest = leaf  # type: ignore[misc]
        if index != expected_index:
            breaks.append(Break(position, "merkle", index, f"the Merkle tree jumps from leaf {expected_index - 1} to "
                                f"leaf {index}: leaves were deleted"))
        if position <= last_leaf_position:
            breaks.append(Break(position, "merkle", index, f"leaf {index} names log position {position}, not after "
                                f"the previous leaf's {last_leaf_position}: the tree was reordered"))
        expected_index = index + 1
        last_leaf_position = max(last_leaf_position, position)
        leaves_frontier.append(digest)
        leaf = next(leaves, None)

    for position, stream, version, state in _events(tables):
        count += 1
        last = versions.get(stream, 0)
        if version <= last:
            breaks.append(Break(position, stream, version, f"v{version} of {stream} is stored after its v{last}: "
                                "rows were reordered"))
        elif version != last + 1:
            missing = f"v{last + 1}" if version == last + 2 else f"v{last + 1}–v{version - 1}"
            breaks.append(Break(position, stream, version, f"{stream} jumps from v{last} to v{version}: {missing} "
                                "missing (rows deleted)"))
        versions[stream] = max(last, version)
        if checkpoint is not None and events_frontier.size < checkpoint.size:
            events_frontier.append(merkle.leaf_hash(state))
            if events_frontier.size == checkpoint.size and events_frontier.root() != checkpoint.root:
                breaks.append(Break(None, "log", checkpoint.size, f"the first {checkpoint.size} events do not hash to "
                                    "the root of the newest checkpoint (events added, removed, reordered or edited)"))
        while leaf is not None and leaf[1] < position:  # a leaf whose event is gone
            breaks.append(Break(leaf[1], "?", None, f"the event at log position {leaf[1]} (leaf {leaf[0]}) is "
                                "missing: the row was deleted or moved"))
            take_leaf()
        if leaf is not None and leaf[1] == position:
            if leaf[2] != merkle.leaf_hash(state):
                breaks.append(Break(position, stream, version, f"its stored bytes are not those the Merkle tree took "
                                    f"at log position {position} (leaf {leaf[0]}): edited, or rows moved"))
            take_leaf()
        elif leaf is not None:
            breaks.append(Break(position, stream, version, "is not a leaf of the Merkle log although the tree has "
                                "grown past its position: inserted behind the ledger's back"))
    while leaf is not None:
        breaks.append(Break(leaf[1], "?", None, f"the event at log position {leaf[1]} (leaf {leaf[0]}) is missing: "
                            "the row was deleted"))
        take_leaf()
    if checkpoint is not None:
        if events_frontier.size < checkpoint.size:
            breaks.append(Break(None, "log", checkpoint.size, f"the log holds {events_frontier.size} events, fewer "
                                f"than the {checkpoint.size} its newest checkpoint was signed over (events removed)"))
        try:
            stored_root = tree.root(checkpoint.size)
        except ProofRangeError as exc:
            breaks.append(Break(None, "merkle", checkpoint.size, f"the stored tree cannot give the root of the newest "
                                f"checkpoint: {exc}"))
        else:
            if stored_root != checkpoint.root:
                breaks.append(Break(None, "merkle", checkpoint.size, "the stored tree does not give the newest "
                                    "checkpoint's root: its tables were altered"))
    size = leaves_frontier.size
    if size and not breaks:
        try:
            stored_root = tree.root(size)
        except ProofRangeError as exc:
            breaks.append(Break(None, "merkle", size, f"the stored tree's nodes are incomplete: {exc}"))
        else:
            if stored_root != leaves_frontier.root():
                breaks.append(Break(None, "merkle", size, "the stored tree's nodes do not fold to its leaves: "
                                    "they were altered"))
    breaks.sort(key=lambda b: b.sort_key)
    return StructureReport(tuple(breaks), count, size, checkpoint.size if checkpoint is not None else None)
