"""Random valid command sequences against a real ledger, with the projection runner run at random
points: the incremental views equal a rebuild and an in-memory fold of the verified log, agree with
the aggregates, and the postings of the whole log balance; and every report for random periods,
summed from the rollups, equals the same figures summed from the pure fold."""

from __future__ import annotations

import tempfile
import uuid
from datetime import date, time, timedelta
from pathlib import Path

import psycopg
import pytest
from agreements import agreement
from conftest import POSTGRES_URL, REQUIRE_POSTGRES, found_ledger, postgres_problem
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from replayed import balanced_books, folded, verified_log, views

from ledger.errors import LedgerError, TamperedEvent
from ledger.funds import DONOR_TYPES, GRANT_SOURCES
from ledger.statements import Period, ledger_books, line_value, statements
from projections.report import transparency_report
from projections.runner import Projections

TOWN = "xianxiaxincun"
TOWNS = (None, TOWN, "hongqiao")
START = date(2026, 3, 1)

# --- what happens --------------------------------------------------------------------------------

fund_specs = st.lists(st.tuples(st.booleans(), st.booleans()), max_size=2).map(
    lambda more: [(False, False), (True, False), *more]
)
"""(restricted, district-wide) of each fund opened: one unrestricted, one special fund, and up to two more."""
fund = st.integers(0, 3)
fen = st.one_of(st.integers(1, 30_000), st.sampled_from([1, 10_000, 40_000]))
small = st.one_of(st.integers(1, 6_000), st.sampled_from([1, 20_000]))
day = st.integers(0, 200)
pick = st.integers(0, 10_000)

ARGUMENTS = {
    "donate": st.tuples(
        fund, fen, st.sampled_from(DONOR_TYPES), st.sampled_from([None, "张三", "李四"]), st.sampled_from(TOWNS), day
    ),
    "grant": st.tuples(fund, fen, st.sampled_from(GRANT_SOURCES), st.sampled_from(TOWNS), day),
    "allocate": st.tuples(fund, fund, small),
    "release": st.tuples(fund, fund, small),
    "request": st.tuples(
        fund,
        st.sampled_from(["project", "project", "allowance", "management", "fundraising"]),
        st.sampled_from(["P1", "P2"]),
        small,
        st.sampled_from([None, "首期", "尾期"]),
        st.sampled_from(["requested", "approved", "paid", "paid"]),
    ),
    "approve": st.tuples(pick),
    "reject": st.tuples(pick),
    "pay": st.tuples(pick),
    "reverse": st.tuples(pick),
    "hours": st.tuples(st.sampled_from(["V1", "V2"]), st.integers(0, 3), st.integers(0, 22), st.integers(1, 3)),
    "evaluate": st.tuples(st.sampled_from(["P1", "P2"]), st.integers(0, 100), st.integers(1, 50)),
    "close": st.tuples(fund),
    "run": st.tuples(st.one_of(st.none(), st.integers(1, 12))),
}
WEIGHTS = {
    "donate": 10,
    "grant": 4,
    "allocate": 4,
    "release": 3,
    "request": 12,
    "approve": 2,
    "reject": 1,
    "pay": 2,
    "reverse": 8,
    "hours": 5,
    "evaluate": 2,
    "close": 1,
    "run": 6,
}
command = st.sampled_from([k for k, w in WEIGHTS.items() for _ in range(w)]).flatmap(
    lambda kind: ARGUMENTS[kind].map(lambda args: (kind, *args))
)
commands = st.lists(command, min_size=30, max_size=80)
reports = st.lists(st.tuples(st.sampled_from(TOWNS), st.integers(-1_900, 320), st.integers(0, 800)), min_size=1,
                   max_size=5)
"""Periods to report: (street-town or the district, first day after START, length in days)."""


class Scenario:
    """Plays drawn commands on a ledger; refusals (LedgerError) are part of the game."""

    def __init__(self, c, specs) -> None:
        self.c = c
        self.led = c.ledger
        self.funds: list[str] = []
        self.restricted: list[str] = []
        self.unrestricted: list[str] = []
        self.disbursements: list[str] = []
        self.reversible: list[tuple[int, str]] = []
        """(position, type) of every money or hours event written, reversible or not."""
        self.refused = 0
        self.interfund = 0
        self.projections = Projections(self.led, batch=5)
        for i, (restricted, district_wide) in enumerate(specs):
            code = f"F{i}"
            spec = (
                {
                    "kind": "special",
                    "restricted": True,
                    "purpose": "仙霞新村养老服务专项",
                    "domains": ["elderly_care"],
                    "street_towns": [TOWN],
                    "agreement": agreement(),
                }
                if restricted
                else {}
            )
            self.led.open_fund(
                c.accountant, code, f"{code} 基金", "CNCF", street_town=None if district_wide else TOWN, **spec
            )
            self.funds.append(code)
            (self.restricted if restricted else self.unrestricted).append(code)
        for code in self.funds[:2]:  # the two first funds start with money in them; the others empty
            self.written(
                self.led.record_donation(c.accountant, code, 50_000, donor_type="foundation", received_on=START)
            )
        for code, domain, budget, milestones in (
            ("P1", "elderly_care", 60_000, [("首期", 20_000), ("尾期", 40_000)]),
            ("P2", "community_governance", 30_000, None),
        ):
            self.led.register_project(
                c.accountant,
                code,
                f"项目 {code}",
                street_town=TOWN,
                domain=domain,
                organisation="LELING",
                budget=budget,
                funding_source="fund",
                approval_ref="长民〔2026〕7号",
                reach=500, starts_on=date(2026, 1, 1),
                ends_on=date(2026, 12, 31),
                milestones=milestones,
            )
        for number in ("V1", "V2"):
            self.led.register_volunteer(c.recorder, number, "李四", TOWN, registered_on=date(2026, 1, 5))

    def fund(self, i: int) -> str:
        return self.funds[i % len(self.funds)]

    def written(self, recorded, *, reversal: bool = False) -> None:
        for position in recorded.positions:
            stored, event = self.led.read_position(position)
            self.interfund += sum(
                p["amount"] for p in getattr(event, "postings", None) or [] if p["account"] == "Equity:Interfund"
            )
            if not reversal:
                self.reversible.append((position, stored.topic))
        assert self.interfund == 0, "Equity:Interfund nets to zero after every command"

    def play(self, command: tuple) -> None:
        try:
            self._play(*command)
        except TamperedEvent:
            raise
        except LedgerError:
            self.refused += 1

    def _play(self, kind: str, *a) -> None:
        c, led = self.c, self.led
        if kind == "donate":
            i, amount, donor_type, name, town, offset = a
            self.written(
                led.record_donation(
                    c.accountant,
                    self.fund(i),
                    amount,
                    donor_type=donor_type,
                    donor_name=name,
                    donor_public=name is not None,
                    street_town=town,
                    received_on=START + timedelta(days=offset),
                )
            )
        elif kind == "grant":
            i, amount, source, town, offset = a
            self.written(
                led.record_grant(
                    c.accountant,
                    self.fund(i),
                    amount,
                    source=source,
                    payer="长宁区民政局",
                    street_town=town,
                    received_on=START + timedelta(days=offset),
                )
            )
        elif kind == "allocate":
            i, j, amount = a  # mostly out of an unrestricted fund; now and then out of any
            source = self.fund(i) if j == 3 else self.unrestricted[i % len(self.unrestricted)]
            others = [f for f in self.funds if f != source]
            target = source if i == j == 0 else others[j % len(others)]
            self.written(led.allocate(c.accountant, source, target, amount, reason="调剂"))
        elif kind == "release":
            i, j, amount = a  # mostly from a restricted fund into an unrestricted one
            source, target = self.restricted[i % len(self.restricted)], self.unrestricted[j % len(self.unrestricted)]
            if i == 3:
                source, target = self.fund(i), self.fund(j)
            self.written(led.release_restriction(c.accountant, source, target, amount, basis="协议期满"))
        elif kind == "request":
            i, what, project, amount, milestone, how_far = a
            spec: dict = {"kind": what, "purpose": "助老服务"}
            if what == "project":
                spec.update(project=project, milestone=milestone)
            elif what == "allowance":
                spec.update(payee="王社工", domain="elderly_care", street_town=TOWN)
            else:
                spec.update(payee="长宁区社区基金会")
            number = led.request_disbursement(c.accountant, self.fund(i), amount, **spec).ident
            self.disbursements.append(number)
            if how_far != "requested":
                led.approve_disbursement(c.approver, number, approval_ref="批复-1")
            if how_far == "paid":
                self.written(led.pay_disbursement(c.accountant, number))
        elif kind in ("approve", "reject", "pay"):
            if not self.disbursements:
                return
            number = self.disbursements[a[0] % len(self.disbursements)]
            if kind == "approve":
                led.approve_disbursement(c.approver, number, approval_ref="批复-1")
            elif kind == "reject":
                led.reject_disbursement(c.approver, number, reason="材料不全")
            else:
                self.written(led.pay_disbursement(c.accountant, number))
        elif kind == "reverse":
            if not self.reversible:
                return
            position, topic = self.reversible[a[0] % len(self.reversible)]
            actor = c.recorder if topic.startswith("Volunteer.") else c.accountant
            self.written(led.reverse(actor, position, reason="更正"), reversal=True)
        elif kind == "hours":
            volunteer, offset, hour, length = a
            self.written(
                led.record_hours(
                    c.recorder,
                    volunteer,
                    organisation="LELING",
                    domain="elderly_care",
                    on=START + timedelta(days=offset),
                    start=time(hour),
                    end=time((hour + length) % 24),
                    content="陪伴独居老人",
                )
            )
        elif kind == "evaluate":
            project, score, respondents = a
            led.evaluate_project(c.accountant, project, score=score, respondents=respondents, survey_ref="问卷-1")
        elif kind == "close":
            led.close_fund(c.accountant, self.fund(a[0]), "协议期满")
        elif kind == "run":
            p = self.projections
            p.run(limit=a[0])
            assert views(p) == folded([e for e in verified_log(led) if e.position <= p.position()])
        else:
            raise AssertionError(kind)


# --- what must hold ------------------------------------------------------------------------------


def check(c, specs, steps, periods=()) -> None:
    s = Scenario(c, specs)
    for step in steps:
        s.play(step)
    p = s.projections
    p.run()
    incremental = views(p)
    log = verified_log(c.ledger)
    assert p.position() == log[-1].position and p.status().lag == 0

    assert incremental == folded(log)
    fixed = ((None, -9_999, 20_000), (TOWN, -9_999, 20_000), (None, -30, 1_000), (TOWN, 0, 200), (TOWN, 0, 1_000))
    for town, offset, length in (*periods, *fixed):  # all time, and periods past today's reversals
        first = max(START + timedelta(days=offset), date(2000, 1, 1))
        last = first + timedelta(days=length)
        assert_report_is_the_fold(p, incremental, town, first, last)
    assert p.rebuild() == len(log)
    assert views(p) == incremental

    by_account = balanced_books(log)

    fund_rows = incremental["view_funds"]
    assert set(fund_rows) == {(code,) for code in s.funds}
    for code in s.funds:
        row = fund_rows[(code,)]
        assert row["balance"] == c.ledger.fund(code).balance == by_account[f"Assets:Funds:{code}"] >= 0
        assert row["closed"] == int(c.ledger.fund(code).closed)
    restricted = sum(c.ledger.fund(code).restricted_part for code in s.funds if c.ledger.fund(code).restricted)
    assert restricted == -sum(v for k, v in by_account.items() if k.startswith("Income:Restricted"))
    tie_out(c)
    for code in ("P1", "P2"):
        row, aggregate = incremental["view_projects"][(code,)], c.ledger.project(code)
        assert (row["paid"], row["payments"]) == (aggregate.paid, len(aggregate.payments))
        assert row["paid"] == by_account.get(f"Expenses:Programs:{code}", 0) <= row["budget"]
    for number in s.disbursements:
        assert incremental["view_disbursements"][(number,)]["status"] == c.ledger.disbursement(number).status
    for number in ("V1", "V2"):
        sessions = c.ledger.volunteer(number).sessions.values()
        assert incremental["view_volunteers"][(number,)]["minutes"] == sum(e - b for _, b, e, _ in sessions)


def assert_report_is_the_fold(p, rows, town, first, last) -> None:
    """The report's figures for a period, summed from the rollups' years, months and edge days,
    equal the same figures summed from the pure fold's daily and per-gift rows."""
    report = transparency_report(p, start=first, end=last, street_town=town)
    lo, hi = first.isoformat(), last.isoformat()

    def here(row):
        return town is None or row["street_town"] == town

    flows: dict[str, list[int]] = {}
    for r in rows["view_town_daily"].values():
        if lo <= r["day"] <= hi and here(r):
            pair = flows.setdefault(r["category"], [0, 0])
            pair[0] += r["amount"]
            pair[1] += r["count"]
    for row in report["income"]["rows"]:
        assert [row["amount"], row["count"]] == flows.pop(row["category"], [0, 0]), (first, last, town, row)
    for row in report["spending"]["rows"]:
        assert [row["amount"], row["count"]] == flows.pop(f"spent:{row['kind']}", [0, 0]), (first, last, town, row)
    assert not any(v != [0, 0] for k, v in flows.items() if k.startswith(("donation:", "grant:", "spent:")))

    served: dict[str, list[int]] = {}
    for r in rows["view_hours_daily"].values():
        if lo <= r["day"] <= hi and here(r):
            pair = served.setdefault(r["domain"], [0, 0])
            pair[0] += r["minutes"]
            pair[1] += r["sessions"]
    assert {r["domain"]: [r["minutes"], r["sessions"]] for r in report["hours"]["rows"] if r["sessions"] or
            r["minutes"]} == {k: v for k, v in served.items() if v != [0, 0]}

    balances = {f: 0 for (f,), r in rows["view_funds"].items() if r["kind"] == "special" and here(r)}
    for r in rows["view_fund_daily"].values():
        if r["fund"] in balances and r["day"] <= hi:
            balances[r["fund"]] += r["delta"]
    assert {r["fund"]: r["balance"] for r in report["special_funds"]["rows"]} == balances

    organised: dict[tuple, int] = {}
    for r in rows["view_organisations"].values():
        if r["kind"] == "social_organisation" and r["registered_on"] and r["registered_on"] <= hi and here(r):
            key = (r["street_town"], r["community"] or None)
            organised[key] = organised.get(key, 0) + 1
    assert {(r["street_town"], r["community"]): r["organisations"]
            for r in report["organisations"]["rows"]} == organised

    paid: dict[str, list] = {}  # project payments: paid in the period, less reversals made in it
    for d in rows["view_disbursements"].values():
        if d["kind"] != "project" or not here(d):
            continue
        if d["paid_on"] and lo <= d["paid_on"] <= hi:
            entry = paid.setdefault(d["project"], [0, 0, 0, set()])
            entry[0] += d["amount"]
            entry[2] += 1
            if d["approval_ref"]:
                entry[3].add(d["approval_ref"])
        if d["reversed_on"] and lo <= d["reversed_on"] <= hi:
            entry = paid.setdefault(d["project"], [0, 0, 0, set()])
            entry[1] += d["amount"]
            entry[2] -= 1
    assert {r["project"]: [r["paid"], r["reversed"], r["payments"], set(r["disbursement_approval_refs"])]
            for r in report["projects"]["rows"]} == paid, (first, last, town)

    donors = set()  # the specification: every gift received in the period and not reversed by its end
    gifts = {(fund, entry): r["donor"] for (_, _, fund, entry), r in rows["view_gifts"].items()}
    for (fund, entry), gift in rows["view_fund_entries"].items():
        if (gift["type"] == "Fund.DonationReceived" and lo <= gift["day"] <= hi
                and (gift["reversed"] is None or gift["reversed"] > hi) and (town is None or gift["street_town"] == town)):
            donor = gifts[(fund, entry)]
            donors.add(f"anonymous:{entry}" if donor == "anonymous" else donor)
    assert report["donations"]["distinct_donors"] == len(donors), (first, last, town)


def tie_out(c) -> None:
    """The three statements (会民非01/02/03表) of every period tie out, the foundation's and each
    special fund's memo: net assets at the end are the year's opening plus its change, assets equal
    liabilities plus net assets, and the cash flow ends at the balance sheet's cash."""
    books = ledger_books(c.ledger)
    assert books.unmapped == []
    periods = [*(Period.of(START.year, quarter=q) for q in (1, 2, 3, 4)),
               *(Period.of(START.year, month=m) for m in (3, 6, 9)), Period.of(START.year)]
    for period in periods:
        doc = statements(books, "CNCF", period)
        for part in (doc, *doc["memos"]):
            assert part["checks"]["ok"], (period, part["scope"], part["checks"])
    money = sum(c.ledger.fund(code).balance for code in books.funds)
    assert line_value(doc["balance_sheet"], 1, "end") == money  # the last period ends after every event


_SETTINGS = {
    "deadline": None,
    "derandomize": True,
    "database": None,
    "print_blob": True,
    "suppress_health_check": [HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
}


@settings(max_examples=40, **_SETTINGS)
@given(specs=fund_specs, steps=commands, periods=reports)
def test_views_follow_random_ledgers_on_sqlite(specs, steps, periods):
    with tempfile.TemporaryDirectory() as tmp:
        c = found_ledger(f"sqlite:///{Path(tmp) / 'ledger.sqlite3'}", Path(tmp))
        try:
            check(c, specs, steps, periods)
        finally:
            c.ledger.close()


@pytest.fixture(scope="module")
def postgres_server() -> str:
    problem = postgres_problem()
    if problem is not None:
        if REQUIRE_POSTGRES:
            pytest.fail(f"WUSHE_REQUIRE_POSTGRES=1 but PostgreSQL is unavailable: {problem}")
        pytest.skip(f"PostgreSQL unavailable at {POSTGRES_URL}: {problem}")
    return POSTGRES_URL


@settings(max_examples=10, **_SETTINGS)
@given(specs=fund_specs, steps=commands, periods=reports)
def test_views_follow_random_ledgers_on_postgres(postgres_server, specs, steps, periods):
    schema = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_server, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    separator = "&" if "?" in postgres_server else "?"
    try:
        with tempfile.TemporaryDirectory() as tmp:
            c = found_ledger(f"{postgres_server}{separator}schema={schema}", Path(tmp))
            try:
                check(c, specs, steps, periods)
            finally:
                c.ledger.close()
    finally:
        with psycopg.connect(postgres_server, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
