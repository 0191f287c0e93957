"""The accounting endpoints over HTTP (会计): other income, goods, service contracts, a special
fund's end, the foundation's standing and publications, and the three statements — each the same
ledger command as `wushe`, refused with a named problem that writes nothing; on both stores."""

from __future__ import annotations

import io
from datetime import date

from agreements import agreement
from apisite import TOWN, assert_problem, fresh, site_fixture  # noqa: F401  (the site fixture)
from openpyxl import load_workbook

from ledger.statements import Period, ledger_books, statements


def test_a_contract_earned_by_milestone_and_interest_reach_the_statements(site):
    fund = site.fund()
    contract = fresh("C")
    signed = site.post("accountant", f"/api/v1/funds/{fund}/contracts", {
        "contract": contract, "buyer": "仙霞新村街道办事处", "document_ref": "购买服务合同-7",
        "milestones": [{"name": "一期", "amount": "600"}, {"name": "二期", "amount": "400"}], "on": "2026-02-01"})
    assert signed.status_code == 201, signed.text
    paid = site.post("accountant", f"/api/v1/funds/{fund}/contracts/{contract}/payments",
                     {"amount": "1000", "on": "2026-02-10"})
    assert paid.status_code == 201, paid.text
    delivered = site.post("accountant", f"/api/v1/funds/{fund}/contracts/{contract}/deliveries",
                          {"milestone": "一期", "on": "2026-03-01"})
    assert delivered.status_code == 201, delivered.text
    interest = site.post("accountant", f"/api/v1/funds/{fund}/income",
                         {"amount": "12.34", "kind": "interest", "payer": "开户银行", "on": "2026-03-31"})
    assert interest.status_code == 201, interest.text

    answer = site.get("accountant", "/api/v1/statements", foundation="CNCF", year=2026)
    assert answer.status_code == 200, answer.text
    assert answer.headers["x-wushe-ties-out"] == "true"
    doc = answer.json()
    assert doc["position"] == site.head() and doc["checks"]["ok"]
    expected = statements(ledger_books(site.ledger), "CNCF", Period.of(2026))
    assert doc == expected  # the same computation as `wushe statements`, nothing of its own
    # the delivered milestone is earned (提供服务收入); the rest of the money is 预收账款 on the balance sheet
    ytd = {line["name_zh"]: line["amounts"]["ytd"]["total"]["fen"] for line in doc["activities"]["lines"]
           if "amounts" in line}
    assert ytd["提供服务收入"] >= 600_00 and ytd["其他收入"] + ytd.get("投资收益", 0) >= 12_34


def test_statements_as_xlsx_and_refusals(site):
    answer = site.get("approver", "/api/v1/statements", foundation="CNCF", year=2026, quarter=1, format="xlsx")
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-disposition"].endswith('statements-CNCF-2026-Q1.xlsx"')
    book = load_workbook(io.BytesIO(answer.content))
    assert [n[:2] for n in book.sheetnames[:3]] == ["01", "02", "03"]
    assert_problem(site.get("accountant", "/api/v1/statements", foundation="CNCF", year=2026, month=1, quarter=1),
                   422, field="period")
    assert_problem(site.get("accountant", "/api/v1/statements", foundation="CNCF"), 422, field="year")
    assert_problem(site.get("accountant", "/api/v1/statements", foundation="NOPE", year=2026), 404, field="foundation")
    assert_problem(site.get("other_accountant", "/api/v1/statements", foundation="CNCF", year=2026), 403,
                   "not-authorised")


def test_refused_accounting_writes_say_why_and_write_nothing(site):
    fund = site.fund(1000)
    before = site.head()
    cases = [
        (f"/api/v1/funds/{fund}/income", {"amount": "1", "kind": "lottery", "payer": "银行"}, "kind"),
        (f"/api/v1/funds/{fund}/income", {"amount": "1,000", "kind": "interest", "payer": "银行"}, "amount"),
        (f"/api/v1/funds/{fund}/goods-distributions",
         {"amount": "5", "description": "大米", "quantity": 1, "target": "P1"}, None),  # the fund holds no goods
        (f"/api/v1/funds/{fund}/contracts", {"contract": fresh("C"), "buyer": "街道", "document_ref": "合同",
                                             "milestones": []}, "milestones"),
        (f"/api/v1/funds/{fund}/contracts/NOPE/deliveries", {"milestone": "一期"}, None),
        (f"/api/v1/funds/{fund}/terminate", {"reason": "结束"}, "fund"),  # not a special fund
        ("/api/v1/organisations/CNCF/profile", {"charity": "yes", "public_fundraising": True,
                                                "org_type": "foundation", "since": "2021-01-01",
                                                "document_ref": "慈认"}, "charity"),
        ("/api/v1/organisations/CNCF/publications", {"item": "gossip", "subject": "2025", "title": "年报",
                                                     "where": "官网"}, "item"),
    ]
    for path, body, field in cases:
        answer = site.post("accountant", path, body)
        assert 400 <= answer.status_code < 500, (path, answer.text)
        problem = assert_problem(answer, answer.status_code, field=field) if field else answer.json()
        assert problem["detail"] and problem["detail_en"], path
    assert site.head() == before, "a refused write wrote something"


def test_a_special_fund_ends_and_its_publication_is_recorded(site):
    leftover = site.restricted_fund(0)
    special = site.fund(0, kind="special", restricted=True, purpose="仙霞新村养老服务专项", domains=["elderly_care"],
                        street_towns=[TOWN], agreement=agreement(ref="协议-2026-09"))
    site.ledger.record_donation(site.cast.accountant, special, 500, donor_type="resident")
    ended = site.post("accountant", f"/api/v1/funds/{special}/terminate",
                      {"reason": "协议期满", "to_fund": leftover, "on": date.today().isoformat()})
    assert ended.status_code == 201, ended.text
    assert site.ledger.fund(leftover).balance == 500 and site.ledger.fund(special).balance == 0
    again = site.post("accountant", f"/api/v1/funds/{special}/terminate", {"reason": "再次"})
    assert_problem(again, 409, "fund-closed")
    published = site.post("accountant", "/api/v1/organisations/CNCF/publications", {
        "item": "leftover", "subject": special, "title": f"{special} 剩余财产处理公告", "where": "基金会网站"})
    assert published.status_code == 201, published.text
