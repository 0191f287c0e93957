"""Group commit of donations (``Ledger.record_donations``) on SQLite and PostgreSQL: one save for
many principals' donations, each event signed by its own recorder's key, refused ones answered
alone, and rows written alongside committing or rolling back with the whole batch."""

from __future__ import annotations

import pytest
from conftest import signer_of
from vocabulary import balance, open_general

from ledger.application import Donation, Ledger
from ledger.errors import FundClosed, InvalidInput, KeyRevoked, NotAuthorised, NotFound


def test_one_save_many_signers_refusals_answered_alone(cast):
    open_general(cast, "A")
    open_general(cast, "B", foundation="OTHERF", actor=cast.other_accountant)
    head = cast.ledger.recorder.max_notification_id()
    answers = cast.ledger.record_donations([
        Donation(cast.accountant, "A", 1_000, "resident", donor_name="张三"),
        Donation(cast.other_accountant, "B", 2_000, "business"),
        Donation(cast.other_accountant, "A", 3_000, "resident"),  # another foundation's fund
        Donation(cast.accountant, "A", 0, "resident"),  # no amount
        Donation(cast.accountant, "NOPE", 5, "resident"),
        Donation(cast.accountant, "A", 4_000, "resident"),
    ])
    assert [type(a).__name__ for a in answers] == ["Recorded", "Recorded", "NotAuthorised", "InvalidInput",
                                                   "NotFound", "Recorded"]
    assert isinstance(answers[2], NotAuthorised) and answers[3].field == "amount"
    assert isinstance(answers[4], NotFound)
    positions = sorted(p for a in answers if not isinstance(a, Exception) for p in a.positions)
    assert positions == list(range(head + 1, head + 4))
    assert [signer_of(cast.ledger, a.positions[0]) for a in (answers[0], answers[1], answers[5])] == [
        "acct", "acct-other", "acct"]
    assert balance(cast, "A") == 5_000 and balance(cast, "B") == 2_000
    assert len({a.ident for a in answers if not isinstance(a, Exception)}) == 3
    assert cast.ledger.fund("A").version == 3  # opened, then two donations in one save


def test_rows_alongside_commit_or_roll_back_with_the_whole_batch(cast):
    open_general(cast, "A")
    t = cast.ledger.tables
    with t.transaction(commit=True) as cursor:
        cursor.execute(f"CREATE TABLE IF NOT EXISTS {t.table('batch_rows')} (ident TEXT, stream TEXT, version INTEGER)")

    def rows(cursor, planned):
        for plan in planned:
            if not isinstance(plan, Exception):
                (stream, version), = plan.streams
                cursor.execute(f"INSERT INTO {t.table('batch_rows')} VALUES (?, ?, ?)", (plan.ident, stream, version))

    answers = cast.ledger.record_donations([Donation(cast.accountant, "A", 100, "resident"),
                                            Donation(cast.accountant, "A", 0, "resident"),
                                            Donation(cast.accountant, "A", 200, "resident")], alongside=rows)
    written = t.fetchall(f"SELECT ident, stream, version FROM {t.table('batch_rows')} ORDER BY version")
    assert written == [(answers[0].ident, "fund:A", 2), (answers[2].ident, "fund:A", 3)]

    head = cast.ledger.recorder.max_notification_id()

    def fail(cursor, planned):
        raise RuntimeError("the row could not be written")

    with pytest.raises(RuntimeError):
        cast.ledger.record_donations([Donation(cast.accountant, "A", 100, "resident")] * 3, alongside=fail)
    assert cast.ledger.recorder.max_notification_id() == head
    assert balance(cast, "A") == 300
    # The failed batch changed its funds in memory only: the next batch starts from the store.
    answers = cast.ledger.record_donations([Donation(cast.accountant, "A", 50, "resident")])
    assert answers[0].streams == (("fund:A", 4),)
    assert balance(cast, "A") == 350


def _other_process(cast) -> Ledger:
    """A second Ledger on the same store: another server process, with nothing in common in memory."""
    return Ledger(cast.ledger.settings, database_url=cast.ledger.database_url)


def test_funds_kept_between_batches_see_what_other_processes_stored(cast):
    open_general(cast, "A")
    cast.ledger.record_donations([Donation(cast.accountant, "A", 100, "resident")])
    other = _other_process(cast)
    try:
        other.record_donation(cast.accountant, "A", 1_000, donor_type="resident")
    finally:
        other.close()
    answer, = cast.ledger.record_donations([Donation(cast.accountant, "A", 10, "resident")])
    assert answer.streams == (("fund:A", 4),)  # after the other process's event, not over it
    assert balance(cast, "A") == 1_110


def test_a_revocation_by_another_process_stops_the_next_batch(cast):
    open_general(cast, "A")
    cast.ledger.record_donations([Donation(cast.accountant, "A", 100, "resident")])
    other = _other_process(cast)
    try:
        other.revoke_key(cast.root, cast.accountant.key.key_id, "离职 left")
    finally:
        other.close()
    answer, = cast.ledger.record_donations([Donation(cast.accountant, "A", 100, "resident")])
    assert isinstance(answer, KeyRevoked)
    assert balance(cast, "A") == 100


def test_a_fund_closed_by_another_process_refuses_the_next_batch(cast):
    open_general(cast, "A")
    refused, = cast.ledger.record_donations([Donation(cast.accountant, "A", 0, "resident")])  # A is loaded, kept
    assert isinstance(refused, InvalidInput)
    other = _other_process(cast)
    try:
        other.close_fund(cast.accountant, "A", "项目结束 project over")
    finally:
        other.close()
    answer, = cast.ledger.record_donations([Donation(cast.accountant, "A", 100, "resident")])
    assert isinstance(answer, FundClosed)
    assert balance(cast, "A") == 0
