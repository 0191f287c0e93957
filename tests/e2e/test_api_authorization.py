"""The authorization matrix: every endpoint of the authenticated API × every role, on SQLite and
PostgreSQL. Each cell asks for something that exists and is valid, so only who asks decides the
answer; a refused cell must write nothing. Then the scopes: one foundation, own organisation,
maker-checker, revoked tokens."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

import pytest
from apisite import ROLES, TOWN, Site, assert_problem, fresh, site_fixture  # noqa: F401  (the site fixture)

OK, UNAUTH, FORBIDDEN = "ok", 401, 403


def _everyone_but(*allowed: str) -> dict[str, object]:
    return {role: OK if role in allowed else FORBIDDEN for role in ROLES if role != "anonymous"}


Request = Callable[[Site], tuple[str, str, dict | None]]
"""Builds (method, path, body) for one cell, seeding what it needs first."""

ENDPOINTS: dict[str, tuple[Request, dict[str, object]]] = {
    "register organisation": (
        lambda s: ("POST", "/api/v1/organisations",
                   {"code": fresh("ORG"), "name": "新组织", "kind": "social_organisation", "street_town": TOWN}),
        _everyone_but("root", "accountant", "other_accountant")),
    "open fund": (
        lambda s: ("POST", "/api/v1/funds", {"code": fresh("F"), "name": "新基金", "foundation": "CNCF",
                                             "street_town": TOWN}),
        _everyone_but("accountant")),
    "close fund": (lambda s: ("POST", f"/api/v1/funds/{s.fund()}/close", {"reason": "项目结束"}),
                   _everyone_but("accountant")),
    "allocate": (lambda s: ("POST", "/api/v1/allocations", {"from_fund": s.fund(500), "to_fund": s.fund(),
                                                            "amount": "1.00", "reason": "调拨"}),
                 _everyone_but("accountant")),
    "release restriction": (
        lambda s: ("POST", "/api/v1/releases", {"fund": s.restricted_fund(500), "to_fund": s.fund(),
                                                "amount": "2.50", "basis": "协议第3条"}),
        _everyone_but("accountant")),
    "record donation": (lambda s: ("POST", "/api/v1/donations", {"fund": s.fund(), "amount": "10.50",
                                                                 "donor_type": "resident"}),
                        _everyone_but("accountant")),
    "record grant": (lambda s: ("POST", "/api/v1/grants", {"fund": s.fund(), "amount": "300",
                                                           "source": "government_purchase", "payer": "长宁区民政局"}),
                     _everyone_but("accountant")),
    "register project": (
        lambda s: ("POST", "/api/v1/projects", {
            "code": fresh("P"), "name": "新项目", "street_town": TOWN, "domain": "elderly_care",
            "organisation": "LELING", "budget": "5000", "funding_source": "fund", "approval_ref": "批文-9",
            "starts_on": "2026-01-01", "ends_on": "2026-12-31"}),
        # any accountant registers projects; the foundation scope applies to the money that pays them
        _everyone_but("accountant", "other_accountant")),
    "evaluate project": (
        lambda s: ("POST", "/api/v1/projects/P1/evaluations", {"score": 92, "respondents": 40}),
        _everyone_but("accountant", "other_accountant", "recorder")),
    "request disbursement": (
        lambda s: ("POST", "/api/v1/disbursements", {
            "fund": s.fund(500), "amount": "1", "kind": "allowance", "payee": "张社工", "domain": "elderly_care",
            "street_town": TOWN, "purpose": "社工津贴"}),
        _everyone_but("accountant")),
    "approve disbursement": (
        lambda s: ("POST", f"/api/v1/disbursements/{s.requested(s.fund(500))}/approve", {"approval_ref": "批复-2"}),
        _everyone_but("approver")),
    "reject disbursement": (
        lambda s: ("POST", f"/api/v1/disbursements/{s.requested(s.fund(500))}/reject", {"reason": "材料不全"}),
        _everyone_but("approver")),
    "pay disbursement": (lambda s: ("POST", f"/api/v1/disbursements/{s.approved(s.fund(500))}/pay", {}),
                         _everyone_but("accountant")),
    "register volunteer": (
        lambda s: ("POST", "/api/v1/volunteers", {"number": fresh("V"), "name": "王五", "street_town": TOWN}),
        _everyone_but("accountant", "other_accountant", "recorder")),
    "record hours": (
        lambda s: ("POST", "/api/v1/hours", {
            "volunteer": s.ledger.register_volunteer(s.cast.recorder, fresh("V"), "赵六", TOWN).ident,
            "organisation": "LELING", "domain": "elderly_care", "on": "2026-03-01", "start": "09:00",
            "end": "11:30", "content": "陪伴独居老人"}),
        _everyone_but("recorder")),
    "correct": (
        lambda s: ("POST", "/api/v1/corrections", {
            "position": s.ledger.record_donation(s.cast.accountant, s.fund(), 800, donor_type="resident").positions[0],
            "reason": "金额录入错误"}),
        _everyone_but("accountant")),
    "audit events": (lambda s: ("GET", "/api/v1/audit/events?start=1&limit=5", None), _everyone_but("auditor", "root")),
    "audit signed bytes": (lambda s: ("GET", "/api/v1/audit/events/1", None), _everyone_but("auditor", "root")),
    "audit keys": (lambda s: ("GET", "/api/v1/audit/keys", None), _everyone_but("auditor", "root")),
    "who am I": (lambda s: ("GET", "/api/v1/auth/whoami", None), _everyone_but(*ROLES)),
}

CELLS = [(endpoint, role) for endpoint in ENDPOINTS for role in ROLES]


def test_the_matrix_covers_every_authenticated_route(site):
    """A new route must join the matrix: every /api/v1 route outside public and log is listed."""
    listed = set()
    for build, _ in ENDPOINTS.values():
        method, path, _ = build(site)
        listed.add((method, _shape(path)))
    paths = site.client.get("/openapi.json").json()["paths"]
    routes = {(method.upper(), path) for path, operations in paths.items() for method in operations
              if path.startswith("/api/v1/") and not path.startswith(("/api/v1/public", "/api/v1/log"))}
    assert routes == listed


def _shape(path: str) -> str:
    """/api/v1/funds/F12-ab/close -> /api/v1/funds/{code}/close (to compare with route templates)."""
    path = path.split("?")[0]
    parts = path.split("/")
    names = {"funds": "{code}", "projects": "{code}", "disbursements": "{number}", "events": "{position}"}
    return "/".join(names[parts[i - 1]] if i > 3 and parts[i - 1] in names else p for i, p in enumerate(parts))


@pytest.mark.parametrize(("endpoint", "role"), CELLS, ids=[f"{e}-{r}" for e, r in CELLS])
def test_authorization_matrix(site, endpoint, role):
    build, expected = ENDPOINTS[endpoint]
    method, path, body = build(site)
    want = UNAUTH if role == "anonymous" else expected[role]
    before = site.head()
    if method == "POST":
        response = site.post(role, path, body)
    else:
        response = site.client.get(path, headers=site.headers(role))
    if want == OK:
        assert response.status_code in (200, 201), response.text
        if method == "POST":
            written = response.json()
            assert written["positions"] and site.head() == max(written["positions"])
    else:
        rule = "authentication" if want == UNAUTH else "not-authorised"
        assert_problem(response, want, rule)
        assert site.head() == before, "a refused request wrote something"


# --- scopes --------------------------------------------------------------------------------------


def test_an_accountant_cannot_write_to_another_foundations_fund(site):
    fund = site.fund(1000)
    before = site.head()
    refused = site.post("other_accountant", "/api/v1/donations", {"fund": fund, "amount": "5", "donor_type": "resident"})
    assert_problem(refused, 403, "not-authorised", "actor")
    assert "CNCF" in refused.json()["detail_en"]
    other = site.post("other_accountant", "/api/v1/funds", {"code": fresh("F"), "name": "他会基金", "foundation": "CNCF"})
    assert_problem(other, 403, "not-authorised")
    assert site.head() == before
    assert site.ledger.fund(fund).balance == 1000


def test_an_approver_cannot_approve_their_own_request(site):
    fund = site.fund(1000)
    number = site.requested(fund, actor=site.actors["accountant_approver"])
    before = site.head()
    own = site.post("accountant_approver", f"/api/v1/disbursements/{number}/approve", {"approval_ref": "批复-3"})
    assert_problem(own, 409, "maker-checker")
    assert site.head() == before
    assert site.ledger.disbursement(number).status == "requested"
    other = site.post("approver", f"/api/v1/disbursements/{number}/approve", {"approval_ref": "批复-3"})
    assert other.status_code == 201, other.text


def test_a_recorder_records_hours_for_their_own_organisation_only(site):
    site.ledger.register_organisation(site.cast.root, (org := fresh("ORG")), "另一组织", "social_organisation", TOWN,
                                      registered_on=date(2021, 1, 1))
    number = site.ledger.register_volunteer(site.cast.recorder, fresh("V"), "孙七", TOWN).ident
    before = site.head()
    refused = site.post("recorder", "/api/v1/hours", {
        "volunteer": number, "organisation": org, "domain": "elderly_care", "on": "2026-03-02",
        "start": "09:00", "end": "10:00", "content": "代他人记录"})
    assert_problem(refused, 403, "not-authorised", "organisation")
    assert site.head() == before
    assert site.ledger.volunteer(number).sessions == {}


def test_the_auditor_cannot_write_anything(site):
    fund = site.fund(1000)
    donation = site.ledger.record_donation(site.cast.accountant, fund, 300, donor_type="resident").positions[0]
    before = site.head()
    for path, body in [("/api/v1/donations", {"fund": fund, "amount": "5", "donor_type": "resident"}),
                       ("/api/v1/funds/" + fund + "/close", {"reason": "x"}),
                       ("/api/v1/corrections", {"position": donation, "reason": "x"})]:
        assert site.post("auditor", path, body).status_code == 403
    assert site.head() == before


def test_revoked_tokens_and_keys_stop_working(site):
    actor = site.cast.actor(fresh("acct-"), ["accountant"], foundation="CNCF")
    tokens = site.client.app.state.tokens
    token = tokens.issue(actor.key)
    auth = {"Authorization": f"Bearer {token}"}
    assert site.client.get("/api/v1/auth/whoami", headers=auth).status_code == 200
    tokens.revoke(next(t.token_id for t in tokens.list() if t.handle == actor.handle))
    assert_problem(site.client.get("/api/v1/auth/whoami", headers=auth), 401, "authentication")

    second = site.cast.actor(fresh("acct-"), ["accountant"], foundation="CNCF")
    auth = {"Authorization": f"Bearer {tokens.issue(second.key)}"}
    site.ledger.revoke_key(site.cast.root, second.key.key_id, reason="离职")
    assert_problem(site.client.get("/api/v1/auth/whoami", headers=auth), 401, "authentication")


@pytest.mark.parametrize("header", ["Bearer wst_not-a-token", "Bearer ", "Basic dXNlcjpwdw==", "wst_x"])
def test_bad_tokens_are_401_problems(site, header):
    refused = site.client.get("/api/v1/auth/whoami", headers={"Authorization": header})
    assert_problem(refused, 401, "authentication", "authorization")
    assert refused.headers["WWW-Authenticate"].startswith("Bearer")
