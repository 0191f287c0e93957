"""Merkle trees as RFC 9162 §2.1 defines them (SHA-256; leaf prefix 0x00, node prefix 0x01).

The proof algorithms are written once, over a function that hashes any range of leaves, so the
in-memory functions below and the persisted log (``ledger.merkle_log``) share them: a proof is the
list of subtree hashes of the ranges ``inclusion_ranges`` / ``consistency_ranges`` name.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence

HASH_SIZE = 32
Range = tuple[int, int]
"""Leaves ``[start, end)``."""


def leaf_hash(data: bytes) -> bytes:
    """MTH of one leaf: SHA-256(0x00 || data)."""
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """An interior node: SHA-256(0x01 || left || right)."""
    return hashlib.sha256(b"\x01" + left + right).digest()


EMPTY_ROOT = hashlib.sha256(b"").digest()
"""The root hash of the empty tree: SHA-256 of nothing."""


def split_point(n: int) -> int:
    """The largest power of two strictly smaller than ``n`` (n > 1)."""
    return 1 << ((n - 1).bit_length() - 1)


# --- which subtrees a proof consists of --------------------------------------------------------


def inclusion_ranges(index: int, size: int) -> list[Range]:
    """The ranges whose hashes form the audit path of leaf ``index`` in a tree of ``size`` leaves
    (RFC 9162 §2.1.3.1), ordered from the leaf upwards."""
    _check_index(index, size)
    ranges: list[Range] = []
    start, end = 0, size
    while end - start > 1:
        k = split_point(end - start)
        if index < start + k:
            ranges.append((start + k, end))
            end = start + k
        else:
            ranges.append((start, start + k))
            start += k
    ranges.reverse()
    return ranges


def consistency_ranges(old_size: int, new_size: int) -> list[Range]:
    """The ranges whose hashes form the consistency proof from ``old_size`` to ``new_size``
    (RFC 9162 §2.1.4.1, SUBPROOF unrolled), in proof order."""
    if not (_whole(old_size) and _whole(new_size)):
        raise TypeError("sizes are integers")
    if not 0 < old_size <= new_size:
        raise ValueError(f"need 0 < old size ({old_size}) <= new size ({new_size})")
    later: list[Range] = []
    start, end, m, whole_old_tree = 0, new_size, old_size, True
    while m != end - start:
        k = split_point(end - start)
        if m <= k:
            later.append((start + k, end))
            end = start + k
        else:
            later.append((start, start + k))
            start, m, whole_old_tree = start + k, m - k, False
    first = [] if whole_old_tree else [(start, end)]
    return first + later[::-1]


def perfect_parts(start: int, end: int) -> list[Range]:
    """Split ``[start, end)`` into the perfect subtrees (power-of-two sized, aligned) whose hashes,
    folded right to left with ``node_hash``, give the range's MTH. Valid for every range a proof
    or a root names: ``start`` is aligned to the largest power of two not above ``end - start``."""
    parts: list[Range] = []
    while start < end:
        width = 1 << ((end - start).bit_length() - 1)
        parts.append((start, start + width))
        start += width
    return parts


def fold(hashes: Sequence[bytes]) -> bytes:
    """Combine perfect-subtree hashes, given left to right, into the hash of their union."""
    result = hashes[-1]
    for left in reversed(hashes[:-1]):
        result = node_hash(left, result)
    return result


class Frontier:
    """The right edge of a tree being grown leaf by leaf: the (level, hash) of its perfect
    subtrees, left to right. Appending is O(1) amortised; ``root()`` folds the edge."""

    __slots__ = ("parts", "size")

    def __init__(self, parts: Sequence[tuple[int, bytes]] = (), size: int = 0) -> None:
        self.parts = list(parts)
        self.size = size

    def append(self, leaf: bytes) -> list[tuple[int, int, bytes]]:
        """Add a leaf hash; returns the (level, index, hash) of each perfect subtree it completes."""
        parts = self.parts
        parts.append((0, leaf))
        index, level, completed = self.size, 0, []
        self.size += 1
        while len(parts) >= 2 and parts[-1][0] == parts[-2][0]:
            (_, right), (_, left) = parts.pop(), parts.pop()
            level += 1
            parent = node_hash(left, right)
            parts.append((level, parent))
            completed.append((level, index >> level, parent))
        return completed

    def root(self) -> bytes:
        return fold([h for _, h in self.parts]) if self.parts else EMPTY_ROOT


# --- in-memory trees over leaf data ------------------------------------------------------------


def _range_hasher(leaves: Sequence[bytes]) -> Callable[[int, int], bytes]:
    hashes = [leaf_hash(d) for d in leaves]

    def mth(start: int, end: int) -> bytes:
        if end - start == 1:
            return hashes[start]
        k = split_point(end - start)
        return node_hash(mth(start, start + k), mth(start + k, end))

    return mth


def root_hash(leaves: Sequence[bytes]) -> bytes:
    """MTH of the leaves' data; SHA-256 of nothing for no leaves."""
    if not leaves:
        return EMPTY_ROOT
    return _range_hasher(leaves)(0, len(leaves))


def inclusion_proof(leaves: Sequence[bytes], index: int) -> list[bytes]:
    mth = _range_hasher(leaves)
    return [mth(a, b) for a, b in inclusion_ranges(index, len(leaves))]


def consistency_proof(leaves: Sequence[bytes], old_size: int) -> list[bytes]:
    mth = _range_hasher(leaves)
    return [mth(a, b) for a, b in consistency_ranges(old_size, len(leaves))]


# --- verification (RFC 9162 §2.1.3.2 and §2.1.4.2) ----------------------------------------------


def verify_inclusion(leaf_data: bytes, index: int, tree_size: int, proof: Sequence[bytes], root: bytes) -> bool:
    """True when ``proof`` shows ``leaf_data`` at ``index`` in the tree of ``tree_size`` with ``root``."""
    if not isinstance(leaf_data, bytes) or not isinstance(proof, list | tuple):
        return False
    return root_from_inclusion(leaf_hash(leaf_data), index, tree_size, proof) == root


def root_from_inclusion(leaf: bytes, index: int, tree_size: int, proof: Sequence[bytes]) -> bytes | None:
    """The root an inclusion proof implies for a leaf hash, or None if the proof is malformed."""
    if not (_whole(index) and _whole(tree_size)) or not 0 <= index < tree_size:
        return None
    fn, sn, r = index, tree_size - 1, leaf
    for p in proof:
        if not _is_hash(p) or sn == 0:
            return None
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return r if sn == 0 else None


def verify_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> bool:
    """True when ``proof`` shows the tree of ``new_size`` with ``new_root`` extends the one of
    ``old_size`` with ``old_root``."""
    if not isinstance(proof, list | tuple):
        return False
    if not (_whole(old_size) and _whole(new_size)) or not 0 <= old_size <= new_size:
        return False
    if not all(_is_hash(p) for p in proof) or not (_is_hash(old_root) and _is_hash(new_root)):
        return False
    if old_size == new_size:
        return not proof and old_root == new_root
    if old_size == 0:
        return not proof  # the empty tree is consistent with every tree
    if not proof:
        return False
    path = list(proof)
    if old_size & (old_size - 1) == 0:  # a power of two: the old root is the first node
        path.insert(0, old_root)
    if not path:
        return False
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return sn == 0 and fr == old_root and sr == new_root


def _whole(value: object) -> bool:
    """An int and not a bool: True must never pass for leaf 1."""
    return type(value) is int


def _is_hash(value: object) -> bool:
    return isinstance(value, bytes) and len(value) == HASH_SIZE


def _check_index(index: int, size: int) -> None:
    if not (_whole(index) and _whole(size)):
        raise TypeError("index and size are integers")
    if not 0 <= index < size:
        raise ValueError(f"leaf index {index} is outside a tree of {size} leaves")
