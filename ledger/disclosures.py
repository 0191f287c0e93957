"""The disclosure calendar (信息公开日历) of 《慈善组织信息公开办法》 (民政部令第81号, in force from
2026-01-01): what each foundation must publish and by when, and whether its signed publications
(``Organisation.DisclosurePublished``) did so — due, done on time, late, or overdue.

A pure function of a history and a day (the auditor's: the last business date the books record), so the server, the
``wushe disclosures`` report and the audit compute the same calendar.

- Annual work report and financial report (年度工作报告、财务会计报告) of year Y: by 31 May of Y+1,
  for every year from the one its first fund was opened in the ledger to the year before ``today``.
- A project running more than six months: its progress at least every three months from its start,
  and its full report within three months of its end (慈善项目实施情况), counted for the
  foundation whose fund first paid it.
- A special fund's leftover property (剩余财产): its handling within three months of the fund's end.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any

DUE, ON_TIME, LATE, OVERDUE = "due", "on_time", "late", "overdue"
STATUS_NAMES = {DUE: ("待公开", "due"), ON_TIME: ("按时公开", "done on time"), LATE: ("逾期后公开", "late"),
                OVERDUE: ("逾期未公开", "overdue")}
ITEM_NAMES = {
    "annual_report": ("年度工作报告", "Annual work report"),
    "financial_report": ("财务会计报告", "Financial report"),
    "project_progress": ("项目实施情况（每三个月）", "Project progress (every three months)"),
    "project_final": ("项目结束后全面公开", "Project's full report after its end"),
    "leftover": ("剩余财产处理情况", "Handling of leftover property"),
}


def add_months(day: date, months: int) -> date:
    """The same day ``months`` later, or the month's last day when it has no such day."""
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    for last in (31, 30, 29, 28):
        try:
            return date(year, month, min(day.day, last))
        except ValueError:
            continue
    raise ValueError(day)


@dataclass(frozen=True)
class Duty:
    """One thing a foundation must publish, with its deadline and what was published."""

    organisation: str
    item: str
    subject: str
    """The year, project or fund it is about."""
    due: str
    status: str
    published_on: str | None = None
    where: str | None = None
    position: int | None = None
    """The log position of the publication that met it, if any."""

    def as_json(self) -> dict[str, Any]:
        zh, en = ITEM_NAMES.get(self.item, (self.item, self.item))
        status_zh, status_en = STATUS_NAMES[self.status]
        return {"organisation": self.organisation, "item": self.item, "item_zh": zh, "item_en": en,
                "subject": self.subject, "due": self.due, "status": self.status, "status_zh": status_zh,
                "status_en": status_en, "published_on": self.published_on, "where": self.where,
                "position": self.position}


class Calendar:
    """Fed a history in log order; ``duties(today)`` gives every duty and its status on that day."""

    def __init__(self) -> None:
        self.foundations: dict[str, dict[str, Any]] = {}
        self.funds: dict[str, str | None] = {}
        self.projects: dict[str, dict[str, Any]] = {}
        self.project_payer: dict[str, str] = {}
        self.terminations: list[tuple[str, str, str]] = []
        self.publications: dict[tuple[str, str, str], list[tuple[str, str, int]]] = defaultdict(list)
        self.last_day: str | None = None

    def feed(self, e: Any, position: int = 0) -> None:
        p = e.payload
        day = p.get("published_on") or p.get("received_on") or p.get("paid_on") or p.get("on")
        if e.type == "Organisation.Registered" and p.get("kind") in ("foundation", "community_foundation"):
            self.foundations[p["code"]] = {"registered_on": p.get("registered_on"), "charity": True}
        elif e.type == "Organisation.ProfileRecorded":
            self.foundations.setdefault(e.stream.split(":", 1)[1], {"registered_on": p.get("since")})["charity"] = (
                bool(p.get("charity")))
        elif e.type == "Fund.Opened":
            self.funds[p["code"]] = p.get("foundation")
            info = self.foundations.setdefault(p.get("foundation"), {"charity": True})
            stamp = getattr(e, "timestamp", None)
            year = stamp.year if hasattr(stamp, "year") else None
            if year is not None and info.get("first_year") is None:
                info["first_year"] = year
        elif e.type == "Project.Registered":
            self.projects[p["code"]] = p
        elif e.type == "Fund.Paid" and p.get("kind") == "project":
            self.project_payer.setdefault(p.get("target"), self.funds.get(e.stream.split(":", 1)[1]))
        elif e.type == "Fund.Terminated":
            code = e.stream.split(":", 1)[1]
            self.terminations.append((self.funds.get(code) or "", code, p["disclose_by"]))
        elif e.type == "Organisation.DisclosurePublished":
            self.publications[(e.stream.split(":", 1)[1], p["item"], p["subject"])].append(
                (p["published_on"], p.get("where") or "", position))
        if day and isinstance(day, str):
            # the books' own last day: what they record happening, not when the recording was typed in
            self.last_day = max(self.last_day or day, day)

    def duties(self, today: date | None = None) -> list[Duty]:
        today = today or (date.fromisoformat(self.last_day) if self.last_day else date.today())
        wanted: list[tuple[str, str, str, str, int]] = []  # organisation, item, subject, due, which one (0-based)
        for code, info in self.foundations.items():
            if not info.get("charity", True) or info.get("first_year") is None:
                continue
            first = info["first_year"]
            for year in range(first, today.year):
                for item in ("annual_report", "financial_report"):
                    wanted.append((code, item, str(year), date(year + 1, 5, 31).isoformat(), 0))
        for code, project in self.projects.items():
            payer = self.project_payer.get(code)
            if payer is None or not self.foundations.get(payer, {}).get("charity", True):
                continue
            starts, ends = date.fromisoformat(project["starts_on"]), date.fromisoformat(project["ends_on"])
            if add_months(starts, 6) >= ends:
                continue
            quarter, k = add_months(starts, 3), 0
            while quarter <= ends:
                wanted.append((payer, "project_progress", code, quarter.isoformat(), k))
                quarter, k = add_months(quarter, 3), k + 1
            wanted.append((payer, "project_final", code, add_months(ends, 3).isoformat(), 0))
        for organisation, fund, due in self.terminations:
            wanted.append((organisation, "leftover", fund, due, 0))
        return [self._judge(today, *w) for w in sorted(wanted)]

    def _judge(self, today: date, organisation: str, item: str, subject: str, due: str, nth: int) -> Duty:
        published = sorted(self.publications.get((organisation, item, subject), []))
        if nth < len(published):
            on, where, position = published[nth]
            return Duty(organisation, item, subject, due, ON_TIME if on <= due else LATE, on, where, position)
        return Duty(organisation, item, subject, due, OVERDUE if due < today.isoformat() else DUE)


def calendar(events: Iterable[Any], today: date | None = None) -> list[Duty]:
    """Every duty of a history and its status on ``today`` (default: the history's last day)."""
    cal = Calendar()
    for i, e in enumerate(events, 1):
        cal.feed(e, getattr(e, "position", i))
    return cal.duties(today)


def publications(events: Iterable[Any]) -> list[dict[str, Any]]:
    """What was published, where and when, newest first (the public page)."""
    out = []
    for i, e in enumerate(events, 1):
        if e.type == "Organisation.DisclosurePublished":
            p = e.payload
            zh, en = ITEM_NAMES.get(p["item"], (p["item"], p["item"]))
            out.append({"organisation": e.stream.split(":", 1)[1], "item": p["item"], "item_zh": zh, "item_en": en,
                        "subject": p["subject"], "title": p["title"], "where": p["where"],
                        "published_on": p["published_on"], "position": getattr(e, "position", i)})
    return sorted(out, key=lambda x: (x["published_on"], x["position"]), reverse=True)
