"""The three statements of 《民间非营利组织会计制度》 — 资产负债表 (会民非01表), 业务活动表 (会民非02表)
and 现金流量表 (会民非03表) — for a month, a quarter or a year with the year to date, per foundation
(and per special fund as a memo), computed from the general ledger of a verified history.

A pure function of (history, foundation, period): the history is a store's verified log
(``ledger_books``) or an auditor's replayed bundle (the same events), so both compute the same
figures. Lines, their numbers and formulas come from the chart's data file. Money is integer fen;
each amount also has a decimal-string sibling for the edges.
"""

from __future__ import annotations

import calendar
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from ledger.chart import (
    INTERFUND,
    RESTRICTED,
    UNRESTRICTED,
    Chart,
    EventLike,
    FundInfo,
    GeneralLedger,
    GLPosting,
    load_chart,
)
from ledger.errors import InvalidInput
from ledger.money import to_decimal_string

FORMAT = "wushe-minfei-statements/v1"
PERIOD_KINDS = ("month", "quarter", "year")


@dataclass(frozen=True)
class Period:
    """A reporting period (报告期) of one calendar year."""

    kind: str
    year: int
    number: int = 1
    """The month (1–12) or quarter (1–4); 1 for a year."""

    def __post_init__(self) -> None:
        limit = {"month": 12, "quarter": 4, "year": 1}.get(self.kind)
        if limit is None:
            raise InvalidInput("period", f"choose from {', '.join(PERIOD_KINDS)}", "报告期须为月、季或年")
        if not 1 <= self.number <= limit or not 1900 <= self.year <= 9999:
            raise InvalidInput("period", f"no {self.kind} {self.number} of {self.year}", "报告期不存在")

    @classmethod
    def of(cls, year: int, month: int | None = None, quarter: int | None = None) -> Period:
        if month is not None and quarter is not None:
            raise InvalidInput("period", "name a month or a quarter, not both", "月份与季度只能选一")
        if month is not None:
            return cls("month", year, month)
        if quarter is not None:
            return cls("quarter", year, quarter)
        return cls("year", year)

    @property
    def start(self) -> date:
        if self.kind == "month":
            return date(self.year, self.number, 1)
        if self.kind == "quarter":
            return date(self.year, 3 * self.number - 2, 1)
        return date(self.year, 1, 1)

    @property
    def end(self) -> date:
        month = {"month": self.number, "quarter": 3 * self.number, "year": 12}[self.kind]
        return date(self.year, month, calendar.monthrange(self.year, month)[1])

    @property
    def year_start(self) -> date:
        return date(self.year, 1, 1)

    def label(self) -> tuple[str, str]:
        if self.kind == "month":
            return f"{self.year}年{self.number}月", f"{self.year}-{self.number:02d}"
        if self.kind == "quarter":
            return f"{self.year}年第{self.number}季度", f"{self.year} Q{self.number}"
        return f"{self.year}年度", f"{self.year}"

    def as_json(self) -> dict[str, Any]:
        zh, en = self.label()
        return {"kind": self.kind, "year": self.year, "number": self.number, "start": self.start.isoformat(),
                "end": self.end.isoformat(), "year_start": self.year_start.isoformat(), "label_zh": zh, "label_en": en}


@dataclass
class Books:
    """A history read into the general ledger: its chart postings and what the statements name."""

    chart: Chart
    postings: list[GLPosting] = field(default_factory=list)
    funds: dict[str, FundInfo] = field(default_factory=dict)
    organisations: dict[str, str] = field(default_factory=dict)
    """Organisation code → name."""
    position: int = 0
    """The last log position read."""
    unmapped: list[tuple[int, str]] = field(default_factory=list)


def read_books(events: Iterable[EventLike], chart: Chart | None = None) -> Books:
    """The general ledger of a history (events in log order, each with a ``position``)."""
    reader = GeneralLedger(chart or load_chart())
    books = Books(reader.chart)
    for i, e in enumerate(events, 1):
        position = getattr(e, "position", i)
        books.position = max(books.position, position)
        if e.type == "Organisation.Registered":
            books.organisations[e.payload["code"]] = e.payload.get("name") or e.payload["code"]
        books.postings += reader.feed(e, position)
    books.funds, books.unmapped = reader.funds, reader.unmapped
    return books


def ledger_books(ledger: Any, chart: Chart | None = None) -> Books:
    """The books of a ledger's store: its whole log, every event verified as it is read."""
    return read_books(verified_events(ledger), chart)


class _Logged:
    __slots__ = ("payload", "position", "stream", "timestamp", "type", "version")

    def __init__(self, position: int, type_: str, stream: str, version: int, payload: dict, timestamp: Any) -> None:
        self.position, self.type, self.stream, self.version = position, type_, stream, version
        self.payload, self.timestamp = payload, timestamp


_ENVELOPE = ("originator_id", "originator_version", "originator_topic", "timestamp")


def verified_events(ledger: Any) -> Iterable[_Logged]:
    for stored in ledger.log_positions():
        event = ledger.mapper.to_domain_event(stored)  # raises TamperedEvent: no statement from a bad log
        payload = {k: v for k, v in vars(event).items() if k not in _ENVELOPE}
        yield _Logged(stored.id, stored.topic, str(stored.originator_id), stored.originator_version, payload,
                      event.timestamp)


# --- the statements ------------------------------------------------------------------------------


def statements(books: Books, foundation: str, period: Period, *, fund: str | None = None,
               memos: bool = True) -> dict[str, Any]:
    """The three statements of one foundation (or, with ``fund``, of one of its funds as a memo)."""
    if foundation not in books.organisations and not any(f.foundation == foundation for f in books.funds.values()):
        raise InvalidInput("foundation", f"no foundation {foundation!r} in the ledger", f"账本中没有基金会 {foundation!r}")
    if fund is not None and (fund not in books.funds or books.funds[fund].foundation != foundation):
        raise InvalidInput("fund", f"{foundation} holds no fund {fund!r}", f"{foundation} 没有基金 {fund!r}")
    scoped = [g for g in books.postings if g.foundation == foundation and (fund is None or g.fund == fund)]
    chart = books.chart
    doc: dict[str, Any] = {
        "format": FORMAT,
        "standard": dict(chart.standard),
        "foundation": {"code": foundation, "name": books.organisations.get(foundation, foundation)},
        "scope": {"kind": "fund", "fund": fund, "name": books.funds[fund].payload.get("name")} if fund
        else {"kind": "foundation"},
        "period": period.as_json(),
        "position": books.position,
        "balance_sheet": _balance_sheet(chart, scoped, period),
        "activities": _activities(chart, scoped, period, fund is not None),
        "cash_flow": _cash_flow(chart, scoped, period, fund is not None),
    }
    doc["checks"] = tie_out(doc)
    if fund is None and memos:
        doc["memos"] = [statements(books, foundation, period, fund=code, memos=False)
                        for code, info in sorted(books.funds.items())
                        if info.foundation == foundation and info.kind == "special"]
    return doc


def _money(fen: int) -> dict[str, Any]:
    return {"fen": fen, "yuan": to_decimal_string(fen)}


def _head(line: dict[str, Any]) -> dict[str, Any]:
    return {"line": line.get("line"), "name_zh": line["name_zh"], "name_en": line["name_en"]}


def _compute(lines: list[dict[str, Any]], base: Any, zero: Any, add: Any) -> list[dict[str, Any]]:
    """Every line's value in layout order: base lines from ``base(line)``, sums from earlier lines."""
    values: dict[int, Any] = {}
    out = []
    for line in lines:
        number = line.get("line")
        if number is None:
            out.append({**_head(line), "heading": True})
            continue
        if "sum" in line or "minus" in line:
            value = zero()
            for n in line.get("sum", []):
                value = add(value, values[n], 1)
            for n in line.get("minus", []):
                value = add(value, values[n], -1)
        else:
            value = base(line)
        values[number] = value
        out.append({**_head(line), "value": value})
    return out


def _balance_on(postings: list[GLPosting], before: date) -> dict[tuple[str, str | None], int]:
    """Each (account, class) balance from the postings dated before ``before``."""
    day = before.isoformat()
    totals: dict[tuple[str, str | None], int] = defaultdict(int)
    for g in postings:
        if g.day < day:
            totals[(g.code, g.net_class)] += g.amount
    return totals


def _net_assets(chart: Chart, totals: dict[tuple[str, str | None], int], net_class: str) -> int:
    """A class's net assets: its net-asset account with the income and (unrestricted) costs not yet closed."""
    total = 0
    for (code, cls), amount in totals.items():
        kind = chart.accounts[code].type
        if kind == "expense" and net_class == UNRESTRICTED or kind in ("income", "net_assets") and cls == net_class:
            total -= amount
    return total


def _balance_sheet(chart: Chart, postings: list[GLPosting], period: Period) -> dict[str, Any]:
    layout = chart.balance_sheet
    columns = {"begin": _balance_on(postings, period.year_start),
               "end": _balance_on(postings, date.fromordinal(period.end.toordinal() + 1))}

    def base(line: dict[str, Any]) -> dict[str, int]:
        result = {}
        for column, totals in columns.items():
            if "net_assets" in line:
                result[column] = _net_assets(chart, totals, line["net_assets"])
                continue
            value = 0
            for code in line.get("accounts", []):
                sign = -1 if chart.accounts[code].type == "liability" else 1
                value += sign * sum(v for (c, _), v in totals.items() if c == code)
            for code in line.get("deduct", []):
                value -= sum(v for (c, _), v in totals.items() if c == code)
            result[column] = value
        return result

    lines = _compute(layout["lines"], base, lambda: {"begin": 0, "end": 0},
                     lambda a, b, s: {k: a[k] + s * b[k] for k in a})
    return {"form": layout["form"], "name_zh": layout["name_zh"], "name_en": layout["name_en"],
            "columns": ["begin", "end"], "lines": [_money_line(x) for x in lines]}


def _within(postings: list[GLPosting], start: date, end: date) -> list[GLPosting]:
    a, b = start.isoformat(), end.isoformat()
    return [g for g in postings if a <= g.day <= b]


def _activities(chart: Chart, postings: list[GLPosting], period: Period, memo: bool) -> dict[str, Any]:
    layout = chart.activities
    windows = {"period": _within(postings, period.start, period.end),
               "ytd": _within(postings, period.year_start, period.end)}

    def base(line: dict[str, Any]) -> dict[str, dict[str, int]]:
        result = {}
        for column, window in windows.items():
            u = r = 0
            for g in window:
                if g.code in line.get("income", []):
                    if g.net_class == RESTRICTED:
                        r -= g.amount
                    else:
                        u -= g.amount
                elif g.code in line.get("expense", []):
                    u += g.amount
                elif line.get("reclassification") and chart.accounts[g.code].type == "net_assets" and (
                        not memo or not g.detail.startswith(INTERFUND)):
                    if g.net_class == RESTRICTED:
                        r -= g.amount
                    else:
                        u -= g.amount
            result[column] = {UNRESTRICTED: u, RESTRICTED: r, "total": u + r}
        return result

    def zero() -> dict[str, dict[str, int]]:
        return {c: {UNRESTRICTED: 0, RESTRICTED: 0, "total": 0} for c in windows}

    def add(a, b, s):
        return {c: {k: a[c][k] + s * b[c][k] for k in a[c]} for c in a}

    lines = _compute(layout["lines"], base, zero, add)
    result = {"form": layout["form"], "name_zh": layout["name_zh"], "name_en": layout["name_en"],
              "columns": ["period", "ytd"], "lines": [_money_line(x) for x in lines]}
    if memo:
        transfers = {}
        for column, window in windows.items():
            u = -sum(g.amount for g in window if g.detail.startswith(INTERFUND) and g.net_class == UNRESTRICTED)
            r = -sum(g.amount for g in window if g.detail.startswith(INTERFUND) and g.net_class == RESTRICTED)
            transfers[column] = {UNRESTRICTED: u, RESTRICTED: r, "total": u + r}
        result["transfers"] = _money_line({"line": None, "name_zh": "基金间划转（备忘）",
                                           "name_en": "Transfers between funds (memo)", "value": transfers})
    return result


def _cash_flow(chart: Chart, postings: list[GLPosting], period: Period, memo: bool) -> dict[str, Any]:
    layout = chart.cash_flow
    cash = set(chart.cash_accounts)
    inflow = {code: line["line"] for line in layout["lines"] for code in line.get("inflow", [])}
    outflow = {code: line["line"] for line in layout["lines"] for code in line.get("outflow", [])}
    other_in, other_out = 8, 19
    flows: dict[str, dict[int | str, int]] = {}
    for column, (start, end) in {"period": (period.start, period.end), "ytd": (period.year_start, period.end)}.items():
        by_line: dict[int | str, int] = defaultdict(int)
        events: dict[int, list[GLPosting]] = defaultdict(list)
        for g in _within(postings, start, end):
            events[g.position].append(g)
        for lines in events.values():
            if not any(g.code in cash for g in lines):
                continue
            for g in lines:
                if g.code in cash:
                    continue
                if chart.accounts[g.code].type == "net_assets":
                    by_line["transfers"] -= g.amount
                elif g.code in inflow:
                    by_line[inflow[g.code]] -= g.amount
                elif g.code in outflow:
                    by_line[outflow[g.code]] += g.amount
                elif g.amount < 0:
                    by_line[other_in] -= g.amount
                else:
                    by_line[other_out] += g.amount
        flows[column] = by_line

    def base(line: dict[str, Any]) -> dict[str, int]:
        return {column: flows[column].get(line["line"], 0) for column in flows}

    lines = _compute(layout["lines"], base, lambda: {"period": 0, "ytd": 0},
                     lambda a, b, s: {k: a[k] + s * b[k] for k in a})
    result = {"form": layout["form"], "name_zh": layout["name_zh"], "name_en": layout["name_en"],
              "columns": ["period", "ytd"], "lines": [_money_line(x) for x in lines]}
    transfers = {column: flows[column].get("transfers", 0) for column in flows}
    if memo:
        result["transfers"] = _money_line({"line": None, "name_zh": "基金间划转收到（付出）的现金（备忘）",
                                           "name_en": "Cash in (out) by transfers between funds (memo)",
                                           "value": transfers})
    return result


def _money_line(line: dict[str, Any]) -> dict[str, Any]:
    if line.get("heading"):
        return line
    value = line.pop("value")
    line["amounts"] = _amounts(value)
    return line


def _amounts(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _amounts(v) for k, v in value.items()}
    return _money(value)


# --- tying out -----------------------------------------------------------------------------------


def line_value(statement: dict[str, Any], number: int, *path: str) -> int:
    """The fen of one line of a statement (``path``: the column, and for 02表 the class)."""
    for line in statement["lines"]:
        if line.get("line") == number:
            value = line["amounts"]
            for key in path:
                value = value[key]
            return value["fen"]
    raise KeyError(number)


def tie_out(doc: dict[str, Any]) -> dict[str, Any]:
    """The checks that the three statements agree: net assets at the end are those at the year's
    start plus the year-to-date change (line 45, and in a fund's memo its transfers), per class;
    assets equal liabilities plus net assets; and the cash flow ends at the balance sheet's cash."""
    bs, act, cf = doc["balance_sheet"], doc["activities"], doc["cash_flow"]
    checks = {}
    for cls, line in ((UNRESTRICTED, 101), (RESTRICTED, 105), ("total", 110)):
        begin, end = line_value(bs, line, "begin"), line_value(bs, line, "end")
        change = line_value(act, 45, "ytd", cls)
        if "transfers" in act:
            change += act["transfers"]["amounts"]["ytd"][cls]["fen"]
        checks[f"net_assets_{cls}"] = begin + change == end
    checks["balance"] = all(line_value(bs, 60, c) == line_value(bs, 120, c) for c in ("begin", "end"))
    change = line_value(cf, 61, "ytd") + (cf["transfers"]["amounts"]["ytd"]["fen"] if "transfers" in cf else 0)
    checks["cash"] = line_value(bs, 1, "begin") + change == line_value(bs, 1, "end")
    checks["ok"] = all(checks.values())
    return checks
