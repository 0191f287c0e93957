"""Annual ratios of 《慈善法》 and 《关于慈善组织开展慈善活动年度支出和管理费用的规定》 (2016), per
foundation and closed calendar year.

- A foundation with public-fundraising qualification (具有公开募捐资格) spends on charitable
  activities at least 70% of the previous year's total income — or of the average of the three
  years before, whichever is lower (Art. 7) — and keeps management costs at or below 10% of the
  year's total spending.
- Other foundations follow the tiers by net assets at the end of the previous year (Art. 8):
  ≥ ¥60m: 6% of the average net assets of the three years before, management ≤ 12%;
  ¥8m–60m: 6%, ≤ 13%; ¥4m–8m: 7%, ≤ 15%; below ¥4m: 8%, ≤ 20%.
- Total income (Art. 10) is what the year received: donations and grants, net of corrections made
  that year; allocations between funds of the same foundation are not income.
- Management costs below ¥200,000 in a year are exempt from the management ratio.

The ledger does not record which foundations hold the qualification; the caller names the ones
that do not (``private``), and all others are held to 70% / 10%.

A reversal counts against the income or payment it reverses, found among the events before it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from audits.findings import Finding
from audits.replay import Entry, Replay
from audits.rules.common import Principals, RuleCheck, breach, fund_code, pack, pairs, run, unpack, unpairs
from ledger.money import format_cny

FEE_EXEMPT_BELOW = 200_000_00
"""¥200,000 in fen."""
PUBLIC = (Fraction(70, 100), Fraction(10, 100))
TIERS = (  # (net assets at least, in fen; spending share of average net assets; management ceiling)
    (60_000_000_00, Fraction(6, 100), Fraction(12, 100)),
    (8_000_000_00, Fraction(6, 100), Fraction(13, 100)),
    (4_000_000_00, Fraction(7, 100), Fraction(15, 100)),
    (0, Fraction(8, 100), Fraction(20, 100)),
)
CHARITABLE = ("project", "allowance")


@dataclass
class Year:
    income: int = 0
    charitable: int = 0
    management: int = 0
    spending: int = 0
    closing_assets: int = 0
    delta: int = 0
    """The year's change in the foundation's fund assets."""
    events: list = field(default_factory=list)
    """The year's last three events, which a finding names."""

    def dump(self) -> list:
        return [self.income, self.charitable, self.management, self.spending, self.delta,
                [pack(e) for e in self.events]]

    @classmethod
    def load(cls, data: list) -> Year:
        income, charitable, management, spending, delta, events = data
        return cls(income, charitable, management, spending, 0, delta, [unpack(e) for e in events])


def _year(day: str | None) -> int | None:
    return int(day[:4]) if day and day[:4].isdigit() else None


class Check(RuleCheck):
    """Per foundation and business year: income, charitable and management spending, and net assets."""

    def __init__(self, private: Iterable[str] = ()) -> None:
        self.private = set(private)
        self.foundations: dict[str, Any] = {}
        """Fund code → its foundation."""
        self.years: dict[Any, dict[int, Year]] = {}
        self.kinds: dict[tuple[str, Any], tuple[str | None, int]] = {}
        """(fund, entry) → (kind, amount) of income and payments, for reversals."""
        self.entry_of: dict[str, dict[int, Any]] = {}
        """Fund stream → version → its entry."""
        self.current: int | None = None
        """The year of the last event."""

    def dump(self) -> Any:
        return {"foundations": self.foundations, "current": self.current,
                "years": [[f, y, bucket.dump()] for f, by_year in self.years.items() for y, bucket in by_year.items()],
                "kinds": pairs({k: list(v) for k, v in self.kinds.items()}),
                "entry_of": [[stream, list(versions.items())] for stream, versions in self.entry_of.items()]}

    @classmethod
    def load(cls, data: Any) -> Check:
        check = cls()
        check.foundations, check.current = data["foundations"], data["current"]
        for foundation, year, bucket in data["years"]:
            check.years.setdefault(foundation, {})[year] = Year.load(bucket)
        check.kinds = {k: tuple(v) for k, v in unpairs(data["kinds"]).items()}
        check.entry_of = {stream: dict(map(tuple, versions)) for stream, versions in data["entry_of"]}
        return check

    def feed(self, e: Entry, principals: Principals) -> list[Finding]:
        self.current = e.timestamp.year
        if e.type == "Fund.Opened":
            self.foundations[e.payload["code"]] = e.payload.get("foundation")
        if not e.stream.startswith("fund:"):
            return []
        self.entry_of.setdefault(e.stream, {})[e.version] = e.payload.get("entry")
        code, p = fund_code(e), e.payload
        if code not in self.foundations:
            return []
        foundation = self.foundations[code]
        day = p.get("received_on") or p.get("paid_on") or p.get("on") or e.timestamp.date().isoformat()
        year = _year(day)
        if year is None:
            return []
        account = f"Assets:Funds:{code}"
        bucket = self.years.setdefault(foundation, {}).setdefault(year, Year())
        bucket.delta += sum(x["amount"] for x in p.get("postings") or [] if x.get("account") == account)
        if e.type in ("Fund.DonationReceived", "Fund.GrantReceived"):
            bucket.income += p["amount"]
            self.kinds[(code, p.get("entry"))] = ("income", p["amount"])
        elif e.type == "Fund.Paid":
            _spend(bucket, p.get("kind"), p["amount"])
            self.kinds[(code, p.get("entry"))] = (p.get("kind"), p["amount"])
        elif e.type == "Fund.Reversed":
            original = p.get("reverses") or {}
            entry = self.entry_of.get(original.get("stream"), {}).get(original.get("version"))
            kind, amount = self.kinds.get((code, entry), (None, 0))
            if kind == "income":
                bucket.income -= amount
            elif kind is not None:
                _spend(bucket, kind, -amount)
        bucket.events = [*bucket.events[-2:], e]
        return []

    def tally(self) -> dict[Any, dict[int, Year]]:
        """The years with each one's closing net assets (copies: the running state is left as it is)."""
        tallied = {}
        for foundation, by_year in self.years.items():
            copies, running = {}, 0
            for year in range(min(by_year), max(by_year) + 1):
                bucket = by_year.get(year) or Year()
                running += bucket.delta
                copies[year] = Year(bucket.income, bucket.charitable, bucket.management, bucket.spending, running,
                                    bucket.delta, bucket.events)
            tallied[foundation] = copies
        return tallied

    def finish(self, principals: Principals) -> list[Finding]:
        """Every foundation's closed years: the years before the last year the log records anything in."""
        if self.current is None:
            return []
        findings = []
        for foundation, years in sorted(self.tally().items()):
            for year in sorted(y for y in years if y < self.current and y - 1 in years):
                findings += _judge(foundation, year, years, foundation in self.private)
        return findings


def tally(history: Replay) -> dict[Any, dict[int, Year]]:
    """Per foundation and business year: income, charitable and management spending, and net assets."""
    check = Check()
    for e in history.entries:
        check.feed(e, history.principals)
    return check.tally()


def _spend(bucket: Year, kind: str | None, amount: int) -> None:
    bucket.spending += amount
    if kind in CHARITABLE:
        bucket.charitable += amount
    elif kind == "management":
        bucket.management += amount


def check(history: Replay, *, private: Iterable[str] = ()) -> list[Finding]:
    return run(Check(private), history)


def _judge(foundation: str, year: int, years: dict[int, Year], private: bool) -> list[Finding]:
    this, last = years[year], years[year - 1]
    events = this.events[-3:]
    findings = []
    if private:
        assets = last.closing_assets
        share, ceiling = next((s, c) for floor, s, c in TIERS if assets >= floor)
        base_years = [years[y].closing_assets for y in range(year - 3, year) if y in years]
        base = Fraction(sum(base_years), len(base_years))
        basis_en, basis_zh = "average net assets of the previous three years", "前三年平均净资产"
    else:
        share, ceiling = PUBLIC
        incomes = [years[y].income for y in range(year - 3, year) if y in years]
        base = min(Fraction(last.income), Fraction(sum(incomes), len(incomes)))
        basis_en, basis_zh = "the previous year's total income (or the three-year average)", "上年总收入（或前三年平均）"
    required = share * base
    if this.charitable < required:
        findings.append(breach("ratios.charitable-spending", f"{foundation} spent {format_cny(this.charitable)} on "
                               f"charitable activities in {year}, below {share * 100}% of {basis_en} "
                               f"({format_cny(int(required))})",
                               f"{foundation} {year} 年慈善活动支出 {format_cny(this.charitable)}，低于{basis_zh}的 "
                               f"{share * 100}%（{format_cny(int(required))}）", *events, year=year))
    if this.management >= FEE_EXEMPT_BELOW and this.spending and Fraction(this.management, this.spending) > ceiling:
        findings.append(breach("ratios.management", f"{foundation}'s management costs in {year} were "
                               f"{format_cny(this.management)}, over {ceiling * 100}% of its spending "
                               f"({format_cny(this.spending)})",
                               f"{foundation} {year} 年管理费用 {format_cny(this.management)}，超过总支出的 {ceiling * 100}%",
                               *events, year=year))
    return findings
