"""Recording through the API on SQLite and PostgreSQL: a month of a foundation's work, every write
verb signed by the principal whose token made it; bad input refused as problem+json naming the
field or rule, with nothing written; body size and rate limits."""

from __future__ import annotations

import base64

import pytest
from agreements import agreement
from apisite import TOWN, assert_problem, build_site, fresh, site_fixture  # noqa: F401  (the site fixture)
from conftest import signer_of

from api.settings import ApiSettings


def _ok(response) -> dict:
    assert response.status_code == 201, response.text
    return response.json()


def test_every_write_verb_end_to_end(site):
    post = site.post
    org = fresh("ORG")
    assert signer_of(site.ledger, _ok(post("root", "/api/v1/organisations", {
        "code": org, "name": "虹桥邻里中心", "kind": "social_organisation", "street_town": "hongqiao",
        "registered_on": "2022-03-01"}))["positions"][0]) == "root"
    gen, special, spare = fresh("GEN"), fresh("SP"), fresh("EMPTY")
    _ok(post("accountant", "/api/v1/funds", {"code": gen, "name": "综合基金", "foundation": "CNCF",
                                             "street_town": TOWN}))
    _ok(post("accountant", "/api/v1/funds", {
        "code": special, "name": "助老专项基金", "foundation": "CNCF", "special": True, "purpose": "仙霞新村养老服务",
        "street_town": TOWN, "domains": ["elderly_care"], "street_towns": [TOWN], "agreement": agreement(ref="协议-7")}))
    _ok(post("accountant", "/api/v1/funds", {"code": spare, "name": "备用", "foundation": "CNCF", "street_town": TOWN}))
    donation = _ok(post("accountant", "/api/v1/donations", {
        "fund": special, "amount": "5000.00", "donor_type": "resident", "donor_name": "张小明", "method": "transfer"}))
    assert signer_of(site.ledger, donation["positions"][0]) == "acct"
    _ok(post("accountant", "/api/v1/grants", {"fund": gen, "amount": "20000", "source": "venture_philanthropy",
                                              "payer": "长宁区民政局", "document_ref": "长民〔2026〕3号"}))
    _ok(post("accountant", "/api/v1/allocations", {"from_fund": gen, "to_fund": spare, "amount": "100.10",
                                                   "reason": "备用金"}))
    _ok(post("accountant", "/api/v1/releases", {"fund": special, "to_fund": gen, "amount": "50",
                                                "basis": "协议第5条：结余转非限定"}))
    project = fresh("P")
    _ok(post("accountant", "/api/v1/projects", {
        "code": project, "name": "乐龄陪伴", "street_town": TOWN, "domain": "elderly_care", "organisation": "LELING",
        "budget": "3000", "funding_source": "fund", "approval_ref": "批文-12", "starts_on": "2026-01-01", "reach": 500,
        "ends_on": "2026-12-31", "milestones": [{"name": "中期", "amount": "1500"}]}))
    _ok(post("recorder", f"/api/v1/projects/{project}/evaluations", {"score": 95, "respondents": 60, "survey_ref": "问卷-1",
                                                                     "surveyed_on": "2026-06-30"}))
    number = _ok(post("accountant", "/api/v1/disbursements", {
        "fund": special, "amount": "1500", "kind": "project", "project": project, "milestone": "中期",
        "purpose": "中期款"}))["id"]
    approval = _ok(post("approver", f"/api/v1/disbursements/{number}/approve", {"approval_ref": "审批-8"}))
    assert signer_of(site.ledger, approval["positions"][0]) == "appr"
    paid = _ok(post("accountant", f"/api/v1/disbursements/{number}/pay", {}))
    assert len(paid["positions"]) == 3  # disbursement, fund and project in one transaction
    other = _ok(post("accountant", "/api/v1/disbursements", {
        "fund": gen, "amount": "10", "kind": "management", "payee": "办公用品店", "purpose": "办公"}))["id"]
    _ok(post("approver", f"/api/v1/disbursements/{other}/reject", {"reason": "非必要"}))
    volunteer = fresh("V")
    _ok(post("recorder", "/api/v1/volunteers", {"number": volunteer, "name": "王芳", "street_town": TOWN}))
    hours = _ok(post("recorder", "/api/v1/hours", {
        "volunteer": volunteer, "organisation": "LELING", "domain": "elderly_care", "on": "2026-05-04",
        "start": "20:00", "end": "24:00", "content": "夜间陪护"}))
    assert signer_of(site.ledger, hours["positions"][0]) == "rec-leling"
    _ok(post("recorder", "/api/v1/corrections", {"position": hours["positions"][0], "reason": "时间记错"}))
    mistake = _ok(post("accountant", "/api/v1/donations", {"fund": gen, "amount": "30", "donor_type": "business"}))
    _ok(post("accountant", "/api/v1/corrections", {"position": mistake["positions"][0], "reason": "金额录入错误"}))

    ledger = site.ledger
    assert ledger.fund(special).balance == 500_000 - 5_000 - 150_000  # donated, released, paid
    assert ledger.fund(gen).balance == 2_000_000 - 10_010 + 5_000  # the reversed donation left no trace
    assert ledger.project(project).paid == 150_000
    assert ledger.disbursement(other).status == "rejected"
    assert ledger.volunteer(volunteer).sessions == {}


def test_an_empty_fund_closes(site):
    spare = site.fund()
    _ok(site.post("accountant", f"/api/v1/funds/{spare}/close", {"reason": "不再需要"}))
    assert site.ledger.fund(spare).closed
    assert_problem(site.post("accountant", "/api/v1/donations", {"fund": spare, "amount": "1", "donor_type": "resident"}),
                   409, "fund-closed")


BAD = [
    ({"amount": "12.345"}, 422, "invalid-amount", "amount"),
    ({"amount": "-5"}, 422, "invalid-amount", "amount"),
    ({"amount": "0"}, 422, "invalid-amount", "amount"),
    ({"amount": "0.00"}, 422, "invalid-amount", "amount"),
    ({"amount": "10000000000.01"}, 422, "invalid-amount", "amount"),
    ({"amount": "1e3"}, 422, "invalid-amount", "amount"),
    ({"amount": 12.5}, 422, "invalid-amount", "amount"),
    ({"fund": "NO-SUCH-FUND"}, 404, "not-found", "fund"),
    ({"street_town": "atlantis"}, 422, "unknown-reference", "street_town"),
    ({"donor_type": "alien"}, 422, "invalid-input", "donor_type"),
    ({"received_on": "2099-01-01"}, 422, "invalid-input", "received_on"),
    ({"received_on": "2026-02-30"}, 422, "invalid-input", "received_on"),
    ({"received_on": 1700000000}, 422, "invalid-input", "received_on"),
    ({"donor_public": "yes"}, 422, "invalid-input", "donor_public"),
    ({"phone": "13800000000"}, 422, "invalid-input", "phone"),
    ({"donor_name": "张" * 2001}, 422, "invalid-input", "donor_name"),
    ({"method": "in_kind", "in_kind_description": "轮椅"}, 422, "invalid-input", "in_kind_basis"),
    ({"method": "in_kind", "in_kind_description": "轮椅", "in_kind_basis": "guess", "quantity": 1, "unit": "台"},
     422, "invalid-input", "in_kind_basis"),
]


@pytest.mark.parametrize(("change", "status", "rule", "field"), BAD, ids=[str(b[0])[:40] for b in BAD])
def test_bad_donations_are_named_problems_and_write_nothing(site, change, status, rule, field):
    fund = site.fund(100)
    body = {"fund": fund, "amount": "10.00", "donor_type": "resident", **change}
    before = site.head()
    assert_problem(site.post("accountant", "/api/v1/donations", body), status, rule, field)
    assert site.head() == before
    assert site.ledger.fund(fund).balance == 100


@pytest.mark.parametrize(("path", "body", "status", "rule", "field"), [
    ("/api/v1/hours", {"volunteer": "V001", "organisation": "LELING", "domain": "elderly_care", "on": "2026-03-01",
                       "start": "10:00", "end": "09:00", "content": "倒流时间"}, 422, "hours-plausible", None),
    ("/api/v1/hours", {"volunteer": "V001", "organisation": "LELING", "domain": "elderly_care", "on": "2026-03-01",
                       "start": "25:00", "end": "26:00", "content": "x"}, 422, "invalid-input", "start"),
    ("/api/v1/projects/P1/evaluations", {"score": 101, "respondents": 3, "survey_ref": "问卷-1"}, 422, "invalid-input", "score"),
    ("/api/v1/projects/P1/evaluations", {"score": True, "respondents": 3, "survey_ref": "问卷-1"}, 422, "invalid-input", "score"),
    ("/api/v1/corrections", {"position": 1, "reason": "改创世"}, 422, "not-reversible", "position"),
    ("/api/v1/corrections", {"position": 10**12, "reason": "不存在"}, 404, "not-found", "position"),
], ids=["end-before-start", "bad-clock", "score-over-100", "score-bool", "genesis", "beyond-log"])
def test_broken_rules_and_fields_are_named(site, path, body, status, rule, field):
    role = "recorder" if path in ("/api/v1/hours",) else "accountant"
    before = site.head()
    assert_problem(site.post(role, path, body), status, rule, field)
    assert site.head() == before


def test_malformed_json_is_a_422_problem(site):
    headers = {**site.headers("accountant"), "Content-Type": "application/json"}
    assert_problem(site.client.post("/api/v1/donations", content=b"{not json", headers=headers), 422, "invalid-json",
                   "body")


def test_the_auditor_reads_events_exactly_as_stored(site):
    site.fund(700)
    page = site.get("auditor", "/api/v1/audit/events", start=1, limit=1000)
    assert page.status_code == 200
    events = page.json()
    stored = list(site.ledger.log_positions())
    assert [e["position"] for e in events] == [n.id for n in stored][:1000]
    assert [base64.b64decode(e["signed"]) for e in events] == [bytes(n.state) for n in stored][:1000]
    raw = site.client.get("/api/v1/audit/events/2", headers=site.headers("auditor"))
    assert raw.headers["content-type"] == "application/octet-stream"
    assert raw.content == bytes(stored[1].state)
    keys = site.get("auditor", "/api/v1/audit/keys").json()
    assert {k["principal"] for k in keys} >= {"root", "acct", "appr", "rec-leling", "aud"}
    assert_problem(site.get("auditor", "/api/v1/audit/events", start=0), 422, "invalid-input", "start")
    assert_problem(site.get("auditor", "/api/v1/audit/events", limit=1001), 422, "invalid-input", "limit")
    assert_problem(site.get("auditor", "/api/v1/audit/events", since=3), 422, "invalid-input")


# --- limits --------------------------------------------------------------------------------------


def test_oversized_bodies_are_refused_before_anything_is_written(site):
    fund = site.fund()
    before = site.head()
    huge = {"fund": fund, "amount": "1", "donor_type": "resident", "note": "备注" * 40_000}
    assert_problem(site.post("accountant", "/api/v1/donations", huge), 413, "request-too-large")

    def chunks():  # no Content-Length: the limit is counted as the body streams in
        for _ in range(100):
            yield b" " * 1024

    streamed = site.client.post("/api/v1/donations", content=chunks(), headers=site.headers("accountant"))
    assert_problem(streamed, 413, "request-too-large")
    assert site.head() == before


def test_rate_limits_on_public_reads_and_failed_logins(tmp_path):
    strict = ApiSettings(public_rate="3/minute", auth_rate="2/minute")
    site = build_site(f"sqlite:///{tmp_path / 'ledger.sqlite3'}", tmp_path, api_settings=strict)
    try:
        answers = [site.client.get("/api/v1/public/district").status_code for _ in range(4)]
        assert answers == [200, 200, 200, 429]
        limited = site.client.get("/api/v1/public/district")
        assert_problem(limited, 429, "rate-limit")
        assert int(limited.headers["Retry-After"]) >= 1

        bad = {"Authorization": "Bearer wst_guess"}
        assert [site.client.get("/api/v1/auth/whoami", headers=bad).status_code for _ in range(2)] == [401, 401]
        locked = site.client.get("/api/v1/auth/whoami", headers=bad)
        assert_problem(locked, 429, "rate-limit")
        assert int(locked.headers["Retry-After"]) >= 1
        # an address that kept guessing is refused more guesses, but a valid token from it still works
        # (one office behind one NAT): the failure count never refuses a valid credential
        assert site.client.get("/api/v1/auth/whoami", headers=site.headers("auditor")).status_code == 200
    finally:
        site.ledger.close()


def test_a_gift_in_kind_is_held_as_goods_with_its_basis(site):
    fund = site.fund(100)
    body = {"fund": fund, "amount": "240.00", "donor_type": "business", "method": "in_kind",
            "in_kind_description": "轮椅", "in_kind_basis": "receipt", "quantity": 2, "unit": "台"}
    _ok(site.post("accountant", "/api/v1/donations", body))


def test_a_special_fund_without_its_agreement_is_a_problem_naming_it_and_writes_nothing(site):
    before = site.ledger.recorder.max_notification_id()
    special = {"code": fresh("SP"), "name": "助老专项基金", "foundation": "CNCF", "special": True,
               "purpose": "仙霞新村养老服务", "street_town": TOWN, "agreement_ref": "协议-9"}
    bare = site.post("accountant", "/api/v1/funds", special)
    assert bare.status_code == 422 and bare.headers["content-type"].startswith("application/problem+json")
    assert bare.json()["field"] == "agreement"
    partial = site.post("accountant", "/api/v1/funds", {**special, "agreement": {**agreement(ref="协议-9"), "use": ""}})
    assert partial.status_code == 422 and partial.json()["field"].startswith("agreement")
    assert site.ledger.recorder.max_notification_id() == before
