"""Donation receipts as PDF documents, on SQLite and PostgreSQL: `wushe receipt N --pdf` prints the
foundation, number, donor, the amount in figures and in capital numerals, and carries the receipt
JSON, which verifies offline (`wushe verify receipt` takes the PDF or the JSON); a reversed donation
gets none; `wushe receipts month` prints a foundation's month, one A4 page per gift."""

from __future__ import annotations

import io
import json
import shutil
import unicodedata

import pytest
from agreements import agreement_options
from pypdf import PdfReader

from ledger.receipts import verify_receipt
from ledger.signing import VerifierKey

needs_chromium = pytest.mark.skipif(shutil.which("chromium") is None,
                                    reason="headless Chromium is not installed (.ci/run installs it)")
A4 = (595, 842)


@pytest.fixture
def wushe(cli):
    cli("org", "register", "OTHERF", "--name", "另一家基金会", "--kind", "foundation", "--street-town", "hongqiao",
        "--as", "root")
    for handle, foundation in (("acct", "CNCF"), ("acct-o", "OTHERF")):
        cli("principal", "add", handle, "--name", f"会计{handle}", "--role", "accountant", "--foundation", foundation,
            "--as", "root")
    cli("fund", "open", "ELDER", "--name", "仙霞助老专项基金", "--foundation", "CNCF", "--special", "--purpose",
        "养老服务", "--street-town", "xianxiaxincun", "--domain", "elderly_care", *agreement_options(),
        "--as", "acct")
    cli("fund", "open", "OF", "--name", "另一基金", "--foundation", "OTHERF", "--street-town", "hongqiao",
        "--as", "acct-o")
    return cli


def donate(wushe, amount: str, day: str, fund: str = "ELDER", actor: str = "acct", name: str = "张小明") -> int:
    out = wushe("donation", "record", "--fund", fund, "--amount", amount, "--donor-type", "resident",
                "--donor-name", name, "--date", day, "--as", actor).output
    return int(out.rsplit("#", 1)[1].split(")")[0])


def text_of(pdf: bytes) -> list[str]:
    """Each page's text. Chromium maps some of Noto CJK's shared glyphs to their Kangxi radical code
    points (⼈ for 人); NFKC takes them back, and the capital numerals are none of those."""
    return [unicodedata.normalize("NFKC", page.extract_text()) for page in PdfReader(io.BytesIO(pdf)).pages]


def log_key(tmp_path) -> VerifierKey:
    return VerifierKey.from_vkey(next((tmp_path / "data" / "keys").glob("wushe.example*.pub")).read_text())


@needs_chromium
def test_a_donation_receipt_pdf_shows_the_amount_in_words_and_verifies_offline(wushe, tmp_path):
    position = donate(wushe, "10000.05", "2026-11-03")
    pdf, js = tmp_path / "r.pdf", tmp_path / "r.json"
    printed = wushe("receipt", str(position), "--pdf", str(pdf), "--out", str(js))
    assert "人民币壹万元零伍分" in printed.output
    data = pdf.read_bytes()
    (page,) = PdfReader(io.BytesIO(data)).pages
    assert tuple(round(float(x)) for x in page.mediabox[2:]) == A4
    (text,) = text_of(data)
    for expected in ("壹万元零伍分", "¥10,000.05", "张小明", f"CNCF-2026-{position:08d}", "捐赠收据", "Donation Receipt",
                     "仙霞助老专项基金", "养老服务", "2026年11月3日"):
        assert expected in text, expected
    assert b"CJK" in data  # the embedded subset font
    attached = PdfReader(io.BytesIO(data)).attachments["wushe-receipt.json"][0]
    assert json.loads(attached) == json.loads(js.read_text())  # the PDF carries the very receipt written
    verified = verify_receipt(attached, log_key(tmp_path))  # nothing but the log key
    assert verified.kind == "donation" and verified.record.payload["amount"] == 1_000_005
    for target in (pdf, js):
        assert "verified 校验通过" in wushe("verify", "receipt", str(target)).output


def test_a_reversed_donation_gets_no_receipt_and_nothing_is_written(wushe, tmp_path):
    position = donate(wushe, "88.00", "2026-11-04")
    wushe("correct", str(position), "--reason", "重复录入", "--as", "acct")
    pdf = tmp_path / "r.pdf"
    refused = wushe("receipt", str(position), "--pdf", str(pdf), ok=False)
    assert refused.exit_code == 1 and not pdf.exists()
    assert "已被更正冲正，不出具收据" in refused.output and "was reversed" in refused.output
    nothing = wushe("receipts", "month", "2026-11", "--foundation", "CNCF", "--pdf", str(pdf), ok=False)
    assert nothing.exit_code == 1 and not pdf.exists()  # its only gift of the month was reversed


@needs_chromium
def test_a_month_of_a_foundation_s_receipts_in_one_pdf(wushe, tmp_path):
    first = donate(wushe, "50.00", "2026-11-09")
    second = donate(wushe, "1000.00", "2026-11-02", name="上海某某餐饮有限公司")
    reversed_ = donate(wushe, "20.00", "2026-11-05")
    wushe("correct", str(reversed_), "--reason", "退款", "--as", "acct")
    donate(wushe, "30.00", "2026-10-31")  # another month
    donate(wushe, "40.00", "2026-11-03", fund="OF", actor="acct-o")  # another foundation
    pdf, out = tmp_path / "month.pdf", tmp_path / "receipts"
    done = wushe("receipts", "month", "2026-11", "--foundation", "CNCF", "--pdf", str(pdf), "--json-dir", str(out))
    assert "2 receipt(s)" in done.output and "¥1,050.00" in done.output and f"#{reversed_}" in done.output
    pages = text_of(pdf.read_bytes())
    assert len(pages) == 2  # one A4 page each, in date order
    assert f"CNCF-2026-{second:08d}" in pages[0] and "壹仟元整" in pages[0]
    assert f"CNCF-2026-{first:08d}" in pages[1] and "伍拾元整" in pages[1]
    key = log_key(tmp_path)
    files = sorted(out.glob("*.json"))
    assert [f.stem for f in files] == sorted([f"CNCF-2026-{first:08d}", f"CNCF-2026-{second:08d}"])
    assert all(verify_receipt(f.read_bytes(), key).kind == "donation" for f in files)
    empty = wushe("receipts", "month", "2026-09", "--foundation", "CNCF", "--pdf", str(tmp_path / "e.pdf"), ok=False)
    assert empty.exit_code == 1 and not (tmp_path / "e.pdf").exists()
    bad = wushe("receipts", "month", "2026-13", "--foundation", "CNCF", "--pdf", str(tmp_path / "e.pdf"), ok=False)
    assert bad.exit_code == 1 and "YYYY-MM" in bad.output
