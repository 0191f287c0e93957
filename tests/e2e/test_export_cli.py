"""`wushe export` end to end, on SQLite and PostgreSQL: every format written, bad input refused."""

from __future__ import annotations

import csv
import json

import openpyxl
import pytest
from agreements import agreement_options


@pytest.fixture
def wushe(cli):
    """A ledger with a special fund, a named donor's gift, a paid project and a volunteer session."""
    run = cli
    run("org", "register", "LELING", "--name", "乐龄互助社", "--kind", "social_organisation",
        "--street-town", "xianxiaxincun", "--community", "虹古居委", "--registered-on", "2025-01-01", "--as", "root")
    run("principal", "add", "acct", "--name", "会计", "--role", "accountant", "--foundation", "CNCF", "--as", "root")
    run("principal", "add", "appr", "--name", "审批", "--role", "approver", "--foundation", "CNCF", "--as", "root")
    run("principal", "add", "rec", "--name", "记录员", "--role", "recorder", "--organisation", "LELING", "--as", "root")
    run("fund", "open", "XX-SF", "--name", "仙霞专项基金", "--foundation", "CNCF", "--special",
        "--purpose", "养老服务", "--street-town", "xianxiaxincun", "--domain", "elderly_care",
        *agreement_options(), "--as", "acct")
    run("project", "register", "P1", "--name", "助餐", "--street-town", "xianxiaxincun", "--domain", "elderly_care",
        "--organisation", "LELING", "--budget", "5000", "--funding-source", "fund", "--approval-ref", "长民〔2026〕1号",
        "--starts-on", "2026-01-01", "--ends-on", "2026-12-31", "--reach", "500", "--as", "acct")
    run("donation", "record", "--fund", "XX-SF", "--amount", "1200.50", "--donor-type", "resident",
        "--donor-name", "张三", "--date", "2026-03-01", "--as", "acct")
    request = run("disbursement", "request", "--fund", "XX-SF", "--amount", "1000", "--project", "P1",
                  "--purpose", "一期", "--date", "2026-03-05", "--as", "acct")
    number = request.output.split("recorded disbursement request: ")[1].split()[0]
    run("disbursement", "approve", number, "--approval-ref", "批-1", "--date", "2026-03-05", "--as", "appr")
    run("disbursement", "pay", number, "--date", "2026-03-06", "--as", "acct")
    run("volunteer", "register", "V001", "--name", "李四", "--street-town", "xianxiaxincun", "--as", "rec")
    run("hours", "record", "--volunteer", "V001", "--organisation", "LELING", "--domain", "elderly_care",
        "--date", "2026-03-02", "--start", "09:00", "--end", "11:30", "--content", "助餐送餐", "--as", "rec")
    return run


PERIOD = ("--from", "2026-01-01", "--to", "2026-06-30")


def test_export_json_xlsx_csv_and_ledger(wushe, tmp_path):
    done = wushe("export", "--format", "json", *PERIOD, "--street-town", "xianxiaxincun", "--out",
                 str(tmp_path / "r.json"))
    assert "exported" in done.output and "已导出" in done.output
    report = json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))
    assert report["street_town"]["code"] == "xianxiaxincun"
    assert report["income"]["total_yuan"] == "1200.50" and report["spending"]["total_yuan"] == "1000.00"
    assert report["projects"]["rows"][0]["approval_ref"] == "长民〔2026〕1号"
    assert report["hours"]["minutes"] == 150 and report["special_funds"]["rows"][0]["balance_yuan"] == "200.50"

    wushe("export", "--format", "xlsx", *PERIOD, "--out", str(tmp_path / "r.xlsx"))
    book = openpyxl.load_workbook(tmp_path / "r.xlsx")
    summary = {row[0]: row[3] for row in book["概要 Summary"].iter_rows(min_row=2, values_only=True)}
    assert summary["income_total"] == 1200.5 and summary["spending_total"] == 1000

    wushe("export", "--format", "csv", *PERIOD, "--out", str(tmp_path / "csv"))
    raw = (tmp_path / "csv" / "02-income.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    with (tmp_path / "csv" / "02-income.csv").open(encoding="utf-8-sig", newline="") as f:
        assert any(r["金额（元） Amount (yuan)"] == "1200.50" for r in csv.DictReader(f))

    journal = wushe("export", "--format", "ledger", *PERIOD, "--out", str(tmp_path / "j.ledger"))
    assert "whole log" in journal.output
    text = (tmp_path / "j.ledger").read_text(encoding="utf-8")
    assert "Assets:Funds:XX-SF" in text and "1200.50 CNY" in text and "150 MIN" in text

    everything = [(tmp_path / "r.json").read_text(encoding="utf-8"), text]
    everything += [p.read_text(encoding="utf-8-sig") for p in (tmp_path / "csv").iterdir()]
    everything += [str(c) for ws in book for row in ws.iter_rows(values_only=True) for c in row]
    assert not [t for t in everything if "张三" in t or "李四" in t]


def test_export_defaults_to_this_year_for_the_whole_district(wushe, tmp_path):
    wushe("export", "--format", "json", "--out", str(tmp_path / "r.json"))
    report = json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))
    assert report["street_town"] is None
    assert report["period"]["start"].endswith("-01-01") and report["period"]["start"] <= report["period"]["end"]


@pytest.mark.parametrize(
    ("args", "code", "says"),
    [
        (("--format", "json", "--street-town", "atlantis"), 1, "unknown street-town"),
        (("--format", "csv", "--from", "2026-05-01", "--to", "2026-04-30"), 1, "before it starts"),
        (("--format", "pdf"), 2, "unknown format"),
        (("--format", "json", "--from", "2026-02-30"), 2, "not a date"),
    ],
)
def test_export_refuses_bad_input_with_a_clear_message(wushe, tmp_path, args, code, says):
    result = wushe("export", *args, "--out", str(tmp_path / "out"), ok=False)
    assert result.exit_code == code, result.output
    assert says in " ".join(result.output.split())
    assert not (tmp_path / "out").exists()


def test_export_into_a_missing_directory_fails_and_names_it(wushe, tmp_path):
    result = wushe("export", "--format", "json", "--out", str(tmp_path / "nowhere" / "r.json"), ok=False)
    assert result.exit_code == 2
    assert "nowhere" in result.output


def test_projections_rebuild_after_a_checkpoint_and_with_every_signature(wushe, tmp_path):
    wushe("checkpoint")
    wushe("hours", "record", "--volunteer", "V001", "--organisation", "LELING", "--domain", "elderly_care",
          "--date", "2026-03-03", "--start", "09:00", "--end", "10:00", "--content", "探访", "--as", "rec")
    done = wushe("projections", "rebuild").output
    events = int(done.split("from ")[1].split()[0])
    assert "lag 0 " in wushe("projections", "status").output
    assert wushe("projections", "rebuild", "--verify-all").output == done
    wushe("export", "--format", "json", *PERIOD, "--street-town", "xianxiaxincun", "--out", str(tmp_path / "r.json"))
    report = json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))
    assert report["hours"]["minutes"] == 210 and report["income"]["total_yuan"] == "1200.50"
    assert f"of {events};" in wushe("projections", "status").output
