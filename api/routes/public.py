"""The public JSON API (no login, no personal data): district totals, and every public page's figures
at ``/api/v1/public/<page>`` — the same values the pages show and the downloads hold."""

from __future__ import annotations

import json
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Query, Request
from pydantic import BaseModel

from api import public_data
from api.caching import Fresh, FreshReads, cached_json
from api.deps import ReadsDep
from api.listings import MAX_JSON_PAGE, Filters, Paging
from api.receipt_check import MAX_RECEIPT_BYTES, check_receipt, refusal
from api.selection import Selection, documented, json_selection
from ledger.money import to_decimal_string
from projections.report import transparency_report

router = APIRouter(tags=["public"])
PUBLIC = "/api/v1/public"


class TownFigures(BaseModel):
    code: str
    name_zh: str
    name_en: str
    income: str
    """Income received for the street-town, yuan as a decimal string."""
    spent: str
    fund_balance: str
    """Balance of the funds based in the street-town."""
    donations: int
    volunteer_hours: str
    """Volunteer hours, a decimal string with two places."""


class DistrictFigures(BaseModel):
    district_zh: str
    district_en: str
    events: int
    income: str
    spent: str
    balance: str
    restricted_balance: str
    unrestricted_balance: str
    volunteer_hours: str
    street_towns: list[TownFigures]


def _hours(minutes: int) -> str:
    """Minutes as hours with two places, rounded down: 90 -> "1.50"."""
    return to_decimal_string(minutes * 100 // 60)


def _figures(ledger, district) -> DistrictFigures:
    totals = district.current()
    ref = ledger.reference
    towns = []
    for town in ref.street_towns:
        t = totals.towns.get(town.code)
        towns.append(
            TownFigures(
                code=town.code, name_zh=town.name_zh, name_en=town.name_en,
                income=to_decimal_string(t.income if t else 0), spent=to_decimal_string(t.spent if t else 0),
                fund_balance=to_decimal_string(t.fund_balance if t else 0), donations=t.donations if t else 0,
                volunteer_hours=_hours(t.volunteer_minutes if t else 0),
            )
        )
    return DistrictFigures(
        district_zh=ref.district.name_zh, district_en=ref.district.name_en, events=totals.events,
        income=to_decimal_string(totals.income), spent=to_decimal_string(totals.spent),
        balance=to_decimal_string(totals.balance), restricted_balance=to_decimal_string(totals.restricted_balance),
        unrestricted_balance=to_decimal_string(totals.unrestricted_balance),
        volunteer_hours=_hours(totals.volunteer_minutes), street_towns=towns,
    )


@router.get("/api/v1/public/district", response_model=DistrictFigures)
async def district_figures(request: Request, reads: FreshReads, tag: Fresh) -> DistrictFigures:
    """District totals and each street-town's income, spending, fund balance and volunteer hours."""
    return await cached_json(request, tag, lambda: _figures(reads.ledger, reads.district).model_dump(), at="events")


Page = dict[str, Any]
"""A page's figures: ``summary`` (headline figures), ``tables`` (rows by table name), ``position``
(the log position they are computed to) and page facts. Money is decimal yuan strings, dates ISO.
A list shown one page at a time has ``paging.<table>`` (``total``, ``limit``, ``count``, ``next``,
``previous``) and the page's ``next`` cursor: ask again with ``after=<next>`` for the rows after."""
Chosen = Annotated[Selection, Depends(json_selection)]
LISTED = documented(MAX_JSON_PAGE)
"""The list parameters :data:`Chosen` reads, in the OpenAPI document of each route that takes it."""
EVERYTHING = Selection(Filters(), Paging())


@router.get(f"{PUBLIC}/overview")
async def overview(request: Request, reads: FreshReads, tag: Fresh) -> Page:
    """The home page's figures: district totals, the street-towns, income and spending by month."""
    return await cached_json(request, tag, lambda: public_data.district_page(reads.ledger, reads.district).as_json())


@router.get(f"{PUBLIC}/street-towns")
async def street_towns(request: Request, reads: FreshReads, tag: Fresh) -> Page:
    """The street-towns (街镇) with income, spending, local funds' balance and volunteer hours."""
    def build() -> Page:
        page = public_data.district_page(reads.ledger, reads.district).as_json()
        return {"position": page["position"], "street_towns": page["tables"]["street_towns"]}

    return await cached_json(request, tag, build)


@router.get(f"{PUBLIC}/street-towns/{{code}}", openapi_extra=LISTED)
async def street_town(request: Request, reads: FreshReads, code: str, tag: Fresh, chosen: Chosen) -> Page:
    """One street-town: income by source, spending, projects (a page of them), special funds, hours,
    organisations."""
    return await cached_json(request, tag, lambda: (
        public_data.street_town_page(reads.ledger, reads.projections, code, paging=chosen.paging).as_json()))


@router.get(f"{PUBLIC}/street-towns/{{code}}/donations", openapi_extra=LISTED)
async def street_town_donations(request: Request, reads: FreshReads, code: str, tag: Fresh, chosen: Chosen) -> Page:
    """Every gift a street-town's donations figure counts (to any fund, a district-wide fund's gift
    tagged with the street-town too), newest first, a page at a time (``year`` selects one year's);
    ``summary.donations`` is their sum less those reversed: the street-town's "of which donations"."""
    return await cached_json(request, tag, lambda: public_data.street_town_donations_page(
        reads.ledger, reads.projections, code, chosen.filters, chosen.paging).as_json())


@router.get(f"{PUBLIC}/funds")
async def funds(request: Request, reads: FreshReads, tag: Fresh) -> Page:
    return await cached_json(request, tag, lambda: public_data.funds_page(reads.ledger, reads.projections).as_json())


@router.get(f"{PUBLIC}/funds/{{code}}", openapi_extra=LISTED)
async def fund(request: Request, reads: FreshReads, code: str, tag: Fresh, chosen: Chosen) -> Page:
    """One fund (基金): balance, purpose and restrictions, use by project, balance by month, and its
    gifts newest first, a page at a time (``year`` selects one year's)."""
    return await cached_json(request, tag, lambda: (
        public_data.fund_page(reads.ledger, reads.projections, code, chosen.filters, chosen.paging).as_json()))


@router.get(f"{PUBLIC}/funds/{{code}}/usage", openapi_extra=LISTED)
async def fund_usage(request: Request, reads: FreshReads, code: str, tag: Fresh, chosen: Chosen) -> Page:
    """Every use of a fund (资金使用明细): each project, street-town or payee it paid, with the amount
    and the number of payments, the largest first, a page at a time; ``summary.used`` is their sum."""
    return await cached_json(request, tag, lambda: (
        public_data.fund_usage_page(reads.ledger, reads.projections, code, chosen.paging).as_json()))


@router.get(f"{PUBLIC}/projects", openapi_extra=LISTED)
async def projects(request: Request, reads: FreshReads, tag: Fresh, chosen: Chosen) -> Page:
    """The projects by code, a page at a time, filtered by ``street_town``, ``domain``, ``year``
    (running at some time in it), ``status`` (today: upcoming, running, ended) and ``q`` (name or code)."""
    return await cached_json(request, tag, lambda: (
        public_data.projects_page(reads.ledger, reads.projections, chosen.filters, chosen.paging).as_json()))


@router.get(f"{PUBLIC}/projects/{{code}}")
async def project(request: Request, reads: FreshReads, code: str, tag: Fresh) -> Page:
    """One project (项目): budget against paid, milestones, disbursements with approvals, satisfaction."""
    return await cached_json(request, tag, lambda: (
        public_data.project_page(reads.ledger, reads.projections, code).as_json()))


@router.get(f"{PUBLIC}/hours", openapi_extra=LISTED)
async def volunteer_hours(request: Request, reads: FreshReads, tag: Fresh, chosen: Chosen) -> Page:
    """Volunteer hours by organisation (a page at a time), street-town, domain and month (no person
    is named); ``street_town`` and ``domain`` narrow them."""
    return await cached_json(request, tag, lambda: (
        public_data.hours_page(reads.ledger, reads.projections, chosen.filters, chosen.paging).as_json()))


@router.get(f"{PUBLIC}/corrections", openapi_extra=LISTED)
async def corrections(request: Request, reads: FreshReads, tag: Fresh, chosen: Chosen) -> Page:
    """The corrections log (更正说明), newest first, a page at a time: every correction, its reason and
    what it corrects (``street_town``, ``year`` narrow it)."""
    return await cached_json(request, tag, lambda: (
        public_data.corrections_page(reads.ledger, reads.projections, chosen.filters, chosen.paging).as_json()))


@router.get(f"{PUBLIC}/organisations", openapi_extra=LISTED)
async def organisations(request: Request, reads: FreshReads, tag: Fresh, chosen: Chosen) -> Page:
    """The registered organisations by code, a page at a time (``street_town``, ``year`` registered, ``q``)."""
    return await cached_json(request, tag, lambda: (
        public_data.organisations_page(reads.ledger, reads.projections, chosen.filters, chosen.paging).as_json()))


@router.get(f"{PUBLIC}/checkpoints", openapi_extra=LISTED)
async def checkpoints(request: Request, reads: FreshReads, tag: Fresh, chosen: Chosen) -> Page:
    """Signed checkpoints, newest first, a page at a time (``limit``, default 50), with witness
    cosignatures and whether each is consistent with the one before it (a consistency proof checked
    against both signed roots)."""
    return await cached_json(request, tag, lambda: (
        public_data.checkpoints_page(reads.ledger, paging=chosen.paging).as_json()))


@router.get(f"{PUBLIC}/reports")
def report(
    reads: ReadsDep,
    tag: Fresh,
    start: Annotated[date, Query(description="First day of the period (YYYY-MM-DD)")],
    end: Annotated[date, Query(description="Last day of the period (YYYY-MM-DD)")],
    street_town: Annotated[str | None, Query(description="A street-town code; the whole district if absent")] = None,
) -> Page:
    """The transparency report (信息公开报告) of a period, as ``wushe export --format json`` writes it."""
    return transparency_report(reads.projections, start=start, end=end, street_town=street_town)


@router.post(f"{PUBLIC}/verify")
def verify(request: Request, reads: ReadsDep,
           receipt: Annotated[dict[str, Any], Body(description="A wushe-receipt/v1 document")]) -> Page:
    """Check a receipt or certificate against this ledger's log key: ``verified`` with the leaf,
    log position and checkpoint, or ``verified: false`` and exactly why."""
    data = json.dumps(receipt, ensure_ascii=False)
    if len(data) > MAX_RECEIPT_BYTES:
        return refusal(f"the receipt is larger than {MAX_RECEIPT_BYTES // 1024} KiB", "收据文件过大")
    return check_receipt(reads.ledger, request.app.state.settings, data)
