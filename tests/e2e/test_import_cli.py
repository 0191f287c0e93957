"""`wushe import donations|hours|mappings` end to end on SQLite and PostgreSQL: a dry run writes
nothing, a refused file exits 1 naming rows and columns in Chinese and English and writes nothing,
the same file again records nothing, and a remembered mapping is used by name."""

from __future__ import annotations

import json

import pytest
from importkit import FIXTURES, csv_rows, to_csv

from ledger.application import Ledger
from ledger.settings import Settings

PLATFORM, PLATFORM_MAP = str(FIXTURES / "platform-gongyi.csv"), str(FIXTURES / "platform-gongyi.toml")


@pytest.fixture
def wushe(cli):
    cli("principal", "add", "acct", "--name", "会计", "--role", "accountant", "--foundation", "CNCF", "--as", "root")
    cli("fund", "open", "GEN", "--name", "综合基金", "--foundation", "CNCF", "--street-town", "xianxiaxincun",
        "--as", "acct")
    return cli


def events(database_url: str, tmp_path) -> int:
    ledger = Ledger(Settings(data_dir=tmp_path / "data"), database_url=database_url)
    try:
        return ledger.recorder.max_notification_id() or 0
    finally:
        ledger.close()


def donations(wushe, *args: str, ok: bool = True):
    return wushe("import", "donations", *args, "--fund", "GEN", "--as", "acct", ok=ok)


def test_dry_run_then_import_then_again_records_once(wushe, database_url, tmp_path):
    before = events(database_url, tmp_path)
    preview = donations(wushe, PLATFORM, "--mapping", PLATFORM_MAP, "--dry-run")
    assert "新 new 6, ¥1,423.46" in preview.output and "nothing was written" in preview.output
    assert events(database_url, tmp_path) == before
    done = donations(wushe, PLATFORM, "--mapping", PLATFORM_MAP)
    assert f"log #{before + 1}–#{before + 6}" in done.output and "remembered" in done.output
    again = donations(wushe, PLATFORM, "--mapping", "gongyi-platform")  # remembered, used by its name
    assert "已导入 already imported 6" in again.output and "nothing new" in again.output
    assert events(database_url, tmp_path) == before + 6
    listed = wushe("import", "mappings", "--foundation", "CNCF")
    assert "gongyi-platform (donations)" in listed.output and "reference=订单号" in listed.output


def test_a_refused_file_exits_1_names_rows_and_columns_and_writes_nothing(wushe, database_url, tmp_path):
    rows = csv_rows("platform-gongyi.csv")
    rows[2][2], rows[4][0] = "=1+2", rows[1][0]
    bad = tmp_path / "bad.csv"
    bad.write_bytes(to_csv(rows))
    before = events(database_url, tmp_path)
    report = tmp_path / "report.json"
    result = donations(wushe, str(bad), "--mapping", PLATFORM_MAP, "--report", str(report), ok=False)
    assert result.exit_code == 1
    out = " ".join(result.output.split())
    assert "导入被拒绝，未写入任何记录" in out and "import refused, nothing written" in out
    assert "invalid-amount" in out and "import-reference-repeated" in out and "捐赠金额" in out
    assert events(database_url, tmp_path) == before
    doc = json.loads(report.read_text())
    assert doc["committed"] is False and doc["counts"] == {"new": 4, "duplicate": 0, "error": 2}
    assert [r["row"] for r in doc["rows"] if r["status"] == "error"] == [3, 5]
    dry = donations(wushe, str(bad), "--mapping", PLATFORM_MAP, "--dry-run", ok=False)
    assert dry.exit_code == 1  # a dry run that finds refused rows says so with its exit code too


def test_unknown_mapping_and_unreadable_files_exit_non_zero(wushe, tmp_path):
    missing = donations(wushe, PLATFORM, "--mapping", "no-such", ok=False)
    assert missing.exit_code == 1 and "not-found" in missing.output
    junk = tmp_path / "junk.xlsx"
    junk.write_bytes(b"PK\x03\x04 not really a workbook")
    unreadable = donations(wushe, str(junk), "--mapping", PLATFORM_MAP, ok=False)
    assert unreadable.exit_code == 1 and "XLSX" in unreadable.output
    absent = donations(wushe, str(tmp_path / "absent.csv"), "--mapping", PLATFORM_MAP, ok=False)
    assert absent.exit_code == 2


def test_a_recorder_imports_a_sign_in_sheet_for_their_organisation(wushe):
    wushe("org", "register", "LELING", "--name", "乐龄互助社", "--kind", "social_organisation", "--street-town",
          "xianxiaxincun", "--as", "root")
    wushe("principal", "add", "rec", "--name", "记录员", "--role", "recorder", "--organisation", "LELING", "--as", "root")
    for number, name in (("V0001", "李四"), ("V0002", "王芳"), ("V0003", "赵小兵")):
        wushe("volunteer", "register", number, "--name", name, "--street-town", "xianxiaxincun", "--as", "rec")
    sheet, sheet_map = str(FIXTURES / "signin-sheet.csv"), str(FIXTURES / "signin-sheet.toml")
    done = wushe("import", "hours", sheet, "--mapping", sheet_map, "--as", "rec")
    assert "新 new 4" in done.output and "imported 4 row(s)" in done.output
    again = wushe("import", "hours", sheet, "--mapping", "signin-sheet", "--as", "rec")
    assert "already imported 4" in again.output
    refused = wushe("import", "hours", sheet, "--mapping", sheet_map, "--organisation", "LELING", "--as", "acct",
                    ok=False)
    assert refused.exit_code == 1 and "not-authorised" in refused.output
