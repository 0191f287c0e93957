"""Shared fixtures: a founded ledger on SQLite and on PostgreSQL, with a small cast of principals.

PostgreSQL tests use WUSHE_TEST_POSTGRES_URL, else a server at postgresql://postgres@127.0.0.1:5432/test.
Without a server they are skipped with a loud reason, unless WUSHE_REQUIRE_POSTGRES=1 (set by CI),
when a missing server fails the run instead.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date

import psycopg
import pytest
from pgcluster import replicated  # noqa: F401 -- the clusters' fixture, for every test module
from typer.testing import CliRunner, Result

from ledger.application import Actor, Ledger
from ledger.settings import Settings
from ledger.signing import SigningKey

POSTGRES_URL = os.environ.get("WUSHE_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
REQUIRE_POSTGRES = os.environ.get("WUSHE_REQUIRE_POSTGRES") == "1"


def _postgres_available() -> str | None:
    try:
        with psycopg.connect(POSTGRES_URL, connect_timeout=3) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return None


_PG_PROBLEM: str | None | bool = False


def postgres_problem() -> str | None:
    global _PG_PROBLEM
    if _PG_PROBLEM is False:
        _PG_PROBLEM = _postgres_available()
    return _PG_PROBLEM  # type: ignore[return-value]


def pytest_report_header(config) -> str:
    problem = postgres_problem()
    if problem is None:
        return f"postgresql: {POSTGRES_URL} (tests run)"
    return f"postgresql: UNAVAILABLE at {POSTGRES_URL}: {problem} -- PostgreSQL tests will be SKIPPED"


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A database URL with a fresh schema, dropped afterwards."""
    yield from fresh_postgres_schema()


def fresh_postgres_schema() -> Iterator[str]:
    """Yield a database URL with a fresh schema and drop it afterwards (skip or fail without a server)."""
    problem = postgres_problem()
    if problem is not None:
        if REQUIRE_POSTGRES:
            pytest.fail(f"WUSHE_REQUIRE_POSTGRES=1 but PostgreSQL is unavailable: {problem}")
        pytest.skip(f"PostgreSQL unavailable at {POSTGRES_URL}: {problem}")
    schema = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    separator = "&" if "?" in POSTGRES_URL else "?"
    try:
        yield f"{POSTGRES_URL}{separator}schema={schema}"
    finally:
        with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request, tmp_path) -> str:
    """Each behaviour test runs once on an embedded SQLite file and once on PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'ledger.sqlite3'}"
    return request.getfixturevalue("postgres_url")


@dataclass
class Cast:
    """A founded ledger with the principals most tests need."""

    ledger: Ledger
    root: Actor
    accountant: Actor
    approver: Actor
    recorder: Actor
    other_accountant: Actor
    """An accountant of a second foundation."""

    def actor(self, handle: str, roles: list[str], **scope) -> Actor:
        key = SigningKey.generate(handle)
        self.ledger.register_principal(self.root, handle, handle, roles, key=key.verifier, **scope)
        return Actor(handle, key)


def found_ledger(database_url: str, tmp_path) -> Cast:
    """A ledger with two foundations, one community organisation, and a principal of each role."""
    ledger = Ledger(Settings(data_dir=tmp_path / "data"), database_url=database_url)
    root_key = SigningKey.generate("root")
    ledger.found("root", "长宁区民政局", root_key)
    root = Actor("root", root_key)
    ledger.register_organisation(root, "CNCF", "长宁区社区基金会", "foundation", "xinhualu",
                                 registered_on=date(2020, 1, 1))
    ledger.register_organisation(root, "OTHERF", "另一家基金会", "foundation", "hongqiao",
                                 registered_on=date(2020, 1, 1))
    ledger.register_organisation(root, "LELING", "乐龄互助社", "social_organisation", "xianxiaxincun",
                                 community="虹古居委", registered_on=date(2021, 5, 1))
    cast = Cast(ledger, root, None, None, None, None)  # type: ignore[arg-type]
    cast.accountant = cast.actor("acct", ["accountant"], foundation="CNCF")
    cast.approver = cast.actor("appr", ["approver"], foundation="CNCF")
    cast.recorder = cast.actor("rec-leling", ["recorder"], organisation="LELING")
    cast.other_accountant = cast.actor("acct-other", ["accountant"], foundation="OTHERF")
    return cast


def signer_of(ledger: Ledger, position: int) -> str:
    """The handle of the principal whose key signed the event at a log position."""
    from ledger.envelope import open_sealed

    stored, _ = ledger.read_position(position)
    sealed = open_sealed(bytes(stored.state), stream=str(stored.originator_id), version=stored.originator_version,
                         topic=stored.topic)
    return ledger.directory().key(sealed.key_id).principal


@pytest.fixture
def cast(database_url, tmp_path) -> Iterator[Cast]:
    c = found_ledger(database_url, tmp_path)
    try:
        yield c
    finally:
        c.ledger.close()


@pytest.fixture
def cli(database_url, tmp_path, monkeypatch) -> Callable[..., Result]:
    """For the end-to-end tests of the command line: `wushe` against a fresh, initialised ledger in
    ``tmp_path/data`` with the CNCF foundation registered; call it with the arguments (``ok=False``
    when the command may fail)."""
    from wushe.cli import app

    monkeypatch.setenv("WUSHE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("WUSHE_DATABASE_URL", database_url)
    monkeypatch.delenv("WUSHE_ACTOR", raising=False)
    monkeypatch.delenv("WUSHE_API_SECRET_FILE", raising=False)
    runner = CliRunner()

    def run(*args: str, ok: bool = True) -> Result:
        result = runner.invoke(app, list(args))
        if ok:
            assert result.exit_code == 0, result.output
        return result

    run("init")
    run("org", "register", "CNCF", "--name", "长宁区社区基金会", "--kind", "foundation", "--street-town", "xinhualu",
        "--as", "root")
    return run
