"""Public reads from a real streaming hot standby (``WUSHE_READ_DATABASE_URL``) of the test's own
cluster (tests/pgcluster.py): the lag is shown against the primary's head and no request waits
longer than a bound for the copy (#14 item 5, #18 item 4); a hung standby or primary (SIGSTOP)
never makes /health or reads hang, and the standby's outage leaves the writer ready (#18 item 3).
Another ledger on the read URL is refused (#18 item 5)."""

from __future__ import annotations

import threading
import time

import pytest
from conftest import found_ledger
from fastapi.testclient import TestClient
from pgcluster import fresh_db

from api.main import WrongReplica, create_app
from ledger.application import Actor
from ledger.receipts import issue_receipt
from ledger.settings import Settings
from ledger.signing import SigningKey

pytestmark = pytest.mark.postgres

HANG = 60.0
"""A call not back after this many seconds counts as hung (the bounds under test are a few seconds)."""


def bounded(call, *args, **kwargs):
    """Run ``call`` in a thread; its result (or exception) if it returns, else the test fails: it hung."""
    outcome: dict = {}

    def run() -> None:
        try:
            outcome["value"] = call(*args, **kwargs)
        except Exception as exc:  # noqa: BLE001 -- handed to the test
            outcome["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(HANG)
    assert not thread.is_alive(), f"{getattr(call, '__name__', call)} hung"
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


def eventually(predicate, what: str, timeout: float = 30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"not within {timeout} s: {what}")


@pytest.fixture
def site(replicated, tmp_path, monkeypatch):
    """A ledger on the primary, served with its public reads from the standby."""
    primary, standby = replicated
    monkeypatch.setenv("WUSHE_REPLICATION_CHECK", "warn")  # the module's standby is asynchronous
    url = fresh_db(primary)
    cast = found_ledger(url, tmp_path)
    key = SigningKey.generate(cast.ledger.origin)
    key.write(cast.ledger.settings.resolved_key_dir)
    cast.ledger.register_principal(cast.root, cast.ledger.origin, "账本日志", ["log"], key=key.verifier)
    log = Actor(cast.ledger.origin, key)
    cast.ledger.sign_checkpoint(log)
    standby.wait_replayed(primary)
    read_url = url.replace(f":{primary.port}/", f":{standby.port}/")
    settings = Settings(data_dir=tmp_path / "data", database_url=url, read_database_url=read_url,
                        replication_check="warn", checkpoint_interval=0, statement_timeout=2, views_interval=0.2)
    app = create_app(settings, ledger=cast.ledger)
    with TestClient(app) as client:
        eventually(lambda: client.get("/health").json().get("projections_lag") == 0, "the copy caught up")
        yield cast, log, client, primary, standby
    cast.ledger.close()


def test_a_lagging_copy_shows_how_far_behind_its_figures_are_and_reads_do_not_wait_for_it(site):
    cast, log, client, _, standby = site
    assert "stale-figures" not in client.get("/").text
    standby.sql("SELECT pg_wal_replay_pause()")
    try:
        written = cast.actor("late", ["recorder"], organisation="LELING")
        position = cast.ledger.written_through
        receipt = issue_receipt(cast.ledger, position, log)  # under a checkpoint the copy does not have
        page = bounded(client.get, "/")
        assert page.status_code == 200 and 'id="stale-figures"' in page.text
        assert "数据截至日志第" in page.text and "秒前" in page.text
        english = bounded(client.get, "/", params={"lang": "en"}).text
        assert "Figures as of log #" in english and "s ago" in english and "not yet on this copy" in english
        # The read waited once, in vain; no later read waits for that write again.
        assert client.app.state.reads._gave_up_below >= position
        overview = bounded(client.get, "/api/v1/public/overview")
        assert int(overview.headers["X-Wushe-Behind-Primary"]) >= 1
        assert int(overview.headers["X-Wushe-Figures-As-Of"]) < position
        health = client.get("/health").json()
        assert health["projections_lag"] >= 1, health  # against the primary's head, not the copy's
        assert _check(health, "replica")["status"] == "ok" and "behind the primary" in _check(health, "replica")["detail"]
        verdict = client.post("/api/v1/public/verify", json=receipt).json()
        assert verdict["verified"] is True and verdict["not_yet_on_this_copy"] is True
        assert verdict["in_log_today"] is None
        shown = client.post("/verify", data={"receipt": __import__("json").dumps(receipt)}, params={"lang": "en"})
        assert "not yet on this copy" in shown.text and "does NOT match" not in shown.text
        assert written.handle == "late"
    finally:
        standby.sql("SELECT pg_wal_replay_resume()")
    eventually(lambda: client.get("/health").json()["projections_lag"] == 0, "the copy caught up again")
    assert "stale-figures" not in client.get("/").text


def test_a_hung_standby_or_primary_never_makes_health_or_reads_hang(site):
    cast, _, client, primary, standby = site
    standby.hang()
    try:
        health = eventually(lambda: _replica_down(h := bounded(client.get, "/health")) and h, "the hung copy reported")
        assert health.status_code == 200 and health.json()["status"] == "degraded"  # the writer stays ready
        assert not _check(health.json(), "replica")["critical"]
        assert _check(health.json(), "primary")["status"] == "ok"
        overview = bounded(client.get, "/api/v1/public/overview")  # from the primary meanwhile
        assert overview.status_code == 200 and "X-Wushe-Behind-Primary" not in overview.headers
        cast.actor("during", ["recorder"], organisation="LELING")  # writes go on
    finally:
        standby.resume()
    eventually(lambda: _check(client.get("/health").json(), "replica")["status"] == "ok", "the copy back")
    primary.hang()
    try:
        health = bounded(client.get, "/health")
        assert health.status_code == 503 and health.json()["status"] == "unavailable", health.text
        with pytest.raises(Exception) as refused:
            bounded(cast.actor, "hung", ["recorder"], organisation="LELING")
        assert "hung" not in str(refused.value)  # an error from the store, not the hang detector
    finally:
        primary.resume()
    eventually(lambda: client.get("/health").status_code == 200, "the primary back")


def _check(health: dict, name: str) -> dict:
    return next(c for c in health["checks"] if c["name"] == name)


def _replica_down(health) -> bool:
    return health.status_code == 200 and _check(health.json(), "replica")["status"] in ("failing", "timeout")


def test_a_read_url_holding_another_ledger_is_refused(replicated, tmp_path, monkeypatch):
    primary, _ = replicated
    monkeypatch.setenv("WUSHE_REPLICATION_CHECK", "warn")
    ours, theirs = fresh_db(primary), fresh_db(primary)
    found_ledger(ours, tmp_path / "ours").ledger.close()
    monkeypatch.setenv("WUSHE_LEDGER_NAME", "wushe.example/xuhui")
    found_ledger(theirs, tmp_path / "theirs").ledger.close()
    monkeypatch.delenv("WUSHE_LEDGER_NAME")
    settings = Settings(data_dir=tmp_path / "ours" / "data", database_url=ours, read_database_url=theirs,
                        checkpoint_interval=0)
    with pytest.raises(WrongReplica, match="xuhui"):
        create_app(settings)
