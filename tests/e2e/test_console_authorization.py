"""The console's authorization matrix: every console route × every role, on SQLite and PostgreSQL,
as tests/e2e/test_api_authorization.py does for the API. Each cell asks for something that exists
and is valid, so only who asks decides; a refused write writes nothing. Then the scopes: another
foundation's books, another organisation's volunteers, one's own request."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

import pytest
from apisite import TOWN, fresh
from consolesite import ROLES, ConsoleSite, console_fixture, field_errors  # noqa: F401  (the fixture)

from api.console.catalogue import FORMS

OK, FORBIDDEN, SIGN_IN = "ok", 403, 303
STAFF = [r for r in ROLES if r != "anonymous"]


def only(*allowed: str) -> dict[str, object]:
    return {role: OK if role in allowed else FORBIDDEN for role in STAFF}


def _session(c: ConsoleSite) -> int:
    """A LELING service session's log position (recorded by LELING's recorder)."""
    s = c.site
    number = s.ledger.register_volunteer(s.cast.recorder, fresh("V"), "周八", TOWN).ident
    return s.ledger.record_hours(s.cast.recorder, number, organisation="LELING", domain="elderly_care",
                                 on=date(2026, 3, 3), start=_t(9), end=_t(10), content="助餐").positions[0]


def _t(hour: int):
    from datetime import time

    return time(hour, 0)


def _donation(c: ConsoleSite) -> int:
    s = c.site
    return s.ledger.record_donation(s.cast.accountant, s.fund(), 900, donor_type="resident").positions[0]


def _audit_run(c: ConsoleSite) -> str:
    runs = c.app.state.console.audits
    if not runs.runs:
        runs.start(c.ledger, type("S", (), {"handle": "aud"})())
    return next(iter(runs.runs))


Page = Callable[[ConsoleSite], str]
PAGES: dict[str, tuple[Page, dict[str, object]]] = {
    "home": (lambda c: "/console/", only(*STAFF)),
    "recorded": (lambda c: "/console/recorded?form=donation&id=x&positions=1", only(*STAFF)),
    **{f"form {slug}": ((lambda c, slug=slug: f"/console/record/{slug}"),
                        only(*[r for r in STAFF if any(c in r for c in form.roles) and
                               not (r == "other_accountant" and "accountant" not in form.roles)]))
       for slug, form in FORMS.items()},
    "approval queue": (lambda c: "/console/approvals", only("approver")),
    "approval": (lambda c: f"/console/approvals/{c.site.requested(c.site.fund(500))}", only("approver")),
    "corrections": (lambda c: "/console/corrections", only("accountant", "other_accountant", "recorder")),
    "correction preview": (lambda c: f"/console/corrections/{_donation(c)}", only("accountant")),
    "volunteers": (lambda c: "/console/volunteers", only("root", "accountant", "other_accountant", "recorder")),
    "volunteer history": (lambda c: "/console/volunteers/V001", only("root", "accountant", "other_accountant", "recorder")),
    "certificate": (lambda c: f"/console/certificates/{_session(c)}", only("root", "recorder")),
    "certificate page": (lambda c: f"/console/certificates/{_session(c)}/print", only("root", "recorder")),
    "certificate json": (lambda c: f"/console/certificates/{_session(c)}/receipt.json", only("root", "recorder")),
    "import donations": (lambda c: "/console/import/donations", only("accountant", "other_accountant")),
    "import hours": (lambda c: "/console/import/hours", only("recorder")),
    "receipts": (lambda c: "/console/receipts", only("accountant", "other_accountant", "root")),
    "receipt": (lambda c: f"/console/receipts/{_donation(c)}", only("accountant", "root")),
    "statements": (lambda c: "/console/statements", only("root", "accountant", "other_accountant", "approver", "auditor")),
    "statements of a year": (lambda c: "/console/statements?year=2026&foundation=CNCF",
                             only("root", "accountant", "other_accountant", "approver", "auditor")),
    "statements file": (lambda c: "/console/statements/file?year=2026&foundation=CNCF&format=json",
                        only("root", "accountant", "other_accountant", "approver", "auditor")),
    "audit": (lambda c: "/console/audit", only("auditor", "root")),
    "audit bundle": (lambda c: "/console/audit/bundle.zip", only("auditor", "root")),
    "audit run": (lambda c: f"/console/audit/runs/{_audit_run(c)}", only("auditor", "root")),
}

Write = Callable[[ConsoleSite], tuple[str, dict]]
WRITES: dict[str, tuple[Write, dict[str, object]]] = {
    "donation": (lambda c: ("donation", {"fund": c.site.fund(), "amount": "10.50", "donor_type": "resident",
                                         "method": "transfer"}), only("accountant")),
    "grant": (lambda c: ("grant", {"fund": c.site.fund(), "amount": "300", "source": "government_purchase",
                                   "payer": "长宁区民政局"}), only("accountant")),
    "allocation": (lambda c: ("allocation", {"from_fund": c.site.fund(500), "to_fund": c.site.fund(), "amount": "1.00",
                                             "reason": "调拨"}), only("accountant")),
    "release": (lambda c: ("release", {"fund": c.site.restricted_fund(500), "to_fund": c.site.fund(), "amount": "2.50",
                                       "basis": "协议第3条"}), only("accountant")),
    "fund-open": (lambda c: ("fund-open", {"code": fresh("F"), "name": "新基金", "foundation": "CNCF",
                                           "street_town": TOWN}), only("accountant")),
    "fund-close": (lambda c: ("fund-close", {"code": c.site.fund(), "reason": "项目结束"}), only("accountant")),
    "income": (lambda c: ("income", {"fund": c.site.fund(), "amount": "3.21", "kind": "interest", "payer": "开户银行"}),
               only("accountant")),
    "publication": (lambda c: ("publication", {"organisation": "CNCF", "item": "annual_report", "subject": "2025",
                                               "title": "2025年度工作报告", "where": "慈善中国"}), only("accountant")),
    "project": (lambda c: ("project", {
        "code": fresh("P"), "name": "新项目", "street_town": TOWN, "domain": "elderly_care", "organisation": "LELING",
        "budget": "5000", "funding_source": "fund", "approval_ref": "批文-9", "reach": "120", "starts_on": "2026-01-01",
        "ends_on": "2026-12-31", "milestone_name_1": "一期", "milestone_amount_1": "2000"}),
        only("accountant", "other_accountant")),
    "disbursement": (lambda c: ("disbursement", {
        "fund": c.site.fund(500), "amount": "1", "kind": "allowance", "payee": "张社工", "domain": "elderly_care",
        "street_town": TOWN, "purpose": "社工津贴"}), only("accountant")),
    "pay": (lambda c: ("pay", {"number": c.site.approved(c.site.fund(500))}), only("accountant")),
    "approve": (lambda c: ("approve", {"number": c.site.requested(c.site.fund(500)), "approval_ref": "批复-2"}),
                only("approver")),
    "reject": (lambda c: ("reject", {"number": c.site.requested(c.site.fund(500)), "reason": "材料不全"}),
               only("approver")),
    "volunteer": (lambda c: ("volunteer", {"number": fresh("V"), "name": "王五", "street_town": TOWN}),
                  only("accountant", "other_accountant", "recorder")),
    "hours": (lambda c: ("hours", {
        "volunteer": c.ledger.register_volunteer(c.site.cast.recorder, fresh("V"), "赵六", TOWN).ident,
        "organisation": "LELING", "domain": "elderly_care", "on": "2026-03-01", "start": "09:00", "end": "11:30",
        "content": "陪伴独居老人"}), only("recorder")),
    "correction": (lambda c: ("correction", {"position": str(_donation(c)), "reason": "金额录入错误"}), only("accountant")),
}

PAGE_CELLS = [(p, r) for p in PAGES for r in ROLES]
WRITE_CELLS = [(w, r) for w in WRITES for r in ROLES]


def test_the_matrix_covers_every_console_route(console):
    """A new console route must join the matrix."""
    from api.console import approvals, auditor, corrections, imports, receipts, recorder, routes, signin, statements

    modules = (signin, routes, approvals, corrections, recorder, auditor, imports, receipts, statements)
    found = [r for m in modules for r in m.router.routes]
    found += [r for r in console.app.routes if getattr(r, "path", "").startswith("/console/")]
    routes = {(m, r.path) for r in found for m in getattr(r, "methods", ())}
    listed = {("GET", "/console/"), ("GET", "/console/recorded"), ("GET", "/console/record/{slug}"),
              ("POST", "/console/record/{slug}"), ("GET", "/console/approvals"), ("GET", "/console/approvals/{number}"),
              ("GET", "/console/corrections"), ("GET", "/console/corrections/{position}"),
              ("GET", "/console/volunteers"), ("GET", "/console/volunteers/{number}"),
              ("GET", "/console/certificates/{position}"), ("GET", "/console/certificates/{position}/print"),
              ("GET", "/console/certificates/{position}/receipt.json"),
              ("GET", "/console/certificates/{position}/certificate.pdf"),
              ("GET", "/console/import/{kind}"), ("POST", "/console/import/{kind}"),
              ("POST", "/console/import/{kind}/commit"), ("GET", "/console/receipts"),
              ("GET", "/console/receipts/{position}"), ("GET", "/console/receipts/{position}/receipt.pdf"),
              ("GET", "/console/receipts/month/{month}/receipts.pdf"),
              ("GET", "/console/statements"), ("GET", "/console/statements/file"),
              ("GET", "/console/audit"), ("GET", "/console/audit/bundle.zip"), ("POST", "/console/audit/runs"),
              ("GET", "/console/audit/runs/{run_id}"), ("GET", "/console/audit/runs/{run_id}/findings.html"),
              # reachable by everyone by design:
              ("GET", "/console/sign-in"), ("POST", "/console/sign-in"), ("POST", "/console/sign-out"),
              ("GET", "/console/static/{name}")}
    assert {r for r in routes if r[0] in ("GET", "POST")} == listed
    assert set(FORMS) == set(WRITES), "every form is a cell of the write matrix"


@pytest.mark.parametrize(("page", "role"), PAGE_CELLS, ids=[f"{p}-{r}" for p, r in PAGE_CELLS])
def test_console_pages_by_role(console, page, role):
    build, expected = PAGES[page]
    path = build(console)
    answer = console.as_role(role).get(path)
    want = SIGN_IN if role == "anonymous" else expected[role]
    if want == OK:
        assert answer.status_code == 200, answer.text[:2000]
    elif want == SIGN_IN:
        assert answer.status_code == 303 and answer.headers["location"].startswith("/console/sign-in")
    else:
        assert answer.status_code == 403, answer.text[:2000]
        assert 'data-rule="not-authorised"' in answer.text


@pytest.mark.parametrize(("write", "role"), WRITE_CELLS, ids=[f"{w}-{r}" for w, r in WRITE_CELLS])
def test_console_writes_by_role(console, write, role):
    build, expected = WRITES[write]
    slug, data = build(console)
    before = console.site.head()
    client = console.as_role(role)
    if role == "anonymous":
        answer = client.post(f"/console/record/{slug}", data=data)
        assert answer.status_code == 303 and answer.headers["location"].startswith("/console/sign-in")
        assert console.site.head() == before
        return
    # The form page a refused role cannot open gives no token: post the home page's instead.
    page = f"/console/record/{slug}" if expected[role] == OK else "/console/"
    answer = console.post_form(client, f"/console/record/{slug}", data, form_page=page)
    if expected[role] == OK:
        assert answer.status_code == 303, answer.text[:3000]
        assert console.site.head() > before
    else:
        assert answer.status_code == 403, answer.text[:3000]
        assert "not-authorised" in answer.text
        assert console.site.head() == before, "a refused write wrote something"


def test_imports_are_posted_by_their_roles_only(console):
    for kind, allowed in (("donations", ("accountant", "other_accountant")), ("hours", ("recorder",))):
        for role in STAFF:
            client = console.as_role(role)
            page = client.get("/console/")
            token = page.text.split('name="csrf" value="')[1].split('"')[0]
            answer = client.post(f"/console/import/{kind}", data={"csrf": token},
                                 files={"file": ("x.csv", b"a,b\n1,2\n", "text/csv")})
            if role in allowed:
                assert answer.status_code != 403, (kind, role)
            else:
                assert answer.status_code == 403, (kind, role)
            commit = client.post(f"/console/import/{kind}/commit", data={"csrf": token, "token": "nope"})
            assert commit.status_code == (409 if role in allowed else 403), (kind, role)


def test_the_audit_run_is_for_auditors_and_root(console):
    for role in STAFF:
        client = console.as_role(role)
        answer = console.post_form(client, "/console/audit/runs", {}, form_page="/console/")
        assert answer.status_code == (303 if role in ("auditor", "root") else 403), role


# --- scopes --------------------------------------------------------------------------------------


def test_another_foundations_accountant_sees_and_pays_nothing_of_ours(console):
    s = console.site
    fund = s.fund(1000)
    other = console.as_role("other_accountant")
    assert f'data-fund="{fund}"' not in other.get("/console/").text
    assert f'value="{fund}"' not in other.get("/console/record/donation").text
    number = s.approved(fund)
    before = s.head()
    answer = console.post_form(other, "/console/record/pay", {"number": number}, form_page="/console/record/donation")
    assert answer.status_code == 403 and field_errors(answer.text) == {"_form": "not-authorised"}
    assert s.head() == before and s.ledger.disbursement(number).status == "approved"
    assert other.get(f"/console/corrections/{_donation(console)}").status_code == 403


def test_a_recorder_records_and_certifies_for_their_own_organisation_only(console):
    s = console.site
    s.ledger.register_organisation(s.cast.root, (org := fresh("ORG")), "另一组织", "social_organisation", TOWN,
                                   registered_on=date(2021, 1, 1))
    other_recorder = s.cast.actor(fresh("rec-"), ["recorder"], organisation=org)
    number = s.ledger.register_volunteer(s.cast.recorder, fresh("V"), "孙七", TOWN).ident
    theirs = s.ledger.record_hours(other_recorder, number, organisation=org, domain="elderly_care",
                                   on=date(2026, 3, 2), start=_t(14), end=_t(15), content="他组织的服务").positions[0]
    recorder = console.as_role("recorder")
    before = s.head()
    answer = console.post_form(recorder, "/console/record/hours", {
        "volunteer": number, "organisation": org, "domain": "elderly_care", "on": "2026-03-02", "start": "09:00",
        "end": "10:00", "content": "代他人记录"})
    assert answer.status_code == 403 and field_errors(answer.text) == {"organisation": "not-authorised"}
    assert s.head() == before
    assert recorder.get(f"/console/certificates/{theirs}").status_code == 403
    assert "他组织的服务" not in recorder.get(f"/console/volunteers/{number}").text
    assert f'value="{org}"' not in recorder.get("/console/record/hours").text


def test_the_queue_never_offers_an_approver_their_own_request(console):
    s = console.site
    both = console.browser()
    assert console.sign_in(both, s.actors["accountant_approver"].handle).status_code == 303
    mine = s.requested(s.fund(1000), actor=s.actors["accountant_approver"])
    queue = both.get("/console/approvals").text
    assert f'data-number="{mine}"' not in queue and mine[:8] in queue  # listed apart, as awaiting someone else
    before = s.head()
    answer = console.post_form(both, "/console/record/approve", {"number": mine, "approval_ref": "批复-3"},
                               form_page="/console/approvals")
    assert answer.status_code == 409 and "maker-checker" in answer.text
    assert s.head() == before and s.ledger.disbursement(mine).status == "requested"
