"""The Merkle tree rebuilt from a bundle's leaves, and the checks of every checkpoint against it:
signed by the log key, same root at the same size, consistent with the one before and with the
checkpoint the auditor trusts. Hashing and proofs are ``ledger.merkle``'s."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

from audits.bundle import StoredRow
from audits.findings import CRITICAL, Finding
from audits.replay import ref
from ledger import merkle
from ledger.checkpoints import Checkpoint, CheckpointError, open_checkpoint, verify_cosignature
from ledger.signing import VerifierKey, parse_note

SEARCH_BUDGET = 4_000_000
"""Leaf hashes a search for the one inserted or swapped event may spend before giving up and
naming the range instead."""


class LeafTree:
    """Every perfect subtree of the leaves, level by level, so any root or proof is a few folds."""

    def __init__(self, leaf_hashes: Sequence[bytes]) -> None:
        self.levels = [list(leaf_hashes)]
        while len(self.levels[-1]) > 1:
            below = self.levels[-1]
            self.levels.append([merkle.node_hash(below[i], below[i + 1]) for i in range(0, len(below) - 1, 2)])

    @classmethod
    def of(cls, leaves: Sequence[bytes]) -> LeafTree:
        return cls([merkle.leaf_hash(d) for d in leaves])

    @property
    def size(self) -> int:
        return len(self.levels[0])

    def range_hash(self, start: int, end: int) -> bytes:
        parts = merkle.perfect_parts(start, end)
        return merkle.fold([self.levels[(b - a).bit_length() - 1][a >> ((b - a).bit_length() - 1)] for a, b in parts])

    def root(self, size: int) -> bytes:
        return merkle.EMPTY_ROOT if size == 0 else self.range_hash(0, size)

    def consistency_proof(self, old: int, new: int) -> list[bytes]:
        if old in (0, new):
            return []
        return [self.range_hash(a, b) for a, b in merkle.consistency_ranges(old, new)]


@dataclass(frozen=True)
class SignedHead:
    """A checkpoint whose log signature verified."""

    checkpoint: Checkpoint
    note: bytes
    source: str
    """'bundle' or 'trusted'."""


def open_signed(note: bytes, log_keys: Sequence[VerifierKey]) -> Checkpoint:
    """The checkpoint, if any of the log's keys signed it; CheckpointError otherwise."""
    problem = "no log key is known"
    for key in log_keys:
        try:
            return open_checkpoint(note, key)[0]
        except CheckpointError as exc:
            problem = str(exc)
    raise CheckpointError(problem)


def check_checkpoints(rows: Sequence[StoredRow], tree: LeafTree, notes: Sequence[tuple[int, bytes]],
                      log_keys: Sequence[VerifierKey], trusted: bytes | None = None,
                      witnesses: Sequence[VerifierKey] = ()) -> tuple[list[Finding], int, dict[int, list[str]]]:
    """Findings about the checkpoints, the size of the trusted prefix (0 if none or not intact), and
    which trusted witnesses validly cosigned each checkpoint (by tree size)."""
    findings: list[Finding] = []
    heads: list[SignedHead] = []
    for declared, note in notes:
        try:
            checkpoint = open_signed(note, log_keys)
        except CheckpointError as exc:
            findings.append(Finding("integrity.checkpoint", CRITICAL,
                                    f"checkpoint of size {declared} does not verify: {exc}",
                                    f"大小为 {declared} 的检查点签名无效", details={"tree_size": declared}))
            continue
        if checkpoint.size != declared:
            findings.append(Finding("integrity.checkpoint", CRITICAL,
                                    f"checkpoint listed as size {declared} commits to size {checkpoint.size}",
                                    f"检查点标注大小 {declared} 与其签名内容 {checkpoint.size} 不符"))
        heads.append(SignedHead(checkpoint, note, "bundle"))
    witnessed = {h.checkpoint.size: cosigners(h, witnesses, findings) for h in heads}
    trusted_size = 0
    if trusted is not None:
        checkpoint = open_signed(trusted, log_keys)  # the caller turns a refusal into a usage error
        heads.append(SignedHead(checkpoint, trusted, "trusted"))
    for head in heads:
        problem = _against_tree(rows, tree, head, heads)
        if problem is not None:
            findings.append(problem)
        elif head.source == "trusted":
            trusted_size = head.checkpoint.size
    findings += _consistency(tree, heads)
    return findings, trusted_size, witnessed


def cosigners(head: SignedHead, witnesses: Sequence[VerifierKey], findings: list[Finding]) -> list[str]:
    """Key ids of the trusted witnesses whose cosignature on the checkpoint verifies (C2SP
    tlog-cosignature); a line that claims a trusted witness's key but does not verify is a finding.
    Lines of witnesses not given are left unchecked."""
    signed = []
    for line in parse_note(head.note).signatures:
        for witness in witnesses:
            if line.name == witness.name and line.key_hash == witness.hash:
                if verify_cosignature(head.checkpoint.text, line, witness) is None:
                    findings.append(Finding("integrity.checkpoint", CRITICAL,
                                            f"{witness.key_id}'s cosignature on {_what(head)} does not verify",
                                            f"见证方 {witness.key_id} 对大小为 {head.checkpoint.size} 的检查点的副署无效",
                                            details={"tree_size": head.checkpoint.size, "witness": witness.key_id}))
                else:
                    signed.append(witness.key_id)
    return signed


def _against_tree(rows, tree: LeafTree, head: SignedHead, heads: Sequence[SignedHead]) -> Finding | None:
    size, root, what = head.checkpoint.size, head.checkpoint.root, _what(head)
    if size > tree.size:
        last = (ref(rows[-1], len(rows) - 1),) if rows else ()
        return Finding("integrity.truncated", CRITICAL,
                       f"{what} commits to {size} events but the log has {tree.size}: "
                       f"{size - tree.size} event(s) after leaf {tree.size - 1} are missing",
                       f"{what}承诺 {size} 条事件，日志仅有 {tree.size} 条：末尾 {size - tree.size} 条被截断",
                       last, details={"tree_size": size, "leaves": tree.size})
    if tree.root(size) == root:
        return None
    good = max((h.checkpoint.size for h in heads
                if h.checkpoint.size < size and h.checkpoint.size <= tree.size
                and tree.root(h.checkpoint.size) == h.checkpoint.root), default=0)
    return _locate(rows, tree, good, size, root, what)


def _what(head: SignedHead) -> str:
    return ("the trusted checkpoint" if head.source == "trusted" else "the checkpoint") + f" of size {head.checkpoint.size}"


def _locate(rows, tree: LeafTree, good: int, size: int, root: bytes, what: str) -> Finding:
    """Name the event that breaks a checkpoint: one inserted event, or two swapped neighbours, in
    the leaves after the last checkpoint that still matches; else the range that changed."""
    leaves = tree.levels[0]
    window = range(good, min(size + 1, len(leaves)))
    if len(window) * (size - good + 1) <= SEARCH_BUDGET:
        for i in window:
            trial = leaves[good:i] + leaves[i + 1 : size + 1]
            if len(trial) + good >= size and _root_with(leaves[:good], trial, size) == root:
                row = rows[i]
                return Finding("integrity.inserted", CRITICAL,
                               f"event #{row.position} {row.stream} v{row.version} {row.type} (leaf {i}) was "
                               f"inserted: without it the log matches {what}",
                               f"事件 #{row.position} {row.stream} 第{row.version}版为插入：去掉它日志才与检查点相符",
                               (ref(row, i),), details={"tree_size": size})
        for i in range(good, min(size - 1, len(leaves) - 1)):
            trial = leaves[good:size]
            trial[i - good], trial[i - good + 1] = trial[i - good + 1], trial[i - good]
            if _root_with(leaves[:good], trial, size) == root:
                pair = (ref(rows[i], i), ref(rows[i + 1], i + 1))
                return Finding("integrity.reordered", CRITICAL,
                               f"events #{rows[i].position} and #{rows[i + 1].position} (leaves {i}, {i + 1}) were "
                               f"swapped: in the other order the log matches {what}",
                               f"事件 #{rows[i].position} 与 #{rows[i + 1].position} 顺序被对调", pair,
                               details={"tree_size": size})
    first = rows[good] if good < len(rows) else None
    named = (ref(first, good),) if first is not None else ()
    return Finding("integrity.rewritten", CRITICAL,
                   f"the log does not match {what}: some event among leaves {good}–{size - 1} was deleted, "
                   f"inserted or changed (leaves before {good} match an earlier checkpoint)",
                   f"日志与检查点不符：第 {good}–{size - 1} 叶之间有事件被删除、插入或改动",
                   named, details={"tree_size": size, "first_bad_leaf": good})


def _root_with(prefix: list[bytes], tail: list[bytes], size: int) -> bytes:
    return LeafTree(prefix + tail[: size - len(prefix)]).root(size)


def _consistency(tree: LeafTree, heads: Sequence[SignedHead]) -> list[Finding]:
    """Each checkpoint extends the one before (RFC 9162 consistency proof, checked against the
    signed roots); two checkpoints of one size with different roots are a split view."""
    findings = []
    ordered = sorted(heads, key=lambda h: h.checkpoint.size)
    for old, new in itertools.pairwise(ordered):
        a, b = old.checkpoint, new.checkpoint
        if a.size == b.size:
            if a.root != b.root:
                findings.append(Finding("integrity.consistency", CRITICAL,
                                        f"two signed checkpoints of size {a.size} have different roots (split view)",
                                        f"两个大小均为 {a.size} 的检查点根哈希不同（分叉视图）"))
            continue
        if b.size > tree.size:
            continue  # reported as truncation
        proof = tree.consistency_proof(a.size, b.size)
        if not merkle.verify_consistency(a.size, b.size, a.root, b.root, proof):
            findings.append(Finding("integrity.consistency", CRITICAL,
                                    f"{_what(new)} is not consistent with {_what(old)}",
                                    f"检查点 {b.size} 与检查点 {a.size} 不一致",
                                    details={"old_size": a.size, "new_size": b.size}))
    return findings
