"""The whole ledger as a plain-text journal for hledger and ledger-cli (复式记账日记账), read from
the verified log, so accountants and auditors can check every balance with tools of their own.

Every money event becomes one transaction, in log order, posting to the chart of accounts of
《民间非营利组织会计制度》 (``ledger.chart``): each account is the chart's (``Assets:Bank``,
``Income:Donations:Restricted`` …) followed by the foundation and the fund (``Assets:Bank:CNCF:SF-x``), and each posting names the
chart code and the signed fund sub-ledger account it reads in tags (``code:``, ``subledger:``), so
``hledger bs`` and ``hledger is`` (with a query such as ``:CNCF:`` for one foundation) give the
statements' figures, and every fund is still an account of its own.
Money is in the commodity ``CNY`` (yuan with two places, converted exactly from integer fen), signs
as hledger's (debits positive). Volunteer time is a commodity of its own, ``MIN`` (minutes):
``Volunteer:Minutes:<street-town>:<domain>`` against ``Contributed:Minutes:<organisation>``; an
hours correction negates its session. Each transaction is dated by its business date (received,
paid, allocated, served) — a correction by the day it was recorded — and carries its log position
in a comment (tag ``position``). No names of donors, payees or volunteers are written.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from ledger.accounting import CNY
from ledger.chart import GeneralLedger
from ledger.money import to_decimal_string
from projections.base import CHINA

MINUTES = "MIN"
"""The commodity of volunteer time."""

_ACCOUNT = re.compile(r"^[A-Za-z][A-Za-z0-9_-]*(:[A-Za-z0-9_-]+)+$")
_WIDTH = 56


def volunteer_account(street_town: str, domain: str) -> str:
    return f"Volunteer:Minutes:{street_town}:{domain}"


def contributed_account(organisation: str) -> str:
    return f"Contributed:Minutes:{organisation}"


def journal(ledger: Any) -> str:
    """The journal of every posting of every money event and every volunteer session, in log order."""
    return "".join(_lines(ledger))


def _lines(ledger: Any) -> Iterable[str]:
    transactions: list[str] = []
    accounts: set[str] = set()
    sessions: dict[tuple[str, str], tuple[str, str, str, int]] = {}
    books = GeneralLedger()
    last = 0
    for stored in ledger.log_positions():
        last = stored.id
        event = ledger.mapper.to_domain_event(stored)  # raises TamperedEvent: nothing is exported
        built = _transaction(stored.id, stored.topic, str(stored.originator_id), event, sessions, books)
        if built is None:
            continue
        text, touched = built
        accounts.update(touched)
        transactions.append(text)
    yield (f"; Wushe Ledger 五社账本 — journal of {_clean(ledger.origin)}, log positions 1–{last}\n"
           "; Generated from the verified, signed log; hledger / ledger-cli plain-text journal.\n"
           f"; {CNY}: yuan, two decimals, exact from integer fen; {MINUTES}: volunteer minutes.\n"
           "; Dates are business dates (Shanghai); a correction is dated the day it was recorded.\n\n")
    yield f"commodity 1000.00 {CNY}\ncommodity 1000. {MINUTES}\n\n"
    for account in sorted(accounts):
        yield f"account {account}\n"
    yield "\n"
    yield from transactions


def _transaction(position: int, topic: str, stream: str, event: Any,
                 sessions: dict[tuple[str, str], tuple[str, str, str, int]],
                 books: GeneralLedger) -> tuple[str, list[str]] | None:
    recorded_on = _recorded_on(event.timestamp)
    code = stream.split(":", 1)[1] if ":" in stream else stream
    postings: list[tuple[str, str]]
    notes: list[str] = []
    tags = [f"position:{position}"]
    payload = {k: v for k, v in vars(event).items() if k not in ("originator_id", "originator_version",
                                                                  "originator_topic", "timestamp")}
    chart_postings = books.feed(_Read(topic, stream, event.originator_version, payload, event.timestamp), position)
    if topic.startswith("Fund.") and getattr(event, "postings", None):
        day = chart_postings[0].day if chart_postings else recorded_on
        postings = [(books.journal_account(g), _amount(g.amount, CNY)) for g in chart_postings]
        notes = [f"  ; code:{g.code}, subledger:{g.detail}" for g in chart_postings]
        description = f"{topic} {code}{_detail(topic, event)}"
        tags.append(f"entry:{event.entry}")
        if topic == "Fund.Reversed":
            day = recorded_on
    elif topic == "Volunteer.ServiceRecorded":
        sessions[(stream, event.record)] = (event.street_town, event.domain, event.organisation, event.minutes)
        day, minutes = event.date, event.minutes
        postings = _minutes(event.street_town, event.domain, event.organisation, minutes)
        description = f"{topic} {event.organisation} {event.domain}"
        tags.append(f"record:{event.record}")
    elif topic == "Volunteer.ServiceReversed":
        town, domain, organisation, minutes = sessions[(stream, event.record)]
        day = recorded_on
        postings = _minutes(town, domain, organisation, -minutes)
        description = f"{topic} {organisation} {domain}: {event.reason}"
        tags.append(f"record:{event.record}")
    else:
        return None
    for account, _ in postings:
        if not _ACCOUNT.match(account):
            raise ValueError(f"log position {position}: {account!r} is not a valid journal account name")
    lines = [f"{day or recorded_on} {_clean(description)}  ; {', '.join(tags)}\n"]
    notes = notes or [""] * len(postings)
    lines += [f"    {account:<{_WIDTH}}  {amount}{note}\n" for (account, amount), note in zip(postings, notes, strict=True)]
    return "".join(lines) + "\n", [account for account, _ in postings]


class _Read:
    """An event as ``ledger.chart.GeneralLedger`` reads it."""

    def __init__(self, type_: str, stream: str, version: int, payload: dict, timestamp: Any) -> None:
        self.type, self.stream, self.version, self.payload, self.timestamp = type_, stream, version, payload, timestamp


def _detail(topic: str, event: Any) -> str:
    if topic == "Fund.DonationReceived":
        return f" {event.donor_type} {event.method}"
    if topic == "Fund.GrantReceived":
        return f" {event.source}"
    if topic == "Fund.AllocatedOut":
        return f" to {event.to_fund}: {event.reason}"
    if topic == "Fund.AllocatedIn":
        return f" from {event.from_fund}: {event.reason}"
    if topic == "Fund.RestrictionReleased":
        return f" to {event.to_fund}: {event.basis}"
    if topic == "Fund.Paid":
        return f" {event.kind} {event.target}"
    if topic == "Fund.Reversed":
        return f" reverses {event.reverses['type']}: {event.reason}"
    return ""


def _minutes(town: str, domain: str, organisation: str, minutes: int) -> list[tuple[str, str]]:
    return [(volunteer_account(town, domain), f"{minutes} {MINUTES}"),
            (contributed_account(organisation), f"{-minutes} {MINUTES}")]


def _amount(fen: int, commodity: str) -> str:
    if commodity != CNY:
        raise ValueError(f"unexpected commodity {commodity!r}")
    return f"{to_decimal_string(fen)} {CNY}"


def _recorded_on(timestamp: datetime) -> str:
    return timestamp.astimezone(CHINA).date().isoformat()


def _clean(text: str) -> str:
    """One line, and no ``;`` (which would start a comment) in a description."""
    return " ".join(str(text).split()).replace(";", "；")
