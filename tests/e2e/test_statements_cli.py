"""`wushe statements`, `wushe disclosures` and the accountant's new records end to end, on SQLite
and PostgreSQL: files in the official layout, text never a formula, bad input refused in Chinese
and English with nothing written."""

from __future__ import annotations

import json
import shutil

import openpyxl
import pytest


@pytest.fixture
def wushe(cli):
    run = cli
    run("principal", "add", "acct", "--name", "会计", "--role", "accountant", "--foundation", "CNCF", "--as", "root")
    run("principal", "add", "appr", "--name", "审批", "--role", "approver", "--foundation", "CNCF", "--as", "root")
    run("fund", "open", "GEN", "--name", "=HYPERLINK(\"http://x\")", "--foundation", "CNCF", "--street-town",
        "xinhualu", "--as", "acct")
    run("fund", "open", "SF", "--name", "助老专项", "--foundation", "CNCF", "--special", "--purpose", "助老",
        "--street-town", "xinhualu", "--domain", "elderly_care", "--agreement-ref", "协议1", "--agreement-use", "助老",
        "--agreement-termination", "满一年", "--agreement-leftover", "转入相近用途", "--fee-rate", "5", "--as", "acct")
    run("donation", "record", "--fund", "GEN", "--amount", "1000", "--donor-type", "resident", "--date", "2026-02-01",
        "--as", "acct")
    run("donation", "record", "--fund", "SF", "--amount", "240", "--donor-type", "business", "--method", "in_kind",
        "--in-kind", "轮椅", "--in-kind-basis", "receipt", "--quantity", "2", "--unit", "台", "--date", "2026-02-02",
        "--as", "acct")
    run("income", "record", "--fund", "GEN", "--amount", "1.23", "--kind", "interest", "--payer", "银行",
        "--date", "2026-03-31", "--as", "acct")
    run("contract", "sign", "--fund", "GEN", "--contract", "C1", "--buyer", "新华路街道", "--document-ref", "合同1",
        "--milestone", "启动=300", "--date", "2026-03-01", "--as", "acct")
    run("contract", "payment", "--fund", "GEN", "--contract", "C1", "--amount", "300", "--date", "2026-03-02",
        "--as", "acct")
    run("contract", "deliver", "--fund", "GEN", "--contract", "C1", "--milestone", "启动", "--date", "2026-04-01",
        "--as", "acct")
    run("goods", "distribute", "--fund", "SF", "--amount", "240", "--description", "轮椅发放", "--quantity", "2",
        "--target", "own", "--domain", "elderly_care", "--street-town", "xinhualu", "--date", "2026-04-02",
        "--as", "acct")
    return run


def test_statements_as_xlsx_and_json(wushe, tmp_path):
    done = wushe("statements", "--year", "2026", "--foundation", "CNCF", "--format", "xlsx",
                 "--out", str(tmp_path / "s.xlsx"))
    assert "ties out" in done.output
    book = openpyxl.load_workbook(tmp_path / "s.xlsx")
    assert book.sheetnames[:3] == ["01资产负债表", "02业务活动表", "03现金流量表"] and "01资产负债表 SF" in book.sheetnames
    bs = book["01资产负债表"]
    cells = {row[0]: row[1:4] for row in bs.iter_rows(min_row=6, values_only=True) if row[0]}
    assert cells["货币资金"][0] == 1 and float(cells["货币资金"][2]) == 1301.23
    act = book["02业务活动表"]
    rows = {row[0]: row for row in act.iter_rows(min_row=7, values_only=True) if row[0]}
    assert rows["其中：捐赠收入"][1] == 1 and float(rows["其中：捐赠收入"][7]) == 1240  # 本年累计 合计
    assert float(rows["提供服务收入"][7]) == 300 and float(rows["其他收入"][7]) == 1.23
    assert all(c.data_type != "f" for ws in book for row in ws.iter_rows() for c in row)  # text is never a formula
    wushe("statements", "--year", "2026", "--quarter", "1", "--foundation", "CNCF", "--format", "json",
          "--out", str(tmp_path / "s.json"))
    doc = json.loads((tmp_path / "s.json").read_text(encoding="utf-8"))
    assert doc["period"]["end"] == "2026-03-31" and doc["checks"]["ok"]
    assert {m["scope"]["fund"] for m in doc["memos"]} == {"SF"}


@pytest.mark.skipif(shutil.which("chromium") is None, reason="no headless Chromium to print the PDF")
def test_statements_as_pdf(wushe, tmp_path):
    wushe("statements", "--year", "2026", "--foundation", "CNCF", "--format", "pdf", "--out", str(tmp_path / "s.pdf"))
    assert (tmp_path / "s.pdf").read_bytes()[:5] == b"%PDF-"


def test_bad_statement_requests_are_refused(wushe, tmp_path):
    unknown = wushe("statements", "--year", "2026", "--foundation", "NOPE", "--out", str(tmp_path / "x.xlsx"), ok=False)
    assert unknown.exit_code != 0 and "没有基金会" in unknown.output and "no foundation" in unknown.output
    both = wushe("statements", "--year", "2026", "--month", "2", "--quarter", "1", "--foundation", "CNCF",
                 "--out", str(tmp_path / "x.xlsx"), ok=False)
    assert both.exit_code != 0 and "月份与季度只能选一" in both.output
    assert not (tmp_path / "x.xlsx").exists()


def test_publications_make_the_disclosure_calendar(wushe):
    wushe("fund", "terminate", "SF", "--reason", "期满", "--date", "2026-06-30", "--as", "acct")  # no money left
    due = json.loads(wushe("disclosures", "--on", "2026-08-01", "--json").output)
    leftover = [d for d in due if d["item"] == "leftover"]
    assert leftover == [dict(leftover[0], subject="SF", due="2026-09-30", status="due")]
    wushe("publish", "--foundation", "CNCF", "--item", "leftover", "--subject", "SF", "--title", "剩余财产处理情况",
          "--where", "慈善中国", "--date", "2026-07-20", "--as", "acct")
    done = json.loads(wushe("disclosures", "--on", "2026-12-01", "--json").output)
    assert [d["status"] for d in done if d["item"] == "leftover"] == ["on_time"]
    refused = wushe("publish", "--foundation", "CNCF", "--item", "gossip", "--subject", "x", "--title", "t",
                    "--where", "w", "--as", "acct", ok=False)
    assert refused.exit_code != 0 and "item" in refused.output
