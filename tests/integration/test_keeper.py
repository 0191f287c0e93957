"""The server's keeper (projections/keeper.py), on SQLite and PostgreSQL: the periodic check of the
views runs in a thread of its own, so new events reach the views while a long check reads, and on
a large ledger that thread has a process of its own do the reading."""

from __future__ import annotations

import threading

from rawsql import RawSQL
from vocabulary import donate, open_general

from projections.keeper import Keeper
from projections.runner import Projections


def test_the_runner_folds_while_a_check_of_the_views_reads(cast, monkeypatch):
    open_general(cast, "GEN")
    donate(cast, "GEN", 10_000)
    projections = Projections(cast.ledger)
    keeper = Keeper(cast.ledger, projections, interval=0.05, check_interval=0)
    reading, release = threading.Event(), threading.Event()
    check = Projections.check

    def slow_check(self):
        reading.set()
        assert release.wait(60)
        return check(self)

    monkeypatch.setattr(Projections, "check", slow_check)
    keeper.start()
    try:
        assert reading.wait(30), "no check started"
        late = donate(cast, "GEN", 2_500).positions[0]
        assert keeper.wait_for(late, 30), "the views did not take a new event while the check read"
        assert keeper.views_check is None  # the check is still reading
    finally:
        release.set()
        keeper.stop()
    assert keeper.views_check is not None and keeper.views_check.ok
    assert keeper.views_check.position >= 2


def test_a_large_ledgers_check_reads_in_a_process_of_its_own_and_still_finds_a_poisoned_view(cast, database_url):
    """Past ``check_apart_from`` the check's reading runs in ``python -m projections.check_apart``
    (hashing every row would hold the server's interpreter lock): a clean ledger passes, and a view
    UPDATEd behind the runner's back is found by that process all the same."""
    open_general(cast, "GEN")
    donate(cast, "GEN", 10_000)
    projections = Projections(cast.ledger)
    projections.run()
    keeper = Keeper(cast.ledger, projections, interval=3600, check_interval=0, check_apart_from=0)
    keeper.catch_up()
    assert keeper.check_views().ok and keeper.checked_apart == 1
    RawSQL(cast.ledger, database_url).run(
        (f"UPDATE {projections.tables.table('view_funds')} SET balance = 999999900 WHERE code = ?", ("GEN",)))
    found = keeper.check_views()
    assert found.failed == ("view_funds",) and keeper.checked_apart == 2
    assert keeper.withheld == ("view_funds",)


def test_below_the_threshold_the_check_reads_in_the_runners_process(cast):
    open_general(cast, "GEN")
    projections = Projections(cast.ledger)
    keeper = Keeper(cast.ledger, projections, interval=3600, check_interval=0)
    keeper.catch_up()
    assert keeper.check_views().ok and keeper.checked_apart == 0
