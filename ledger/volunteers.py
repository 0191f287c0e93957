"""Volunteers (志愿者) and their service records (志愿服务记录), kept the way 民政部令第67号 asks:
the organising body records, sessions never overlap, corrections are appended."""

from __future__ import annotations

from datetime import date, time

from eventsourcing.domain import event

from ledger.aggregate import LedgerAggregate
from ledger.errors import AlreadyReversed, HoursImpossible, HoursOverlap, InvalidInput, NotFound
from ledger.messages import msg

MINUTES_PER_DAY = 24 * 60


def volunteer_id(number: str) -> str:
    return f"volunteer:{number}"


class Volunteer(LedgerAggregate):
    """A registered volunteer and every service session recorded for them."""

    @staticmethod
    def create_id(number: str) -> str:
        return volunteer_id(number)

    @event("Registered")
    def __init__(self, number: str, name: str, street_town: str, registered_on: str, name_public: bool) -> None:
        self.number = number
        self.name = name
        self.street_town = street_town
        self.registered_on = registered_on
        self.name_public = name_public
        # record id -> (date, start minute, end minute, organisation)
        self.sessions: dict[str, tuple[str, int, int, str]] = {}

    def record_service(
        self, *, record: str, organisation: str, street_town: str, domain: str, on: date,
        start: time, end: time, content: str, imported: dict | None = None,
    ) -> None:
        """Rule 4: a session ends after it starts on the same day, overlaps no other, and the
        day's total stays within 24 hours. ``imported`` names the row of an uploaded sign-in
        sheet it came from ({"source", "reference"})."""
        if not content.strip():
            raise InvalidInput("content", msg("describe the service given"))
        first, last = start.hour * 60 + start.minute, end.hour * 60 + end.minute
        if end == time(0, 0):
            last = MINUTES_PER_DAY  # a session may run to midnight
        if last <= first:
            raise HoursImpossible(msg("the session {start}–{end} does not end after it starts; split a session "
                                      "across midnight in two", start=f"{start:%H:%M}", end=f"{end:%H:%M}"), field="end")
        day = on.isoformat()
        same_day = [(s, e, r) for r, (d, s, e, _) in self.sessions.items() if d == day]
        for s, e, other in same_day:
            if first < e and s < last:
                raise HoursOverlap(msg("volunteer {number} already has a session {start}–{end} on {day} (record {other})",
                                       number=self.number, start=_hhmm(s), end=_hhmm(e), day=day, other=other),
                                   field="start")
        if sum(e - s for s, e, _ in same_day) + (last - first) > MINUTES_PER_DAY:
            raise HoursImpossible(msg("more than 24 hours of service on {day}", day=day), field="end")
        self._service_recorded(
            record=record, organisation=organisation, street_town=street_town, domain=domain,
            date=day, start=_hhmm(first), end=_hhmm(last), minutes=last - first, content=content.strip(),
            imported=imported,
        )

    def reverse_service(self, *, record: str, reverses: dict, reason: str) -> None:
        if record not in self.sessions:
            raise AlreadyReversed(msg("service record {record} was already reversed", record=record))
        self._service_reversed(record=record, reverses=reverses, reason=reason)

    def organisation_of(self, record: str) -> str:
        try:
            return self.sessions[record][3]
        except KeyError:
            raise NotFound("service record", record) from None

    @event("ServiceRecorded")
    def _service_recorded(
        self, record: str, organisation: str, street_town: str, domain: str, date: str,
        start: str, end: str, minutes: int, content: str, imported: dict | None = None,
    ) -> None:
        first = _minutes(start)
        self.sessions[record] = (date, first, first + minutes, organisation)

    @event("ServiceReversed")
    def _service_reversed(self, record: str, reverses: dict, reason: str) -> None:
        del self.sessions[record]


def _hhmm(minutes: int) -> str:
    return "24:00" if minutes == MINUTES_PER_DAY else f"{minutes // 60:02d}:{minutes % 60:02d}"


def _minutes(hhmm: str) -> int:
    hours, minutes = hhmm.split(":")
    return int(hours) * 60 + int(minutes)
