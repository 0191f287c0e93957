"""Import and receipt screens of the console, on SQLite and PostgreSQL: an upload with a bad row is
refused whole and written whole once fixed, the same file again records nothing twice, the mapping
is remembered; a donation's receipt PDF carries its receipt, which verifies offline; a month prints."""

from __future__ import annotations

from pathlib import Path

from apisite import TOWN
from consolesite import ConsoleSite, console_fixture, hidden  # noqa: F401  (the fixture)

from ledger.receipts import verify_receipt

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "imports"


def _upload(console: ConsoleSite, client, kind: str, data: bytes, filename: str, fields: dict, mapping: bytes | None):
    page = client.get(f"/console/import/{kind}")
    files = {"file": (filename, data, "text/csv")}
    if mapping is not None:
        files["mapping_file"] = ("mapping.toml", mapping, "application/toml")
    return client.post(f"/console/import/{kind}", data={"csrf": hidden(page.text, "csrf"), **fields}, files=files)


def _commit(client, preview_html: str, kind: str):
    return client.post(f"/console/import/{kind}/commit",
                       data={"csrf": hidden(preview_html, "csrf"), "token": hidden(preview_html, "token")})


def test_a_donation_list_with_a_bad_row_is_refused_whole_then_imported_once_when_fixed(console):
    client = console.as_role("accountant")
    fund = console.site.fund()
    good = (FIXTURES / "platform-gongyi.csv").read_bytes()
    bad = good.replace(b"18.80", b"18.8x0")
    mapping = (FIXTURES / "platform-gongyi.toml").read_bytes()
    before = console.site.head()
    preview = _upload(console, client, "donations", bad, "orders.csv", {"fund": fund}, mapping)
    assert preview.status_code == 200
    assert 'data-status="error"' in preview.text and 'id="commit"' not in preview.text
    assert 'data-row="4" data-status="error"' in preview.text  # the spreadsheet's own row number
    assert console.site.head() == before
    fixed = _upload(console, client, "donations", good, "orders.csv", {"fund": fund}, mapping)
    assert 'data-status="error"' not in fixed.text and 'id="commit"' in fixed.text
    assert console.site.head() == before, "a preview writes nothing"
    done = _commit(client, fixed.text, "donations")
    assert done.status_code == 200 and 'id="imported"' in done.text
    balance = console.ledger.fund(fund).balance
    assert balance == 5000 + 20000 + 1880 + 100000 + 8800 + 6666
    # the same file again, through the now-remembered mapping: nothing new, nothing twice
    page = client.get("/console/import/donations").text
    assert "gongyi-platform" in page
    again = _upload(console, client, "donations", good, "orders.csv",
                    {"fund": fund, "mapping_name": "gongyi-platform"}, None)
    assert 'id="count-new">0<' in again.text and 'id="commit"' not in again.text
    assert console.ledger.fund(fund).balance == balance


def test_a_sign_in_sheet_is_imported_by_the_organisations_recorder_only(console):
    s = console.site
    for number, name in [("V0001", "李四"), ("V0002", "王芳"), ("V0003", "赵小兵")]:
        s.ledger.register_volunteer(s.cast.recorder, number, name, TOWN)
    sheet = (FIXTURES / "signin-sheet.csv").read_bytes()
    mapping = (FIXTURES / "signin-sheet.toml").read_bytes()
    accountant = console.as_role("accountant")
    assert accountant.get("/console/import/hours").status_code == 403
    recorder = console.as_role("recorder")
    wrong = _upload(console, recorder, "hours", sheet.replace("赵小兵".encode(), "赵大兵".encode()), "sheet.csv", {},
                    mapping)
    assert 'data-row="5" data-status="error"' in wrong.text and 'id="commit"' not in wrong.text
    preview = _upload(console, recorder, "hours", sheet, "sheet.csv", {}, mapping)
    assert preview.status_code == 200 and 'id="count-new">4<' in preview.text, preview.text[-3000:]
    before = s.head()
    done = _commit(recorder, preview.text, "hours")
    assert done.status_code == 200 and s.head() == before + 4
    assert sum(1 for v in ("V0001", "V0002", "V0003") for _ in s.ledger.volunteer(v).sessions) == 4


def test_a_donation_receipt_pdf_verifies_offline_and_a_month_prints(console):
    from api.receipt_document import receipt_from_pdf

    s = console.site
    client = console.as_role("accountant")
    fund = s.fund()
    position = s.ledger.record_donation(s.cast.accountant, fund, 123456, donor_type="resident",
                                        donor_name="赵钱孙").positions[0]
    page = client.get(f"/console/receipts/{position}")
    assert page.status_code == 200 and "壹仟贰佰叁拾肆元伍角陆分" in page.text and "赵钱孙" in page.text
    pdf = client.get(f"/console/receipts/{position}/receipt.pdf")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    document = __import__("json").loads(receipt_from_pdf(pdf.content))
    log_key = s.ledger.directory().active_keys(s.ledger.origin)[-1].key
    verified = verify_receipt(document, log_key, [])
    assert verified.kind == "donation" and verified.record.payload["amount"] == 123456
    month = s.ledger.read_position(position)[1].received_on[:7]
    listing = client.get(f"/console/receipts?month={month}")
    assert listing.status_code == 200 and str(position) in listing.text
    batch = client.get(f"/console/receipts/month/{month}/receipts.pdf")
    assert batch.status_code == 200 and batch.content.startswith(b"%PDF")
    # another foundation's accountant prints none of ours
    assert console.as_role("other_accountant").get(f"/console/receipts/{position}").status_code == 403
