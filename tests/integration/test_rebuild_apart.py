"""A rebuild with the volunteers' events folded by a second process (``projections.fold_apart``), on
SQLite and PostgreSQL: the views and their digests equal those of the incremental runner and of
the in-memory fold, with or without events after the newest checkpoint; if the other process
fails, this one folds its events; and what was folded apart must be what was hashed into the tree."""

from __future__ import annotations

import logging
import sys
from datetime import time

import pytest
from replayed import folded, verified_log, views
from test_projections import busy, more
from vocabulary import hours as record_hours
from vocabulary import log_actor

from ledger.errors import TamperedEvent
from projections import fold_apart, runner
from projections.runner import Projections


@pytest.fixture
def apart(monkeypatch):
    """Every rebuild folds apart, however small its log; the processes started are counted."""
    monkeypatch.setattr(runner, "FOLD_APART_FROM", 0)
    started: list[bool] = []
    real = runner._Apart.__init__

    def counting(self, ledger, through, *, final):
        started.append(final)
        real(self, ledger, through, final=final)

    monkeypatch.setattr(runner._Apart, "__init__", counting)
    return started


def incremental_views(cast) -> tuple[Projections, dict]:
    p = Projections(cast.ledger, batch=6)
    p.run()
    return p, views(p)


def test_folded_apart_equals_the_runner_and_the_fold_when_the_checkpoint_covers_the_log(cast, apart):
    busy(cast)
    cast.ledger.sign_checkpoint(log_actor(cast))
    p, incremental = incremental_views(cast)
    kept = p.written[1]
    assert p.rebuild() == cast.ledger.recorder.max_notification_id()
    assert apart == [True, True]  # the first run into empty views and the rebuild: rolled up and hashed apart
    assert views(p) == incremental == folded(verified_log(cast.ledger))
    assert p.written[1] == kept and p.check().ok
    assert any(views(p)[name] for name in ("view_service_sessions", "view_hours_daily", "view_volunteers"))


def test_folded_apart_then_the_events_after_the_checkpoint_read_the_volunteers_rows(cast, apart):
    busy(cast)
    cast.ledger.sign_checkpoint(log_actor(cast))
    more(cast)
    session = record_hours(cast, time(8), time(9))
    cast.ledger.reverse(cast.recorder, cast.ledger.positions_of(session)[0], reason="录错")  # reads its session
    p, incremental = incremental_views(cast)
    kept = p.written[1]
    assert p.rebuild() == cast.ledger.recorder.max_notification_id()
    assert apart == [False, False]  # both gave their rows back for the events after the checkpoint
    assert views(p) == incremental == folded(verified_log(cast.ledger))
    assert p.written[1] == kept and p.check().ok


def test_when_the_other_process_fails_this_one_folds_its_events(cast, apart, monkeypatch, caplog):
    busy(cast)
    cast.ledger.sign_checkpoint(log_actor(cast))
    p, incremental = incremental_views(cast)
    kept = p.written[1]
    monkeypatch.setattr(sys, "executable", "/bin/false")
    with caplog.at_level(logging.WARNING, logger="projections.runner"):
        p.rebuild()
    assert "folding them in this process" in caplog.text
    assert views(p) == incremental and p.written[1] == kept and p.check().ok


def test_events_folded_apart_that_are_not_those_hashed_into_the_tree_are_refused(cast, apart, monkeypatch):
    busy(cast)
    cast.ledger.sign_checkpoint(log_actor(cast))
    p, incremental = incremental_views(cast)
    position = p.position()
    monkeypatch.setattr(sys, "executable", "/bin/false")  # folded here instead, by a fold that skips one
    real = fold_apart.fold

    def one_short(cursor, rows, through):
        binding = real(cursor, rows, through)
        binding.count -= 1
        return binding

    monkeypatch.setattr(fold_apart, "fold", one_short)
    with pytest.raises(TamperedEvent, match="folded apart are not"):
        p.rebuild()
    assert views(p) == incremental and p.position() == position  # rolled back: the old views stay


def test_a_small_log_is_folded_in_one_process(cast, monkeypatch):
    busy(cast)
    cast.ledger.sign_checkpoint(log_actor(cast))
    p, incremental = incremental_views(cast)
    monkeypatch.setattr(runner, "_Apart", None)  # would fail if used
    assert p.rebuild() and views(p) == incremental
