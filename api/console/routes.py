"""The console's home (dashboard) and its forms: each form at ``/console/record/<slug>``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, Response

from api.console import views
from api.console.catalogue import FORMS
from api.console.forms import Form, blank, show, submit
from api.console.web import PREFIX, ConsoleRefusal, Staff, current_staff, render
from ledger.events import MONEY_EVENTS

router = APIRouter(prefix=PREFIX, include_in_schema=False)
StaffDep = Annotated[Staff, Depends(current_staff)]


def in_scope(request: Request, staff: Staff, rows: list[dict]) -> list[dict]:
    """Events of the person's own funds (accountants) or own organisation (recorders)."""
    codes = {f["code"] for f in views.funds(request, staff)} if staff.has("accountant", "root") else set()
    org = staff.principal.organisation if staff.has("recorder") else None
    kept = []
    for row in rows:
        if row["stream"].startswith("fund:") and row["stream"][5:] in codes or row["type"] == "Volunteer.ServiceRecorded" and (staff.has("root") or row["payload"].get("organisation") == org):
            kept.append(row)
    return kept


@router.get("/", response_class=HTMLResponse)
def home(request: Request, staff: StaffDep) -> Response:
    """The dashboard: funds, requests waiting, latest entries and how far the views lag (accountants);
    the way to each person's own screens for everyone."""
    context = {}
    if staff.has("accountant", "root"):
        context = {
            "funds": views.funds(request, staff),
            "requested": views.disbursements(request, staff, "requested"),
            "approved": views.disbursements(request, staff, "approved"),
            "entries": in_scope(request, staff, views.recent_events(request, types=MONEY_EVENTS, limit=40))[:15],
        }
    return render(request, "home.html", staff, lag=views.lag(request), forms=_forms_for(staff), **context)


def _forms_for(staff: Staff) -> list[Form]:
    return [f for f in FORMS.values() if staff.has(*f.roles) and f.slug not in ("approve", "reject", "correction")]


def _form(slug: str, staff: Staff) -> Form:
    form = FORMS.get(slug)
    if form is None:
        raise ConsoleRefusal(404, "not-found", "没有这个表单", "there is no such form")
    staff.require(*form.roles)
    return form


@router.get("/record/{slug}", response_class=HTMLResponse)
def form_page(request: Request, staff: StaffDep, slug: str) -> Response:
    form = _form(slug, staff)
    values = blank(form)
    for name in values:  # a link may fill a field in (pay this one, correct that one)
        if name in request.query_params:
            values[name] = request.query_params[name]
    return show(request, staff, form, values)


@router.post("/record/{slug}", response_class=HTMLResponse)
async def form_post(request: Request, staff: StaffDep, slug: str) -> Response:
    return await submit(request, staff, _form(slug, staff))


@router.get("/recorded", response_class=HTMLResponse)
def recorded(request: Request, staff: StaffDep, form: str = "", id: str = "",
             positions: Annotated[str, Query(max_length=500)] = "", replayed: str = "") -> Response:
    """After a write (Post/Redirect/Get): what was recorded, so a reload writes nothing."""
    spec = FORMS.get(form)
    numbers = [int(p) for p in positions.split(",") if p.isdigit()]
    return render(request, "recorded.html", staff, spec=spec, ident=id, positions=numbers, replayed=bool(replayed))
