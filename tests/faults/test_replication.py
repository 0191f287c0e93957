"""The ledger on a primary with a streaming hot standby of the test's own (tests/pgcluster.py):
asynchronous replication is refused (or, by setting, warned about), libpq URLs pass through whole.
Issue #18 items 1 and 5."""

from __future__ import annotations

import psycopg
import pytest

from ledger.application import Ledger
from ledger.settings import Settings
from ledger.signing import SigningKey
from ledger.stores import DatabaseUnreachable, UnsafeDatabase
from pgcluster import fresh_db, replicated  # noqa: F401 -- the fixture

pytestmark = pytest.mark.postgres


def _open(url: str, tmp_path, **settings) -> Ledger:
    return Ledger(Settings(data_dir=tmp_path / "data", **settings), database_url=url)


def test_an_asynchronous_standby_is_refused_unless_the_setting_says_warn(replicated, tmp_path):
    primary, standby = replicated
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
            ledger.found("root", "长宁区民政局", SigningKey.generate("root"))
        finally:
            ledger.close()
        for commit in ("local", "remote_write"):
            # The URL's options reach the server (libpq parameters pass through): the session's setting counts.
            with pytest.raises(UnsafeDatabase, match=f"synchronous_commit={commit}"):
                _open(f"{url}?options=-c%20synchronous_commit%3D{commit}", tmp_path)
    finally:
        primary.set(synchronous_standby_names="")
        primary.wait_until("SELECT sync_state FROM pg_stat_replication", "async")


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
