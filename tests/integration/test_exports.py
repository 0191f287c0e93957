"""Exports on SQLite and PostgreSQL: the transparency report for a period and a street-town, its
JSON, CSV and XLSX files, and the hledger journal, cross-checked by hledger against the views."""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
import subprocess
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, time
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest
from agreements import agreement
from freezegun import freeze_time
from vocabulary import TOWN, donate, open_general, open_restricted, postings_by_account, project, register_volunteer

from ledger.errors import InvalidInput, UnknownReference
from ledger.money import to_decimal
from projections import exports, funds, hours, projects, streettowns
from projections.journal import journal
from projections.report import transparency_report
from projections.runner import Projections

REQUIRE_TOOLS = os.environ.get("WUSHE_REQUIRE_POSTGRES") == "1"
"""CI sets this: there a missing hledger fails the run instead of skipping the cross-check."""

PERSONAL = ("张三", "王五", "赵六", "钱八", "某某科技公司", "社工王某", "李四", "陈七")
"""Every donor, payee and volunteer name the scenario writes: none may leave in an export."""

Q1 = {"start": date(2031, 1, 1), "end": date(2031, 3, 31)}
Q2 = {"start": date(2031, 4, 1), "end": date(2031, 6, 30)}
YEAR = {"start": date(2031, 1, 1), "end": date(2031, 12, 31)}


@dataclass
class Scenario:
    views: Projections


def _paid(c, fund: str, fen: int, *, on: date, **kw) -> tuple[str, tuple[int, ...]]:
    kw.setdefault("purpose", "服务费")
    number = c.ledger.request_disbursement(c.accountant, fund, fen, on=on, **kw).ident
    c.ledger.approve_disbursement(c.approver, number, approval_ref=f"批复-{fen}", on=on)
    return number, c.ledger.pay_disbursement(c.accountant, number, on=on).positions


def _session(c, volunteer: str, on: date, start: time, end: time, **kw):
    kw.setdefault("domain", "elderly_care")
    return c.ledger.record_hours(c.recorder, volunteer, organisation="LELING", on=on, start=start, end=end,
                                 content="陪伴独居老人", **kw)


def mixed_history(c) -> Scenario:
    """Donations, grants, an allocation, a release, payments of every kind, hours, a donation
    reversal, a payment reversal and an hours correction, all in 2031 (recorded on 15 June)."""
    with freeze_time("2031-06-15 04:00:00", tick=True):  # noon in Shanghai
        open_general(c, "GEN")
        open_restricted(c, "SPEC")
        c.ledger.open_fund(c.accountant, "HQ-SF", "虹桥社区治理专项基金", "CNCF", kind="special", restricted=True,
                           purpose="社区治理", street_town="hongqiao", domains=["community_governance"],
                           valid_until=date(2032, 12, 31), agreement=agreement(ref="虹桥-协议-1"))
        donate(c, "GEN", 100_000, donor_name="张三", donor_public=True, received_on=date(2031, 1, 10))
        donate(c, "SPEC", 80_000, donor_name="王五", received_on=date(2031, 2, 1))
        donate(c, "SPEC", 33_333, donor_type="business", received_on=date(2031, 2, 15))  # anonymous
        donate(c, "HQ-SF", 50_000, donor_type="stationed_unit", donor_name="某某科技公司", received_on=date(2031, 3, 5))
        returned = donate(c, "SPEC", 7_777, donor_name="赵六", received_on=date(2031, 2, 3))
        donate(c, "GEN", 20_000, donor_name="张三", received_on=date(2031, 4, 20))
        donate(c, "GEN", 1_001, donor_name="钱八", received_on=date(2031, 3, 31))
        grant = c.ledger.record_grant
        grant(c.accountant, "GEN", 200_000, source="government_purchase", payer="长宁区民政局",
              received_on=date(2031, 1, 20))
        grant(c.accountant, "SPEC", 150_000, source="welfare_lottery", payer="上海市福彩中心",
              received_on=date(2031, 2, 20))
        grant(c.accountant, "HQ-SF", 60_000, source="venture_philanthropy", payer="长宁区公益创投",
              received_on=date(2031, 3, 10))
        grant(c.accountant, "GEN", 40_000, source="district_special_fund", payer="长宁区民政局",
              received_on=date(2031, 5, 1))
        c.ledger.allocate(c.accountant, "GEN", "SPEC", 30_000, reason="充实养老专项", on=date(2031, 2, 10))
        c.ledger.release_restriction(c.accountant, "SPEC", "GEN", 10_000, basis="协议第3条", on=date(2031, 2, 25))
        project(c, "P1")
        project(c, "HQP", domain="community_governance", street_town="hongqiao")
        _paid(c, "SPEC", 40_000, project="P1", on=date(2031, 3, 3))
        _, wrong_payment = _paid(c, "SPEC", 25_000, project="P1", on=date(2031, 4, 3))
        _paid(c, "HQ-SF", 15_000, project="HQP", on=date(2031, 3, 15))
        _paid(c, "GEN", 5_000, kind="allowance", payee="社工王某", domain="elderly_care", street_town=TOWN,
              on=date(2031, 3, 20))
        _paid(c, "GEN", 3_000, kind="management", payee="办公用品", on=date(2031, 3, 25))
        register_volunteer(c, "V001")  # 李四
        c.ledger.register_volunteer(c.recorder, "V002", "陈七", TOWN, registered_on=date(2031, 1, 5))
        _session(c, "V001", date(2031, 3, 1), time(9), time(11, 30))
        _session(c, "V002", date(2031, 3, 1), time(14), time(16))
        _session(c, "V002", date(2031, 3, 2), time(9), time(9, 45), domain="community_governance",
                 street_town="hongqiao")
        mistaken = _session(c, "V001", date(2031, 6, 1), time(9), time(10))
        c.ledger.reverse(c.accountant, returned.positions[0], reason="捐赠人要求退回")
        c.ledger.reverse(c.accountant, wrong_payment[0], reason="重复支付")
        c.ledger.reverse(c.recorder, mistaken.positions[0], reason="活动取消")
    views = Projections(c.ledger)
    views.run()
    return Scenario(views)


def by(rows: list[dict], key: str, value: str = "amount") -> dict:
    return {r[key]: r[value] for r in rows}


# --- the report -----------------------------------------------------------------------------------


def test_report_counts_only_the_period(cast):
    s = mixed_history(cast)
    q1 = transparency_report(s.views, **Q1, street_town=None)
    assert q1["period"] == {"start": "2031-01-01", "end": "2031-03-31"}
    assert by(q1["income"]["rows"], "category") == {
        "donation:resident": 100_000 + 80_000 + 7_777 + 1_001, "donation:business": 33_333,
        "donation:stationed_unit": 50_000, "donation:foundation": 0, "donation:government": 0,
        "grant:government_purchase": 200_000, "grant:venture_philanthropy": 60_000,
        "grant:welfare_lottery": 150_000, "grant:district_special_fund": 0,
    }
    assert (q1["income"]["total"], q1["income"]["total_yuan"]) == (682_111, "6821.11")
    assert by(q1["spending"]["rows"], "kind") == {"project": 55_000, "allowance": 5_000, "management": 3_000,
                                                  "fundraising": 0}
    assert by(q1["projects"]["rows"], "project") == {"P1": 40_000, "HQP": 15_000}
    p1 = next(r for r in q1["projects"]["rows"] if r["project"] == "P1")
    assert (p1["approval_ref"], p1["disbursement_approval_refs"], p1["organisation"]) == (
        "长民〔2026〕7号", ["批复-40000"], "LELING")
    assert by(q1["hours"]["rows"], "domain", "minutes")["elderly_care"] == 150 + 120
    assert q1["hours"]["minutes"] == 150 + 120 + 45
    # Corrections made on 15 June do not touch the first quarter's published figures.
    assert q1["corrections"] == {"rows": [], "count": 0}
    assert q1["donations"] == {"count": 6, "distinct_donors": 6}
    assert by(q1["special_funds"]["rows"], "fund", "balance") == {
        "SPEC": 80_000 + 33_333 + 7_777 + 150_000 + 30_000 - 10_000 - 40_000, "HQ-SF": 50_000 + 60_000 - 15_000}

    q2 = transparency_report(s.views, **Q2, street_town=None)
    income = by(q2["income"]["rows"], "category")
    assert (income["donation:resident"], income["grant:district_special_fund"]) == (20_000 - 7_777, 40_000)
    assert q2["donations"] == {"count": 0, "distinct_donors": 1}  # one gift in, one reversed; one donor gave
    assert by(q2["spending"]["rows"], "kind")["project"] == 0  # paid and reversed within the quarter
    assert by(q2["projects"]["rows"], "project", "reversed") == {"P1": 25_000}
    assert q2["hours"]["minutes"] == 0
    assert [(c["type"], c["reason"], c["amount"], c["minutes"]) for c in q2["corrections"]["rows"]] == [
        ("Fund.Reversed", "捐赠人要求退回", 7_777, None),
        ("Fund.Reversed", "重复支付", 25_000, None),
        ("Volunteer.ServiceReversed", "活动取消", None, 60),
    ]
    assert all(c["day"] == "2031-06-15" and c["street_town"] == TOWN for c in q2["corrections"]["rows"])

    march = transparency_report(s.views, start=date(2031, 3, 31), end=date(2031, 3, 31))
    assert march["income"]["total"] == 1_001 and march["spending"]["total"] == 0


def test_report_of_one_street_town_counts_only_that_street_town(cast):
    s = mixed_history(cast)
    hq = transparency_report(s.views, **YEAR, street_town="hongqiao")
    assert hq["street_town"]["code"] == "hongqiao" and hq["street_town"]["name_zh"] == "虹桥街道"
    assert {k: v for k, v in by(hq["income"]["rows"], "category").items() if v} == {
        "donation:stationed_unit": 50_000, "grant:venture_philanthropy": 60_000}
    assert by(hq["spending"]["rows"], "kind")["project"] == 15_000
    assert [r["project"] for r in hq["projects"]["rows"]] == ["HQP"]
    [fund] = hq["special_funds"]["rows"]
    assert (fund["fund"], fund["balance"], fund["balance_yuan"], fund["valid_until"], fund["domains"],
            fund["purpose"]) == ("HQ-SF", 95_000, "950.00", "2032-12-31", ["community_governance"], "社区治理")
    assert hq["hours"]["minutes"] == 45
    assert hq["organisations"]["rows"] == [] and hq["corrections"]["count"] == 0
    assert hq["donations"] == {"count": 1, "distinct_donors": 1}

    home = transparency_report(s.views, **YEAR, street_town=TOWN)
    assert [r["community"] for r in home["organisations"]["rows"]] == ["虹古居委"]
    assert home["organisations"]["target"] == cast.ledger.reference.organisations_per_community_target
    assert home["organisations"]["average"] == "1.00" and home["organisations"]["meets_target"] is False
    assert home["corrections"]["count"] == 3
    assert by(home["spending"]["rows"], "kind")["management"] == 0  # overheads belong to no street-town


def test_report_over_the_whole_history_agrees_with_the_views(cast):
    s = mixed_history(cast)
    report = transparency_report(s.views, **YEAR)
    v = s.views
    assert report["position"] == cast.ledger.recorder.max_notification_id()
    assert report["income"]["total"] == sum(r["amount"] for r in v.rows(streettowns.INCOME))
    assert report["spending"]["total"] == sum(r["amount"] for r in v.rows(streettowns.SPENDING))
    assert report["hours"]["minutes"] == sum(r["minutes"] for r in v.rows(streettowns.HOURS))
    assert report["projects"]["total"] == sum(r["paid"] for r in v.rows(projects.PROJECTS))
    assert by(report["special_funds"]["rows"], "fund", "balance") == {
        r["code"]: r["balance"] for r in v.rows(funds.FUNDS) if r["kind"] == "special"}
    assert report["donations"]["count"] == sum(
        r["count"] for r in v.rows(streettowns.INCOME) if r["source"].startswith("donation:"))
    json.dumps(report)  # plain JSON values only
    assert not _floats(report)


def _floats(value) -> list:
    if isinstance(value, float):
        return [value]
    if isinstance(value, dict):
        return [f for v in value.values() for f in _floats(v)]
    if isinstance(value, list):
        return [f for v in value for f in _floats(v)]
    return []


def test_report_refuses_an_unknown_street_town_and_a_period_that_ends_before_it_starts(cast):
    views = Projections(cast.ledger)
    with pytest.raises(UnknownReference) as err:
        transparency_report(views, **YEAR, street_town="atlantis")
    assert err.value.field == "street_town"
    with pytest.raises(InvalidInput) as err:
        transparency_report(views, start=date(2031, 2, 1), end=date(2031, 1, 31))
    assert err.value.field == "end" and "before" in err.value.message


# --- files ----------------------------------------------------------------------------------------


def test_csv_files_start_with_a_bom_and_round_trip(cast, tmp_path):
    s = mixed_history(cast)
    report = transparency_report(s.views, **Q1)
    written = exports.write_csv(report, tmp_path / "csv")
    assert [p.name for p in written] == ["01-summary.csv", "02-income.csv", "03-spending.csv", "04-projects.csv",
                                         "05-special_funds.csv", "06-hours.csv", "07-organisations.csv",
                                         "08-corrections.csv"]
    for path in written:
        assert path.read_bytes().startswith(b"\xef\xbb\xbf")
    with (tmp_path / "csv" / "02-income.csv").open(encoding="utf-8-sig", newline="") as f:
        rows = list(csv.DictReader(f))
    assert {r["类别代码 Category"]: r["金额（元） Amount (yuan)"] for r in rows} == {
        r["category"]: r["amount_yuan"] for r in report["income"]["rows"]}
    assert sum(Decimal(r["金额（元） Amount (yuan)"]) for r in rows) == to_decimal(report["income"]["total"])
    with (tmp_path / "csv" / "01-summary.csv").open(encoding="utf-8-sig", newline="") as f:
        summary = {r["代码 Key"]: r["数值 Value"] for r in csv.DictReader(f)}
    assert summary["income_total"] == "6821.11" and summary["start"] == "2031-01-01"
    with (tmp_path / "csv" / "04-projects.csv").open(encoding="utf-8-sig", newline="") as f:
        assert [r["批文号 Approval reference"] for r in csv.DictReader(f)] == ["长民〔2026〕7号", "长民〔2026〕7号"]


def test_xlsx_opens_and_its_totals_equal_the_json(cast, tmp_path):
    s = mixed_history(cast)
    report = transparency_report(s.views, **Q1)
    exports.write_json(report, tmp_path / "r.json")
    exports.write_xlsx(report, tmp_path / "r.xlsx")
    data = json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))
    assert data == report
    book = openpyxl.load_workbook(tmp_path / "r.xlsx")
    assert book.sheetnames == ["概要 Summary", "收入 Income", "支出 Spending", "项目支出 Projects",
                               "专项基金 Special funds", "志愿服务 Volunteer hours", "社区社会组织 Organisations",
                               "更正说明 Corrections"]

    def table(name: str) -> list[dict]:
        rows = list(book[name].iter_rows(values_only=True))
        return [dict(zip(rows[0], r, strict=True)) for r in rows[1:]]

    def yuan(value) -> Decimal:
        assert isinstance(value, int | float) and not isinstance(value, bool)
        return Decimal(repr(value)).quantize(Decimal("0.01"))

    amount = "金额（元） Amount (yuan)"
    income = table("收入 Income")
    assert sum(yuan(r[amount]) for r in income) == Decimal(data["income"]["total_yuan"])
    assert {r["类别代码 Category"]: yuan(r[amount]) for r in income} == {
        r["category"]: Decimal(r["amount_yuan"]) for r in data["income"]["rows"]}
    assert sum(yuan(r[amount]) for r in table("支出 Spending")) == Decimal(data["spending"]["total_yuan"])
    summary = {r["代码 Key"]: r["数值 Value"] for r in table("概要 Summary")}
    assert yuan(summary["income_total"]) == Decimal(data["income"]["total_yuan"])
    assert yuan(summary["spending_total"]) == Decimal(data["spending"]["total_yuan"])
    assert yuan(summary["special_funds_balance"]) == Decimal(data["special_funds"]["total_balance_yuan"])
    assert summary["minutes"] == data["hours"]["minutes"]
    net = "本期净支出（元） Net spending (yuan)"
    assert {r["项目编号 Project"]: yuan(r[net]) for r in table("项目支出 Projects")} == {
        r["project"]: Decimal(r["amount_yuan"]) for r in data["projects"]["rows"]}
    cell = book["收入 Income"]["D2"]
    assert cell.number_format == "#,##0.00" and cell.data_type == "n"


def test_no_donor_payee_or_volunteer_name_leaves_in_any_export(cast, tmp_path):
    s = mixed_history(cast)
    texts = []
    for town in (None, TOWN):
        report = transparency_report(s.views, **YEAR, street_town=town)
        texts.append(json.dumps(report, ensure_ascii=False))
        exports.write_xlsx(report, tmp_path / "r.xlsx")
        book = openpyxl.load_workbook(tmp_path / "r.xlsx")
        texts += [str(c) for ws in book for row in ws.iter_rows(values_only=True) for c in row]
        texts += [p.read_text(encoding="utf-8-sig") for p in exports.write_csv(report, tmp_path / f"csv-{town}")]
    texts.append(journal(cast.ledger))
    found = {name for name in PERSONAL for text in texts if name in text}
    assert not found
    assert not any("V001" in t or "V002" in t for t in texts)  # nor volunteer numbers


# --- the journal ----------------------------------------------------------------------------------

_POSTING = re.compile(r"^    (\S+)\s{2,}(-?\d+(?:\.\d+)?) (CNY|MIN)(?:  ; code:(\d+), subledger:(\S+))?$")


def parse_journal(text: str) -> list[tuple[str, list[tuple[str, Decimal, str]]]]:
    """Transactions as (header, postings) from the journal's own simple layout; a money posting's
    account is the signed sub-ledger account its tag names (the chart account is the posting's own)."""
    transactions: list[tuple[str, list]] = []
    for line in text.splitlines():
        if re.match(r"^\d{4}-\d{2}-\d{2} ", line):
            transactions.append((line, []))
        elif line.startswith("    "):
            account, amount, commodity, _, signed = _POSTING.match(line).groups()
            transactions[-1][1].append((signed or account, Decimal(amount), commodity))
    return transactions


def test_journal_carries_every_signed_posting_in_log_order(cast):
    mixed_history(cast)
    text = journal(cast.ledger)
    transactions = parse_journal(text)
    positions = [int(re.search(r"position:(\d+)", header).group(1)) for header, _ in transactions]
    assert positions == sorted(positions)
    totals: dict[str, Decimal] = defaultdict(Decimal)
    for header, postings in transactions:
        for commodity in ("CNY", "MIN"):
            assert sum(a for _, a, c in postings if c == commodity) == 0, header
        for account, amount, commodity in postings:
            if commodity == "CNY":
                totals[account] += amount
    expected = {a: to_decimal(fen) for a, fen in postings_by_account(cast).items()}
    assert {a: t for a, t in totals.items()} == expected
    reversal = next(h for h, _ in transactions if "重复支付" in h)
    assert reversal.startswith("2031-06-15 Fund.Reversed SPEC reverses ")
    donation = next(h for h, _ in transactions if h.startswith("2031-02-15"))
    assert "Fund.DonationReceived SPEC business" in donation


@pytest.fixture(scope="session")
def hledger() -> str:
    path = shutil.which("hledger")
    if path is None:
        if REQUIRE_TOOLS:
            pytest.fail("WUSHE_REQUIRE_POSTGRES=1 (CI) but hledger is not installed; .ci/run installs it")
        pytest.skip("hledger is not installed (apt-get install hledger): the journal cross-check is SKIPPED")
    return path


def hledger_balances(hledger: str, path: Path) -> dict[str, dict[str, Decimal]]:
    env = {**os.environ, "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8"}
    check = subprocess.run([hledger, "-f", str(path), "check", "--strict"], capture_output=True, text=True, env=env,
                           check=False)
    assert check.returncode == 0, check.stderr
    done = subprocess.run([hledger, "-f", str(path), "bal", "--flat", "--empty", "-O", "csv"],
                          capture_output=True, text=True, env=env, check=True)
    balances: dict[str, dict[str, Decimal]] = {}
    for row in csv.DictReader(done.stdout.splitlines()):
        amounts: dict[str, Decimal] = {}
        for part in row["balance"].split(","):
            number, _, commodity = part.strip().partition(" ")
            if Decimal(number):
                amounts[commodity] = Decimal(number)
        balances[row["account"]] = amounts
    return balances


def test_hledger_balances_equal_the_views(cast, tmp_path, hledger):
    s = mixed_history(cast)
    path = tmp_path / "journal.ledger"
    path.write_text(journal(cast.ledger), encoding="utf-8")
    bal = hledger_balances(hledger, path)

    def cny(account: str) -> Decimal:
        return bal.get(account, {}).get("CNY", Decimal(0))

    def minutes(account: str) -> int:
        return int(bal.get(account, {}).get("MIN", 0))

    fund_rows = s.views.rows(funds.FUNDS)
    for row in fund_rows:  # the chart's bank account (银行存款), per foundation and fund
        assert cny(f"Assets:Bank:CNCF:{row['code']}") == to_decimal(row["balance"]), row["code"]
    assert {a for a in bal if a.startswith("Assets:")} == {f"Assets:Bank:CNCF:{r['code']}" for r in fund_rows}

    income = s.views.rows(streettowns.INCOME)
    earned = [a for a in bal if a.startswith("Income:")]
    assert -sum(cny(a) for a in earned) == to_decimal(sum(r["amount"] for r in income)) != 0
    grants = sum(r["amount"] for r in income if r["source"].startswith("grant:"))
    assert -sum(cny(a) for a in earned if a.startswith(("Income:GovernmentSubsidies:", "Income:Services:"))) == (
        to_decimal(grants))
    spent = sum(r["amount"] for r in s.views.rows(streettowns.SPENDING))
    assert sum(cny(a) for a in bal if a.startswith("Expenses:")) == to_decimal(spent) != 0
    management = sum(r["amount"] for r in s.views.rows(streettowns.SPENDING) if r["kind"] == "management")
    assert cny("Expenses:Management:CNCF:GEN") == to_decimal(management)
    net_assets = sum(r["balance"] for r in fund_rows)
    assert -sum(cny(a) for a in bal if a.startswith(("Income:", "Expenses:", "Equity:"))) == to_decimal(net_assets)

    town_hours = s.views.rows(streettowns.HOURS)
    for row in town_hours:
        assert minutes(f"Volunteer:Minutes:{row['street_town']}:{row['domain']}") == row["minutes"]
    assert sum(minutes(a) for a in bal if a.startswith("Volunteer:")) == sum(
        r["minutes"] for r in s.views.rows(hours.DAILY)) == 150 + 120 + 45
    by_org: dict[str, int] = defaultdict(int)
    for row in s.views.rows(hours.BY_ORGANISATION):
        by_org[row["organisation"]] += row["minutes"]
    for organisation, total in by_org.items():
        assert minutes(f"Contributed:Minutes:{organisation}") == -total
