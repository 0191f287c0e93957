"""ledger.merkle against RFC 6962 / RFC 9162 §2.1.

Three independent sources of truth, then properties:

* the certificate-transparency project's published test vectors for its 8-leaf tree (roots, audit
  paths, consistency proofs) and the worked 7-leaf example of RFC 9162 §2.1.5;
* a deliberately naive recursive reference below, transcribed from the RFC's definitions of MTH,
  PATH and PROOF/SUBPROOF (hashlib only, nothing from ``ledger``);
* pymerkle (PyPI, 7.x) -- an unrelated implementation whose default configuration (SHA-256,
  0x00/0x01 prefixes, split at the largest power of two below n, SHA-256("") for the empty tree)
  is RFC 9162's tree. Its inclusion path is ours with the leaf hash in front; its consistency path
  is a different (longer) layout, so it is converted exactly in both directions below;
* hypothesis properties of the proofs and verifiers (every proof verifies; tampering, truncating,
  extending or reordering fails; malformed input returns False), and of the range helpers.
"""

from __future__ import annotations

import hashlib
from functools import cache
from itertools import pairwise

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.merkle import (
    EMPTY_ROOT,
    HASH_SIZE,
    consistency_proof,
    consistency_ranges,
    fold,
    inclusion_proof,
    inclusion_ranges,
    leaf_hash,
    node_hash,
    perfect_parts,
    root_from_inclusion,
    root_hash,
    split_point,
    verify_consistency,
    verify_inclusion,
)

FAST = settings(max_examples=60, deadline=None, derandomize=True)


def h(hexdigest: str) -> bytes:
    return bytes.fromhex(hexdigest)


# --- the reference: RFC 9162 §2.1.1-2.1.4, transcribed -------------------------------------------


def _sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def _k(n: int) -> int:
    """The largest power of two smaller than n (n > 1)."""
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def ref_mth(d: list[bytes]) -> bytes:
    """MTH(D[n])."""
    n = len(d)
    if n == 0:
        return _sha256(b"")
    if n == 1:
        return _sha256(b"\x00" + d[0])
    k = _k(n)
    return _sha256(b"\x01" + ref_mth(d[:k]) + ref_mth(d[k:]))


def ref_path_ranges(m: int, start: int, end: int) -> list[tuple[int, int]]:
    """PATH(m, D[start:end]) as the leaf ranges whose MTHs it lists (m relative to start)."""
    n = end - start
    if n == 1:
        return []
    k = _k(n)
    if m < k:
        return ref_path_ranges(m, start, start + k) + [(start + k, end)]
    return ref_path_ranges(m - k, start + k, end) + [(start, start + k)]


def ref_subproof_ranges(m: int, start: int, end: int, b: bool) -> list[tuple[int, int]]:
    """SUBPROOF(m, D[start:end], b) as leaf ranges."""
    n = end - start
    if m == n:
        return [] if b else [(start, end)]
    k = _k(n)
    if m <= k:
        return ref_subproof_ranges(m, start, start + k, b) + [(start + k, end)]
    return ref_subproof_ranges(m - k, start + k, end, False) + [(start, start + k)]


def ref_path(m: int, d: list[bytes]) -> list[bytes]:
    return [ref_mth(d[a:b]) for a, b in ref_path_ranges(m, 0, len(d))]


def ref_proof(m: int, d: list[bytes]) -> list[bytes]:
    """PROOF(m, D[n]) = SUBPROOF(m, D[n], true)."""
    return [ref_mth(d[a:b]) for a, b in ref_subproof_ranges(m, 0, len(d), True)]


def inclusion_shape(index: int, size: int) -> tuple[bool, ...] | None:
    """Whether each audit-path sibling sits to the left, leaf upwards. An RFC 9162 verifier's
    computation depends on (index, size) only through this, so a proof for one (index, size) is
    accepted for another exactly when their shapes agree (barring SHA-256 collisions)."""
    if not 0 <= index < size:
        return None
    return tuple(b <= index for _, b in ref_path_ranges(index, 0, size))


def consistency_program(old: int, new: int) -> tuple | None:
    """What an RFC 9162 consistency verifier does with a proof for 0 < old < new: whether it
    prepends the old root, then for each later node whether it is left of the old tree's edge
    (folded into both running hashes) or right of it (only into the new one)."""
    if not 0 < old < new:
        return None
    ranges = ref_subproof_ranges(old, 0, new, True)
    power_of_two = old & (old - 1) == 0
    later = ranges if power_of_two else ranges[1:]
    return power_of_two, tuple(b <= old for _, b in later)


# --- data -------------------------------------------------------------------------------------------

CT_LEAVES = [h(x) for x in ("", "00", "10", "2021", "3031", "40414243", "5051525354555657",
                            "606162636465666768696a6b6c6d6e6f")]
CT_EMPTY_ROOT = h("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
CT_ROOTS = [h(x) for x in (
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
)]
# (0-based leaf index, tree size, audit path): the CT/trillian vectors, which count leaves from 1.
CT_INCLUSION = [
    (0, 1, []),
    (0, 8, ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"]),
    (5, 8, ["bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
    (2, 3, ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
    (1, 5, ["6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"]),
]
CT_CONSISTENCY = [
    (1, 1, []),
    (1, 8, ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"]),
    (6, 8, ["0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
    (2, 5, ["5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"]),
]

# Leaves of assorted lengths, the empty string among them.
POOL = [hashlib.sha256(str(i).encode()).digest()[: i % 41] for i in range(300)]


@cache
def pool_root(n: int) -> bytes:
    return ref_mth(POOL[:n])


def flip(data: bytes, bit: int) -> bytes:
    bit %= 8 * len(data)
    out = bytearray(data)
    out[bit // 8] ^= 1 << (bit % 8)
    return bytes(out)


def tampered_leaf(data: bytes, bit: int) -> bytes:
    return flip(data, bit) if data else b"\x00"


# === 1. known answers ==============================================================================


def test_empty_tree_root_is_sha256_of_nothing():
    assert EMPTY_ROOT == CT_EMPTY_ROOT == ref_mth([])
    assert root_hash([]) == CT_EMPTY_ROOT


def test_leaf_and_node_hashes_use_the_rfc_prefixes():
    assert leaf_hash(b"") == CT_ROOTS[0] == _sha256(b"\x00")
    assert node_hash(leaf_hash(b""), leaf_hash(b"\x00")) == CT_ROOTS[1]
    assert len(leaf_hash(b"x")) == len(node_hash(b"a", b"b")) == HASH_SIZE


@pytest.mark.parametrize("n", range(1, 9))
def test_ct_roots(n):
    assert ref_mth(CT_LEAVES[:n]) == CT_ROOTS[n - 1]
    assert root_hash(CT_LEAVES[:n]) == CT_ROOTS[n - 1]


@pytest.mark.parametrize("index, size, path", CT_INCLUSION)
def test_ct_inclusion_paths(index, size, path):
    expected = [h(x) for x in path]
    leaves = CT_LEAVES[:size]
    assert ref_path(index, leaves) == expected
    assert inclusion_proof(leaves, index) == expected
    assert verify_inclusion(leaves[index], index, size, expected, CT_ROOTS[size - 1])
    assert root_from_inclusion(leaf_hash(leaves[index]), index, size, expected) == CT_ROOTS[size - 1]


@pytest.mark.parametrize("old, new, proof", CT_CONSISTENCY)
def test_ct_consistency_proofs(old, new, proof):
    expected = [h(x) for x in proof]
    leaves = CT_LEAVES[:new]
    assert ref_proof(old, leaves) == expected
    assert consistency_proof(leaves, old) == expected
    assert verify_consistency(old, new, CT_ROOTS[old - 1], CT_ROOTS[new - 1], expected)


# RFC 9162 §2.1.5's 7-leaf example, by the RFC's node names: a..f are d0..d5, j is d6, g = [0,2),
# h = [2,4), i = [4,6), k = [0,4), l = [4,7).
RFC_NODES = {**{name: (x, x + 1) for x, name in enumerate("abcdef")}, "j": (6, 7),
             "g": (0, 2), "h": (2, 4), "i": (4, 6), "k": (0, 4), "l": (4, 7)}
RFC_EXAMPLE_PATHS = [(0, "bhl"), (3, "cgl"), (4, "fjk"), (6, "ik")]
RFC_EXAMPLE_PROOFS = [(3, "cdgl"), (4, "l"), (6, "ijk")]


@pytest.mark.parametrize("index, names", RFC_EXAMPLE_PATHS)
def test_rfc_example_audit_paths(index, names):
    ranges = [RFC_NODES[x] for x in names]
    assert ref_path_ranges(index, 0, 7) == ranges
    assert inclusion_ranges(index, 7) == ranges


@pytest.mark.parametrize("old, names", RFC_EXAMPLE_PROOFS)
def test_rfc_example_consistency_proofs(old, names):
    ranges = [RFC_NODES[x] for x in names]
    assert ref_subproof_ranges(old, 0, 7, True) == ranges
    assert consistency_ranges(old, 7) == ranges


# === 2. pymerkle, an independent implementation ===================================================


@pytest.fixture(scope="module")
def pymerkle():
    return pytest.importorskip("pymerkle", minversion="7.0")


@pytest.fixture(scope="module")
def pm_tree(pymerkle):
    # Default configuration: sha256 with the 0x00 / 0x01 "security" prefixes, i.e. RFC 9162.
    tree = pymerkle.InmemoryTree.init_from_entries(POOL, algorithm="sha256")
    assert tree.security and tree.get_size() == len(POOL)
    return tree


def test_pymerkle_default_tree_is_rfc9162(pymerkle):
    tree = pymerkle.InmemoryTree(algorithm="sha256")
    assert tree.get_root() == CT_EMPTY_ROOT
    for n, data in enumerate(CT_LEAVES, start=1):
        tree.append_entry(data)
        assert tree.get_root() == CT_ROOTS[n - 1]


def test_roots_match_pymerkle_for_every_size(pm_tree):
    for n in range(len(POOL) + 1):
        assert root_hash(POOL[:n]) == pm_tree.get_root(n), n


@FAST
@given(data=st.data())
def test_inclusion_proofs_match_pymerkle(pymerkle, pm_tree, data):
    n = data.draw(st.integers(1, len(POOL)), "size")
    index = data.draw(st.integers(0, n - 1), "index")
    ours = inclusion_proof(POOL[:n], index)
    root = root_hash(POOL[:n])
    theirs = pm_tree.prove_inclusion(index + 1, n)  # pymerkle counts leaves from 1
    # pymerkle's path is the leaf hash followed by the RFC audit path.
    assert theirs.path == [leaf_hash(POOL[index])] + ours
    # pymerkle's verifier accepts our path against our root ...
    mine = pymerkle.InclusionProof("sha256", True, n, index + 1, theirs.rule, [leaf_hash(POOL[index])] + ours)
    pymerkle.verify_inclusion(leaf_hash(POOL[index]), root, mine, index=index + 1, size=n)
    # ... and ours accepts pymerkle's against pymerkle's root.
    assert verify_inclusion(POOL[index], index, n, theirs.path[1:], pm_tree.get_root(n))


def pymerkle_to_rfc(proof) -> list[bytes]:
    """pymerkle's consistency path -> RFC 9162 PROOF. pymerkle proves consistency with the
    inclusion path of leaf ``old`` inside the first new subtree [old, e), then the old tree's last
    subtree (the first entry its ``subset`` marks), then the same higher siblings as the RFC. The RFC
    sends MTH([old, e)) instead of that path, and the old subtree first unless the old tree is itself
    a subtree (a power of two), when it is implicit."""
    if proof.prior_size == proof.size:
        return []
    first_old = proof.subset.index(1)
    new_subtree = proof.path[0]
    for bit, sibling in zip(proof.rule[: first_old - 1], proof.path[1:first_old]):
        new_subtree = node_hash(new_subtree, sibling) if bit == 0 else node_hash(sibling, new_subtree)
    old_subtree = [proof.path[first_old]] if any(proof.subset[first_old + 1:]) else []
    return old_subtree + [new_subtree] + proof.path[first_old + 1:]


def rfc_to_pymerkle_path(old: int, new: int, leaves: list[bytes], old_root: bytes, proof: list[bytes]) -> list[bytes]:
    """The inverse, using the leaves to expand MTH([old, e)) into leaf ``old``'s inclusion path."""
    if old == new:
        return [old_root]
    ranges = ref_subproof_ranges(old, 0, new, True)
    implicit_old = old & (old - 1) == 0
    old_subtree, rest = (old_root, proof) if implicit_old else (proof[0], proof[1:])
    start, end = ranges[0] if implicit_old else ranges[1]
    assert start == old and ref_mth(leaves[start:end]) == rest[0]
    expanded = [leaf_hash(leaves[old])] + ref_path(0, leaves[start:end])
    return expanded + [old_subtree] + rest[1:]


@FAST
@given(data=st.data())
def test_consistency_proofs_match_pymerkle(pymerkle, pm_tree, data):
    new = data.draw(st.integers(1, len(POOL)), "new size")
    old = data.draw(st.integers(1, new), "old size")
    ours = consistency_proof(POOL[:new], old)
    old_root, new_root = root_hash(POOL[:old]), root_hash(POOL[:new])
    theirs = pm_tree.prove_consistency(old, new)
    assert pymerkle_to_rfc(theirs) == ours
    assert verify_consistency(old, new, pm_tree.get_root(old), pm_tree.get_root(new), pymerkle_to_rfc(theirs))
    path = rfc_to_pymerkle_path(old, new, POOL, old_root, ours)
    mine = pymerkle.ConsistencyProof("sha256", True, new, old, theirs.rule, theirs.subset, path)
    pymerkle.verify_consistency(old_root, new_root, mine, prior_size=old, later_size=new)


@pytest.mark.parametrize("old, new", [(1, 2), (3, 7), (4, 8), (6, 8), (5, 300)])
def test_pymerkle_rejects_the_converted_proof_once_tampered(pymerkle, pm_tree, old, new):
    """The conversion is not vacuous: pymerkle refuses it when any hash in it is altered."""
    old_root, new_root = root_hash(POOL[:old]), root_hash(POOL[:new])
    path = rfc_to_pymerkle_path(old, new, POOL, old_root, consistency_proof(POOL[:new], old))
    theirs = pm_tree.prove_consistency(old, new)
    pymerkle.verify_consistency(
        old_root, new_root, pymerkle.ConsistencyProof("sha256", True, new, old, theirs.rule, theirs.subset, path))
    for pos in range(len(path)):
        bad = list(path)
        bad[pos] = flip(bad[pos], 7)
        proof = pymerkle.ConsistencyProof("sha256", True, new, old, theirs.rule, theirs.subset, bad)
        with pytest.raises(pymerkle.InvalidProof):
            pymerkle.verify_consistency(old_root, new_root, proof)


# === 3. properties ================================================================================


@FAST
@given(leaves=st.lists(st.binary(max_size=40), max_size=40))
def test_root_hash_matches_the_reference(leaves):
    assert root_hash(leaves) == ref_mth(leaves)


@FAST
@given(data=st.data())
def test_every_inclusion_proof_verifies(data):
    n = data.draw(st.integers(1, len(POOL)), "size")
    index = data.draw(st.integers(0, n - 1), "index")
    proof = inclusion_proof(POOL[:n], index)
    assert proof == ref_path(index, POOL[:n])
    assert verify_inclusion(POOL[index], index, n, proof, pool_root(n))
    assert root_from_inclusion(leaf_hash(POOL[index]), index, n, proof) == pool_root(n)


def test_inclusion_proofs_verify_exhaustively_for_small_trees():
    for n in range(1, 33):
        for index in range(n):
            proof = inclusion_proof(POOL[:n], index)
            assert proof == ref_path(index, POOL[:n])
            assert verify_inclusion(POOL[index], index, n, proof, pool_root(n)), (index, n)


@FAST
@given(data=st.data())
def test_inclusion_verification_fails_on_any_tampering(data):
    n = data.draw(st.integers(1, 200), "size")
    index = data.draw(st.integers(0, n - 1), "index")
    bit = data.draw(st.integers(0, 255), "bit")
    leaf, root = POOL[index], pool_root(n)
    proof = inclusion_proof(POOL[:n], index)
    assert verify_inclusion(leaf, index, n, proof, root)

    assert not verify_inclusion(tampered_leaf(leaf, bit), index, n, proof, root)
    assert not verify_inclusion(leaf, index, n, proof, flip(root, bit))
    for pos in range(len(proof)):
        bad = list(proof)
        bad[pos] = flip(bad[pos], bit)
        assert not verify_inclusion(leaf, index, n, bad, root)

    # A wrong index never verifies; a wrong size verifies only where the RFC algorithm cannot tell
    # the sizes apart (same audit-path shape, see test_inclusion_binds_size_only_through_the_shape).
    for other in {index ^ (1 << b) for b in range(10)} | {index - 1, index + 1}:
        assert not verify_inclusion(leaf, other, n, proof, root), other
    for other in {n ^ (1 << b) for b in range(10)} | {n - 1, n + 1, 2 * n, n // 2}:
        expected = inclusion_shape(index, other) == inclusion_shape(index, n)
        assert verify_inclusion(leaf, index, other, proof, root) is expected, other

    zero = bytes(HASH_SIZE)
    for bad in (proof + [zero], proof + [root], [zero] + proof, [leaf_hash(leaf)] + proof, proof[:-1], proof[1:]):
        if bad != proof:
            assert not verify_inclusion(leaf, index, n, bad, root)
    if len(set(proof)) > 1:
        x, y = data.draw(st.lists(st.sampled_from(range(len(proof))), min_size=2, max_size=2, unique=True), "swap")
        bad = list(proof)
        bad[x], bad[y] = bad[y], bad[x]
        if bad != proof:
            assert not verify_inclusion(leaf, index, n, bad, root)


def test_inclusion_binds_size_only_through_the_shape():
    """RFC 9162 §2.1.3.2 uses (index, size) only to shape the path: leaf 0 has one sibling on the
    right at each of three levels in every tree of 5 to 8 leaves, so the size-5 proof also 'verifies'
    at size 7 (size bit 1 flipped) against the size-5 root. Every RFC verifier (trillian,
    transparency-dev) does the same; it is the signed (size, root) pair that binds the size."""
    proof = inclusion_proof(POOL[:5], 0)
    assert inclusion_shape(0, 5) == inclusion_shape(0, 7) == (False, False, False)
    assert verify_inclusion(POOL[0], 0, 7, proof, pool_root(5))
    assert not verify_inclusion(POOL[0], 0, 4, proof, pool_root(5))
    assert not verify_inclusion(POOL[0], 0, 9, proof, pool_root(5))


@FAST
@given(data=st.data())
def test_every_consistency_proof_verifies(data):
    new = data.draw(st.integers(1, len(POOL)), "new size")
    old = data.draw(st.integers(1, new), "old size")
    proof = consistency_proof(POOL[:new], old)
    assert proof == ref_proof(old, POOL[:new])
    assert verify_consistency(old, new, pool_root(old), pool_root(new), proof)


def test_consistency_proofs_verify_exhaustively_for_small_trees():
    for new in range(1, 33):
        for old in range(1, new + 1):
            proof = consistency_proof(POOL[:new], old)
            assert proof == ref_proof(old, POOL[:new])
            assert verify_consistency(old, new, pool_root(old), pool_root(new), proof), (old, new)


@FAST
@given(data=st.data())
def test_consistency_verification_fails_on_any_tampering(data):
    new = data.draw(st.integers(1, 200), "new size")
    old = data.draw(st.integers(1, new), "old size")
    bit = data.draw(st.integers(0, 255), "bit")
    old_root, new_root = pool_root(old), pool_root(new)
    proof = consistency_proof(POOL[:new], old)
    assert verify_consistency(old, new, old_root, new_root, proof)

    assert not verify_consistency(old, new, flip(old_root, bit), new_root, proof)
    assert not verify_consistency(old, new, old_root, flip(new_root, bit), proof)
    for pos in range(len(proof)):
        bad = list(proof)
        bad[pos] = flip(bad[pos], bit)
        assert not verify_consistency(old, new, old_root, new_root, bad)

    # Wrong sizes verify only where the RFC algorithm runs the very same steps on the proof.
    sizes = {(old ^ (1 << b), new) for b in range(10)} | {(old, new ^ (1 << b)) for b in range(10)}
    sizes |= {(old - 1, new), (old + 1, new), (old, new - 1), (old, new + 1), (old, 2 * new), (new, old)}
    for other_old, other_new in sizes - {(old, new)}:
        if old == new:  # an empty proof and equal roots: any equal sizes, or an empty old tree
            expected = 0 <= other_old <= other_new and (other_old == other_new or other_old == 0)
        else:
            expected = consistency_program(other_old, other_new) == consistency_program(old, new)
        assert verify_consistency(other_old, other_new, old_root, new_root, proof) is expected, (other_old, other_new)

    zero = bytes(HASH_SIZE)
    for bad in (proof + [zero], proof + [new_root], [zero] + proof, [old_root] + proof, [new_root] + proof,
                proof[:-1], proof[1:], [proof[0]] + proof if proof else [old_root]):
        if bad != proof:
            assert not verify_consistency(old, new, old_root, new_root, bad)
    if len(set(proof)) > 1:
        x, y = data.draw(st.lists(st.sampled_from(range(len(proof))), min_size=2, max_size=2, unique=True), "swap")
        bad = list(proof)
        bad[x], bad[y] = bad[y], bad[x]
        if bad != proof:
            assert not verify_consistency(old, new, old_root, new_root, bad)
    if old < new:
        assert not verify_consistency(old, new, old_root, new_root, [])
        assert not verify_consistency(new, old, new_root, old_root, proof)  # time travel


def test_consistency_with_equal_or_empty_trees():
    root = pool_root(5)
    assert verify_consistency(5, 5, root, root, [])
    assert not verify_consistency(5, 5, root, pool_root(4), [])
    assert not verify_consistency(5, 5, root, root, [root])
    assert verify_consistency(0, 5, EMPTY_ROOT, root, [])
    assert not verify_consistency(0, 5, EMPTY_ROOT, root, [root])
    assert verify_consistency(0, 0, EMPTY_ROOT, EMPTY_ROOT, [])


GOOD_ROOT = pool_root(8)
GOOD_PROOF = inclusion_proof(POOL[:8], 5)


@pytest.mark.parametrize(
    "index, size, proof, root",
    [
        (-1, 8, GOOD_PROOF, GOOD_ROOT),
        (-3, 8, GOOD_PROOF, GOOD_ROOT),  # -3 ≡ 5 modulo 8
        (8, 8, GOOD_PROOF, GOOD_ROOT),
        (13, 8, GOOD_PROOF, GOOD_ROOT),
        (2**64 + 5, 8, GOOD_PROOF, GOOD_ROOT),
        (5, 0, GOOD_PROOF, GOOD_ROOT),
        (5, -8, GOOD_PROOF, GOOD_ROOT),
        (5, 8.0, GOOD_PROOF, GOOD_ROOT),
        (5.0, 8, GOOD_PROOF, GOOD_ROOT),
        (5, "8", GOOD_PROOF, GOOD_ROOT),
        ("5", 8, GOOD_PROOF, GOOD_ROOT),
        (None, 8, GOOD_PROOF, GOOD_ROOT),
        (5, None, GOOD_PROOF, GOOD_ROOT),
        (5, 2**64, GOOD_PROOF, GOOD_ROOT),
        (5, 8, [GOOD_PROOF[0][:31]] + GOOD_PROOF[1:], GOOD_ROOT),
        (5, 8, [GOOD_PROOF[0] + b"\x00"] + GOOD_PROOF[1:], GOOD_ROOT),
        (5, 8, GOOD_PROOF[:2] + [b""], GOOD_ROOT),
        (5, 8, GOOD_PROOF + [b""], GOOD_ROOT),
        (5, 8, [], GOOD_ROOT),
        (5, 8, GOOD_PROOF, GOOD_ROOT[:31]),
        (5, 8, GOOD_PROOF, GOOD_ROOT + b"\x00"),
        (5, 8, GOOD_PROOF, b""),
        (5, 8, GOOD_PROOF, None),
        (5, 8, GOOD_PROOF, GOOD_ROOT.hex()),
    ],
)
def test_verify_inclusion_returns_false_on_malformed_input(index, size, proof, root):
    assert verify_inclusion(POOL[5], 5, 8, GOOD_PROOF, GOOD_ROOT)  # the unmodified case
    assert verify_inclusion(POOL[5], index, size, proof, root) is False


def test_root_from_inclusion_returns_none_on_malformed_input():
    leaf = leaf_hash(POOL[5])
    assert root_from_inclusion(leaf, 5, 8, GOOD_PROOF) == GOOD_ROOT
    assert root_from_inclusion(leaf, -1, 8, GOOD_PROOF) is None
    assert root_from_inclusion(leaf, 8, 8, GOOD_PROOF) is None
    assert root_from_inclusion(leaf, 5, 8.0, GOOD_PROOF) is None
    assert root_from_inclusion(leaf, 5, 8, GOOD_PROOF + [GOOD_ROOT]) is None
    assert root_from_inclusion(leaf, 5, 8, GOOD_PROOF[:-1]) is None
    assert root_from_inclusion(leaf, 5, 8, [GOOD_PROOF[0][:16]] + GOOD_PROOF[1:]) is None


OLD_ROOT, NEW_ROOT = pool_root(6), pool_root(8)
C_PROOF = consistency_proof(POOL[:8], 6)


@pytest.mark.parametrize(
    "old, new, old_root, new_root, proof",
    [
        (8, 6, OLD_ROOT, NEW_ROOT, C_PROOF),
        (7, 6, NEW_ROOT, OLD_ROOT, C_PROOF),
        (9, 8, OLD_ROOT, NEW_ROOT, C_PROOF),
        (-6, 8, OLD_ROOT, NEW_ROOT, C_PROOF),
        (6, -8, OLD_ROOT, NEW_ROOT, C_PROOF),
        (-1, -1, OLD_ROOT, OLD_ROOT, []),
        (6.0, 8, OLD_ROOT, NEW_ROOT, C_PROOF),
        (6, 8.0, OLD_ROOT, NEW_ROOT, C_PROOF),
        ("6", 8, OLD_ROOT, NEW_ROOT, C_PROOF),
        (6, None, OLD_ROOT, NEW_ROOT, C_PROOF),
        (None, None, OLD_ROOT, OLD_ROOT, []),
        (6, 2**64, OLD_ROOT, NEW_ROOT, C_PROOF),
        (6, 8, OLD_ROOT[:31], NEW_ROOT, C_PROOF),
        (6, 8, OLD_ROOT, NEW_ROOT + b"\x00", C_PROOF),
        (6, 8, OLD_ROOT, None, C_PROOF),
        (6, 8, None, NEW_ROOT, C_PROOF),
        (6, 8, OLD_ROOT, NEW_ROOT, [C_PROOF[0][:31]] + C_PROOF[1:]),
        (6, 8, OLD_ROOT, NEW_ROOT, C_PROOF[:-1] + [C_PROOF[-1] + b"\x00"]),
        (6, 8, OLD_ROOT, NEW_ROOT, C_PROOF + [b""]),
        (6, 8, OLD_ROOT, NEW_ROOT, []),
        (4, 8, pool_root(4)[:31], NEW_ROOT, consistency_proof(POOL[:8], 4)),  # old root goes in the path
        (6, 6, OLD_ROOT, OLD_ROOT, [OLD_ROOT]),
        (6, 6, OLD_ROOT, OLD_ROOT, [b""]),
        (0, 8, EMPTY_ROOT, NEW_ROOT, [NEW_ROOT]),
    ],
)
def test_verify_consistency_returns_false_on_malformed_input(old, new, old_root, new_root, proof):
    assert verify_consistency(6, 8, OLD_ROOT, NEW_ROOT, C_PROOF)
    assert verify_consistency(old, new, old_root, new_root, proof) is False


@pytest.mark.parametrize("case", ["inclusion index", "inclusion size", "consistency old", "consistency new"])
def test_verifiers_reject_bool_indices_and_sizes(case):
    two = POOL[:2]
    if case == "inclusion index":
        assert verify_inclusion(two[1], True, 2, inclusion_proof(two, 1), root_hash(two)) is False
    elif case == "inclusion size":
        assert verify_inclusion(two[0], 0, True, [], root_hash(two[:1])) is False
    elif case == "consistency old":
        assert verify_consistency(True, 2, root_hash(two[:1]), root_hash(two), consistency_proof(two, 1)) is False
    else:
        assert verify_consistency(1, True, root_hash(two[:1]), root_hash(two[:1]), []) is False


# === 4. range helpers =============================================================================


@pytest.mark.parametrize(
    "index, size, error",
    [
        (0, 0, ValueError), (-1, 5, ValueError), (5, 5, ValueError), (9, 5, ValueError), (0, -1, ValueError),
        (True, 5, TypeError), (False, 5, TypeError), (0, True, TypeError), (1.0, 5, TypeError),
        (0, 5.0, TypeError), ("0", 5, TypeError), (None, 5, TypeError), (0, None, TypeError),
    ],
)
def test_inclusion_ranges_rejects_bad_arguments(index, size, error):
    with pytest.raises(error):
        inclusion_ranges(index, size)
    if isinstance(size, int) and not isinstance(size, bool) and size > 0:
        with pytest.raises(error):
            inclusion_proof(POOL[:size], index)


@pytest.mark.parametrize(
    "old, new, error",
    [
        (0, 5, ValueError), (-1, 5, ValueError), (6, 5, ValueError), (0, 0, ValueError), (1, 0, ValueError),
        (-2, -1, ValueError),
        (True, 5, TypeError), (False, 5, TypeError), (1, True, TypeError), (True, True, TypeError),
    ],
)
def test_consistency_ranges_rejects_bad_arguments(old, new, error):
    with pytest.raises(error):
        consistency_ranges(old, new)


def test_consistency_proof_rejects_bad_old_sizes():
    for old, error in ((0, ValueError), (6, ValueError), (-1, ValueError), (True, TypeError)):
        with pytest.raises(error):
            consistency_proof(POOL[:5], old)


@pytest.mark.parametrize("old, new", [(2.0, 3), (1, 3.0)])
def test_consistency_ranges_rejects_non_integer_sizes(old, new):
    with pytest.raises(TypeError):
        consistency_ranges(old, new)


def test_ranges_match_the_reference_exhaustively():
    for size in range(1, 130):
        for index in range(size):
            assert inclusion_ranges(index, size) == ref_path_ranges(index, 0, size), (index, size)
        for old in range(1, size + 1):
            assert consistency_ranges(old, size) == ref_subproof_ranges(old, 0, size, True), (old, size)


def test_split_point_is_the_largest_power_of_two_below_n():
    for n in range(2, 2000):
        assert split_point(n) == _k(n)


def _assert_perfect_cover(start: int, end: int) -> list[tuple[int, int]]:
    parts = perfect_parts(start, end)
    assert parts and parts[0][0] == start and parts[-1][1] == end
    for (a1, b1), (a2, _) in pairwise(parts):
        assert b1 == a2
    widths = [b - a for a, b in parts]
    assert widths == sorted(widths, reverse=True) and len(set(widths)) == len(widths)
    for a, b in parts:
        assert (b - a) & (b - a - 1) == 0 and a % (b - a) == 0  # power of two, aligned
    return parts


def test_perfect_parts_and_fold_reproduce_every_prefix_root():
    for n in range(1, len(POOL) + 1):
        parts = _assert_perfect_cover(0, n)
        assert fold([ref_mth(POOL[a:b]) for a, b in parts]) == root_hash(POOL[:n]) == pool_root(n), n


@FAST
@given(leaves=st.lists(st.binary(max_size=8), min_size=1, max_size=70), data=st.data())
def test_perfect_parts_and_fold_reproduce_prefixes_of_any_leaves(leaves, data):
    n = data.draw(st.integers(1, len(leaves)), "prefix")
    parts = _assert_perfect_cover(0, n)
    assert fold([ref_mth(leaves[a:b]) for a, b in parts]) == root_hash(leaves[:n])


def test_perfect_parts_and_fold_give_the_hash_of_every_range_a_proof_names():
    for size in range(1, 65):
        named = {r for i in range(size) for r in inclusion_ranges(i, size)}
        named |= {r for m in range(1, size + 1) for r in consistency_ranges(m, size)}
        for a, b in named:
            parts = _assert_perfect_cover(a, b)
            assert fold([ref_mth(POOL[x:y]) for x, y in parts]) == ref_mth(POOL[a:b]), (a, b)


def test_fold_of_one_hash_is_that_hash():
    assert fold([GOOD_ROOT]) == GOOD_ROOT
    assert fold([CT_ROOTS[3], leaf_hash(CT_LEAVES[4])]) == CT_ROOTS[4]
