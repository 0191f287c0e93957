"""Imported rows once (导入不重复): no two donations of one foundation, and no two sessions of one
organisation, carry the same source reference (``imported``: a platform's order number, a bank's
transaction serial). The write side refuses a second import of a reference; the auditor checks it
from the signed events alone. A reversed record keeps its reference: importing it again is no fix."""

from __future__ import annotations

from typing import Any

from audits.findings import Finding
from audits.replay import Entry, Replay
from audits.rules.common import Principals, RuleCheck, breach, fund_code, run


class Check(RuleCheck):
    def __init__(self, foundations: dict[str, str] | None = None, seen: dict[str, int] | None = None) -> None:
        self.foundations = foundations or {}
        """Fund code → its foundation, from ``Fund.Opened``."""
        self.seen = seen or {}
        """``scope|source|reference`` → the log position that first carried it."""

    def feed(self, e: Entry, principals: Principals) -> list[Finding]:
        if e.type == "Fund.Opened":
            self.foundations[e.payload["code"]] = e.payload["foundation"]
            return []
        imported = e.payload.get("imported") if e.type in ("Fund.DonationReceived", "Volunteer.ServiceRecorded") else None
        if not imported:
            return []
        if e.type == "Fund.DonationReceived":
            scope = f"foundation:{self.foundations.get(fund_code(e), '?')}"
        else:
            scope = f"organisation:{e.payload['organisation']}"
        key = f"{scope}|{imported['source']}|{imported['reference']}"
        first = self.seen.setdefault(key, e.position)
        if first == e.position:
            return []
        return [breach("imports.reference-twice",
                       f"#{e.position} carries the source reference {imported['reference']!r} of "
                       f"{imported['source']!r} that #{first} already carries ({scope})",
                       f"#{e.position} 的来源编号 {imported['reference']!r}（{imported['source']}）与 #{first} 重复",
                       e, fund=fund_code(e) if e.stream.startswith("fund:") else None, first=first)]

    def dump(self) -> Any:
        return {"foundations": self.foundations, "seen": self.seen}

    @classmethod
    def load(cls, data: Any) -> Check:
        return cls(data["foundations"], data["seen"])


def check(history: Replay) -> list[Finding]:
    return run(Check(), history)
