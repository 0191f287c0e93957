"""Every view's fold as a pure function: hand-written events, read like ledger entries, folded into
an in-memory store over the runner's tables with the runner's own ``changes_for``."""

from __future__ import annotations

import copy
from collections import defaultdict
from datetime import datetime

import pytest

from ledger import accounting as acc
from projections import corrections, funds, hours, projects, runner, streettowns
from projections.base import Event, MemoryStore

TOWN = "xianxiaxincun"
OTHER_TOWN = "hongqiao"


class Book:
    """A hand-kept log: each entry gets the next position and its stream's next version, and is
    folded at once into a MemoryStore over every table the runner keeps."""

    def __init__(self) -> None:
        self.store = MemoryStore(runner.TABLES)
        self.position = 0
        self.versions: dict[str, int] = defaultdict(int)
        self.events: list[Event] = []

    def record(self, stream: str, type_: str, payload: dict, at: str = "2026-03-01T10:00:00+08:00") -> Event:
        self.position += 1
        self.versions[stream] += 1
        event = Event(self.position, type_, stream, self.versions[stream], datetime.fromisoformat(at), payload)
        before = copy.deepcopy(self.store.rows)
        changes = runner.changes_for(event, self.store.read)
        assert self.store.rows == before, "a fold wrote to the store instead of returning changes"
        self.store.apply(changes)
        self.events.append(event)
        return event

    def row(self, table, *key) -> dict | None:
        return self.store.read(table.name, tuple(key))

    def rows(self, table) -> list[dict]:
        return [dict(r) for _, r in sorted(self.store.rows[table.name].items())]

    # --- the ledger's vocabulary, as events ------------------------------------------------------

    def open_fund(self, code: str, *, restricted: bool = False, street_town: str | None = TOWN, **kw) -> Event:
        payload = {
            "code": code,
            "name": f"{code} 基金",
            "foundation": "CNCF",
            "kind": "special" if restricted else "general",
            "restricted": restricted,
            "purpose": "仙霞新村养老服务专项" if restricted else "",
            "street_town": street_town,
            "domains": ["elderly_care"] if restricted else [],
            "street_towns": [TOWN] if restricted else [],
            "valid_from": None,
            "valid_until": None,
            "agreement_ref": "协议-2026-01" if restricted else None,
        }
        payload.update(kw)
        return self.record(f"fund:{code}", "Fund.Opened", payload)

    def restricted(self, fund: str) -> bool:
        return bool(self.row(funds.FUNDS, fund)["restricted"])

    def donation(
        self,
        fund: str,
        fen: int,
        *,
        entry: str,
        donor_type: str = "resident",
        donor_name: str | None = None,
        on: str = "2026-03-01",
        street_town: str = TOWN,
        at: str | None = None,
    ) -> Event:
        postings = [
            acc.posting(acc.fund_account(fund), fen),
            acc.posting(acc.donation_income(self.restricted(fund), donor_type), -fen),
        ]
        return self.record(
            f"fund:{fund}",
            "Fund.DonationReceived",
            {
                "entry": entry,
                "amount": fen,
                "method": "transfer",
                "donor_type": donor_type,
                "donor_name": donor_name,
                "donor_public": donor_name is not None,
                "in_kind_description": None,
                "received_on": on,
                "street_town": street_town,
                "note": None,
                "postings": postings,
            },
            at=at or f"{on}T10:00:00+08:00",
        )

    def grant(
        self, fund: str, fen: int, *, entry: str, source: str, on: str = "2026-03-01", street_town: str = TOWN
    ) -> Event:
        postings = [
            acc.posting(acc.fund_account(fund), fen),
            acc.posting(acc.grant_income(self.restricted(fund), source), -fen),
        ]
        return self.record(
            f"fund:{fund}",
            "Fund.GrantReceived",
            {
                "entry": entry,
                "amount": fen,
                "source": source,
                "payer": "长宁区民政局",
                "document_ref": None,
                "received_on": on,
                "street_town": street_town,
                "postings": postings,
            },
            at=f"{on}T10:00:00+08:00",
        )

    def allocation(self, source: str, target: str, fen: int, *, entry: str, on: str = "2026-03-02") -> list[Event]:
        in_legs = [acc.posting(acc.fund_account(target), fen), acc.posting(acc.INTERFUND, -fen)]
        if self.restricted(target):
            in_legs += acc.negated(acc.release_legs(fen))
        return [
            self.record(
                f"fund:{source}",
                "Fund.AllocatedOut",
                {
                    "entry": entry,
                    "amount": fen,
                    "to_fund": target,
                    "reason": "调剂",
                    "on": on,
                    "postings": [acc.posting(acc.fund_account(source), -fen), acc.posting(acc.INTERFUND, fen)],
                },
            ),
            self.record(
                f"fund:{target}",
                "Fund.AllocatedIn",
                {"entry": entry, "amount": fen, "from_fund": source, "reason": "调剂", "on": on, "postings": in_legs},
            ),
        ]

    def release(self, source: str, target: str, fen: int, *, entry: str, on: str = "2026-03-03") -> list[Event]:
        return [
            self.record(
                f"fund:{source}",
                "Fund.RestrictionReleased",
                {
                    "entry": entry,
                    "amount": fen,
                    "to_fund": target,
                    "basis": "协议期满",
                    "on": on,
                    "postings": [
                        acc.posting(acc.fund_account(source), -fen),
                        acc.posting(acc.INTERFUND, fen),
                        *acc.release_legs(fen),
                    ],
                },
            ),
            self.record(
                f"fund:{target}",
                "Fund.AllocatedIn",
                {
                    "entry": entry,
                    "amount": fen,
                    "from_fund": source,
                    "reason": "协议期满",
                    "on": on,
                    "postings": [acc.posting(acc.fund_account(target), fen), acc.posting(acc.INTERFUND, -fen)],
                },
            ),
        ]

    def fund_paid(
        self,
        fund: str,
        fen: int,
        *,
        entry: str,
        kind: str = "project",
        target: str = "P1",
        domain: str | None = "elderly_care",
        street_town: str | None = TOWN,
        on: str = "2026-03-10",
    ) -> Event:
        legs = [acc.posting(acc.fund_account(fund), -fen), acc.posting(acc.expense_account(kind, target), fen)]
        if self.restricted(fund):
            legs += acc.release_legs(fen)
        return self.record(
            f"fund:{fund}",
            "Fund.Paid",
            {
                "entry": entry,
                "amount": fen,
                "kind": kind,
                "target": target,
                "payee": "LELING",
                "domain": domain,
                "street_town": street_town,
                "paid_on": on,
                "postings": legs,
            },
            at=f"{on}T15:00:00+08:00",
        )

    def fund_reversed(
        self,
        original: Event,
        *,
        reason: str = "录入错误",
        at: str = "2026-04-02T09:00:00+08:00",
        stream: str | None = None,
        postings: list | None = None,
    ) -> Event:
        """The reversal of ``original`` (or, for the other leg of an allocation, of ``postings``)."""
        return self.record(
            stream or original.stream,
            "Fund.Reversed",
            {
                "entry": original.payload["entry"],
                "reason": reason,
                "reverses": {"stream": original.stream, "version": original.version, "type": original.type},
                "postings": acc.negated(postings if postings is not None else original.payload["postings"]),
            },
            at=at,
        )

    def organisation(
        self,
        code: str,
        kind: str = "social_organisation",
        *,
        street_town: str = TOWN,
        community: str | None = "虹古居委",
    ) -> Event:
        return self.record(
            f"organisation:{code}",
            "Organisation.Registered",
            {
                "code": code,
                "name": f"{code} 社",
                "kind": kind,
                "street_town": street_town,
                "community": community,
                "credit_code": None,
                "registered_on": "2021-05-01",
            },
        )

    def project(self, code: str, budget: int, milestones: list[tuple[str, int]] = ()) -> Event:
        return self.record(
            f"project:{code}",
            "Project.Registered",
            {
                "code": code,
                "name": f"项目 {code}",
                "street_town": TOWN,
                "community": None,
                "domain": "elderly_care",
                "organisation": "LELING",
                "budget": budget,
                "funding_source": "fund",
                "approval_ref": "长民〔2026〕7号",
                "starts_on": "2026-01-01",
                "ends_on": "2026-12-31",
                "milestones": [{"name": n, "amount": a} for n, a in milestones],
            },
        )

    def requested(
        self,
        number: str,
        fund: str,
        fen: int,
        *,
        project: str | None = "P1",
        milestone: str | None = None,
        kind: str = "project",
    ) -> Event:
        return self.record(
            f"disbursement:{number}",
            "Disbursement.Requested",
            {
                "number": number,
                "fund": fund,
                "kind": kind,
                "project": project,
                "payee": "LELING",
                "amount": fen,
                "milestone": milestone,
                "domain": "elderly_care",
                "street_town": TOWN,
                "purpose": "助老服务",
                "requested_by": "acct",
                "requested_on": "2026-03-05",
            },
        )

    def approved(self, number: str) -> Event:
        return self.record(
            f"disbursement:{number}",
            "Disbursement.Approved",
            {"approved_by": "appr", "approval_ref": "长基批〔2026〕12号", "approved_on": "2026-03-06"},
        )

    def paid(self, number: str, fund: str, fen: int, *, project: str = "P1", milestone: str | None = None) -> Event:
        """A payment as the ledger writes it: disbursement, fund and project in one go."""
        self.record(f"disbursement:{number}", "Disbursement.Paid", {"paid_by": "acct", "paid_on": "2026-03-10"})
        money = self.fund_paid(fund, fen, entry=number, target=project)
        self.record(
            f"project:{project}",
            "Project.PaymentRecorded",
            {"disbursement": number, "amount": fen, "milestone": milestone, "payee": "LELING"},
        )
        return money

    def payment_reversed(self, number: str, money: Event, *, project: str = "P1") -> Event:
        self.record(
            f"disbursement:{number}", "Disbursement.Reversed", {"reason": "承接方退回"}, at="2026-04-02T09:00:00+08:00"
        )
        reversal = self.fund_reversed(money, reason="承接方退回")
        self.record(
            f"project:{project}",
            "Project.PaymentReversed",
            {"disbursement": number, "amount": money.payload["amount"], "reason": "承接方退回"},
            at="2026-04-02T09:00:00+08:00",
        )
        return reversal

    def volunteer(self, number: str) -> Event:
        return self.record(
            f"volunteer:{number}",
            "Volunteer.Registered",
            {
                "number": number,
                "name": "李四",
                "street_town": TOWN,
                "registered_on": "2026-01-05",
                "name_public": False,
            },
        )

    def session(
        self,
        volunteer: str,
        record: str,
        *,
        on: str,
        start: str,
        end: str,
        minutes: int,
        organisation: str = "LELING",
        domain: str = "elderly_care",
        street_town: str = TOWN,
    ) -> Event:
        return self.record(
            f"volunteer:{volunteer}",
            "Volunteer.ServiceRecorded",
            {
                "record": record,
                "organisation": organisation,
                "street_town": street_town,
                "domain": domain,
                "date": on,
                "start": start,
                "end": end,
                "minutes": minutes,
                "content": "陪伴独居老人",
            },
            at=f"{on}T20:00:00+08:00",
        )

    def session_reversed(self, original: Event, *, at: str = "2026-04-02T09:00:00+08:00") -> Event:
        return self.record(
            original.stream,
            "Volunteer.ServiceReversed",
            {
                "record": original.payload["record"],
                "reason": "时段录错",
                "reverses": {"stream": original.stream, "version": original.version, "type": original.type},
            },
            at=at,
        )


@pytest.fixture
def book() -> Book:
    b = Book()
    b.organisation("LELING")
    return b


# --- funds ---------------------------------------------------------------------------------------


def test_a_fund_opens_with_its_restriction_and_nothing_in_it(book):
    book.open_fund("SF-x", restricted=True, valid_until="2026-12-31")
    row = book.row(funds.FUNDS, "SF-x")
    assert row["restricted"] == 1 and row["kind"] == "special" and row["closed"] == 0
    assert row["domains"] == '["elderly_care"]' and row["street_towns"] == f'["{TOWN}"]'
    assert row["valid_until"] == "2026-12-31" and row["agreement_ref"] == "协议-2026-01"
    assert (row["balance"], row["income"], row["spent"]) == (0, 0, 0)


def test_fund_balance_income_and_usage(book):
    book.open_fund("SF-x", restricted=True)
    # a donation of ¥50 from a resident into SF-x on 2026-03-01
    book.donation("SF-x", 5_000, entry="d1")
    # a welfare-lottery grant of ¥200 into SF-x on 2026-03-02
    book.grant("SF-x", 20_000, entry="g1", source="welfare_lottery", on="2026-03-02")
    # ¥30 paid from SF-x to project P1 (elderly care) on 2026-03-10, and ¥12 more on the same day
    book.fund_paid("SF-x", 3_000, entry="n1")
    book.fund_paid("SF-x", 1_200, entry="n2")
    row = book.row(funds.FUNDS, "SF-x")
    assert row["balance"] == 5_000 + 20_000 - 3_000 - 1_200
    assert (row["income"], row["donations"], row["grants"], row["spent"]) == (25_000, 5_000, 20_000, 4_200)
    assert book.rows(funds.USAGE) == [
        {"fund": "SF-x", "kind": "project", "target": "P1", "domain": "elderly_care", "amount": 4_200, "payments": 2}
    ]
    entry = book.row(funds.ENTRIES, "SF-x", "n1")
    assert (entry["type"], entry["category"], entry["amount"], entry["day"], entry["reversed"]) == (
        "Fund.Paid",
        "spent:project",
        3_000,
        "2026-03-10",
        None,
    )


def test_overheads_count_under_their_kind_with_no_domain(book):
    book.open_fund("GEN")
    book.donation("GEN", 10_000, entry="d1")
    # management costs of ¥8, paid from GEN for no street-town
    book.fund_paid("GEN", 800, entry="m1", kind="management", target="GEN", domain=None, street_town=None)
    assert book.rows(funds.USAGE) == [
        {"fund": "GEN", "kind": "management", "target": "GEN", "domain": "", "amount": 800, "payments": 1}
    ]
    assert book.row(funds.FUNDS, "GEN")["spent"] == 800


def test_allocation_and_release_move_balances_between_funds(book):
    book.open_fund("GEN")
    book.open_fund("SF-x", restricted=True)
    book.donation("GEN", 10_000, entry="d1")
    book.donation("SF-x", 6_000, entry="d2")
    # ¥40 allocated from GEN into SF-x, then ¥15 of SF-x's restriction released into GEN
    book.allocation("GEN", "SF-x", 4_000, entry="a1")
    book.release("SF-x", "GEN", 1_500, entry="r1")
    gen, sf = book.row(funds.FUNDS, "GEN"), book.row(funds.FUNDS, "SF-x")
    assert (gen["balance"], gen["allocated_out"], gen["allocated_in"]) == (10_000 - 4_000 + 1_500, 4_000, 1_500)
    assert (sf["balance"], sf["allocated_in"], sf["released_out"]) == (6_000 + 4_000 - 1_500, 4_000, 1_500)
    assert gen["income"] == 10_000 and sf["income"] == 6_000  # moving money between funds is no income
    assert book.row(funds.ENTRIES, "SF-x", "r1")["category"] == "release:out"
    assert book.row(funds.ENTRIES, "GEN", "r1")["category"] == "allocation:in"


def test_reversed_donation_and_payment_are_uncounted(book):
    book.open_fund("GEN")
    gift = book.donation("GEN", 5_000, entry="d1")
    book.donation("GEN", 7_000, entry="d2")
    pay = book.fund_paid("GEN", 2_000, entry="n1")
    book.fund_reversed(gift, reason="金额录错")
    book.fund_reversed(pay, reason="承接方退回")
    row = book.row(funds.FUNDS, "GEN")
    assert (row["balance"], row["income"], row["donations"], row["spent"]) == (7_000, 7_000, 7_000, 0)
    assert row["reversed"] == 5_000 + 2_000
    assert book.rows(funds.USAGE)[0] == {
        "fund": "GEN",
        "kind": "project",
        "target": "P1",
        "domain": "elderly_care",
        "amount": 0,
        "payments": 0,
    }
    assert book.row(funds.ENTRIES, "GEN", "d1")["reversed"] == "2026-04-02"
    assert book.row(funds.ENTRIES, "GEN", "d2")["reversed"] is None


def test_reversed_allocation_restores_both_funds(book):
    book.open_fund("GEN")
    book.open_fund("SF-x", restricted=True)
    book.donation("GEN", 10_000, entry="d1")
    out, into = book.allocation("GEN", "SF-x", 4_000, entry="a1")
    # the correction reverses both legs of the same entry, each on its own fund
    book.fund_reversed(out, reason="调错基金")
    book.fund_reversed(out, reason="调错基金", stream=into.stream, postings=into.payload["postings"])
    gen, sf = book.row(funds.FUNDS, "GEN"), book.row(funds.FUNDS, "SF-x")
    assert (gen["balance"], gen["allocated_out"], gen["reversed"]) == (10_000, 0, 4_000)
    assert (sf["balance"], sf["allocated_in"], sf["reversed"]) == (0, 0, 4_000)


def test_a_closed_fund_is_marked(book):
    book.open_fund("GEN")
    book.record("fund:GEN", "Fund.Closed", {"reason": "协议期满"})
    assert book.row(funds.FUNDS, "GEN")["closed"] == 1


def test_balance_on_any_date_is_a_sum_of_daily_movements(book):
    book.open_fund("GEN")
    book.donation("GEN", 5_000, entry="d1", on="2026-03-01")
    late = book.donation("GEN", 3_000, entry="d2", on="2026-03-05")
    book.fund_paid("GEN", 2_000, entry="n1", on="2026-03-10")
    # A gift received on 2026-02-20 but entered on 2026-03-12 counts on the day it was received.
    book.donation("GEN", 1_000, entry="d3", on="2026-02-20", at="2026-03-12T10:00:00+08:00")
    # The 03-05 gift is reversed at 01:30 Shanghai time on 04-01 (still 03-31 in UTC): it counts on 04-01.
    book.fund_reversed(late, at="2026-03-31T17:30:00+00:00")

    def balance_on(day: str) -> int:
        return sum(r["delta"] for r in book.rows(funds.DAILY) if r["fund"] == "GEN" and r["day"] <= day)

    assert balance_on("2026-02-19") == 0
    assert balance_on("2026-02-28") == 1_000
    assert balance_on("2026-03-04") == 6_000
    assert balance_on("2026-03-09") == 9_000
    assert balance_on("2026-03-31") == 7_000  # figures published for March stay as they were
    assert balance_on("2026-04-01") == 4_000 == book.row(funds.FUNDS, "GEN")["balance"]
    assert book.row(funds.DAILY, "GEN", "2026-04-01") == {"fund": "GEN", "day": "2026-04-01", "delta": -3_000}


# --- street-towns --------------------------------------------------------------------------------


def test_town_income_by_source_and_spending_by_kind(book):
    book.open_fund("GEN")
    book.open_fund("DIST", street_town=None)
    book.donation("GEN", 5_000, entry="d1", donor_name="张三")
    book.donation("GEN", 2_000, entry="d2", donor_type="business", donor_name="长宁超市")
    book.grant("GEN", 20_000, entry="g1", source="welfare_lottery")
    # a district-wide fund's gift named for Hongqiao counts in Hongqiao
    book.donation("DIST", 9_000, entry="d3", street_town=OTHER_TOWN)
    book.fund_paid("GEN", 3_000, entry="n1")
    book.fund_paid("GEN", 1_000, entry="n2", kind="allowance", target=TOWN)
    book.fund_paid("GEN", 500, entry="n3", kind="management", target="GEN", domain=None, street_town=None)
    income = {(r["street_town"], r["source"]): (r["amount"], r["count"]) for r in book.rows(streettowns.INCOME)}
    assert income == {
        (TOWN, "donation:resident"): (5_000, 1),
        (TOWN, "donation:business"): (2_000, 1),
        (TOWN, "grant:welfare_lottery"): (20_000, 1),
        (OTHER_TOWN, "donation:resident"): (9_000, 1),
    }
    spending = {(r["street_town"], r["kind"]): (r["amount"], r["count"]) for r in book.rows(streettowns.SPENDING)}
    assert spending == {
        (TOWN, "project"): (3_000, 1),
        (TOWN, "allowance"): (1_000, 1),
        (streettowns.DISTRICT, "management"): (500, 1),
    }
    assert book.row(streettowns.FLOWS, TOWN, "2026-03-10", "spent:project") == {
        "street_town": TOWN,
        "day": "2026-03-10",
        "category": "spent:project",
        "amount": 3_000,
        "count": 1,
    }


def test_a_reversed_gift_uncounts_its_donor_on_the_day_of_the_correction(book):
    book.open_fund("GEN")
    first = book.donation("GEN", 5_000, entry="d1", donor_name="张三")
    book.donation("GEN", 1_000, entry="d2", donor_name="张三", on="2026-03-02")
    anonymous = book.donation("GEN", 700, entry="d3")
    book.donation("GEN", 300, entry="d4")
    book.fund_reversed(first, reason="金额录错")
    book.fund_reversed(anonymous, reason="重复录入")
    donors = {r["donor"]: r["gifts"] for r in book.rows(streettowns.DONORS)}
    zhang = streettowns.donor_key({"donor_name": "张三", "donor_type": "resident"}, "d1")
    assert donors == {zhang: 1, "anonymous:d3": 0, "anonymous:d4": 1}
    assert not any("张三" in key for key in donors)  # the views name nobody
    assert sum(1 for gifts in donors.values() if gifts > 0) == 2
    assert book.row(streettowns.INCOME, TOWN, "donation:resident") == {
        "street_town": TOWN,
        "source": "donation:resident",
        "amount": 1_000 + 300,
        "count": 2,
    }
    # 2026-03-01 keeps its published figure; the correction shows on 2026-04-02
    assert book.row(streettowns.FLOWS, TOWN, "2026-03-01", "donation:resident")["amount"] == 5_000 + 700 + 300
    assert book.row(streettowns.FLOWS, TOWN, "2026-04-02", "donation:resident") == {
        "street_town": TOWN,
        "day": "2026-04-02",
        "category": "donation:resident",
        "amount": -5_700,
        "count": -2,
    }


def test_a_reversed_payment_is_uncounted_from_spending(book):
    book.open_fund("GEN")
    book.donation("GEN", 5_000, entry="d1")
    pay = book.fund_paid("GEN", 800, entry="m1", kind="management", target="GEN", domain=None, street_town=None)
    book.fund_reversed(pay)
    assert book.row(streettowns.SPENDING, streettowns.DISTRICT, "management")["amount"] == 0
    assert book.row(streettowns.SPENDING, streettowns.DISTRICT, "management")["count"] == 0


def test_allocations_are_neither_town_income_nor_spending(book):
    book.open_fund("GEN")
    book.open_fund("GEN2")
    book.donation("GEN", 5_000, entry="d1")
    out, _ = book.allocation("GEN", "GEN2", 2_000, entry="a1")
    book.fund_reversed(out)
    assert sum(r["amount"] for r in book.rows(streettowns.INCOME)) == 5_000
    assert book.rows(streettowns.SPENDING) == []


def test_organisations_per_community(book):
    book.organisation("YANG", community="虹古居委")
    book.organisation("XIAO", community="茅台居委")
    book.organisation("WUJU", community=None)
    book.organisation("STATION", kind="social_work_station")
    book.organisation("CNCF", kind="foundation", street_town="xinhualu", community=None)
    communities = {(r["street_town"], r["community"]): r["organisations"] for r in book.rows(streettowns.COMMUNITIES)}
    assert communities == {(TOWN, "虹古居委"): 2, (TOWN, "茅台居委"): 1, (TOWN, ""): 1}
    assert book.row(streettowns.ORGANISATIONS, "CNCF") == {
        "code": "CNCF",
        "name": "CNCF 社",
        "kind": "foundation",
        "street_town": "xinhualu",
        "community": None,
        "registered_on": "2021-05-01",
    }
    assert len(book.rows(streettowns.ORGANISATIONS)) == 6


def test_town_hours_by_domain(book):
    book.volunteer("V001")
    book.session("V001", "s1", on="2026-03-01", start="09:00", end="11:00", minutes=120)
    wrong = book.session("V001", "s2", on="2026-03-01", start="14:00", end="15:30", minutes=90)
    book.session("V001", "s3", on="2026-03-02", start="09:00", end="10:00", minutes=60, domain="child_welfare")
    book.session_reversed(wrong)
    town_hours = {(r["street_town"], r["domain"]): (r["minutes"], r["sessions"]) for r in book.rows(streettowns.HOURS)}
    assert town_hours == {(TOWN, "elderly_care"): (120, 1), (TOWN, "child_welfare"): (60, 1)}


# --- projects ------------------------------------------------------------------------------------


def test_project_requested_approved_paid(book):
    book.open_fund("GEN")
    book.donation("GEN", 100_000, entry="d1")
    book.project("P1", 60_000, milestones=[("首期", 25_000), ("尾期", 35_000)])
    assert book.rows(projects.MILESTONES) == [
        {"project": "P1", "milestone": "尾期", "planned": 35_000, "paid": 0},
        {"project": "P1", "milestone": "首期", "planned": 25_000, "paid": 0},
    ]
    book.requested("N1", "GEN", 25_000, milestone="首期")
    row = book.row(projects.PROJECTS, "P1")
    assert (row["requested"], row["approved"], row["paid"], row["budget"]) == (25_000, 0, 0, 60_000)
    book.approved("N1")
    row = book.row(projects.PROJECTS, "P1")
    assert (row["requested"], row["approved"], row["paid"]) == (0, 25_000, 0)
    number = book.row(projects.DISBURSEMENTS, "N1")
    assert (number["status"], number["approval_ref"], number["approved_on"]) == (
        "approved",
        "长基批〔2026〕12号",
        "2026-03-06",
    )
    book.paid("N1", "GEN", 25_000, milestone="首期")
    row = book.row(projects.PROJECTS, "P1")
    assert (row["requested"], row["approved"], row["paid"], row["payments"]) == (0, 25_000, 25_000, 1)
    assert book.row(projects.MILESTONES, "P1", "首期")["paid"] == 25_000
    assert book.row(projects.DISBURSEMENTS, "N1")["status"] == "paid"
    assert book.row(projects.DISBURSEMENTS, "N1")["paid_on"] == "2026-03-10"


def test_a_rejected_request_is_no_longer_requested(book):
    book.project("P1", 60_000)
    book.requested("N1", "GEN", 10_000)
    book.requested("N2", "GEN", 4_000)
    book.record("disbursement:N1", "Disbursement.Rejected", {"rejected_by": "appr", "reason": "材料不全"})
    row = book.row(projects.PROJECTS, "P1")
    assert (row["requested"], row["approved"]) == (4_000, 0)
    assert book.row(projects.DISBURSEMENTS, "N1")["status"] == "rejected"


def test_a_reversed_payment_is_unpaid_and_unapproved(book):
    book.open_fund("GEN")
    book.donation("GEN", 100_000, entry="d1")
    book.project("P1", 60_000, milestones=[("首期", 25_000)])
    book.requested("N1", "GEN", 25_000, milestone="首期")
    book.approved("N1")
    money = book.paid("N1", "GEN", 25_000, milestone="首期")
    book.payment_reversed("N1", money)
    row = book.row(projects.PROJECTS, "P1")
    assert (row["requested"], row["approved"], row["paid"], row["payments"]) == (0, 0, 0, 0)
    assert book.row(projects.MILESTONES, "P1", "首期") == {
        "project": "P1",
        "milestone": "首期",
        "planned": 25_000,
        "paid": 0,
    }
    number = book.row(projects.DISBURSEMENTS, "N1")
    assert (number["status"], number["reversed_on"]) == ("reversed", "2026-04-02")
    assert book.row(funds.FUNDS, "GEN")["balance"] == 100_000


def test_disbursements_without_a_project_touch_no_project(book):
    book.project("P1", 60_000)
    book.requested("N1", "GEN", 1_000, project=None, kind="allowance")
    book.approved("N1")
    assert book.row(projects.DISBURSEMENTS, "N1")["status"] == "approved"
    row = book.row(projects.PROJECTS, "P1")
    assert (row["requested"], row["approved"]) == (0, 0)


def test_weighted_satisfaction(book):
    book.project("P1", 60_000)
    # 90% of 10 residents, then 60% of 30 residents: 67.5% of all 40 asked
    for score, respondents in ((90, 10), (60, 30)):
        book.record(
            "project:P1",
            "Project.Evaluated",
            {"score": score, "respondents": respondents, "surveyed_on": "2026-06-30", "method": "questionnaire"},
        )
    row = book.row(projects.PROJECTS, "P1")
    assert (row["evaluations"], row["respondents"], row["satisfied"]) == (2, 40, 2_700)
    assert row["satisfied"] / row["respondents"] == 67.5


# --- hours ---------------------------------------------------------------------------------------


def test_hours_by_volunteer_organisation_and_day(book):
    book.volunteer("V001")
    book.volunteer("V002")
    book.session("V001", "s1", on="2026-03-01", start="09:00", end="11:00", minutes=120)
    book.session("V001", "s2", on="2026-03-02", start="13:00", end="24:00", minutes=660, organisation="YANG")
    book.session("V002", "s3", on="2026-03-01", start="10:00", end="10:45", minutes=45)
    assert book.row(hours.VOLUNTEERS, "V001")["minutes"] == 780
    assert book.row(hours.VOLUNTEERS, "V001")["sessions"] == 2
    assert book.row(hours.VOLUNTEERS, "V002")["name_public"] == 0
    by_org = {r["organisation"]: (r["minutes"], r["sessions"]) for r in book.rows(hours.BY_ORGANISATION)}
    assert by_org == {"LELING": (165, 2), "YANG": (660, 1)}
    daily = {r["day"]: (r["minutes"], r["sessions"]) for r in book.rows(hours.DAILY)}
    assert daily == {"2026-03-01": (165, 2), "2026-03-02": (660, 1)}


def test_a_reversed_session_is_uncounted_on_the_day_of_the_correction(book):
    book.volunteer("V001")
    book.session("V001", "s1", on="2026-03-01", start="09:00", end="11:00", minutes=120)
    wrong = book.session("V001", "s2", on="2026-03-01", start="14:00", end="15:00", minutes=60)
    book.session_reversed(wrong)
    assert (book.row(hours.VOLUNTEERS, "V001")["minutes"], book.row(hours.VOLUNTEERS, "V001")["sessions"]) == (120, 1)
    # like money, the published day keeps its figure and the correction counts on its own day
    assert book.row(hours.DAILY, TOWN, "2026-03-01", "elderly_care")["minutes"] == 180
    assert book.row(hours.DAILY, TOWN, "2026-04-02", "elderly_care")["minutes"] == -60
    assert book.row(hours.BY_ORGANISATION, "LELING", "elderly_care")["sessions"] == 1
    assert book.row(hours.SESSIONS, "V001", "s2")["reversed"] == "2026-04-02"
    assert book.row(hours.SESSIONS, "V001", "s1")["reversed"] is None


# --- corrections ---------------------------------------------------------------------------------


def test_every_reversal_is_in_the_corrections_log(book):
    book.open_fund("GEN")
    gift = book.donation("GEN", 5_000, entry="d1")
    book.volunteer("V001")
    session = book.session("V001", "s1", on="2026-03-01", start="09:00", end="11:00", minutes=120)
    money = book.fund_reversed(gift, reason="金额录错")
    time_ = book.session_reversed(session)
    assert book.rows(corrections.CORRECTIONS) == [
        {
            "position": money.position,
            "stream": "fund:GEN",
            "type": "Fund.Reversed",
            "reverses_stream": "fund:GEN",
            "reverses_version": gift.version,
            "reverses_type": "Fund.DonationReceived",
            "reason": "金额录错",
            "day": "2026-04-02",
            "amount": 5_000,
            "minutes": None,
            "corrected": "d1",
            "street_town": TOWN,
            "fund": "GEN",
            "organisation": None,
        },
        {
            "position": time_.position,
            "stream": "volunteer:V001",
            "type": "Volunteer.ServiceReversed",
            "reverses_stream": "volunteer:V001",
            "reverses_version": session.version,
            "reverses_type": "Volunteer.ServiceRecorded",
            "reason": "时段录错",
            "day": "2026-04-02",
            "amount": None,
            "minutes": 120,
            "corrected": "s1",
            "street_town": TOWN,
            "fund": None,
            "organisation": "LELING",
        },
    ]


def test_events_no_view_counts_change_nothing(book):
    before = copy.deepcopy(book.store.rows)
    book.record("directory", "Directory.KeyAdded", {"principal": "acct", "key": "k"})
    book.record("directory", "Directory.KeyRevoked", {"key_id": "k", "reason": "丢失"})
    assert book.store.rows == before


def test_folding_the_same_log_twice_gives_the_same_views(book):
    book.open_fund("GEN")
    book.open_fund("SF-x", restricted=True)
    book.donation("GEN", 10_000, entry="d1", donor_name="张三")
    twice = book.donation("GEN", 500, entry="d2", donor_name="张三")
    book.allocation("GEN", "SF-x", 3_000, entry="a1")
    book.fund_paid("SF-x", 1_000, entry="n1")
    book.fund_reversed(twice, reason="重复录入")
    again = MemoryStore(runner.TABLES)
    for event in book.events:
        again.apply(runner.changes_for(event, again.read))
    assert again.rows == book.store.rows
