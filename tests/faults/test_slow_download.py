"""No page blocks another (issue 14 item 4), against `wushe serve` as a real process on both stores:
while three big downloads are held half-read by slow clients, the home page, a list page and the
public JSON are answered, in full, before any of the downloads has finished; then each download
arrives whole. Only the order of events is asserted, never a duration."""

from __future__ import annotations

import threading

import pytest
from served import FUNDS, Served

from projections import donations
from projections.runner import Projections

ROWS = 150_000
"""Gifts in the downloaded list: some 7 MB of CSV, more than the sockets between us hold."""


@pytest.fixture
def served(database_url, tmp_path, monkeypatch):
    s = Served(database_url, tmp_path, monkeypatch)
    s.set_up()
    try:
        yield s
    finally:
        s.stop()


def _fill(served: Served, fund: str) -> None:
    """The fund's gifts view filled behind the runner's back, as its fold would write them."""
    with served.ledger() as ledger:
        tables = Projections(ledger).tables
        columns = donations.DONATIONS.columns
        sql = (f"INSERT INTO {tables.table(donations.DONATIONS.name)} ({', '.join(columns)}) "
               f"VALUES ({', '.join('?' for _ in columns)})")
        for first in range(0, ROWS, 10_000):
            rows = [(fund, f"bulk-{n:07d}", "匿名", "resident", 100 + n % 997, "transfer",
                     f"{2016 + n % 10}-{1 + n % 12:02d}-{1 + n % 28:02d}", "xianxiaxincun", None)
                    for n in range(first, first + 10_000)]
            with tables.transaction(commit=True) as cursor:
                cursor.executemany(sql, rows)


def test_pages_answer_while_big_downloads_are_in_flight(served):
    fund = FUNDS[0]
    served.start()
    with served.client() as http:
        assert http.get(f"/api/v1/public/funds/{fund}").status_code == 200  # the views hold the fund
    _fill(served, fund)
    events: list[str] = []
    lock = threading.Lock()

    def note(what: str) -> None:
        with lock:
            events.append(what)

    slow_clients = [served.client() for _ in range(3)]
    streams = [c.stream("GET", f"/downloads/csv/funds/{fund}", params={"table": "donations"}) for c in slow_clients]
    try:
        opened = [s.__enter__() for s in streams]
        readers = [o.iter_bytes() for o in opened]
        received = [next(r) for r in readers]  # each download has begun, and is left unread
        assert all(o.status_code == 200 for o in opened)
        assert all(piece.decode("utf-8", "ignore").startswith("\ufeff日期") for piece in received)
        with served.client() as resident:
            for path in ("/", "/projects", "/api/v1/public/overview", f"/funds/{fund}?lang=en"):
                answer = resident.get(path)
                assert answer.status_code == 200, path
                note(f"answered {path}")
        for number, (reader, first) in enumerate(zip(readers, received, strict=True)):
            body = first + b"".join(reader)
            note(f"download {number} finished")
            assert body.decode("utf-8").count("\r\n") == ROWS + 1  # the header and every gift
    finally:
        for stream in streams:
            stream.__exit__(None, None, None)
        for client in slow_clients:
            client.close()
    answered = [i for i, e in enumerate(events) if e.startswith("answered")]
    finished = [i for i, e in enumerate(events) if e.startswith("download")]
    assert len(answered) == 4 and len(finished) == 3
    assert max(answered) < min(finished)  # every page came while every download was still in flight


def test_a_client_leaving_a_download_does_not_harm_the_server(served):
    fund = FUNDS[1]
    served.start()
    with served.client() as http:
        assert http.get(f"/api/v1/public/funds/{fund}").status_code == 200
    _fill(served, fund)
    for _ in range(3):
        with served.client() as leaving, leaving.stream("GET", f"/downloads/json/funds/{fund}") as answer:
            assert answer.status_code == 200
            next(answer.iter_bytes())  # and hang up
    with served.client() as resident:
        assert resident.get("/").status_code == 200
        whole = resident.get(f"/downloads/json/funds/{fund}").json()
    assert len(whole["tables"]["donations"]) == ROWS
    assert served.process is not None and served.process.poll() is None
    assert "Traceback" not in served.log.read_text()
