"""Disclosure (信息公开, 民政部令第81号) as far as the log itself can show it: every correction is
published with its correction note (更正说明), and a project longer than six months has its
quarterly reports due on dates the auditor checks against what was published.

The log records no publication events, so the deadlines are reported as dates to check
(warnings), and only a correction without a note is a breach."""

from __future__ import annotations

from datetime import date

from audits.findings import WARNING, Finding
from audits.replay import Entry, Replay
from audits.rules.common import Principals, RuleCheck, breach, run

CORRECTIONS = ("Fund.Reversed", "Volunteer.ServiceReversed", "Disbursement.Reversed", "Project.PaymentReversed")


def _add_months(day: date, months: int) -> date:
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    for last in (31, 30, 29, 28):
        try:
            return date(year, month, min(day.day, last))
        except ValueError:
            continue
    raise ValueError(day)


class Check(RuleCheck):
    """Each event is judged alone: nothing to carry from one to the next."""

    def feed(self, e: Entry, principals: Principals) -> list[Finding]:
        findings: list[Finding] = []
        if e.type in CORRECTIONS and not str(e.payload.get("reason") or "").strip():
            findings.append(breach("disclosure.correction-note", f"correction #{e.position} ({e.type}) has no "
                                   "correction note", f"更正 #{e.position} 没有更正说明", e))
        elif e.type == "Project.Registered":
            p = e.payload
            try:
                starts, ends = date.fromisoformat(p["starts_on"]), date.fromisoformat(p["ends_on"])
            except (KeyError, TypeError, ValueError):
                return findings
            if _add_months(starts, 6) < ends:
                due, quarter = [], _add_months(starts, 3)
                while quarter <= ends:
                    due.append(quarter.isoformat())
                    quarter = _add_months(quarter, 3)
                final = _add_months(ends, 3).isoformat()
                findings.append(breach("disclosure.project-reports", f"project {p['code']} runs more than six months: "
                                       f"progress reports due by {', '.join(due)}; full report by {final}",
                                       f"项目 {p['code']} 周期超过六个月：应于 {', '.join(due)} 前公开进展，"
                                       f"{final} 前公开全部情况", e, severity=WARNING,
                                       street_town=p.get("street_town"), due=due, final=final))
        return findings


def check(history: Replay) -> list[Finding]:
    return run(Check(), history)
