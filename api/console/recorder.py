"""The recorder's screens (志愿服务记录): volunteers, one volunteer's history, and the service
certificate (志愿服务记录证明) as a printable page, a PDF and the JSON that verifies offline."""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, Response

from api.console import views
from api.console.web import PREFIX, ConsoleRefusal, Staff, current_staff, render
from api.pdf import PdfUnavailable, print_pdf
from api.receipt_page import render_receipt_page
from ledger.envelope import open_sealed
from ledger.errors import LedgerError
from ledger.receipts import ReceiptError, issue_receipt, verify_receipt
from ledger.settings import trusted_witnesses
from ledger.volunteers import volunteer_id
from projections import hours as hour_views

router = APIRouter(prefix=PREFIX, include_in_schema=False)
StaffDep = Annotated[Staff, Depends(current_staff)]
HOURS_ROLES = ("recorder", "accountant", "root")
CERTIFY_ROLES = ("recorder", "root")
"""Who issues certificates: the organisation that recorded the session (谁记录谁证明), or root."""


def _own(staff: Staff, organisation: str | None) -> bool:
    """Recorders see and certify only what their own organisation recorded (谁记录谁证明)."""
    return staff.has("root", "accountant") and not staff.has("recorder") or organisation == staff.principal.organisation


@router.get("/volunteers", response_class=HTMLResponse)
def volunteers(request: Request, staff: StaffDep, q: Annotated[str, Query(max_length=100)] = "") -> Response:
    staff.require(*HOURS_ROLES)
    return render(request, "volunteers.html", staff, rows=views.volunteers(request, q), q=q)


def sessions_of(request: Request, number: str) -> list[dict]:
    """Every session recorded for a volunteer, from their stream, with its log position."""
    ledger = request.app.state.ledger
    stream = volunteer_id(number)
    reversed_ = {r["record"]: r["reversed"] for r in request.app.state.reads.projections.rows(
        hour_views.SESSIONS, "volunteer = ?", (number,))}
    found = []
    for stored in ledger.recorder.select_events(stream):
        if stored.topic != "Volunteer.ServiceRecorded":
            continue
        payload = open_sealed(bytes(stored.state), stream=stream, version=stored.originator_version,
                              topic=stored.topic).payload
        found.append({**payload, "position": ledger.tables.position_of(stream, stored.originator_version),
                      "reversed": reversed_.get(payload["record"])})
    return sorted(found, key=lambda s: (s["date"], s["start"]), reverse=True)


@router.get("/volunteers/{number}", response_class=HTMLResponse)
def history(request: Request, staff: StaffDep, number: str) -> Response:
    staff.require(*HOURS_ROLES)
    try:
        volunteer = request.app.state.ledger.volunteer(number)
    except LedgerError as exc:
        raise ConsoleRefusal(exc.status, exc.rule, exc.message_zh, exc.message) from None
    sessions = [s for s in sessions_of(request, number) if _own(staff, s["organisation"])]
    minutes = sum(s["minutes"] for s in sessions if not s["reversed"])
    return render(request, "volunteer.html", staff, volunteer=volunteer, sessions=sessions, minutes=minutes)


def _certificate(request: Request, staff: Staff, position: int):
    staff.require(*CERTIFY_ROLES)
    ledger = request.app.state.ledger
    try:
        stored, event = ledger.read_position(position)
    except LedgerError as exc:
        raise ConsoleRefusal(exc.status, exc.rule, exc.message_zh, exc.message) from None
    if stored.topic != "Volunteer.ServiceRecorded":
        raise ConsoleRefusal(404, "not-found", "此序号不是志愿服务记录", "this log position is not a service session")
    if not (staff.has("root") or staff.has("recorder") and event.organisation == staff.principal.organisation):
        raise ConsoleRefusal(403, "not-authorised", "只能为本单位记录的服务出具证明（谁记录谁证明）",
                             "only the organisation that recorded a session certifies it (谁记录谁证明)")
    try:
        document = issue_receipt(ledger, position, request.app.state.log_actor)
    except ReceiptError as exc:
        raise ConsoleRefusal(409, "receipt-unavailable", f"暂时无法出具证明：{exc}", f"cannot issue it yet: {exc}") from None
    log_key = ledger.directory().active_keys(ledger.origin)[-1].key
    settings = request.app.state.settings
    verified = verify_receipt(document, log_key, trusted_witnesses(settings))
    # The holder's own printout names the volunteer (public pages mask those who did not consent).
    return document, render_receipt_page(document, verified, settings.public_url, public=False)


@router.get("/certificates/{position}", response_class=HTMLResponse)
def certificate(request: Request, staff: StaffDep, position: int) -> Response:
    document, _ = _certificate(request, staff, position)
    return render(request, "certificate.html", staff, position=position, document=document)


@router.get("/certificates/{position}/print", response_class=HTMLResponse)
def certificate_print(request: Request, staff: StaffDep, position: int) -> Response:
    _, page = _certificate(request, staff, position)
    return HTMLResponse(page, headers={"Cache-Control": "no-store"})


@router.get("/certificates/{position}/receipt.json")
def certificate_json(request: Request, staff: StaffDep, position: int) -> Response:
    document, _ = _certificate(request, staff, position)
    return Response(json.dumps(document, ensure_ascii=False, indent=2), media_type="application/json",
                    headers={"Content-Disposition": f'attachment; filename="certificate-{position}.json"',
                             "Cache-Control": "no-store"})


@router.get("/certificates/{position}/certificate.pdf")
async def certificate_pdf(request: Request, staff: StaffDep, position: int) -> Response:
    _, page = _certificate(request, staff, position)
    try:
        pdf = await run_in_threadpool(print_pdf, page)
    except PdfUnavailable as exc:
        raise ConsoleRefusal(503, "pdf-unavailable", f"无法生成PDF：{exc}", f"no PDF: {exc}") from None
    return Response(pdf, media_type="application/pdf", headers={
        "Content-Disposition": f'attachment; filename="certificate-{position}.pdf"', "Cache-Control": "no-store"})
