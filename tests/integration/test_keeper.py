"""The server's keeper (projections/keeper.py), on SQLite and PostgreSQL: the periodic check of the
views runs in a thread of its own, so new events reach the views while a long check reads."""

from __future__ import annotations

import threading

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
