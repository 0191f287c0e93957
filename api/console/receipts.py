"""Donation receipts (捐赠收据) in the console: one gift's receipt page and PDF (amount in 大写, QR
code, its offline receipt attached), and a foundation's month printed as one PDF. The documents are
``api.receipt_document``'s; the console adds who may print them: the fund's foundation's accountants."""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, Response

from api.console import views
from api.console.web import PREFIX, ConsoleRefusal, Staff, current_staff, render
from api.pdf import PdfUnavailable
from api.receipt_document import donation_receipt, month_receipts, receipts_pdf, render_receipts_html
from ledger.errors import LedgerError

router = APIRouter(prefix=PREFIX, include_in_schema=False)
StaffDep = Annotated[Staff, Depends(current_staff)]
RECEIPT_ROLES = ("accountant", "root")


def _refusal(exc: LedgerError) -> ConsoleRefusal:
    return ConsoleRefusal(exc.status, exc.rule, f"{exc.title_zh}：{exc.message_zh}", exc.message)


def _one(request: Request, staff: Staff, position: int):
    staff.require(*RECEIPT_ROLES)
    ledger = request.app.state.ledger
    try:
        stored, _ = ledger.read_position(position)
        if stored.topic == "Fund.DonationReceived":
            fund = views.fund_row(request, str(stored.originator_id).split(":", 1)[1])
            scope = views.foundation_scope(staff)
            if scope is not None and (fund is None or fund["foundation"] != scope):
                raise ConsoleRefusal(403, "not-authorised", "只能为本基金会的捐赠出具收据",
                                     "receipts are printed by the fund's own foundation")
        return donation_receipt(ledger, position, request.app.state.log_actor, request.app.state.settings.public_url)
    except LedgerError as exc:
        if isinstance(exc, ConsoleRefusal):
            raise
        raise _refusal(exc) from None


def _pdf(receipts, name: str) -> Response:
    try:
        data = receipts_pdf(receipts)
    except PdfUnavailable as exc:
        raise ConsoleRefusal(503, "pdf-unavailable", f"无法生成PDF：{exc}", f"no PDF: {exc}") from None
    return Response(data, media_type="application/pdf",
                    headers={"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"})


@router.get("/receipts", response_class=HTMLResponse)
def receipts_home(request: Request, staff: StaffDep,
                  month: Annotated[str, Query(max_length=7)] = "") -> Response:
    """Pick a month: its receipts listed, then printed as one PDF (batch print)."""
    staff.require(*RECEIPT_ROLES)
    found = None
    if re.fullmatch(r"\d{4}-\d{2}", month):
        scope = views.foundation_scope(staff) or request.query_params.get("foundation", "")
        try:
            found = month_receipts(request.app.state.ledger, scope, month, request.app.state.log_actor,
                                   request.app.state.settings.public_url)
        except LedgerError as exc:
            raise _refusal(exc) from None
    return render(request, "receipts.html", staff, month=month, found=found)


@router.get("/receipts/month/{month}/receipts.pdf")
async def month_pdf(request: Request, staff: StaffDep, month: str) -> Response:
    staff.require(*RECEIPT_ROLES)
    scope = views.foundation_scope(staff) or request.query_params.get("foundation", "")

    def build():
        batch = month_receipts(request.app.state.ledger, scope, month, request.app.state.log_actor,
                               request.app.state.settings.public_url)
        return _pdf(batch.receipts, f"receipts-{scope}-{month}.pdf")

    try:
        return await run_in_threadpool(build)
    except LedgerError as exc:
        if isinstance(exc, ConsoleRefusal):
            raise
        raise _refusal(exc) from None


@router.get("/receipts/{position}", response_class=HTMLResponse)
def receipt_page(request: Request, staff: StaffDep, position: int) -> Response:
    """The printable receipt of one gift (the donor's own copy: named as recorded)."""
    receipt = _one(request, staff, position)
    return HTMLResponse(render_receipts_html([receipt], served=True), headers={"Cache-Control": "no-store"})


@router.get("/receipts/{position}/receipt.pdf")
async def receipt_pdf(request: Request, staff: StaffDep, position: int) -> Response:
    receipt = _one(request, staff, position)
    return await run_in_threadpool(_pdf, [receipt], f"receipt-{receipt.number}.pdf")
