"""Hostile input (issue 17 item 4), on SQLite and PostgreSQL: control characters in text are refused
at the edge — the API with a 4xx problem naming the field, the CLI and every other caller by the
ledger's own text checks — so nothing is written (a NUL would also stop PostgreSQL's views, which
cannot hold it); deeply nested or oversized JSON is a 4xx, never a 500."""

from __future__ import annotations

import json

import pytest
from apisite import TOWN, assert_problem, fresh, site_fixture  # noqa: F401  (the site fixture)

from ledger.errors import InvalidInput

HOSTILE = ["张\x00三", "\x1b[31m红色\x1b[0m", "响铃\x07", "回车\r换行\n", "\x7f删除", "\u202e反向\u202c", "半个\ud800代理",
           "\x85下一行"]


def _body(site, text: str) -> tuple[str, dict, str]:
    return "/api/v1/donations", {"fund": site.fund(), "amount": "5.00", "donor_type": "resident",
                                 "donor_name": text}, "donor_name"


@pytest.mark.parametrize("text", HOSTILE, ids=[repr(t) for t in HOSTILE])
def test_control_characters_in_a_donation_are_a_422_naming_the_field(site, text):
    path, body, field = _body(site, text)
    before = site.head()
    refused = site.client.post(path, content=json.dumps(body).encode(),  # \u escapes: even a lone surrogate
                               headers={**site.headers("accountant"), "content-type": "application/json"})
    problem = assert_problem(refused, 422, "control-character", field)
    assert "U+" in problem["detail_en"] and "控制字符" in problem["detail"]
    assert site.head() == before


@pytest.mark.parametrize(("path", "build", "field"), [
    ("/api/v1/funds", lambda s: {"code": fresh("F"), "name": "基金\x00", "foundation": "CNCF"}, "name"),
    ("/api/v1/funds", lambda s: {"code": fresh("F"), "name": "基金", "foundation": "CNCF", "restricted": True,
                                 "purpose": "养老\x1b"}, "purpose"),
    ("/api/v1/projects", lambda s: {
        "code": fresh("P"), "name": "项目", "street_town": TOWN, "domain": "elderly_care", "organisation": "LELING",
        "budget": "100", "funding_source": "fund", "approval_ref": "批文", "starts_on": "2026-01-01", "reach": 500,
        "ends_on": "2026-12-31", "milestones": [{"name": "一期\x00", "amount": "10"}]}, "milestones.0.name"),
    ("/api/v1/hours", lambda s: {
        "volunteer": "V001", "organisation": "LELING", "domain": "elderly_care", "on": "2026-03-01",
        "start": "09:00", "end": "10:00", "content": "陪伴\x00"}, "content"),
    ("/api/v1/corrections", lambda s: {"position": 1, "reason": "\u2066更正"}, "reason"),
])
def test_every_text_field_of_every_write_refuses_them(site, path, build, field):
    role = "recorder" if path.endswith("hours") else "accountant"
    before = site.head()
    assert_problem(site.post(role, path, build(site)), 422, "control-character", field)
    assert site.head() == before


def test_the_ledger_itself_refuses_them_whoever_calls_it(site):
    fund = site.fund()
    before = site.head()
    for call in (
        lambda: site.ledger.record_donation(site.cast.accountant, fund, 500, donor_type="resident", note="备注\x00"),
        lambda: site.ledger.record_grant(site.cast.accountant, fund, 500, source="government_purchase",
                                         payer="民政局\x00"),
        lambda: site.ledger.register_volunteer(site.cast.recorder, fresh("V"), "王\x00五", TOWN),
        lambda: site.ledger.close_fund(site.cast.accountant, fund, "关闭\x1b"),
    ):
        with pytest.raises(InvalidInput) as refused:
            call()
        assert refused.value.rule == "control-character" and "U+" in refused.value.message
    assert site.head() == before


def test_the_cli_refuses_them_naming_the_field(cli):
    cli("principal", "add", "acct", "--name", "会计", "--role", "accountant", "--foundation", "CNCF", "--as", "root")
    cli("fund", "open", "GEN", "--name", "综合基金", "--foundation", "CNCF", "--street-town", TOWN, "--as", "acct")
    refused = cli("donation", "record", "--fund", "GEN", "--amount", "5", "--donor-type", "resident",
                  "--donor-name", "张\x1b三", "--as", "acct", ok=False)
    assert refused.exit_code == 1
    assert "donor_name" in refused.output and "控制字符" in refused.output and "U+001B" in refused.output
    assert "Traceback" not in refused.output
    listed = cli("fund", "show", "GEN")
    assert "¥0.00" in listed.output  # nothing was written


def test_a_valid_multilingual_text_still_passes(site):
    written = site.post("accountant", "/api/v1/donations", {
        "fund": site.fund(), "amount": "5.00", "donor_type": "resident", "donor_name": "Zoë 张三 🙂 ‘引号’"})
    assert written.status_code == 201, written.text


# --- nesting and size ----------------------------------------------------------------------------


def _nested(depth: int) -> str:
    return "[" * depth + "]" * depth


@pytest.mark.parametrize("depth", [5_000, 15_000])
def test_deeply_nested_json_is_a_4xx_problem_everywhere(site, depth):
    client = site.client
    deep = _nested(depth)
    for path, headers in (("/api/v1/public/verify", {}),
                          ("/api/v1/donations", site.headers("accountant"))):
        answer = client.post(path, content=deep.encode(), headers={**headers, "content-type": "application/json"})
        assert_problem(answer, 422, "json-too-deep", "body")
    receipt = '{"format": "wushe-receipt/v1", "entries": ' + deep + "}"
    answer = client.post("/verify", params={"lang": "zh"}, data={"receipt": receipt})  # URL-encoded, 15,000 levels exceed the size limit
    assert answer.status_code in (413, 422), answer.status_code
    if answer.status_code == 422:
        assert "嵌套" in answer.text and 'id="verdict"' in answer.text
    answer = client.post("/verify", params={"lang": "zh"},
                         files={"file": ("r.json", receipt.encode(), "application/json")})
    assert answer.status_code == 422 and "嵌套" in answer.text  # in the page's language only
    answer = client.post("/verify", params={"lang": "en"},
                         files={"file": ("r.json", receipt.encode(), "application/json")})
    assert answer.status_code == 422 and "nested" in answer.text


def test_moderate_nesting_inside_strings_is_not_counted(site):
    brackets = "[" * 200  # inside a string: text, not structure
    answer = site.post("accountant", "/api/v1/donations", {
        "fund": site.fund(), "amount": "5.00", "donor_type": "resident", "note": brackets})
    assert answer.status_code == 201, answer.text


def test_a_body_over_the_size_limit_is_a_413_before_it_is_read(site):
    big = json.dumps({"receipt": "x" * 70_000})
    answer = site.client.post("/api/v1/public/verify", content=big.encode(), headers={"content-type": "application/json"})
    assert_problem(answer, 413, "request-too-large")
    answer = site.client.post("/verify", data={"receipt": "x" * 70_000})
    assert answer.status_code == 413
