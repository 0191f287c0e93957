"""Persistence settings: durable SQLite, URL parsing, and a ledger that reopens to the same books."""

from __future__ import annotations

import sqlite3
from datetime import date

import pytest
from agreements import agreement

from ledger.application import Ledger
from ledger.errors import AlreadyExists, InvalidInput
from ledger.settings import Settings
from ledger.signing import SigningKey
from ledger.stores import is_postgres, persistence_env
from ledger.verify import check_log

TOWN = "xianxiaxincun"


# --- SQLite durability ---------------------------------------------------------------------------


@pytest.fixture
def sqlite_ledger(tmp_path):
    ledger = Ledger(Settings(data_dir=tmp_path / "data"), database_url=f"sqlite:///{tmp_path / 'books.sqlite3'}")
    ledger.found("root", "长宁区民政局", SigningKey.generate("root"))
    try:
        yield ledger, tmp_path / "books.sqlite3"
    finally:
        ledger.close()


def _pragmas(connection) -> tuple[str, int, int]:
    cursor = connection.cursor()
    values = []
    for pragma in ("journal_mode", "synchronous", "foreign_keys"):
        cursor.execute(f"PRAGMA {pragma}")
        values.append(cursor.fetchone()[0])
    return values[0].lower(), values[1], values[2]


def test_every_sqlite_connection_is_wal_and_synchronous_full(sqlite_ledger):
    ledger, _ = sqlite_ledger
    pool = ledger.factory.datastore.pool
    # Hold several connections at once so the pool has to open fresh ones, readers and a writer.
    held = [pool.get_connection(is_writer=False) for _ in range(3)]
    held.append(pool.get_connection(is_writer=True))
    try:
        for connection in held:
            # synchronous=FULL is 2; foreign_keys=1 shows the durable set-up ran on this very connection
            # (SQLite's default synchronous may already be FULL, its default foreign_keys is 0).
            assert _pragmas(connection) == ("wal", 2, 1)
    finally:
        for connection in held:
            pool.put_connection(connection)
    # And the connections the application itself uses for a transaction.
    with ledger.factory.datastore.transaction(commit=False) as cursor:
        cursor.execute("PRAGMA synchronous")
        assert cursor.fetchone()[0] == 2


def test_sqlite_file_is_in_wal_mode(sqlite_ledger):
    _, path = sqlite_ledger
    outside = sqlite3.connect(path)
    try:
        assert outside.execute("PRAGMA journal_mode").fetchone()[0].lower() == "wal"
    finally:
        outside.close()


# --- URLs ----------------------------------------------------------------------------------------


def test_sqlite_relative_url(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    env = persistence_env("sqlite:///data/ledger.sqlite3")
    assert env["SQLITE_DBNAME"] == "data/ledger.sqlite3"
    assert env["PERSISTENCE_MODULE"] == "ledger.stores:DurableSQLiteFactory"
    assert env["ORIGINATOR_ID_TYPE"] == "text"
    assert (tmp_path / "data").is_dir()  # the directory is made ready
    assert not is_postgres("sqlite:///data/ledger.sqlite3")


def test_sqlite_absolute_url(tmp_path):
    target = tmp_path / "abs dir" / "ledger.sqlite3"
    env = persistence_env(f"sqlite:///{target}")  # "sqlite:////tmp/..."
    assert env["SQLITE_DBNAME"] == str(target)
    assert target.parent.is_dir()


def test_sqlite_memory_url():
    assert persistence_env("sqlite:///:memory:")["SQLITE_DBNAME"] == ":memory:"


def test_postgres_url():
    env = persistence_env("postgresql://wushe:s%40cret@db.example:5433/books?schema=changning")
    assert env["PERSISTENCE_MODULE"] == "ledger.stores:CheckedPostgresFactory"
    assert (env["POSTGRES_USER"], env["POSTGRES_PASSWORD"]) == ("wushe", "s@cret")
    assert (env["POSTGRES_HOST"], env["POSTGRES_PORT"]) == ("db.example", "5433")
    assert (env["POSTGRES_DBNAME"], env["POSTGRES_SCHEMA"]) == ("books", "changning")
    assert env["ORIGINATOR_ID_TYPE"] == "text"
    assert is_postgres("postgresql://x/y") and is_postgres("postgres://x/y")


def test_postgres_url_defaults():
    env = persistence_env("postgres://localhost/books")
    assert (env["POSTGRES_USER"], env["POSTGRES_PASSWORD"], env["POSTGRES_PORT"]) == ("postgres", "", "5432")
    assert env["POSTGRES_SCHEMA"] == ""


@pytest.mark.parametrize(
    "url",
    ["mysql://root@localhost/books", "sqlite://host/ledger.db", "sqlite:///", "ledger.sqlite3", ""],
)
def test_unsupported_urls_refused(url):
    with pytest.raises(InvalidInput) as err:
        persistence_env(url)
    assert err.value.field == "WUSHE_DATABASE_URL"


# --- reopening ----------------------------------------------------------------------------------


def test_reopened_ledger_sees_the_same_books(cast, database_url, tmp_path):
    ledger, acct, appr = cast.ledger, cast.accountant, cast.approver
    ledger.open_fund(acct, "GEN", "通用基金", "CNCF", street_town=TOWN)
    ledger.open_fund(acct, "SPEC", "养老专项", "CNCF", street_town=TOWN, kind="special", restricted=True,
                     purpose="养老服务", domains=["elderly_care"], street_towns=[TOWN], agreement=agreement())
    ledger.record_donation(acct, "GEN", 120_000, donor_type="business")
    ledger.record_grant(acct, "SPEC", 80_000, source="government_purchase", payer="长宁区民政局")
    ledger.allocate(acct, "GEN", "SPEC", 20_000, reason="配套")
    ledger.register_project(acct, "P1", "乐龄助餐", street_town=TOWN, domain="elderly_care", organisation="LELING",
                            budget=50_000, funding_source="fund", approval_ref="批-1",
                            reach=500, starts_on=date(2026, 1, 1), ends_on=date(2026, 12, 31))
    number = ledger.request_disbursement(acct, "SPEC", 30_000, project="P1", purpose="首期").ident
    ledger.approve_disbursement(appr, number, approval_ref="批复-1")
    ledger.pay_disbursement(acct, number)
    before = (ledger.fund("GEN").balance, ledger.fund("SPEC").balance, ledger.project("P1").paid,
              ledger.disbursement(number).status, ledger.recorder.max_notification_id())
    assert before[:4] == (100_000, 70_000, 30_000, "paid")
    ledger.close()

    reopened = Ledger(Settings(data_dir=tmp_path / "data"), database_url=database_url)
    cast.ledger = reopened  # the fixture closes it
    assert reopened.is_founded
    after = (reopened.fund("GEN").balance, reopened.fund("SPEC").balance, reopened.project("P1").paid,
             reopened.disbursement(number).status, reopened.recorder.max_notification_id())
    assert after == before
    assert all(check.ok for check in check_log(reopened.log_positions()))
    # ... and carries on writing with the same keys.
    reopened.record_donation(acct, "GEN", 1_000, donor_type="resident")
    assert reopened.fund("GEN").balance == 101_000


def test_a_founded_ledger_cannot_be_founded_again(cast, database_url, tmp_path):
    second = Ledger(Settings(data_dir=tmp_path / "second"), database_url=database_url)
    try:
        with pytest.raises(AlreadyExists) as err:
            second.found("root2", "另一个根", SigningKey.generate("root2"))
        assert (err.value.rule, err.value.field) == ("already-exists", "ledger")
        assert second.directory().principal("root").roles == ["root"]
    finally:
        second.close()
