"""Years of a district's demo ledger (``wushe demo --years Y``), in business-date order, through
the bulk path: per year a 99 Giving Day (九九公益日) surge of donations, quarterly government
purchases, a venture-philanthropy (公益创投) round and welfare-lottery money, projects paid by
milestone under maker-checker, monthly social-worker allowances, volunteers serving two years each,
satisfaction surveys, corrections, one key rotation, and a checkpoint cosigned by the district's
witness every month. The last year ends at ``DEMO_END`` (or today, if earlier).

Each year's plan is drawn from the seeded generator when the year begins, and every action runs
in order of its business date (ties in the order planned), so the same seed, scale and years give
the same business content; only recording timestamps and keys differ. ``expected_events`` says
how many events a scale and a number of years give.
"""

from __future__ import annotations

import heapq
import random
from collections import Counter
from collections.abc import Callable
from contextlib import nullcontext
from datetime import date, time, timedelta
from pathlib import Path

from ledger.application import Actor, Ledger, Recorded
from ledger.demo import (
    COMMUNITIES,
    CORRECTION_REASONS,
    GIVEN,
    HOURS_REASON,
    SURNAMES,
    DemoExists,
    _cast,
    _donation,
    _end_date,
    _funds,
    _organisations,
    _root,
    _rotate,
    _Witnessing,
    allowance_domain,
    check_reference,
    demo_town,
    district_name,
    service_content,
    themes,
)
from ledger.errors import InvalidInput

DONATIONS = 300
"""Donations per year per unit of scale; a third of them in the 99 Giving Day week."""
PROJECTS = 1
"""Projects per street-town per year per unit of scale (special fund, government purchase and
venture philanthropy in turn), each paid in three milestones."""
VOLUNTEERS = 1
"""Volunteers joining per street-town per year per unit of scale (twice as many in the first
year); each serves for two years, every one to three weeks."""
MAX_YEARS = 50
MILESTONES = (("启动", 3), ("中期", 4), ("结项", 3))
ROTATED = ("demo-accountant", "demo-accountant-2", "demo-approver")
"""Whose key is rotated, one a year in turn."""


def expected_events(scale: int, years: int) -> int:
    """About how many events ``seed_years`` writes (for the progress bar and the docs): ~1,157 per
    unit of scale and year at small scales, a little less per unit as the scale grows (measured:
    3,304 at scale 1 over two years, 918,777 at scale 87 and 1,013,641 at scale 96 over ten), plus
    ~430 a year that do not grow with the scale (allowances, grants, corrections, a rotation) and
    ~130 to set up. Scale 96 over ten years gives a million."""
    return (1157 * scale - 11 * scale * scale // 10) * years + 430 * years + 130


def _years_before(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February
        return day.replace(year=day.year - years, day=28)


def seed_years(
    ledger: Ledger, key_dir: Path, *, scale: int = 1, years: int = 10, seed: int = 2023, bulk: bool = True,
    batch_events: int = 2000, progress: Callable[[int], None] | None = None,
) -> dict:
    """Write ``years`` years of the demo ledger; returns counts of what was recorded.
    ``progress(events)`` is called after each monthly checkpoint with the log's size."""
    for name, value, top in (("scale", scale, 10_000), ("years", years, MAX_YEARS)):
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= top:
            raise InvalidInput(name, f"must be a whole number from 1 to {top}", f"须为1到{top}的整数")
    rng = random.Random(seed)
    ledger.new_id = lambda: f"{rng.getrandbits(64):016x}"
    if "demo-accountant" in ledger.directory().principals:
        raise DemoExists()
    check_reference(ledger)
    run = _Years(ledger, key_dir, rng, scale, years, progress)
    head = ledger.recorder.max_notification_id() or 0
    try:
        with ledger.bulk(batch_events) if bulk else nullcontext():
            run.setup()
            run.play()
    except BaseException:
        witnessing = getattr(run, "witnessing", None)
        if witnessing is not None and (ledger.recorder.max_notification_id() or 0) == head:
            witnessing.undo()
        raise
    run.counts["events"] = ledger.recorder.max_notification_id() or 0
    return dict(run.counts)


class _Years:
    def __init__(self, ledger: Ledger, key_dir: Path, rng: random.Random, scale: int, years: int,
                 progress: Callable[[int], None] | None) -> None:
        self.ledger, self.key_dir, self.rng, self.scale, self.years = ledger, key_dir, rng, scale, years
        self.progress = progress
        self.end = _end_date(ledger)
        self.start = _years_before(self.end, years) + timedelta(days=1)
        self.counts: Counter[str] = Counter()
        self.towns = [t.code for t in ledger.reference.street_towns]
        self.domains = [d.code for d in ledger.reference.domains]
        self._queue: list[tuple[date, int, Callable[[], None]]] = []
        self._planned = 0
        self._month: tuple[int, int] | None = None
        self._day = self.start

    # --- the schedule --------------------------------------------------------------------------

    def at(self, day: date, action: Callable[[], None]) -> None:
        """Run ``action`` on business date ``day`` (dropped if after the last day)."""
        if day <= self.end:
            self._planned += 1
            heapq.heappush(self._queue, (day, self._planned, action))

    def play(self) -> None:
        for year in range(self.years):
            first = _years_before(self.end, self.years - year) + timedelta(days=1)
            self.at(first, lambda year=year, first=first: self.plan_year(year, first))
        while self._queue:
            day, _, action = heapq.heappop(self._queue)
            if self._month is not None and (day.year, day.month) != self._month:
                self.checkpoint()
            self._month, self._day = (day.year, day.month), day
            action()
        self.checkpoint()

    def checkpoint(self) -> None:
        self.witnessing.checkpoint()
        self.counts["checkpoints"] += 1
        if self.progress is not None:
            self.progress(self.ledger.recorder.max_notification_id() or 0)

    # --- bodies, people and funds --------------------------------------------------------------

    def setup(self) -> None:
        ledger = self.ledger
        self.witnessing = _Witnessing(ledger, self.key_dir)
        self.root = _root(ledger, self.key_dir)
        self.orgs = _organisations(ledger, self.root, self.rng, self.scale, self.counts)
        self.cast = _cast(ledger, self.key_dir, self.root, self.orgs, self.counts)
        _funds(ledger, self.cast.accountant, self.rng, self.start, self.end, self.counts)
        self.special_domains = {town: ledger.fund(f"SF-{town}").domains for town in self.towns}
        self.recorder = {town: self.cast.recorders[self.orgs[town][0]] for town in self.towns}
        self.checkpoint()

    # --- one year ------------------------------------------------------------------------------

    def plan_year(self, year: int, first: date) -> None:
        rng, scale, ledger = self.rng, self.scale, self.ledger
        district = district_name(ledger)
        last = min(_years_before(self.end, self.years - year - 1), self.end)
        days = (last - first).days
        label = f"{first.year}"
        giving_day = date(first.year, 9, 9) if date(first.year, 9, 9) >= first else date(first.year + 1, 9, 9)
        kept: dict[str, list] = {"donations": [], "payments": [], "sessions": []}

        # income: donations with the 99 Giving Day surge, government purchases, a VP round, lottery money
        for i in range(DONATIONS * scale):
            if i % 3 == 0:
                day = giving_day + timedelta(days=rng.randint(-3, 3))
            else:
                day = first + timedelta(days=rng.randint(0, days))
            town = rng.choice(self.towns)
            fund, amount, fields = _donation(ledger, rng, town, min(day, self.end), giving_day)
            self.at(min(day, self.end), lambda f=fund, a=amount, kw=fields: self.donate(f, a, kw, kept))
        for town in self.towns:
            payer = f"{ledger.reference.street_town(town).name_zh}办事处"
            for quarter in range(4):
                amount = rng.choice([15000000, 20000000, 25000000]) * scale
                self.at(first + timedelta(days=10 + 91 * quarter), lambda t=town, a=amount, q=quarter, p=payer: self.grant(
                    f"GOV-{t}", a, "government_purchase", p, f"购买服务合同-{t}-{label}Q{q + 1}"))
        self.at(first + timedelta(days=30), lambda: self.grant(
            "GENERAL", 20000000 * scale, "district_special_fund", f"{district}民政局", f"{district}推进社会组织发展专项资金-{label}",
            street_town=demo_town(ledger, 1)))
        self.at(first + timedelta(days=40), lambda: self.grant(
            "VP-ROUND", 80000000 * scale, "venture_philanthropy", f"{district}民政局", f"{district}第{year + 1}届公益创投大赛",
            street_town=demo_town(ledger, 2)))
        self.at(first + timedelta(days=60), lambda: self.grant(
            "LOTTERY", 30000000 * scale, "welfare_lottery", f"{district}福利彩票发行中心", f"福彩进社区-{label}",
            street_town=demo_town(ledger, 4)))

        # projects paid by milestone, with a satisfaction survey
        for town in self.towns:
            for k in range(PROJECTS * scale):
                kind = k % 3
                if kind == 0:
                    domain, source, fund = rng.choice(self.special_domains[town]), "fund", f"SF-{town}"
                    budget = rng.choice([3000000, 5000000, 8000000, 12000000])
                elif kind == 1:
                    domain, source, fund = rng.choice(self.domains), "government_purchase", f"GOV-{town}"
                    budget = rng.choice([12000000, 20000000, 30000000])
                else:
                    domain, source, fund = rng.choice(self.domains), "venture_philanthropy", "VP-ROUND"
                    budget = rng.choice([5000000, 10000000, 20000000])
                code = f"P{label}-{town}-{k + 1:03d}"
                starts = first + timedelta(days=rng.randint(45, 120))
                spec = {"code": code, "town": town, "domain": domain, "source": source, "fund": fund,
                        "budget": budget, "organisation": rng.choice(self.orgs[town]),
                        "theme": rng.choice(themes(ledger, domain)), "starts": starts,
                        "ends": starts + timedelta(days=rng.choice([180, 270, 365])), "k": k}
                self.at(starts, lambda s=spec: self.register_project(s, kept))

        # monthly allowances for licensed social workers, the year's management costs
        for month in range(12):
            for town in self.towns:
                self.at(first + timedelta(days=28 + 30 * month), lambda t=town, m=month: self.allowance(t, m))
        self.at(last - timedelta(days=20), lambda: self.management(label))

        # volunteers: new ones join, each serves two years
        for town in self.towns:
            for v in range(VOLUNTEERS * scale * (2 if year == 0 else 1)):
                number = f"V{label}{self.towns.index(town) + 1:02d}{v + 1:04d}"
                joined = first + timedelta(days=0 if year == 0 else rng.randint(0, 180))
                self.at(joined, lambda t=town, n=number, j=joined: self.volunteer(t, n, j, kept))

        # a key rotation mid-year, corrections near the end of it
        self.at(first + timedelta(days=180), lambda: self.rotate(ROTATED[year % len(ROTATED)]))
        self.at(last - timedelta(days=10), lambda: self.correct(kept))

    # --- the actions ---------------------------------------------------------------------------

    def donate(self, fund: str, amount: int, fields: dict, kept: dict) -> None:
        recorded = self.ledger.record_donation(self.cast.accountant, fund, amount, **fields)
        kept["donations"].append((recorded, fund, amount))
        self.counts["donations"] += 1
        if fields["note"]:
            self.counts["giving_day_donations"] += 1

    def grant(self, fund: str, amount: int, source: str, payer: str, ref: str, street_town: str | None = None) -> None:
        self.ledger.record_grant(self.cast.accountant, fund, amount, source=source, payer=payer, document_ref=ref,
                                 received_on=self._today(), street_town=street_town)
        self.counts["grants"] += 1
        if source == "venture_philanthropy":
            self.counts["venture_rounds"] += 1

    def register_project(self, s: dict, kept: dict) -> None:
        ledger, budget = self.ledger, s["budget"]
        name_zh = ledger.reference.street_town(s["town"]).name_zh
        shares = [budget * share // 10 for _, share in MILESTONES[:-1]]
        shares.append(budget - sum(shares))
        ledger.register_project(
            self.cast.accountant, s["code"], f"{name_zh}{s['theme']}项目", street_town=s["town"], domain=s["domain"],
            organisation=s["organisation"], budget=budget, funding_source=s["source"],
            approval_ref=f"长{s['town'][:2].upper()}民〔{s['starts'].year}〕{10 + s['k']}号", starts_on=s["starts"],
            ends_on=s["ends"], community=f"{name_zh[:2]}{COMMUNITIES[s['k'] % 6]}",
            milestones=[(name, amount) for (name, _), amount in zip(MILESTONES, shares, strict=True)],
            reach=200 + (s["k"] * 53) % 600,
        )
        self.counts["projects"] += 1
        plan = [(name, amount, s["starts"] + timedelta(days=20 + 100 * step))
                for step, ((name, _), amount) in enumerate(zip(MILESTONES, shares, strict=True))]
        self.at(plan[0][2], lambda: self.milestone(s, plan, kept))
        self.at(s["starts"] + timedelta(days=150), lambda: self.evaluate(s["code"]))

    def milestone(self, s: dict, plan: list, kept: dict) -> None:
        """Request, approve (the second person) and pay the next milestone; a rejection or an empty
        fund stops the project's payments."""
        ledger, rng = self.ledger, self.rng
        name, amount, day = plan[0]
        if ledger.fund(s["fund"]).balance < amount:
            self.counts["milestones_unfunded"] += 1
            return
        request = ledger.request_disbursement(self.cast.accountant, s["fund"], amount, project=s["code"],
                                              milestone=name, purpose=f"{s['code']} {name}款",
                                              on=day - timedelta(days=7))
        if rng.random() < 0.05:
            ledger.reject_disbursement(self.cast.approver, request.ident, reason="材料不全，请补充中期评估报告")
            self.counts["rejected"] += 1
            return
        ledger.approve_disbursement(self.cast.approver, request.ident, approval_ref=f"审批-{day:%Y%m}-{request.ident[:6]}",
                                    on=day - timedelta(days=3))
        kept["payments"].append(ledger.pay_disbursement(self.cast.accountant2, request.ident, on=day))
        self.counts["payments"] += 1
        if len(plan) > 1:
            self.at(plan[1][2], lambda: self.milestone(s, plan[1:], kept))

    def evaluate(self, code: str) -> None:
        self.ledger.evaluate_project(self.cast.accountant, code, score=self.rng.randint(82, 99),
                                     respondents=self.rng.randint(30, 200), survey_ref=f"满意度问卷-{code}",
                                     surveyed_on=self._today())
        self.counts["evaluations"] += 1

    def _disburse(self, fund: str, amount: int, kind: str, payee: str, purpose: str, ref: str, **where: str) -> bool:
        """Request, approve and pay a disbursement that names no project, if the fund holds it."""
        ledger, day = self.ledger, self._today()
        if ledger.fund(fund).balance < amount:
            return False
        request = ledger.request_disbursement(self.cast.accountant, fund, amount, kind=kind, payee=payee,
                                              purpose=purpose, on=day - timedelta(days=5), **where)
        ledger.approve_disbursement(self.cast.approver, request.ident, approval_ref=ref, on=day - timedelta(days=2))
        ledger.pay_disbursement(self.cast.accountant2, request.ident, on=day)
        return True

    def allowance(self, town: str, month: int) -> None:
        if self._disburse("GENERAL", 150000, "allowance", f"{town}社工站持证社工", "社工专业人才津贴",
                          f"津贴-{self._today():%Y%m}", domain=allowance_domain(self.ledger), street_town=town):
            self.counts["allowances"] += 1

    def management(self, label: str) -> None:
        if self._disburse("GENERAL", 1200000, "management", "基金会办公室", "年度审计与办公费用", f"秘书处-管理费-{label}"):
            self.counts["management"] += 1

    def volunteer(self, town: str, number: str, joined: date, kept: dict) -> None:
        rng = self.rng
        name = rng.choice(SURNAMES) + rng.choice(GIVEN) + rng.choice(GIVEN)
        self.ledger.register_volunteer(self.recorder[town], number, name, town, registered_on=joined,
                                       name_public=rng.random() < 0.2)
        self.counts["volunteers"] += 1
        leaves = joined + timedelta(days=730)
        self.at(joined + timedelta(days=rng.randint(0, 6)), lambda: self.serve(town, number, leaves, kept))

    def serve(self, town: str, number: str, leaves: date, kept: dict) -> None:
        rng, day = self.rng, self._today()
        hour, domain = rng.choice([8, 9, 13, 14, 18]), rng.choice(self.domains)
        recorded = self.ledger.record_hours(
            self.recorder[town], number, organisation=self.orgs[town][0], domain=domain, on=day,
            start=time(hour, 0), end=time(hour + rng.choice([1, 2, 3]), rng.choice([0, 30])),
            content=service_content(self.ledger, domain),
        )
        self.counts["service_records"] += 1
        if self.counts["service_records"] % 97 == 0:  # a sample to correct from, not every session
            kept["sessions"].append((recorded, town))
        following = day + timedelta(days=rng.choice([7, 10, 14, 21]))
        if following < leaves:
            self.at(following, lambda: self.serve(town, number, leaves, kept))

    def rotate(self, handle: str) -> None:
        actor = _rotate(self.ledger, self.key_dir, self.root, handle)
        for role in ("accountant", "accountant2", "approver"):
            if getattr(self.cast, role).handle == handle:
                setattr(self.cast, role, actor)
        self.counts["key_rotations"] += 1

    def correct(self, kept: dict) -> None:
        """The year's corrections: donations (if the money is still there), a payment, sessions."""
        ledger, rng, scale = self.ledger, self.rng, self.scale
        donations = kept["donations"]
        for k, (recorded, fund, amount) in enumerate(rng.sample(donations, min(len(donations), 2 + scale // 20))):
            if ledger.fund(fund).balance >= amount:
                self._reverse(self.cast.accountant, recorded, CORRECTION_REASONS[k % len(CORRECTION_REASONS)])
        if kept["payments"]:
            self._reverse(self.cast.accountant2, kept["payments"][-1],
                          "收款账户信息有误，款项退回 Payment returned: wrong account")
        sessions = kept["sessions"]
        for recorded, town in rng.sample(sessions, min(len(sessions), 3 + scale // 20)):
            self._reverse(self.recorder[town], recorded, HOURS_REASON)

    def _reverse(self, actor: Actor, recorded: Recorded, reason: str) -> None:
        self.ledger.reverse(actor, self.ledger.positions_of(recorded)[0], reason=reason)
        self.counts["corrections"] += 1

    def _today(self) -> date:
        """The business date of the action running now."""
        return self._day
