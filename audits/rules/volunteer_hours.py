"""Volunteer-hour plausibility (志愿服务时长): per volunteer, no more than 24 hours a day, no two
sessions overlapping, minutes that agree with the times, and each record signed by a recorder of
the organising body (谁组织谁记录, 民政部令第67号). Reversed records no longer count.

The day totals and overlaps are judged at the end over the live records; an incremental audit
judges again only the days its new events touched and keeps the others' findings."""

from __future__ import annotations

import itertools
from typing import Any

from audits.findings import Finding
from audits.replay import Entry, Replay
from audits.rules.common import Principals, RuleCheck, breach, pack, run, unpack
from ledger.principals import RECORDER

DAY = 24 * 60


def _minute(hhmm: str) -> int:
    hours, minutes = hhmm.split(":")
    return int(hours) * 60 + int(minutes)


class Check(RuleCheck):
    def __init__(self, days: dict[str, dict[str, Entry]] | None = None, judged: dict[str, list[Finding]] | None = None,
                 touched: set[str] | None = None) -> None:
        self.days = days or {}
        """``volunteer|date`` → record → its live ``Volunteer.ServiceRecorded``, in the order recorded (as
        loaded from a state: packed, unpacked only when its day is judged again)."""
        self.day_of: dict[tuple[str, str], str] = {(k.split("|", 1)[0], record): k
                                                   for k, records in self.days.items() for record in records}
        self.judged = judged or {}
        """``volunteer|date`` → the findings of that day as last judged (only days with findings)."""
        self.touched = touched if touched is not None else set()
        """Days changed since they were last judged."""

    def dump(self) -> Any:
        judged = {**self.judged, **self._judge_touched()}
        return {"days": {k: {r: _packed(e) for r, e in records.items()} for k, records in self.days.items()},
                "judged": {k: [f.as_json() for f in fs] for k, fs in judged.items() if fs}}

    @classmethod
    def load(cls, data: Any) -> Check:
        from audits.state import finding_from_json

        return cls(data["days"],
                   {k: [finding_from_json(f) for f in fs] for k, fs in data["judged"].items()})

    def feed(self, e: Entry, principals: Principals) -> list[Finding]:
        volunteer = e.stream.partition(":")[2]
        if e.type == "Volunteer.ServiceReversed":
            self._drop(volunteer, e.payload.get("record"))
        elif e.type == "Volunteer.ServiceRecorded":
            findings = _record(principals, e, volunteer)
            record = e.payload.get("record")
            self._drop(volunteer, record)
            day = f"{volunteer}|{e.payload['date']}"
            self.days.setdefault(day, {})[record] = e
            self.day_of[(volunteer, record)] = day
            self.touched.add(day)
            return findings
        return []

    def _drop(self, volunteer: str, record: Any) -> None:
        day = self.day_of.pop((volunteer, record), None)
        if day is not None:
            self.days[day].pop(record, None)
            if not self.days[day]:
                del self.days[day]
            self.touched.add(day)

    def _judge_touched(self) -> dict[str, list[Finding]]:
        return {day: _judge(day, [_entry(e) for e in self.days.get(day, {}).values()]) for day in self.touched}

    def finish(self, principals: Principals) -> list[Finding]:
        judged = {**self.judged, **self._judge_touched()}
        return [f for day in sorted(judged, key=lambda k: tuple(k.split("|", 1))) for f in judged[day]]


def _packed(e: Entry | list) -> list:
    return pack(e, "date", "start", "end", "street_town") if isinstance(e, Entry) else e


def _entry(e: Entry | list) -> Entry:
    return e if isinstance(e, Entry) else unpack(e)


def _judge(day_key: str, sessions: list[Entry]) -> list[Finding]:
    if not sessions:
        return []
    volunteer, day = day_key.split("|", 1)
    findings = []
    town = sessions[0].payload.get("street_town")
    sessions.sort(key=lambda s: _minute(s.payload["start"]))
    total = sum(_minute(s.payload["end"]) - _minute(s.payload["start"]) for s in sessions)
    if total > DAY:
        findings.append(breach("hours.over-24", f"volunteer {volunteer} has {total / 60:.1f} hours on {day}",
                               f"志愿者 {volunteer} 在 {day} 服务 {total / 60:.1f} 小时，超过24小时",
                               *sessions, street_town=town, minutes=total))
    for a, b in itertools.pairwise(sessions):
        if _minute(b.payload["start"]) < _minute(a.payload["end"]):
            findings.append(breach("hours.overlap", f"volunteer {volunteer} has overlapping sessions on {day}: "
                                   f"{a.payload['start']}–{a.payload['end']} and {b.payload['start']}–{b.payload['end']}",
                                   f"志愿者 {volunteer} 在 {day} 的服务时段重叠", a, b, street_town=town))
    return findings


def check(history: Replay) -> list[Finding]:
    return run(Check(), history)


def _record(principals: Principals, e: Entry, volunteer: str) -> list[Finding]:
    p, town = e.payload, e.payload.get("street_town")
    findings = []
    start, end = _minute(p["start"]), _minute(p["end"])
    if end <= start or end - start != p.get("minutes"):
        findings.append(breach("hours.times", f"record {p.get('record')} of volunteer {volunteer}: {p['start']}–"
                               f"{p['end']} is not {p.get('minutes')} minutes",
                               f"服务记录 {p.get('record')} 的起止时间与分钟数不符", e, street_town=town))
    principal = principals.get(e.signer)
    if principal is None or RECORDER not in principal.roles or principal.organisation != p.get("organisation"):
        findings.append(breach("hours.recorder", f"record {p.get('record')} for {p.get('organisation')} was signed by "
                               f"{e.signer}, not a recorder of that organisation",
                               f"服务记录 {p.get('record')} 不是由组织方 {p.get('organisation')} 的记录人签署",
                               e, street_town=town))
    return findings
