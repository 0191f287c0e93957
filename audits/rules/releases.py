"""Restriction releases (解除限定): only a restricted fund releases, on a stated basis, into an
unrestricted fund whose matching ``Fund.AllocatedIn`` records the same entry and amount."""

from __future__ import annotations

from audits.findings import Finding
from audits.replay import Replay
from audits.rules.common import breach, fund_code, funds_opened


def check(history: Replay) -> list[Finding]:
    funds = funds_opened(history.entries)
    arrivals = {(fund_code(e), e.payload.get("entry")): e for e in history.entries if e.type == "Fund.AllocatedIn"}
    findings = []
    for e in history.entries:
        if e.type != "Fund.RestrictionReleased":
            continue
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
