"""Volunteer hours (志愿服务时长): by volunteer and by organisation (internal), and by street-town,
domain and day (public figures aggregate these; no personal data leaves them)."""

from __future__ import annotations

from collections.abc import Iterator

from projections.base import Change, ChangeT, Event, Reader, Table, rolled

VOLUNTEERS = Table("view_volunteers", keys=("number",), counters=("minutes", "sessions"),
                   attributes=("name", "street_town", "name_public", "registered_on"), integers=("name_public",))
BY_ORGANISATION = Table("view_hours_by_organisation", keys=("organisation", "domain"), counters=("minutes", "sessions"))
HOURED = rolled("view_hours_daily", "view_hours_monthly", "view_hours_yearly", ("street_town", "day", "domain"),
                ("minutes", "sessions"), every=True)
"""Hours per street-town, domain and day, month and year (``*``: the whole district)."""
DAILY = HOURED.daily
SESSIONS = Table("view_service_sessions", keys=("volunteer", "record"),
                 attributes=("organisation", "street_town", "domain", "day", "minutes", "reversed"),
                 integers=("minutes",))
TABLES = (VOLUNTEERS, BY_ORGANISATION, *HOURED.tables, SESSIONS)
TYPES = frozenset({"Volunteer.Registered", "Volunteer.ServiceRecorded", "Volunteer.ServiceReversed"})


def _session(volunteer: str, s: dict, sign: int, day: str) -> Iterator[ChangeT]:
    counted = {"minutes": sign * s["minutes"], "sessions": sign}
    yield Change(VOLUNTEERS.name, (volunteer,), add=counted)
    yield Change(BY_ORGANISATION.name, (s["organisation"], s["domain"]), add=counted)
    yield Change(DAILY.name, (s["street_town"], day, s["domain"]), add=counted)


def fold(event: Event, read: Reader) -> Iterator[ChangeT]:
    p = event.payload
    if event.type == "Volunteer.Registered":
        yield Change(VOLUNTEERS.name, (p["number"],), put={
            "name": p["name"], "street_town": p["street_town"], "name_public": int(p["name_public"]),
            "registered_on": p["registered_on"]})
    elif event.type == "Volunteer.ServiceRecorded":
        yield from _session(event.code, p, +1, p["date"])
        yield Change(SESSIONS.name, (event.code, p["record"]), put={
            "organisation": p["organisation"], "street_town": p["street_town"], "domain": p["domain"],
            "day": p["date"], "minutes": p["minutes"], "reversed": None})
    elif event.type == "Volunteer.ServiceReversed":
        session = read(SESSIONS.name, (event.code, p["record"]))
        # Like money, a correction counts on the day it was made: published days stay as they were.
        yield from _session(event.code, session, -1, event.recorded_on)
        yield Change(SESSIONS.name, (event.code, p["record"]), put={"reversed": event.recorded_on})
