"""The base of every ledger aggregate: string stream ids and plain-JSON event fields.

Event fields hold only JSON values (str, int, bool, None, lists and dicts of them): ids are strings,
dates are ISO strings, money is integer fen. That keeps the signed canonical bytes obvious to an
outside verifier, and lets the one mapper in ``ledger.mapper`` encode every event the same way.
"""

from __future__ import annotations

from datetime import datetime

from eventsourcing.domain import BaseAggregate, CanInitAggregate, CanMutateAggregate, MetaDomainEvent


class LedgerAggregate(BaseAggregate[str]):
    """An event-sourced aggregate whose id is a readable stream name such as ``fund:XX-ELDER``."""

    class Event(CanMutateAggregate[str], metaclass=MetaDomainEvent):
        originator_id: str
        originator_version: int
        timestamp: datetime

    class Created(Event, CanInitAggregate[str]):
        originator_topic: str
