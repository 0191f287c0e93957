"""What a ledger's views must equal: the verified log folded from scratch in memory, and the
postings of every money event, for the tests that check views and books against the log."""

from __future__ import annotations

from collections import defaultdict

from projections import runner
from projections.base import Event, MemoryStore
from projections.runner import Projections

_ENVELOPE = ("originator_id", "originator_version", "originator_topic", "timestamp")


def views(p: Projections) -> dict[str, dict[tuple, dict]]:
    """Every view table's rows, by primary key."""
    return {t.name: {tuple(r[k] for k in t.keys): r for r in p.rows(t)} for t in runner.TABLES}


def verified_log(ledger) -> list[Event]:
    """The whole log, each event's signature and key checked as the ledger's mapper reads it."""
    out = []
    for stored in ledger.log_positions():
        event = ledger.mapper.to_domain_event(stored)
        payload = {k: v for k, v in vars(event).items() if k not in _ENVELOPE}
        out.append(
            Event(
                stored.id, stored.topic, str(stored.originator_id), stored.originator_version, event.timestamp, payload
            )
        )
    return out


def folded(events: list[Event]) -> dict[str, dict[tuple, dict]]:
    """The views' pure folds run over ``events`` in memory, from nothing."""
    store = MemoryStore(runner.TABLES)
    for event in events:
        store.apply(runner.changes_for(event, store.read))
    return {name: dict(rows) for name, rows in store.rows.items()}


def balanced_books(log: list[Event]) -> dict[str, int]:
    """Assert every event's postings balance per commodity; the total per account."""
    by_commodity: dict[str, int] = defaultdict(int)
    by_account: dict[str, int] = defaultdict(int)
    for event in log:
        postings = event.payload.get("postings") or []
        per_event: dict[str, int] = defaultdict(int)
        for posting in postings:
            per_event[posting["commodity"]] += posting["amount"]
            by_commodity[posting["commodity"]] += posting["amount"]
            by_account[posting["account"]] += posting["amount"]
        assert not any(per_event.values()), (event.position, event.type, postings)
    assert not any(by_commodity.values())
    assert by_account["Equity:Interfund"] == 0
    return by_account
