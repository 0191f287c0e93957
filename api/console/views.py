"""What the console reads (views and the log), scoped to the signed-in staff member's foundation
or organisation exactly as the ledger scopes their writes."""

from __future__ import annotations

from typing import Any

from fastapi import Request

from api.console.web import Staff
from ledger.envelope import EnvelopeError, open_sealed
from ledger.events import REVERSIBLE
from projections import funds as fund_views
from projections import hours as hour_views
from projections import projects as project_views
from projections import streettowns as town_views


def _projections(request: Request):
    return request.app.state.reads.current().projections


def foundation_scope(staff: Staff) -> str | None:
    """The foundation whose books this person keeps or approves (None: every foundation)."""
    return None if staff.has("root") else staff.principal.foundation


def funds(request: Request, staff: Staff, *, open_only: bool = False) -> list[dict[str, Any]]:
    scope = foundation_scope(staff)
    where, params = ("foundation = ?", (scope,)) if scope else ("", ())
    rows = _projections(request).rows(fund_views.FUNDS, where, params, "code")
    return [r for r in rows if not (open_only and r["closed"])]


def fund_row(request: Request, code: str) -> dict[str, Any] | None:
    rows = _projections(request).rows(fund_views.FUNDS, "code = ?", (code,))
    return rows[0] if rows else None


def disbursements(request: Request, staff: Staff, *statuses: str) -> list[dict[str, Any]]:
    marks = ", ".join("?" for _ in statuses)
    rows = _projections(request).rows(project_views.DISBURSEMENTS, f"status IN ({marks})", statuses,
                                      "requested_on DESC, number")
    codes = {f["code"] for f in funds(request, staff)}
    return [r for r in rows if r["fund"] in codes]


def projects(request: Request) -> list[dict[str, Any]]:
    return _projections(request).rows(project_views.PROJECTS, order="code")


def project_row(request: Request, code: str) -> dict[str, Any] | None:
    rows = _projections(request).rows(project_views.PROJECTS, "code = ?", (code,))
    return rows[0] if rows else None


def organisations(request: Request, *kinds: str) -> list[dict[str, Any]]:
    rows = _projections(request).rows(town_views.ORGANISATIONS, order="code")
    return [r for r in rows if not kinds or r["kind"] in kinds]


def volunteers(request: Request, query: str = "", limit: int = 200) -> list[dict[str, Any]]:
    rows = _projections(request).rows(hour_views.VOLUNTEERS, order="number")
    q = query.strip().lower()
    return [r for r in rows if not q or q in r["number"].lower() or q in (r["name"] or "").lower()][:limit]


def lag(request: Request):
    """How far the views are behind the log (position, head, events behind)."""
    return _projections(request).status()


def recent_events(request: Request, *, types: frozenset[str] | set[str] = REVERSIBLE, query: str = "",
                  limit: int = 50, scan: int = 5000) -> list[dict[str, Any]]:
    """The newest events of ``types``, newest first, whose stream, type or payload text contains
    ``query``; read from the log (at most ``scan`` events back). For listing only: a correction
    reads and verifies its event again through the ledger."""
    ledger = request.app.state.ledger
    head = ledger.recorder.max_notification_id() or 0
    q = query.strip().lower()
    found: list[dict[str, Any]] = []
    stop = head
    while stop >= 1 and len(found) < limit and head - stop < scan:
        start = max(1, stop - 499)
        page = ledger.recorder.select_notifications(start=start, limit=stop - start + 1)
        for stored in reversed(page):
            if stored.topic not in types:
                continue
            try:
                sealed = open_sealed(bytes(stored.state), stream=str(stored.originator_id),
                                     version=stored.originator_version, topic=stored.topic)
            except EnvelopeError:
                continue
            row = {"position": stored.id, "type": stored.topic, "stream": str(stored.originator_id),
                   "version": stored.originator_version, "payload": sealed.payload,
                   "timestamp": sealed.timestamp.isoformat()}
            text = f"{stored.id} {stored.topic} {row['stream']} {sealed.payload}".lower()
            if q and q not in text:
                continue
            found.append(row)
            if len(found) >= limit:
                break
        stop = start - 1
    return found
