"""Project payments (项目付款) stay within the approved budget and go only to the organisation that
undertook the project (承接组织)."""

from __future__ import annotations

from audits.findings import Finding
from audits.replay import Entry, Replay
from audits.rules.common import breach
from ledger.money import format_cny


def check(history: Replay) -> list[Finding]:
    projects: dict[str, Entry] = {}
    paid: dict[str, int] = {}
    findings = []
    for e in history.entries:
        code = e.stream.partition(":")[2]
        if e.type == "Project.Registered":
            projects[code], paid[code] = e, 0
        elif e.type in ("Project.PaymentRecorded", "Project.PaymentReversed") and code in projects:
            project = projects[code].payload
            town = project.get("street_town")
            if e.type == "Project.PaymentReversed":
                paid[code] -= e.payload["amount"]
                continue
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
        elif e.type == "Disbursement.Requested" and e.payload.get("kind") == "project":
            project = projects.get(e.payload.get("project") or "")
            if project is not None and e.payload.get("payee") != project.payload.get("organisation"):
                findings.append(breach("projects.payee", f"disbursement {code} for project {project.payload['code']} "
                                       f"names payee {e.payload.get('payee')}, not {project.payload.get('organisation')}",
                                       f"拨付 {code} 的收款方不是项目承接组织", project, e,
                                       street_town=project.payload.get("street_town"), fund=e.payload.get("fund")))
    return findings
