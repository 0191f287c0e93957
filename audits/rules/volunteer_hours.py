"""Volunteer-hour plausibility (志愿服务时长): per volunteer, no more than 24 hours a day, no two
sessions overlapping, minutes that agree with the times, and each record signed by a recorder of
the organising body (谁组织谁记录, 民政部令第67号). Reversed records no longer count."""

from __future__ import annotations

import itertools
from collections import defaultdict

from audits.findings import Finding
from audits.replay import Entry, Replay
from audits.rules.common import breach
from ledger.principals import RECORDER

DAY = 24 * 60


def _minute(hhmm: str) -> int:
    hours, minutes = hhmm.split(":")
    return int(hours) * 60 + int(minutes)


def check(history: Replay) -> list[Finding]:
    live: dict[tuple[str, str], Entry] = {}
    findings = []
    for e in history.entries:
        volunteer = e.stream.partition(":")[2]
        if e.type == "Volunteer.ServiceReversed":
            live.pop((volunteer, e.payload.get("record")), None)
        elif e.type == "Volunteer.ServiceRecorded":
            findings += _record(history, e, volunteer)
            live[(volunteer, e.payload.get("record"))] = e
    by_day: dict[tuple[str, str], list[Entry]] = defaultdict(list)
    for (volunteer, _), e in live.items():
        by_day[(volunteer, e.payload["date"])].append(e)
    for (volunteer, day), sessions in sorted(by_day.items()):
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


def _record(history: Replay, e: Entry, volunteer: str) -> list[Finding]:
    p, town = e.payload, e.payload.get("street_town")
    findings = []
    start, end = _minute(p["start"]), _minute(p["end"])
    if end <= start or end - start != p.get("minutes"):
        findings.append(breach("hours.times", f"record {p.get('record')} of volunteer {volunteer}: {p['start']}–"
                               f"{p['end']} is not {p.get('minutes')} minutes",
                               f"服务记录 {p.get('record')} 的起止时间与分钟数不符", e, street_town=town))
    principal = history.principals.get(e.signer)
    if principal is None or RECORDER not in principal.roles or principal.organisation != p.get("organisation"):
        findings.append(breach("hours.recorder", f"record {p.get('record')} for {p.get('organisation')} was signed by "
                               f"{e.signer}, not a recorder of that organisation",
                               f"服务记录 {p.get('record')} 不是由组织方 {p.get('organisation')} 的记录人签署",
                               e, street_town=town))
    return findings
