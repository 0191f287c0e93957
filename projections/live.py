"""District totals for the public pages, read from the views as they are (``projections.keeper``
keeps them current)."""

from __future__ import annotations

from dataclasses import dataclass, field

from projections import funds, streettowns
from projections.runner import Projections


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
    """The log position the figures are computed to."""

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


class DistrictView:
    """District totals from the view tables."""

    def __init__(self, projections: Projections) -> None:
        self.projections = projections

    def current(self) -> DistrictTotals:
        p = self.projections
        totals = DistrictTotals(events=p.position())
        for row in p.rows(streettowns.INCOME):
            town = totals.town(row["street_town"])
            town.income += row["amount"]
            if row["source"].startswith("donation:"):
                town.donations += row["count"]
        for row in p.rows(streettowns.SPENDING):
            totals.town(row["street_town"]).spent += row["amount"]
        for row in p.rows(funds.FUNDS):
            if row["restricted"]:
                totals.restricted_balance += row["balance"]
            else:
                totals.unrestricted_balance += row["balance"]
            if row["street_town"]:
                totals.town(row["street_town"]).fund_balance += row["balance"]
        for row in p.rows(streettowns.HOURS):
            totals.town(row["street_town"]).volunteer_minutes += row["minutes"]
        return totals

