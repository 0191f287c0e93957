"""Two server processes over one database, on SQLite and on PostgreSQL: approvers and payers on both
race over the same fund. No in-process lock can help here; the fund's stream version does. The fund
is never overdrawn, every payment the fund could cover is made once, every refusal is a named 409,
and the audit's replay (which checks the balance after every event) finds no overdraft."""

from __future__ import annotations

import random
import threading
import time
import uuid

import pytest
from served import FUNDS, Served, headers

from audits.bundle import collect
from audits.findings import CRITICAL
from audits.verify import audit

REQUESTS = 24
AMOUNT_FEN = 1_000
BALANCE_FEN = 15_000
"""Room for 15 of the 24 payments."""
PAYERS_PER_SERVER = 2
RETRYABLE = {"write-conflict", "invalid-state"}
"""Another writer got there first, or the request is not approved yet: try again."""


@pytest.fixture
def servers(database_url, tmp_path, monkeypatch):
    first = Served(database_url, tmp_path, monkeypatch)
    first.set_up()
    second = first.twin()
    try:
        first.start()
        second.start()
        yield first, second
    finally:
        first.stop()
        second.stop()


def test_approvers_and_payers_on_two_servers_never_overdraw_a_fund(servers):
    first, second = servers
    first.cli("fund", "open", "RACE", "--name", "竞争基金", "--foundation", "CNCF", "--street-town", "xianxiaxincun",
              "--as", "acct")
    first.cli("donation", "record", "--fund", "RACE", "--amount", f"{BALANCE_FEN / 100:.2f}", "--donor-type",
              "resident", "--as", "acct")
    with first.client() as http:
        numbers = []
        for _ in range(REQUESTS):
            answer = http.post("/api/v1/disbursements", headers=headers(first, "acct", uuid.uuid4().hex),
                               json={"fund": "RACE", "amount": f"{AMOUNT_FEN / 100:.2f}", "purpose": "长者助餐",
                                     "project": "P1"})
            assert answer.status_code == 201, answer.text
            numbers.append(answer.json()["id"])

    lock = threading.Lock()
    paid: list[str] = []
    approved: list[str] = []
    refusals: dict[str, int] = {}
    unexpected: list[str] = []
    approvers_done = threading.Event()

    def post(http, role: str, path: str, body: dict) -> tuple[int, str | None]:
        key = uuid.uuid4().hex
        for _ in range(50):  # a write conflict is retried with the same key, as docs/api.md says
            answer = http.post(path, json=body, headers=headers(first, role, key))
            rule = answer.json().get("rule") if answer.status_code != 201 else None
            if rule != "write-conflict":
                break
        with lock:
            if answer.status_code == 201:
                pass
            elif answer.status_code == 409 and rule in RETRYABLE | {"no-overdraft"}:
                refusals[rule] = refusals.get(rule, 0) + 1
            else:
                unexpected.append(f"{path} {answer.status_code} {answer.text}")
        return answer.status_code, rule

    def approver(served: Served, seed: int) -> None:
        order = numbers[:]
        random.Random(seed).shuffle(order)
        with served.client() as http:
            for number in order:
                status, _ = post(http, "appr", f"/api/v1/disbursements/{number}/approve", {"approval_ref": "批复-9"})
                if status == 201:
                    with lock:
                        approved.append(number)

    def payer(served: Served, mine: list[str]) -> None:
        open_ = list(mine)
        deadline = time.monotonic() + 120
        with served.client() as http:
            while open_ and time.monotonic() < deadline:
                last_round = approvers_done.is_set()
                for number in list(open_):
                    status, rule = post(http, "acct", f"/api/v1/disbursements/{number}/pay", {})
                    if status == 201:
                        with lock:
                            paid.append(number)
                    if status == 201 or rule == "no-overdraft" or last_round:
                        open_.remove(number)
                time.sleep(0.01)

    payers_each = [numbers[i :: 2 * PAYERS_PER_SERVER] for i in range(2 * PAYERS_PER_SERVER)]
    threads = [threading.Thread(target=approver, args=(s, n)) for n, s in enumerate((first, second))]
    threads += [threading.Thread(target=payer, args=((first, second)[i % 2], mine))
                for i, mine in enumerate(payers_each)]
    for t in threads:
        t.start()
    for t in threads[:2]:
        t.join(120)
    approvers_done.set()
    for t in threads:
        t.join(150)
        assert not t.is_alive(), "a client hung"

    assert not unexpected
    assert len(set(approved)) == len(approved), "each request approved once"
    assert len(set(paid)) == len(paid) == BALANCE_FEN // AMOUNT_FEN, refusals
    assert set(paid) <= set(approved)
    with first.ledger() as ledger:
        assert ledger.fund("RACE").balance == BALANCE_FEN - AMOUNT_FEN * len(paid) == 0
        statuses = {n: ledger.disbursement(n).status for n in numbers}
        assert sorted(n for n, s in statuses.items() if s == "paid") == sorted(paid)
        result = audit(collect(ledger), reference=ledger.reference)
    assert result.ok
    assert not [f for f in result.findings if f.severity == CRITICAL or "overdraft" in f.rule]


def test_donations_through_a_server_of_two_worker_processes(database_url, tmp_path, monkeypatch):
    """``wushe serve --workers 2``: each worker builds its app from the options handed over in the
    environment and runs its own group commit; keys and fund versions hold across the two."""
    served = Served(database_url, tmp_path, monkeypatch)
    served.set_up()
    keys = [uuid.uuid4().hex for _ in range(12)]
    answers: dict[tuple[int, int], object] = {}

    def send(client_no: int) -> None:
        with served.client() as client:
            for i, key in enumerate(keys):  # every key is sent by both clients
                answers[client_no, i] = client.post("/api/v1/donations", headers=headers(served, "acct", key),
                                                    json={"fund": FUNDS[i % 2], "amount": "1.00",
                                                          "donor_type": "resident"})

    try:
        served.start("--workers", "2")
        clients = [threading.Thread(target=send, args=(n,)) for n in range(2)]
        for c in clients:
            c.start()
        for c in clients:
            c.join(60)
    finally:
        served.stop()
    statuses = sorted(a.status_code for a in answers.values())
    assert set(statuses) <= {201, 409} and statuses.count(201) >= 12, statuses
    with served.ledger() as ledger:  # each key wrote once, whichever worker and client got it
        assert ledger.recorder.max_notification_id() == served.setup_head + 12
        assert ledger.fund(FUNDS[0]).balance + ledger.fund(FUNDS[1]).balance == 1_200
