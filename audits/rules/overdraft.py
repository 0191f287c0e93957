"""No fund below zero at any moment (不得透支): each fund's asset account, followed posting by
posting in log order."""

from __future__ import annotations

from collections import defaultdict

from audits.findings import Finding
from audits.replay import Replay
from audits.rules.common import breach, fund_code, funds_opened
from ledger.money import format_cny


def check(history: Replay) -> list[Finding]:
    funds = funds_opened(history.entries)
    balances: dict[str, int] = defaultdict(int)
    findings = []
    for e in history.entries:
        if not e.stream.startswith("fund:"):
            continue
        code = fund_code(e)
        account = f"Assets:Funds:{code}"
        before = balances[code]
        balances[code] += sum(p["amount"] for p in e.payload.get("postings") or [] if p.get("account") == account)
        if balances[code] < 0 and balances[code] < before:
            town = (funds.get(code) or {}).get("street_town")
            findings.append(breach("funds.overdraft", f"fund {code} went to {format_cny(balances[code])} after "
                                   f"{e.type} #{e.position}",
                                   f"基金 {code} 在 #{e.position} 之后余额为 {format_cny(balances[code])}（透支）",
                                   e, street_town=town, fund=code, balance=balances[code]))
    return findings
