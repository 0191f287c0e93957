"""Durability is enforced: SQLite commits with synchronous=FULL, and a PostgreSQL server that could
lose acknowledged commits is refused at start-up."""

from __future__ import annotations

import uuid

import psycopg
import pytest

from ledger.application import Ledger
from ledger.stores import UnsafeDatabase


def test_sqlite_connections_are_wal_and_synchronous_full(tmp_path):
    ledger = Ledger(database_url=f"sqlite:///{tmp_path / 'l.sqlite3'}")
    try:
        with ledger.factory.datastore.transaction(commit=False) as cursor:
            cursor.execute("PRAGMA synchronous")
            synchronous = cursor.fetchone()[0]
            cursor.execute("PRAGMA journal_mode")
            journal = cursor.fetchone()[0]
    finally:
        ledger.close()
    assert synchronous == 2  # FULL
    assert journal.lower() == "wal"


@pytest.fixture
def unsafe_role_url(postgres_url):
    """A login role whose sessions run with synchronous_commit=off."""
    role = f"wushe_unsafe_{uuid.uuid4().hex[:8]}"
    admin_url = postgres_url.split("?")[0]
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f"CREATE ROLE {role} LOGIN")
        conn.execute(f"ALTER ROLE {role} SET synchronous_commit = off")
        conn.execute(f"GRANT ALL ON SCHEMA {postgres_url.split('schema=')[1]} TO {role}")
    try:
        yield postgres_url.replace("postgresql://postgres@", f"postgresql://{role}@")
    finally:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f"DROP OWNED BY {role}")
            conn.execute(f"DROP ROLE {role}")


def test_postgres_with_synchronous_commit_off_is_refused(unsafe_role_url):
    with pytest.raises(UnsafeDatabase, match="synchronous_commit=off"):
        Ledger(database_url=unsafe_role_url)


def test_postgres_with_durable_settings_is_accepted(postgres_url):
    ledger = Ledger(database_url=postgres_url)
    try:
        assert not ledger.is_founded
    finally:
        ledger.close()
