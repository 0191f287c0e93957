"""The three 民非 statements in the console (`/console/statements`): a foundation's balance sheet,
statement of activities and cash flow for a year, a quarter or a month, their tie-out, and the files
to hand to an auditor. Computed by the API's own route (``api.routes.accounting.statements``): who
may see them and what they hold are decided there, once."""

from __future__ import annotations

import json
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError

from api.auth import Caller
from api.console import views
from api.console.web import PREFIX, ConsoleRefusal, Staff, current_staff, render
from api.routes.accounting import StatementsQuery
from api.routes.accounting import statements as statements_route
from ledger.errors import LedgerError

router = APIRouter(prefix=PREFIX, include_in_schema=False)
StaffDep = Annotated[Staff, Depends(current_staff)]
STATEMENT_ROLES = ("accountant", "approver", "auditor", "root")


def _query(staff: Staff, foundation: str, year: str, quarter: str, month: str, format_: str) -> StatementsQuery:
    try:
        return StatementsQuery(foundation=views.foundation_scope(staff) or foundation, year=year,
                               quarter=quarter or None, month=month or None, format=format_)
    except ValidationError as exc:
        field = str(exc.errors()[0]["loc"][0]) if exc.errors() and exc.errors()[0]["loc"] else "query"
        raise ConsoleRefusal(422, "invalid-input", f"输入无效：{field}", f"invalid input: {field}") from None


def _run(request: Request, staff: Staff, query: StatementsQuery) -> Response:
    try:
        return statements_route(request, Caller(staff.actor, staff.principal, None), query)
    except LedgerError as exc:
        raise ConsoleRefusal(exc.status, exc.rule, f"{exc.title_zh}：{exc.message_zh}", exc.message) from None


@router.get("/statements", response_class=HTMLResponse)
async def statements_page(
    request: Request, staff: StaffDep, foundation: Annotated[str, Query(max_length=64)] = "",
    year: Annotated[str, Query(max_length=4)] = "", quarter: Annotated[str, Query(max_length=1)] = "",
    month: Annotated[str, Query(max_length=2)] = "",
) -> Response:
    """Pick a period; the three statements' main lines and whether they tie out, with the files."""
    staff.require(*STATEMENT_ROLES)
    scope = views.foundation_scope(staff)
    doc = None
    if year:
        answer = await run_in_threadpool(_run, request, staff, _query(staff, foundation, year, quarter, month, "json"))
        doc = json.loads(answer.body)
    foundations = [] if scope else [o for o in views.organisations(request, "foundation", "community_foundation")]
    params = urlencode([(k, v) for k, v in (("foundation", scope or foundation), ("year", year),
                                             ("quarter", quarter), ("month", month)) if v])
    return render(request, "statements.html", staff, doc=doc, scope=scope, foundations=foundations,
                  foundation=foundation, year=year, quarter=quarter, month=month, params=params)


@router.get("/statements/file")
async def statements_file(
    request: Request, staff: StaffDep, year: Annotated[str, Query(max_length=4)],
    foundation: Annotated[str, Query(max_length=64)] = "", quarter: Annotated[str, Query(max_length=1)] = "",
    month: Annotated[str, Query(max_length=2)] = "", format: Annotated[str, Query(max_length=4)] = "xlsx",
) -> Response:
    """The statements as XLSX, PDF or JSON, exactly as `wushe statements` and the API write them."""
    staff.require(*STATEMENT_ROLES)
    return await run_in_threadpool(_run, request, staff, _query(staff, foundation, year, quarter, month, format))
