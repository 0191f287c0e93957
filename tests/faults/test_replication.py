"""The ledger on a primary with a streaming hot standby of the test's own (tests/pgcluster.py):
asynchronous replication is refused (or, by setting, warned about), libpq URLs pass through whole.
Issue #18 items 1 and 5."""

from __future__ import annotations

import threading
from datetime import date

import psycopg
import pytest
from fastapi.testclient import TestClient
from pgcluster import fresh_db

from api.main import create_app
from ledger.application import Actor, Ledger
from ledger.settings import Settings
from ledger.signing import SigningKey
from ledger.stores import DatabaseUnreachable, DatabaseUnresponsive, UnconfirmedCommit, UnsafeDatabase

pytestmark = pytest.mark.postgres


def _open(url: str, tmp_path, **settings) -> Ledger:
    return Ledger(Settings(data_dir=tmp_path / "data", **settings), database_url=url)


def test_an_asynchronous_standby_is_refused_unless_the_setting_says_warn(replicated, tmp_path):
    primary, _ = replicated
    url = fresh_db(primary)
    assert primary.sql("SELECT sync_state FROM pg_stat_replication") == [("async",)]
    with pytest.raises(UnsafeDatabase, match="asynchronously"):
        _open(url, tmp_path)
    warned = _open(url, tmp_path, replication_check="warn")
    try:
        assert "asynchronously" in warned.factory.replication_problem
        warned.found("root", "长宁区民政局", SigningKey.generate("root"))
    finally:
        warned.close()


def test_a_synchronous_standby_is_accepted_but_not_with_local_or_remote_write_commits(replicated, tmp_path):
    primary, standby = replicated
    url = fresh_db(primary)
    primary.set(synchronous_standby_names="standby")
    try:
        primary.wait_until("SELECT sync_state FROM pg_stat_replication", "sync")
        ledger = _open(url, tmp_path)
        try:
            assert ledger.factory.replication_problem is None
            root = Actor("root", SigningKey.generate("root"))
            ledger.found("root", "长宁区民政局", root.key)
            client = TestClient(create_app(ledger.settings, ledger=ledger))
            assert _replication(client)["status"] == "ok"
            primary.set(synchronous_standby_names="")  # the standby made asynchronous while the server runs
            primary.wait_until("SELECT sync_state FROM pg_stat_replication", "async")
            health = client.get("/health").json()
            assert health["status"] == "degraded" and "asynchronously" in _replication(client)["detail"], health
            primary.set(synchronous_standby_names="standby")
            primary.wait_until("SELECT sync_state FROM pg_stat_replication", "sync")
        finally:
            ledger.close()
        # A hung synchronous standby: a commit waits for it. The client gives up at its deadline
        # (503, never 201); and when the wait is cancelled (an operator's pg_cancel_backend), PostgreSQL
        # reports the commit done with only a WARNING: it must not be acknowledged as saved either.
        bounded = _open(url, tmp_path, statement_timeout=2)
        try:
            bounded.directory()  # read before the standby hangs
            standby.hang()
            try:
                outcome: dict = {}

                def write() -> None:
                    try:
                        bounded.register_organisation(root, "X2", "另一基金会", "foundation", "xinhualu",
                                                      registered_on=date(2020, 1, 1))
                        outcome["saved"] = True
                    except Exception as exc:  # noqa: BLE001 -- handed to the test
                        outcome["error"] = exc

                writer = threading.Thread(target=write)
                writer.start()
                dbname = url.rsplit("/", 1)[1]
                waiting = f"FROM pg_stat_activity WHERE datname = '{dbname}' AND wait_event = 'SyncRep'"
                primary.wait_until(f"SELECT count(*) {waiting}", 1)
                primary.sql(f"SELECT pg_cancel_backend(pid) {waiting}")
                writer.join(30)
                assert isinstance(outcome.get("error"), UnconfirmedCommit), outcome
                with pytest.raises(DatabaseUnresponsive):  # uncancelled, the wait ends at the client's deadline
                    bounded.register_organisation(root, "X1", "某基金会", "foundation", "xinhualu",
                                                  registered_on=date(2020, 1, 1))
            finally:
                standby.resume()
        finally:
            bounded.close()
        for commit in ("local", "remote_write"):
            # The URL's options reach the server (libpq parameters pass through): the session's setting counts.
            with pytest.raises(UnsafeDatabase, match=f"synchronous_commit={commit}"):
                _open(f"{url}?options=-c%20synchronous_commit%3D{commit}", tmp_path)
    finally:
        primary.set(synchronous_standby_names="")
        primary.wait_until("SELECT sync_state FROM pg_stat_replication", "async")


def _replication(client) -> dict:
    return next(c for c in client.get("/health").json()["checks"] if c["name"] == "replication")


def test_a_multi_host_url_finds_the_primary_and_libpq_parameters_are_not_dropped(replicated, tmp_path):
    primary, standby = replicated
    url = fresh_db(primary)
    dbname = url.rsplit("/", 1)[1]
    settings = {"replication_check": "warn"}
    # The standby first: libpq tries it, sees it is read-only and goes on to the primary.
    multi = (f"postgresql://postgres@127.0.0.1:{standby.port},127.0.0.1:{primary.port}/{dbname}"
             "?target_session_attrs=read-write&application_name=wushe-multi")
    ledger = _open(multi, tmp_path, **settings)
    try:
        ledger.found("root", "长宁区民政局", SigningKey.generate("root"))
        assert ledger.is_founded
        names = primary.sql("SELECT DISTINCT application_name FROM pg_stat_activity WHERE datname = %s", (dbname,))
        assert ("wushe-multi",) in names
    finally:
        ledger.close()
    # sslmode reaches libpq: this server has no TLS, so a URL that requires it must not connect in clear.
    with pytest.raises(DatabaseUnreachable, match="(?i)ssl"):
        _open(f"{url}?sslmode=require", tmp_path, **settings)
    with psycopg.connect(url, autocommit=True) as conn:  # and the same URL without it does
        conn.execute("SELECT 1")
