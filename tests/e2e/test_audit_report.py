"""The audit's summary and findings report as an auditor reads them, on SQLite and PostgreSQL: the
counts add up and say what each is (directory events are checked with the root key), a tampered
bundle counts what failed, no finding shows a raw Python error, the PDF is A4, times are Shanghai
time and severities read in Chinese and English."""

from __future__ import annotations

import base64
import json
import re
import shutil
from datetime import UTC, datetime

import pytest
from eventsourcing.persistence import StoredEvent
from test_audit_cli import wushe  # noqa: F401  (its ledger, extended by `run`)

from ledger.application import Ledger
from ledger.envelope import seal
from ledger.settings import Settings
from ledger.signing import read_signing_key

PYTHON_ERRORS = re.compile(r"\b\w*(Error|Exception)\b|NoneType|not subscriptable|object has no attribute|Traceback")


@pytest.fixture
def run(wushe):  # noqa: F811  (the fixture, not the import)
    """test_audit_cli's ledger (a fund, two donations, a checkpoint) and a volunteer's session."""
    wushe("org", "register", "LELING", "--name", "乐龄互助社", "--kind", "social_organisation",
          "--street-town", "xinhualu", "--as", "root")
    wushe("principal", "add", "rec", "--name", "记录人", "--role", "recorder", "--organisation", "LELING",
          "--as", "root")
    wushe("volunteer", "register", "V1", "--name", "李四", "--street-town", "xinhualu", "--as", "rec")
    wushe("hours", "record", "--volunteer", "V1", "--organisation", "LELING", "--domain", "elderly_care",
          "--date", "2026-03-01", "--start", "09:00", "--end", "10:30", "--content", "送餐", "--as", "rec")
    wushe("checkpoint")
    return wushe


def _report(run, tmp_path, bundle, code: int = 0, *extra: str):
    out = run("audit", "verify", str(bundle), "--json", str(tmp_path / "f.json"), "--html", str(tmp_path / "f.html"),
                *extra, code=code)
    return out.output, json.loads((tmp_path / "f.json").read_text()), (tmp_path / "f.html").read_text()


def test_the_summary_says_what_each_count_is_and_they_add_up(run, tmp_path):
    run("audit", "export", "--out", str(tmp_path / "b"))
    output, doc, html = _report(run, tmp_path, tmp_path / "b")
    s = doc["summary"]
    assert s["events"] == s["directory_events"] + s["signatures_checked"] + s["trusted_unchecked"]
    assert s["verified_signatures"] == s["signatures_checked"] and s["failed_signatures"] == 0
    assert s["directory_events"] > 0
    assert f"{s['directory_events']} directory events checked with the root key" in output
    assert f"{s['directory_events']} 条目录事件由根密钥核验" in html


def test_a_tampered_bundle_counts_what_failed(run, tmp_path):
    bundle = tmp_path / "b"
    run("audit", "export", "--out", str(bundle))
    lines = (bundle / "events.jsonl").read_text().splitlines()
    [i] = [n for n, line in enumerate(lines) if b'"amount":12050' in base64.b64decode(json.loads(line)["state"])]
    record = json.loads(lines[i])
    state = base64.b64decode(record["state"]).replace(b'"amount":12050', b'"amount":92050')
    lines[i] = json.dumps(dict(record, state=base64.b64encode(state).decode()))
    (bundle / "events.jsonl").write_text("\n".join(lines) + "\n")
    output, doc, html = _report(run, tmp_path, bundle, 1)
    s = doc["summary"]
    assert s["failed_signatures"] == 1 and s["verified_signatures"] == s["signatures_checked"] - 1
    assert "1 failed" in output and "1 条未通过" in html


def test_no_finding_shows_a_raw_python_error(run, tmp_path, database_url):
    # a recorder's key, really signing a reversal of a session that was never recorded: the views'
    # folds cannot read it, and the report must say so in words
    ledger = Ledger(Settings(data_dir=tmp_path / "data"), database_url=database_url)
    try:
        key = read_signing_key(tmp_path / "data" / "keys", "rec")
        payload = {"record": "nothing-like-it", "reason": "x",
                   "reverses": {"stream": "volunteer:V1", "version": 9, "type": "Volunteer.ServiceRecorded"}}
        state = seal(stream="volunteer:V1", version=3, type_name="Volunteer.ServiceReversed",
                     timestamp=datetime.now(UTC), payload=payload, key=key)
        ledger.recorder.insert_events([StoredEvent(originator_id="volunteer:V1", originator_version=3,
                                                   topic="Volunteer.ServiceReversed", state=state)])
    finally:
        ledger.close()
    run("checkpoint")
    exported = run("audit", "export", "--out", str(tmp_path / "b"))
    assert not PYTHON_ERRORS.search(exported.output), exported.output
    output, doc, _ = _report(run, tmp_path, tmp_path / "b", 1)  # no figures can be computed: critical
    texts = [f["message_en"] + " " + f["message_zh"] for f in doc["findings"]]
    assert texts, "the planted reversal is reported"
    for text in texts + [output]:
        assert not PYTHON_ERRORS.search(text), text


def test_times_are_shanghai_time_and_severities_read_in_both_languages(run, tmp_path):
    run("audit", "export", "--out", str(tmp_path / "b"))
    _, doc, html = _report(run, tmp_path, tmp_path / "b")
    assert doc["generated_at"].endswith("+08:00")
    assert re.search(r"\d{4}年\d{1,2}月\d{1,2}日 \d{2}:\d{2}（北京时间 UTC\+8）", html)
    for zh, en in (("严重", "Critical"), ("错误", "Error"), ("警告", "Warning")):
        assert f"{zh} {en}" in html


@pytest.mark.skipif(shutil.which("chromium") is None, reason="headless Chromium is not installed (.ci/run installs it)")
def test_the_pdf_report_is_a4(run, tmp_path):
    run("audit", "export", "--out", str(tmp_path / "b"))
    run("audit", "verify", str(tmp_path / "b"), "--pdf", str(tmp_path / "f.pdf"))
    boxes = re.findall(rb"/MediaBox\s*\[\s*0 0 ([\d.]+) ([\d.]+)\s*\]", (tmp_path / "f.pdf").read_bytes())
    assert boxes
    for width, height in boxes:  # A4 is 595.3 x 841.9 points; Letter would be 612 x 792
        assert abs(float(width) - 595.3) < 2 and abs(float(height) - 841.9) < 2, (width, height)
