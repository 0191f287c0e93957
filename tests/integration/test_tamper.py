"""Tampering with stored rows is detected on read (aggregate loads) and by the log check,
on SQLite and PostgreSQL: edited bytes, moved rows, unregistered and revoked keys."""

from __future__ import annotations

from datetime import timedelta

import pytest
from eventsourcing.persistence import StoredEvent
from rawsql import RawSQL

from ledger.application import Ledger
from ledger.envelope import open_sealed, seal
from ledger.errors import TamperedEvent
from ledger.settings import Settings
from ledger.signing import SigningKey
from ledger.verify import check_log

TOWN = "xianxiaxincun"


class RawStore(RawSQL):
    """The events table, for editing and moving rows."""

    def row(self, position: int) -> tuple[str, int, bytes]:
        sql = f"SELECT originator_id, originator_version, state FROM {self.table} WHERE {self.pos} = ?"
        [(stream, version, state)] = self.run((sql, (position,)))[0]
        return stream, version, bytes(state)

    def update(self, position: int, **values) -> None:
        self.update_many([(position, values)])

    def update_many(self, changes: list[tuple[int, dict]]) -> None:
        statements = []
        for position, values in changes:
            sets = ", ".join(f"{column} = ?" for column in values)
            statements.append(
                (f"UPDATE {self.table} SET {sets} WHERE {self.pos} = ?", (*values.values(), position))
            )
        self.run(*statements)


@pytest.fixture
def scene(cast, database_url):
    """Two funds; GEN holds two donations (versions 2 and 3), OTHER one (version 2)."""
    ledger = cast.ledger
    for code in ("GEN", "OTHER"):
        ledger.open_fund(cast.accountant, code, f"{code} 基金", "CNCF", street_town=TOWN)
    first = ledger.record_donation(cast.accountant, "GEN", 10_000, donor_type="resident").positions[0]
    second = ledger.record_donation(cast.accountant, "GEN", 23_456, donor_type="business").positions[0]
    other = ledger.record_donation(cast.accountant, "OTHER", 5_000, donor_type="resident").positions[0]
    assert all(check.ok for check in check_log(ledger.log_positions()))
    return cast, RawStore(ledger, database_url), {"first": first, "second": second, "other": other}


def flagged(ledger) -> set[int]:
    """Positions check_log reports as not ok, after checking it gave one verdict per event."""
    checks = list(check_log(ledger.log_positions()))
    assert [c.position for c in checks] == list(range(1, ledger.recorder.max_notification_id() + 1))
    return {c.position for c in checks if not c.ok}


def problems(ledger) -> dict[int, str]:
    return {c.position: c.problem for c in check_log(ledger.log_positions()) if not c.ok}


def test_edited_amount_is_detected(scene):
    cast, store, at = scene
    stream, version, state = store.row(at["second"])
    assert (stream, version) == ("fund:GEN", 3)
    assert b'"amount":23456' in state
    store.update(at["second"], state=state.replace(b'"amount":23456', b'"amount":93456'))
    with pytest.raises(TamperedEvent) as err:
        cast.ledger.fund("GEN")
    assert (err.value.stream, err.value.version) == ("fund:GEN", 3)
    assert err.value.rule == "tampered-event"
    with pytest.raises(TamperedEvent):
        cast.ledger.read_position(at["second"])
    assert flagged(cast.ledger) == {at["second"]}
    assert cast.ledger.fund("OTHER").balance == 5_000  # other streams are unaffected


@pytest.mark.parametrize("where", ["text", "signature"])
def test_one_flipped_byte_is_detected(scene, where):
    cast, store, at = scene
    _, _, state = store.row(at["second"])
    index = state.index(b'"donor_type"') + 3 if where == "text" else len(state) - 20
    damaged = bytearray(state)
    damaged[index] ^= 0x01
    store.update(at["second"], state=bytes(damaged))
    with pytest.raises(TamperedEvent) as err:
        cast.ledger.fund("GEN")
    assert (err.value.stream, err.value.version) == ("fund:GEN", 3)
    assert flagged(cast.ledger) == {at["second"]}


def test_changed_version_is_detected(scene):
    cast, store, at = scene
    store.update(at["second"], originator_version=4)
    with pytest.raises(TamperedEvent) as err:
        cast.ledger.fund("GEN")
    assert (err.value.stream, err.value.version) == ("fund:GEN", 4)
    assert "version" in err.value.problem
    assert flagged(cast.ledger) == {at["second"]}


def test_swapped_versions_are_detected(scene):
    cast, store, at = scene
    store.update_many([
        (at["first"], {"originator_version": 99}),
        (at["second"], {"originator_version": 2}),
        (at["first"], {"originator_version": 3}),
    ])
    assert store.row(at["first"])[1] == 3 and store.row(at["second"])[1] == 2
    with pytest.raises(TamperedEvent) as err:
        cast.ledger.fund("GEN")
    assert err.value.stream == "fund:GEN"
    assert flagged(cast.ledger) == {at["first"], at["second"]}


def test_row_moved_to_another_stream_is_detected(scene):
    cast, store, at = scene
    store.update(at["second"], originator_id="fund:OTHER")  # OTHER has versions 1 and 2: this becomes its 3
    with pytest.raises(TamperedEvent) as err:
        cast.ledger.fund("OTHER")
    assert (err.value.stream, err.value.version) == ("fund:OTHER", 3)
    assert "stream" in err.value.problem
    assert flagged(cast.ledger) == {at["second"]}


def test_event_signed_by_an_unregistered_key_is_detected(scene):
    cast, store, at = scene
    ledger = cast.ledger
    _, _, state = store.row(at["second"])
    genuine = open_sealed(state, stream="fund:GEN", version=3, topic="Fund.DonationReceived")
    mallory = SigningKey.generate("acct")  # same handle as the accountant, different key
    forged_state = seal(stream="fund:GEN", version=4, type_name="Fund.DonationReceived",
                        timestamp=genuine.timestamp + timedelta(seconds=1),
                        payload=dict(genuine.payload, entry="forged"), key=mallory)
    [position] = ledger.recorder.insert_events(
        [StoredEvent(originator_id="fund:GEN", originator_version=4, topic="Fund.DonationReceived",
                     state=forged_state)]
    )
    with pytest.raises(TamperedEvent) as err:
        ledger.fund("GEN")
    assert (err.value.stream, err.value.version) == ("fund:GEN", 4)
    assert "unknown key" in err.value.problem
    assert flagged(ledger) == {position}
    assert "unknown key" in problems(ledger)[position]


def _forge_with_accountant_key(cast, store, at, *, timestamp):
    _, _, state = store.row(at["second"])
    genuine = open_sealed(state, stream="fund:GEN", version=3, topic="Fund.DonationReceived")
    forged_state = seal(stream="fund:GEN", version=4, type_name="Fund.DonationReceived",
                        timestamp=timestamp(genuine), payload=dict(genuine.payload, entry="late"),
                        key=cast.accountant.key)
    [position] = cast.ledger.recorder.insert_events(
        [StoredEvent(originator_id="fund:GEN", originator_version=4, topic="Fund.DonationReceived",
                     state=forged_state)]
    )
    return position


def test_event_signed_by_a_revoked_key_after_revocation_is_detected(scene, database_url, tmp_path):
    cast, store, at = scene
    ledger = cast.ledger
    ledger.revoke_key(cast.root, cast.accountant.key.key_id, reason="密钥泄露")
    position = _forge_with_accountant_key(cast, store, at, timestamp=lambda _: ledger.clock() + timedelta(seconds=1))
    assert flagged(ledger) == {position}
    assert "revoked" in problems(ledger)[position]
    reopened = Ledger(Settings(data_dir=tmp_path / "reopened"), database_url=database_url)
    try:
        with pytest.raises(TamperedEvent) as err:
            reopened.fund("GEN")
        assert (err.value.stream, err.value.version) == ("fund:GEN", 4)
    finally:
        reopened.close()


def test_the_revoking_process_refuses_events_signed_after_revocation(scene):
    cast, store, at = scene
    ledger = cast.ledger
    ledger.revoke_key(cast.root, cast.accountant.key.key_id, reason="密钥泄露")
    _forge_with_accountant_key(cast, store, at, timestamp=lambda _: ledger.clock() + timedelta(seconds=1))
    with pytest.raises(TamperedEvent):
        ledger.fund("GEN")


def test_backdated_event_by_a_revoked_key_is_flagged_by_the_log_check(scene):
    cast, store, at = scene
    ledger = cast.ledger
    ledger.revoke_key(cast.root, cast.accountant.key.key_id, reason="密钥泄露")
    # The thief backdates the signed timestamp to before the revocation.
    position = _forge_with_accountant_key(cast, store, at, timestamp=lambda g: g.timestamp + timedelta(microseconds=1))
    assert flagged(ledger) == {position}
    assert "revoked" in problems(ledger)[position]


def test_backdated_event_by_a_revoked_key_does_not_load(scene, database_url, tmp_path):
    cast, store, at = scene
    cast.ledger.revoke_key(cast.root, cast.accountant.key.key_id, reason="密钥泄露")
    _forge_with_accountant_key(cast, store, at, timestamp=lambda g: g.timestamp + timedelta(microseconds=1))
    reopened = Ledger(Settings(data_dir=tmp_path / "reopened"), database_url=database_url)  # no stale cache
    try:
        with pytest.raises(TamperedEvent):
            reopened.fund("GEN")
    finally:
        reopened.close()


def test_tampered_directory_is_refused_by_a_freshly_opened_ledger(scene, database_url, tmp_path):
    cast, store, at = scene
    directory_rows = [n for n in cast.ledger.log_positions() if n.originator_id == "directory"]
    acct_row = next(n for n in directory_rows if b'"handle":"acct"' in bytes(n.state))
    _, _, state = store.row(acct_row.id)
    promoted = state.replace(b'"roles":["accountant"]', b'"roles":["accountant","root"]')
    assert promoted != state
    store.update(acct_row.id, state=promoted)
    reopened = Ledger(Settings(data_dir=tmp_path / "reopened"), database_url=database_url)
    try:
        with pytest.raises(TamperedEvent) as err:
            reopened.record_donation(cast.accountant, "GEN", 1, donor_type="resident")
        assert (err.value.stream, err.value.version) == ("directory", acct_row.originator_version)
        assert min(flagged(reopened)) == acct_row.id
    finally:
        reopened.close()


def test_the_first_version_after_a_position_is_found_for_every_position_of_interleaved_streams(scene):
    """The revocation check's question, answered by bisecting a stream's versions, equals the
    answer of reading every row of the stream, for each position of the log and each stream."""
    cast, raw, _ = scene
    ledger = cast.ledger
    for amount in range(1, 12):  # GEN and OTHER interleaved, GEN twice as often
        ledger.record_donation(cast.accountant, "GEN" if amount % 3 else "OTHER", amount, donor_type="resident")
    head = ledger.recorder.max_notification_id()
    rows = [raw.row(position) for position in range(1, head + 1)]
    for stream in ("fund:GEN", "fund:OTHER", "fund:NONE"):
        placed = [(position, version) for position, (s, version, _) in enumerate(rows, start=1) if s == stream]
        last = max((v for _, v in placed), default=None)
        for position in range(0, head + 2):
            after = min((v for p, v in placed if p > position), default=None)
            assert ledger.tables.first_version_after(stream, position) == (after, last), (stream, position)
