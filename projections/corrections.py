"""The corrections log (更正说明): every reversal, with its reason and the event it corrects."""

from __future__ import annotations

from collections.abc import Iterator

from ledger.accounting import effect_on, fund_account
from projections.base import Change, Event, Reader, Table
from projections.hours import SESSIONS

CORRECTIONS = Table(
    "view_corrections", keys=("position",),
    attributes=("stream", "type", "reverses_stream", "reverses_version", "reverses_type", "reason", "day",
                "amount", "minutes"),
    integers=("position", "reverses_version", "amount", "minutes"),
)
TABLES = (CORRECTIONS,)


def fold(event: Event, read: Reader) -> Iterator[Change]:
    p = event.payload
    if event.type not in ("Fund.Reversed", "Volunteer.ServiceReversed"):
        return
    ref = p["reverses"]
    amount = abs(effect_on(fund_account(event.code), p["postings"])) if "postings" in p else None
    minutes = None
    if event.type == "Volunteer.ServiceReversed":
        minutes = read(SESSIONS.name, (event.code, p["record"]))["minutes"]
    yield Change(CORRECTIONS.name, (event.position,), put={
        "stream": event.stream, "type": event.type, "reverses_stream": ref["stream"],
        "reverses_version": ref["version"], "reverses_type": ref["type"], "reason": p["reason"],
        "day": event.recorded_on, "amount": amount, "minutes": minutes})
