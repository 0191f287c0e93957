"""Satisfaction surveys (满意度测评) must be plausible (issue 17 item 1), on SQLite and PostgreSQL:
no more respondents than the people the project serves (its reach, stated at registration), a
score from 0 to 100, and the reference of the survey — each refused with the named error
``evaluation-plausible`` (Chinese and English), through the API, the CLI and the ledger alike. A
project registered before foundations and reach were recorded still loads and keeps its meaning."""

from __future__ import annotations

from datetime import date

import pytest
from apisite import TOWN, assert_problem, fresh, site_fixture  # noqa: F401  (the site fixture)

from ledger.errors import ImplausibleEvaluation, NotAuthorised
from ledger.projects import Project

EVALUATE = "/api/v1/projects/{code}/evaluations"


def _project(site, reach: int = 300) -> str:
    code = fresh("P")
    site.ledger.register_project(site.cast.accountant, code, "助老", street_town=TOWN, domain="elderly_care",
                                 organisation="LELING", budget=100_000, funding_source="fund", approval_ref="批文-1",
                                 reach=reach, starts_on=date(2026, 1, 1), ends_on=date(2026, 12, 31))
    return code


def test_a_million_respondents_at_zero_percent_is_refused(site):
    code = _project(site)
    before = site.head()
    refused = site.post("accountant", EVALUATE.format(code=code),
                        {"score": 0, "respondents": 1_000_000, "survey_ref": "问卷-1"})
    problem = assert_problem(refused, 422, "evaluation-plausible", "respondents")
    assert "1,000,000" in problem["detail_en"] and "300" in problem["detail_en"] and "服务对象人数" in problem["detail"]
    assert site.head() == before
    assert site.post("accountant", EVALUATE.format(code=code),
                     {"score": 0, "respondents": 301, "survey_ref": "问卷-1"}).status_code == 422
    done = site.post("accountant", EVALUATE.format(code=code), {"score": 0, "respondents": 300, "survey_ref": "问卷-1"})
    assert done.status_code == 201, done.text


def test_a_survey_reference_is_required(site):
    code = _project(site)
    before = site.head()
    assert_problem(site.post("accountant", EVALUATE.format(code=code), {"score": 90, "respondents": 30}),
                   422, field="survey_ref")
    assert_problem(site.post("accountant", EVALUATE.format(code=code),
                             {"score": 90, "respondents": 30, "survey_ref": "   "}), 422, "evaluation-plausible",
                   "survey_ref")
    with pytest.raises(ImplausibleEvaluation) as refused:
        site.ledger.evaluate_project(site.cast.accountant, code, score=90, respondents=30, survey_ref="")
    assert refused.value.field == "survey_ref" and refused.value.message_zh
    assert site.head() == before


@pytest.mark.parametrize("score", [-1, 101, 1000])
def test_a_score_outside_0_to_100_is_refused_by_the_ledger(site, score):
    code = _project(site)
    with pytest.raises(ImplausibleEvaluation) as refused:
        site.ledger.evaluate_project(site.cast.accountant, code, score=score, respondents=10, survey_ref="问卷")
    assert refused.value.rule == "evaluation-plausible" and refused.value.field == "score"


def test_the_reach_is_stated_at_registration(site):
    before = site.head()
    body = {"code": fresh("P"), "name": "项目", "street_town": TOWN, "domain": "elderly_care", "organisation": "LELING",
            "budget": "100", "funding_source": "fund", "approval_ref": "批文", "starts_on": "2026-01-01",
            "ends_on": "2026-12-31"}
    assert_problem(site.post("accountant", "/api/v1/projects", body), 422, field="reach")
    assert_problem(site.post("accountant", "/api/v1/projects", {**body, "reach": 0}), 422, field="reach")
    assert site.head() == before
    assert site.post("accountant", "/api/v1/projects", {**body, "reach": 120}).status_code == 201
    assert site.ledger.project(body["code"]).reach == 120
    assert site.ledger.project(body["code"]).foundation == "CNCF"  # the accountant's own, by default


def test_the_cli_refuses_an_implausible_survey(cli):
    cli("org", "register", "LELING", "--name", "乐龄互助社", "--kind", "social_organisation",
        "--street-town", TOWN, "--registered-on", "2021-01-01", "--as", "root")
    cli("principal", "add", "acct", "--name", "会计", "--role", "accountant", "--foundation", "CNCF", "--as", "root")
    cli("project", "register", "P1", "--name", "助餐", "--street-town", TOWN, "--domain", "elderly_care",
        "--organisation", "LELING", "--budget", "1000", "--funding-source", "fund", "--approval-ref", "批文",
        "--starts-on", "2026-01-01", "--ends-on", "2026-12-31", "--reach", "80", "--as", "acct")
    refused = cli("project", "evaluate", "P1", "--score", "0", "--respondents", "1000000", "--survey-ref", "问卷-1",
                  "--as", "acct", ok=False)
    assert refused.exit_code == 1
    assert "evaluation-plausible" in refused.output and "受访人数" in refused.output and "80" in refused.output
    assert cli("project", "evaluate", "P1", "--score", "91", "--respondents", "80", "--survey-ref", "问卷-1",
               "--as", "acct").exit_code == 0


def _legacy_project(site) -> str:
    """A project as the ledger recorded it before foundations and reach: its signed payload has neither."""
    code = fresh("OLD")
    project = Project(code=code, name="旧项目", street_town=TOWN, community=None, domain="elderly_care",
                      organisation="LELING", budget=100_000, funding_source="fund", approval_ref="旧批文",
                      starts_on="2025-01-01", ends_on="2026-12-31", milestones=[])
    for name in ("foundation", "reach"):
        del project.pending_events[0].__dict__[name]
    site.ledger._save(site.cast.root, code, project)
    return code


def test_a_project_from_before_keeps_its_meaning(site):
    code = _legacy_project(site)
    stored = site.ledger.recorder.select_events(f"project:{code}")[0]
    assert b'"reach"' not in bytes(stored.state) and b'"foundation"' not in bytes(stored.state)
    old = site.ledger.project(code)
    assert old.foundation is None and old.reach is None and old.budget == 100_000
    # payments: the paying fund's scope decides, as it always did
    fund = site.fund(500)
    number = site.ledger.request_disbursement(site.cast.accountant, fund, 100, project=code, purpose="项目款").ident
    site.ledger.approve_disbursement(site.cast.approver, number, approval_ref="批复")
    site.ledger.pay_disbursement(site.cast.accountant, number)
    assert site.ledger.project(code).paid == 100
    # evaluations: no scoped accountant may write to a project that names no foundation, and none is
    # plausible without a reach to check the respondents against
    with pytest.raises(NotAuthorised):
        site.ledger.evaluate_project(site.cast.other_accountant, code, score=10, respondents=5, survey_ref="问卷")
    with pytest.raises(NotAuthorised):
        site.ledger.evaluate_project(site.cast.accountant, code, score=10, respondents=5, survey_ref="问卷")
    with pytest.raises(ImplausibleEvaluation, match="reach"):
        site.ledger.evaluate_project(site.cast.recorder, code, score=10, respondents=5, survey_ref="问卷")
