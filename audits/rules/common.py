"""What several rule checks read from the history: the funds as opened, and how to name a finding."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from audits.findings import ERROR, Finding
from audits.replay import Entry


def funds_opened(entries: Sequence[Entry]) -> dict[str, dict[str, Any]]:
    """Fund code → the payload of its ``Fund.Opened``."""
    return {e.payload["code"]: e.payload for e in entries if e.type == "Fund.Opened"}


def fund_code(entry: Entry) -> str:
    return entry.stream.split(":", 1)[1]


def breach(rule: str, en: str, zh: str, *entries: Entry, severity: str = ERROR, street_town: str | None = None,
           fund: str | None = None, **details: Any) -> Finding:
    return Finding(rule, severity, en, zh, tuple(e.ref() for e in entries), street_town, fund, details)
