"""The approver's queue (审批): requests of their foundation awaiting a second person, never their own,
each with what the decision needs and the ledger's own rule checks run on it now."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response

from api.console import views
from api.console.catalogue import FORMS
from api.console.forms import show
from api.console.web import PREFIX, ConsoleRefusal, Staff, current_staff, render
from ledger.errors import LedgerError, MakerChecker

router = APIRouter(prefix=PREFIX, include_in_schema=False)
StaffDep = Annotated[Staff, Depends(current_staff)]


def _check(name_zh: str, name_en: str, rule: str, check) -> dict:
    """Run one of the ledger's own checks: passed, or the error it raised."""
    try:
        check()
    except LedgerError as exc:
        return {"zh": name_zh, "en": name_en, "rule": exc.rule, "ok": False, "why_zh": exc.message_zh,
                "why_en": exc.message}
    return {"zh": name_zh, "en": name_en, "rule": rule, "ok": True}


def review(request: Request, staff: Staff, row: dict) -> dict:
    """A request as the approver sees it: fund, balance after, project and budget used, rules, maker."""
    ledger = request.app.state.ledger
    disbursement = ledger.disbursement(row["number"])
    fund = ledger.fund(disbursement.fund)
    project = ledger.project(disbursement.project) if disbursement.project else None

    def maker_checker() -> None:
        if disbursement.requested_by == staff.handle:
            raise MakerChecker("you requested this one; another approver must decide", "此申请由您本人提出，须由其他审批人审批")

    def use() -> None:
        if disbursement.kind in ("management", "fundraising"):
            fund.check_unrestricted_spend(disbursement.kind)
        else:
            fund.check_use(domain=disbursement.domain, street_town=disbursement.street_town, on=ledger.today())

    checks = [
        _check("审批人不得为申请人", "Approver is not the requester", "maker-checker", maker_checker),
        _check("余额足够", "The fund covers it", "no-overdraft", lambda: fund.check_covers(disbursement.amount)),
        _check("符合限定用途", "Within the fund's restriction", "restricted-purpose", use),
        _check("基金未关闭", "The fund is open", "fund-closed", fund.check_open),
    ]
    if project is not None:
        checks += [
            _check("不超出项目预算", "Within the project's budget", "within-budget",
                   lambda: project.check_within_budget(disbursement.amount)),
            _check("收款方为承接组织", "Paid to the undertaking organisation", "undertaking-organisation",
                   lambda: project.check_payee(disbursement.payee)),
        ]
    return {"row": row, "d": disbursement, "fund": fund, "project": project,
            "balance_after": fund.balance - disbursement.amount, "checks": checks,
            "mine": disbursement.requested_by == staff.handle}


@router.get("/approvals", response_class=HTMLResponse)
def queue(request: Request, staff: StaffDep, done: str = "") -> Response:
    staff.require("approver")
    rows = [r for r in views.disbursements(request, staff, "requested")]
    items = [review(request, staff, r) for r in rows]
    return render(request, "approvals.html", staff, items=[i for i in items if not i["mine"]],
                  own=[i for i in items if i["mine"]], done=done)


@router.get("/approvals/{number}", response_class=HTMLResponse)
def decide(request: Request, staff: StaffDep, number: str) -> Response:
    """One request, with the approve and reject forms."""
    staff.require("approver")
    rows = [r for r in views.disbursements(request, staff, "requested") if r["number"] == number]
    if not rows:
        raise ConsoleRefusal(404, "not-found", "没有待您审批的此项申请", "no such request awaits your decision")
    item = review(request, staff, rows[0])
    return show(request, staff, FORMS["approve"], {"number": number, "approval_ref": "", "on": ""}, item=item)


def _context(request: Request, staff: Staff, values: dict, form) -> dict:
    """Around the approve and reject forms: the request under review, and the other form."""
    number = str(values.get("number", ""))
    rows = [r for r in views.disbursements(request, staff, "requested") if r["number"] == number]
    context = {"item": review(request, staff, rows[0])} if rows else {}
    return {**context, "second": FORMS["approve" if form.slug == "reject" else "reject"], "second_values": {"number": number, "reason": ""},
            "second_key": uuid.uuid4().hex}


FORMS["approve"].context = _context
FORMS["reject"].context = _context
