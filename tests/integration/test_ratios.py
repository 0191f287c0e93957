"""The annual ratios as 《关于慈善组织开展慈善活动年度支出和管理费用的规定》 words them, judged by the
audit from histories written through the ledger's commands: the tier follows the foundation's
signed profile, 上年总收入 is adjusted as 第十条 says, the ¥200,000 exemption covers the management
ratios only, and a year without events is judged too. On SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date

import pytest
from auditkit import audited
from freezegun import freeze_time

from ledger.errors import InvalidInput

TOWN = "xinhualu"
WAN = 10_000_00  # ¥10,000 in fen


def _spend(c, fund: str, fen: int, kind: str, on: date) -> None:
    number = c.ledger.request_disbursement(c.accountant, fund, fen, kind=kind, payee="服务方", purpose=kind, on=on).ident
    c.ledger.approve_disbursement(c.approver, number, approval_ref=f"批-{number[:6]}", on=on)
    c.ledger.pay_disbursement(c.accountant, number, on=on)


def _year(c, *, public: bool | None, charitable: int, management: int) -> list:
    """2025: ¥500万 given; 2026: the charitable and management spending given; the findings of 2026."""
    with freeze_time("2027-01-15 04:00:00", tick=True):
        if public is not None:
            c.ledger.record_profile(c.root, "CNCF", charity=True, public_fundraising=public, org_type="foundation",
                                    since=date(2020, 1, 1), document_ref="慈善组织认定书")
        c.ledger.open_fund(c.accountant, "GEN", "非限定性基金", "CNCF", street_town=TOWN)
        c.ledger.record_donation(c.accountant, "GEN", 500 * WAN, donor_type="business", received_on=date(2025, 3, 1))
        _spend(c, "GEN", charitable, "programme", date(2026, 5, 1))
        _spend(c, "GEN", management, "management", date(2026, 6, 1))
        result = audited(c.ledger)
    return [f for f in result.findings if f.rule.startswith("ratios.") and f.details.get("year") == 2026]


def test_a_foundation_without_public_fundraising_follows_article_8_by_net_assets(cast):
    # 上年末净资产 ¥500万 lies in the ¥400万–800万 tier: 7% (¥35万), management ≤ 15%
    findings = _year(cast, public=False, charitable=36 * WAN, management=25 * WAN)
    assert [f.rule for f in findings] == ["ratios.management"]  # ¥25万 of ¥61万 is 41%
    assert findings[0].details["article"] == "第八条" and "15%" in findings[0].message_en


def test_public_fundraising_holds_the_same_year_to_article_7(cast):
    findings = _year(cast, public=True, charitable=36 * WAN, management=25 * WAN)
    spending = next(f for f in findings if f.rule == "ratios.charitable-spending")
    assert spending.details["article"] == "第七条" and "¥3,500,000.00" in spending.message_en  # 70% of ¥500万


def test_the_200k_exemption_covers_the_management_ratio_only(cast):
    findings = _year(cast, public=False, charitable=20 * WAN, management=15 * WAN)
    # ¥15万 management is exempt from the 15% ceiling; ¥20万 is still below 7% of ¥500万
    assert [f.rule for f in findings] == ["ratios.charitable-spending"]


def test_a_charity_with_no_public_fundraising_profile_is_not_held_to_70_percent(cast):
    findings = _year(cast, public=False, charitable=36 * WAN, management=10 * WAN)
    assert findings == []


def test_time_restricted_income_is_counted_in_the_year_it_may_be_used(cast):
    c = cast
    with freeze_time("2027-01-15 04:00:00", tick=True):
        c.ledger.record_profile(c.root, "CNCF", charity=True, public_fundraising=True, org_type="foundation",
                                since=date(2020, 1, 1), document_ref="公开募捐资格证书")
        c.ledger.open_fund(c.accountant, "GEN", "非限定性基金", "CNCF", street_town=TOWN)
        c.ledger.open_fund(c.accountant, "LATER", "2026年起使用的捐赠", "CNCF", restricted=True, purpose="助老",
                           street_town=TOWN, valid_from=date(2026, 1, 1))
        c.ledger.record_donation(c.accountant, "GEN", 100 * WAN, donor_type="resident", received_on=date(2025, 3, 1))
        c.ledger.record_donation(c.accountant, "LATER", 200 * WAN, donor_type="business", received_on=date(2025, 9, 1))
        _spend(c, "GEN", 70 * WAN, "programme", date(2026, 5, 1))
        result = audited(c.ledger)
    # 2025's total income is ¥100万: the ¥200万 could not be used before 2026 (第十条)
    assert not [f for f in result.findings if f.rule == "ratios.charitable-spending" and f.details["year"] == 2026]


def test_a_year_without_events_is_judged(cast):
    c = cast
    with freeze_time("2027-01-15 04:00:00", tick=True):
        c.ledger.open_fund(c.accountant, "GEN", "非限定性基金", "CNCF", street_town=TOWN)
        c.ledger.record_donation(c.accountant, "GEN", 100 * WAN, donor_type="resident", received_on=date(2025, 3, 1))
        c.ledger.open_fund(c.other_accountant, "OTH", "另一基金会", "OTHERF", street_town="hongqiao")
        c.ledger.record_donation(c.other_accountant, "OTH", 1_000, donor_type="resident", street_town="hongqiao",
                                 received_on=date(2027, 1, 2))
        result = audited(c.ledger)
    # CNCF recorded nothing in 2026: a silent year still owes 70% of 2025's income
    assert [f.details["year"] for f in result.findings
            if f.rule == "ratios.charitable-spending" and "CNCF" in f.message_en] == [2026]


def test_a_profile_is_signed_and_checked(cast):
    with pytest.raises(InvalidInput) as refused:
        cast.ledger.record_profile(cast.root, "CNCF", charity=False, public_fundraising=True, org_type="foundation",
                                   since=date(2024, 1, 1), document_ref="证书")
    assert refused.value.field == "public_fundraising"
    with pytest.raises(InvalidInput):
        cast.ledger.record_profile(cast.root, "CNCF", charity=True, public_fundraising=False, org_type="trust",
                                   since=date(2024, 1, 1), document_ref="证书")
    recorded = cast.ledger.record_profile(cast.accountant, "CNCF", charity=True, public_fundraising=False,
                                          org_type="foundation", since=date(2024, 1, 1), document_ref="认定书")
    assert cast.ledger.read_position(recorded.positions[0])[0].topic == "Organisation.ProfileRecorded"
    assert cast.ledger.organisation("CNCF").profiles[-1]["type"] == "foundation"
