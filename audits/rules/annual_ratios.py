"""Annual ratios of 《慈善法》 and 《关于慈善组织开展慈善活动年度支出和管理费用的规定》 (2016) as the
regulation words them, per foundation and closed calendar year — every year from the foundation's
first to the last closed one, a year without events included.

- Who: only a charitable organisation (慈善组织), as its signed profile says
  (``Organisation.ProfileRecorded``: charity, public-fundraising qualification, legal form). A
  foundation with no profile is judged as before profiles existed: as a public-fundraising foundation
  (unless the caller names it ``private``).
- 第七条 (with public-fundraising qualification): charitable spending ≥ 70% of 上年总收入;
  management ≤ 10% (foundations) or 13% of the year's total spending.
- 第八条 / 第九条 (without): tiers by 上年末净资产, spending ≥ a share of 上年末净资产 (the lowest tier of
  第九条 also ≥ 50% of 上年总收入), management ≤ the tier's ceiling.
- 第十条: the three-year averages may stand in for 上年总收入 and 上年末净资产 — the organisation's
  option, so a year passes if either basis is met; 上年总收入 is the year's income less income time-
  restricted so it could not be used that year, plus net assets whose time restriction lapsed in it
  (a restricted fund whose ``valid_from`` lies in a later year holds time-restricted money).
- 第十一条: management costs below ¥200,000 are not held to the management ratios (only those).

Figures come from the signed postings: income is every ``Income:*`` posting but the release of a
restriction; charitable spending the programme costs (``Expenses:Programs|Allowances|Grants|Goods``);
management ``Expenses:Management``; total spending every ``Expenses:*``; net assets the foundation's
assets less liabilities. A reversal counts on the day it was made. Tiers and shares are reference
data (``ledger/data/charity_rules.toml``).
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable
from dataclasses import dataclass, field
from fractions import Fraction
from functools import lru_cache
from importlib import resources
from typing import Any

from audits.findings import Finding
from audits.replay import Entry, Replay
from audits.rules.common import Principals, RuleCheck, breach, fund_code, pack, run, unpack
from ledger.events import MONEY_EVENTS
from ledger.money import format_cny

PROGRAMME = ("Expenses:Programs:", "Expenses:Allowances:", "Expenses:Grants:", "Expenses:Goods:")


@lru_cache(maxsize=1)
def rules() -> dict[str, Any]:
    return tomllib.loads(resources.files("ledger.data").joinpath("charity_rules.toml").read_text("utf-8"))


FEE_EXEMPT_BELOW = int(rules()["exemption"]["management_below"])


@dataclass
class Year:
    income: int = 0
    unusable: int = 0
    """Income of the year time-restricted so it could not be used in it."""
    lapsed: int = 0
    """Net assets whose time restriction lapsed in the year."""
    charitable: int = 0
    management: int = 0
    spending: int = 0
    delta: int = 0
    """The year's change in the foundation's net assets."""
    closing_assets: int = 0
    events: list = field(default_factory=list)

    @property
    def total_income(self) -> int:
        """上年总收入 as 第十条 adjusts it."""
        return self.income - self.unusable + self.lapsed

    def dump(self) -> list:
        return [self.income, self.unusable, self.lapsed, self.charitable, self.management, self.spending, self.delta,
                [pack(e) for e in self.events]]

    @classmethod
    def load(cls, data: list) -> Year:
        income, unusable, lapsed, charitable, management, spending, delta, events = data
        return cls(income, unusable, lapsed, charitable, management, spending, delta, 0, [unpack(e) for e in events])


def _year(day: str | None) -> int | None:
    return int(day[:4]) if day and day[:4].isdigit() else None


class Check(RuleCheck):
    """Per foundation and business year: income, spending, net assets; and each foundation's profiles."""

    def __init__(self, private: Iterable[str] = ()) -> None:
        self.private = set(private)
        self.funds: dict[str, list] = {}
        """Fund code → [its foundation, the year its money may first be used (or None)]."""
        self.years: dict[Any, dict[int, Year]] = {}
        self.profiles: dict[str, list[dict]] = {}
        self.current: int | None = None

    def dump(self) -> Any:
        return {"funds": self.funds, "current": self.current, "profiles": self.profiles,
                "years": [[f, y, b.dump()] for f, by_year in self.years.items() for y, b in by_year.items()]}

    @classmethod
    def load(cls, data: Any) -> Check:
        check = cls()
        check.funds, check.current, check.profiles = data["funds"], data["current"], data["profiles"]
        for foundation, year, bucket in data["years"]:
            check.years.setdefault(foundation, {})[year] = Year.load(bucket)
        return check

    def feed(self, e: Entry, principals: Principals) -> list[Finding]:
        self.current = e.timestamp.year
        p = e.payload
        if e.type == "Fund.Opened":
            self.funds[p["code"]] = [p.get("foundation"), _year(p.get("valid_from")) if p.get("restricted") else None]
            self.years.setdefault(p.get("foundation"), {}).setdefault(e.timestamp.year, Year())
        elif e.type == "Organisation.ProfileRecorded":
            self.profiles.setdefault(e.stream.split(":", 1)[1], []).append(
                {"since": p["since"], "charity": bool(p["charity"]), "public": bool(p["public_fundraising"]),
                 "type": p["org_type"]})
        if not e.stream.startswith("fund:") or e.type not in MONEY_EVENTS:
            return []
        if e.type != "Fund.Reversed":
            _ = p["amount"], p["postings"]  # every money event states both: one that does not is unreadable
        code = fund_code(e)
        if code not in self.funds:
            return []
        foundation, usable_from = self.funds[code]
        day = e.timestamp.date().isoformat() if e.type == "Fund.Reversed" else (
            p.get("received_on") or p.get("paid_on") or p.get("on") or e.timestamp.date().isoformat())
        year = _year(day)
        if year is None:
            return []
        by_year = self.years.setdefault(foundation, {})
        bucket = by_year.setdefault(year, Year())
        for x in p.get("postings") or []:
            account, amount = x.get("account") or "", x["amount"]
            if account.startswith(("Assets:", "Liabilities:")):
                bucket.delta += amount
            elif account.startswith("Income:") and not account.endswith("ReleasedFromRestriction"):
                bucket.income -= amount
                if usable_from is not None and usable_from > year:
                    bucket.unusable -= amount
                    by_year.setdefault(usable_from, Year()).lapsed -= amount
            elif account.startswith("Expenses:"):
                bucket.spending += amount
                if account.startswith(PROGRAMME):
                    bucket.charitable += amount
                elif account == "Expenses:Management":
                    bucket.management += amount
        bucket.events = [*bucket.events[-2:], e]
        return []

    def tally(self) -> dict[Any, dict[int, Year]]:
        """Every year from the foundation's first to the last the log records, with closing net assets."""
        tallied = {}
        for foundation, by_year in self.years.items():
            copies, running = {}, 0
            last = max(max(by_year), self.current or max(by_year))
            for year in range(min(by_year), last + 1):
                b = by_year.get(year) or Year()
                running += b.delta
                copies[year] = Year(b.income, b.unusable, b.lapsed, b.charitable, b.management, b.spending, b.delta,
                                    running, b.events)
            tallied[foundation] = copies
        return tallied

    def profile(self, foundation: str, year: int) -> dict | None:
        """The profile in force during ``year`` (the last recorded since before its end)."""
        known = [p for p in self.profiles.get(foundation, []) if p["since"] <= f"{year}-12-31"]
        return known[-1] if known else None

    def finish(self, principals: Principals) -> list[Finding]:
        """Every foundation's closed years: those before the last year the log records anything in."""
        if self.current is None:
            return []
        findings = []
        for foundation, years in sorted(self.tally().items(), key=lambda kv: str(kv[0])):
            for year in sorted(y for y in years if y < self.current and y - 1 in years):
                profile = self.profile(foundation, year)
                if profile is None:  # judged as before profiles existed
                    profile = {"charity": True, "public": foundation not in self.private, "type": "foundation"}
                if profile["charity"]:
                    findings += _judge(foundation, year, years, profile)
        return findings


def tally(history: Replay) -> dict[Any, dict[int, Year]]:
    check = Check()
    for e in history.entries:
        check.feed(e, history.principals)
    return check.tally()


def check(history: Replay, *, private: Iterable[str] = ()) -> list[Finding]:
    return run(Check(private), history)


def _share(text: str) -> Fraction:
    return Fraction(text) / 100


def _average(values: list[int]) -> Fraction:
    return Fraction(sum(values), len(values))


def _judge(foundation: str, year: int, years: dict[int, Year], profile: dict) -> list[Finding]:
    this, last = years[year], years[year - 1]
    before = [years[y] for y in range(year - 3, year) if y in years]
    events = this.events[-3:]
    table = rules()
    if profile["public"]:
        tier = next(t for t in table["public"] if t["type"] == profile["type"])
        share = _share(tier["spending_of_income"])
        base = min(Fraction(last.total_income), _average([y.total_income for y in before]))
        basis_en, basis_zh = "the previous year's total income (or the three-year average)", "上年总收入（或前三年收入平均数）"
    else:
        tier = next(t for t in table["tiers"] if profile["type"] in t["type"].split()
                    and last.closing_assets >= t["at_least"])
        share = _share(tier["spending_of_net_assets"])
        base = min(Fraction(last.closing_assets), _average([y.closing_assets for y in before]))
        basis_en, basis_zh = "the previous year-end net assets (or the three-year average)", "上年末净资产（或前三年年末净资产平均数）"
    required = share * base
    findings = []
    where = f"{tier['article']} of the 2016 regulation"
    if this.charitable < required:
        findings.append(breach("ratios.charitable-spending", f"{foundation} spent {format_cny(this.charitable)} on "
                               f"charitable activities in {year}, below {share * 100}% of {basis_en} "
                               f"({format_cny(int(required))}; {where})",
                               f"{foundation} {year} 年慈善活动支出 {format_cny(this.charitable)}，低于{basis_zh}的 "
                               f"{share * 100}%（{format_cny(int(required))}，{tier['article']}）", *events, year=year,
                               article=tier["article"]))
    if "spending_of_income" in tier and not profile["public"]:
        floor = _share(tier["spending_of_income"]) * min(Fraction(last.total_income),
                                                         _average([y.total_income for y in before]))
        if this.charitable < floor:
            findings.append(breach("ratios.charitable-spending", f"{foundation} spent {format_cny(this.charitable)} "
                                   f"on charitable activities in {year}, below {tier['spending_of_income']}% of the "
                                   f"previous year's total income ({format_cny(int(floor))}; {where})",
                                   f"{foundation} {year} 年慈善活动支出低于上年总收入的 {tier['spending_of_income']}%"
                                   f"（{tier['article']}）", *events, year=year, article=tier["article"]))
    ceiling = _share(tier["management_ceiling"])
    exempt = this.management < FEE_EXEMPT_BELOW and tier["article"] in table["exemption"]["articles"]
    if not exempt and this.spending and Fraction(this.management, this.spending) > ceiling:
        findings.append(breach("ratios.management", f"{foundation}'s management costs in {year} were "
                               f"{format_cny(this.management)}, over {ceiling * 100}% of its spending "
                               f"({format_cny(this.spending)}; {where})",
                               f"{foundation} {year} 年管理费用 {format_cny(this.management)}，超过总支出的 "
                               f"{ceiling * 100}%（{tier['article']}）", *events, year=year, article=tier["article"]))
    return findings
