"""The persisted Merkle tree, checkpoints and witnesses, on SQLite and PostgreSQL: the stored tree
agrees with the pure RFC 9162 functions over the stored event bytes, grows without changing the
past, and a rewritten, deleted or reordered event no longer matches a checkpoint signed before."""

from __future__ import annotations

import hashlib

import pytest
from eventsourcing.persistence import StoredEvent
from rawsql import RawSQL
from vocabulary import log_actor

from ledger import merkle
from ledger.application import Actor, Ledger
from ledger.checkpoints import Checkpoint, CheckpointError, open_checkpoint, sign_checkpoint, verify_cosignature
from ledger.errors import NotAuthorised, TamperedEvent, UnknownKey
from ledger.merkle_log import MerkleLog, ProofRangeError
from ledger.settings import Settings
from ledger.signing import SigningKey, parse_note
from ledger.witness import Witness, WitnessRefusal

TOWN = "xianxiaxincun"


# --- helpers ----------------------------------------------------------------------------------------


def open_fund(cast, code: str = "GEN") -> None:
    cast.ledger.open_fund(cast.accountant, code, f"{code} 基金", "CNCF", street_town=TOWN)


def donations(cast, count: int, fund: str = "GEN") -> list[int]:
    """``count`` donations of ¥1.00, ¥1.01, …; their log positions."""
    return [cast.ledger.record_donation(cast.accountant, fund, 100 + i, donor_type="resident").positions[0]
            for i in range(count)]


def stored(ledger) -> list:
    """Every stored event, in log order, read from the database."""
    return list(ledger.recorder.select_notifications(start=1, limit=100_000))


def leaf_data(ledger) -> list[bytes]:
    return [bytes(n.state) for n in stored(ledger)]


class Raw(RawSQL):
    """The events table, for rewriting, deleting and reordering rows."""

    def state(self, position: int) -> bytes:
        [[(state,)]] = self.run((f"SELECT state FROM {self.table} WHERE {self.pos} = ?", (position,)))
        return bytes(state)

    def edit(self, position: int, old: bytes, new: bytes) -> None:
        state = self.state(position)
        assert old in state
        self.run((f"UPDATE {self.table} SET state = ? WHERE {self.pos} = ?", (state.replace(old, new, 1), position)))

    def delete(self, position: int) -> None:
        self.run((f"DELETE FROM {self.table} WHERE {self.pos} = ?", (position,)))

    def swap(self, a: int, b: int) -> None:
        t, p = self.table, self.pos
        self.run((f"UPDATE {t} SET {p} = -1 WHERE {p} = ?", (a,)),
                 (f"UPDATE {t} SET {p} = ? WHERE {p} = ?", (a, b)),
                 (f"UPDATE {t} SET {p} = ? WHERE {p} = -1", (b,)))


def fresh_copy(ledger, tmp_path, name: str, *, checked: bool = True) -> Ledger:
    """A second, unfounded ledger in a new SQLite file holding a copy of the events as stored now,
    with its own Merkle tree built from nothing (over the bytes as they are, if not ``checked``)."""
    copy = Ledger(Settings(data_dir=tmp_path / name), database_url=f"sqlite:///{tmp_path / name / 'copy.sqlite3'}")
    copy.recorder.insert_events([
        StoredEvent(originator_id=n.originator_id, originator_version=n.originator_version, topic=n.topic,
                    state=bytes(n.state))
        for n in stored(ledger)
    ])
    if not checked:
        copy.merkle.check = None
    copy.merkle.sync()
    return copy


# --- the tree equals the pure functions ------------------------------------------------------------


def test_persisted_roots_and_proofs_equal_the_pure_ones_for_every_size(cast):
    open_fund(cast)
    ledger = cast.ledger
    # sync in small batches from nothing, so the frontier is rebuilt from stored subtrees many times
    donations(cast, 8)
    assert MerkleLog(ledger.recorder, batch=3).sync() == len(stored(ledger))
    donations(cast, 70 - len(stored(ledger)))
    size = ledger.merkle.sync()
    leaves = leaf_data(ledger)
    assert size == len(leaves) == ledger.merkle.size() == 70

    roots = {n: ledger.merkle.root(n) for n in range(size + 1)}
    assert roots[0] == merkle.EMPTY_ROOT == hashlib.sha256(b"").digest()
    for n in range(1, size + 1):
        assert roots[n] == merkle.root_hash(leaves[:n]), n
        for i in sorted({0, n // 2, n - 1}):
            proof = ledger.merkle.inclusion_proof(i, n)
            assert proof == merkle.inclusion_proof(leaves[:n], i), (i, n)
            assert merkle.verify_inclusion(leaves[i], i, n, proof, roots[n])
        for m in sorted({max(1, n // 2), max(1, n - 1)} - {n}):
            proof = ledger.merkle.consistency_proof(m, n)
            assert proof == merkle.consistency_proof(leaves[:n], m), (m, n)
            assert merkle.verify_consistency(m, n, roots[m], roots[n], proof)
    root = roots[size]
    for m in range(1, size + 1):  # every old size into the full tree
        proof = ledger.merkle.consistency_proof(m, size)
        assert proof == (merkle.consistency_proof(leaves, m) if m < size else []), m
        assert merkle.verify_consistency(m, size, roots[m], root, proof)
    for i in range(size):
        position, leaf = ledger.merkle.leaf_at(i)
        assert leaf == merkle.leaf_hash(leaves[i])
        assert ledger.merkle.leaf_index_of(position) == i
        proof = ledger.merkle.inclusion_proof(i, size)
        assert merkle.verify_inclusion(leaves[i], i, size, proof, root)
        assert not merkle.verify_inclusion(leaves[i - 1], i, size, proof, root)  # not its neighbour's


def test_sync_is_idempotent_and_growth_leaves_every_past_root_alone(cast):
    open_fund(cast)
    ledger = cast.ledger
    first = ledger.merkle.sync()
    assert ledger.merkle.sync() == first  # nothing new: nothing appended
    roots = {n: ledger.merkle.root(n) for n in range(first + 1)}
    grown = [first]
    for step in (1, 1, 2, 5, 9):  # crosses several powers of two
        donations(cast, step)
        grown.append(ledger.merkle.sync())
        assert grown[-1] == grown[-2] + step == len(stored(ledger))
        assert ledger.merkle.sync() == grown[-1]
    size = grown[-1]
    assert ledger.merkle.root(size) == merkle.root_hash(leaf_data(ledger))
    for n, root in roots.items():
        assert ledger.merkle.root(n) == root
    for old in grown:
        for new in grown:
            if old <= new:
                proof = ledger.merkle.consistency_proof(old, new)
                assert merkle.verify_consistency(old, new, ledger.merkle.root(old), ledger.merkle.root(new), proof)
    # a second MerkleLog over the same store sees the same tree and appends nothing twice
    again = MerkleLog(ledger.recorder)
    assert again.sync() == size == again.size() and again.root(size) == ledger.merkle.root(size)


def test_leaves_are_contiguous_when_log_positions_have_gaps(cast, database_url):
    open_fund(cast)
    ledger, raw = cast.ledger, Raw(cast.ledger, database_url)
    donations(cast, 2)
    raw.gap(5)  # (on SQLite this moves the newest row, so it must not be in the tree yet)
    ledger.merkle.sync()
    donations(cast, 3)
    raw.gap(2)
    donations(cast, 2)
    positions = [n.id for n in stored(ledger)]
    missing = sorted(set(range(1, positions[-1] + 1)) - set(positions))
    assert len(missing) == 7  # the gaps are real
    size = ledger.merkle.sync()
    assert size == len(positions)
    for i, position in enumerate(positions):
        assert ledger.merkle.leaf_at(i)[0] == position
        assert ledger.merkle.leaf_index_of(position) == i
    for position in missing:
        assert ledger.merkle.leaf_index_of(position) is None
    assert ledger.merkle.leaf_at(size) is None
    assert ledger.merkle.root(size) == merkle.root_hash(leaf_data(ledger))


def test_sizes_and_indices_outside_the_tree_raise_proof_range_error(cast):
    ledger = cast.ledger
    size = ledger.merkle.sync()
    assert size > 4
    bad = {
        "root beyond": lambda: ledger.merkle.root(size + 1),
        "root negative": lambda: ledger.merkle.root(-1),
        "root bool": lambda: ledger.merkle.root(True),
        "root str": lambda: ledger.merkle.root("3"),
        "leaf = size": lambda: ledger.merkle.inclusion_proof(size, size),
        "leaf negative": lambda: ledger.merkle.inclusion_proof(-1, size),
        "empty tree": lambda: ledger.merkle.inclusion_proof(0, 0),
        "inclusion size beyond": lambda: ledger.merkle.inclusion_proof(0, size + 1),
        "leaf bool": lambda: ledger.merkle.inclusion_proof(True, size),
        "old negative": lambda: ledger.merkle.consistency_proof(-1, size),
        "old > new": lambda: ledger.merkle.consistency_proof(size, size - 1),
        "new beyond": lambda: ledger.merkle.consistency_proof(1, size + 1),
        "both beyond": lambda: ledger.merkle.consistency_proof(size + 1, size + 2),
    }
    for what, call in bad.items():
        with pytest.raises(ProofRangeError):
            call()
            pytest.fail(what)
    assert ledger.merkle.consistency_proof(0, size) == [] == ledger.merkle.consistency_proof(size, size)
    assert ledger.merkle.leaf_at(-1) is None and ledger.merkle.leaf_index_of(10**6) is None


# --- checkpoints ------------------------------------------------------------------------------------


def test_a_checkpoint_covers_the_whole_log_and_opens_with_the_log_key(cast):
    log = log_actor(cast)
    open_fund(cast)
    donations(cast, 3)
    ledger = cast.ledger
    kept = ledger.sign_checkpoint(log)
    leaves = leaf_data(ledger)
    assert kept.checkpoint == Checkpoint(ledger.origin, len(leaves), merkle.root_hash(leaves))
    opened, _ = open_checkpoint(kept.note, log.key.verifier)
    assert opened == kept.checkpoint and kept.cosigners == ()
    again = ledger.sign_checkpoint(log)  # nothing new: the same checkpoint, not a new signature
    assert again.note == kept.note and ledger.checkpoints.sizes() == [kept.checkpoint.size]

    donations(cast, 2)
    newer = ledger.sign_checkpoint(log)
    old_size, new_size = kept.checkpoint.size, newer.checkpoint.size
    assert new_size == old_size + 2
    assert ledger.checkpoints.sizes() == [old_size, new_size]
    assert ledger.checkpoints.at(old_size).note == kept.note  # the past is kept as signed
    assert ledger.checkpoints.latest().note == newer.note
    assert ledger.checkpoints.covering(old_size - 1).checkpoint.size == old_size
    assert ledger.checkpoints.covering(old_size).checkpoint.size == new_size
    assert ledger.checkpoints.covering(new_size) is None
    assert ledger.checkpoints.at(new_size + 1) is None
    proof = ledger.merkle.consistency_proof(old_size, new_size)
    assert merkle.verify_consistency(old_size, new_size, kept.checkpoint.root, newer.checkpoint.root, proof)


def test_only_the_log_principal_named_after_the_origin_signs_checkpoints(cast):
    ledger = cast.ledger
    with pytest.raises(NotAuthorised):
        ledger.sign_checkpoint(cast.accountant)
    with pytest.raises(NotAuthorised):
        ledger.sign_checkpoint(cast.root)
    other = cast.actor("another-log", ["log"])  # the log role, but not named after the origin
    with pytest.raises(NotAuthorised) as refused:
        ledger.sign_checkpoint(other)
    assert refused.value.field == "actor" and ledger.origin in refused.value.message
    # named after the origin, but a key the directory never registered
    with pytest.raises(UnknownKey):
        ledger.sign_checkpoint(Actor(ledger.origin, SigningKey.generate(ledger.origin)))
    assert ledger.checkpoints.latest() is None and ledger.checkpoints.sizes() == []


# --- tampering after a checkpoint --------------------------------------------------------------------


@pytest.mark.parametrize("tamper", ["rewrite", "delete", "reorder"])
def test_tampering_with_the_store_breaks_the_old_checkpoint(cast, database_url, tmp_path, tamper):
    log = log_actor(cast)
    open_fund(cast)
    first, second, *_ = donations(cast, 6)
    ledger, raw = cast.ledger, Raw(cast.ledger, database_url)
    signed = ledger.sign_checkpoint(log)
    old = signed.checkpoint
    donations(cast, 3)
    head = len(stored(ledger))

    honest = fresh_copy(ledger, tmp_path, "honest")
    try:  # control: an untouched copy rebuilds the same roots, so the checks below can fail
        assert honest.merkle.root(old.size) == old.root
        assert merkle.verify_consistency(old.size, head, old.root, honest.merkle.root(head),
                                         honest.merkle.consistency_proof(old.size, head))
    finally:
        honest.close()

    tampered_leaf = ledger.merkle.leaf_index_of(first)
    if tamper == "rewrite":
        raw.edit(first, b'"amount":100,', b'"amount":900,')
    elif tamper == "delete":
        raw.delete(second)
    else:
        raw.swap(first, second)

    if tamper == "rewrite":
        # a ledger's own tree does not grow over an event that fails verification (a deletion or a
        # swap of whole rows leaves each event verifying on its own: only the roots show those)
        with pytest.raises(TamperedEvent):
            fresh_copy(ledger, tmp_path, "checked")
        checked = Ledger(Settings(data_dir=tmp_path / "checked"),
                         database_url=f"sqlite:///{tmp_path / 'checked' / 'copy.sqlite3'}")
        try:
            assert checked.merkle.size() == 0  # checked before anything was added
        finally:
            checked.close()

    copy = fresh_copy(ledger, tmp_path, "tampered", checked=False)
    try:
        now = copy.merkle.size()
        assert now == head - (tamper == "delete")
        assert copy.merkle.root(old.size) != old.root
        assert merkle.root_hash(leaf_data(ledger)[: old.size]) != old.root
        proof = copy.merkle.consistency_proof(old.size, now)
        assert not merkle.verify_consistency(old.size, now, old.root, copy.merkle.root(now), proof)
    finally:
        copy.close()
    if tamper != "delete":
        # the ledger's persisted tree keeps the hash it was built with: anyone comparing a leaf's
        # stored hash with the hash of the bytes now served sees the change
        assert ledger.merkle.leaf_at(tampered_leaf)[1] != merkle.leaf_hash(raw.state(first))
    # the signed checkpoint itself still opens: it is the evidence of what was there
    assert open_checkpoint(signed.note, log.key.verifier)[0] == old


# --- witnesses -----------------------------------------------------------------------------------------


def test_witness_cosigns_only_consistent_growth_and_remembers_nothing_it_refused(cast, tmp_path):
    log = log_actor(cast)
    open_fund(cast)
    ledger = cast.ledger
    directory = tmp_path / "witness"
    witness_vkey = Witness.create(directory, "mca.example")
    with pytest.raises(FileExistsError):
        Witness.create(directory, "mca.example")
    witness = Witness(directory, "mca.example")
    assert witness.key.verifier == witness_vkey

    def clock() -> float:
        return 1_795_000_000

    def cosign(note: bytes):
        return witness.cosign(note, log.key.verifier, ledger.merkle.consistency_proof, now=clock)

    first = ledger.sign_checkpoint(log)
    cp, _ = cosign(first.note)
    assert cp == first.checkpoint and witness.last_cosigned(ledger.origin) == cp
    assert cosign(first.note)[0] == cp  # the same checkpoint again is fine

    donations(cast, 5)
    second = ledger.sign_checkpoint(log)
    cp2, line2 = cosign(second.note)
    assert cp2 == second.checkpoint and witness.last_cosigned(ledger.origin) == cp2
    [cosig] = parse_note(second.note + line2.encode()).signatures[1:]
    assert verify_cosignature(second.checkpoint.text, cosig, witness_vkey) == 1_795_000_000
    ledger.checkpoints.add_cosignature(cp2, witness_vkey, line2)
    kept = ledger.checkpoints.at(cp2.size)
    assert kept.cosigners == (witness_vkey.key_id,) and kept.note == second.note + line2.encode()
    assert open_checkpoint(kept.note, log.key.verifier)[0] == cp2

    state = (directory / "witness-state.json").read_bytes()
    donations(cast, 4)
    size = ledger.merkle.sync()
    history = leaf_data(ledger)
    rewritten = list(history)
    rewritten[1] += b" "
    forgeries = {
        "same size, other root": sign_checkpoint(
            Checkpoint(ledger.origin, cp2.size, hashlib.sha256(b"fork").digest()), log.key),
        "smaller (an older honest checkpoint)": first.note,
        "larger, inconsistent": sign_checkpoint(Checkpoint(ledger.origin, size, merkle.root_hash(rewritten)),
                                                log.key),
    }
    for what, note in forgeries.items():
        with pytest.raises(WitnessRefusal):
            cosign(note)
            pytest.fail(what)
        assert (directory / "witness-state.json").read_bytes() == state, what
        assert witness.last_cosigned(ledger.origin) == cp2
    # a checkpoint the log key did not sign is refused too
    impostor = sign_checkpoint(Checkpoint(ledger.origin, size, merkle.root_hash(history)),
                               SigningKey.generate(ledger.origin))
    with pytest.raises(CheckpointError):
        cosign(impostor)
    assert (directory / "witness-state.json").read_bytes() == state
    # the honest larger tree is still accepted afterwards
    third = ledger.sign_checkpoint(log)
    assert third.checkpoint.size == size and cosign(third.note)[0] == third.checkpoint


def test_witness_create_refuses_to_overwrite_a_key_whose_name_has_a_slash(tmp_path):
    first = Witness.create(tmp_path, "mca.changning.example/witness")
    try:
        Witness.create(tmp_path, "mca.changning.example/witness")
    except FileExistsError:
        pass
    assert Witness(tmp_path, "mca.changning.example/witness").key.verifier == first
