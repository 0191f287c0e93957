"""Every refusal in words, on SQLite and PostgreSQL: each bad input to the API is a 4xx problem naming
the field and the rule, with a Chinese detail that holds no English (codes excepted) and an English
one; amounts say what was typed and what is expected, and full-width digits are read as digits.
The command line says the same, with no English reason inside its Chinese line."""

from __future__ import annotations

import re

import pytest
from apisite import assert_problem, site_fixture  # noqa: F401 (the served site, per store)

LATIN = re.compile(r"[A-Za-z]{2,}")
PYDANTIC = ("should match", "Input should", "Field required", "Extra inputs", "String should", "pattern", "JSON decode")


def _chinese_only(zh: str) -> list[str]:
    """Latin words of a Chinese text, besides `code`, 'quoted input', {placeholders} and format names."""
    text = re.sub(r"`[^`]*`|'[^']*'|\"[^\"]*\"", " ", zh)
    return [w for w in LATIN.findall(text) if w not in ("JSON", "YYYY", "MM", "DD", "HTTP", "ASCII")]


CASES = [
    ({"amount": "1,000"}, "invalid-amount", "amount", "请去掉千位分隔符：1,000 应写作 1000"),
    ({"amount": "12.345"}, "invalid-amount", "amount", "最多两位小数"),
    ({"amount": "¥50"}, "invalid-amount", "amount", "金额不要带 ¥"),
    ({"amount": 12.5}, "invalid-amount", "amount", "带引号的十进制字符串"),
    ({"amount": "-5"}, "invalid-amount", "amount", "金额须为正数"),
    ({"donor_type": "alien"}, "invalid-input", "donor_type", "捐赠人类型：须为以下之一：`resident`"),
    ({"received_on": "2026-02-30"}, "invalid-input", "received_on", "不是日历上存在的日期"),
    ({"received_on": 1700000000}, "invalid-input", "received_on", "须为日期"),
    ({"donor_public": "yes"}, "invalid-input", "donor_public", "须为 `true` 或 `false`"),
    ({"phone": "1"}, "invalid-input", "phone", "`phone`：不是本请求的字段"),
    ({"fund": "NO-SUCH"}, "not-found", "fund", "基金 'NO-SUCH' 不存在"),
    ({"street_town": "atlantis"}, "unknown-reference", "street_town", "未知的街镇 'atlantis'"),
]


@pytest.mark.parametrize(("change", "rule", "field", "zh"), CASES, ids=[str(c[0])[:30] for c in CASES])
def test_each_bad_donation_is_named_in_chinese_and_english(site, change, rule, field, zh):
    body = {"fund": site.fund(100), "amount": "10.00", "donor_type": "resident", **change}
    before = site.head()
    response = site.post("accountant", "/api/v1/donations", body)
    problem = assert_problem(response, 404 if rule == "not-found" else 422, rule, field)
    assert zh in problem["detail"], problem
    assert not _chinese_only(problem["detail"]), problem["detail"]
    assert not any(word in problem["detail"] + problem["detail_en"] for word in PYDANTIC), problem
    assert field in problem["detail_en"] or field == "fund"
    assert site.head() == before


def test_missing_fields_and_broken_json_are_named(site):
    missing = assert_problem(site.post("accountant", "/api/v1/donations", {"amount": "1"}), 422, "invalid-input", "fund")
    assert missing["detail"] == "基金：为必填项；捐赠人类型：为必填项"
    assert [e["field"] for e in missing["errors"]] == ["fund", "donor_type"]
    headers = {**site.headers("accountant"), "Content-Type": "application/json"}
    broken = site.client.post("/api/v1/donations", content=b'{"fund": "42", ', headers=headers)
    problem = assert_problem(broken, 422, "invalid-json", "body")  # not "field": "42"
    assert problem["detail"].startswith("请求体不是有效的 JSON") and "JSON decode" not in problem["detail_en"]
    listed = assert_problem(site.client.post("/api/v1/donations", content=b"[1]", headers=headers), 422,
                            "invalid-input", "body")
    assert listed["detail"] == "请求体：须为 JSON 对象"
    query = assert_problem(site.client.get("/api/v1/log/inclusion", params={"position": "abc"}), 422,
                           "invalid-input", "position")
    assert query["detail"] == "日志序号：须为整数"


def test_full_width_digits_are_read_as_the_same_amount(site):
    fund = site.fund()
    response = site.post("accountant", "/api/v1/donations", {"fund": fund, "amount": "１２００．５０",
                                                             "donor_type": "resident"})
    assert response.status_code == 201, response.text
    assert site.ledger.fund(fund).balance == 120_050
    thousands = site.post("accountant", "/api/v1/donations", {"fund": fund, "amount": "１，２００", "donor_type": "resident"})
    assert "请去掉千位分隔符" in assert_problem(thousands, 422, "invalid-amount", "amount")["detail"]


def test_rules_of_the_ledger_are_refused_in_chinese_without_english_words(site):
    fund = site.fund(100)
    number = site.requested(fund, 50)
    paid = site.post("accountant", f"/api/v1/disbursements/{number}/pay", {})
    problem = assert_problem(paid, 409, "invalid-state")
    assert problem["detail"] == f"拨付 {number} 当前状态为“待审批”；只有“已批准”的拨付才能改为“已支付”"
    assert problem["detail_en"] == f"disbursement {number} is requested; only one that is approved can be paid"
    over = site.post("accountant", "/api/v1/disbursements", {"fund": fund, "amount": "5", "kind": "allowance",
                                                            "payee": "张社工", "domain": "elderly_care",
                                                            "street_town": "xianxiaxincun", "purpose": "津贴"})
    assert not _chinese_only(assert_problem(over, 409, "no-overdraft", "amount")["detail"].replace(fund, "F"))


def test_the_command_line_says_it_in_chinese_then_english(cli):
    cli("principal", "add", "acct", "--name", "会计", "--role", "accountant", "--foundation", "CNCF", "--as", "root")
    cli("fund", "open", "GEN", "--name", "综合基金", "--foundation", "CNCF", "--street-town", "xinhualu", "--as", "acct")
    for typed, zh in (("1,000", "请去掉千位分隔符：1,000 应写作 1000"), ("12.345", "最多两位小数")):
        refused = cli("donation", "record", "--fund", "GEN", "--amount", typed, "--donor-type", "resident",
                      "--as", "acct", ok=False)
        assert refused.exit_code == 1
        first = refused.output.splitlines()[0]
        assert zh in first and not _chinese_only(first.removeprefix("错误 error:")), first
        assert "invalid-amount" in refused.output
    accepted = cli("donation", "record", "--fund", "GEN", "--amount", "１００", "--donor-type", "resident", "--as", "acct")
    assert "recorded" in accepted.output
    bad_date = cli("donation", "record", "--fund", "GEN", "--amount", "1", "--donor-type", "resident", "--date",
                   "2026-13-01", "--as", "acct", ok=False)
    assert bad_date.exit_code == 2 and "不是日期" in bad_date.output.splitlines()[0]
    nope = cli("fund", "show", "NOPE", ok=False)
    assert "基金 'NOPE' 不存在" in nope.output
