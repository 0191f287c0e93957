"""The `wushe` command end to end, on SQLite and PostgreSQL: it records, refuses, and verifies."""

from __future__ import annotations

import sqlite3
import stat

import psycopg
import pytest
from agreements import agreement_options


@pytest.fixture
def wushe(cli):
    """Run `wushe` against a fresh ledger; returns a function taking the arguments."""
    run = cli
    run("org", "register", "LELING", "--name", "乐龄互助社", "--kind", "social_organisation",
        "--street-town", "xianxiaxincun", "--as", "root")
    run("principal", "add", "acct", "--name", "会计", "--role", "accountant", "--foundation", "CNCF", "--as", "root")
    run("principal", "add", "appr", "--name", "审批", "--role", "approver", "--foundation", "CNCF", "--as", "root")
    run("fund", "open", "XX-SF", "--name", "仙霞专项基金", "--foundation", "CNCF", "--special",
        "--purpose", "养老服务", "--street-town", "xianxiaxincun", "--domain", "elderly_care",
        *agreement_options(), "--as", "acct")
    run("project", "register", "P1", "--name", "助餐", "--street-town", "xianxiaxincun", "--domain", "elderly_care",
        "--organisation", "LELING", "--budget", "5000", "--funding-source", "fund", "--approval-ref", "长民〔2026〕1号",
        "--starts-on", "2026-01-01", "--ends-on", "2026-12-31", "--reach", "500", "--as", "acct")
    return run


def _head(database_url: str) -> int:
    from ledger.application import Ledger

    ledger = Ledger(database_url=database_url)
    try:
        return ledger.recorder.max_notification_id() or 0
    finally:
        ledger.close()


def test_init_writes_private_keys_0600_and_refuses_a_second_init(wushe, tmp_path):
    key = tmp_path / "data" / "keys" / "root.key"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "data" / "keys" / "acct.key").stat().st_mode) == 0o600
    again = wushe("init", ok=False)
    assert again.exit_code == 1
    assert "already initialised" in again.output


def test_donation_then_disbursement_then_log_verifies(wushe):
    wushe("donation", "record", "--fund", "XX-SF", "--amount", "1200.50", "--donor-type", "resident",
          "--donor-name", "张三", "--as", "acct")
    request = wushe("disbursement", "request", "--fund", "XX-SF", "--amount", "1000", "--project", "P1",
                    "--purpose", "一期", "--as", "acct")
    number = request.output.split("recorded disbursement request: ")[1].split()[0]
    wushe("disbursement", "approve", number, "--approval-ref", "批-1", "--as", "appr")
    wushe("disbursement", "pay", number, "--as", "acct")
    shown = wushe("fund", "show", "XX-SF")
    assert "¥200.50" in shown.output
    verified = wushe("log", "--verify", "--limit", "0")
    assert "signed and valid" in verified.output


def test_bad_amount_is_refused_with_the_field_named_and_nothing_written(wushe, database_url):
    before = _head(database_url)
    for bad in ("-5", "1.234", "abc", "0"):
        result = wushe("donation", "record", "--fund", "XX-SF", "--amount", bad, "--donor-type", "resident",
                       "--as", "acct", ok=False)
        assert result.exit_code == 1
        assert "amount" in result.output
    assert _head(database_url) == before


def test_overdraft_and_self_approval_are_refused_with_clear_messages(wushe, database_url):
    wushe("donation", "record", "--fund", "XX-SF", "--amount", "100", "--donor-type", "business",
          "--donor-name", "某公司", "--as", "acct")
    before = _head(database_url)
    over = wushe("disbursement", "request", "--fund", "XX-SF", "--amount", "100.01", "--project", "P1",
                 "--purpose", "超支", "--as", "acct", ok=False)
    assert over.exit_code == 1
    assert "no-overdraft" in over.output and "余额" in over.output
    assert _head(database_url) == before
    # a principal with both roles still cannot approve their own request
    wushe("principal", "add", "both", "--name", "身兼两职", "--role", "accountant", "--role", "approver",
          "--foundation", "CNCF", "--as", "root")
    request = wushe("disbursement", "request", "--fund", "XX-SF", "--amount", "50", "--project", "P1",
                    "--purpose", "一期", "--as", "both")
    number = request.output.split("recorded disbursement request: ")[1].split()[0]
    before = _head(database_url)
    own = wushe("disbursement", "approve", number, "--approval-ref", "批-2", "--as", "both", ok=False)
    assert own.exit_code == 1
    assert "maker-checker" in own.output
    assert _head(database_url) == before


def test_off_purpose_spending_of_a_special_fund_is_refused(wushe, database_url):
    wushe("donation", "record", "--fund", "XX-SF", "--amount", "500", "--donor-type", "resident", "--as", "acct")
    before = _head(database_url)
    result = wushe("disbursement", "request", "--fund", "XX-SF", "--amount", "10", "--kind", "allowance",
                   "--payee", "某社工", "--domain", "child_welfare", "--street-town", "xianxiaxincun",
                   "--purpose", "津贴", "--as", "acct", ok=False)
    assert result.exit_code == 1
    assert "restricted-purpose" in result.output
    assert _head(database_url) == before


def test_missing_actor_and_unknown_fund_exit_non_zero(wushe):
    no_actor = wushe("donation", "record", "--fund", "XX-SF", "--amount", "1", "--donor-type", "resident", ok=False)
    assert no_actor.exit_code == 2
    unknown = wushe("donation", "record", "--fund", "NOPE", "--amount", "1", "--donor-type", "resident",
                    "--as", "acct", ok=False)
    assert unknown.exit_code == 1
    assert "NOPE" in unknown.output


def _flip_byte_in_latest_donation(database_url: str) -> None:
    if database_url.startswith("sqlite"):
        query = "SELECT state FROM stored_events WHERE topic = 'Fund.DonationReceived'"
        path = database_url.removeprefix("sqlite:///")
        with sqlite3.connect(path) as conn:
            (state,) = conn.execute(query).fetchone()
            tampered = bytes(state).replace(b'"amount":100000', b'"amount":900000')
            assert tampered != bytes(state)
            conn.execute("UPDATE stored_events SET state = ? WHERE topic = 'Fund.DonationReceived'", (tampered,))
    else:
        base, schema = database_url.split("?schema=")
        with psycopg.connect(base, autocommit=True) as conn:
            conn.execute(f'SET search_path TO "{schema}"')
            table = "wusheledger_events"  # eventsourcing names the PostgreSQL table after the application
            (state,) = conn.execute(f"SELECT state FROM {table} WHERE topic = 'Fund.DonationReceived'").fetchone()
            tampered = bytes(state).replace(b'"amount":100000', b'"amount":900000')
            assert tampered != bytes(state)
            conn.execute(f"UPDATE {table} SET state = %s WHERE topic = 'Fund.DonationReceived'", (tampered,))


def test_log_verify_names_a_tampered_event_and_exits_non_zero(wushe, database_url):
    wushe("donation", "record", "--fund", "XX-SF", "--amount", "1000", "--donor-type", "resident", "--as", "acct")
    assert "signed and valid" in wushe("log", "--verify", "--limit", "0").output
    _flip_byte_in_latest_donation(database_url)
    result = wushe("log", "--verify", "--limit", "0", ok=False)
    assert result.exit_code == 1
    assert "fund:XX-SF" in result.output and "Fund.DonationReceived" in result.output
    assert "signature does not verify" in result.output
    assert "1 of" in result.output


@pytest.fixture
def bare(database_url, tmp_path, monkeypatch):
    """`wushe` against a ledger just initialised, nothing else (as `make run` seeds the demo)."""
    from typer.testing import CliRunner

    from wushe.cli import app

    monkeypatch.setenv("WUSHE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("WUSHE_DATABASE_URL", database_url)
    monkeypatch.delenv("WUSHE_ACTOR", raising=False)
    runner = CliRunner()
    assert runner.invoke(app, ["init"]).exit_code == 0
    return lambda *args: runner.invoke(app, list(args))


@pytest.mark.parametrize("args", [("--years", "0"), ("--years", "-2"), ("--scale", "-1", "--years", "2"),
                                  ("--scale", "0"), ("--years", "ten")])
def test_demo_refuses_a_bad_scale_or_years_and_writes_nothing(bare, database_url, args):
    before = _head(database_url)
    result = bare("demo", *args)
    assert result.exit_code != 0
    assert "--years" in result.output or "--scale" in result.output
    assert _head(database_url) == before


def test_demo_years_writes_a_year_in_bulk_that_verifies_and_refuses_a_second_run(bare, database_url):
    result = bare("demo", "--years", "1", "--seed", "5")
    assert result.exit_code == 0, result.output
    assert "'key_rotations': 1" in result.output and "giving_day_donations" in result.output
    assert bare("log", "--verify").exit_code == 0
    head = _head(database_url)
    again = bare("demo", "--years", "1")
    assert again.exit_code == 1 and "演示数据已存在" in again.output
    assert _head(database_url) == head


def test_log_listing_from_a_later_position_judges_each_event_by_the_directory_at_that_point(wushe, database_url):
    position = int(wushe("donation", "record", "--fund", "XX-SF", "--amount", "1000", "--donor-type", "resident",
                         "--as", "acct").output.split("#")[-1].split(")")[0])
    listed = wushe("log", "--start", str(position - 2), "--limit", "5")
    assert "✗" not in listed.output and "genesis" not in listed.output
    assert listed.output.count("✓") == 3  # the rows from position - 2 to the head
    assert f"{position}" in listed.output and "Fund.DonationReceived" in listed.output

    _flip_byte_in_latest_donation(database_url)
    failed = wushe("log", "--start", str(position - 1), "--limit", "5", ok=False)
    assert failed.exit_code == 1  # a real failure, and only that, exits non-zero
    assert "signature does not verify" in failed.output and f"#{position}" in failed.output
    assert wushe("log", "--start", "2", "--limit", str(position - 2)).exit_code == 0  # the events before it verify


def test_a_special_fund_without_its_agreement_exits_non_zero_and_writes_nothing(wushe, database_url):
    before = _head(database_url)
    bare = wushe("fund", "open", "XX-SF2", "--name", "另一专项基金", "--foundation", "CNCF", "--special",
                 "--purpose", "养老服务", "--agreement-ref", "协议-2", "--as", "acct", ok=False)
    assert bare.exit_code == 1 and "agreement" in bare.output
    half = wushe("fund", "open", "XX-SF2", "--name", "另一专项基金", "--foundation", "CNCF", "--special",
                 "--purpose", "养老服务", "--agreement-ref", "协议-2", "--agreement-use", "养老项目", "--as", "acct", ok=False)
    assert half.exit_code == 1 and "agreement.termination" in half.output
    assert _head(database_url) == before
