"""No fund below zero at any moment (不得透支): each fund's asset account, followed posting by
posting in log order."""

from __future__ import annotations

from typing import Any

from audits.findings import Finding
from audits.replay import Entry, Replay
from audits.rules.common import Principals, RuleCheck, breach, fund_code, run
from ledger.money import format_cny


class Check(RuleCheck):
    def __init__(self, towns: dict[str, Any] | None = None, balances: dict[str, int] | None = None) -> None:
        self.towns = towns or {}
        """Fund code → its street-town, from ``Fund.Opened``."""
        self.balances = balances or {}

    def feed(self, e: Entry, principals: Principals) -> list[Finding]:
        if e.type == "Fund.Opened":
            self.towns[e.payload["code"]] = e.payload.get("street_town")
        if not e.stream.startswith("fund:"):
            return []
        code = fund_code(e)
        account = f"Assets:Funds:{code}"
        before = self.balances.get(code, 0)
        after = self.balances[code] = before + sum(p["amount"] for p in e.payload.get("postings") or []
                                                   if p.get("account") == account)
        if after < 0 and after < before:
            return [breach("funds.overdraft", f"fund {code} went to {format_cny(after)} after {e.type} #{e.position}",
                           f"基金 {code} 在 #{e.position} 之后余额为 {format_cny(after)}（透支）",
                           e, street_town=self.towns.get(code), fund=code, balance=after)]
        return []

    def dump(self) -> Any:
        return {"towns": self.towns, "balances": self.balances}

    @classmethod
    def load(cls, data: Any) -> Check:
        return cls(data["towns"], data["balances"])


def check(history: Replay) -> list[Finding]:
    return run(Check(), history)
