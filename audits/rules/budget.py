"""Project payments (项目付款) stay within the approved budget and go only to the organisation that
undertook the project (承接组织); a satisfaction survey (满意度测评) of a project that states its reach
has no more respondents than that, a score from 0 to 100 and a survey reference (surveys of
projects registered before reach was recorded cannot be checked, and are not findings)."""

from __future__ import annotations

from typing import Any

from audits.findings import Finding
from audits.replay import Entry, Replay
from audits.rules.common import Principals, RuleCheck, breach, pack, run, unpack
from ledger.money import format_cny


class Check(RuleCheck):
    def __init__(self, projects: dict[str, Entry] | None = None, paid: dict[str, int] | None = None) -> None:
        self.projects = projects or {}
        self.paid = paid or {}

    def dump(self) -> Any:
        return {"projects": {c: pack(e, "code", "budget", "organisation", "street_town", "reach")
                             for c, e in self.projects.items()},
                "paid": self.paid}

    @classmethod
    def load(cls, data: Any) -> Check:
        return cls({c: unpack(e) for c, e in data["projects"].items()}, data["paid"])

    def feed(self, e: Entry, principals: Principals) -> list[Finding]:
        projects, paid, findings = self.projects, self.paid, []
        code = e.stream.partition(":")[2]
        if e.type == "Project.Registered":
            projects[code], paid[code] = e, 0
        elif e.type in ("Project.PaymentRecorded", "Project.PaymentReversed") and code in projects:
            project = projects[code].payload
            town = project.get("street_town")
            if e.type == "Project.PaymentReversed":
                paid[code] -= e.payload["amount"]
                return findings
            paid[code] += e.payload["amount"]
            if paid[code] > project["budget"]:
                findings.append(breach("projects.budget", f"project {code} has paid {format_cny(paid[code])}, over its "
                                       f"budget of {format_cny(project['budget'])}",
                                       f"项目 {code} 已付 {format_cny(paid[code])}，超出预算 {format_cny(project['budget'])}",
                                       projects[code], e, street_town=town))
            if e.payload.get("payee") != project.get("organisation"):
                findings.append(breach("projects.payee", f"project {code} paid {e.payload.get('payee')}, not its "
                                       f"undertaking organisation {project.get('organisation')}",
                                       f"项目 {code} 向 {e.payload.get('payee')} 付款，而非承接组织 "
                                       f"{project.get('organisation')}", projects[code], e, street_town=town))
        elif e.type == "Project.Evaluated" and code in projects and projects[code].payload.get("reach") is not None:
            findings += _implausible(projects[code], e)
        elif e.type == "Disbursement.Requested" and e.payload.get("kind") == "project":
            project = projects.get(e.payload.get("project") or "")
            if project is not None and e.payload.get("payee") != project.payload.get("organisation"):
                findings.append(breach("projects.payee", f"disbursement {code} for project {project.payload['code']} "
                                       f"names payee {e.payload.get('payee')}, not {project.payload.get('organisation')}",
                                       f"拨付 {code} 的收款方不是项目承接组织", project, e,
                                       street_town=project.payload.get("street_town"), fund=e.payload.get("fund")))
        return findings


def _implausible(project: Entry, e: Entry) -> list[Finding]:
    reach, p, code = project.payload["reach"], e.payload, project.payload.get("code")
    town = project.payload.get("street_town")
    problems = []
    if p.get("respondents", 0) > reach:
        problems.append((f"{p.get('respondents')} respondents, but the project serves {reach}",
                         f"受访人数 {p.get('respondents')} 超过服务对象人数 {reach}"))
    if not 0 <= p.get("score", -1) <= 100:
        problems.append((f"score {p.get('score')} is not from 0 to 100", f"满意度 {p.get('score')} 不在0到100之间"))
    if not p.get("survey_ref"):
        problems.append(("no survey reference", "未写明测评依据"))
    return [breach("projects.evaluation", f"survey of project {code}: {en}", f"项目 {code} 的满意度测评：{zh}",
                   project, e, street_town=town) for en, zh in problems]


def check(history: Replay) -> list[Finding]:
    return run(Check(), history)
