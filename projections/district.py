"""District totals: per street-town income, spending, fund balances and volunteer hours.

A pure fold over the signed log's events, ``(type, stream, version, payload)`` in log order;
reversals subtract exactly what the event they reverse added.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from ledger.accounting import effect_on, fund_account

DISTRICT = "district"
"""Bucket for spending that belongs to no single street-town (management and fundraising costs)."""


@dataclass
class TownTotals:
    """One street-town's figures; money in fen, time in minutes."""

    income: int = 0
    """Donations and grants received for the street-town, net of reversals."""
    donations: int = 0
    """Number of donations, net of reversals."""
    spent: int = 0
    """Disbursements paid for the street-town, net of reversals."""
    fund_balance: int = 0
    """Balance of the funds whose home is the street-town."""
    volunteer_minutes: int = 0


@dataclass
class DistrictTotals:
    towns: dict[str, TownTotals] = field(default_factory=dict)
    restricted_balance: int = 0
    unrestricted_balance: int = 0
    events: int = 0

    def town(self, code: str) -> TownTotals:
        return self.towns.setdefault(code, TownTotals())

    @property
    def income(self) -> int:
        return sum(t.income for t in self.towns.values())

    @property
    def spent(self) -> int:
        return sum(t.spent for t in self.towns.values())

    @property
    def balance(self) -> int:
        return self.restricted_balance + self.unrestricted_balance

    @property
    def volunteer_minutes(self) -> int:
        return sum(t.volunteer_minutes for t in self.towns.values())


def district_totals(events: Iterable[tuple[str, str, int, dict]]) -> DistrictTotals:
    """Fold ``(type, stream, version, payload)`` tuples, in log order, into district totals."""
    totals = DistrictTotals()
    funds: dict[str, tuple[str | None, bool]] = {}  # fund code -> (home street-town, restricted)
    # (stream, entry or record id) -> (event type, street-town, amount, minutes), for reversals
    effects: dict[tuple[str, str], tuple[str, str, int, int]] = {}
    for type_name, stream, _version, payload in events:
        totals.events += 1
        if type_name == "Fund.Opened":
            funds[payload["code"]] = (payload["street_town"], payload["restricted"])
            continue
        if type_name.startswith("Fund.") and "postings" in payload:
            code = stream.split(":", 1)[1]
            home, restricted = funds[code]
            moved = effect_on(fund_account(code), payload["postings"])
            if restricted:
                totals.restricted_balance += moved
            else:
                totals.unrestricted_balance += moved
            if home is not None:
                totals.town(home).fund_balance += moved
        if type_name in ("Fund.DonationReceived", "Fund.GrantReceived"):
            effect = (type_name, payload["street_town"], payload["amount"], 0)
            effects[(stream, payload["entry"])] = effect
            _apply(totals, effect, +1)
        elif type_name == "Fund.Paid":
            effect = (type_name, payload["street_town"] or DISTRICT, payload["amount"], 0)
            effects[(stream, payload["entry"])] = effect
            _apply(totals, effect, +1)
        elif type_name == "Volunteer.ServiceRecorded":
            effect = (type_name, payload["street_town"], 0, payload["minutes"])
            effects[(stream, payload["record"])] = effect
            _apply(totals, effect, +1)
        elif type_name == "Fund.Reversed":
            # Allocation legs have no street-town figure: only the balances above move.
            if (original := effects.pop((stream, payload["entry"]), None)) is not None:
                _apply(totals, original, -1)
        elif type_name == "Volunteer.ServiceReversed":
            _apply(totals, effects.pop((stream, payload["record"])), -1)
    return totals


def _apply(totals: DistrictTotals, effect: tuple[str, str, int, int], sign: int) -> None:
    kind, town, amount, minutes = effect
    figures = totals.town(town)
    if kind == "Fund.Paid":
        figures.spent += sign * amount
    elif kind == "Volunteer.ServiceRecorded":
        figures.volunteer_minutes += sign * minutes
    else:
        figures.income += sign * amount
        if kind == "Fund.DonationReceived":
            figures.donations += sign
