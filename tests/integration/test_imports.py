"""Imports on SQLite and PostgreSQL: a list with one bad row is refused whole and nothing is written;
fixed, it is written in one transaction; the same file again records nothing; mappings are
remembered per foundation; XLSX and CSV read alike; sign-in sheets keep the hours rules; the memory
of a 5,000-row import stays bounded."""

from __future__ import annotations

import tracemalloc

import pytest
from importkit import (
    big_platform_csv,
    csv_rows,
    mapping,
    platform_xlsx,
    sample,
    scene,
    signin_xlsx,
    to_csv,
)

from ledger.commands.imports import DUPLICATE, ERROR, NEW, ImportRefused
from ledger.errors import NotAuthorised
from ledger.imports.index import REFERENCES, ImportIndex, scope_of
from ledger.mapper import SigningMapper
from ledger.verify import check_log

CNCF = scope_of("donations", "CNCF")


@pytest.fixture
def ledger(cast):
    scene(cast)
    return cast.ledger


def head(ledger) -> int:
    return ledger.recorder.max_notification_id() or 0


def references(ledger) -> int:
    index = ImportIndex(ledger.tables)
    index.create()
    return ledger.tables.fetchone(f"SELECT COUNT(*) FROM {ledger.tables.table(REFERENCES)}")[0]


def platform(changes: dict[tuple[int, int], str] | None = None) -> bytes:
    """The platform sample with some cells changed: {(row, column): text}, 0-based, header row 0."""
    rows = csv_rows("platform-gongyi.csv")
    for (row, column), value in (changes or {}).items():
        rows[row][column] = value
    return to_csv(rows)


def test_a_list_with_a_bad_row_is_refused_whole_then_written_whole_when_fixed(cast, ledger):
    before, balance = head(ledger), ledger.fund("GEN").balance
    bad = platform({(3, 2): "18.805", (5, 1): "2027-01-05 12:00:00"})  # three places; a date in the future
    with pytest.raises(ImportRefused) as refused:
        ledger.import_donations(cast.accountant, bad, "p.csv", mapping("platform-gongyi"), "GEN")
    outcome = refused.value.outcome
    assert not outcome.committed and head(ledger) == before and ledger.fund("GEN").balance == balance
    assert references(ledger) == 0 and ImportIndex(ledger.tables).mappings(CNCF) == []  # nothing beside the events either
    errors = {r.number: r.errors for r in outcome.rows if r.status == ERROR}
    assert set(errors) == {4, 6}
    (amount,), (future,) = errors[4], errors[6]
    assert (amount.column, amount.rule) == ("捐赠金额", "invalid-amount")
    assert (future.column, future.field, future.rule) == ("捐赠时间", "date", "invalid-input")  # the ledger's own rule
    assert "future" in future.message and "未来" in future.message_zh
    assert "2 of 6 rows" in refused.value.message and "第 4 行" in refused.value.message_zh

    done = ledger.import_donations(cast.accountant, platform(), "p.csv", mapping("platform-gongyi"), "GEN")
    assert done.committed and done.count(NEW) == 6
    first, last = done.positions
    assert (first, last) == (before + 1, before + 6) and head(ledger) == last
    assert ledger.fund("GEN").balance == balance + 142_346
    assert all(c.ok for c in check_log(ledger.log_positions(1)))


def test_the_same_file_twice_records_once_and_an_overlapping_export_only_its_new_rows(cast, ledger):
    first = ledger.import_donations(cast.accountant, sample("platform-gongyi.csv"), "p.csv", mapping("platform-gongyi"),
                                    "GEN")
    written = head(ledger)
    again = ledger.import_donations(cast.accountant, sample("platform-gongyi.csv"), "p.csv",
                                    mapping("platform-gongyi"), "GEN")
    assert not again.committed and again.count(DUPLICATE) == 6 and head(ledger) == written
    assert [r.stream for r in again.rows] == [r.stream for r in first.rows]  # each names the event recorded before
    rows = csv_rows("platform-gongyi.csv")
    longer = to_csv([*rows, ["GY20261120000777", "2026-11-20 11:11:11", "30.00", "周六", "是", "", "", ""]])
    more = ledger.import_donations(cast.accountant, longer, "p2.csv", mapping("platform-gongyi"), "GEN")
    assert (more.count(NEW), more.count(DUPLICATE)) == (1, 6) and head(ledger) == written + 1
    assert references(ledger) == 7


def test_a_reference_imported_before_with_other_content_is_a_conflict(cast, ledger):
    ledger.import_donations(cast.accountant, sample("platform-gongyi.csv"), "p.csv", mapping("platform-gongyi"), "GEN")
    written = head(ledger)
    with pytest.raises(ImportRefused) as refused:
        ledger.import_donations(cast.accountant, platform({(1, 2): "500.00"}), "p.csv", mapping("platform-gongyi"),
                                "GEN")
    (row,) = [r for r in refused.value.outcome.rows if r.status == ERROR]
    assert row.number == 2 and row.errors[0].rule == "import-conflict" and row.errors[0].column == "订单号"
    assert head(ledger) == written


def test_a_reference_repeated_inside_one_file_is_refused(cast, ledger):
    with pytest.raises(ImportRefused) as refused:
        ledger.import_donations(cast.accountant, platform({(3, 0): "GY20261101000123"}), "p.csv",
                                mapping("platform-gongyi"), "GEN")
    (row,) = [r for r in refused.value.outcome.rows if r.status == ERROR]
    assert row.number == 4 and row.errors[0].rule == "import-reference-repeated" and "第 2 行" in row.errors[0].message_zh


def test_the_events_carry_their_source_reference_signed_and_old_events_still_apply(cast, ledger):
    done = ledger.import_donations(cast.accountant, sample("platform-gongyi.csv"), "p.csv",
                                   mapping("platform-gongyi"), "GEN")
    _, event = ledger.read_position(done.positions[0])
    assert event.imported == {"source": "公益平台 gongyi.example", "reference": "GY20261101000123"}
    assert event.donor_name == "张三" and event.donor_public is True and event.received_on == "2026-11-01"
    by_hand = ledger.record_donation(cast.accountant, "GEN", 100, donor_type="resident")
    assert ledger.read_position(by_hand.positions[0])[1].imported is None
    # An event written before the field existed has no "imported" key: it still applies.
    payload = dict(vars(event))
    for key in ("originator_id", "originator_version", "timestamp", "imported"):
        payload.pop(key)
    old = SigningMapper.build("Fund.DonationReceived", "fund:GEN", 99, event.timestamp, payload)
    fund = ledger.fund("GEN")
    balance = fund.balance
    fund.version = 98
    old.mutate(fund)
    assert fund.balance == balance + event.amount


def test_a_mapping_is_remembered_for_its_foundation_only(cast, ledger):
    index = ImportIndex(ledger.tables)
    ledger.import_donations(cast.accountant, sample("platform-gongyi.csv"), "p.csv", mapping("platform-gongyi"), "GEN",
                            commit=False)
    assert index.mappings(CNCF) == []  # a preview writes nothing, not even the mapping
    ledger.import_donations(cast.accountant, sample("platform-gongyi.csv"), "p.csv", mapping("platform-gongyi"), "GEN")
    assert index.mapping(CNCF, "gongyi-platform") == mapping("platform-gongyi")
    headers = csv_rows("platform-gongyi.csv")[0]
    assert [m.name for m in index.suggest(CNCF, "donations", headers)] == ["gongyi-platform"]
    assert index.suggest(CNCF, "donations", headers[1:]) == []
    assert index.mappings(scope_of("donations", "OTHERF")) == []
    (record,) = index.imports(CNCF)
    assert (record.rows, record.recorded, record.actor, record.mapping) == (6, 6, "acct", "gongyi-platform")


def test_xlsx_and_csv_of_the_same_export_record_the_same_and_count_as_one(cast, ledger):
    from_xlsx = ledger.import_donations(cast.accountant, platform_xlsx(), "订单明细.xlsx", mapping("platform-gongyi"),
                                        "GEN")
    assert from_xlsx.count(NEW) == 6 and from_xlsx.amount == 142_346
    from_csv = ledger.import_donations(cast.accountant, sample("platform-gongyi.csv"), "p.csv",
                                       mapping("platform-gongyi"), "GEN")
    assert from_csv.count(DUPLICATE) == 6


def test_a_bank_statement_records_its_credits_only(cast, ledger):
    done = ledger.import_donations(cast.accountant, sample("bank-statement.csv"), "流水.csv",
                                   mapping("bank-statement"), "GEN")
    assert done.count(NEW) == 3 and done.amount == 1_384_567 and done.header_row == 6


def test_the_fund_s_own_rules_refuse_rows(cast, ledger):
    ledger.open_fund(cast.accountant, "DISTRICT", "全区基金", "CNCF")  # district-wide: each gift names its street-town
    with pytest.raises(ImportRefused) as refused:
        ledger.import_donations(cast.accountant, sample("platform-gongyi.csv"), "p.csv", mapping("platform-gongyi"),
                                "DISTRICT")
    assert {e.rule for r in refused.value.outcome.rows for e in r.errors} == {"invalid-input"}
    assert all(r.errors[0].field == "street_town" for r in refused.value.outcome.rows)
    done = ledger.import_donations(cast.accountant, sample("platform-gongyi.csv"), "p.csv", mapping("platform-gongyi"),
                                   "DISTRICT", street_town="xianxiaxincun")
    assert done.count(NEW) == 6


def test_only_the_foundation_s_accountant_imports_into_its_fund(cast, ledger):
    with pytest.raises(NotAuthorised):
        ledger.import_donations(cast.other_accountant, sample("platform-gongyi.csv"), "p.csv",
                                mapping("platform-gongyi"), "GEN", commit=False)


def test_a_race_for_the_same_references_writes_them_once(cast, ledger, monkeypatch):
    """Another import of the same rows commits between this one's check and its write: the
    reference's primary key fails the whole transaction, and the retry finds them imported."""
    other = ledger.import_donations(cast.accountant, sample("platform-gongyi.csv"), "p.csv",
                                    mapping("platform-gongyi"), "GEN")
    written = head(ledger)
    calls = []
    real = ImportIndex.known

    def stale(self, *args):
        calls.append(1)
        return {} if len(calls) == 1 else real(self, *args)

    monkeypatch.setattr(ImportIndex, "known", stale)
    again = ledger.import_donations(cast.accountant, sample("platform-gongyi.csv"), "p.csv",
                                    mapping("platform-gongyi"), "GEN")
    assert len(calls) == 2 and again.count(DUPLICATE) == 6 and not again.committed
    assert head(ledger) == written and ledger.fund("GEN").balance == other.amount


def test_a_sign_in_sheet_keeps_the_hours_rules_and_the_organising_body(cast, ledger):
    sheet = mapping("signin-sheet")
    rows = sample("signin-sheet.csv").decode().splitlines()
    overlapping = "5,V0001,李四,2026/11/03,11:00,12:00,助餐送餐,养老服务"  # overlaps row 2's 09:00–11:30
    misnamed = "6,V0002,王小芳,2026/11/04,09:00,10:00,助餐送餐,养老服务"
    unknown = "7,V0099,无名,2026/11/04,09:00,10:00,助餐送餐,养老服务"
    before = head(ledger)
    with pytest.raises(ImportRefused) as refused:
        ledger.import_hours(cast.recorder, "\n".join([*rows, overlapping, misnamed, unknown]).encode(), "s.csv", sheet)
    bad = {r.number: r.errors[0] for r in refused.value.outcome.rows if r.status == ERROR}
    assert {n: (e.rule, e.column) for n, e in bad.items()} == {
        6: ("hours-no-overlap", "签到时间"), 7: ("invalid-input", "姓名"), 8: ("not-found", "志愿者编号")}
    assert head(ledger) == before
    done = ledger.import_hours(cast.recorder, signin_xlsx(), "签到表.xlsx", sheet)
    assert done.committed and done.count(NEW) == 4
    assert ledger.volunteer("V0001").sessions and len(ledger.volunteer("V0001").sessions) == 2
    assert ledger.import_hours(cast.recorder, sample("signin-sheet.csv"), "s.csv", sheet).count(DUPLICATE) == 4
    other = cast.actor("rec-other", ["recorder"], organisation="CNCF")
    with pytest.raises(NotAuthorised):
        ledger.import_hours(other, sample("signin-sheet.csv"), "s.csv", sheet, organisation="LELING", commit=False)


def test_a_5000_row_import_is_one_transaction_in_bounded_memory(cast, ledger):
    data = big_platform_csv(5000)
    before = head(ledger)
    tracemalloc.start()
    try:
        done = ledger.import_donations(cast.accountant, data, "big.csv", mapping("platform-gongyi"), "GEN")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert done.count(NEW) == 5000 and done.positions == (before + 1, before + 5000)
    # Measured 19 MiB on SQLite and 33 MiB on PostgreSQL (4 to 7 KB a row: the rows read, their
    # pending signed events and their outcomes, all held until the one transaction); the bound is
    # about twice that, and MAX_ROWS caps a file at twice these rows.
    assert peak < 64 * 1024 * 1024, f"peak {peak / 2**20:.1f} MiB"


def test_the_audit_replays_imports_and_finds_a_reference_planted_twice(cast, ledger):
    from auditkit import audited, plant

    from ledger.envelope import open_sealed

    done = ledger.import_donations(cast.accountant, sample("platform-gongyi.csv"), "p.csv",
                                   mapping("platform-gongyi"), "GEN")
    clean = audited(ledger, figures=False)
    assert clean.ok and [f for f in clean.findings if f.rule.startswith("imports.")] == []
    stored, _ = ledger.read_position(done.positions[0])
    payload = dict(open_sealed(bytes(stored.state), stream="fund:GEN", version=stored.originator_version,
                               topic=stored.topic).payload)
    # Written behind the ledger's back (the write side refuses it): the same order number again.
    twice = plant(ledger, "fund:GEN", "Fund.DonationReceived", dict(payload, entry="again"), cast.accountant.key)
    [finding] = [f for f in audited(ledger, figures=False).findings if f.rule == "imports.reference-twice"]
    assert [e.position for e in finding.events] == [twice] and finding.details["first"] == done.positions[0]
