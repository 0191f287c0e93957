"""The statements screen (`/console/statements`): an accountant computes a year's three statements,
sees that they tie out, downloads the XLSX the API and `wushe statements` give; another foundation's
accountant only ever sees their own foundation's. On both stores."""

from __future__ import annotations

import io
import json

from consolesite import console_fixture  # noqa: F401  (the fixture)
from openpyxl import load_workbook

from ledger.statements import Period, ledger_books, statements


def test_an_accountant_computes_and_downloads_the_years_statements(console):
    site = console.site
    fund = site.fund(12_345)
    client = console.as_role("accountant")
    page = client.get("/console/statements?year=2026")
    assert page.status_code == 200
    assert 'id="ties-out" class="ok"' in page.text and "资产负债表" in page.text and "会民非02表" in page.text
    expected = statements(ledger_books(site.ledger), "CNCF", Period.of(2026))
    assert f"#{expected['position']}" in page.text
    got = client.get("/console/statements/file?year=2026&format=json")
    assert got.status_code == 200 and json.loads(got.content) == expected
    xlsx = client.get("/console/statements/file?year=2026&quarter=1&format=xlsx")
    assert xlsx.status_code == 200 and len(load_workbook(io.BytesIO(xlsx.content)).sheetnames) >= 3
    assert fund  # the donation is among what the statements count
    bad = client.get("/console/statements?year=20x6")
    assert bad.status_code == 422 and 'data-rule="invalid-input"' in bad.text


def test_another_foundations_accountant_gets_their_own_books_only(console):
    client = console.as_role("other_accountant")
    got = client.get("/console/statements/file?year=2026&foundation=CNCF&format=json")
    assert got.status_code == 200
    assert json.loads(got.content)["foundation"]["code"] == "OTHERF"
