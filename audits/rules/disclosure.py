"""Disclosure (信息公开, 《慈善组织信息公开办法》 民政部令第81号): every correction is published with
its correction note (更正说明); and the disclosure calendar (``ledger.disclosures``) — annual and
financial reports by 31 May, a long project's progress every three months and its full report within
three months of its end, a special fund's leftover within three months — judged against the signed
publications (``Organisation.DisclosurePublished``) on the last business date the log records: a duty past
its deadline with nothing published is overdue (an error), one published after it late (a warning);
one still due or done on time is no finding."""

from __future__ import annotations

from typing import Any

from audits.findings import WARNING, Finding
from audits.replay import Entry, Replay
from audits.rules.common import Principals, RuleCheck, breach, run
from ledger.disclosures import LATE, OVERDUE, Calendar

CORRECTIONS = ("Fund.Reversed", "Volunteer.ServiceReversed", "Disbursement.Reversed", "Project.PaymentReversed")


class Check(RuleCheck):
    """Corrections are judged one by one; the calendar is kept and judged at the end."""

    def __init__(self, calendar: Calendar | None = None) -> None:
        self.calendar = calendar or Calendar()

    def dump(self) -> Any:
        c = self.calendar
        return {"foundations": c.foundations, "funds": c.funds, "projects": c.projects, "payer": c.project_payer,
                "terminations": [list(t) for t in c.terminations], "last_day": c.last_day,
                "publications": [[*k, [list(x) for x in v]] for k, v in c.publications.items()]}

    @classmethod
    def load(cls, data: Any) -> Check:
        c = Calendar()
        c.foundations, c.funds, c.projects, c.project_payer = (data["foundations"], data["funds"], data["projects"],
                                                               data["payer"])
        c.terminations, c.last_day = [tuple(t) for t in data["terminations"]], data["last_day"]
        for organisation, item, subject, published in data["publications"]:
            c.publications[(organisation, item, subject)] = [tuple(x) for x in published]
        return cls(c)

    def feed(self, e: Entry, principals: Principals) -> list[Finding]:
        self.calendar.feed(e, e.position)
        if e.type in CORRECTIONS and not str(e.payload.get("reason") or "").strip():
            return [breach("disclosure.correction-note", f"correction #{e.position} ({e.type}) has no correction note",
                           f"更正 #{e.position} 没有更正说明", e)]
        return []

    def finish(self, principals: Principals) -> list[Finding]:
        findings = []
        for duty in self.calendar.duties():
            d = duty.as_json()
            if duty.status == OVERDUE:
                findings.append(breach("disclosure.overdue", f"{duty.organisation}: {d['item_en']} of {duty.subject} "
                                       f"was due by {duty.due} and is not published",
                                       f"{duty.organisation}：{duty.subject} 的{d['item_zh']}应于 {duty.due} 前公开，至今未公开",
                                       **_details(d)))
            elif duty.status == LATE:
                findings.append(breach("disclosure.late", f"{duty.organisation}: {d['item_en']} of {duty.subject} was "
                                       f"due by {duty.due}, published {duty.published_on}",
                                       f"{duty.organisation}：{duty.subject} 的{d['item_zh']}应于 {duty.due} 前公开，"
                                       f"{duty.published_on} 才公开", severity=WARNING, **_details(d)))
        return findings


def _details(duty: dict[str, Any]) -> dict[str, Any]:
    return {"item": duty["item"], "subject": duty["subject"], "due": duty["due"], "status": duty["status"],
            "published_on": duty["published_on"], "organisation": duty["organisation"]}


def check(history: Replay) -> list[Finding]:
    return run(Check(), history)
