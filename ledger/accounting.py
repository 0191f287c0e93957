"""Double entry: account names and the balanced postings every money event carries.

Signs follow hledger: debits positive, credits negative. Net assets are kept apart by class, per
《民间非营利组织会计制度》: income to a restricted fund (限定性) is credited to ``Income:Restricted:…``,
income to an unrestricted fund (非限定性) to ``Income:Unrestricted:…``. Spending a restricted fund on
its purpose releases the restriction in the same event (限定性净资产转为非限定性净资产), so every
expense is unrestricted and restricted net assets always equal the restricted funds' balances.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

CNY = "CNY"
"""The commodity of money postings; amounts are integer fen."""

INTERFUND = "Equity:Interfund"
"""Clearing account for allocations between funds; it nets to zero after every command."""

RESTRICTED_INTERFUND = "Equity:Interfund:Restricted"
"""Clearing account for restricted money moved between funds of one purpose (a terminated special
fund's leftover); it nets to zero after every command, and the money stays restricted."""

Posting = dict
"""A posting as stored in events: ``{"account": str, "amount": int (fen), "commodity": "CNY"}``."""


def net_class(restricted: bool) -> str:
    return "Restricted" if restricted else "Unrestricted"


def fund_account(fund_code: str) -> str:
    return f"Assets:Funds:{fund_code}"


def donation_income(restricted: bool, donor_type: str) -> str:
    return f"Income:{net_class(restricted)}:Donations:{donor_type}"


def grant_income(restricted: bool, source: str) -> str:
    return f"Income:{net_class(restricted)}:Grants:{source}"


def goods_account(fund_code: str) -> str:
    """Goods given in kind that a fund holds (存货): not money."""
    return f"Assets:Goods:{fund_code}"


def receivable_account(fund_code: str, contract: str) -> str:
    return f"Assets:Receivables:{fund_code}:{contract}"


def advance_account(fund_code: str, contract: str) -> str:
    """Money received ahead of the service a contract buys (预收账款)."""
    return f"Liabilities:Advances:{fund_code}:{contract}"


def service_income(contract: str) -> str:
    """Service income (提供服务收入) of a contract: an exchange, so unrestricted."""
    return f"Income:Unrestricted:Services:{contract}"


def other_income(restricted: bool, kind: str) -> str:
    return f"Income:{net_class(restricted)}:{ {'interest': 'Interest', 'investment': 'Investment'}.get(kind, 'Other')}"


OVERHEAD_KINDS = {"management": "管理费用", "fundraising": "筹资费用", "other": "其他费用", "shared": "分摊的共同费用"}
"""Disbursement kinds that are not spending on a fund's purpose: unrestricted money only (a special
fund's agreed management fee aside)."""

SHARE_KINDS = ("programme", "management", "fundraising")
"""How a shared cost is split (共同费用分配): programme, management and fundraising parts."""


def expense_account(kind: str, target: str) -> str:
    """Where a paid disbursement lands: programme costs (a project, allowances, a grant to another
    legal person, the foundation's own programme work such as evaluation and audit), or overheads."""
    if kind == "project":
        return f"Expenses:Programs:{target}"
    if kind == "allowance":
        return f"Expenses:Allowances:{target}"
    if kind == "grant":
        return f"Expenses:Grants:{target}"
    if kind == "programme":
        return f"Expenses:Programs:{target}"
    if kind == "management":
        return "Expenses:Management"
    if kind == "fundraising":
        return "Expenses:Fundraising"
    if kind == "other":
        return "Expenses:Other"
    raise ValueError(f"unknown disbursement kind {kind!r}")


def expense_legs(kind: str, target: str, amount: int, shares: dict | None = None) -> list[tuple[str, int]]:
    """The expense postings of a payment; a shared cost is split by its stated shares."""
    if kind != "shared":
        return [(expense_account(kind, target), amount)]
    shares = shares or {}
    accounts = {"programme": f"Expenses:Programs:{target}", "management": "Expenses:Management",
                "fundraising": "Expenses:Fundraising"}
    return [(accounts[k], shares[k]) for k in SHARE_KINDS if shares.get(k)]


def release_legs(amount: int) -> list[Posting]:
    """The reclassification pair that moves ``amount`` from restricted to unrestricted net assets."""
    return [
        posting("Income:Restricted:ReleasedFromRestriction", amount),
        posting("Income:Unrestricted:ReleasedFromRestriction", -amount),
    ]


def posting(account: str, amount: int, commodity: str = CNY) -> Posting:
    if isinstance(amount, bool) or not isinstance(amount, int):
        raise TypeError("posting amounts are integers")
    return {"account": account, "amount": amount, "commodity": commodity}


def balanced(postings: list[Posting]) -> list[Posting]:
    """Return the postings if they sum to zero per commodity; raise otherwise."""
    totals: dict[str, int] = defaultdict(int)
    for p in postings:
        totals[p["commodity"]] += p["amount"]
    unbalanced = {c: t for c, t in totals.items() if t}
    if unbalanced:
        raise ValueError(f"postings do not balance: {unbalanced}")
    return postings


def negated(postings: Iterable[Posting]) -> list[Posting]:
    """The postings of a reversal: every amount with its sign flipped."""
    return [posting(p["account"], -p["amount"], p["commodity"]) for p in postings]


def effect_on(account: str, postings: Iterable[Posting]) -> int:
    """Net amount the postings move on one account."""
    return sum(p["amount"] for p in postings if p["account"] == account)
