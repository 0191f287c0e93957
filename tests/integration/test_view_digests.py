"""Views poisoned behind the runner's back (issue #17, item 10), on SQLite and PostgreSQL: the
runner keeps a digest of each view with the log position; ``Projections.check`` recomputes them
from the rows and names each view an UPDATE changed; ``wushe projections check`` exits 1."""

from __future__ import annotations

from datetime import time

import pytest
from rawsql import RawSQL
from typer.testing import CliRunner
from vocabulary import donate, hours, open_general, open_restricted, pay, project, register_volunteer

from projections import digest
from projections.runner import TABLES, Projections


@pytest.fixture
def busy(cast):
    """Funds, donations, a project paid, volunteer hours: most views hold rows."""
    open_general(cast, "GEN")
    open_restricted(cast, "OLD")
    project(cast, "P1")
    for fen in (10_000, 25_000, 7_500):
        donate(cast, "GEN", fen)
    donate(cast, "OLD", 40_000)
    register_volunteer(cast)
    hours(cast, time(9), time(11, 30))
    return cast


def poison(cast, database_url, sql: str, params: tuple = ()) -> None:
    raw = RawSQL(cast.ledger, database_url)
    raw.run((sql.format(**{t.name: Projections(cast.ledger).tables.table(t.name) for t in TABLES},
                        digests=Projections(cast.ledger).tables.table(digest.DIGESTS)), params))


def test_digests_kept_batch_by_batch_equal_a_rebuild_and_the_rows(busy):
    views = Projections(busy.ledger, batch=3)
    views.run(limit=5)
    views.run()  # the rest, in batches of three
    assert views.check().ok
    kept = views.written[1]
    views.rebuild()
    assert views.written[1] == kept
    pay(busy, "GEN", 5_000, project="P1")
    views.run()
    check = views.check()
    assert check.ok and check.position == busy.ledger.recorder.max_notification_id()


def test_a_view_updated_behind_the_runner_is_named(busy, database_url):
    views = Projections(busy.ledger)
    views.run()
    poison(busy, database_url, "UPDATE {view_funds} SET balance = balance + 100000000 WHERE code = ?", ("GEN",))
    check = views.check()
    assert check.failed == ("view_funds",)
    assert not Projections(busy.ledger).check().ok  # any process sees it, not only the one that folded
    views.rebuild()  # folded again from the signed log
    assert views.check().ok
    assert views.rows(TABLES[0], "code = ?", ("GEN",))[0]["balance"] == 42_500


@pytest.mark.parametrize("chunk", [1, 2, 3])
def test_a_check_read_a_few_rows_at_a_time_equals_the_digests_kept_and_still_names_a_changed_view(
        busy, database_url, monkeypatch, chunk):
    views = Projections(busy.ledger)
    views.run()
    monkeypatch.setattr(digest, "SCAN_ROWS", chunk)  # every view of several rows read in many chunks
    assert views.check().ok
    with views.tables.transaction(commit=False) as cursor:
        kept = digest.load(cursor, views.tables)
        assert all(digest.recompute(cursor, views.tables, t) == kept.get(t.name, 0) for t in TABLES)
        assert sum(digest.recompute(cursor, views.tables, t) != 0 for t in TABLES) > 5  # views with rows
    poison(busy, database_url, "UPDATE {view_funds} SET balance = balance + 1 WHERE code = ?", ("OLD",))
    assert views.check().failed == ("view_funds",)


def test_an_inserted_or_deleted_view_row_is_named(busy, database_url):
    views = Projections(busy.ledger)
    views.run()
    poison(busy, database_url, "DELETE FROM {view_town_donors}")
    poison(busy, database_url, "UPDATE {view_volunteers} SET minutes = 0")
    assert set(views.check().failed) == {"view_town_donors", "view_volunteers"}


def test_a_view_and_its_digest_rewritten_together_are_caught_by_the_runner_that_wrote_them(busy, database_url):
    views = Projections(busy.ledger)
    views.run()
    poison(busy, database_url, "UPDATE {view_funds} SET balance = balance + 1 WHERE code = ?", ("GEN",))
    with busy.ledger.recorder.datastore.transaction(commit=True) as cursor:  # the insider recomputes the digest
        t = views.tables
        forged = digest.recompute(_Cursor(cursor, t), t, TABLES[0])
    poison(busy, database_url, "UPDATE {digests} SET digest = ? WHERE name = 'view_funds'", (f"{forged:064x}",))
    assert views.check().failed == ("view_funds",)


class _Cursor:
    def __init__(self, cursor, tables):
        from ledger.sidetables import Cursor

        self.wrapped = Cursor(cursor, tables)

    def execute(self, sql, params=()):
        self.wrapped.execute(sql, params)

    def fetchall(self):
        return self.wrapped.fetchall()


def test_projections_check_on_the_command_line(busy, database_url, tmp_path, monkeypatch):
    from wushe.cli import app

    Projections(busy.ledger).run()
    monkeypatch.setenv("WUSHE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("WUSHE_DATABASE_URL", database_url)
    runner = CliRunner()
    result = runner.invoke(app, ["projections", "check"])
    assert result.exit_code == 0, result.output
    assert "视图" in result.output and "match" in result.output
    poison(busy, database_url, "UPDATE {view_projects} SET requested = requested + 1")
    result = runner.invoke(app, ["projections", "check"])
    assert result.exit_code == 1
    assert "view_projects" in result.output and "rebuild" in result.output


def test_a_rebuild_on_postgresql_is_not_cut_off_by_the_idle_in_transaction_timeout(busy, database_url, monkeypatch):
    """The rebuild is one transaction; between two of its statements the fold may work for longer
    than the sessions' idle-in-transaction timeout (5 s), as it did at 5M events: the rebuild lifts
    it for its own transaction only."""
    if not database_url.startswith("postgresql"):
        pytest.skip("a PostgreSQL session setting")
    views = Projections(busy.ledger)
    seen = []
    fold = Projections._fold_into

    def watched(self, cursor, *args):
        cursor.execute("SHOW idle_in_transaction_session_timeout")
        seen.append(cursor.fetchall()[0][0])
        return fold(self, cursor, *args)

    monkeypatch.setattr(Projections, "_fold_into", watched)
    views.rebuild()
    assert seen == ["0"]
    with views.tables.transaction(commit=False) as cursor:  # other transactions keep the bound
        cursor.execute("SHOW idle_in_transaction_session_timeout")
        assert cursor.fetchall()[0][0] != "0"
    assert views.check().ok


def test_a_check_reads_one_snapshot_while_the_runner_folds_beside_it(busy, monkeypatch):
    """The check takes no lock: a batch folded while it reads commits at once, and the check still
    compares rows and digests of one moment (no view it read after the batch is named)."""
    import threading

    views = Projections(busy.ledger)
    views.run()
    before = views.position()
    kept_before = dict(views.written[1])
    pay(busy, "GEN", 5_000, project="P1")
    donate(busy, "OLD", 1_234)
    hours(busy, time(14), time(15))
    head = busy.ledger.recorder.max_notification_id()
    recompute, folded = digest.recompute, []

    def recompute_while_folding(cursor, tables, table):
        if not folded:  # the first view read: fold the new events in another thread meanwhile
            runner = threading.Thread(target=lambda: folded.append(Projections(busy.ledger).run()))
            runner.start()
            runner.join(60)
            assert not runner.is_alive(), "the runner waited for the check"
        return recompute(cursor, tables, table)

    monkeypatch.setattr(digest, "recompute", recompute_while_folding)
    check = views.check()
    assert folded == [head - before]
    assert check.ok and check.position == before
    monkeypatch.setattr(digest, "recompute", recompute)
    kept_after = Projections(busy.ledger).check()
    assert kept_after.ok and kept_after.position == head
    with views.tables.transaction(commit=False) as cursor:
        changed = {name for name, value in digest.load(cursor, views.tables).items() if kept_before.get(name) != value}
    assert changed - {TABLES[0].name}, "the batch changed views the check read after it"
