"""The authorization matrix: every endpoint of the authenticated API × every role, on SQLite and
PostgreSQL. Each cell asks for something that exists and is valid, so only who asks decides the
answer; a refused cell must write nothing. Then the scopes: one foundation, own organisation,
maker-checker, revoked tokens."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import date, time, timedelta

import pytest
from agreements import agreement
from apisite import ROLES, TOWN, Site, assert_problem, fresh, site_fixture  # noqa: F401  (the site fixture)

OK, UNAUTH, FORBIDDEN = "ok", 401, 403


def _everyone_but(*allowed: str) -> dict[str, object]:
    return {role: OK if role in allowed else FORBIDDEN for role in ROLES if role != "anonymous"}


Request = Callable[[Site], tuple[str, str, dict | None]]
"""Builds (method, path, body) for one cell, seeding what it needs first."""

def _goods_fund(s: Site, actor=None, code: str | None = None) -> str:
    """A fund holding ¥6 of rice given in kind."""
    fund = code or s.fund()
    s.ledger.record_donation(actor or s.cast.accountant, fund, 600, donor_type="business", method="in_kind",
                             in_kind_description="大米", in_kind_basis="market", quantity=2, unit="袋")
    return fund


def _contract(s: Site, fund: str | None = None, actor=None) -> tuple[str, str]:
    """A fund with a signed two-milestone service contract, its first payment received."""
    fund = fund or s.fund()
    code, actor = fresh("C"), actor or s.cast.accountant
    s.ledger.sign_contract(actor, fund, code, buyer="街道办事处", milestones=[("一期", 300), ("二期", 200)],
                           document_ref="购买服务合同-1")
    s.ledger.receive_contract_payment(actor, fund, code, 300)
    return fund, code


_days = itertools.count(1)


def _since() -> str:
    """A later date each time: a new profile starts after the one recorded."""
    return (date(2000, 1, 1) + timedelta(days=next(_days))).isoformat()


def _special(s: Site) -> str:
    return s.fund(0, kind="special", restricted=True, purpose="助老", domains=["elderly_care"], street_towns=[TOWN],
                  agreement=agreement(ref="协议-T"))


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
            "starts_on": "2026-01-01", "reach": 500, "ends_on": "2026-12-31"}),
        # any accountant registers projects; the foundation scope applies to the money that pays them
        _everyone_but("accountant", "other_accountant")),
    "evaluate project": (
        lambda s: ("POST", "/api/v1/projects/P1/evaluations", {"score": 92, "respondents": 40, "survey_ref": "问卷-1"}),
        # P1 is CNCF's, undertaken by LELING: the other foundation's accountant may not
        _everyone_but("accountant", "recorder")),
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
    "record other income": (lambda s: ("POST", f"/api/v1/funds/{s.fund()}/income",
                                       {"amount": "1.23", "kind": "interest", "payer": "开户银行"}),
                            _everyone_but("accountant")),
    "distribute goods": (lambda s: ("POST", f"/api/v1/funds/{_goods_fund(s)}/goods-distributions",
                                    {"amount": "3", "description": "大米发放", "quantity": 1, "target": "P1"}),
                         _everyone_but("accountant")),
    "sign contract": (lambda s: ("POST", f"/api/v1/funds/{s.fund()}/contracts", {
        "contract": fresh("C"), "buyer": "街道办事处", "document_ref": "合同-9",
        "milestones": [{"name": "全部", "amount": "100"}]}), _everyone_but("accountant")),
    "contract payment": (lambda s: ("POST", "/api/v1/funds/{}/contracts/{}/payments".format(*_contract(s)),
                                    {"amount": "2.00"}), _everyone_but("accountant")),
    "deliver service": (lambda s: ("POST", "/api/v1/funds/{}/contracts/{}/deliveries".format(*_contract(s)),
                                   {"milestone": "一期"}), _everyone_but("accountant")),
    "terminate special fund": (lambda s: ("POST", f"/api/v1/funds/{_special(s)}/terminate", {"reason": "协议期满"}),
                               _everyone_but("accountant")),
    "record profile": (lambda s: ("POST", "/api/v1/organisations/CNCF/profile", {
        "charity": True, "public_fundraising": False, "org_type": "foundation", "since": _since(),
        "document_ref": "慈认-1"}), _everyone_but("root", "accountant")),
    "record publication": (lambda s: ("POST", "/api/v1/organisations/CNCF/publications", {
        "item": "annual_report", "subject": "2025", "title": "2025年度工作报告", "where": "慈善中国"}),
        _everyone_but("accountant")),
    "statements": (lambda s: ("GET", "/api/v1/statements?foundation=CNCF&year=2026", None),
                   _everyone_but("root", "accountant", "approver", "auditor")),
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
    names = {"funds": "{code}", "projects": "{code}", "disbursements": "{number}", "events": "{position}",
             "contracts": "{contract}", "organisations": "{code}"}
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


# --- foreign objects (OWASP API1): every write checks scope against the very object it touches ----

OTHER = "OTHERF"
"""The second foundation, whose accountant is ``other_accountant``; OTHERORG undertakes its project PX."""


def _foreign(s: Site):
    """OTHERF's approver, the organisation OTHERORG with its recorder, and OTHERF's project PX (once)."""
    if getattr(s, "foreign", None) is None:
        root = s.cast.root
        s.ledger.register_organisation(root, "OTHERORG", "另一社会组织", "social_organisation", TOWN,
                                       registered_on=date(2021, 1, 1))
        approver = s.cast.actor("appr-other", ["approver"], foundation=OTHER)
        recorder = s.cast.actor("rec-other", ["recorder"], organisation="OTHERORG")
        s.ledger.register_project(s.cast.other_accountant, "PX", "他会项目", street_town=TOWN, domain="elderly_care",
                                  organisation="OTHERORG", budget=10_000_000, funding_source="fund",
                                  approval_ref="他批〔2026〕1号", reach=500, starts_on=date(2026, 1, 1),
                                  ends_on=date(2026, 12, 31))
        s.foreign = {"approver": approver, "recorder": recorder}
    return s.foreign


def _px(s: Site) -> str:
    """OTHERF's project (undertaken by OTHERORG), registered on first use."""
    _foreign(s)
    return "PX"


def _other_org(s: Site) -> str:
    """The organisation of OTHERF's project, with its own recorder, registered on first use."""
    _foreign(s)
    return "OTHERORG"


def _other_fund(s: Site, fen: int = 0, **kw) -> str:
    _foreign(s)
    code = fresh("OF")
    s.ledger.open_fund(s.cast.other_accountant, code, f"{code} 他会基金", OTHER, street_town=TOWN, **kw)
    if fen:
        s.ledger.record_donation(s.cast.other_accountant, code, fen, donor_type="resident")
    return code


def _other_requested(s: Site, fen: int = 100) -> str:
    return s.ledger.request_disbursement(s.cast.other_accountant, _other_fund(s, 500), fen, kind="allowance",
                                         payee="张社工", domain="elderly_care", street_town=TOWN,
                                         purpose="社工津贴").ident


def _other_approved(s: Site) -> str:
    number = _other_requested(s)
    s.ledger.approve_disbursement(_foreign(s)["approver"], number, approval_ref="他批复-1")
    return number


def _other_hours(s: Site) -> int:
    recorder = _foreign(s)["recorder"]
    volunteer = s.ledger.register_volunteer(recorder, fresh("V"), "周八", TOWN).ident
    return s.ledger.record_hours(recorder, volunteer, organisation="OTHERORG", domain="elderly_care",
                                 on=date(2026, 3, 1), start=time(9, 0), end=time(10, 0), content="探访").positions[0]


NOBODY = _everyone_but()
ONLY_OTHER = _everyone_but("other_accountant")

FOREIGN: dict[str, tuple[Request, dict[str, object]]] = {
    "open fund for another foundation": (
        lambda s: ("POST", "/api/v1/funds", {"code": fresh("F"), "name": "他会新基金", "foundation": OTHER}), ONLY_OTHER),
    "close another foundation's fund": (
        lambda s: ("POST", f"/api/v1/funds/{_other_fund(s)}/close", {"reason": "结束"}), ONLY_OTHER),
    "allocate into another foundation's fund": (
        lambda s: ("POST", "/api/v1/allocations", {"from_fund": s.fund(500), "to_fund": _other_fund(s),
                                                   "amount": "1.00", "reason": "调拨"}), NOBODY),
    "allocate out of another foundation's fund": (
        lambda s: ("POST", "/api/v1/allocations", {"from_fund": _other_fund(s, 500), "to_fund": s.fund(),
                                                   "amount": "1.00", "reason": "调拨"}), NOBODY),
    "release another foundation's restriction": (
        lambda s: ("POST", "/api/v1/releases", {
            "fund": _other_fund(s, 500, kind="special", restricted=True, purpose="养老", domains=["elderly_care"],
                                street_towns=[TOWN], agreement=agreement(ref="协议-X")),
            "to_fund": s.fund(), "amount": "1.00", "basis": "协议"}), NOBODY),
    "donate into another foundation's fund": (
        lambda s: ("POST", "/api/v1/donations", {"fund": _other_fund(s), "amount": "1", "donor_type": "resident"}),
        ONLY_OTHER),
    "grant into another foundation's fund": (
        lambda s: ("POST", "/api/v1/grants", {"fund": _other_fund(s), "amount": "1", "source": "government_purchase",
                                              "payer": "民政局"}), ONLY_OTHER),
    "register a project for another foundation": (
        lambda s: ("POST", "/api/v1/projects", {
            "code": fresh("P"), "name": "他会新项目", "street_town": TOWN, "domain": "elderly_care",
            "organisation": "LELING", "budget": "100", "funding_source": "fund", "approval_ref": "批文",
            "starts_on": "2026-01-01", "ends_on": "2026-12-31", "reach": 300, "foundation": OTHER}), ONLY_OTHER),
    "evaluate another foundation's project": (
        lambda s: ("POST", f"/api/v1/projects/{_px(s)}/evaluations",
                   {"score": 0, "respondents": 400, "survey_ref": "问卷-X"}), ONLY_OTHER),
    "request from another foundation's fund": (
        lambda s: ("POST", "/api/v1/disbursements", {
            "fund": _other_fund(s, 500), "amount": "1", "kind": "allowance", "payee": "张社工",
            "domain": "elderly_care", "street_town": TOWN, "purpose": "津贴"}), ONLY_OTHER),
    "request a payment to another foundation's project": (
        lambda s: ("POST", "/api/v1/disbursements", {
            "fund": s.fund(500), "amount": "1", "project": _px(s), "purpose": "项目款"}), NOBODY),
    "approve another foundation's disbursement": (
        lambda s: ("POST", f"/api/v1/disbursements/{_other_requested(s)}/approve", {"approval_ref": "批复"}), NOBODY),
    "reject another foundation's disbursement": (
        lambda s: ("POST", f"/api/v1/disbursements/{_other_requested(s)}/reject", {"reason": "不符"}), NOBODY),
    "pay another foundation's disbursement": (
        lambda s: ("POST", f"/api/v1/disbursements/{_other_approved(s)}/pay", {}), ONLY_OTHER),
    "record hours for another organisation": (
        lambda s: ("POST", "/api/v1/hours", {
            "volunteer": s.ledger.register_volunteer(s.cast.recorder, fresh("V"), "吴九", TOWN).ident,
            "organisation": _other_org(s), "domain": "elderly_care", "on": "2026-03-02",
            "start": "09:00", "end": "10:00", "content": "代记"}), NOBODY),
    "correct another foundation's donation": (
        lambda s: ("POST", "/api/v1/corrections", {
            "position": s.ledger.record_donation(s.cast.other_accountant, _other_fund(s), 800,
                                                 donor_type="resident").positions[0], "reason": "录入错误"}),
        ONLY_OTHER),
    "correct another organisation's hours": (
        lambda s: ("POST", "/api/v1/corrections", {"position": _other_hours(s), "reason": "时间错误"}), NOBODY),
    "income into another foundation's fund": (
        lambda s: ("POST", f"/api/v1/funds/{_other_fund(s)}/income", {"amount": "1", "kind": "interest",
                                                                      "payer": "银行"}), ONLY_OTHER),
    "hand out another foundation's goods": (
        lambda s: ("POST", f"/api/v1/funds/{_goods_fund(s, s.cast.other_accountant, _other_fund(s))}/goods-distributions",
                   {"amount": "1", "description": "发放", "quantity": 1, "target": "PX"}), ONLY_OTHER),
    "sign a contract in another foundation's fund": (
        lambda s: ("POST", f"/api/v1/funds/{_other_fund(s)}/contracts", {
            "contract": fresh("C"), "buyer": "街道", "document_ref": "合同", "milestones": [{"name": "全部", "amount": "1"}]}),
        ONLY_OTHER),
    "receive on another foundation's contract": (
        lambda s: ("POST", "/api/v1/funds/{}/contracts/{}/payments".format(
            *_contract(s, _other_fund(s), s.cast.other_accountant)), {"amount": "1"}), ONLY_OTHER),
    "deliver on another foundation's contract": (
        lambda s: ("POST", "/api/v1/funds/{}/contracts/{}/deliveries".format(
            *_contract(s, _other_fund(s), s.cast.other_accountant)), {"milestone": "一期"}), ONLY_OTHER),
    "terminate another foundation's special fund": (
        lambda s: ("POST", "/api/v1/funds/{}/terminate".format(_other_fund(
            s, kind="special", restricted=True, purpose="养老", domains=["elderly_care"], street_towns=[TOWN],
            agreement=agreement(ref="协议-Y"))), {"reason": "期满"}), ONLY_OTHER),
    "record another foundation's profile": (
        lambda s: ("POST", f"/api/v1/organisations/{OTHER}/profile", {
            "charity": True, "public_fundraising": True, "org_type": "foundation", "since": _since(),
            "document_ref": "慈认-2"}), _everyone_but("other_accountant", "root")),
    "publish for another foundation": (
        lambda s: ("POST", f"/api/v1/organisations/{OTHER}/publications", {
            "item": "annual_report", "subject": "2025", "title": "年报", "where": "官网"}), ONLY_OTHER),
}

CREATES = {"register organisation": "a new organisation of the district's registry: no owner to check",
           "register volunteer": "a new volunteer of the district's registry: no owner to check"}
"""Writes that touch no existing object (the other cells of the main matrix cover their roles)."""

FOREIGN_CELLS = [(endpoint, role) for endpoint in FOREIGN for role in ROLES]


def test_every_write_route_meets_a_foreign_object(site):
    """Each write route but those that create from nothing has a cell on a foreign object."""
    routes = {_shape(build(site)[1]) for build, _ in FOREIGN.values()}
    writes = {_shape(ENDPOINTS[name][0](site)[1]) for name in ENDPOINTS if ENDPOINTS[name][0](site)[0] == "POST"}
    created = {_shape(ENDPOINTS[name][0](site)[1]) for name in CREATES}
    assert writes - created == routes


@pytest.mark.parametrize(("endpoint", "role"), FOREIGN_CELLS, ids=[f"{e}-{r}" for e, r in FOREIGN_CELLS])
def test_authorization_matrix_on_foreign_objects(site, endpoint, role):
    build, expected = FOREIGN[endpoint]
    _, path, body = build(site)
    want = UNAUTH if role == "anonymous" else expected[role]
    before = site.head()
    response = site.post(role, path, body)
    if want == OK:
        assert response.status_code == 201, response.text
        assert site.head() == max(response.json()["positions"])
    else:
        assert_problem(response, want, "authentication" if want == UNAUTH else "not-authorised")
        assert site.head() == before, "a refused request wrote something"


def test_a_million_respondents_at_zero_percent_for_another_foundation_is_refused(site):
    """The issue's own attack: CNCF's project evaluated by OTHERF's accountant, and implausibly."""
    before = site.head()
    refused = site.post("other_accountant", "/api/v1/projects/P1/evaluations",
                        {"score": 0, "respondents": 1_000_000, "survey_ref": "问卷"})
    assert_problem(refused, 403, "not-authorised", "actor")
    assert site.head() == before
