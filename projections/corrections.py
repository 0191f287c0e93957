"""The corrections log (更正说明): every reversal, with its reason, the event it corrects, and the
street-town, fund or organisation it concerns."""

from __future__ import annotations

from collections.abc import Iterator

from ledger.accounting import effect_on, fund_account
from projections.base import Change, ChangeT, Event, Reader, Table
from projections.funds import ENTRIES, FUNDS
from projections.hours import SESSIONS

CORRECTIONS = Table(
    "view_corrections", keys=("position",),
    attributes=("stream", "type", "reverses_stream", "reverses_version", "reverses_type", "reason", "day",
                "amount", "minutes", "corrected", "street_town", "fund", "organisation"),
    integers=("position", "reverses_version", "amount", "minutes"), indexes=(("day",), ("street_town", "position")),
)
TABLES = (CORRECTIONS,)
TYPES = frozenset({"Fund.Reversed", "Volunteer.ServiceReversed"})


def fold(event: Event, read: Reader) -> Iterator[ChangeT]:
    p = event.payload
    if event.type not in ("Fund.Reversed", "Volunteer.ServiceReversed"):
        return
    ref = p["reverses"]
    amount = abs(effect_on(fund_account(event.code), p["postings"])) if "postings" in p else None
    minutes = fund = organisation = town = None
    if event.type == "Volunteer.ServiceReversed":
        session = read(SESSIONS.name, (event.code, p["record"]))
        minutes, organisation, town = session["minutes"], session["organisation"], session["street_town"]
        corrected = p["record"]
    else:
        fund, corrected = event.code, p["entry"]
        town = (read(ENTRIES.name, (fund, corrected)) or {}).get("street_town")
        if town is None:  # an allocation or release counts in its fund's home street-town
            town = (read(FUNDS.name, (fund,)) or {}).get("street_town")
    yield Change(CORRECTIONS.name, (event.position,), put={
        "stream": event.stream, "type": event.type, "reverses_stream": ref["stream"],
        "reverses_version": ref["version"], "reverses_type": ref["type"], "reason": p["reason"],
        "day": event.recorded_on, "amount": amount, "minutes": minutes, "corrected": corrected,
        "street_town": town, "fund": fund, "organisation": organisation})
