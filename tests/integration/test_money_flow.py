"""Money in and out, with balances, double entry and corrections, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, time

import pytest

from ledger import events
from ledger.errors import (
    AlreadyReversed,
    FundClosed,
    InsufficientFunds,
    InvalidInput,
    NotAuthorised,
    NotReversible,
)
from ledger.verify import check_log
from vocabulary import (
    TOWN,
    all_events,
    balance,
    donate,
    nothing_written,
    open_general,
    open_restricted,
    pay,
    postings_by_account,
    project,
    topic_at,
)

# --- money in ------------------------------------------------------------------------------------


def test_donation_and_grant_raise_the_balance(cast):
    open_general(cast, "GEN")
    first = donate(cast, "GEN", 123_450, method="cash", donor_name="张三", donor_public=True)
    donate(cast, "GEN", 50_000, method="in_kind", in_kind_description="轮椅", donor_type="business",
           in_kind_basis="receipt", quantity=2, unit="台")
    cast.ledger.record_grant(
        cast.accountant, "GEN", 200_000, source="welfare_lottery", payer="长宁区民政局", document_ref="长民〔2026〕3号"
    )
    # goods given in kind are inventory (存货) at their stated value, not money
    assert balance(cast, "GEN") == 323_450
    assert cast.ledger.fund("GEN").goods == 50_000
    assert len(first.positions) == 1
    stored, event = cast.ledger.read_position(first.positions[0])
    assert stored.topic == "Fund.DonationReceived"
    assert (event.amount, event.donor_name, event.street_town, event.entry) == (123_450, "张三", TOWN, first.ident)
    assert event.postings == [
        {"account": "Assets:Funds:GEN", "amount": 123_450, "commodity": "CNY"},
        {"account": "Income:Unrestricted:Donations:resident", "amount": -123_450, "commodity": "CNY"},
    ]


def test_donation_to_a_restricted_fund_is_restricted_income(cast):
    open_restricted(cast, "SPEC")
    donate(cast, "SPEC", 80_000)
    totals = postings_by_account(cast)
    assert totals["Income:Restricted:Donations:resident"] == -80_000
    assert totals["Assets:Funds:SPEC"] == 80_000
    assert not any(a.startswith("Income:Unrestricted") for a in totals)


# --- allocation and release ----------------------------------------------------------------------


def test_allocation_between_unrestricted_funds(cast):
    open_general(cast, "GEN")
    open_general(cast, "GEN2")
    donate(cast, "GEN", 10_000)
    recorded = cast.ledger.allocate(cast.accountant, "GEN", "GEN2", 3_000, reason="调剂")
    assert (balance(cast, "GEN"), balance(cast, "GEN2")) == (7_000, 3_000)
    assert [topic_at(cast, p) for p in recorded.positions] == ["Fund.AllocatedOut", "Fund.AllocatedIn"]
    assert postings_by_account(cast)["Equity:Interfund"] == 0


def test_allocation_from_unrestricted_into_restricted(cast):
    open_general(cast, "GEN")
    open_restricted(cast, "SPEC")
    donate(cast, "GEN", 10_000)
    cast.ledger.allocate(cast.accountant, "GEN", "SPEC", 4_000, reason="配套资金")
    assert (balance(cast, "GEN"), balance(cast, "SPEC")) == (6_000, 4_000)
    totals = postings_by_account(cast)
    # A designation by the foundation itself does not make the money restricted (限定性 only by a
    # resource provider or by law): it stays unrestricted net assets inside the restricted fund.
    assert not any(a.startswith("Income:Restricted") for a in totals)
    assert cast.ledger.fund("SPEC").restricted_part == 0


def test_release_of_restriction(cast):
    open_restricted(cast, "SPEC")
    open_general(cast, "GEN")
    donate(cast, "SPEC", 10_000)
    recorded = cast.ledger.release_restriction(cast.accountant, "SPEC", "GEN", 2_500, basis="捐赠协议第5条期满解除")
    assert (balance(cast, "SPEC"), balance(cast, "GEN")) == (7_500, 2_500)
    assert topic_at(cast, recorded.positions[0]) == "Fund.RestrictionReleased"
    totals = postings_by_account(cast)
    assert -sum(v for a, v in totals.items() if a.startswith("Income:Restricted")) == 7_500
    assert totals["Income:Unrestricted:ReleasedFromRestriction"] == -2_500


# --- money out -----------------------------------------------------------------------------------


def test_project_disbursement_request_approve_pay(cast):
    open_general(cast, "GEN")
    donate(cast, "GEN", 100_000)
    project(cast, "P1", budget=60_000)
    number = cast.ledger.request_disbursement(cast.accountant, "GEN", 25_000, project="P1", purpose="首期").ident
    assert cast.ledger.disbursement(number).status == "requested"
    assert balance(cast, "GEN") == 100_000  # a request moves no money
    cast.ledger.approve_disbursement(cast.approver, number, approval_ref="长基批〔2026〕12号")
    approved = cast.ledger.disbursement(number)
    assert (approved.status, approved.approved_by, approved.approval_ref) == ("approved", "appr", "长基批〔2026〕12号")
    assert balance(cast, "GEN") == 100_000
    paid = cast.ledger.pay_disbursement(cast.accountant, number)
    assert cast.ledger.disbursement(number).status == "paid"
    assert balance(cast, "GEN") == 75_000
    p1 = cast.ledger.project("P1")
    assert (p1.paid, p1.remaining, p1.payments) == (25_000, 35_000, {number: 25_000})
    assert sorted(topic_at(cast, p) for p in paid.positions) == [
        "Disbursement.Paid",
        "Fund.Paid",
        "Project.PaymentRecorded",
    ]
    assert postings_by_account(cast)["Expenses:Programs:P1"] == 25_000


def test_restricted_fund_pays_its_purpose(cast):
    open_restricted(cast, "SPEC")
    donate(cast, "SPEC", 100_000)
    project(cast, "P1")
    pay(cast, "SPEC", 40_000, project="P1")
    assert balance(cast, "SPEC") == 60_000
    totals = postings_by_account(cast)
    assert -sum(v for a, v in totals.items() if a.startswith("Income:Restricted")) == 60_000


def test_allowance_and_management_disbursements(cast):
    open_general(cast, "GEN")
    open_restricted(cast, "SPEC")
    donate(cast, "GEN", 100_000)
    donate(cast, "SPEC", 100_000)
    pay(
        cast,
        "SPEC",
        3_000,
        kind="allowance",
        payee="王社工",
        domain="elderly_care",
        street_town=TOWN,
        purpose="社工专业人才津贴",
    )
    pay(cast, "GEN", 2_000, kind="management", payee="长宁区社区基金会", purpose="办公费")
    pay(cast, "GEN", 1_000, kind="fundraising", payee="长宁区社区基金会", purpose="募捐物料")
    assert (balance(cast, "GEN"), balance(cast, "SPEC")) == (97_000, 97_000)
    totals = postings_by_account(cast)
    assert totals[f"Expenses:Allowances:{TOWN}"] == 3_000
    assert totals["Expenses:Management"] == 2_000
    assert totals["Expenses:Fundraising"] == 1_000


# --- double entry --------------------------------------------------------------------------------


def _mixed_sequence(c):
    open_general(c, "GEN")
    open_general(c, "GEN2")
    open_restricted(c, "SPEC")
    open_restricted(c, "SPEC2")
    project(c, "P1")
    donate(c, "GEN", 90_000)
    donate(c, "SPEC", 70_000, donor_type="business")
    c.ledger.record_grant(c.accountant, "SPEC2", 40_000, source="venture_philanthropy", payer="区公益创投")
    c.ledger.allocate(c.accountant, "GEN", "GEN2", 10_000, reason="调剂")
    c.ledger.allocate(c.accountant, "GEN", "SPEC", 15_000, reason="配套")
    c.ledger.release_restriction(c.accountant, "SPEC2", "GEN2", 5_000, basis="协议解除")
    pay(c, "SPEC", 20_000, project="P1")
    paid = pay(c, "SPEC2", 8_000, project="P1")
    pay(c, "GEN", 3_000, kind="management", payee="行政")
    pay(c, "SPEC2", 1_000, kind="allowance", payee="王社工", domain="elderly_care", street_town=TOWN, purpose="津贴")
    mistaken = donate(c, "SPEC", 6_000)
    c.ledger.reverse(c.accountant, mistaken.positions[0], reason="重复录入")
    fund_paid = next(p for p in paid.positions if topic_at(c, p) == "Fund.Paid")
    c.ledger.reverse(c.accountant, fund_paid, reason="付款退回")


def test_every_money_event_balances_per_commodity(cast):
    _mixed_sequence(cast)
    money_topics = set()
    for stored, event in all_events(cast):
        postings = getattr(event, "postings", None)
        if postings is None:
            continue
        money_topics.add(stored.topic)
        totals: dict[str, int] = defaultdict(int)
        for p in postings:
            assert isinstance(p["amount"], int) and not isinstance(p["amount"], bool)
            totals[p["commodity"]] += p["amount"]
        assert set(totals) == {"CNY"}
        assert totals["CNY"] == 0, (stored.id, stored.topic, postings)
    # The sequence exercised every kind of money event of the first version, and only money events
    # carry postings (the later kinds: tests/integration/test_statements.py).
    assert money_topics == events.MONEY_EVENTS - {"Fund.GoodsDistributed", "Fund.OtherIncomeReceived",
                                                  "Fund.ContractPaymentReceived", "Fund.ServiceDelivered",
                                                  "Fund.Terminated"}


def test_restricted_net_assets_equal_the_restricted_money_of_restricted_funds(cast):
    _mixed_sequence(cast)
    totals = postings_by_account(cast)
    restricted_net_assets = -sum(v for a, v in totals.items() if a.startswith("Income:Restricted"))
    funds = {code: cast.ledger.fund(code) for code in ("GEN", "GEN2", "SPEC", "SPEC2")}
    assert restricted_net_assets == sum(f.restricted_part for f in funds.values() if f.restricted)
    # SPEC spent its donated (restricted) money first; the 15,000 the foundation placed in it stays unrestricted
    assert restricted_net_assets == (70_000 - 20_000) + (40_000 - 5_000 - 1_000)
    assert funds["SPEC"].balance - funds["SPEC"].restricted_part == 15_000
    for code, fund in funds.items():
        assert totals[f"Assets:Funds:{code}"] == fund.balance
    assert totals["Equity:Interfund"] == 0
    assert all(check.ok for check in check_log(cast.ledger.log_positions()))


# --- corrections (更正) --------------------------------------------------------------------------


def test_reverse_a_donation(cast):
    open_general(cast, "GEN")
    donate(cast, "GEN", 10_000)
    mistake = donate(cast, "GEN", 5_000)
    reversal = cast.ledger.reverse(cast.accountant, mistake.positions[0], reason="金额录错")
    assert balance(cast, "GEN") == 10_000
    stored, event = cast.ledger.read_position(reversal.positions[0])
    assert stored.topic == "Fund.Reversed"
    assert event.reason == "金额录错"
    assert event.reverses == {"stream": "fund:GEN", "version": 3, "type": "Fund.DonationReceived"}
    with nothing_written(cast, funds=["GEN"]), pytest.raises(AlreadyReversed) as err:
        cast.ledger.reverse(cast.accountant, mistake.positions[0], reason="再次冲正")
    assert err.value.rule == "reversed-once"


def test_reverse_an_allocation_undoes_both_legs(cast):
    open_general(cast, "GEN")
    open_restricted(cast, "SPEC")
    donate(cast, "GEN", 10_000)
    allocation = cast.ledger.allocate(cast.accountant, "GEN", "SPEC", 4_000, reason="配套")
    out_leg, in_leg = allocation.positions
    reversal = cast.ledger.reverse(cast.accountant, out_leg, reason="调错基金")
    assert len(reversal.positions) == 2
    assert (balance(cast, "GEN"), balance(cast, "SPEC")) == (10_000, 0)
    totals = postings_by_account(cast)
    assert -sum(v for a, v in totals.items() if a.startswith("Income:Restricted")) == 0
    # The other leg is the same entry: it cannot be reversed again.
    with nothing_written(cast, funds=["GEN", "SPEC"]), pytest.raises(AlreadyReversed):
        cast.ledger.reverse(cast.accountant, in_leg, reason="再次冲正")


def test_reverse_an_allocation_from_its_incoming_leg(cast):
    open_general(cast, "GEN")
    open_general(cast, "GEN2")
    donate(cast, "GEN", 10_000)
    allocation = cast.ledger.allocate(cast.accountant, "GEN", "GEN2", 4_000, reason="调剂")
    cast.ledger.reverse(cast.accountant, allocation.positions[1], reason="调错基金")
    assert (balance(cast, "GEN"), balance(cast, "GEN2")) == (10_000, 0)


def test_reverse_a_paid_project_disbursement(cast):
    open_general(cast, "GEN")
    donate(cast, "GEN", 100_000)
    project(cast, "P1")
    paid = pay(cast, "GEN", 30_000, project="P1")
    number = paid.ident
    fund_paid = next(p for p in paid.positions if topic_at(cast, p) == "Fund.Paid")
    reversal = cast.ledger.reverse(cast.accountant, fund_paid, reason="承接方退回")
    assert balance(cast, "GEN") == 100_000
    assert cast.ledger.project("P1").paid == 0
    assert cast.ledger.project("P1").payments == {}
    assert cast.ledger.disbursement(number).status == "reversed"
    assert sorted(topic_at(cast, p) for p in reversal.positions) == [
        "Disbursement.Reversed",
        "Fund.Reversed",
        "Project.PaymentReversed",
    ]
    assert postings_by_account(cast)["Expenses:Programs:P1"] == 0


def test_reverse_a_paid_disbursement_from_its_disbursement_event(cast):
    open_general(cast, "GEN")
    donate(cast, "GEN", 100_000)
    paid = pay(cast, "GEN", 2_000, kind="management", payee="行政")
    disbursement_paid = next(p for p in paid.positions if topic_at(cast, p) == "Disbursement.Paid")
    cast.ledger.reverse(cast.accountant, disbursement_paid, reason="重复付款")
    assert balance(cast, "GEN") == 100_000
    assert cast.ledger.disbursement(paid.ident).status == "reversed"


def test_reversing_a_paid_disbursement_twice_is_already_reversed(cast):
    open_general(cast, "GEN")
    donate(cast, "GEN", 100_000)
    project(cast, "P1")
    paid = pay(cast, "GEN", 30_000, project="P1")
    fund_paid = next(p for p in paid.positions if topic_at(cast, p) == "Fund.Paid")
    cast.ledger.reverse(cast.accountant, fund_paid, reason="承接方退回")
    with (
        nothing_written(cast, funds=["GEN"], projects=["P1"], disbursements=[paid.ident]),
        pytest.raises(AlreadyReversed),
    ):
        cast.ledger.reverse(cast.accountant, fund_paid, reason="再次冲正")


def test_reverse_a_volunteer_session_frees_the_slot(cast):
    cast.ledger.register_volunteer(cast.recorder, "V001", "李四", TOWN, registered_on=date(2026, 1, 5))

    def session(start, end):
        return cast.ledger.record_hours(
            cast.recorder,
            "V001",
            organisation="LELING",
            domain="elderly_care",
            on=date(2026, 3, 1),
            start=start,
            end=end,
            content="陪伴独居老人",
        )

    wrong = session(time(9, 0), time(12, 0))
    with pytest.raises(NotAuthorised):
        cast.ledger.reverse(cast.accountant, wrong.positions[0], reason="会计不能更正服务记录")
    cast.ledger.reverse(cast.recorder, wrong.positions[0], reason="时段录错")
    assert cast.ledger.volunteer("V001").sessions == {}
    right = session(time(9, 0), time(11, 0))
    assert list(cast.ledger.volunteer("V001").sessions) == [right.ident]
    with pytest.raises(AlreadyReversed):
        cast.ledger.reverse(cast.recorder, wrong.positions[0], reason="再次冲正")


def test_non_money_events_are_not_reversible(cast):
    opened = open_general(cast, "GEN")
    donate(cast, "GEN", 10_000)
    reversal = cast.ledger.reverse(cast.accountant, donate(cast, "GEN", 1).positions[0], reason="测试")
    for position in (opened.positions[0], reversal.positions[0], 1):
        with nothing_written(cast, funds=["GEN"]), pytest.raises(NotReversible) as err:
            cast.ledger.reverse(cast.accountant, position, reason="不可冲正")
        assert (err.value.rule, err.value.field) == ("not-reversible", "position")


def test_reversing_a_spent_donation_would_overdraw(cast):
    open_general(cast, "GEN")
    gift = donate(cast, "GEN", 10_000)
    pay(cast, "GEN", 8_000, kind="management", payee="行政")
    with nothing_written(cast, funds=["GEN"]), pytest.raises(InsufficientFunds) as err:
        cast.ledger.reverse(cast.accountant, gift.positions[0], reason="捐赠人撤回")
    assert (err.value.rule, err.value.field) == ("no-overdraft", "amount")
    assert balance(cast, "GEN") == 2_000


# --- closing a fund ------------------------------------------------------------------------------


def test_closed_fund_takes_no_income_and_closes_only_when_empty(cast):
    open_general(cast, "GEN")
    donate(cast, "GEN", 1_000)
    with nothing_written(cast, funds=["GEN"]), pytest.raises(InvalidInput) as err:
        cast.ledger.close_fund(cast.accountant, "GEN", "期满")
    assert err.value.field == "fund"
    pay(cast, "GEN", 1_000, kind="management", payee="行政")
    cast.ledger.close_fund(cast.accountant, "GEN", "期满")
    assert cast.ledger.fund("GEN").closed
    with nothing_written(cast, funds=["GEN"]), pytest.raises(FundClosed) as err:
        donate(cast, "GEN", 500)
    assert err.value.rule == "fund-closed"


def test_reversal_into_a_closed_fund_is_refused(cast):
    open_general(cast, "GEN")
    donate(cast, "GEN", 10_000)
    paid = pay(cast, "GEN", 10_000, kind="management", payee="行政")
    cast.ledger.close_fund(cast.accountant, "GEN", "期满")
    fund_paid = next(p for p in paid.positions if topic_at(cast, p) == "Fund.Paid")
    with nothing_written(cast, funds=["GEN"], disbursements=[paid.ident]), pytest.raises(FundClosed):
        cast.ledger.reverse(cast.accountant, fund_paid, reason="退回")
