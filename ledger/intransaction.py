"""Rows written in the same database transaction as a command's events.

The API keeps each ``Idempotency-Key`` and its answer beside the events the request wrote, so a
crash can never leave events without their key (a retry would write them twice) or a key without
its events. A caller registers a writer with :func:`also_in_transaction`; the store's recorder calls
it inside the transaction that inserts the events, with the command's business id and the
(stream, version) of every event. If the writer raises, the events are rolled back with it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from eventsourcing.persistence import StoredEvent

Writer = Callable[[Any, str, list[tuple[str, int]]], None]
"""``writer(cursor, ident, streams)``: ``cursor`` is a :class:`ledger.sidetables.Cursor`."""

_WRITER: ContextVar[Writer | None] = ContextVar("wushe_in_transaction_writer", default=None)
_IDENT: ContextVar[str | None] = ContextVar("wushe_saving_ident", default=None)


@contextmanager
def _set(var: ContextVar, value: Any) -> Iterator[None]:
    token = var.set(value)
    try:
        yield
    finally:
        var.reset(token)


def also_in_transaction(writer: Writer):
    """Commands run inside this block call ``writer`` in the transaction of their events."""
    return _set(_WRITER, writer)


def saving(ident: str):
    """Names the business id of the events being saved (set by ``Ledger._save``)."""
    return _set(_IDENT, ident)


def write_alongside(recorder: Any, raw_cursor: Any, stored_events: Sequence[StoredEvent]) -> None:
    """Called by the recorders inside the events' transaction: run the registered writer, once."""
    writer = _WRITER.get()
    if writer is None or not stored_events:
        return
    from ledger.sidetables import Cursor, SideTables

    streams = [(str(e.originator_id), e.originator_version) for e in stored_events]
    writer(Cursor(raw_cursor, SideTables(recorder)), _IDENT.get() or "", streams)
