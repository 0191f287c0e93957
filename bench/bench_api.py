"""Sustained signed, durable donations per second through the HTTP API on PostgreSQL, with p50 and
p99 latency, against a naive API peer in the same run.

Both servers are uvicorn, one worker, in a subprocess of their own, on the same PostgreSQL server
(fresh schemas), driven by the same client: ``CONCURRENCY`` connections from an httpx async client in
this process, each sending its next request as soon as its last answer arrives, for ``REQUESTS``
requests after a warm-up. Donations are spread over ``FUNDS`` funds of one foundation, as a busy day
at the foundation's counter would be.

* **wushe, group commit** (the default): ``POST /api/v1/donations`` with a bearer token and an
  Idempotency-Key: authenticate, validate, then hand the donation to the committer, which saves all
  the donations waiting at that moment in one transaction, each event sealed and signed with its
  principal's key, with their idempotency rows (``api/groupcommit.py``);
* **wushe, one commit per request** (``WUSHE_API_GROUP_COMMIT=false``): the same request, saved in a
  transaction of its own.
* **naive**: a FastAPI endpoint that does one plain ``eventsourcing`` save per request (a trivial
  unsigned aggregate, one event with the same payload fields, default mapper) on the same factory and
  durability settings: no authentication, idempotency, signing or rules.

    .venv/bin/python bench/bench_api.py            # make bench runs this
    .venv/bin/python bench/bench_api.py --quick    # a smoke run
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchlib import (
    POSTGRES_URL,
    TOWN,
    describe,
    drive,
    found_ledger,
    machine,
    percentile,
    postgres_problem,
    postgres_schema,
    print_table,
    write_results,
)

QUICK = "--quick" in sys.argv
CONCURRENCY = 16
REQUESTS = 600 if QUICK else 4000
WARMUP = 100 if QUICK else 400
FUNDS = 50
BODY = {"amount": "100.00", "donor_type": "resident", "donor_name": "张三", "donor_public": True,
        "method": "transfer", "note": "九九公益日"}


# --- the servers (run in subprocesses) -----------------------------------------------------------


def serve_wushe(database_url: str, data_dir: str, port: int, group_commit: bool) -> None:
    import uvicorn

    from api.main import create_app
    from api.settings import ApiSettings
    from ledger.settings import Settings

    settings = Settings(data_dir=Path(data_dir) / "data", key_dir=Path(data_dir) / "keys",
                        database_url=database_url, checkpoint_interval=0)
    api = ApiSettings(group_commit=group_commit, public_rate="1000000/minute")
    uvicorn.run(create_app(settings, api_settings=api), host="127.0.0.1", port=port, log_level="warning")


def serve_naive(database_url: str, port: int) -> None:
    import uvicorn
    from eventsourcing.application import Application
    from eventsourcing.domain import Aggregate, event
    from eventsourcing.persistence import IntegrityError
    from fastapi import FastAPI

    from ledger.stores import persistence_env

    class Tally(Aggregate):
        @event("Created")
        def __init__(self, name: str) -> None:
            self.total = 0

        @event("Received")
        def receive(self, entry: str, amount: int, method: str, donor_type: str, donor_name: str | None,
                    donor_public: bool, received_on: str, street_town: str, note: str | None) -> None:
            self.total += amount

    class Naive(Application):
        name = "NaiveApi"

    env = persistence_env(database_url, 1000)
    env.pop("ORIGINATOR_ID_TYPE", None)
    store = Naive(env=env)
    tallies = []
    for i in range(FUNDS):
        tally = Tally(name=f"fund-{i}")
        store.save(tally)
        tallies.append(tally.id)
    app = FastAPI()

    @app.get("/health")
    def health() -> dict:
        return {"status": "ok"}

    @app.post("/donations/{fund}", status_code=201)
    def donate(fund: int, body: dict) -> dict:
        for _ in range(5):  # the same retry-on-conflict the ledger's commands have
            tally = store.repository.get(tallies[fund % FUNDS])
            tally.receive(entry=uuid.uuid4().hex, amount=int(float(body["amount"]) * 100), method=body["method"],
                          donor_type=body["donor_type"], donor_name=body.get("donor_name"),
                          donor_public=body.get("donor_public", False), received_on="2026-11-27",
                          street_town=TOWN, note=body.get("note"))
            try:
                store.save(tally)
            except IntegrityError:  # another request saved first: load and try again
                continue
            return {"id": str(tally.id)}
        raise RuntimeError("conflict")

    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")


# --- the client ----------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(args: list[str], port: int) -> subprocess.Popen:
    import httpx

    process = subprocess.Popen([sys.executable, __file__, "--serve", *args, str(port)],
                               env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)})
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return process
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    process.kill()
    raise RuntimeError(f"server {args[0]} did not start")


async def load(base: str, path_of, headers_of, body_of, count: int) -> tuple[float, list[float], int]:
    """Send ``count`` requests over CONCURRENCY connections; (seconds, latencies in ms, failures)."""

    async def send(client, i: int) -> tuple[str, bool]:
        answer = await client.post(path_of(i), json=body_of(i), headers=headers_of(i))
        return "donation", answer.status_code == 201

    seconds, answers = await drive(base, count, CONCURRENCY, send)
    return seconds, [ms for _, ms, _ in answers], sum(not ok for _, _, ok in answers)


def measure(name: str, base: str, path_of, headers_of, body_of) -> dict:
    asyncio.run(load(base, path_of, headers_of, body_of, WARMUP))
    seconds, latencies, failures = asyncio.run(load(base, path_of, headers_of, body_of, REQUESTS))
    return {"server": name, "requests": REQUESTS, "seconds": seconds, "per_second": REQUESTS / seconds,
            "p50_ms": percentile(latencies, 50), "p99_ms": percentile(latencies, 99), "failures": failures}


def main() -> None:
    problem = postgres_problem()
    if problem is not None:
        print(f"PostgreSQL unavailable at {POSTGRES_URL}: {problem}; nothing measured")
        return
    info = machine()
    print(describe(info))
    rows = []
    with tempfile.TemporaryDirectory() as folder, postgres_schema() as wushe_url, postgres_schema() as naive_url:
        cast = found_ledger(wushe_url, Path(folder))
        ledger = cast.ledger
        for i in range(FUNDS):
            ledger.open_fund(cast.accountant, f"F{i}", f"基金 {i}", "CNCF", street_town=TOWN)
        from api.auth import TokenStore, load_secret

        token = TokenStore(ledger, load_secret(Path(folder) / "keys" / "api-secret")).issue(cast.accountant.key)
        ledger.close()

        auth = {"Authorization": f"Bearer {token}"}
        for mode, label in (("group", "wushe API, group commit (signed, idempotent)"),
                            ("single", "wushe API, one commit per request (signed, idempotent)")):
            port = free_port()
            server = start(["wushe", wushe_url, folder, mode], port)
            try:
                rows.append(measure(
                    label, f"http://127.0.0.1:{port}", lambda i: "/api/v1/donations",
                    lambda i: {**auth, "Idempotency-Key": uuid.uuid4().hex},
                    lambda i: {**BODY, "fund": f"F{i % FUNDS}"}))
            finally:
                server.terminate()
                server.wait(10)
        port = free_port()
        server = start(["naive", naive_url], port)
        try:
            rows.append(measure("naive API (one eventsourcing save per request)", f"http://127.0.0.1:{port}",
                                lambda i: f"/donations/{i % FUNDS}", lambda i: {}, lambda i: BODY))
        finally:
            server.terminate()
            server.wait(10)

    naive = rows[-1]
    print_table(f"Donations through HTTP on PostgreSQL, {CONCURRENCY} connections, {REQUESTS} requests",
                ["server", "per second", "p50 ms", "p99 ms", "failures", "÷ naive (rate)"],
                [[r["server"], r["per_second"], r["p50_ms"], r["p99_ms"], r["failures"],
                  r["per_second"] / naive["per_second"]] for r in rows])
    write_results("bench_api", {"machine": info, "concurrency": CONCURRENCY, "funds": FUNDS, "rows": rows})


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--serve":
        if sys.argv[2] == "wushe":
            serve_wushe(sys.argv[3], sys.argv[4], int(sys.argv[6]), group_commit=sys.argv[5] == "group")
        else:
            serve_naive(sys.argv[3], int(sys.argv[4]))
    else:
        main()
