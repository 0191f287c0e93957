"""What several rule checks share: the funds as opened, how to name a finding, and the shape of a
rule check that can stop after any event, save its running state and go on from it later."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from audits.findings import ERROR, Finding
from audits.replay import Entry, Replay
from ledger.principals import Principal


def funds_opened(entries: Sequence[Entry]) -> dict[str, dict[str, Any]]:
    """Fund code → the payload of its ``Fund.Opened``."""
    return {e.payload["code"]: e.payload for e in entries if e.type == "Fund.Opened"}


def fund_code(entry: Entry) -> str:
    return entry.stream.split(":", 1)[1]


def breach(rule: str, en: str, zh: str, *entries: Entry, severity: str = ERROR, street_town: str | None = None,
           fund: str | None = None, **details: Any) -> Finding:
    return Finding(rule, severity, en, zh, tuple(e.ref() for e in entries), street_town, fund, details)


Principals = Mapping[str, Principal]


class RuleCheck:
    """One rule family run event by event: ``feed`` each verified entry in log order (returns the
    findings that event settles), then ``finish`` (findings that need the whole history, computed
    without changing the state). ``dump`` gives the running state as plain data (msgpack-able) and
    ``load`` restores it, so an incremental audit continues exactly where a full one stopped."""

    def feed(self, e: Entry, principals: Principals) -> list[Finding]:
        return []

    def finish(self, principals: Principals) -> list[Finding]:
        return []

    def dump(self) -> Any:
        return None

    @classmethod
    def load(cls, data: Any) -> RuleCheck:
        return cls()


def run(check: RuleCheck, history: Replay) -> list[Finding]:
    """A rule check over a whole replayed history."""
    findings = [f for e in history.entries for f in check.feed(e, history.principals)]
    return findings + check.finish(history.principals)


def pack(e: Entry, *keep: str) -> list:
    """An entry as plain data, keeping only the payload fields a rule still needs."""
    return [e.position, e.leaf_index, e.stream, e.version, e.type, e.timestamp.isoformat(),
            {k: e.payload[k] for k in keep if k in e.payload}, e.signer]


def unpack(data: Sequence) -> Entry:
    position, leaf, stream, version, type_, timestamp, payload, signer = data
    return Entry(position, leaf, stream, version, type_, datetime.fromisoformat(timestamp), dict(payload), signer)


def pairs(mapping: Mapping[tuple, Any]) -> list[list]:
    """A dict with tuple keys as a list of [*key, value] (msgpack maps want hashable, flat keys)."""
    return [[*key, value] for key, value in mapping.items()]


def unpairs(items: Sequence[Sequence]) -> dict[tuple, Any]:
    return {tuple(item[:-1]): item[-1] for item in items}
