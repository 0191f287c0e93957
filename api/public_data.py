"""What the public may see, read from the projection views: each page's figures as one value that
becomes the JSON answer, the HTML page and the CSV / XLSX downloads alike, so they cannot disagree.

Nothing here replays events or writes: the server's background runner keeps the views current
(``projections.keeper``, ``api.reads``), and each page reads one snapshot of them. No personal data leaves: the views hold no donor names, volunteers appear only as counts,
and payees are organisations or offices.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from api.charts import continuous
from api.listings import (
    FIRST_PAGE,
    MAX_JSON_PAGE,
    NO_FILTERS,
    Filters,
    Listing,
    Paging,
    Window,
    decode_cursor,
    encode_cursor,
    like,
    window,
)
from ledger import merkle
from ledger.errors import InvalidInput, NotFound
from ledger.messages import msg
from ledger.money import to_decimal_string
from projections import corrections, donations, funds, hours, periods, projects, streettowns
from projections.base import CHINA
from projections.donations import ANONYMOUS
from projections.exports import Column, Sheet
from projections.exports import sheets as report_sheets
from projections.report import SOURCES, SPENDING_KINDS, hours_of, snapshot, transparency_report
from projections.runner import Projections

ALL_TIME = (date(2000, 1, 1), date(9999, 12, 31))
"""The period of a page that shows everything up to now."""


@dataclass(frozen=True)
class Col(Column):
    """A column as shown: besides the export's kinds, ``date`` (ISO) and ``month`` (YYYY-MM)
    display in the reader's language; ``link`` formats the row into the address of a page."""

    link: str | None = None
    hidden: bool = False
    en_key: str | None = None
    """The row's field shown instead to English readers (an English name beside a Chinese one)."""
    """Downloaded but not shown on the page (keeps tables narrow on a phone)."""


@dataclass(frozen=True)
class Item:
    """One headline figure of a page."""

    key: str
    zh: str
    en: str
    value: Any
    kind: str = "text"
    link: str | None = None
    """The page listing the rows the figure is made of, when there is one."""


@dataclass
class PublicPage:
    """One public page's content."""

    kind: str
    """``district``, ``street-town``, ``fund``, ``project``, ``hours``, ``corrections``, ``checkpoints``…"""
    path: str
    """Where the page is served, without the leading slash (downloads add a format in front)."""
    title_zh: str
    title_en: str
    position: int
    """The log position the figures are computed to."""
    summary: list[Item] = field(default_factory=list)
    sheets: list[Sheet] = field(default_factory=list)
    facts: dict[str, Any] = field(default_factory=dict)
    """Other JSON-ready facts (names, codes, the latest checkpoint)."""
    chart: list[dict[str, Any]] | None = None
    """Monthly income and spending, when the page draws the chart."""
    query: dict[str, str] = field(default_factory=dict)
    """Query parameters that select what the page shows (the filters; not the page's cursor)."""
    windows: dict[str, Window] = field(default_factory=dict)
    """The tables shown one page at a time: the page shown, its neighbours' cursors, the total."""
    listings: dict[str, Listing] = field(default_factory=dict)
    """How a paged table reads every row, in order, for the downloads."""
    filters: Filters | None = None
    """The filters this page offers (None: none), as the reader set them."""

    def sheet(self, name: str) -> Sheet:
        for s in self.sheets:
            if s.name == name:
                return s
        raise NotFound("table", name, field="table")

    def as_json(self) -> dict[str, Any]:
        """The page as the public API answers it: money as decimal yuan strings, dates ISO."""
        return {
            "page": self.kind,
            "position": self.position,
            "title": {"zh": self.title_zh, "en": self.title_en},
            **self.facts,
            "summary": {i.key: json_value(i.value, i.kind) for i in self.summary},
            "tables": {s.name: [row_json(s, r) for r in s.rows] for s in self.sheets},
            **({"paging": {name: w.as_json() for name, w in self.windows.items()},
                "next": next(iter(self.windows.values())).next} if self.windows else {}),
        }


def row_json(sheet: Sheet, row: dict[str, Any]) -> dict[str, Any]:
    """A table row as JSON: each column, and beside a Chinese value its English (``<key>_en``)."""
    out: dict[str, Any] = {}
    for c in sheet.columns:
        out[c.key] = json_value(row.get(c.key), c.kind)
        en_key = getattr(c, "en_key", None)
        if en_key and en_key in row and en_key not in out:
            out[en_key] = json_value(row.get(en_key), c.kind)
    return out


def json_value(value: Any, kind: str) -> Any:
    if value is None:
        return None
    if kind == "yuan":
        return to_decimal_string(value)
    if kind == "bool":
        return bool(value)
    return value


def _c(key: str, zh: str, en: str, kind: str = "text", *, link: str | None = None, hidden: bool = False,
       en_key: str | None = None) -> Col:
    if en_key is None and key.endswith("_zh"):
        en_key = key[:-3] + "_en"  # a row's ``domain_zh`` has its ``domain_en`` beside it
    return Col(key, zh, en, kind, link=link, hidden=hidden, en_key=en_key)


def _lookup(kind: str, code: str) -> str:
    """A code to look up, or NotFound for one no view could hold (PostgreSQL refuses NUL in text)."""
    if not code or "\x00" in code or len(code) > 200:
        raise NotFound(kind, code[:200], field=kind)
    return code


def _ratio(numerator: int, denominator: int) -> str | None:
    if not denominator:
        return None
    return str((Decimal(numerator) / denominator).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))


def _town_names(reference) -> dict[str, Any]:
    return {t.code: t for t in reference.street_towns}


def _town_zh(reference, code: str | None) -> str | None:
    if code == streettowns.DISTRICT:
        return "全区"
    town = _town_names(reference).get(code)
    return town.name_zh if town else code


def _town_en(reference, code: str | None) -> str | None:
    if code == streettowns.DISTRICT or code is None:
        return "Whole district"
    town = _town_names(reference).get(code)
    return town.name_en if town else code


def _domain_zh(reference, code: str | None) -> str | None:
    return next((d.name_zh for d in reference.domains if d.code == code), code)


def _domain_en(reference, code: str | None) -> str | None:
    return next((d.name_en for d in reference.domains if d.code == code), code)


# --- monthly income and spending -------------------------------------------------------------------


def monthly_flows(views, street_town: str | None = None) -> list[dict[str, Any]]:
    """Income and spending per calendar month (corrections count in the month they were made),
    from the monthly rollup: one street-town's (or the district's ``*``) rows, a few per month."""
    by_month: dict[str, dict[str, Any]] = {}
    for month, category, amount, _count in periods.monthly(views, streettowns.FLOWED, street_town, ("category",)):
        row = by_month.setdefault(month, {"month": month, "income": 0, "spending": 0})
        if category.startswith(("donation:", "grant:")):
            row["income"] += int(amount)
        elif category.startswith("spent:"):
            row["spending"] += int(amount)
    return continuous(list(by_month.values()))


def _monthly_sheet(rows: list[dict[str, Any]]) -> Sheet:
    return Sheet("monthly", "按月收支", "Income and spending by month", (
        _c("month", "月份", "Month", "month"), _c("income", "收入（元）", "Income (yuan)", "yuan"),
        _c("spending", "支出（元）", "Spending (yuan)", "yuan")), tuple(rows))


# --- the district ------------------------------------------------------------------------------------


def district_page(ledger, district_view) -> PublicPage:
    totals = district_view.current()
    reference = ledger.reference
    with snapshot(district_view.projections) as views:
        monthly = monthly_flows(views)
        sessions = sum(r["sessions"] for r in views.rows(streettowns.HOURS))
    towns = []
    for town in reference.street_towns:
        t = totals.towns.get(town.code)
        towns.append({"code": town.code, "name_zh": town.name_zh, "name_en": town.name_en,
                      "income": t.income if t else 0, "spent": t.spent if t else 0,
                      "fund_balance": t.fund_balance if t else 0, "donations": t.donations if t else 0,
                      "hours": hours_of(t.volunteer_minutes if t else 0)})
    overheads = totals.towns.get(streettowns.DISTRICT)
    name = reference.district
    return PublicPage(
        "district", "", f"{name.name_zh}“五社联动”公益资金公示", f"{name.name_en}: five-social linkage funds",
        totals.events,
        summary=[
            Item("income", "累计收入", "Income", totals.income, "yuan"),
            Item("spent", "累计支出", "Spent", totals.spent, "yuan"),
            Item("balance", "基金余额", "Fund balance", totals.balance, "yuan"),
            Item("restricted_balance", "限定性余额", "Restricted balance", totals.restricted_balance, "yuan"),
            Item("unrestricted_balance", "非限定性余额", "Unrestricted balance", totals.unrestricted_balance, "yuan"),
            Item("district_overheads", "全区管理与筹资费用", "District overheads",
                 overheads.spent if overheads else 0, "yuan"),
            Item("volunteer_hours", "志愿服务时长（小时）", "Volunteer hours", hours_of(totals.volunteer_minutes),
                 "decimal"),
            Item("sessions", "服务人次", "Service sessions", sessions, "int"),
        ],
        sheets=[
            Sheet("street_towns", "各街镇", "Street-towns", (
                _c("code", "代码", "Code", hidden=True),
                _c("name_zh", "街镇", "Street-town", link="/street-towns/{code}", en_key="name_en"),
                _c("name_en", "街镇（英文）", "Street-town (English)", hidden=True),
                _c("income", "收入（元）", "Income (yuan)", "yuan"), _c("spent", "支出（元）", "Spent (yuan)", "yuan"),
                _c("fund_balance", "本街镇基金余额（元）", "Local funds' balance (yuan)", "yuan"),
                _c("donations", "捐赠笔数", "Donations", "int", hidden=True),
                _c("hours", "志愿时长（小时）", "Volunteer hours", "decimal")), tuple(towns)),
            _monthly_sheet(monthly),
        ],
        facts={"district": {"code": name.code, "name_zh": name.name_zh, "name_en": name.name_en}},
        chart=monthly,
    )


# --- a street-town ---------------------------------------------------------------------------------


def street_town_page(ledger, projections: Projections, code: str, start: date | None = None,
                     end: date | None = None, paging: Paging = FIRST_PAGE) -> PublicPage:
    """A street-town's figures; its projects one page at a time (all of them: ``/projects?street_town=``)."""
    reference = ledger.reference
    town = _town_names(reference).get(code)
    if town is None:
        raise NotFound("street-town", code, field="street_town")
    first, last = start or ALL_TIME[0], end or ALL_TIME[1]
    report = transparency_report(projections, start=first, end=last, street_town=code, full=False)
    by_name = {s.name: s for s in report_sheets(report)}
    with snapshot(projections) as views:
        monthly = monthly_flows(views, code)
        listing = project_listing(reference, Filters(street_town=code), shanghai_today())
        town_projects = window(views, listing, paging)
        balance = sum(f["balance"] for f in views.rows(funds.FUNDS, "street_town = ?", (code,)))
    income, spending = report["income"], report["spending"]
    organisations = report["organisations"]
    special = by_name["special_funds"]
    page = PublicPage(
        "street-town", f"street-towns/{code}", town.name_zh, town.name_en, report["position"],
        summary=[
            Item("income", "收入", "Income", income["total"], "yuan"),
            Item("donations", "其中捐赠", "of which donations", income["donations"], "yuan",
                 link=f"/street-towns/{code}/donations"),
            Item("spent", "支出", "Spent", report["spending"]["total"], "yuan"),
            Item("fund_balance", "本街镇基金余额", "Local funds' balance", balance, "yuan"),
            Item("donors", "捐赠人数", "Donors", report["donations"]["distinct_donors"], "int",
                 link=f"/street-towns/{code}/donations"),
            Item("volunteer_hours", "志愿服务时长（小时）", "Volunteer hours", report["hours"]["hours"], "decimal"),
            Item("organisations", "社区社会组织", "Community social organisations", organisations["organisations"], "int"),
            Item("organisations_average", f"每社区平均（目标 {organisations['target']}）",
                 f"Per community (target {organisations['target']})", organisations["average"], "decimal"),
        ],
        sheets=[
            _shown(by_name["income"], hide=("category", "name_en")),
            _shown(by_name["spending"], hide=("kind", "name_en")),
            _projects_sheet(town_projects.rows),
            Sheet(special.name, special.zh, special.en, tuple(
                Col(c.key, c.zh, c.en, c.kind, link="/funds/{fund}" if c.key == "name" else None,
                    en_key="domains_en" if c.key == "domains" else None,
                    hidden=c.key in ("fund", "foundation", "street_town", "restricted", "street_towns", "valid_from",
                                     "closed"))
                for c in special.columns), tuple(_named_domains(reference, r) for r in special.rows)),
            _shown(by_name["hours"], hide=("domain", "name_en", "minutes")),
            _shown(by_name["organisations"], hide=("street_town", "street_town_zh")),
            _monthly_sheet(monthly),
        ],
        facts={"street_town": {"code": town.code, "name_zh": town.name_zh, "name_en": town.name_en},
               "period": report["period"], "spending_total": to_decimal_string(spending["total"]),
               "checkpoint": _latest_checkpoint(ledger)},
        chart=monthly, windows={"projects": town_projects}, listings={"projects": listing},
    )
    return page


def _shown(sheet: Sheet, hide: tuple[str, ...]) -> Sheet:
    """A report table with some columns kept for downloads only; English readers see English names."""
    columns = tuple(Col(c.key, c.zh, c.en, c.kind, hidden=c.key in hide,
                        en_key="name_en" if c.key == "name_zh" else None) for c in sheet.columns)
    return Sheet(sheet.name, sheet.zh, sheet.en, columns, sheet.rows)


def _named_domains(reference, row: dict[str, Any]) -> dict[str, Any]:
    return {**row, "domains": [_domain_zh(reference, d) for d in row["domains"]] or ["不限"],
            "domains_en": [_domain_en(reference, d) for d in row["domains"]] or ["any"]}


def _names(views, table, codes) -> dict[str, Any]:
    """The ``name`` of the rows of ``table`` with these codes (one query for a batch of rows)."""
    wanted = sorted({c for c in codes if c})
    if not wanted:
        return {}
    marks = ", ".join("?" for _ in wanted)
    return {r["code"]: r["name"] for r in views.rows(table, f"code IN ({marks})", tuple(wanted))}


def _project_rows(views, reference, raw: list[dict[str, Any]]) -> list[dict[str, Any]]:
    names = _names(views, streettowns.ORGANISATIONS, (p["organisation"] for p in raw))
    listed = []
    for p in raw:
        listed.append({
            "project": p["code"], "name": p["name"], "street_town": p["street_town"],
            "street_town_zh": _town_zh(reference, p["street_town"]),
            "street_town_en": _town_en(reference, p["street_town"]), "community": p["community"],
            "domain": p["domain"], "domain_zh": _domain_zh(reference, p["domain"]),
            "domain_en": _domain_en(reference, p["domain"]),
            "organisation": p["organisation"], "organisation_name": names.get(p["organisation"]),
            "funding_source": p["funding_source"], "approval_ref": p["approval_ref"], "budget": p["budget"],
            "approved": p["approved"], "paid": p["paid"], "payments": p["payments"],
            "satisfaction": _ratio(p["satisfied"], p["respondents"]), "respondents": p["respondents"],
            "starts_on": p["starts_on"], "ends_on": p["ends_on"],
        })
    return listed


def _projects(views, reference, where: str = "", params: tuple = ()) -> list[dict[str, Any]]:
    return _project_rows(views, reference, views.rows(projects.PROJECTS, where, params, order="code"))


def project_listing(reference, filters: Filters, today: date) -> Listing:
    """The projects the filters select, by code: a street-town, a domain, those running at some
    time in a year, a status today, a name or code containing the search text."""
    where, params = filters.clauses(street_town="street_town", domain="domain")
    if filters.year:
        first, last = filters.year_range()
        where.append("starts_on <= ? AND (ends_on IS NULL OR ends_on >= ?)")
        params += [last, first]
    day = today.isoformat()
    if filters.status == "upcoming":
        where.append("starts_on > ?")
        params.append(day)
    elif filters.status == "running":
        where.append("starts_on <= ? AND (ends_on IS NULL OR ends_on >= ?)")
        params += [day, day]
    elif filters.status == "ended":
        where.append("ends_on < ?")
        params.append(day)
    if filters.q:
        where.append("(LOWER(name) LIKE ? ESCAPE '\\' OR LOWER(code) LIKE ? ESCAPE '\\')")
        params += [like(filters.q)] * 2
    return Listing(projects.PROJECTS, ("code",), where=" AND ".join(where), params=tuple(params),
                   shape=lambda views, raw: _project_rows(views, reference, raw))


def _projects_sheet(rows: list[dict[str, Any]]) -> Sheet:
    return Sheet("projects", "项目", "Projects", (
        _c("project", "项目编号", "Project", hidden=True),
        _c("name", "项目名称", "Name", link="/projects/{project}"),
        _c("street_town", "街镇代码", "Street-town", hidden=True),
        _c("street_town_zh", "街镇", "Street-town name", hidden=True, en_key="street_town_en"),
        _c("community", "社区", "Community", hidden=True),
        _c("domain", "领域代码", "Domain code", hidden=True), _c("domain_zh", "服务领域", "Domain"),
        _c("organisation", "承接组织代码", "Organisation code", hidden=True),
        _c("organisation_name", "承接组织", "Undertaking organisation"),
        _c("funding_source", "资金来源", "Funding source", hidden=True),
        _c("approval_ref", "批文号", "Approval reference"),
        _c("budget", "预算（元）", "Budget (yuan)", "yuan"), _c("approved", "已批准（元）", "Approved (yuan)", "yuan",
                                                            hidden=True),
        _c("paid", "已支付（元）", "Paid (yuan)", "yuan"), _c("payments", "支付笔数", "Payments", "int", hidden=True),
        _c("satisfaction", "满意度", "Satisfaction", "decimal"),
        _c("respondents", "受访人数", "Respondents", "int", hidden=True),
        _c("starts_on", "开始", "Starts", "date", hidden=True), _c("ends_on", "结束", "Ends", "date", hidden=True),
    ), tuple(rows))


# --- funds -----------------------------------------------------------------------------------------

_FUND_KINDS = {"general": ("一般基金", "General fund"), "special": ("专项基金", "Special fund")}


def _fund_row(reference, f: dict[str, Any]) -> dict[str, Any]:
    domains = json.loads(f["domains"] or "[]")
    return {
        "fund": f["code"], "name": f["name"], "foundation": f["foundation"],
        "kind": _FUND_KINDS.get(f["kind"], (f["kind"], f["kind"]))[0],
        "kind_en": _FUND_KINDS.get(f["kind"], (f["kind"], f["kind"]))[1], "restricted": bool(f["restricted"]),
        "purpose": f["purpose"], "street_town": f["street_town"],
        "street_town_zh": _town_zh(reference, f["street_town"]) if f["street_town"] else "全区",
        "street_town_en": _town_en(reference, f["street_town"]),
        "domains": [_domain_zh(reference, d) for d in domains] or ["不限"],
        "domains_en": [_domain_en(reference, d) for d in domains] or ["any"],
        "valid_from": f["valid_from"], "valid_until": f["valid_until"], "agreement_ref": f["agreement_ref"],
        "closed": bool(f["closed"]), "balance": f["balance"], "income": f["income"], "spent": f["spent"],
        "allocated_in": f["allocated_in"], "allocated_out": f["allocated_out"], "reversed": f["reversed"],
    }


def _funds_sheet(rows: list[dict[str, Any]]) -> Sheet:
    return Sheet("funds", "基金", "Funds", (
        _c("fund", "基金代码", "Fund", hidden=True), _c("name", "基金名称", "Name", link="/funds/{fund}"),
        _c("foundation", "托管基金会", "Host foundation", hidden=True), _c("kind", "类型", "Kind", en_key="kind_en"),
        _c("restricted", "限定性", "Restricted", "bool"), _c("purpose", "用途", "Purpose", hidden=True),
        _c("street_town", "街镇代码", "Street-town code", hidden=True), _c("street_town_zh", "街镇", "Street-town"),
        _c("domains", "限定领域", "Allowed domains", "list", hidden=True),
        _c("valid_from", "起始日", "Valid from", "date", hidden=True),
        _c("valid_until", "到期日", "Valid until", "date", hidden=True),
        _c("agreement_ref", "协议编号", "Agreement", hidden=True), _c("closed", "已关闭", "Closed", "bool", hidden=True),
        _c("income", "累计收入（元）", "Income (yuan)", "yuan"), _c("spent", "累计支出（元）", "Spent (yuan)", "yuan"),
        _c("allocated_in", "调入（元）", "Allocated in (yuan)", "yuan", hidden=True),
        _c("allocated_out", "调出（元）", "Allocated out (yuan)", "yuan", hidden=True),
        _c("reversed", "冲正（元）", "Reversed (yuan)", "yuan", hidden=True),
        _c("balance", "余额（元）", "Balance (yuan)", "yuan")), tuple(rows))


def funds_page(ledger, projections: Projections) -> PublicPage:
    with snapshot(projections) as views:
        rows = [_fund_row(ledger.reference, f) for f in views.rows(funds.FUNDS, order="code")]
        position = views.position
    return PublicPage("funds", "funds", "基金", "Funds", position, summary=[
        Item("funds", "基金数", "Funds", len(rows), "int"),
        Item("balance", "余额合计", "Total balance", sum(r["balance"] for r in rows), "yuan"),
    ], sheets=[_funds_sheet(rows)])


def gift_listing(code: str, filters: Filters = NO_FILTERS, reference=None) -> Listing:
    """A fund's gifts, newest first (by day, then entry), in one year or one street-town if the
    filters say; each with the street-town it counts for."""
    where, params = filters.clauses(street_town="street_town", year="day")
    return Listing(donations.DONATIONS, ("day", "entry"), descending=True, where=" AND ".join(["fund = ?", *where]),
                   params=(code, *params),
                   shape=lambda views, raw: [_gift(g, reference) for g in raw])


def town_gift_listing(code: str, filters: Filters = NO_FILTERS, reference=None) -> Listing:
    """Every gift a street-town's figures count, whatever fund received it (a district-wide fund's
    gift tagged with the street-town too), newest first, in one year if the filters say."""
    where, params = filters.clauses(year="day")
    return Listing(donations.DONATIONS, ("day", "fund", "entry"), descending=True,
                   where=" AND ".join(["street_town = ?", *where]), params=(code, *params),
                   shape=lambda views, raw: [_gift(g, reference) for g in raw])


def street_town_donations_page(ledger, projections: Projections, code: str, filters: Filters = NO_FILTERS,
                               paging: Paging = FIRST_PAGE) -> PublicPage:
    """The gifts behind a street-town's donations figure (捐赠明细): every one, a page at a time, and
    their sum, which is the street-town page's "of which donations" (gifts a correction reversed are
    listed with its date and not summed)."""
    reference = ledger.reference
    town = _town_names(reference).get(code)
    if town is None:
        raise NotFound("street-town", code, field="street_town")
    listing = town_gift_listing(code, filters, reference)
    with snapshot(projections) as views:
        gifts = window(views, listing, paging)
        where = listing.where + " AND reversed IS NULL"
        total, count = views.query(f"SELECT COALESCE(SUM(amount), 0), COUNT(*) FROM {{d}} WHERE {where}",
                                   listing.params, d=donations.DONATIONS)[0]
        position = views.position
    return PublicPage(
        "street-town-donations", f"street-towns/{code}/donations", f"{town.name_zh} · 捐赠明细",
        f"{town.name_en} · Donations, one by one", position,
        summary=[Item("donations", "捐赠合计（不含已冲正）", "Donations (less those reversed)", int(total), "yuan"),
                 Item("gifts", "捐赠笔数", "Gifts", int(count), "int")],
        sheets=[Sheet("donations", "捐赠明细", "Donations", (
            _c("day", "日期", "Date", "date"), _c("donor", "捐赠人", "Donor", en_key="donor_en"),
            _c("donor_type", "类别", "Donor type", en_key="donor_type_en"),
            _c("amount", "金额（元）", "Amount (yuan)", "yuan"),
            _c("fund", "受赠基金", "Fund", link="/funds/{fund}"),
            _c("method", "方式", "Method", hidden=True, en_key="method_en"),
            _c("reversed", "已冲正", "Reversed on", "date")), tuple(gifts.rows))],
        facts={"street_town": {"code": town.code, "name_zh": town.name_zh, "name_en": town.name_en},
               "filters": filters.query()},
        query=filters.query(), windows={"donations": gifts}, listings={"donations": listing}, filters=filters,
    )


USES_SHOWN = 20
"""Uses of a fund its own page lists (the largest first); the rest are on its use page."""


def usage_listing(code: str, reference) -> Listing:
    """Every use of a fund (资金使用): each project, street-town or payee it paid, by kind, with what
    was paid and in how many payments, the largest first."""
    return Listing(funds.USAGE, ("amount", "kind", "target", "domain"), descending=True,
                   where="fund = ? AND payments <> 0", params=(code,),
                   shape=lambda views, raw: _uses(views, reference, raw))


def _uses(views, reference, raw: list[dict[str, Any]]) -> list[dict[str, Any]]:
    names = _names(views, projects.PROJECTS, (u["target"] for u in raw if u["kind"] == "project"))
    towns = _town_names(reference)
    return [{"kind": SPENDING_KINDS.get(u["kind"], (u["kind"],))[0],
             "kind_en": SPENDING_KINDS.get(u["kind"], (u["kind"], u["kind"]))[1], "target": u["target"],
             "target_name": names.get(u["target"], u["target"]) if u["kind"] == "project" else
             _town_zh(reference, u["target"]) if u["target"] in towns else u["target"],
             "target_name_en": names.get(u["target"], u["target"]) if u["kind"] == "project" else
             _town_en(reference, u["target"]) if u["target"] in towns else u["target"],
             "project": u["target"] if u["kind"] == "project" else None,
             "domain_zh": _domain_zh(reference, u["domain"]) if u["domain"] else "",
             "domain_en": _domain_en(reference, u["domain"]) if u["domain"] else "",
             "amount": u["amount"], "payments": u["payments"]} for u in raw]


def _usage_sheet(rows) -> Sheet:
    return Sheet("usage", "资金使用", "Use of the fund", (
        _c("kind", "支出类别", "Kind", en_key="kind_en"), _c("target", "对象代码", "Target code", hidden=True),
        _c("target_name", "项目或收款方", "Project or payee", en_key="target_name_en"),
        _c("project", "项目编号", "Project", hidden=True), _c("domain_zh", "服务领域", "Domain"),
        _c("amount", "金额（元）", "Amount (yuan)", "yuan"), _c("payments", "笔数", "Payments", "int")), tuple(rows))


def _found_fund(views, reference, code: str) -> dict[str, Any]:
    found = views.rows(funds.FUNDS, "code = ?", (code,))
    if not found:
        raise NotFound("fund", code, field="fund")
    return _fund_row(reference, found[0])


def fund_page(ledger, projections: Projections, code: str, filters: Filters = NO_FILTERS,
              paging: Paging = FIRST_PAGE) -> PublicPage:
    """A fund's figures; its largest uses (all of them a page at a time on its use page, and in
    its downloads); its gifts one page at a time, newest first."""
    _lookup("fund", code)
    reference = ledger.reference
    uses = usage_listing(code, reference)
    with snapshot(projections) as views:
        fund = _found_fund(views, reference, code)
        usage = window(views, uses, Paging(limit=USES_SHOWN))
        by_month = {m: int(delta) for m, delta in periods.monthly(views, funds.MOVED, code)}
        gifts_listing = gift_listing(code, filters, reference)
        gifts = window(views, gifts_listing, paging)
        position = views.position
    balance, movements = 0, []
    for month, delta in sorted(by_month.items()):
        balance += delta
        movements.append({"month": month, "change": delta, "balance": balance})
    return PublicPage(
        "fund", f"funds/{code}", fund["name"], f"Fund {code}", position,
        summary=[
            Item("balance", "余额", "Balance", fund["balance"], "yuan"),
            Item("income", "累计收入", "Income", fund["income"], "yuan"),
            Item("spent", "累计支出", "Spent", fund["spent"], "yuan"),
            Item("restricted", "限定性", "Restricted", fund["restricted"], "bool"),
            Item("uses", "资金使用（项目与收款方）", "Uses (projects and payees)", usage.total, "int",
                 link=f"/funds/{code}/usage"),
        ],
        sheets=[
            _usage_sheet(usage.rows),
            Sheet("donations", "捐赠公示", "Donations", (
                _c("day", "日期", "Date", "date"), _c("donor", "捐赠人", "Donor", en_key="donor_en"),
                _c("donor_type", "类别", "Donor type", en_key="donor_type_en"),
                _c("amount", "金额（元）", "Amount (yuan)", "yuan"),
                _c("street_town_zh", "计入街镇", "Counts for", link="/street-towns/{street_town}/donations"),
                _c("method", "方式", "Method", hidden=True, en_key="method_en"),
                _c("reversed", "已冲正", "Reversed on", "date")), tuple(gifts.rows)),
            Sheet("balance_by_month", "按月余额", "Balance by month", (
                _c("month", "月份", "Month", "month"), _c("change", "当月变动（元）", "Change (yuan)", "yuan"),
                _c("balance", "月末余额（元）", "Balance at month end (yuan)", "yuan")), tuple(movements)),
        ],
        facts={"fund": {k: fund[k] for k in ("fund", "name", "foundation", "kind", "kind_en", "restricted",
                                              "purpose", "street_town", "street_town_zh", "street_town_en",
                                              "domains", "domains_en",
                                              "valid_from", "valid_until",
                                              "agreement_ref", "closed")}, "filters": filters.query()},
        query=filters.query(), windows={"donations": gifts}, listings={"donations": gifts_listing, "usage": uses},
        filters=filters,
    )


def fund_usage_page(ledger, projections: Projections, code: str, paging: Paging = FIRST_PAGE) -> PublicPage:
    """Every use of a fund (资金使用明细), the largest first, a page at a time; their sum is what the
    fund paid out to projects, street-towns and payees."""
    _lookup("fund", code)
    reference = ledger.reference
    uses = usage_listing(code, reference)
    with snapshot(projections) as views:
        fund = _found_fund(views, reference, code)
        shown = window(views, uses, paging)
        paid, payments = views.query("SELECT COALESCE(SUM(amount), 0) AS paid, COALESCE(SUM(payments), 0) AS payments FROM {u} "
                                     f"WHERE {uses.where}", uses.params, u=funds.USAGE)[0]
        position = views.position
    return PublicPage(
        "fund-usage", f"funds/{code}/usage", f"{fund['name']} · 资金使用明细", f"Fund {code} · Every use", position,
        summary=[Item("used", "使用合计", "Used in all", int(paid), "yuan", link=f"/funds/{code}"),
                 Item("uses", "项目与收款方", "Projects and payees", shown.total, "int"),
                 Item("payments", "支付笔数", "Payments", int(payments), "int")],
        sheets=[_usage_sheet(shown.rows)],
        facts={"fund": {"fund": code, "name": fund["name"]}},
        windows={"usage": shown}, listings={"usage": uses},
    )

_METHODS = {"cash": ("现金", "cash"), "transfer": ("转账", "transfer"), "in_kind": ("实物", "in kind")}


def _gift(g: dict[str, Any], reference=None) -> dict[str, Any]:
    """A gift as listed: the donor as the view holds them (named only with consent, else masked),
    its fund, and the street-town it counts for (none: the whole district)."""
    kind = SOURCES.get(f"donation:{g['donor_type']}", (g["donor_type"], g["donor_type"]))
    method = _METHODS.get(g["method"], (g["method"], g["method"]))
    donor, donor_en = (("匿名", "Anonymous") if g["donor"] == ANONYMOUS else (g["donor"], g["donor"]))
    town = g.get("street_town")
    return {"day": g["day"], "donor": donor, "donor_en": donor_en, "donor_type": kind[0], "donor_type_en": kind[1],
            "amount": g["amount"], "method": method[0], "method_en": method[1], "reversed": g["reversed"],
            "fund": g.get("fund"), "street_town": town,
            "street_town_zh": (_town_zh(reference, town) if town else "全区") if reference else town or "",
            "street_town_en": (_town_en(reference, town) if town else "District-wide") if reference else town or ""}


# --- projects --------------------------------------------------------------------------------------

_STATUS = {"requested": ("待审批", "awaiting approval"), "approved": ("已批准", "approved"),
           "rejected": ("未批准", "rejected"), "paid": ("已支付", "paid"), "reversed": ("已冲正", "reversed")}


def project_page(ledger, projections: Projections, code: str) -> PublicPage:
    _lookup("project", code)
    reference = ledger.reference
    with snapshot(projections) as views:
        found = _projects(views, reference, "code = ?", (code,))
        if not found:
            raise NotFound("project", code, field="project")
        milestones = views.rows(projects.MILESTONES, "project = ?", (code,))
        paid_out = views.rows(projects.DISBURSEMENTS, "project = ?", (code,), order="requested_on, number")
        raw = views.rows(projects.PROJECTS, "code = ?", (code,))[0]
        position = views.position
    project, evaluations = found[0], raw["evaluations"]
    planned = [m["name"] for m in json.loads(raw["milestones"] or "[]")]
    steps = [{"milestone": m["milestone"], "planned": m["planned"], "paid": m["paid"]}
             for m in sorted(milestones, key=lambda m: planned.index(m["milestone"])
                             if m["milestone"] in planned else len(planned))]
    payments = [{"number": d["number"][:8], "milestone": d["milestone"], "amount": d["amount"],
                 "status": _STATUS.get(d["status"], (d["status"],) * 2)[0],
                 "status_en": _STATUS.get(d["status"], (d["status"],) * 2)[1], "requested_on": d["requested_on"],
                 "approved_on": d["approved_on"], "approval_ref": d["approval_ref"], "paid_on": d["paid_on"],
                 "reversed_on": d["reversed_on"]} for d in paid_out]
    return PublicPage(
        "project", f"projects/{code}", project["name"], f"Project {code}", position,
        summary=[
            Item("budget", "预算", "Budget", project["budget"], "yuan"),
            Item("approved", "已批准", "Approved", project["approved"], "yuan"),
            Item("paid", "已支付", "Paid", project["paid"], "yuan"),
            Item("satisfaction", "居民满意度", "Residents' satisfaction", project["satisfaction"], "decimal"),
            Item("respondents", "受访人数", "Respondents", project["respondents"], "int"),
            Item("evaluations", "评估次数", "Surveys", evaluations, "int"),
        ],
        sheets=[
            Sheet("milestones", "里程碑", "Milestones", (
                _c("milestone", "里程碑", "Milestone"), _c("planned", "计划（元）", "Planned (yuan)", "yuan"),
                _c("paid", "已支付（元）", "Paid (yuan)", "yuan")), tuple(steps)),
            Sheet("disbursements", "拨付记录", "Disbursements", (
                _c("number", "编号", "Number"), _c("milestone", "里程碑", "Milestone"),
                _c("amount", "金额（元）", "Amount (yuan)", "yuan"), _c("status", "状态", "Status", en_key="status_en"),
                _c("requested_on", "申请日", "Requested", "date", hidden=True),
                _c("approved_on", "批准日", "Approved", "date", hidden=True),
                _c("approval_ref", "批复", "Approval"), _c("paid_on", "支付日", "Paid", "date"),
                _c("reversed_on", "冲正日", "Reversed", "date", hidden=True)), tuple(payments)),
        ],
        facts={"project": {k: project[k] for k in (
            "project", "name", "street_town", "street_town_zh", "street_town_en", "community", "domain",
            "domain_zh", "organisation", "organisation_name",
            "funding_source", "approval_ref", "starts_on", "ends_on")}},
    )


def projects_page(ledger, projections: Projections, filters: Filters = NO_FILTERS, paging: Paging = FIRST_PAGE,
                  today: date | None = None) -> PublicPage:
    """The projects, one page at a time, filtered; the totals are over every project selected."""
    listing = project_listing(ledger.reference, filters, today or shanghai_today())
    with snapshot(projections) as views:
        where = f" WHERE {listing.where}" if listing.where else ""
        count, budget, paid = views.query(
            f"SELECT COUNT(*) AS n, COALESCE(SUM(budget), 0) AS budget, COALESCE(SUM(paid), 0) AS paid FROM {{p}}{where}",
            listing.params, p=projects.PROJECTS)[0]
        shown = window(views, listing, paging, total=int(count))
        position = views.position
    sheet = _projects_sheet(shown.rows)
    columns = tuple(Col(c.key, c.zh, c.en, c.kind, link=c.link, hidden=c.hidden and c.key != "street_town_zh",
                        en_key=c.en_key) for c in sheet.columns)
    return PublicPage("projects", "projects", "项目", "Projects", position, summary=[
        Item("projects", "项目数", "Projects", int(count), "int"),
        Item("budget", "预算合计", "Total budget", int(budget), "yuan"),
        Item("paid", "已支付合计", "Total paid", int(paid), "yuan"),
    ], sheets=[Sheet(sheet.name, sheet.zh, sheet.en, columns, sheet.rows)], query=filters.query(),
        windows={"projects": shown}, listings={"projects": listing}, filters=filters,
        facts={"filters": filters.query()})


def shanghai_today() -> date:
    return datetime.now(CHINA).date()


# --- volunteer hours -------------------------------------------------------------------------------


def hours_listing(reference, filters: Filters = NO_FILTERS) -> Listing:
    """Hours by organisation and domain (organisations of one street-town, one domain if asked)."""
    where, params = ["(sessions <> 0 OR minutes <> 0)"], []
    if filters.domain:
        where.append("domain = ?")
        params.append(filters.domain)
    if filters.street_town:
        where.append("organisation IN (SELECT code FROM {organisations} WHERE street_town = ?)")
        params.append(filters.street_town)
    return Listing(hours.BY_ORGANISATION, ("organisation", "domain"), where=" AND ".join(where), params=tuple(params),
                   shape=lambda views, raw: _hours_rows(views, reference, raw),
                   refs=(("organisations", streettowns.ORGANISATIONS),))


def _hours_rows(views, reference, raw: list[dict[str, Any]]) -> list[dict[str, Any]]:
    codes = sorted({r["organisation"] for r in raw})
    marks = ", ".join("?" for _ in codes)
    organisations = {o["code"]: o for o in views.rows(streettowns.ORGANISATIONS, f"code IN ({marks})", tuple(codes))
                     } if codes else {}
    return [{"organisation": r["organisation"],
             "organisation_name": organisations.get(r["organisation"], {}).get("name", r["organisation"]),
             "street_town_zh": _town_zh(reference, organisations.get(r["organisation"], {}).get("street_town")),
             "street_town_en": _town_en(reference, organisations.get(r["organisation"], {}).get("street_town")),
             "domain_zh": _domain_zh(reference, r["domain"]), "domain_en": _domain_en(reference, r["domain"]),
             "hours": hours_of(r["minutes"]),
             "minutes": r["minutes"], "sessions": r["sessions"]} for r in raw]


def hours_page(ledger, projections: Projections, filters: Filters = NO_FILTERS, paging: Paging = FIRST_PAGE) -> PublicPage:
    """Volunteer hours; by organisation one page at a time. A street-town or domain filter narrows
    the organisation and street-town tables and the totals (not the months, which are district-wide)."""
    reference = ledger.reference
    listing = hours_listing(reference, filters)
    town_where, town_params = ["(sessions <> 0 OR minutes <> 0)"], []
    for column in ("street_town", "domain"):
        if getattr(filters, column):
            town_where.append(f"{column} = ?")
            town_params.append(getattr(filters, column))
    with snapshot(projections) as views:
        by_org = window(views, listing, paging)
        by_town = views.rows(streettowns.HOURS, " AND ".join(town_where), tuple(town_params),
                             order="street_town, domain")
        monthly = periods.monthly(views, hours.HOURED, None)
        volunteers = views.query("SELECT COUNT(*) FROM {v}", v=hours.VOLUNTEERS)[0][0]
        position = views.position
    org_rows = by_org.rows
    town_rows = [{"street_town": r["street_town"], "street_town_zh": _town_zh(reference, r["street_town"]),
                  "street_town_en": _town_en(reference, r["street_town"]),
                  "domain_zh": _domain_zh(reference, r["domain"]), "domain_en": _domain_en(reference, r["domain"]),
                  "hours": hours_of(r["minutes"]),
                  "minutes": r["minutes"], "sessions": r["sessions"]} for r in by_town]
    minutes = sum(r["minutes"] for r in town_rows)
    hours_cols = (_c("hours", "时长（小时）", "Hours", "decimal"), _c("minutes", "分钟", "Minutes", "int", hidden=True),
                  _c("sessions", "人次", "Sessions", "int"))
    return PublicPage(
        "hours", "hours", "志愿服务时长", "Volunteer hours", position,
        summary=[
            Item("hours", "志愿服务时长（小时）", "Volunteer hours", hours_of(minutes), "decimal"),
            Item("sessions", "服务人次", "Service sessions", sum(r["sessions"] for r in town_rows), "int"),
            Item("volunteers", "登记志愿者", "Registered volunteers", int(volunteers), "int"),
        ],
        sheets=[
            Sheet("by_organisation", "按组织与领域", "By organisation and domain", (
                _c("organisation", "组织代码", "Organisation code", hidden=True),
                _c("organisation_name", "组织", "Organisation"), _c("street_town_zh", "街镇", "Street-town"),
                _c("domain_zh", "服务领域", "Domain"), *hours_cols), tuple(org_rows)),
            Sheet("by_street_town", "按街镇与领域", "By street-town and domain", (
                _c("street_town", "街镇代码", "Street-town code", hidden=True),
                _c("street_town_zh", "街镇", "Street-town", link="/street-towns/{street_town}"),
                _c("domain_zh", "服务领域", "Domain"), *hours_cols), tuple(town_rows)),
            Sheet("by_month", "按月", "By month", (
                _c("month", "月份", "Month", "month"), _c("hours", "时长（小时）", "Hours", "decimal"),
                _c("sessions", "人次", "Sessions", "int")),
                tuple({"month": m, "hours": hours_of(int(minutes)), "sessions": int(sessions)}
                      for m, minutes, sessions in monthly)),
        ],
        query=filters.query(), windows={"by_organisation": by_org}, listings={"by_organisation": listing},
        filters=filters, facts={"filters": filters.query()},
    )


# --- corrections -----------------------------------------------------------------------------------

_CORRECTED = {"Fund.DonationReceived": ("捐赠", "Donation"), "Fund.GrantReceived": ("拨款", "Grant"),
              "Fund.Paid": ("支付", "Payment"), "Disbursement.Paid": ("拨付", "Disbursement"),
              "Fund.AllocatedIn": ("调入", "Allocation in"), "Fund.AllocatedOut": ("调出", "Allocation out"),
              "Fund.RestrictionReleased": ("限定解除", "Release of a restriction"),
              "Volunteer.ServiceRecorded": ("志愿服务记录", "Volunteer service record")}
"""What a correction corrects, in words (the event type itself is in the downloads)."""


def correction_listing(reference, filters: Filters = NO_FILTERS) -> Listing:
    """Corrections, newest first (by log position), of one street-town and one year if asked."""
    where, params = filters.clauses(street_town="street_town", year="day")
    return Listing(corrections.CORRECTIONS, ("position",), descending=True, where=" AND ".join(where),
                   params=tuple(params), shape=lambda views, raw: _correction_rows(views, reference, raw))


def _correction_rows(views, reference, raw: list[dict[str, Any]]) -> list[dict[str, Any]]:
    organisations = _names(views, streettowns.ORGANISATIONS, (c["organisation"] for c in raw))
    return [{"position": c["position"], "day": c["day"],
             "corrects": _CORRECTED.get(c["reverses_type"], ("更正", "Correction"))[0],
             "corrects_en": _CORRECTED.get(c["reverses_type"], ("更正", "Correction"))[1],
             "corrects_type": c["reverses_type"], "corrects_version": c["reverses_version"],
             "street_town": c["street_town"], "street_town_zh": _town_zh(reference, c["street_town"]),
             "street_town_en": _town_en(reference, c["street_town"]),
             "fund": c["fund"], "organisation": organisations.get(c["organisation"], c["organisation"]),
             "amount": c["amount"], "hours": None if c["minutes"] is None else hours_of(c["minutes"]),
             "reason": c["reason"]} for c in raw]


def corrections_page(ledger, projections: Projections, filters: Filters | str | None = None,
                     paging: Paging = FIRST_PAGE) -> PublicPage:
    """The corrections log, newest first, one page at a time; the totals count every one selected."""
    reference = ledger.reference
    if not isinstance(filters, Filters):
        filters = Filters(street_town=filters)
    street_town = filters.street_town
    if street_town is not None and street_town not in _town_names(reference):
        raise NotFound("street-town", street_town, field="street_town")
    listing = correction_listing(reference, filters)
    with snapshot(projections) as views:
        where = f" WHERE {listing.where}" if listing.where else ""
        count, amount = views.query(f"SELECT COUNT(*) AS n, COALESCE(SUM(amount), 0) AS amount FROM {{c}}{where}",
                                    listing.params, c=corrections.CORRECTIONS)[0]
        shown = window(views, listing, paging, total=int(count))
        position = views.position
    scope = _town_names(reference)[street_town] if street_town else None
    return PublicPage(
        "corrections", "corrections",
        "更正说明" + (f"（{scope.name_zh}）" if scope else ""), "Corrections" + (f" ({scope.name_en})" if scope else ""),
        position,
        summary=[Item("corrections", "更正笔数", "Corrections", int(count), "int"),
                 Item("amount", "更正金额合计", "Money corrected", int(amount), "yuan")],
        sheets=[Sheet("corrections", "更正说明", "Corrections", (
            _c("position", "日志序号", "Log position", "int"), _c("day", "更正日期", "Date", "date"),
            _c("corrects", "更正对象", "Corrects", en_key="corrects_en"), _c("corrects_type", "原事件类型", "Corrected event type", hidden=True),
            _c("corrects_version", "原事件版本", "Corrected event version", "int", hidden=True),
            _c("street_town", "街镇代码", "Street-town code", hidden=True),
            _c("street_town_zh", "街镇", "Street-town"), _c("fund", "基金", "Fund", link="/funds/{fund}"),
            _c("organisation", "组织", "Organisation", hidden=True), _c("amount", "金额（元）", "Amount (yuan)", "yuan"),
            _c("hours", "时长（小时）", "Hours", "decimal"), _c("reason", "更正说明", "Reason")), tuple(shown.rows))],
        facts={"street_town": street_town, "filters": filters.query()}, query=filters.query(),
        windows={"corrections": shown}, listings={"corrections": listing}, filters=filters,
    )


# --- organisations ---------------------------------------------------------------------------------

_ORGANISATION_KINDS = {"social_organisation": ("社区社会组织", "Community social organisation"),
                       "foundation": ("基金会", "Foundation"), "community_foundation": ("社区基金会", "Community foundation"),
                       "social_work_station": ("社工站", "Social work station")}


def organisation_listing(reference, filters: Filters = NO_FILTERS) -> Listing:
    """Organisations by code: of one street-town, registered in one year, named or coded like the search."""
    where, params = filters.clauses(street_town="street_town", year="registered_on")
    if filters.q:
        where.append("(LOWER(name) LIKE ? ESCAPE '\\' OR LOWER(code) LIKE ? ESCAPE '\\')")
        params += [like(filters.q)] * 2
    return Listing(streettowns.ORGANISATIONS, ("code",), where=" AND ".join(where), params=tuple(params),
                   shape=lambda views, raw: [_organisation_row(reference, o) for o in raw])


def _organisation_row(reference, o: dict[str, Any]) -> dict[str, Any]:
    kind = _ORGANISATION_KINDS.get(o["kind"], (o["kind"], o["kind"]))
    return {"organisation": o["code"], "name": o["name"], "kind": kind[0], "kind_en": kind[1],
            "street_town": o["street_town"], "street_town_zh": _town_zh(reference, o["street_town"]),
            "street_town_en": _town_en(reference, o["street_town"]), "community": o["community"],
            "registered_on": o["registered_on"]}


def organisations_page(ledger, projections: Projections, filters: Filters = NO_FILTERS,
                       paging: Paging = FIRST_PAGE) -> PublicPage:
    """The registered organisations (foundations, community social organisations…), one page at a time."""
    listing = organisation_listing(ledger.reference, filters)
    with snapshot(projections) as views:
        shown = window(views, listing, paging)
        position = views.position
    return PublicPage(
        "organisations", "organisations", "组织名录", "Organisations", position,
        summary=[Item("organisations", "组织数", "Organisations", shown.total, "int")],
        sheets=[Sheet("organisations", "组织名录", "Organisations", (
            _c("organisation", "组织代码", "Code"), _c("name", "名称", "Name"),
            _c("kind", "类型", "Kind", en_key="kind_en"), _c("street_town", "街镇代码", "Street-town code", hidden=True),
            _c("street_town_zh", "街镇", "Street-town", link="/street-towns/{street_town}"),
            _c("community", "社区", "Community"), _c("registered_on", "登记日", "Registered", "date")),
            tuple(shown.rows))],
        facts={"filters": filters.query()}, query=filters.query(), windows={"organisations": shown},
        listings={"organisations": listing}, filters=filters,
    )


# --- checkpoints -----------------------------------------------------------------------------------


def checkpoint_facts(stored) -> dict[str, Any]:
    cp = stored.checkpoint
    return {"tree_size": cp.size, "root_hash": base64.b64encode(cp.root).decode(), "signed_at": stored.signed_at,
            "cosigners": list(stored.cosigners), "note": stored.note.decode()}


def _latest_checkpoint(ledger) -> dict[str, Any] | None:
    """The latest signed checkpoint, which covers every figure computed to a position within it."""
    latest = ledger.checkpoints.latest()
    return None if latest is None else checkpoint_facts(latest)


_CONSISTENCY: dict[tuple[int, bytes, int, bytes], bool] = {}
"""Whether one signed root extends another, as found once: a fact of the two signed roots, so it
holds for as long as the process runs however the tree grows (a page of 50 checkpoints at a million
leaves is otherwise 50 proofs read from the stored tree per request)."""


def _consistent(ledger, older, newer) -> bool:
    key = (older.size, older.root, newer.size, newer.root)
    found = _CONSISTENCY.get(key)
    if found is None:
        proof = ledger.merkle.consistency_proof(older.size, newer.size)
        found = merkle.verify_consistency(older.size, newer.size, older.root, newer.root, proof)
        if len(_CONSISTENCY) >= 100_000:
            _CONSISTENCY.clear()
        _CONSISTENCY[key] = found
    return found


def checkpoints_page(ledger, limit: int | None = None, paging: Paging = FIRST_PAGE) -> PublicPage:
    """Signed checkpoints, newest first, one page at a time (``limit`` overrides the page size),
    each checked to extend the one before it by a consistency proof computed from the tree and
    verified against both signed roots. Its position is the log position of the tree's last leaf, a
    log position like every other page's (the tree's size counts leaves, and on PostgreSQL log
    positions have gaps), so the answer is kept once the tree and the views stand at the same event."""
    if limit is not None:
        paging = Paging(paging.after, paging.before, limit)
    sizes = ledger.checkpoints.sizes()
    page_of = size_window(sizes, paging)
    shown_sizes = page_of.rows  # newest first
    older = [s for s in sizes if s < shown_sizes[-1]][-1:] if shown_sizes else []
    stored = [ledger.checkpoints.at(s) for s in [*older, *reversed(shown_sizes)]]
    rows = []
    for index, current in enumerate(stored):
        previous = stored[index - 1] if index else None
        row = checkpoint_facts(current)
        row["previous_size"] = previous.checkpoint.size if previous else None
        if previous is None:
            row["consistent"] = None
        else:
            row["consistent"] = _consistent(ledger, previous.checkpoint, current.checkpoint)
        row["root_short"] = row["root_hash"][:16] + "…"
        row["witnesses"] = len(row["cosigners"])
        rows.append(row)
    if older:
        rows = rows[1:]  # the one before the oldest shown was read only to check that one against it
    rows.reverse()
    page_of.rows = rows
    log_key = ledger.directory().active_keys(ledger.origin)[-1].key.vkey if ledger.is_founded else None
    return PublicPage(
        "checkpoints", "checkpoints", "签名检查点", "Signed checkpoints", ledger.merkle.synced_position(),
        summary=[Item("checkpoints", "检查点数", "Checkpoints", len(sizes), "int"),
                 Item("tree_size", "日志规模", "Log size", ledger.merkle.size(), "int"),
                 Item("consistent", "前后一致", "Consistent", all(r["consistent"] is not False for r in rows), "bool")],
        sheets=[Sheet("checkpoints", "检查点", "Checkpoints", (
            _c("tree_size", "日志规模", "Tree size", "int"), _c("signed_at", "签名时间", "Signed at", "datetime"),
            _c("root_short", "根哈希", "Root hash"), _c("root_hash", "根哈希（完整）", "Root hash (full)", hidden=True),
            _c("witnesses", "见证签名", "Witness cosignatures", "int"),
            _c("cosigners", "见证方", "Witnesses", "list", hidden=True),
            _c("previous_size", "上一检查点", "Previous size", "int", hidden=True),
            _c("consistent", "与上一检查点一致", "Consistent with previous", "bool"),
            _c("note", "签名文本", "Signed note", hidden=True)), tuple(rows))],
        facts={"origin": ledger.origin if ledger.is_founded else None, "log_key": log_key},
        windows={"checkpoints": page_of},
    )


def size_window(sizes: list[int], paging: Paging) -> Window:
    """A page of the signed tree sizes (held ascending), newest first, by the same cursors as the views' lists."""
    limit = paging.limit
    if not 1 <= limit <= MAX_JSON_PAGE:
        raise InvalidInput("limit", msg("a page holds 1 to {most} rows", most=MAX_JSON_PAGE))
    if paging.after is not None and paging.before is not None:
        raise InvalidInput("before", msg("give `after` or `before`, not both"))
    newest_first = sizes[::-1]
    start = 0
    if paging.before is not None:
        (size,) = decode_cursor(paging.before, 1, "before")
        newer = [s for s in newest_first if s > size]
        start = max(len(newer) - limit, 0)
    elif paging.after is not None:
        (size,) = decode_cursor(paging.after, 1, "after")
        start = sum(1 for s in newest_first if s >= size)
    shown = newest_first[start:start + limit]
    more = start + limit < len(newest_first)
    return Window(shown, len(sizes), limit, encode_cursor([shown[-1]]) if more and shown else None,
                  encode_cursor([shown[0]]) if start > 0 and shown else None)
