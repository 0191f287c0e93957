"""Per street-town (街镇): income by source, spending by kind, donors, volunteer hours by domain,
and community social organisations per community against the plan's target."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator

from projections import funds, hours
from projections.base import Change, ChangeT, Event, Reader, Table

DISTRICT = "district"
"""Where spending that belongs to no one street-town (management, fundraising) is counted."""

INCOME = Table("view_town_income", keys=("street_town", "source"), counters=("amount", "count"))
"""Income by source: ``donation:<donor type>`` or ``grant:<source>``."""
SPENDING = Table("view_town_spending", keys=("street_town", "kind"), counters=("amount", "count"))
FLOWS = Table("view_town_daily", keys=("street_town", "day", "category"), counters=("amount", "count"))
"""Income and spending per Shanghai business day, for reports over any period."""
DONORS = Table("view_town_donors", keys=("street_town", "donor"), counters=("gifts",))
HOURS = Table("view_town_hours", keys=("street_town", "domain"), counters=("minutes", "sessions"))
ORGANISATIONS = Table("view_organisations", keys=("code",),
                      attributes=("name", "kind", "street_town", "community", "registered_on"))
COMMUNITIES = Table("view_town_communities", keys=("street_town", "community"), counters=("organisations",))
TABLES = (INCOME, SPENDING, FLOWS, DONORS, HOURS, ORGANISATIONS, COMMUNITIES)


def donor_key(payload: dict, entry: str) -> str:
    """Who gave, as a counting key that names nobody: a hash of the donor's name (one person giving
    as two donor types is still one donor), or each anonymous gift on its own."""
    name = payload.get("donor_name")
    if not name:
        return f"anonymous:{entry}"
    return "named:" + hashlib.sha256(name.strip().encode()).hexdigest()[:20]


def _money(town: str, cat: str, day: str, amount: int, sign: int) -> Iterator[ChangeT]:
    count = sign
    if cat.startswith("spent:"):
        yield Change(SPENDING.name, (town, cat.split(":", 1)[1]), add={"amount": sign * amount, "count": count})
    else:
        yield Change(INCOME.name, (town, cat), add={"amount": sign * amount, "count": count})
    yield Change(FLOWS.name, (town, day, cat), add={"amount": sign * amount, "count": count})


def fold(event: Event, read: Reader) -> Iterator[ChangeT]:
    p = event.payload
    if event.type in ("Fund.DonationReceived", "Fund.GrantReceived", "Fund.Paid"):
        town = p["street_town"] or DISTRICT
        day = p.get("received_on") or p.get("paid_on")
        yield from _money(town, funds.category(event), day, p["amount"], +1)
        if event.type == "Fund.DonationReceived":
            yield Change(DONORS.name, (town, donor_key(p, p["entry"])), add={"gifts": 1})
    elif event.type == "Fund.Reversed":
        original = read(funds.ENTRIES.name, (event.code, p["entry"]))
        if original["type"] in ("Fund.DonationReceived", "Fund.GrantReceived", "Fund.Paid"):
            town = original["street_town"] or DISTRICT
            # A correction counts on the day it was made: the figures of earlier days stay as published.
            yield from _money(town, original["category"], event.recorded_on, original["amount"], -1)
            if original["type"] == "Fund.DonationReceived":
                donation = read(DONATIONS.name, (event.code, p["entry"]))
                yield Change(DONORS.name, (town, donation["donor"]), add={"gifts": -1})
    elif event.type == "Volunteer.ServiceRecorded":
        yield Change(HOURS.name, (p["street_town"], p["domain"]), add={"minutes": p["minutes"], "sessions": 1})
    elif event.type == "Volunteer.ServiceReversed":
        session = read(hours.SESSIONS.name, (event.code, p["record"]))
        yield Change(HOURS.name, (session["street_town"], session["domain"]),
                     add={"minutes": -session["minutes"], "sessions": -1})
    elif event.type == "Organisation.Registered":
        yield Change(ORGANISATIONS.name, (p["code"],), put={
            "name": p["name"], "kind": p["kind"], "street_town": p["street_town"], "community": p["community"],
            "registered_on": p["registered_on"]})
        if p["kind"] == "social_organisation":
            yield Change(COMMUNITIES.name, (p["street_town"], p["community"] or ""), add={"organisations": 1})
    if event.type == "Fund.DonationReceived":
        yield Change(DONATIONS.name, (event.code, p["entry"]), put={"donor": donor_key(p, p["entry"])})


DONATIONS = Table("view_town_donations", keys=("fund", "entry"), attributes=("donor",))
"""Which donor key each donation counted under, so its reversal uncounts the same donor."""
TABLES = (*TABLES, DONATIONS)
TYPES = frozenset({"Fund.DonationReceived", "Fund.GrantReceived", "Fund.Paid", "Fund.Reversed",
                   "Volunteer.ServiceRecorded", "Volunteer.ServiceReversed", "Organisation.Registered"})

