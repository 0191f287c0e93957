"""Per project (项目): budget, requested, approved and paid, milestones, residents' satisfaction;
and every disbursement (拨付) with its approval reference (批文号)."""

from __future__ import annotations

from collections.abc import Iterator

from ledger.events import EVENT_TYPES
from projections.base import Change, ChangeT, Event, Reader, Table, as_json, rolled

PROJECTS = Table(
    "view_projects", keys=("code",),
    counters=("requested", "approved", "paid", "payments", "evaluations", "respondents", "satisfied"),
    attributes=("name", "street_town", "community", "domain", "organisation", "budget", "funding_source",
                "approval_ref", "starts_on", "ends_on", "milestones"),
    integers=("budget",), indexes=(("street_town", "code"), ("domain", "code")),
)
"""``requested``: awaiting approval; ``approved``: approved, paid or not; ``satisfied``: the sum
over surveys of score × respondents, so satisfied / respondents is the weighted satisfaction."""
MILESTONES = Table("view_project_milestones", keys=("project", "milestone"), counters=("planned", "paid"))
DISBURSEMENTS = Table(
    "view_disbursements", keys=("number",),
    attributes=("fund", "kind", "project", "payee", "amount", "milestone", "domain", "street_town", "purpose",
                "status", "requested_on", "approved_on", "approval_ref", "paid_on", "reversed_on"),
    integers=("amount",), indexes=(("paid_on",), ("reversed_on",)),
)
"""Indexed by the days paid and reversed, so a report reads only its period's payments."""
PAID = rolled("view_project_paid_daily", "view_project_paid_monthly", "view_project_paid_yearly",
              ("street_town", "day", "project", "approval_ref"), ("paid", "paid_count", "reversed", "reversed_count"),
              every=True)
"""Project payments per street-town, day (month, year) and project: paid on the day it was paid
(under its approval reference), reversed on the day of the reversal (reference ``""``), so a
report's projects for any period are sums of a few rows per project."""
TABLES = (PROJECTS, MILESTONES, DISBURSEMENTS, *PAID.tables)
TYPES = frozenset(t for t in EVENT_TYPES if t.startswith(("Project.", "Disbursement.")))


def fold(event: Event, read: Reader) -> Iterator[ChangeT]:
    p = event.payload
    if event.type == "Project.Registered":
        yield Change(PROJECTS.name, (p["code"],), put={
            "name": p["name"], "street_town": p["street_town"], "community": p["community"], "domain": p["domain"],
            "organisation": p["organisation"], "budget": p["budget"], "funding_source": p["funding_source"],
            "approval_ref": p["approval_ref"], "starts_on": p["starts_on"], "ends_on": p["ends_on"],
            "milestones": as_json(p["milestones"])})
        for milestone in p["milestones"]:
            yield Change(MILESTONES.name, (p["code"], milestone["name"]), add={"planned": milestone["amount"]})
    elif event.type == "Project.PaymentRecorded":
        yield Change(PROJECTS.name, (event.code,), add={"paid": p["amount"], "payments": 1})
        if p["milestone"]:
            yield Change(MILESTONES.name, (event.code, p["milestone"]), add={"paid": p["amount"]})
    elif event.type == "Project.PaymentReversed":
        yield Change(PROJECTS.name, (event.code,), add={"paid": -p["amount"], "payments": -1})
        milestone = (read(DISBURSEMENTS.name, (p["disbursement"],)) or {}).get("milestone")
        if milestone:
            yield Change(MILESTONES.name, (event.code, milestone), add={"paid": -p["amount"]})
    elif event.type == "Project.Evaluated":
        yield Change(PROJECTS.name, (event.code,), add={
            "evaluations": 1, "respondents": p["respondents"], "satisfied": p["score"] * p["respondents"]})
    elif event.type.startswith("Disbursement."):
        yield from _disbursement(event, read)


def _disbursement(event: Event, read: Reader) -> Iterator[ChangeT]:
    p, number = event.payload, event.code
    if event.type == "Disbursement.Requested":
        yield Change(DISBURSEMENTS.name, (number,), put={
            "fund": p["fund"], "kind": p["kind"], "project": p["project"], "payee": p["payee"], "amount": p["amount"],
            "milestone": p["milestone"], "domain": p["domain"], "street_town": p["street_town"],
            "purpose": p["purpose"], "status": "requested", "requested_on": p["requested_on"]})
        if p["project"]:
            yield Change(PROJECTS.name, (p["project"],), add={"requested": p["amount"]})
        return
    known = read(DISBURSEMENTS.name, (number,))
    project, amount = known["project"], known["amount"]
    if event.type == "Disbursement.Approved":
        yield Change(DISBURSEMENTS.name, (number,), put={
            "status": "approved", "approved_on": p["approved_on"], "approval_ref": p["approval_ref"]})
        if project:
            yield Change(PROJECTS.name, (project,), add={"requested": -amount, "approved": amount})
    elif event.type == "Disbursement.Rejected":
        yield Change(DISBURSEMENTS.name, (number,), put={"status": "rejected"})
        if project:
            yield Change(PROJECTS.name, (project,), add={"requested": -amount})
    elif event.type == "Disbursement.Paid":
        yield Change(DISBURSEMENTS.name, (number,), put={"status": "paid", "paid_on": p["paid_on"]})
        if known["kind"] == "project" and project and p["paid_on"]:
            yield Change(PAID.daily.name, (known["street_town"] or "", p["paid_on"], project, known["approval_ref"] or ""),
                         add={"paid": amount, "paid_count": 1, "reversed": 0, "reversed_count": 0})
    elif event.type == "Disbursement.Reversed":
        yield Change(DISBURSEMENTS.name, (number,), put={"status": "reversed", "reversed_on": event.recorded_on})
        if known["kind"] == "project" and project:
            yield Change(PAID.daily.name, (known["street_town"] or "", event.recorded_on, project, ""),
                         add={"paid": 0, "paid_count": 0, "reversed": amount, "reversed_count": 1})
        if project:
            yield Change(PROJECTS.name, (project,), add={"approved": -amount})
