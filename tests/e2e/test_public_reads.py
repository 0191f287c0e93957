"""Public reads only read, on SQLite and PostgreSQL: the server's background runner keeps the views
and the Merkle tree current without any read, a write through the API is seen by the next public
read, /health reports the lag and the runner, the runner stops with the server, and with
WUSHE_READ_DATABASE_URL every public page, figure, checkpoint and proof is read from a store
this process cannot write to."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import psycopg
import pytest
from conftest import POSTGRES_URL
from fastapi.testclient import TestClient
from waiting import until

from api.main import create_app
from ledger.application import Ledger
from ledger.stores import is_postgres
from projections.runner import Projections

API = "/api/v1/public"
PAGES = ("/", "/street-towns/xianxiaxincun", "/funds", "/funds/GEN", "/projects", "/hours", "/corrections",
         "/checkpoints", "/verify")
JSON = (f"{API}/district", f"{API}/overview", f"{API}/street-towns", f"{API}/street-towns/xianxiaxincun",
        f"{API}/funds", f"{API}/funds/GEN", f"{API}/projects", f"{API}/hours", f"{API}/corrections",
        f"{API}/checkpoints", f"{API}/reports?start=2026-01-01&end=2026-12-31", "/api/v1/log/checkpoints",
        "/api/v1/log/checkpoint", "/api/v1/log/consistency?first=1&second=3", "/api/v1/log/inclusion?position=3")


def _app(cast, **settings):
    return create_app(cast.ledger.settings.model_copy(update=settings), ledger=cast.ledger)


@pytest.fixture
def other(cast) -> Iterator[Ledger]:
    """A second ledger on the same store, as the CLI in another process would write through."""
    ledger = Ledger(cast.ledger.settings, database_url=cast.ledger.database_url)
    try:
        yield ledger
    finally:
        ledger.close()


def _donate(ledger: Ledger, cast, fen: int, fund: str = "GEN") -> int:
    return ledger.record_donation(cast.accountant, fund, fen, donor_type="resident").positions[-1]


def _balance(client, fund: str = "GEN") -> str:
    return client.get(f"{API}/funds/{fund}").json()["summary"]["balance"]


def test_the_runner_catches_up_without_any_read(cast, other):
    cast.ledger.open_fund(cast.accountant, "GEN", "非限定性基金", "CNCF", street_town="xianxiaxincun")
    with TestClient(_app(cast, views_interval=0.05)) as client:
        views = Projections(cast.ledger)
        head = _donate(other, cast, 12_345)  # not this process's write: nothing wakes the runner
        until(lambda: views.position() >= head and cast.ledger.merkle.synced_position() >= head)
        health = client.get("/health").json()
        assert (health["projections_lag"], health["projections_runner"]) == (0, "background")
        assert _balance(client) == "123.45"


def test_a_write_through_the_api_is_seen_by_the_next_public_read(cast):
    cast.ledger.open_fund(cast.accountant, "GEN", "非限定性基金", "CNCF", street_town="xianxiaxincun")
    app = _app(cast, views_interval=3600)  # only the write's own wake-up can bring the views there in time
    with TestClient(app) as client:
        until(lambda: app.state.keeper.reached >= cast.ledger.written_through)
        token = app.state.tokens.issue(cast.accountant.key)
        for n, amount in enumerate(("10.01", "20.02", "30.03"), start=1):
            answer = client.post("/api/v1/donations", json={"fund": "GEN", "amount": amount, "donor_type": "resident"},
                                 headers={"Authorization": f"Bearer {token}", "Idempotency-Key": uuid.uuid4().hex})
            assert answer.status_code == 201, answer.text
            position = answer.json()["positions"][-1]
            assert client.get(f"{API}/funds").json()["position"] >= position
            assert _balance(client) == ("10.01", "30.03", "60.06")[n - 1]
            proof = client.get("/api/v1/log/inclusion", params={"position": position, "tree_size": position})
            assert proof.status_code == 200, proof.text


def test_health_reports_the_lag_while_the_runner_sleeps(cast, other):
    cast.ledger.open_fund(cast.accountant, "GEN", "非限定性基金", "CNCF", street_town="xianxiaxincun")
    app = _app(cast, views_interval=3600)
    with TestClient(app) as client:
        until(lambda: client.get("/health").json()["projections_lag"] == 0)
        _donate(other, cast, 100)
        _donate(other, cast, 200)
        health = client.get("/health").json()
        assert (health["projections_lag"], health["projections_runner"]) == (2, "background")
        app.state.keeper.wake()
        until(lambda: client.get("/health").json()["projections_lag"] == 0)


def test_the_runner_stops_with_the_server(cast):
    cast.ledger.open_fund(cast.accountant, "GEN", "非限定性基金", "CNCF", street_town="xianxiaxincun")
    app = _app(cast, views_interval=0.05)
    with TestClient(app):
        keeper = app.state.keeper
        assert keeper.running
        thread = keeper._thread
    assert not keeper.running and not thread.is_alive()
    views = Projections(cast.ledger)
    before = views.position()
    _donate(cast.ledger, cast, 500)
    time.sleep(0.3)  # six of its intervals: a runner left behind would have folded the donation
    assert views.position() == before


def test_without_a_runner_each_read_catches_up_itself(cast, other):
    cast.ledger.open_fund(cast.accountant, "GEN", "非限定性基金", "CNCF", street_town="xianxiaxincun")
    with TestClient(_app(cast, views_interval=0)) as client:
        assert client.get("/health").json()["projections_runner"] == "on-read"
        _donate(other, cast, 700)
        assert _balance(client) == "7.00"


# --- reading from a copy of the store that cannot be written ------------------------------------


@pytest.fixture
def read_only_url(cast) -> Iterator[str]:
    """A URL of the same store that cannot write: on PostgreSQL a role granted SELECT only, on SQLite
    the same file (the server opens it ``query_only``)."""
    url = cast.ledger.database_url
    if not is_postgres(url):
        yield url
        return
    schema = url.rsplit("schema=", 1)[1]
    role = f"reader_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        conn.execute(f'CREATE ROLE "{role}" LOGIN')
        conn.execute(f'GRANT USAGE ON SCHEMA "{schema}" TO "{role}"')
        conn.execute(f'GRANT SELECT ON ALL TABLES IN SCHEMA "{schema}" TO "{role}"')
        conn.execute(f'ALTER DEFAULT PRIVILEGES IN SCHEMA "{schema}" GRANT SELECT ON TABLES TO "{role}"')
    try:
        yield url.replace("postgresql://postgres@", f"postgresql://{role}@", 1)
    finally:
        with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
            conn.execute(f'DROP OWNED BY "{role}"')
            conn.execute(f'DROP ROLE "{role}"')


def _seeded(cast) -> None:
    led, acct = cast.ledger, cast.accountant
    led.open_fund(acct, "GEN", "非限定性基金", "CNCF", street_town="xianxiaxincun")
    led.record_donation(acct, "GEN", 50_000, donor_type="business", donor_name="某某公司", donor_public=True)


def test_public_reads_come_from_the_read_url_and_never_write_there(cast, read_only_url):
    _seeded(cast)
    if is_postgres(read_only_url):
        assert "postgres@" in POSTGRES_URL and "postgres@" not in read_only_url
    app = _app(cast, read_database_url=read_only_url, views_interval=0.05)
    with TestClient(app) as client:
        reads = app.state.reads
        assert reads.replica and reads.ledger.read_only
        if is_postgres(read_only_url):
            assert reads.ledger.tables.fetchone("SHOW default_transaction_read_only")[0] == "on"
        else:
            assert reads.ledger.tables.fetchone("PRAGMA query_only")[0] == 1
        refused = "(?i)read-only|readonly|permission denied|attempt to write"
        with pytest.raises(Exception, match=refused), reads.ledger.tables.transaction(commit=True) as cursor:
            cursor.execute("CREATE TABLE IF NOT EXISTS wushe_should_not_exist (x INTEGER)")
        token = app.state.tokens.issue(cast.accountant.key)
        answer = client.post("/api/v1/donations", json={"fund": "GEN", "amount": "0.99", "donor_type": "resident"},
                             headers={"Authorization": f"Bearer {token}", "Idempotency-Key": uuid.uuid4().hex})
        assert answer.status_code == 201, answer.text
        assert _balance(client) == "500.99"  # the write is seen through the read copy at once
        log = app.state.log_actor or _log_actor(cast)
        cast.ledger.sign_checkpoint(log)
        for path in PAGES + JSON:
            response = client.get(path)
            assert response.status_code == 200, (path, response.text[:300])
        district = client.get(f"{API}/district").json()
        assert district["events"] == cast.ledger.recorder.max_notification_id()
        with pytest.raises(RuntimeError, match="read-only"):
            reads.projections.run()
        assert reads.ledger.merkle.sync() == cast.ledger.merkle.size()


def _log_actor(cast):
    from ledger.application import Actor
    from ledger.signing import SigningKey

    ledger = cast.ledger
    key = SigningKey.generate(ledger.origin)
    ledger.register_principal(cast.root, ledger.origin, "账本日志", ["log"], key=key.verifier)
    return Actor(ledger.origin, key)


def test_a_bad_read_url_is_refused_at_start(cast, tmp_path):
    from ledger.errors import InvalidInput

    with pytest.raises(InvalidInput) as refused:
        _app(cast, read_database_url="mysql://nowhere/db")
    assert refused.value.field == "WUSHE_READ_DATABASE_URL" and "mysql" in str(refused.value)
