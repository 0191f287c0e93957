"""Corrections (更正): find the event in a searchable list, see exactly what its reversal will post,
give the reason. The reversal itself is the API's ``POST /api/v1/corrections`` route."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, Response

from api.console import views
from api.console.catalogue import FORMS
from api.console.forms import show
from api.console.routes import in_scope
from api.console.web import PREFIX, ConsoleRefusal, Staff, current_staff, render
from ledger.errors import LedgerError
from ledger.events import REVERSIBLE
from projections import funds as fund_views
from projections import hours as hour_views

router = APIRouter(prefix=PREFIX, include_in_schema=False)
StaffDep = Annotated[Staff, Depends(current_staff)]
LISTED = REVERSIBLE - {"Disbursement.Paid"}
"""A payment is listed once, as the fund's ``Fund.Paid`` (reversing it reverses the disbursement too)."""


@router.get("/corrections", response_class=HTMLResponse)
def search(request: Request, staff: StaffDep, q: Annotated[str, Query(max_length=100)] = "") -> Response:
    staff.require("accountant", "recorder")
    rows = in_scope(request, staff, views.recent_events(request, types=LISTED, query=q, limit=200))[:50]
    return render(request, "corrections.html", staff, rows=rows, q=q)


def preview(request: Request, staff: Staff, position: int) -> dict:
    """What reversing the event at ``position`` will do: the event as signed, the postings negated,
    the other records it touches, and whether it was reversed already."""
    ledger = request.app.state.ledger
    try:
        stored, event = ledger.read_position(position)
    except LedgerError as exc:
        raise ConsoleRefusal(exc.status, exc.rule, exc.message_zh, exc.message) from None
    if stored.topic not in REVERSIBLE:
        raise ConsoleRefusal(422, "not-reversible", f"{stored.topic} 类事件不可冲正", f"{stored.topic} events cannot be reversed")
    rows = in_scope(request, staff, [{"stream": str(stored.originator_id), "type": stored.topic,
                                      "payload": {"organisation": getattr(event, "organisation", None)}}])
    if not rows:
        raise ConsoleRefusal(403, "not-authorised", "此事件不在您的账目范围内", "this event is outside the books you keep")
    payload = {k: v for k, v in vars(event).items() if k not in ("originator_id", "originator_version", "timestamp")}
    postings = payload.pop("postings", None) or []
    reversal = [{**p, "amount": -p["amount"]} for p in postings]
    also, reversed_on = [], None
    projections = request.app.state.reads.projections
    code = str(stored.originator_id).split(":", 1)[1]
    if stored.topic.startswith("Fund."):
        entry = projections.rows(fund_views.ENTRIES, "fund = ? AND entry = ?", (code, payload.get("entry")))
        reversed_on = entry[0]["reversed"] if entry else None
        other = payload.get("to_fund") or payload.get("from_fund")
        if other:
            also.append(("调拨或解除限定的另一方基金 " + other + " 的对应分录同时冲正",
                         f"the matching leg in fund {other} is reversed with it"))
        if stored.topic == "Fund.Paid":
            also.append(("对应的拨付记为已冲正；项目款同时冲减项目已付金额",
                         "the disbursement is marked reversed; a project payment is taken off the project's paid total"))
    else:
        session = projections.rows(hour_views.SESSIONS, "volunteer = ? AND record = ?", (code, payload.get("record")))
        reversed_on = session[0]["reversed"] if session else None
        also.append(("该次服务时长从志愿者累计时长中扣除", "the session's minutes come off the volunteer's total"))
    return {"position": position, "type": stored.topic, "stream": str(stored.originator_id),
            "version": stored.originator_version, "recorded_at": event.timestamp.isoformat(), "payload": payload,
            "postings": postings, "reversal": reversal, "also": also, "reversed_on": reversed_on}


def _context(request: Request, staff: Staff, values: dict, form) -> dict:
    position = str(values.get("position", ""))
    return {"preview": preview(request, staff, int(position))} if position.isdigit() else {}


FORMS["correction"].context = _context


@router.get("/corrections/{position}", response_class=HTMLResponse)
def correct_form(request: Request, staff: StaffDep, position: int) -> Response:
    staff.require("accountant", "recorder")
    return show(request, staff, FORMS["correction"], {"position": str(position), "reason": ""})
