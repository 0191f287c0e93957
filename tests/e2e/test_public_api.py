"""The public JSON API and pages over HTTP, on SQLite and PostgreSQL: every page's figures equal
the write side's aggregates, the projection views and the transparency report; the page, its JSON
and its downloads agree; unknown codes are 404 problem+json; nobody's personal data leaks; receipts
verify and tampered ones are refused with the reason."""

from __future__ import annotations

import base64
import csv
import io
import json
from dataclasses import dataclass
from datetime import date, time
from decimal import Decimal
from typing import Any

import pytest
from agreements import agreement
from fastapi.testclient import TestClient
from openpyxl import load_workbook

from api.main import create_app
from ledger.application import Actor
from ledger.money import format_cny, parse_amount, to_decimal_string
from ledger.receipts import issue_receipt
from ledger.signing import SigningKey, key_file_stem
from ledger.witness import Witness
from projections.report import transparency_report

TOWN = "xianxiaxincun"
API = "/api/v1/public"
PROBLEM = "application/problem+json"
SECRET_NAMES = ("张三丰", "李四光")
"""A donor and a volunteer who did not consent to be named: never on a public page."""
VOLUNTEER = "V773100"


@dataclass
class Site:
    client: TestClient
    cast: Any
    positions: dict[str, int]

    @property
    def ledger(self):
        return self.cast.ledger

    def get(self, path: str, **params) -> Any:
        response = self.client.get(path, params=params)
        assert response.status_code == 200, (path, response.text[:500])
        return response.json() if "json" in response.headers["content-type"] else response.text


def _seed(cast, log: Actor, witness: Witness) -> dict[str, int]:
    led, acct = cast.ledger, cast.accountant
    led.open_fund(acct, "XX-SF", "仙霞养老专项基金", "CNCF", kind="special", restricted=True, purpose="仙霞养老",
                  street_town=TOWN, street_towns=[TOWN], domains=["elderly_care"],
                  agreement=agreement(ref="协议-1"))
    led.open_fund(acct, "GEN", "非限定性基金", "CNCF")
    private = led.record_donation(acct, "XX-SF", 120_050, donor_type="resident", donor_name=SECRET_NAMES[0],
                                  received_on=date(2026, 3, 2))
    led.record_donation(acct, "GEN", 30_000, donor_type="business", donor_name="某某科技公司", donor_public=True,
                        street_town="hongqiao", received_on=date(2026, 4, 9))
    wrong = led.record_donation(acct, "XX-SF", 999_900, donor_type="resident", received_on=date(2026, 3, 5))
    led.reverse(acct, wrong.positions[0], reason="重复录入 duplicate entry")
    led.register_project(acct, "P1", "长者助餐", street_town=TOWN, domain="elderly_care", organisation="LELING",
                         budget=100_000, funding_source="fund", approval_ref="长民〔2026〕7号",
                         reach=500, starts_on=date(2026, 1, 1), ends_on=date(2026, 12, 31),
                         milestones=[("启动", 30_000), ("结项", 70_000)])
    number = led.request_disbursement(acct, "XX-SF", 30_000, project="P1", milestone="启动", purpose="启动款",
                                      on=date(2026, 4, 1)).ident
    led.approve_disbursement(cast.approver, number, approval_ref="审批-202604-1", on=date(2026, 4, 2))
    led.pay_disbursement(acct, number, on=date(2026, 4, 3))
    led.evaluate_project(acct, "P1", score=90, respondents=40, survey_ref="问卷-1", surveyed_on=date(2026, 5, 1))
    led.evaluate_project(acct, "P1", score=80, respondents=10, survey_ref="问卷-1", surveyed_on=date(2026, 6, 1))
    led.register_volunteer(cast.recorder, VOLUNTEER, SECRET_NAMES[1], TOWN, registered_on=date(2026, 1, 5))
    service = led.record_hours(cast.recorder, VOLUNTEER, organisation="LELING", domain="elderly_care",
                               on=date(2026, 3, 1), start=time(9, 0), end=time(10, 30), content="送餐")
    extra = led.record_hours(cast.recorder, VOLUNTEER, organisation="LELING", domain="elderly_care",
                             on=date(2026, 3, 8), start=time(9, 0), end=time(11, 0), content="送餐")
    led.reverse(cast.recorder, extra.positions[0], reason="签到时间登记错误 wrong sign-in time")
    for _ in range(2):
        stored = led.sign_checkpoint(log)
        checkpoint, line = witness.cosign(stored.note, led.directory().active_keys(led.origin)[-1].key,
                                          led.merkle.consistency_proof)
        led.checkpoints.add_cosignature(checkpoint, witness.key.verifier, line)
        led.record_donation(acct, "GEN", 5_000, donor_type="resident", street_town="hongqiao",
                            received_on=date(2026, 5, 20))
    return {"private": private.positions[0], "service": service.positions[0]}


@pytest.fixture
def site(cast, tmp_path):
    ledger = cast.ledger
    key = SigningKey.generate(ledger.origin)
    ledger.register_principal(cast.root, ledger.origin, "账本日志", ["log"], key=key.verifier)
    key_dir = ledger.settings.resolved_key_dir
    key.write(key_dir)
    witness_vkey = Witness.create(tmp_path / "witness", "mca.example/witness")
    (key_dir / "witnesses").mkdir(parents=True, exist_ok=True)
    (key_dir / "witnesses" / f"{key_file_stem('mca.example/witness')}.pub").write_text(witness_vkey.vkey)
    positions = _seed(cast, Actor(ledger.origin, key), Witness(tmp_path / "witness", "mca.example/witness"))
    with TestClient(create_app(ledger=ledger), raise_server_exceptions=False) as client:
        yield Site(client, cast, positions)


def _problem(response, status: int, field: str | None = None) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    body = response.json()
    assert body["status"] == status and body["detail"] and body["detail_en"]
    if field is not None:
        assert body["field"] == field, body
    return body


def _rows(page: dict, table: str, key: str) -> dict[str, dict]:
    return {row[key]: row for row in page["tables"][table]}


# --- figures -------------------------------------------------------------------------------------------


def test_overview_matches_the_district_figures_and_its_months_add_up(site):
    overview = site.get(f"{API}/overview")
    district = site.get(f"{API}/district")
    summary = overview["summary"]
    for key in ("income", "spent", "balance", "restricted_balance", "unrestricted_balance", "volunteer_hours"):
        assert summary[key] == district[key], key
    assert summary["income"] == "1600.50"  # 1200.50 + 300 + 2 × 50; the reversed duplicate does not count
    assert summary["spent"] == "300.00" and summary["volunteer_hours"] == "1.50"
    towns = _rows(overview, "street_towns", "code")
    assert len(towns) == 10 and towns[TOWN]["income"] == "1200.50" and towns["hongqiao"]["income"] == "400.00"
    months = overview["tables"]["monthly"]
    assert [m["month"] for m in months] == sorted(m["month"] for m in months)
    # The reversal of March's duplicate counts in the month it was made: a negative there, not a rewritten March.
    assert sum(Decimal(m["income"]) for m in months) == Decimal("1600.50")
    assert next(m for m in months if m["month"] == "2026-03")["income"] == "11199.50"
    assert overview["position"] == site.ledger.recorder.max_notification_id()
    assert site.get(f"{API}/street-towns")["street_towns"] == overview["tables"]["street_towns"]


def test_street_town_page_equals_the_transparency_report(site):
    page = site.get(f"{API}/street-towns/{TOWN}")
    report = transparency_report(site.client.app.state.projections, start=date(2000, 1, 1),
                                 end=date(9999, 12, 31), street_town=TOWN)
    assert page["street_town"]["code"] == TOWN and page["position"] == report["position"]
    assert page["summary"]["income"] == report["income"]["total_yuan"] == "1200.50"
    assert page["summary"]["spent"] == report["spending"]["total_yuan"] == "300.00"
    assert page["summary"]["volunteer_hours"] == report["hours"]["hours"] == "1.50"
    assert page["summary"]["donors"] == report["donations"]["distinct_donors"] == 1
    assert page["summary"]["fund_balance"] == to_decimal_string(site.ledger.fund("XX-SF").balance) == "900.50"
    income = _rows(page, "income", "category")
    assert {k: v["amount"] for k, v in income.items() if v["amount"] != "0.00"} == {"donation:resident": "1200.50"}
    [project] = page["tables"]["projects"]
    assert (project["project"], project["approval_ref"], project["budget"], project["paid"]) == (
        "P1", "长民〔2026〕7号", "1000.00", "300.00")
    assert project["satisfaction"] == "88.0"  # (90 × 40 + 80 × 10) / 50 respondents
    [special] = page["tables"]["special_funds"]
    assert special["fund"] == "XX-SF" and special["balance"] == "900.50" and special["purpose"] == "仙霞养老"
    assert special["domains"] == ["养老服务"]
    assert page["tables"]["organisations"][0]["organisations"] == 1
    latest = site.ledger.checkpoints.latest()
    assert page["checkpoint"]["tree_size"] == latest.checkpoint.size and len(page["checkpoint"]["cosigners"]) == 1


def test_fund_project_hours_and_lists_equal_the_write_side(site):
    ledger = site.ledger
    fund = site.get(f"{API}/funds/XX-SF")
    assert fund["summary"]["balance"] == to_decimal_string(ledger.fund("XX-SF").balance)
    assert fund["fund"]["restricted"] is True and fund["fund"]["agreement_ref"] == "协议-1"
    [usage] = fund["tables"]["usage"]
    assert (usage["project"], usage["amount"], usage["payments"]) == ("P1", "300.00", 1)
    gifts = {g["amount"]: g for g in fund["tables"]["donations"]}
    assert set(gifts) == {"1200.50", "9999.00"}
    assert (gifts["1200.50"]["donor"], gifts["1200.50"]["donor_type"], gifts["1200.50"]["reversed"]) == (
        "张**", "居民捐赠", None)  # masked: this donor did not consent
    assert gifts["9999.00"]["donor"] == "匿名" and gifts["9999.00"]["donor_en"] == "Anonymous"
    assert gifts["9999.00"]["reversed"] is not None
    named = site.get(f"{API}/funds/GEN")["tables"]["donations"]
    assert [g["donor"] for g in named if g["amount"] == "300.00"] == ["某某科技公司"]  # consented
    months = fund["tables"]["balance_by_month"]
    assert months[-1]["balance"] == fund["summary"]["balance"]
    listed = _rows(site.get(f"{API}/funds"), "funds", "fund")
    assert {code: row["balance"] for code, row in listed.items()} == {
        code: to_decimal_string(ledger.fund(code).balance) for code in ("XX-SF", "GEN")}

    project = site.get(f"{API}/projects/P1")
    assert project["summary"]["paid"] == to_decimal_string(ledger.project("P1").paid) == "300.00"
    assert project["summary"]["budget"] == "1000.00" and project["summary"]["evaluations"] == 2
    assert [(m["milestone"], m["planned"], m["paid"]) for m in project["tables"]["milestones"]] == [
        ("启动", "300.00", "300.00"), ("结项", "700.00", "0.00")]
    [paid] = project["tables"]["disbursements"]
    assert (paid["approval_ref"], paid["paid_on"], paid["amount"]) == ("审批-202604-1", "2026-04-03", "300.00")
    assert _rows(site.get(f"{API}/projects"), "projects", "project")["P1"]["paid"] == "300.00"

    hours = site.get(f"{API}/hours")
    assert hours["summary"]["hours"] == "1.50" and hours["summary"]["sessions"] == 1
    assert hours["summary"]["volunteers"] == 1
    [by_org] = hours["tables"]["by_organisation"]
    assert (by_org["organisation"], by_org["minutes"]) == ("LELING", 90)


def test_corrections_log_lists_each_reason_and_filters_by_street_town(site):
    page = site.get(f"{API}/corrections")
    reasons = {row["reason"]: row for row in page["tables"]["corrections"]}
    assert set(reasons) == {"重复录入 duplicate entry", "签到时间登记错误 wrong sign-in time"}
    money = reasons["重复录入 duplicate entry"]
    assert (money["corrects_type"], money["amount"], money["fund"]) == ("Fund.DonationReceived", "9999.00", "XX-SF")
    assert reasons["签到时间登记错误 wrong sign-in time"]["hours"] == "2.00"
    assert page["summary"]["corrections"] == 2
    assert site.get(f"{API}/corrections", street_town="hongqiao")["tables"]["corrections"] == []
    assert len(site.get(f"{API}/corrections", street_town=TOWN)["tables"]["corrections"]) == 2


def _every_row(site: Site, path: str, table: str) -> list[dict]:
    """A paged list walked to its end by its own ``next`` cursors, two rows a page."""
    rows, params = [], {"limit": 2}
    while True:
        page = site.get(path, **params)
        rows += page["tables"][table]
        if not page.get("next"):
            return rows
        params = {"limit": 2, "after": page["next"]}


def test_a_street_towns_donations_figure_is_the_sum_of_a_list_anyone_can_read(site):
    for town in (TOWN, "hongqiao"):
        headline = site.get(f"{API}/street-towns/{town}")["summary"]
        listed = site.get(f"{API}/street-towns/{town}/donations")
        rows = _every_row(site, f"{API}/street-towns/{town}/donations", "donations")
        standing = [r for r in rows if r["reversed"] is None]
        assert listed["summary"]["donations"] == headline["donations"] == to_decimal_string(
            sum(parse_amount(r["amount"]) for r in standing)), town
        assert listed["summary"]["gifts"] == len(standing)
    # hongqiao's gifts all went to the district-wide fund GEN, tagged with hongqiao: listed all the same
    hongqiao = _every_row(site, f"{API}/street-towns/hongqiao/donations", "donations")
    assert {r["fund"] for r in hongqiao} == {"GEN"} and len(hongqiao) == 3
    # the reversed gift is listed with its correction's date and left out of the sum
    assert [r["amount"] for r in _every_row(site, f"{API}/street-towns/{TOWN}/donations", "donations")
            if r["reversed"]] == ["9999.00"]
    # GEN's own list says which street-town each gift counts for, and filters by it
    gen = site.get(f"{API}/funds/GEN")["tables"]["donations"]
    assert {r["street_town_zh"] for r in gen} == {"虹桥街道"} and {r["street_town_en"] for r in gen} == {"Hongqiao Subdistrict"}
    assert site.get(f"{API}/funds/GEN", street_town=TOWN)["tables"]["donations"] == []
    # on the page, the headline figure links to the list
    html = site.get(f"/street-towns/{TOWN}")
    assert f'<a href="/street-towns/{TOWN}/donations">' in html
    _problem(site.client.get(f"{API}/street-towns/nowhere/donations"), 404, "street_town")


def test_checkpoints_page_checks_consistency_between_consecutive_checkpoints(site):
    page = site.get(f"{API}/checkpoints")
    rows = page["tables"]["checkpoints"]
    assert [r["tree_size"] for r in rows] == sorted(site.ledger.checkpoints.sizes(), reverse=True)
    assert rows[0]["consistent"] is True and rows[-1]["consistent"] is None  # the first has no predecessor
    assert all(r["cosigners"] and r["witnesses"] == 1 for r in rows)
    assert page["log_key"] == site.ledger.directory().active_keys(site.ledger.origin)[-1].key.vkey
    assert site.get(f"{API}/checkpoints", limit=1)["tables"]["checkpoints"][0]["consistent"] is True


def test_unknown_codes_are_404_problems_naming_the_field(site):
    _problem(site.client.get(f"{API}/street-towns/atlantis"), 404, "street_town")
    _problem(site.client.get(f"{API}/funds/NOPE"), 404, "fund")
    _problem(site.client.get(f"{API}/projects/NOPE"), 404, "project")
    for odd in ("%00", "x" * 300, "%F0%9F%98%80", "' OR 1=1 --"):  # never a server error, on either store
        _problem(site.client.get(f"{API}/funds/{odd}"), 404, "fund")
        _problem(site.client.get(f"{API}/projects/{odd}"), 404, "project")
        _problem(site.client.get(f"{API}/street-towns/{odd}"), 404, "street_town")
    _problem(site.client.get(f"{API}/corrections", params={"street_town": "atlantis"}), 404, "street_town")
    _problem(site.client.get(f"{API}/checkpoints", params={"limit": 0}), 422, "limit")
    _problem(site.client.get(f"{API}/reports", params={"start": "2026-02-01", "end": "2026-01-01"}), 422, "end")
    for path in ("/street-towns/atlantis", "/funds/NOPE", "/projects/NOPE"):
        page = site.client.get(path)
        assert page.status_code == 404 and "未找到" in page.text and "text/html" in page.headers["content-type"]
    _problem(site.client.get("/?lang=fr"), 422, "lang")


def test_report_endpoint_is_the_transparency_report(site):
    body = site.get(f"{API}/reports", start="2026-03-01", end="2026-03-31", street_town=TOWN)
    assert body["period"] == {"start": "2026-03-01", "end": "2026-03-31"}
    assert body["income"]["total_yuan"] == "11199.50"  # as published for March: the correction came later


# --- pages, downloads, language ------------------------------------------------------------------------


def test_pages_show_the_json_figures_in_either_language(site):
    zh = site.get(f"/street-towns/{TOWN}")
    page = site.get(f"{API}/street-towns/{TOWN}")
    for key in ("income", "spent", "fund_balance"):
        assert f'id="summary-{key}">{format_cny(parse_amount(page["summary"][key]))}<' in zh
    assert 'lang="zh-CN"' in zh and "仙霞新村街道" in zh and "长民〔2026〕7号" in zh
    project = site.get("/projects/P1")
    assert "2026年4月3日" in project
    en = site.client.get("/projects/P1", params={"lang": "en"})
    assert 'lang="en"' in en.text and "3 Apr 2026" in en.text and "Milestones" in en.text
    assert en.cookies.get("wushe_lang") == "en"
    remembered = site.client.get(f"/street-towns/{TOWN}")  # the cookie carries the choice
    assert "Xianxia Xincun Subdistrict" in remembered.text and 'lang="en"' in remembered.text
    back = site.client.get("/", params={"lang": "zh"})
    assert 'lang="zh-CN"' in back.text and "各街镇" in back.text
    site.client.cookies.clear()


def test_downloads_hold_exactly_the_tables_shown(site):
    page = site.get(f"{API}/street-towns/{TOWN}")
    as_json = site.client.get(f"/downloads/json/street-towns/{TOWN}")
    whole = {k: v for k, v in page.items() if k not in ("paging", "next")}  # a download holds every row, unpaged
    assert "attachment" in as_json.headers["content-disposition"] and as_json.json() == whole

    income = site.client.get(f"/downloads/csv/street-towns/{TOWN}", params={"table": "income"})
    assert income.headers["content-type"].startswith("text/csv")
    text = income.content.decode("utf-8")
    assert text.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(text[1:])))
    assert len(rows) == 1 + len(page["tables"]["income"])
    assert rows[1][3] == page["tables"]["income"][0]["amount"]

    workbook = load_workbook(io.BytesIO(site.client.get(f"/downloads/xlsx/street-towns/{TOWN}").content))
    assert len(workbook.sheetnames) == len(page["tables"])
    sheet = workbook[workbook.sheetnames[2]]  # projects
    header = [c.value for c in sheet[1]]
    paid = sheet.cell(row=2, column=header.index("已支付（元） Paid (yuan)") + 1).value
    assert Decimal(str(paid)) == Decimal(page["tables"]["projects"][0]["paid"])

    corrections = site.client.get("/downloads/csv/corrections", params={"table": "corrections", "street_town": "hongqiao"})
    assert corrections.content.decode("utf-8-sig").count("\r\n") == 1  # the header only
    _problem(site.client.get(f"/downloads/csv/street-towns/{TOWN}"), 422, "table")
    _problem(site.client.get(f"/downloads/csv/street-towns/{TOWN}", params={"table": "nope"}), 404, "table")
    _problem(site.client.get("/downloads/pdf/hours"), 422)
    _problem(site.client.get("/downloads/json/nowhere"), 404, "path")


def test_no_personal_data_on_any_page_or_answer(site):
    paths = ["/", f"/street-towns/{TOWN}", "/funds", "/funds/XX-SF", "/funds/GEN", "/projects", "/projects/P1",
             "/hours", "/corrections", "/checkpoints", "/verify"]
    paths += [f"{API}/overview", f"{API}/street-towns/{TOWN}", f"{API}/funds/XX-SF", f"{API}/projects/P1",
              f"{API}/hours", f"{API}/corrections", "/downloads/json/funds/XX-SF"]
    for path in paths:
        for lang in ("zh", "en"):
            response = site.client.get(path, params={"lang": lang} if not path.startswith(("/api", "/down")) else {})
            assert response.status_code == 200, path
            for name in SECRET_NAMES:
                assert name not in response.text, (path, name)
            assert VOLUNTEER not in response.text  # not even a volunteer's number


# --- verifying receipts ---------------------------------------------------------------------------------


def _receipt(site, role: str) -> dict:
    return issue_receipt(site.ledger, site.positions[role], site.client.app.state.log_actor)


def test_verify_accepts_a_good_receipt_and_says_where_it_is(site):
    receipt = _receipt(site, "private")
    verdict = site.client.post(f"{API}/verify", json=receipt).json()
    assert verdict["verified"] is True and verdict["kind"] == "donation"
    assert verdict["position"] == site.positions["private"] == receipt["position"]
    assert verdict["leaf_index"] == receipt["leaf_index"] and verdict["checkpoint_size"] == receipt["tree_size"]
    assert verdict["in_log_today"] is True and len(verdict["cosigners"]) == 1
    assert verdict["details"]["donor"] == "张**" and verdict["details"]["amount"] == 120_050

    page = site.client.post("/verify", data={"receipt": json.dumps(receipt)})
    assert page.status_code == 200 and "已校验" in page.text
    assert f"账本日志第 {receipt['position']} 条" in page.text and SECRET_NAMES[0] not in page.text
    uploaded = site.client.post("/verify", params={"lang": "en"},
                                files={"file": ("r.json", json.dumps(receipt).encode(), "application/json")})
    assert "Verified" in uploaded.text and f"position {receipt['position']}" in uploaded.text
    certificate = site.client.post(f"{API}/verify", json=_receipt(site, "service")).json()
    assert certificate["kind"] == "volunteer-service" and certificate["details"]["volunteer"] == "李**"


def test_verify_refuses_a_tampered_receipt_and_says_why(site):
    receipt = _receipt(site, "private")
    record = next(e for e in receipt["entries"] if e["role"] == "record")
    record["event"] = base64.b64encode(base64.b64decode(record["event"]).replace(b'"amount":120050',
                                                                                 b'"amount":920050')).decode()
    verdict = site.client.post(f"{API}/verify", json=receipt).json()
    assert verdict == {"verified": False, "reason_zh": f"记录事件不在该检查点下日志的第 {receipt['leaf_index']} 片叶",
                       "reason": f"the record event is not in the log at leaf {receipt['leaf_index']} "
                                 "under this checkpoint"}
    page = site.client.post("/verify", data={"receipt": json.dumps(receipt)})
    assert "未通过校验" in page.text and f"不在该检查点下日志的第 {receipt['leaf_index']} 片叶" in page.text
    assert "is not in the log" not in page.text  # no English on the Chinese page

    assert "已校验" not in page.text
    for junk in ("", "not json", json.dumps({"format": "other"})):
        refused = site.client.post("/verify", data={"receipt": junk})
        assert refused.status_code == 200 and "未通过校验" in refused.text
    english = site.client.post("/verify", params={"lang": "en"}, data={"receipt": json.dumps(receipt)})
    assert "is not in the log at leaf" in english.text
