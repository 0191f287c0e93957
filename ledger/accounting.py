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


def expense_account(kind: str, target: str) -> str:
    """Where a paid disbursement lands: a project's programme costs, allowances, or overheads."""
    if kind == "project":
        return f"Expenses:Programs:{target}"
    if kind == "allowance":
        return f"Expenses:Allowances:{target}"
    if kind == "management":
        return "Expenses:Management"
    if kind == "fundraising":
        return "Expenses:Fundraising"
    raise ValueError(f"unknown disbursement kind {kind!r}")


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
