"""Faults under a served ledger.

``kill -9`` of the server during sustained writes from several clients, on SQLite and on
PostgreSQL, twice over. After each restart: every acknowledged write is in the log and verifies;
every command the store committed is there whole (a payment's events in the fund, project and
disbursement streams) and nothing else is; retries with the same Idempotency-Key return the first
answer or write once; the views resume where they stopped, fold each event exactly once and equal a
rebuild; and the audit of the whole log passes.

On PostgreSQL, the server's database connections terminated again and again mid-request, and the
database taken away for a few seconds behind a proxy (as a restart does), give clear 503s, never a
500 or a hang; the same server recovers on its own and every write retried with its key lands once."""

from __future__ import annotations

import threading
import time
from collections import Counter
from urllib.parse import urlsplit, urlunsplit

import httpx
import psycopg
import pytest
from conftest import POSTGRES_URL
from proxy import Proxy
from replayed import balanced_books, folded, verified_log, views
from served import FUNDS, PAYING_FUND, PROJECT, VOLUNTEERS, Journal, Served, Write, Writer, headers, remembered_keys

from audits.bundle import collect
from audits.findings import CRITICAL
from audits.verify import audit
from ledger.money import parse_amount
from ledger.verify import check_log
from projections.runner import Projections

WRITERS = (("donation",), ("payment",), ("hours", "donation"), ("payment", "hours"))
"""What each client thread keeps doing."""
KILL_AFTER = 25
"""Acknowledged writes in a round before the server is killed."""
ROUNDS = 2


def _served(database_url, tmp_path, monkeypatch):
    s = Served(database_url, tmp_path, monkeypatch)
    s.set_up()
    try:
        yield s
    finally:
        s.stop()


@pytest.fixture
def served(database_url, tmp_path, monkeypatch):
    yield from _served(database_url, tmp_path, monkeypatch)


@pytest.fixture
def served_on_postgres(postgres_url, tmp_path, monkeypatch):
    yield from _served(postgres_url, tmp_path, monkeypatch)


def test_kill_9_during_sustained_writes_loses_no_acknowledged_write_and_half_writes_nothing(served):
    journal = Journal()
    for _ in range(ROUNDS):
        served.start()
        _write_until_killed(served, journal)
        _after_the_crash(served, journal)
    served.start()
    assert _retry_every_write(served, journal), "some write was in flight at a kill"
    _every_write_exactly_once(served, journal)
    _views_resume_and_equal_a_rebuild(served)
    _log_and_audit_pass(served)


def _write_until_killed(served: Served, journal: Journal) -> None:
    stop = threading.Event()
    target = journal.acknowledged() + KILL_AFTER
    writers = [Writer(served, journal, n, stop) for n in range(len(WRITERS))]
    threads = [threading.Thread(target=w.run, args=(kinds,)) for w, kinds in zip(writers, WRITERS, strict=True)]
    with served.client() as reader:
        signed_before = len(reader.get("/api/v1/log/checkpoints").json())
        for t in threads:
            t.start()
        deadline = time.monotonic() + 120
        folded = 0
        while time.monotonic() < deadline and (
            journal.acknowledged() < target or len(reader.get("/api/v1/log/checkpoints").json()) == signed_before
            or folded == 0
        ):
            # Public reads make the server fold its views as it goes, so the kill can land mid-fold;
            # the server also signs a checkpoint of the growing log each second before it dies. On a
            # loaded machine the first fold may take a while: the kill waits for one to have committed.
            page = reader.get("/api/v1/public/district")
            assert page.status_code == 200, page.text
            folded = page.json()["events"]  # the log position the figures stand at
        assert journal.acknowledged() >= target, "the writers stalled"
        served.kill()
    for t in threads:
        t.join(60)
        assert not t.is_alive(), "a client hung after the server died"
    assert not [u for w in writers for u in w.unexpected]
    assert any(w.transport_error for w in writers), "the kill cut a client off mid-request"


def _after_the_crash(served: Served, journal: Journal) -> None:
    """Before anything is retried: the store holds exactly the commands it committed, each whole."""
    with served.ledger() as ledger:
        committed = remembered_keys(ledger)
        for write in journal.writes:
            if write.acknowledged:
                assert write.key in committed, f"acknowledged {write.kind} {write.answer} is missing"
                assert committed[write.key][0] == write.answer["id"]
        # Every event written since the set-up belongs to one committed command, and every event a
        # committed command wrote is there: no half-written command, no event without its key.
        claimed = Counter(stream for _, streams in committed.values() for stream in streams)
        assert max(claimed.values(), default=1) == 1
        stored = {(str(n.originator_id), n.originator_version) for n in ledger.log_positions(served.setup_head + 1)}
        assert stored == set(claimed)
        for write in journal.writes:
            if write.kind == "pay" and write.key in committed:
                kinds = sorted(stream.split(":", 1)[0] for stream, _ in committed[write.key][1])
                assert kinds == ["disbursement", "fund", "project"], kinds
        assert all(check.ok for check in check_log(ledger.log_positions())), "the log verifies after the crash"


def _retry_every_write(served: Served, journal: Journal) -> list[Write]:
    """Every write again with its own key: the acknowledged ones answer as before and write nothing;
    the unanswered ones are answered now (their first answer, if the store had committed them)."""
    with served.ledger() as ledger:
        committed = remembered_keys(ledger)
    unanswered = [w for w in journal.writes if not w.acknowledged]
    with served.client() as http:
        for write in journal.writes:
            again = http.post(write.path, json=write.body, headers=headers(served, write.role, write.key))
            assert again.status_code == 201, (write.kind, again.text)
            if write.key in committed:
                assert again.headers.get("Idempotent-Replayed") == "true"
                if write.acknowledged:
                    assert again.json() == write.answer
            else:
                assert "Idempotent-Replayed" not in again.headers
            write.status, write.answer = again.status_code, again.json()
    return unanswered


def _every_write_exactly_once(served: Served, journal: Journal) -> None:
    with served.ledger() as ledger:
        for code in FUNDS:
            sent = sum(parse_amount(w.body["amount"]) for w in journal.of("donation") if w.body["fund"] == code)
            assert ledger.fund(code).balance == sent
        paid = len(journal.of("pay"))
        assert paid > 0
        assert ledger.project(PROJECT).paid == paid * 100
        assert ledger.fund(PAYING_FUND).balance == 200_000 - paid * 100
        for n, number in enumerate(VOLUNTEERS):
            recorded = [w for w in journal.of("hours") if w.body["volunteer"] == number]
            assert len(ledger.volunteer(number).sessions) == len(recorded), n
        by_account = balanced_books(verified_log(ledger))
        assert by_account[f"Assets:Funds:{FUNDS[0]}"] == ledger.fund(FUNDS[0]).balance


def _views_resume_and_equal_a_rebuild(served: Served) -> None:
    with served.ledger() as ledger:
        resumed_from = Projections(ledger).position()
        head = ledger.recorder.max_notification_id()
        assert 0 < resumed_from <= head, "the killed servers had folded part of the log"
    with served.client() as http:
        assert http.get("/api/v1/public/district").status_code == 200  # the restarted server folds the rest
    served.stop()
    with served.ledger() as ledger:
        p = Projections(ledger)
        assert p.status().lag == 0
        incremental = views(p)
        log = verified_log(ledger)
        assert incremental == folded(log), "each event folded exactly once"
        assert p.rebuild() == len(log)
        assert views(p) == incremental


def _log_and_audit_pass(served: Served) -> None:
    assert "全部" in served.cli("log", "--verify", "--limit", "0")
    served.cli("checkpoint")
    with served.ledger() as ledger:
        result = audit(collect(ledger), reference=ledger.reference)
    assert result.ok, [f for f in result.integrity_failures]
    assert result.checkpoints >= 2, "the killed servers signed checkpoints as they went"
    assert not [f for f in result.findings if f.severity == CRITICAL]


TERMINATIONS = 15
PAUSE = 0.25
"""Seconds between terminations of the server's connections."""


def test_database_connections_dropped_mid_request_give_503s_then_recovery(served_on_postgres):
    served = served_on_postgres
    terminated = 0

    def terminate_again_and_again(http: httpx.Client, probe: Writer) -> None:
        nonlocal terminated
        with psycopg.connect(POSTGRES_URL, autocommit=True) as admin:
            for _ in range(TERMINATIONS):
                time.sleep(PAUSE)
                terminated += len(admin.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = %s",
                    (served.appname,)).fetchall())
                health = http.get("/health")
                assert health.status_code in (200, 503), health.text

    _writes_survive(served, terminate_again_and_again)
    assert terminated > 0


OUTAGE = 3.0
"""Seconds the database is unreachable, as during a restart."""
WAIT = 6.0
"""The pool waits 2 s for a connection (ledger.stores); the rest is slack for a busy machine."""


@pytest.fixture
def proxied(postgres_url, tmp_path, monkeypatch):
    """A served ledger whose every database connection goes through a proxy the test controls."""
    parts = urlsplit(postgres_url)
    proxy = Proxy(parts.hostname or "127.0.0.1", parts.port or 5432)
    proxy.up()
    url = urlunsplit(parts._replace(netloc=f"{parts.username or 'postgres'}@127.0.0.1:{proxy.port}"))
    for s in _served(url, tmp_path, monkeypatch):
        yield s, proxy
    proxy.down()


def test_a_database_restart_mid_request_gives_503s_then_recovery(proxied):
    served, proxy = proxied

    def restart_the_database(http: httpx.Client, probe: Writer) -> None:
        time.sleep(1.0)
        proxy.down()
        began = time.monotonic()
        while time.monotonic() - began < OUTAGE:
            asked = time.monotonic()
            health = http.get("/health")
            assert health.status_code == 503 and health.json()["status"] == "unavailable", health.text
            # A write sent while the database is away is refused as soon as the pool gives up waiting.
            assert probe.step(http, "donation") and probe.last.status == 503, probe.last
            assert time.monotonic() - asked < 2 * WAIT, "health and a write answer within the pool's wait"
        proxy.up()

    _writes_survive(served, restart_the_database)


def _writes_survive(served: Served, fault) -> None:
    """Sustained writes while ``fault(http, probe)`` runs (``probe`` writes from the fault's thread): every answer is a 201, a 503 problem or a
    retryable 409, none hangs; then the same server recovers, and every write retried with its own
    Idempotency-Key lands exactly once."""
    journal = Journal()
    served.start()
    stop = threading.Event()
    writers = [Writer(served, journal, n, stop) for n in range(len(WRITERS))]
    threads = [threading.Thread(target=w.run, args=(kinds,)) for w, kinds in zip(writers, WRITERS, strict=True)]
    for t in threads:
        t.start()
    with served.client() as http:
        fault(http, Writer(served, journal, len(WRITERS), stop))
        ok_before = journal.acknowledged()
        deadline = time.monotonic() + 30
        while journal.acknowledged() < ok_before + 10 and time.monotonic() < deadline:
            time.sleep(0.05)  # the same server goes on writing once the fault is over
        stop.set()
        for t in threads:
            t.join(60)
            assert not t.is_alive(), "a client hung"
        assert journal.acknowledged() >= ok_before + 10, "the server did not recover"
        assert http.get("/health").status_code == 200
    assert not [w.transport_error for w in writers if w.transport_error], "a request hung or was cut off"
    assert not [u for w in writers for u in w.unexpected], "only 201, 503 store-unavailable or 409 write-conflict"
    unavailable = [w for w in journal.writes if w.status == 503]
    assert unavailable, "the fault was answered with 503s"
    for write in unavailable:
        assert write.answer["detail"] and write.answer["detail_en"] and write.answer["title"]
        assert write.retry_after is not None
    assert "Internal Server Error" not in served.log.read_text()
    _retry_every_write(served, journal)
    served.stop()
    _every_write_exactly_once(served, journal)
    _log_and_audit_pass(served)
