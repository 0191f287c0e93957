"""The public donation list (捐赠公示): each gift with its donor as the public may see them — the
name only if the donor consented, else masked (张**) — so no non-consenting name is ever written to
a view, let alone shown."""

from __future__ import annotations

from collections.abc import Iterator

from projections.base import Change, ChangeT, Event, Reader, Table

DONATIONS = Table(
    "view_public_donations", keys=("fund", "entry"),
    attributes=("donor", "donor_type", "amount", "method", "day", "street_town", "reversed"),
    integers=("amount",), indexes=(("fund", "day", "entry"), ("street_town", "day", "fund", "entry")),
)
"""``donor`` is already masked; ``reversed`` is the day a correction reversed the gift, if one did."""
TABLES = (DONATIONS,)
TYPES = frozenset({"Fund.DonationReceived", "Fund.Reversed"})


ANONYMOUS = "匿名 anonymous"
"""What the views hold for a gift without a donor's name (the pages show it in the reader's language)."""


def mask_name(name: str | None, consented: bool) -> str:
    """A donor's or volunteer's name as shown publicly: 张** unless they consented to be named."""
    if not name:
        return ANONYMOUS
    return name if consented else name[0] + "*" * max(1, len(name) - 1)


def fold(event: Event, read: Reader) -> Iterator[ChangeT]:
    p = event.payload
    if event.type == "Fund.DonationReceived":
        yield Change(DONATIONS.name, (event.code, p["entry"]), put={
            "donor": mask_name(p["donor_name"], bool(p["donor_public"])), "donor_type": p["donor_type"],
            "amount": p["amount"], "method": p["method"], "day": p["received_on"] or event.recorded_on,
            "street_town": p["street_town"], "reversed": None})
    elif event.type == "Fund.Reversed" and read(DONATIONS.name, (event.code, p["entry"])) is not None:
        yield Change(DONATIONS.name, (event.code, p["entry"]), put={"reversed": event.recorded_on})
