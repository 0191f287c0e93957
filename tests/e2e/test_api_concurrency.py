"""Several clients disburse from one fund at once through the API on PostgreSQL (and SQLite): the
fund is never overdrawn, every payment that was acknowledged is in the balance, and each refused
one is a clear 409 that wrote nothing."""

from __future__ import annotations

import threading
import uuid

from apisite import site_fixture  # noqa: F401  (the site fixture)
from fastapi.testclient import TestClient

CLIENTS = 6
PER_CLIENT = 4
AMOUNT_FEN = 1_000
BALANCE_FEN = 15_000
"""Room for 15 of the 24 payments: the rest must be refused."""


def test_parallel_disbursements_never_overdraw_a_fund(site):
    fund = site.fund(BALANCE_FEN)
    # Every request is approved up front: the request-time check sees the full balance, so only the
    # payment's own check (made again under concurrency) stands between the clients and overdraft.
    numbers = [site.approved(fund, AMOUNT_FEN) for _ in range(CLIENTS * PER_CLIENT)]
    app = site.client.app
    paid: list[str] = []
    refused: list[dict] = []
    unexpected: list[str] = []
    lock = threading.Lock()
    start = threading.Barrier(CLIENTS)

    def client(mine: list[str]) -> None:
        with TestClient(app) as http:
            start.wait()
            for number in mine:
                headers = site.headers("accountant", key=uuid.uuid4().hex)
                for _ in range(20):  # a client retries a write conflict with the same key
                    answer = http.post(f"/api/v1/disbursements/{number}/pay", json={}, headers=headers)
                    if answer.status_code != 409 or answer.json()["rule"] != "write-conflict":
                        break
                with lock:
                    if answer.status_code == 201:
                        paid.append(number)
                    elif answer.status_code == 409:
                        refused.append(answer.json())
                    else:
                        unexpected.append(f"{answer.status_code} {answer.text}")

    threads = [threading.Thread(target=client, args=(numbers[i::CLIENTS],)) for i in range(CLIENTS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not unexpected
    assert len(paid) + len(refused) == CLIENTS * PER_CLIENT
    balance = site.ledger.fund(fund).balance
    assert balance >= 0
    assert balance == BALANCE_FEN - AMOUNT_FEN * len(paid)
    assert len(paid) == BALANCE_FEN // AMOUNT_FEN, "every payment the fund could cover was made"
    assert {r["rule"] for r in refused} == {"no-overdraft"}
    statuses = {n: site.ledger.disbursement(n).status for n in numbers}
    assert sorted(n for n, s in statuses.items() if s == "paid") == sorted(paid)
