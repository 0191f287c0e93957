"""The chart of accounts (会计科目) of 《民间非营利组织会计制度》 from a data file, and the general
ledger (总账) read from the signed events: every posting of a money event named by its chart account.

Events sign their postings in fund sub-ledger accounts (``Assets:Funds:<fund>``,
``Income:Restricted:Donations:resident`` …, see ``ledger.accounting``); the data file's
``[[subledger]]`` rules name the chart account of each. One account needs the two funds it
joins: ``Equity:Interfund``, the clearing leg of an allocation, is a transfer of unrestricted net
assets (非限定性净资产) between two funds of one foundation — and between two foundations (two
legal persons) it is a grant: an expense (业务活动成本) of the giver and donation income (捐赠收入)
of the receiver. A reversal (冲正) posts the chart postings of the event it reverses, negated.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, Protocol

from ledger.errors import InvalidInput

RESTRICTED, UNRESTRICTED = "restricted", "unrestricted"
CLASSES = (UNRESTRICTED, RESTRICTED)
INTERFUND = "Equity:Interfund"
RESTRICTED_INTERFUND = "Equity:Interfund:Restricted"


@dataclass(frozen=True)
class Account:
    """One account of the chart."""

    code: str
    """The system's number (科目编号), e.g. ``1002``."""
    name_zh: str
    name_en: str
    type: str
    """asset, liability, net_assets, income or expense."""
    journal: str
    """The hledger account it is written as (fund and class appended)."""
    contra: bool = False
    net_class: str | None = None
    """For the two net-asset accounts: the class they hold."""


@dataclass(frozen=True)
class Chart:
    """The chart, the sub-ledger mapping and the three statements' layouts, from one data file."""

    standard: dict[str, str]
    accounts: dict[str, Account]
    subledger: tuple[tuple[tuple[str, ...], str], ...]
    balance_sheet: dict[str, Any]
    activities: dict[str, Any]
    cash_flow: dict[str, Any]
    source: str = "minfei.toml"

    def account(self, code: str) -> Account:
        return self.accounts[code]

    def code_of(self, account: str) -> tuple[str, str | None] | None:
        """The chart account of a sub-ledger account, and the income class it names (or None)."""
        parts = account.split(":")
        for pattern, code in self.subledger:
            matched = _match(pattern, parts)
            if matched is not None:
                return code, matched
        return None

    @property
    def cash_accounts(self) -> tuple[str, ...]:
        return tuple(self.cash_flow.get("cash", ("1001", "1002", "1009")))


def _match(pattern: tuple[str, ...], parts: list[str]) -> str | None | bool:
    """None if no match; else the class a ``{class}`` segment named (or False when there is none)."""
    found: str | bool = False
    for i, segment in enumerate(pattern):
        if segment == "**":
            return found if len(parts) > i else None
        if i >= len(parts):
            return None
        if segment == "{class}":
            if parts[i] not in ("Restricted", "Unrestricted"):
                return None
            found = RESTRICTED if parts[i] == "Restricted" else UNRESTRICTED
        elif segment != "*" and segment != parts[i]:
            return None
    return found if len(parts) == len(pattern) else None


def load_chart(path: str | Path | None = None) -> Chart:
    """The chart data file; without a path, the embedded 民非 chart (``ledger/data/minfei.toml``)."""
    if path is None:
        return _embedded()
    return _parse(Path(path).read_bytes(), str(path))


@lru_cache(maxsize=1)
def _embedded() -> Chart:
    return _parse(resources.files("ledger.data").joinpath("minfei.toml").read_bytes(), "minfei.toml")


def _parse(raw: bytes, source: str) -> Chart:
    try:
        doc = tomllib.loads(raw.decode("utf-8"))
        accounts = {}
        for a in doc["accounts"]:
            accounts[str(a["code"])] = Account(str(a["code"]), a["name_zh"], a["name_en"], a["type"], a["journal"],
                                               bool(a.get("contra", False)), a.get("class"))
        rules = tuple((tuple(r["pattern"].split(":")), str(r["code"])) for r in doc["subledger"])
        chart = Chart(doc.get("standard", {}), accounts, rules, doc["balance_sheet"], doc["activities"],
                      doc["cash_flow"], source)
    except (KeyError, TypeError, ValueError, tomllib.TOMLDecodeError) as exc:
        raise InvalidInput("accounting_file", f"{source} is not a valid chart of accounts: {exc}") from exc
    unknown = {code for _, code in chart.subledger} - accounts.keys()
    if unknown:
        raise InvalidInput("accounting_file", f"{source}: sub-ledger rules name unknown accounts {sorted(unknown)}")
    if {a.type for a in accounts.values()} - {"asset", "liability", "net_assets", "income", "expense"}:
        raise InvalidInput("accounting_file", f"{source}: an account has an unknown type")
    if {a.net_class for a in accounts.values() if a.type == "net_assets"} != set(CLASSES):
        raise InvalidInput("accounting_file", f"{source}: needs one restricted and one unrestricted net-asset account")
    return chart


# --- the general ledger --------------------------------------------------------------------------


@dataclass(frozen=True)
class GLPosting:
    """One posting of the general ledger: a chart account, for one fund, on one business day."""

    code: str
    amount: int
    """Fen, debit positive (hledger's signs)."""
    fund: str
    foundation: str | None
    day: str
    """The business date (YYYY-MM-DD) it counts on."""
    net_class: str | None = None
    """For income: restricted or unrestricted; for net assets, the account's class; else None."""
    detail: str = ""
    """The signed sub-ledger account it reads (``Expenses:Programs:P1``, ``Equity:Interfund`` …)."""
    position: int = 0
    entry: str | None = None


class EventLike(Protocol):
    """What the ledger reads of an event: a verified log entry, a projection event or an audit entry."""

    type: str
    stream: str
    version: int
    payload: dict[str, Any]
    timestamp: Any


def business_day(type_: str, payload: dict[str, Any], recorded_on: str) -> str:
    """The day a money event counts on: its business date; a reversal counts on the day it was made."""
    if type_ == "Fund.Reversed":
        return recorded_on
    return (payload.get("received_on") or payload.get("paid_on") or payload.get("on") or recorded_on)


@dataclass
class FundInfo:
    code: str
    foundation: str | None
    restricted: bool
    kind: str
    purpose: str = ""
    payload: dict[str, Any] = field(default_factory=dict)


class GeneralLedger:
    """Reads money events in log order into chart postings (a fold: feed each verified event)."""

    def __init__(self, chart: Chart | None = None) -> None:
        self.chart = chart or load_chart()
        self.funds: dict[str, FundInfo] = {}
        self._posted: dict[tuple[str, str | None], list[GLPosting]] = {}
        """(fund stream, entry) → the chart postings of that money event, for its reversal."""
        self.unmapped: list[tuple[int, str]] = []
        """(log position, account) of sub-ledger accounts no rule names."""

    def feed(self, e: EventLike, position: int = 0) -> list[GLPosting]:
        p = e.payload
        if e.type == "Fund.Opened":
            self.funds[p["code"]] = FundInfo(p["code"], p.get("foundation"), bool(p.get("restricted")),
                                             p.get("kind") or "general", p.get("purpose") or "", p)
            return []
        if not e.stream.startswith("fund:") or not p.get("postings"):
            return []
        code = e.stream.split(":", 1)[1]
        fund = self.funds.get(code) or FundInfo(code, None, False, "general")
        day = business_day(e.type, p, _recorded_on(e.timestamp))
        if e.type == "Fund.Reversed":
            # both legs of a reversed allocation name the one event the correction chose: each fund
            # negates its own event of that entry
            before = self._posted.get((e.stream, p.get("entry")), [])
            lines = [GLPosting(g.code, -g.amount, g.fund, g.foundation, day, g.net_class, g.detail, position,
                               p.get("entry")) for g in before]
            if not before:  # an original this reader never saw (a log read from its tail): read the postings
                lines = self._read(e.type, p, fund, day, position)
            return lines
        lines = self._read(e.type, p, fund, day, position)
        self._posted[(e.stream, p.get("entry"))] = lines
        return lines

    def _read(self, type_: str, p: dict[str, Any], fund: FundInfo, day: str, position: int) -> list[GLPosting]:
        lines = []
        other = self.funds.get(p.get("to_fund") or p.get("from_fund") or "")
        between_persons = other is not None and other.foundation != fund.foundation
        postings = p["postings"]
        if between_persons and type_ == "Fund.AllocatedIn":
            # a gift from another legal person: income of the receiving fund's class, no reclassification
            postings = [x for x in postings if not x["account"].endswith("ReleasedFromRestriction")]
            moved = sum(x["amount"] for x in postings if x["account"] == INTERFUND)
            lines.append(GLPosting("4101", moved, fund.code, fund.foundation, day,
                                   RESTRICTED if fund.restricted else UNRESTRICTED, INTERFUND,
                                   position, p.get("entry")))
            postings = [x for x in postings if x["account"] != INTERFUND]
        for x in postings:
            account, amount = x["account"], x["amount"]
            if account == RESTRICTED_INTERFUND:  # restricted money between funds of one purpose
                lines.append(GLPosting("3102", amount, fund.code, fund.foundation, day, RESTRICTED, account, position,
                                       p.get("entry")))
                continue
            if account == INTERFUND:
                if between_persons:  # a grant to another legal person: the giver's programme cost
                    lines.append(GLPosting("5101", amount, fund.code, fund.foundation, day, None,
                                           INTERFUND, position, p.get("entry")))
                else:
                    lines.append(GLPosting("3101", amount, fund.code, fund.foundation, day, UNRESTRICTED,
                                           INTERFUND, position, p.get("entry")))
                continue
            mapped = self.chart.code_of(account)
            if mapped is None:
                self.unmapped.append((position, account))
                continue
            chart_code, named = mapped
            acct = self.chart.accounts[chart_code]
            net_class = acct.net_class if acct.type == "net_assets" else (named or None)
            if acct.type == "income" and net_class is None:
                net_class = RESTRICTED if fund.restricted else UNRESTRICTED
            lines.append(GLPosting(chart_code, amount, fund.code, fund.foundation, day, net_class,
                                   account, position, p.get("entry")))
        return lines

    def journal_account(self, g: GLPosting) -> str:
        """The hledger account of a chart posting: the chart's name, the class for income, the
        foundation and the fund (``Income:Donations:Restricted:CNCF:SF-x``)."""
        acct = self.chart.accounts[g.code]
        parts = [acct.journal]
        if acct.type == "income":
            parts.append("Restricted" if g.net_class == RESTRICTED else "Unrestricted")
        parts += [_journal_safe(g.foundation or "_"), _journal_safe(g.fund)]
        return ":".join(parts)


def _journal_safe(text: str) -> str:
    return "".join(c if c.isascii() and (c.isalnum() or c in "_-") else "_" for c in text) or "_"


def _recorded_on(timestamp: Any) -> str:
    from datetime import datetime, timedelta, timezone

    if isinstance(timestamp, str):
        timestamp = datetime.fromisoformat(timestamp)
    return timestamp.astimezone(timezone(timedelta(hours=8))).date().isoformat()


def general_ledger(events: Iterable[EventLike], chart: Chart | None = None) -> Iterator[GLPosting]:
    """Every chart posting of a history, in log order."""
    reader = GeneralLedger(chart)
    for i, e in enumerate(events, 1):
        yield from reader.feed(e, getattr(e, "position", i))
