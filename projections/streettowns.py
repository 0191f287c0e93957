"""Per street-town (街镇): income by source, spending by kind, donors, volunteer hours by domain,
and community social organisations per community against the plan's target."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator

from projections import funds, hours
from projections.base import EVERY, Change, ChangeT, Event, Reader, Table, day_of, rolled

DISTRICT = "district"
"""Where spending that belongs to no one street-town (management, fundraising) is counted."""

INCOME = Table("view_town_income", keys=("street_town", "source"), counters=("amount", "count"))
"""Income by source: ``donation:<donor type>`` or ``grant:<source>``."""
SPENDING = Table("view_town_spending", keys=("street_town", "kind"), counters=("amount", "count"))
FLOWED = rolled("view_town_daily", "view_town_monthly", "view_town_yearly", ("street_town", "day", "category"),
                ("amount", "count"), every=True)
"""Income and spending per Shanghai business day, month and year (``*``: the whole district), for
reports over any period."""
FLOWS = FLOWED.daily
DONORS = Table("view_town_donors", keys=("street_town", "donor"), counters=("gifts",))
"""Gifts per donor, net of reversals: a donor counts in all-time figures while this is above 0."""
DONOR_COUNT = Table("view_town_donor_count", keys=("street_town",), counters=("donors",))
"""Donors with a gift not reversed, per street-town and (``*``) in the whole district."""
DONOR_TOTALS = Table("view_donor_totals", keys=("donor",), counters=("gifts",))
"""Gifts per donor across street-towns, net of reversals (for the district's count)."""
GIFTS = Table("view_gifts", keys=("street_town", "day", "fund", "entry"), attributes=("donor",))
"""Each gift on the day it was received, with its donor's counting key (``anonymous`` for every
anonymous gift): a period's partial months read these."""
DONOR_MONTHS = Table("view_donor_months", keys=("street_town", "day", "donor"), counters=("gifts",))
DONOR_YEARS = Table("view_donor_years", keys=("street_town", "day", "donor"), counters=("gifts",))
"""Gifts received per donor and month (``day`` is ``YYYY-MM``) and year (``YYYY``), never lessened by
a reversal (see ``REVERSED_GIFTS``); every anonymous gift counts under the key ``anonymous``."""
REVERSED_GIFTS = Table("view_reversed_gifts", keys=("street_town", "day", "fund", "entry"),
                       attributes=("donor", "reversed"))
"""Each reversed gift on the day it was received, with its donor's key and the day it was reversed:
a period that ends on or after that day does not count it."""
ANONYMOUS_DONOR = "anonymous"
ORGANISED = rolled("view_org_days", "view_org_months", "view_org_years", ("street_town", "day", "community"),
                   ("organisations",))
"""Community social organisations registered per day, month and year: the number at any date is a sum."""
HOURS = Table("view_town_hours", keys=("street_town", "domain"), counters=("minutes", "sessions"))
ORGANISATIONS = Table("view_organisations", keys=("code",),
                      attributes=("name", "kind", "street_town", "community", "registered_on"))
COMMUNITIES = Table("view_town_communities", keys=("street_town", "community"), counters=("organisations",))
TABLES = (INCOME, SPENDING, *FLOWED.tables, DONORS, DONOR_COUNT, DONOR_TOTALS, GIFTS, DONOR_MONTHS, DONOR_YEARS,
          REVERSED_GIFTS,
          HOURS, ORGANISATIONS, COMMUNITIES, *ORGANISED.tables)


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


def _counted(donor: str) -> str:
    return ANONYMOUS_DONOR if donor.startswith("anonymous:") else donor


def _gift(town: str, donor: str, day: str, fund: str, entry: str, read: Reader) -> Iterator[ChangeT]:
    """A gift: its day's row, its donor's month and year, their net gifts, and the donor counts
    when it is their only gift not reversed (each anonymous gift counts at once, a donor of its own)."""
    counted = _counted(donor)
    yield Change(GIFTS.name, (town, day, fund, entry), put={"donor": counted})
    yield Change(DONOR_MONTHS.name, (town, day[:7], counted), add={"gifts": 1})
    yield Change(DONOR_YEARS.name, (town, day[:4], counted), add={"gifts": 1})
    yield Change(DONORS.name, (town, donor), add={"gifts": 1})
    if counted == ANONYMOUS_DONOR:
        yield Change(DONOR_COUNT.name, (town,), add={"donors": 1})
        yield Change(DONOR_COUNT.name, (EVERY,), add={"donors": 1})
        return
    if not (read(DONORS.name, (town, donor)) or {}).get("gifts"):
        yield Change(DONOR_COUNT.name, (town,), add={"donors": 1})
    yield Change(DONOR_TOTALS.name, (donor,), add={"gifts": 1})
    if not (read(DONOR_TOTALS.name, (donor,)) or {}).get("gifts"):
        yield Change(DONOR_COUNT.name, (EVERY,), add={"donors": 1})


def _ungift(town: str, donor: str, read: Reader) -> Iterator[ChangeT]:
    yield Change(DONORS.name, (town, donor), add={"gifts": -1})
    if donor.startswith("anonymous:"):
        yield Change(DONOR_COUNT.name, (town,), add={"donors": -1})
        yield Change(DONOR_COUNT.name, (EVERY,), add={"donors": -1})
        return
    if read(DONORS.name, (town, donor))["gifts"] == 1:
        yield Change(DONOR_COUNT.name, (town,), add={"donors": -1})
    yield Change(DONOR_TOTALS.name, (donor,), add={"gifts": -1})
    if read(DONOR_TOTALS.name, (donor,))["gifts"] == 1:
        yield Change(DONOR_COUNT.name, (EVERY,), add={"donors": -1})


def fold(event: Event, read: Reader) -> Iterator[ChangeT]:
    p = event.payload
    if event.type in ("Fund.DonationReceived", "Fund.GrantReceived", "Fund.Paid"):
        town = p["street_town"] or DISTRICT
        day = p.get("received_on") or p.get("paid_on")
        yield from _money(town, funds.category(event), day, p["amount"], +1)
        if event.type == "Fund.DonationReceived":
            yield from _gift(town, donor_key(p, p["entry"]), day_of(p.get("received_on"), event), event.code,
                             p["entry"], read)
    elif event.type == "Fund.Reversed":
        original = read(funds.ENTRIES.name, (event.code, p["entry"]))
        if original["type"] in ("Fund.DonationReceived", "Fund.GrantReceived", "Fund.Paid"):
            town = original["street_town"] or DISTRICT
            # A correction counts on the day it was made: the figures of earlier days stay as published.
            yield from _money(town, original["category"], event.recorded_on, original["amount"], -1)
            if original["type"] == "Fund.DonationReceived":
                counted = read(GIFTS.name, (town, original["day"], event.code, p["entry"]))["donor"]
                yield from _ungift(town, f"anonymous:{p['entry']}" if counted == ANONYMOUS_DONOR else counted, read)
                yield Change(REVERSED_GIFTS.name, (town, original["day"], event.code, p["entry"]), put={
                    "donor": counted, "reversed": event.recorded_on})
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
            if p["registered_on"]:
                yield Change(ORGANISED.daily.name, (p["street_town"], p["registered_on"], p["community"] or ""),
                             add={"organisations": 1})
TYPES = frozenset({"Fund.DonationReceived", "Fund.GrantReceived", "Fund.Paid", "Fund.Reversed",
                   "Volunteer.ServiceRecorded", "Volunteer.ServiceReversed", "Organisation.Registered"})

