"""Rows written alongside a command's events share their transaction, on SQLite and PostgreSQL:
committed together, and if the extra write fails the events are rolled back too."""

from __future__ import annotations

import pytest
from vocabulary import balance, donate, open_general

from ledger.intransaction import also_in_transaction


class Boom(Exception):
    pass


def _table(c) -> str:
    t = c.ledger.tables
    with t.transaction(commit=True) as cursor:
        cursor.execute(f"CREATE TABLE IF NOT EXISTS {t.table('side_rows')} (ident TEXT, streams TEXT)")
    return t.table("side_rows")


def test_the_writer_sees_the_command_and_commits_with_its_events(cast):
    table = _table(cast)
    open_general(cast, "GEN")
    seen = []

    def writer(cursor, ident, streams):
        seen.append((ident, streams))
        cursor.execute(f"INSERT INTO {table} (ident, streams) VALUES (?, ?)", (ident, repr(streams)))

    with also_in_transaction(writer):
        recorded = donate(cast, "GEN", 500)
    assert seen == [(recorded.ident, list(recorded.streams))]
    assert cast.ledger.tables.fetchall(f"SELECT ident FROM {table}") == [(recorded.ident,)]
    donate(cast, "GEN", 700)  # outside the block: no writer runs
    assert len(cast.ledger.tables.fetchall(f"SELECT ident FROM {table}")) == 1


def test_a_failing_writer_rolls_back_the_events(cast):
    open_general(cast, "GEN")
    donate(cast, "GEN", 500)
    head = cast.ledger.recorder.max_notification_id()

    def writer(cursor, ident, streams):
        raise Boom(ident)

    with pytest.raises(Boom), also_in_transaction(writer):
        donate(cast, "GEN", 900)
    assert cast.ledger.recorder.max_notification_id() == head
    assert balance(cast, "GEN") == 500
    # the ledger's cached aggregate must not keep the unsaved donation either
    assert donate(cast, "GEN", 1).positions[0] == head + 1
    assert balance(cast, "GEN") == 501
