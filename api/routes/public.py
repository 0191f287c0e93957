"""Public figures for residents: district totals as JSON and the home page (no personal data)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from pydantic import BaseModel

from api.deps import DistrictDep, LedgerDep
from ledger.money import format_cny, to_decimal_string
from projections.streettowns import DISTRICT

router = APIRouter(tags=["public"])
templates = Jinja2Templates(directory=Path(__file__).parent.parent / "templates")
templates.env.filters["cny"] = format_cny


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


def _hours_text(minutes: int) -> str:
    """Minutes as hours for people: 12345 -> "205.7"."""
    whole, rest = divmod(minutes or 0, 60)
    return f"{whole:,}.{rest * 10 // 60}"


templates.env.filters["hours"] = _hours_text


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
def district_figures(ledger: LedgerDep, district: DistrictDep) -> DistrictFigures:
    """District totals and each street-town's income, spending, fund balance and volunteer hours."""
    return _figures(ledger, district)


@router.get("/", response_class=HTMLResponse, include_in_schema=False)
def home(request: Request, ledger: LedgerDep, district: DistrictDep, lang: Literal["zh", "en"] = "zh"):
    """The district home page: totals and the street-towns, Chinese first."""
    totals = district.current()
    towns = [(town, totals.towns.get(town.code)) for town in ledger.reference.street_towns]
    return templates.TemplateResponse(
        request, "home.html",
        {"totals": totals, "towns": towns, "district": ledger.reference.district, "lang": lang,
         "overheads": totals.towns.get(DISTRICT), "initialised": ledger.is_founded},
    )
