"""Per fund (基金): balance, restriction, income, usage by project and domain, balance by day.

``fund_entries`` remembers what each money event did, so a reversal (冲正) subtracts exactly that;
the street-town view reads it too.
"""

from __future__ import annotations

from collections.abc import Iterator

from ledger.accounting import effect_on, fund_account
from ledger.events import MONEY_EVENTS
from projections.base import Change, ChangeT, Event, Reader, Table, as_json, day_of, rolled

FUNDS = Table(
    "view_funds", keys=("code",),
    counters=("balance", "income", "donations", "grants", "allocated_in", "allocated_out", "released_out",
              "spent", "reversed"),
    attributes=("name", "foundation", "kind", "restricted", "purpose", "street_town", "domains", "street_towns",
                "valid_from", "valid_until", "agreement_ref", "closed"),
    integers=("restricted", "closed"),
)
USAGE = Table("view_fund_usage", keys=("fund", "kind", "target", "domain"), counters=("amount", "payments"))
MOVED = rolled("view_fund_daily", "view_fund_monthly", "view_fund_yearly", ("fund", "day"), ("delta",))
"""Net movement of each fund's balance per Shanghai business day, month and year: the balance on any
date is a sum of at most a few dozen rows."""
DAILY = MOVED.daily
ENTRIES = Table(
    "view_fund_entries", keys=("fund", "entry"),
    attributes=("type", "category", "street_town", "amount", "day", "kind", "target", "domain", "reversed"),
    integers=("amount",),
)
TABLES = (FUNDS, USAGE, *MOVED.tables, ENTRIES)
TYPES = frozenset({"Fund.Opened", "Fund.Closed"}) | MONEY_EVENTS
"""The event types this view folds."""

# What each money event adds to, besides the balance.
_COUNTER = {
    "Fund.DonationReceived": ("income", "donations"),
    "Fund.GrantReceived": ("income", "grants"),
    "Fund.AllocatedIn": ("allocated_in",),
    "Fund.AllocatedOut": ("allocated_out",),
    "Fund.RestrictionReleased": ("released_out",),
    "Fund.Paid": ("spent",),
    "Fund.OtherIncomeReceived": ("income",),
    "Fund.ContractPaymentReceived": (),
    "Fund.ServiceDelivered": (),
    "Fund.GoodsDistributed": (),
    "Fund.Terminated": ("allocated_out",),
}


def category(event: Event) -> str:
    """How a money event counts in reports: donation:<donor type>, grant:<source>, spent:<kind>…"""
    p = event.payload
    if event.type == "Fund.DonationReceived":
        return f"donation:{p['donor_type']}"
    if event.type == "Fund.GrantReceived":
        return f"grant:{p['source']}"
    if event.type == "Fund.Paid":
        return f"spent:{p['kind']}"
    if event.type == "Fund.OtherIncomeReceived":
        return f"other:{p['kind']}"
    return {"Fund.AllocatedIn": "allocation:in", "Fund.AllocatedOut": "allocation:out",
            "Fund.RestrictionReleased": "release:out", "Fund.Terminated": "allocation:out",
            "Fund.ContractPaymentReceived": "contract:received", "Fund.ServiceDelivered": "contract:earned",
            "Fund.GoodsDistributed": "goods:out"}[event.type]


def fold(event: Event, read: Reader) -> Iterator[ChangeT]:
    p = event.payload
    if event.type == "Fund.Opened":
        yield Change(FUNDS.name, (p["code"],), put={
            "name": p["name"], "foundation": p["foundation"], "kind": p["kind"], "restricted": int(p["restricted"]),
            "purpose": p["purpose"], "street_town": p["street_town"], "domains": as_json(p["domains"]),
            "street_towns": as_json(p["street_towns"]), "valid_from": p["valid_from"],
            "valid_until": p["valid_until"], "agreement_ref": p["agreement_ref"], "closed": 0})
        return
    if event.type == "Fund.Closed":
        yield Change(FUNDS.name, (event.code,), put={"closed": 1})
        return
    if "postings" not in p or not event.type.startswith("Fund."):
        return
    fund = event.code
    moved = effect_on(fund_account(fund), p["postings"])
    if event.type == "Fund.Reversed":
        original = read(ENTRIES.name, (fund, p["entry"]))
        counters = {"balance": moved, "reversed": abs(moved)}
        for column in _COUNTER[original["type"]]:
            counters[column] = counters.get(column, 0) - original["amount"]
        yield Change(FUNDS.name, (fund,), add=counters)
        yield Change(DAILY.name, (fund, event.recorded_on), add={"delta": moved})
        yield Change(ENTRIES.name, (fund, p["entry"]), put={"reversed": event.recorded_on})
        if original["type"] == "Fund.Paid":
            yield Change(USAGE.name, (fund, original["kind"], original["target"], original["domain"] or ""),
                         add={"amount": -original["amount"], "payments": -1})
        return
    day = day_of(p.get("received_on") or p.get("paid_on") or p.get("on"), event)
    counters = {"balance": moved, **{column: p["amount"] for column in _COUNTER[event.type]}}
    yield Change(FUNDS.name, (fund,), add=counters)
    yield Change(DAILY.name, (fund, day), add={"delta": moved})
    town = p.get("street_town")
    yield Change(ENTRIES.name, (fund, p["entry"]), put={
        "type": event.type, "category": category(event), "street_town": town, "amount": p["amount"], "day": day,
        "kind": p.get("kind"), "target": p.get("target"), "domain": p.get("domain"), "reversed": None})
    if event.type == "Fund.Paid":
        yield Change(USAGE.name, (fund, p["kind"], p["target"], p["domain"] or ""),
                     add={"amount": p["amount"], "payments": 1})
