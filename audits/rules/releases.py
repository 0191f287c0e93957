"""Restriction releases (解除限定): only a restricted fund releases, on a stated basis, into an
unrestricted fund whose matching ``Fund.AllocatedIn`` records the same entry and amount."""

from __future__ import annotations

from typing import Any

from audits.findings import Finding
from audits.replay import Entry, Replay
from audits.rules.common import Principals, RuleCheck, breach, fund_code, pack, pairs, run, unpack, unpairs

KEPT = ("restricted", "street_town")
"""What a release check needs of each ``Fund.Opened``."""


class Check(RuleCheck):
    """An allocation arrives after its release in log order, so releases are judged at the end."""

    def __init__(self, funds: dict[str, dict] | None = None, arrivals: dict[tuple, Entry] | None = None,
                 releases: list[Entry] | None = None) -> None:
        self.funds = funds or {}
        self.arrivals = arrivals or {}
        self.releases = releases or []

    def dump(self) -> Any:
        return {"funds": self.funds, "arrivals": pairs({k: pack(e, "amount") for k, e in self.arrivals.items()}),
                "releases": [pack(e, "to_fund", "entry", "amount", "basis") for e in self.releases]}

    @classmethod
    def load(cls, data: Any) -> Check:
        return cls(data["funds"], {k: unpack(e) for k, e in unpairs(data["arrivals"]).items()},
                   [unpack(e) for e in data["releases"]])

    def feed(self, e: Entry, principals: Principals) -> list[Finding]:
        if e.type == "Fund.Opened":
            self.funds[e.payload["code"]] = {k: e.payload.get(k) for k in KEPT}
        elif e.type == "Fund.AllocatedIn":
            self.arrivals[(fund_code(e), e.payload.get("entry"))] = e
        elif e.type == "Fund.RestrictionReleased":
            self.releases.append(e)
        return []

    def finish(self, principals: Principals) -> list[Finding]:
        funds, arrivals, findings = self.funds, self.arrivals, []
        for e in self.releases:
            code, p = fund_code(e), e.payload
            fund, target = funds.get(code) or {}, funds.get(p.get("to_fund")) or {}
            where = {"street_town": fund.get("street_town"), "fund": code}
            if not fund.get("restricted"):
                findings.append(breach("releases.not-restricted", f"fund {code} released a restriction it does not have "
                                       f"({p.get('entry')})", f"基金 {code} 并非限定性基金，却解除限定", e, **where))
            if target.get("restricted"):
                findings.append(breach("releases.into-restricted", f"fund {code} released {p.get('entry')} into restricted "
                                       f"fund {p.get('to_fund')}", f"解除限定的资金流入了限定性基金 {p.get('to_fund')}",
                                       e, **where))
            if not str(p.get("basis") or "").strip():
                findings.append(breach("releases.basis", f"fund {code} released {p.get('entry')} with no stated basis",
                                       f"基金 {code} 解除限定 {p.get('entry')} 未说明依据", e, **where))
            arrival = arrivals.get((p.get("to_fund"), p.get("entry")))
            if arrival is None or arrival.payload.get("amount") != p.get("amount"):
                findings.append(breach("releases.unmatched", f"release {p.get('entry')} from {code} has no matching "
                                       f"allocation into {p.get('to_fund')} of the same amount",
                                       f"解除限定 {p.get('entry')} 在 {p.get('to_fund')} 中没有金额一致的调入记录",
                                       *(x for x in (e, arrival) if x is not None), **where))
        return findings


def check(history: Replay) -> list[Finding]:
    return run(Check(), history)
