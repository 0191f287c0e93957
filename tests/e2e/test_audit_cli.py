"""`wushe audit export` and `wushe audit verify` end to end on SQLite and PostgreSQL, with the
standalone reference verifier run as a subprocess against the same bundles."""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from rawsql import RawSQL
from typer.testing import CliRunner

from ledger.application import Ledger
from ledger.settings import Settings
from wushe.cli import app

runner = CliRunner()
REFERENCE = Path(__file__).resolve().parents[2] / "audits" / "reference_verifier.py"


@pytest.fixture
def wushe(database_url, tmp_path, monkeypatch):
    """A ledger with a fund, two donations and a checkpoint."""
    monkeypatch.setenv("WUSHE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("WUSHE_DATABASE_URL", database_url)
    monkeypatch.delenv("WUSHE_ACTOR", raising=False)

    def run(*args: str, code: int = 0):
        result = runner.invoke(app, list(args))
        assert result.exit_code == code, result.output
        return result

    run("init")
    run("org", "register", "CNCF", "--name", "长宁区社区基金会", "--kind", "foundation", "--street-town", "xinhualu",
        "--as", "root")
    run("principal", "add", "acct", "--name", "会计", "--role", "accountant", "--foundation", "CNCF", "--as", "root")
    run("fund", "open", "GEN", "--name", "社区基金", "--foundation", "CNCF", "--street-town", "xinhualu", "--as", "acct")
    for amount in ("120.50", "80"):
        run("donation", "record", "--fund", "GEN", "--amount", amount, "--donor-type", "resident", "--as", "acct")
    run("checkpoint")
    return run


def reference(bundle: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(REFERENCE), str(bundle)], capture_output=True, text=True, timeout=120, check=False)


def donation_line(bundle: Path, amount: bytes) -> tuple[int, dict]:
    lines = (bundle / "events.jsonl").read_text().splitlines()
    for i, line in enumerate(lines):
        record = json.loads(line)
        if amount in base64.b64decode(record["state"]):
            return i, record
    raise LookupError(amount)


def test_export_then_verify_with_reports_and_the_reference_verifier(wushe, tmp_path):
    bundle = tmp_path / "bundle"
    wushe("audit", "export", "--out", str(bundle))
    manifest = json.loads((bundle / "manifest.json").read_text())
    assert manifest["format"] == "wushe-audit-bundle/v1" and manifest["checkpoints"] == 1
    assert manifest["events"] == len((bundle / "events.jsonl").read_text().splitlines())
    done = wushe("audit", "verify", str(bundle), "--json", str(tmp_path / "f.json"), "--html", str(tmp_path / "f.html"),
                 "--workers", "2")
    assert "integrity verified" in done.output
    report = json.loads((tmp_path / "f.json").read_text())
    assert report["format"] == "wushe-audit-findings/v1" and report["summary"]["integrity_ok"] is True
    assert report["summary"]["reports_checked"] == report["summary"]["reports_matched"] > 0
    assert "审计发现报告" in (tmp_path / "f.html").read_text()
    checked = reference(bundle)
    assert checked.returncode == 0, checked.stdout
    assert f"OK: {manifest['events']} events, 1 checkpoints" in checked.stdout


def test_a_tampered_bundle_fails_both_verifiers_naming_the_event(wushe, tmp_path):
    bundle = tmp_path / "bundle"
    wushe("audit", "export", "--out", str(bundle))
    index, record = donation_line(bundle, b'"amount":12050')
    state = base64.b64decode(record["state"]).replace(b'"amount":12050', b'"amount":92050')
    lines = (bundle / "events.jsonl").read_text().splitlines()
    lines[index] = json.dumps(dict(record, state=base64.b64encode(state).decode()))
    (bundle / "events.jsonl").write_text("\n".join(lines) + "\n")
    failed = wushe("audit", "verify", str(bundle), code=1)
    assert f"integrity.modified: event #{record['position']} fund:GEN v2" in failed.output
    assert "integrity check FAILED" in failed.output
    checked = reference(bundle)
    assert checked.returncode == 1
    assert f"#{record['position']} fund:GEN v2: signature does not verify" in checked.stdout
    assert "root hash does not match" in checked.stdout


def test_a_truncated_bundle_fails_the_reference_verifier(wushe, tmp_path):
    bundle = tmp_path / "bundle"
    wushe("audit", "export", "--out", str(bundle))
    lines = (bundle / "events.jsonl").read_text().splitlines()
    (bundle / "events.jsonl").write_text("\n".join(lines[:-1]) + "\n")
    checked = reference(bundle)
    assert checked.returncode == 1 and "(truncated)" in checked.stdout
    assert "integrity.truncated" in wushe("audit", "verify", str(bundle), code=1).output


def test_incremental_audit_from_a_saved_checkpoint_and_a_live_store(wushe, tmp_path, database_url):
    wushe("audit", "export", "--out", str(tmp_path / "first"))
    wushe("audit", "verify", str(tmp_path / "first"), "--save-trust", str(tmp_path / "trusted.note"))
    wushe("donation", "record", "--fund", "GEN", "--amount", "5", "--donor-type", "business", "--as", "acct")
    wushe("checkpoint")
    wushe("audit", "export", "--out", str(tmp_path / "second"))
    done = wushe("audit", "verify", str(tmp_path / "second"), "--trust", str(tmp_path / "trusted.note"))
    assert "1 signatures verified" in done.output and "trusted prefix" in done.output
    live = wushe("audit", "verify", "--database", database_url)
    assert "integrity verified" in live.output


def test_bad_input_is_refused_with_a_clear_message(wushe, tmp_path):
    assert "not both" in wushe("audit", "verify", code=2).output
    assert "not an audit bundle" in wushe("audit", "verify", str(tmp_path), code=2).output
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("x")
    assert "is not empty" in wushe("audit", "export", "--out", str(tmp_path / "full"), code=2).output
    wushe("audit", "export", "--out", str(tmp_path / "bundle"))
    (tmp_path / "bad.note").write_text("wushe.example/changning\n3\nAAAA\n\n— nobody AAAA\n")
    refused = wushe("audit", "verify", str(tmp_path / "bundle"), "--trust", str(tmp_path / "bad.note"), code=2)
    assert "trusted checkpoint does not verify" in refused.output
    assert "not a verifier key" in wushe("audit", "verify", str(tmp_path / "bundle"), "--log-key", "junk",
                                         code=2).output


@pytest.mark.skipif(shutil.which("chromium") is None, reason="headless Chromium is not installed (.ci/run installs it)")
def test_pdf_findings_report_embeds_a_cjk_font(wushe, tmp_path):
    wushe("audit", "export", "--out", str(tmp_path / "bundle"))
    wushe("audit", "verify", str(tmp_path / "bundle"), "--pdf", str(tmp_path / "findings.pdf"))
    pdf = (tmp_path / "findings.pdf").read_bytes()
    assert pdf.startswith(b"%PDF-")
    assert b"CJK" in pdf  # the subset font Chromium embedded for the Chinese text (e.g. NotoSansCJKsc)


def test_a_ledger_with_a_tampered_directory_is_still_exported_and_fails_the_audit(wushe, tmp_path, database_url):
    ledger = Ledger(Settings(data_dir=tmp_path / "data"), database_url=database_url)
    try:
        row = next(n for n in ledger.log_positions()
                   if n.originator_id == "directory" and b'"handle":"acct"' in bytes(n.state))
        raw = RawSQL(ledger, database_url)
        state = bytes(row.state).replace(b'"roles":["accountant"]', b'"roles":["accountant","root"]')
        raw.run((f"UPDATE {raw.table} SET state = ? WHERE {raw.pos} = ?", (state, row.id)))
    finally:
        ledger.close()
    exported = wushe("audit", "export", "--out", str(tmp_path / "bundle"))
    assert "could not be read" in exported.output
    failed = wushe("audit", "verify", str(tmp_path / "bundle"), code=1)
    assert f"integrity.modified: event #{row.id} directory" in failed.output


def test_incremental_audit_from_a_signed_audit_state_of_a_bundle_and_of_the_store(wushe, tmp_path, database_url):
    keys = tmp_path / "auditor"
    wushe("audit", "keygen", "--out", str(keys))
    assert (keys / "auditor.key").stat().st_mode & 0o777 == 0o600
    assert "exists" in wushe("audit", "keygen", "--out", str(keys), code=2).output
    wushe("audit", "export", "--out", str(tmp_path / "first"))
    state, signing, pub = tmp_path / "state", str(keys / "auditor.key"), str(keys / "auditor.pub")
    saved = wushe("audit", "verify", str(tmp_path / "first"), "--save-state", str(state), "--signing-key", signing)
    assert "audit state at size" in saved.output and state.exists()
    wushe("donation", "record", "--fund", "GEN", "--amount", "5", "--donor-type", "business", "--as", "acct")
    wushe("checkpoint")
    wushe("audit", "export", "--out", str(tmp_path / "second"))
    full = wushe("audit", "verify", str(tmp_path / "second"))
    done = wushe("audit", "verify", str(tmp_path / "second"), "--state", str(state), "--auditor-key", pub)
    assert "1 signatures verified" in done.output and "audited state" in done.output
    assert "integrity verified" in done.output
    assert done.output.split("signatures verified")[1].split("findings:")[1] == \
        full.output.split("signatures verified")[1].split("findings:")[1]
    assert "reproduced" in done.output and "/0 published" not in done.output
    live = wushe("audit", "verify", "--database", database_url, "--state", str(state), "--auditor-key", pub,
                 "--save-state", str(tmp_path / "state2"), "--signing-key", signing)
    assert "1 signatures verified" in live.output and "integrity verified" in live.output
    # the state moves on: from the new one there is nothing new to verify
    again = wushe("audit", "verify", "--database", database_url, "--state", str(tmp_path / "state2"), "--auditor-key", pub)
    assert "0 signatures verified" in again.output


def test_a_state_not_the_auditors_or_edited_is_refused(wushe, tmp_path):
    keys = tmp_path / "auditor"
    wushe("audit", "keygen", "--out", str(keys))
    wushe("audit", "keygen", "--out", str(tmp_path / "other"))
    wushe("audit", "export", "--out", str(tmp_path / "b"))
    state = tmp_path / "state"
    assert "--signing-key" in wushe("audit", "verify", str(tmp_path / "b"), "--save-state", str(state), code=2).output
    wushe("audit", "verify", str(tmp_path / "b"), "--save-state", str(state), "--signing-key", str(keys / "auditor.key"))
    other = wushe("audit", "verify", str(tmp_path / "b"), "--state", str(state), "--auditor-key",
                  str(tmp_path / "other" / "auditor.pub"), code=2)
    assert "audit state refused" in other.output and "not signed by the auditor key" in other.output
    assert "--auditor-key" in wushe("audit", "verify", str(tmp_path / "b"), "--state", str(state), code=2).output
    data = state.read_bytes()
    state.write_bytes(data[:-1] + bytes([data[-1] ^ 1]))
    edited = wushe("audit", "verify", str(tmp_path / "b"), "--state", str(state), "--auditor-key",
                   str(keys / "auditor.pub"), code=2)
    assert "does not match its signed hash" in edited.output


def test_trust_takes_what_wushe_checkpoint_prints(wushe, tmp_path):
    printed = wushe("checkpoint").output
    wushe("audit", "export", "--out", str(tmp_path / "bundle"))
    whole, note = tmp_path / "whole.txt", tmp_path / "note.txt"
    whole.write_text(printed)
    note.write_text(printed.split("\n", 1)[1])  # the note after the summary line
    for given in (whole, note):
        done = wushe("audit", "verify", str(tmp_path / "bundle"), "--trust", str(given))
        assert "in the trusted prefix" in done.output and "integrity verified" in done.output
