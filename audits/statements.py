"""The published 民非 statements (会民非01/02/03表) in the bundle, recomputed from its verified events.

At export the bundle carries each foundation's statements of every report year as the ledger
computed them (``published``); the auditor reads the same general ledger from the replayed history
up to each statement's log position (``ledger.statements`` over the audit's entries, nothing the
operator computed) and names every line that differs, and every statement that does not tie out.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from audits.findings import CRITICAL, ERROR, Finding
from ledger.statements import Period, read_books, statements

FOUNDATION_KINDS = ("foundation", "community_foundation")


def foundations(events: Sequence[Any]) -> list[str]:
    """The foundations a history registers, in code order."""
    return sorted(e.payload["code"] for e in events
                  if e.type == "Organisation.Registered" and e.payload.get("kind") in FOUNDATION_KINDS)


def published(ledger: Any, years: Sequence[int]) -> list[dict[str, Any]]:
    """Each foundation's statements of each year, as the ledger computes them from its verified log."""
    from ledger.statements import verified_events

    events = list(verified_events(ledger))
    books = read_books(events)
    return [statements(books, code, Period.of(year)) for code in foundations(events) for year in years]


def compare(entries: Sequence[Any], reports: Sequence[dict[str, Any]]) -> tuple[list[Finding], int]:
    """Findings for published statements the events do not reproduce or that do not tie out; and how
    many were reproduced."""
    from audits.figures import _differences

    findings, matched = [], 0
    books_at: dict[int, Any] = {}
    for doc in reports:
        try:
            position = int(doc["position"])
            code = doc["foundation"]["code"]
            period = Period(doc["period"]["kind"], int(doc["period"]["year"]), int(doc["period"]["number"]))
            if position not in books_at:
                books_at[position] = read_books([e for e in entries if e.position <= position])
            again = statements(books_at[position], code, period)
        except (KeyError, TypeError, ValueError) as exc:
            findings.append(Finding("integrity.statements", CRITICAL, f"a published statement cannot be read: {exc}",
                                    "无法读取已公布的会计报表"))
            continue
        label = f"{code} {doc['period'].get('label_en')}"
        differences = list(_differences(_comparable(doc), _comparable(again)))
        if differences:
            shown = "; ".join(f"{path}: published {a!r}, events give {b!r}" for path, a, b in differences[:5])
            findings.append(Finding("integrity.statements", CRITICAL,
                                    f"published statements of {label} differ from the events: {shown}",
                                    f"{label} 公布的会计报表与事件重算结果不符（{len(differences)} 处）",
                                    details={"differences": [{"path": p, "published": a, "recomputed": b}
                                                             for p, a, b in differences[:50]]}))
            continue
        matched += 1
        for part in (again, *again.get("memos", [])):
            if not part["checks"]["ok"]:
                scope = part["scope"].get("fund") or code
                findings.append(Finding("accounting.tie-out", ERROR, f"the statements of {scope} "
                                        f"{doc['period'].get('label_en')} do not tie out: {part['checks']}",
                                        f"{scope} {doc['period'].get('label_zh')} 会计报表勾稽关系不符", fund=scope))
    return findings, matched


def _comparable(doc: dict[str, Any]) -> dict[str, Any]:
    """A statement without what only describes it (the standard's note may differ between versions)."""
    return {k: v for k, v in doc.items() if k not in ("standard",)}


def report_years(years: Sequence[int], today: date) -> list[int]:
    """The years whose statements a bundle publishes: the transparency reports' years."""
    return [y for y in years if y <= today.year]
