"""Helpers for the audit tests: plant signed events behind the application's back, shift rows in
the log, and audit a ledger the way an auditor would, from a bundle."""

from __future__ import annotations

from datetime import UTC, datetime

from eventsourcing.persistence import StoredEvent

from audits.bundle import collect
from audits.verify import AuditResult, audit
from ledger.envelope import seal
from ledger.signing import SigningKey


def plant(ledger, stream: str, type_name: str, payload: dict, key: SigningKey, *, version: int | None = None,
          timestamp: datetime | None = None) -> int:
    """Sign and store an event with a real key, skipping every command check (a test-only writer,
    playing an insider with a valid key or an operator with database access). Returns its position."""
    if version is None:
        last = ledger.tables.first_version_after(stream, 0)[1]
        version = (last or 0) + 1
    state = seal(stream=stream, version=version, type_name=type_name,
                 timestamp=timestamp or datetime.now(UTC), payload=payload, key=key)
    [position] = ledger.recorder.insert_events(
        [StoredEvent(originator_id=stream, originator_version=version, topic=type_name, state=state)])
    return position


def audited(ledger, *, figures: bool = True, **options) -> AuditResult:
    """Export the ledger into a bundle in memory and audit it."""
    return audit(collect(ledger, figures=figures), reference=ledger.reference, **options)


def rules_of(result: AuditResult) -> set[str]:
    return {f.rule for f in result.findings}


def named(result: AuditResult, rule: str) -> list[tuple]:
    """(position, stream, version) of every event the findings of ``rule`` name."""
    return [(e.position, e.stream, e.version) for f in result.findings if f.rule == rule for e in f.events]
