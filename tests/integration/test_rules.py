"""Every write rule of DOMAIN.md, on SQLite and PostgreSQL: a refused command raises its named
error (with its stable ``rule`` and the offending ``field``) and writes nothing at all."""

from __future__ import annotations

from datetime import date, time, timedelta

import pytest
from agreements import agreement
from freezegun import freeze_time

from ledger.application import Actor, Ledger
from ledger.errors import (
    AlreadyExists,
    BudgetExceeded,
    FundRestricted,
    HoursImpossible,
    HoursOverlap,
    InsufficientFunds,
    InvalidInput,
    InvalidState,
    KeyRevoked,
    MakerChecker,
    NotAuthorised,
    NotFound,
    UnknownKey,
    UnknownReference,
    WrongPayee,
)
from ledger.settings import Settings
from ledger.signing import SigningKey
from ledger.verify import check_log
from vocabulary import (
    TOWN,
    approved,
    assert_named,
    donate,
    hours,
    nothing_written,
    open_general,
    open_restricted,
    project,
    register_volunteer,
    request,
)

# --- rule 1: no overdraft --------------------------------------------------------------------------


def test_overdraft_refused_at_request(cast):
    open_general(cast, "GEN")
    donate(cast, "GEN", 10_000)
    project(cast, "P1")
    with nothing_written(cast, funds=["GEN"], projects=["P1"]), pytest.raises(InsufficientFunds) as err:
        request(cast, "GEN", 10_001, project="P1")
    assert_named(err, "no-overdraft", "amount")
    # The whole balance is fine.
    request(cast, "GEN", 10_000, project="P1")


def test_overdraft_refused_at_pay_time(cast):
    open_general(cast, "GEN")
    donate(cast, "GEN", 10_000)
    project(cast, "P1")
    first = approved(cast, "GEN", 6_000, project="P1")
    second = approved(cast, "GEN", 6_000, project="P1")  # each fits the balance on its own
    cast.ledger.pay_disbursement(cast.accountant, first)
    assert cast.ledger.fund("GEN").balance == 4_000
    with (
        nothing_written(cast, funds=["GEN"], projects=["P1"], disbursements=[first, second]),
        pytest.raises(InsufficientFunds) as err,
    ):
        cast.ledger.pay_disbursement(cast.accountant, second)
    assert_named(err, "no-overdraft", "amount")
    assert cast.ledger.disbursement(second).status == "approved"
    assert cast.ledger.project("P1").paid == 6_000


def test_approval_refused_when_the_fund_no_longer_covers(cast):
    open_general(cast, "GEN")
    donate(cast, "GEN", 10_000)
    project(cast, "P1")
    first = approved(cast, "GEN", 7_000, project="P1")
    second = request(cast, "GEN", 7_000, project="P1")
    cast.ledger.pay_disbursement(cast.accountant, first)
    with nothing_written(cast, funds=["GEN"], disbursements=[second]), pytest.raises(InsufficientFunds) as err:
        cast.ledger.approve_disbursement(cast.approver, second, approval_ref="批复-2")
    assert_named(err, "no-overdraft", "amount")


def test_overdraft_refused_on_allocation(cast):
    open_general(cast, "GEN")
    open_general(cast, "GEN2")
    donate(cast, "GEN", 500)
    with nothing_written(cast, funds=["GEN", "GEN2"]), pytest.raises(InsufficientFunds) as err:
        cast.ledger.allocate(cast.accountant, "GEN", "GEN2", 501, reason="调剂")
    assert_named(err, "no-overdraft", "amount")


# --- rule 1: restricted funds ---------------------------------------------------------------------


def test_restricted_fund_refuses_another_domain(cast):
    open_restricted(cast, "SPEC")
    donate(cast, "SPEC", 50_000)
    project(cast, "KIDS", domain="child_welfare")
    with nothing_written(cast, funds=["SPEC"], projects=["KIDS"]), pytest.raises(FundRestricted) as err:
        request(cast, "SPEC", 1_000, project="KIDS")
    assert_named(err, "restricted-purpose", "domain")


def test_restricted_fund_refuses_an_allowance_in_another_domain(cast):
    open_restricted(cast, "SPEC")
    donate(cast, "SPEC", 50_000)
    with nothing_written(cast, funds=["SPEC"]), pytest.raises(FundRestricted) as err:
        request(cast, "SPEC", 1_000, kind="allowance", payee="王社工", domain="child_welfare", street_town=TOWN)
    assert_named(err, "restricted-purpose", "domain")


def test_restricted_fund_refuses_another_street_town(cast):
    open_restricted(cast, "SPEC")
    donate(cast, "SPEC", 50_000)
    project(cast, "HQ", street_town="hongqiao")
    with nothing_written(cast, funds=["SPEC"], projects=["HQ"]), pytest.raises(FundRestricted) as err:
        request(cast, "SPEC", 1_000, project="HQ")
    assert_named(err, "restricted-purpose", "street_town")


def test_restricted_fund_pays_only_within_its_dates_in_shanghai_time(cast):
    with freeze_time("2031-02-28 12:00:00", tick=True):  # 20:00 in Shanghai, before the fund's term
        open_restricted(cast, "TERM", valid_from=date(2031, 3, 1), valid_until=date(2031, 6, 30))
        donate(cast, "TERM", 50_000)
        project(cast, "P1")
        with nothing_written(cast, funds=["TERM"]), pytest.raises(FundRestricted) as err:
            request(cast, "TERM", 1_000, project="P1")
        assert_named(err, "restricted-purpose", "date")
    with freeze_time("2031-02-28 16:30:00", tick=True):  # 00:30 on 1 March in Shanghai
        early = approved(cast, "TERM", 1_000, project="P1")
        late = approved(cast, "TERM", 2_000, project="P1")
    with freeze_time("2031-06-30 15:30:00", tick=True):  # 23:30 on 30 June in Shanghai: still in term
        cast.ledger.pay_disbursement(cast.accountant, early)
    with freeze_time("2031-06-30 16:30:00", tick=True):  # 00:30 on 1 July in Shanghai: term is over
        with (
            nothing_written(cast, funds=["TERM"], projects=["P1"], disbursements=[late]),
            pytest.raises(FundRestricted) as err,
        ):
            cast.ledger.pay_disbursement(cast.accountant, late)
        assert_named(err, "restricted-purpose", "date")
        assert cast.ledger.fund("TERM").balance == 49_000


@pytest.mark.parametrize("kind", ["management", "fundraising"])
def test_restricted_fund_refuses_overheads(cast, kind):
    open_restricted(cast, "SPEC")
    donate(cast, "SPEC", 50_000)
    with nothing_written(cast, funds=["SPEC"]), pytest.raises(FundRestricted) as err:
        request(cast, "SPEC", 1_000, kind=kind, payee="基金会行政")
    assert_named(err, "restricted-purpose", "fund")


def test_restricted_fund_cannot_allocate_out(cast):
    open_restricted(cast, "SPEC")
    open_general(cast, "GEN")
    donate(cast, "SPEC", 50_000)
    with nothing_written(cast, funds=["SPEC", "GEN"]), pytest.raises(FundRestricted) as err:
        cast.ledger.allocate(cast.accountant, "SPEC", "GEN", 1_000, reason="挪用")
    assert_named(err, "restricted-purpose", "from_fund")


def test_special_fund_must_be_restricted_with_a_purpose(cast):
    with nothing_written(cast), pytest.raises(InvalidInput) as err:
        open_general(cast, "SP1", kind="special", restricted=False, purpose="养老")
    assert_named(err, "invalid-input", "restricted")
    with nothing_written(cast), pytest.raises(InvalidInput) as err:
        open_general(cast, "SP2", kind="special", restricted=True, purpose="  ")
    assert_named(err, "invalid-input", "purpose")


def test_a_new_special_fund_needs_its_agreement(cast):
    """《上海市基金会专项基金管理办法》: a special fund is opened with its agreement, not a bare reference."""
    for missing in ({"agreement": None}, {"agreement": None, "agreement_ref": "协议-1"}):
        with nothing_written(cast), pytest.raises(InvalidInput) as err:
            open_restricted(cast, "SPEC", **missing)
        assert_named(err, "invalid-input", "agreement")
        assert "协议" in err.value.message_zh and "agreement" in err.value.message
    for part in ("ref", "use", "termination", "leftover"):
        with nothing_written(cast), pytest.raises(InvalidInput) as err:
            open_restricted(cast, "SPEC", agreement=agreement(**{part: " "}))
        assert_named(err, "invalid-input", f"agreement.{part}")
    for rate in (-1, 10_001, "3", 2.5, True):
        with nothing_written(cast), pytest.raises(InvalidInput) as err:
            open_restricted(cast, "SPEC", agreement=agreement(fee_rate_bp=rate))
        assert_named(err, "invalid-input", "agreement.fee_rate_bp")
    with nothing_written(cast), pytest.raises(InvalidInput) as err:
        open_restricted(cast, "SPEC", agreement_ref="协议-2", agreement=agreement(ref="协议-1"))
    assert_named(err, "invalid-input", "agreement_ref")
    with nothing_written(cast), pytest.raises(InvalidInput) as err:
        open_general(cast, "GEN", agreement=agreement())
    assert_named(err, "invalid-input", "agreement")
    open_restricted(cast, "SPEC", agreement=agreement(fee_rate_bp=250, leftover_fund="GEN"))
    fund = cast.ledger.fund("SPEC")
    assert fund.agreement_ref == "协议-2026-01" and fund.agreement["fee_rate_bp"] == 250
    assert fund.agreement["purpose"] == "仙霞新村养老服务专项" and fund.agreement["leftover_fund"] == "GEN"
    open_general(cast, "VP", restricted=True, purpose="公益创投", agreement_ref="长民社〔2025〕8号")  # not special
    assert cast.ledger.fund("VP").agreement_ref == "长民社〔2025〕8号" and cast.ledger.fund("VP").agreement is None


def test_fund_restricted_to_unknown_street_town_is_refused(cast):
    with nothing_written(cast), pytest.raises(UnknownReference) as err:
        open_restricted(cast, "SPEC", street_towns=[TOWN, "pudong"])
    assert_named(err, "unknown-reference", "street_towns")


# --- rule 2: maker-checker ------------------------------------------------------------------------


def test_requester_cannot_approve_even_with_both_roles(cast):
    boss = cast.actor("boss", ["accountant", "approver"], foundation="CNCF")
    open_general(cast, "GEN")
    donate(cast, "GEN", 10_000)
    project(cast, "P1")
    number = request(cast, "GEN", 1_000, actor=boss, project="P1")
    with nothing_written(cast, funds=["GEN"], disbursements=[number]), pytest.raises(MakerChecker) as err:
        cast.ledger.approve_disbursement(boss, number, approval_ref="自批")
    assert_named(err, "maker-checker", "approver")
    with nothing_written(cast, disbursements=[number]), pytest.raises(MakerChecker):
        cast.ledger.reject_disbursement(boss, number, reason="自驳")
    # A different approver may.
    cast.ledger.approve_disbursement(cast.approver, number, approval_ref="批复-1")
    assert cast.ledger.disbursement(number).approved_by == "appr"


def test_accountant_without_approver_role_cannot_approve(cast):
    open_general(cast, "GEN")
    donate(cast, "GEN", 10_000)
    project(cast, "P1")
    number = request(cast, "GEN", 1_000, project="P1")
    colleague = cast.actor("acct2", ["accountant"], foundation="CNCF")
    with nothing_written(cast, disbursements=[number]), pytest.raises(NotAuthorised) as err:
        cast.ledger.approve_disbursement(colleague, number, approval_ref="批复-1")
    assert_named(err, "not-authorised", "actor")


def test_approver_of_another_foundation_cannot_approve(cast):
    open_general(cast, "GEN")
    donate(cast, "GEN", 10_000)
    project(cast, "P1")
    number = request(cast, "GEN", 1_000, project="P1")
    outsider = cast.actor("appr-other", ["approver"], foundation="OTHERF")
    with nothing_written(cast, disbursements=[number]), pytest.raises(NotAuthorised) as err:
        cast.ledger.approve_disbursement(outsider, number, approval_ref="批复-1")
    assert_named(err, "not-authorised", "actor")


def test_approver_cannot_request(cast):
    open_general(cast, "GEN")
    donate(cast, "GEN", 10_000)
    project(cast, "P1")
    with nothing_written(cast), pytest.raises(NotAuthorised) as err:
        request(cast, "GEN", 1_000, actor=cast.approver, project="P1")
    assert_named(err, "not-authorised", "actor")


# --- rule 3: budget and payee ---------------------------------------------------------------------


def test_request_over_budget_refused(cast):
    open_general(cast, "GEN")
    donate(cast, "GEN", 500_000)
    project(cast, "P1", budget=100_000)
    with nothing_written(cast, funds=["GEN"], projects=["P1"]), pytest.raises(BudgetExceeded) as err:
        request(cast, "GEN", 100_001, project="P1")
    assert_named(err, "within-budget", "amount")


def test_payments_together_over_budget_refused_at_pay_time(cast):
    open_general(cast, "GEN")
    donate(cast, "GEN", 500_000)
    project(cast, "P1", budget=100_000)
    first = approved(cast, "GEN", 60_000, project="P1")
    second = approved(cast, "GEN", 60_000, project="P1")
    cast.ledger.pay_disbursement(cast.accountant, first)
    with (
        nothing_written(cast, funds=["GEN"], projects=["P1"], disbursements=[second]),
        pytest.raises(BudgetExceeded) as err,
    ):
        cast.ledger.pay_disbursement(cast.accountant, second)
    assert_named(err, "within-budget", "amount")
    assert cast.ledger.project("P1").paid == 60_000
    assert cast.ledger.fund("GEN").balance == 440_000


def test_payee_must_be_the_undertaking_organisation(cast):
    open_general(cast, "GEN")
    donate(cast, "GEN", 10_000)
    project(cast, "P1")
    with nothing_written(cast, funds=["GEN"], projects=["P1"]), pytest.raises(WrongPayee) as err:
        request(cast, "GEN", 1_000, project="P1", payee="OTHERF")
    assert_named(err, "undertaking-organisation", "payee")
    # Without a payee the undertaking organisation is paid.
    number = request(cast, "GEN", 1_000, project="P1")
    assert cast.ledger.disbursement(number).payee == "LELING"


def test_unknown_milestone_refused(cast):
    open_general(cast, "GEN")
    donate(cast, "GEN", 100_000)
    project(cast, "P1", milestones=[("启动", 30_000), ("结项", 70_000)])
    with nothing_written(cast, funds=["GEN"], projects=["P1"]), pytest.raises(InvalidInput) as err:
        request(cast, "GEN", 1_000, project="P1", milestone="中期")
    assert_named(err, "invalid-input", "milestone")
    number = request(cast, "GEN", 30_000, project="P1", milestone="启动")
    assert cast.ledger.disbursement(number).milestone == "启动"


def test_milestones_may_not_exceed_the_budget(cast):
    with nothing_written(cast), pytest.raises(InvalidInput) as err:
        project(cast, "P1", budget=50_000, milestones=[("启动", 30_000), ("结项", 30_000)])
    assert_named(err, "invalid-input", "milestones")


# --- disbursement states --------------------------------------------------------------------------


def test_paying_an_unapproved_disbursement_is_refused(cast):
    open_general(cast, "GEN")
    donate(cast, "GEN", 10_000)
    project(cast, "P1")
    number = request(cast, "GEN", 1_000, project="P1")
    with (
        nothing_written(cast, funds=["GEN"], projects=["P1"], disbursements=[number]),
        pytest.raises(InvalidState) as err,
    ):
        cast.ledger.pay_disbursement(cast.accountant, number)
    assert_named(err, "invalid-state", None)


def test_paying_a_rejected_disbursement_is_refused(cast):
    open_general(cast, "GEN")
    donate(cast, "GEN", 10_000)
    project(cast, "P1")
    number = request(cast, "GEN", 1_000, project="P1")
    cast.ledger.reject_disbursement(cast.approver, number, reason="材料不全")
    assert cast.ledger.disbursement(number).status == "rejected"
    with (
        nothing_written(cast, funds=["GEN"], projects=["P1"], disbursements=[number]),
        pytest.raises(InvalidState) as err,
    ):
        cast.ledger.pay_disbursement(cast.accountant, number)
    assert err.value.rule == "invalid-state"
    with nothing_written(cast, disbursements=[number]), pytest.raises(InvalidState):
        cast.ledger.approve_disbursement(cast.approver, number, approval_ref="批复-1")


def test_a_disbursement_is_paid_once(cast):
    open_general(cast, "GEN")
    donate(cast, "GEN", 10_000)
    project(cast, "P1")
    number = approved(cast, "GEN", 1_000, project="P1")
    cast.ledger.pay_disbursement(cast.accountant, number)
    with nothing_written(cast, funds=["GEN"], projects=["P1"], disbursements=[number]), pytest.raises(InvalidState):
        cast.ledger.pay_disbursement(cast.accountant, number)
    assert cast.ledger.fund("GEN").balance == 9_000


# --- rule 4: volunteer hours ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "end"),
    [
        pytest.param(time(10, 0), time(9, 0), id="end-before-start"),
        pytest.param(time(22, 0), time(2, 0), id="overnight"),
        pytest.param(time(9, 0), time(9, 0), id="zero-length"),
        pytest.param(time(9, 0, 10), time(9, 0, 50), id="under-a-minute"),
    ],
)
def test_impossible_sessions_refused(cast, start, end):
    register_volunteer(cast)
    with nothing_written(cast, volunteers=["V001"]), pytest.raises(HoursImpossible) as err:
        hours(cast, start, end)
    assert_named(err, "hours-plausible", "end")


@pytest.mark.parametrize(
    ("start", "end"),
    [
        pytest.param(time(10, 30), time(12, 0), id="overlaps-end"),
        pytest.param(time(8, 0), time(9, 30), id="overlaps-start"),
        pytest.param(time(8, 0), time(12, 0), id="contains"),
        pytest.param(time(9, 30), time(10, 0), id="inside"),
        pytest.param(time(9, 0), time(11, 0), id="identical"),
    ],
)
def test_overlapping_sessions_refused(cast, start, end):
    register_volunteer(cast)
    hours(cast, time(9, 0), time(11, 0))
    with nothing_written(cast, volunteers=["V001"]), pytest.raises(HoursOverlap) as err:
        hours(cast, start, end)
    assert_named(err, "hours-no-overlap", "start")


def test_adjacent_sessions_and_other_days_accepted(cast):
    register_volunteer(cast)
    hours(cast, time(9, 0), time(10, 0))
    hours(cast, time(10, 0), time(11, 0))
    hours(cast, time(9, 0), time(10, 0), on=date(2026, 3, 2))
    hours(cast, time(22, 0), time(0, 0), on=date(2026, 3, 2))  # runs to midnight
    sessions = sorted(cast.ledger.volunteer("V001").sessions.values())
    assert [(d, s, e) for d, s, e, _ in sessions] == [
        ("2026-03-01", 540, 600),
        ("2026-03-01", 600, 660),
        ("2026-03-02", 540, 600),
        ("2026-03-02", 1320, 1440),
    ]


def test_recorder_of_another_organisation_refused(cast):
    cast.ledger.register_organisation(
        cast.root, "ANGEL", "天使志愿队", "social_organisation", "hongqiao", registered_on=date(2022, 1, 1)
    )
    stranger = cast.actor("rec-angel", ["recorder"], organisation="ANGEL")
    register_volunteer(cast)
    with nothing_written(cast, volunteers=["V001"]), pytest.raises(NotAuthorised) as err:
        hours(cast, time(9, 0), time(10, 0), actor=stranger)
    assert_named(err, "not-authorised", "organisation")
    # It records for its own organisation.
    hours(cast, time(9, 0), time(10, 0), actor=stranger, organisation="ANGEL")


def test_accountant_cannot_record_hours(cast):
    register_volunteer(cast)
    with nothing_written(cast, volunteers=["V001"]), pytest.raises(NotAuthorised) as err:
        hours(cast, time(9, 0), time(10, 0), actor=cast.accountant)
    assert err.value.rule == "not-authorised"


def test_hours_on_a_future_date_refused(cast):
    register_volunteer(cast)
    future = cast.ledger.today().replace(year=cast.ledger.today().year + 1)
    with nothing_written(cast, volunteers=["V001"]), pytest.raises(InvalidInput) as err:
        hours(cast, time(9, 0), time(10, 0), on=future)
    assert_named(err, "invalid-input", "on")


# --- scope of accountants -------------------------------------------------------------------------


def test_accountant_of_another_foundation_cannot_touch_this_foundations_fund(cast):
    open_general(cast, "GEN")
    donate(cast, "GEN", 10_000)
    project(cast, "P1")
    outsider = cast.other_accountant
    with nothing_written(cast, funds=["GEN"]), pytest.raises(NotAuthorised) as err:
        donate(cast, "GEN", 1_000, actor=outsider)
    assert_named(err, "not-authorised", "actor")
    with nothing_written(cast, funds=["GEN"]), pytest.raises(NotAuthorised):
        request(cast, "GEN", 1_000, actor=outsider, project="P1")
    with nothing_written(cast), pytest.raises(NotAuthorised):
        open_general(cast, "MINE", actor=outsider)
    # ... but it keeps its own books.
    open_general(cast, "OWN", foundation="OTHERF", actor=outsider)
    with nothing_written(cast, funds=["GEN", "OWN"]), pytest.raises(NotAuthorised):
        cast.ledger.allocate(outsider, "OWN", "GEN", 1, reason="跨基金会调拨")


# --- keys -----------------------------------------------------------------------------------------


def test_revoked_key_refused_and_earlier_events_still_load(cast, database_url, tmp_path):
    open_general(cast, "GEN")
    donate(cast, "GEN", 10_000)
    cast.ledger.revoke_key(cast.root, cast.accountant.key.key_id, reason="笔记本遗失")
    with nothing_written(cast, funds=["GEN"]), pytest.raises(KeyRevoked) as err:
        donate(cast, "GEN", 1_000)
    assert_named(err, "key-revoked", "actor")
    assert cast.ledger.fund("GEN").balance == 10_000
    assert all(check.ok for check in check_log(cast.ledger.log_positions()))
    reopened = Ledger(Settings(data_dir=tmp_path / "reopened"), database_url=database_url)
    try:
        assert reopened.fund("GEN").balance == 10_000
        with pytest.raises(KeyRevoked):
            reopened.record_donation(cast.accountant, "GEN", 1_000, donor_type="resident")
    finally:
        reopened.close()


def test_rotated_key_old_refused_new_accepted(cast):
    open_general(cast, "GEN")
    donate(cast, "GEN", 10_000)
    new_key = SigningKey.generate("acct")
    cast.ledger.rotate_key(cast.root, "acct", new_key.verifier)
    with nothing_written(cast, funds=["GEN"]), pytest.raises(KeyRevoked):
        donate(cast, "GEN", 1_000)
    donate(cast, "GEN", 2_000, actor=Actor("acct", new_key))
    assert cast.ledger.fund("GEN").balance == 12_000
    directory = cast.ledger.directory()
    assert [k.key.key_id for k in directory.active_keys("acct")] == [new_key.key_id]
    assert all(check.ok for check in check_log(cast.ledger.log_positions()))


def test_unregistered_key_refused(cast):
    open_general(cast, "GEN")
    impostor = Actor("acct", SigningKey.generate("acct"))
    with nothing_written(cast, funds=["GEN"]), pytest.raises(UnknownKey) as err:
        donate(cast, "GEN", 1_000, actor=impostor)
    assert_named(err, "unknown-key", "actor")


def test_only_root_revokes_keys(cast):
    with nothing_written(cast), pytest.raises(NotAuthorised):
        cast.ledger.revoke_key(cast.accountant, cast.approver.key.key_id, reason="越权")


# --- existence and dates --------------------------------------------------------------------------


def test_unknown_fund_and_project_not_found(cast):
    open_general(cast, "GEN")
    donate(cast, "GEN", 10_000)
    with nothing_written(cast), pytest.raises(NotFound) as err:
        donate(cast, "NOPE", 1_000)
    assert_named(err, "not-found", "fund")
    with nothing_written(cast), pytest.raises(NotFound) as err:
        request(cast, "GEN", 1_000, project="NOPE")
    assert_named(err, "not-found", "project")
    with nothing_written(cast), pytest.raises(NotFound) as err:
        cast.ledger.allocate(cast.accountant, "GEN", "NOPE", 1_000, reason="调剂")
    assert_named(err, "not-found", "to_fund")
    with nothing_written(cast), pytest.raises(NotFound) as err:
        hours(cast, time(9, 0), time(10, 0), volunteer="NOBODY")
    assert_named(err, "not-found", "volunteer")


def test_duplicate_fund_code_refused(cast):
    open_general(cast, "GEN")
    donate(cast, "GEN", 10_000)
    with nothing_written(cast, funds=["GEN"]), pytest.raises(AlreadyExists) as err:
        open_restricted(cast, "GEN")
    assert_named(err, "already-exists", "code")
    assert cast.ledger.fund("GEN").restricted is False


def test_future_received_on_refused_by_shanghai_date(cast):
    with freeze_time("2031-06-30 15:30:00", tick=True):  # 23:30 on 30 June in Shanghai
        open_general(cast, "GEN")
        assert cast.ledger.today() == date(2031, 6, 30)
        with nothing_written(cast, funds=["GEN"]), pytest.raises(InvalidInput) as err:
            donate(cast, "GEN", 1_000, received_on=date(2031, 7, 1))
        assert_named(err, "invalid-input", "received_on")
        donate(cast, "GEN", 1_000, received_on=date(2031, 6, 30))
    with freeze_time("2031-06-30 16:30:00", tick=True):  # 00:30 on 1 July in Shanghai, still 30 June in UTC
        donate(cast, "GEN", 2_000, received_on=date(2031, 7, 1))
        assert cast.ledger.fund("GEN").balance == 3_000


@pytest.mark.parametrize("amount", [0, -100, 1.5, True, 10**12 + 1])
def test_amounts_are_positive_integer_fen(cast, amount):
    open_general(cast, "GEN")
    with nothing_written(cast, funds=["GEN"]), pytest.raises(InvalidInput) as err:
        donate(cast, "GEN", amount)
    assert_named(err, "invalid-input", "amount")


def test_events_recorded_before_revocation_load_despite_clock_skew(cast, database_url, tmp_path):
    with freeze_time("2031-01-01 02:00:05"):  # a writer whose clock runs 5 s fast
        open_general(cast, "GEN")
        donate(cast, "GEN", 10_000)
    with freeze_time("2031-01-01 02:00:01"):  # the root's writer, later in the log, earlier by the clock
        cast.ledger.revoke_key(cast.root, cast.accountant.key.key_id, reason="离职")
    assert all(check.ok for check in check_log(cast.ledger.log_positions()))
    reopened = Ledger(Settings(data_dir=tmp_path / "reopened"), database_url=database_url)
    try:
        assert reopened.fund("GEN").balance == 10_000
    finally:
        reopened.close()


# --- concurrent writers -----------------------------------------------------------------------------


def _interleave(ledger, other_command):
    """Make ``ledger``'s next save happen just after ``other_command`` ran in another process."""
    original = ledger.save
    state = {"done": False}

    def save(*aggregates, **kwargs):
        if not state["done"]:
            state["done"] = True
            other_command()
        return original(*aggregates, **kwargs)

    ledger.save = save


def test_two_writers_cannot_overdraw_a_fund_together(cast, database_url, tmp_path):
    open_general(cast, "GEN")
    donate(cast, "GEN", 10_000)
    project(cast, "P1")
    first = approved(cast, "GEN", 6_000, project="P1")
    second = approved(cast, "GEN", 6_000, project="P1")
    elsewhere = Ledger(Settings(data_dir=tmp_path / "elsewhere"), database_url=database_url)
    try:
        # Both writers load the fund at ¥100.00; the other one saves first.
        _interleave(cast.ledger, lambda: elsewhere.pay_disbursement(cast.accountant, second))
        with pytest.raises(InsufficientFunds):
            cast.ledger.pay_disbursement(cast.accountant, first)
    finally:
        elsewhere.close()
    assert cast.ledger.fund("GEN").balance == 4_000
    assert cast.ledger.project("P1").paid == 6_000
    assert [cast.ledger.disbursement(n).status for n in (first, second)] == ["approved", "paid"]


def test_two_recorders_cannot_book_overlapping_sessions_together(cast, database_url, tmp_path):
    register_volunteer(cast)
    elsewhere = Ledger(Settings(data_dir=tmp_path / "elsewhere"), database_url=database_url)
    try:
        _interleave(
            cast.ledger,
            lambda: elsewhere.record_hours(
                cast.recorder,
                "V001",
                organisation="LELING",
                domain="elderly_care",
                on=date(2026, 3, 1),
                start=time(9, 0),
                end=time(11, 0),
                content="助浴",
            ),
        )
        with pytest.raises(HoursOverlap):
            hours(cast, time(10, 0), time(12, 0))
    finally:
        elsewhere.close()
    assert len(cast.ledger.volunteer("V001").sessions) == 1


def test_payment_cannot_be_dated_before_its_approval(cast):
    open_general(cast, "GEN")
    donate(cast, "GEN", 10_000)
    number = approved(cast, "GEN", 1_000, kind="management", payee="行政")
    with nothing_written(cast, funds=["GEN"], disbursements=[number]), pytest.raises(InvalidInput) as err:
        cast.ledger.pay_disbursement(cast.accountant, number, on=cast.ledger.today() - timedelta(days=400))
    assert err.value.field == "on"
