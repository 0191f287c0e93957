"""Sustained signed, durable donations per second through the HTTP API on PostgreSQL, with p50 and
p99 latency, against a naive API peer and the HTTP stack's own ceiling, all in the same run.

Every server is uvicorn (uvloop and httptools, as ``wushe serve`` runs) in a subprocess of its own,
one after the other, on the same PostgreSQL server (fresh schemas), driven by the same client:
``wrk`` (2 threads, ``CONCURRENCY`` keep-alive connections, a Lua script giving each request its own
Idempotency-Key) when it is installed (Debian: ``apt-get install wrk``), else an httpx async client
in this process, which costs the servers more of the two cores. Each connection sends its next
request as soon as its last answer arrives. Donations are spread over ``FUNDS`` funds of one
foundation, as a busy day at the foundation's counter would be.

* **wushe, group commit** (the default), with 1 and with 2 worker processes (``wushe serve
  --workers``): ``POST /api/v1/donations`` with a bearer token and an Idempotency-Key: one query for
  token, directory version and key, validation, then the committer saves all the donations waiting
  at that moment in one transaction, each event sealed and signed with its principal's key, with
  their idempotency rows (``api/groupcommit.py``);
* **wushe, one commit per request** (``WUSHE_API_GROUP_COMMIT=false``): the same request, saved in a
  transaction of its own;
* **naive**: a FastAPI endpoint that does one plain ``eventsourcing`` save per request (a trivial
  unsigned aggregate, one event with the same payload fields, default mapper) on the same factory and
  durability settings: no authentication, idempotency, signing or rules;
* **HTTP ceilings**: ``GET /health/live`` of the wushe app (its whole middleware stack, no store),
  and a trivial JSON ``POST`` on a bare FastAPI app: what the server stack and this client can do
  on this machine with no work behind the request.

    .venv/bin/python bench/bench_api.py            # make bench runs this
    .venv/bin/python bench/bench_api.py --quick    # a smoke run
    .venv/bin/python bench/bench_api.py --httpx    # the in-process client even where wrk is installed
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
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
WRK = None if "--httpx" in sys.argv else shutil.which("wrk")
CONCURRENCY = 16
SECONDS = 5 if QUICK else 20
"""Measured seconds per server with wrk (after a warm-up of a quarter of that)."""
REQUESTS = 600 if QUICK else 4000
"""Measured requests per server with the httpx client (after WARMUP)."""
WARMUP = 100 if QUICK else 400
FUNDS = 50
BODY = {"amount": "100.00", "donor_type": "resident", "donor_name": "张三", "donor_public": True,
        "method": "transfer", "note": "九九公益日"}


# --- the servers (run in subprocesses) -----------------------------------------------------------


def serve_wushe(database_url: str, data_dir: str, port: int, mode: str, workers: int) -> None:
    """The app as ``wushe serve --workers N`` builds it: from the environment, in each worker."""
    import uvicorn

    os.environ.update({"WUSHE_DATA_DIR": str(Path(data_dir) / "data"), "WUSHE_KEY_DIR": str(Path(data_dir) / "keys"),
                       "WUSHE_DATABASE_URL": database_url, "WUSHE_CHECKPOINT_INTERVAL": "0",
                       "WUSHE_API_GROUP_COMMIT": str(mode == "group").lower(),
                       "WUSHE_API_PUBLIC_RATE": "1000000/minute"})
    uvicorn.run("api.main:create_app", factory=True, host="127.0.0.1", port=port, log_level="warning",
                workers=workers)


def serve_bare(port: int) -> None:
    import uvicorn
    from fastapi import FastAPI

    app = FastAPI()

    @app.get("/health")
    async def health() -> dict:
        return {"status": "ok"}

    @app.post("/donations", status_code=201)
    async def donate(body: dict) -> dict:
        return {"id": "x", "positions": [1]}

    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")


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


@dataclass(frozen=True)
class Target:
    """What one row sends: request i is ``method path_of(i)`` with ``body_of(i)`` (JSON) or no body."""

    name: str
    method: str
    path_of: Callable[[int], str]
    body_of: Callable[[int], dict] | None
    headers: dict[str, str] = field(default_factory=dict)
    keyed: bool = False
    """Each request gets a fresh Idempotency-Key."""


async def load_httpx(base: str, target: Target, count: int) -> tuple[float, int, list[float], int]:
    """Send ``count`` requests over CONCURRENCY connections; (seconds, answered, latencies in ms, failures)."""

    async def send(client, i: int) -> tuple[str, bool]:
        headers = {**target.headers, "Idempotency-Key": uuid.uuid4().hex} if target.keyed else target.headers
        answer = await client.request(target.method, target.path_of(i), headers=headers,
                                      json=target.body_of(i) if target.body_of else None)
        return target.name, answer.status_code < 300

    seconds, answers = await drive(base, count, CONCURRENCY, send)
    return seconds, count, [ms for _, ms, _ in answers], sum(not ok for _, _, ok in answers)


def _lua_text(text: str) -> str:
    return "[==[" + text + "]==]"


def wrk_script(target: Target) -> str:
    """A wrk script for ``target``: request i as ``Target`` says (i counted per wrk thread; FUNDS
    paths or bodies cycle, so only their fund varies), a fresh key each, and a parseable summary."""
    path0, path1 = target.path_of(0), target.path_of(1)
    body0 = json.dumps(target.body_of(0), ensure_ascii=False) if target.body_of else None
    body1 = json.dumps(target.body_of(1), ensure_ascii=False) if target.body_of else None
    cut_path, cut_body = _split_at_fund(path0, path1), _split_at_fund(body0, body1)
    lines = [
        "counter = 0", "thread_count = 0",
        "function setup(thread) thread_count = thread_count + 1; thread:set('tid', thread_count) end",
        f"function init(args) prefix = {_lua_text(uuid.uuid4().hex)} .. '-' .. tid .. '-' end",
        "request = function()",
        "  counter = counter + 1",
        f"  local n = tostring(counter % {FUNDS})",
    ]
    for name, value in target.headers.items():
        lines.append(f"  wrk.headers[ {_lua_text(name)} ] = {_lua_text(value)}")
    if target.keyed:
        lines.append("  wrk.headers['Idempotency-Key'] = prefix .. counter")
    if body0 is not None:
        lines.append("  wrk.headers['Content-Type'] = 'application/json'")
    path = _lua_concat(cut_path)
    body = "nil" if body0 is None else _lua_concat(cut_body)
    lines += [f"  return wrk.format('{target.method}', {path}, nil, {body})", "end",
              "function done(summary, latency, requests)",
              "  local e = summary.errors",
              ("  io.write(string.format('WRK-RESULT %d %d %d %d %d\\n', summary.requests, summary.duration,"
               " e.connect + e.read + e.write + e.status + e.timeout, latency:percentile(50), latency:percentile(99)))"),
              "end"]
    return "\n".join(lines) + "\n"


def _split_at_fund(first: str | None, second: str | None) -> tuple[str, str] | str | None:
    """(text before, text after) the one place request 0 and request 1 differ (the fund number), or
    the text itself when they do not differ."""
    if first is None or first == second:
        return first
    at = next(i for i, (a, b) in enumerate(zip(first, second, strict=False)) if a != b)
    return first[:at], first[at + 1:]


def _lua_concat(cut: tuple[str, str] | str) -> str:
    if isinstance(cut, str):
        return _lua_text(cut)
    return f"{_lua_text(cut[0])} .. n .. {_lua_text(cut[1])}"


def load_wrk(base: str, target: Target, seconds: int) -> tuple[float, int, list[float], int]:
    """Run wrk for ``seconds``; (seconds, answered, [p50 ms, p99 ms], failures)."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(wrk_script(target))
    try:
        out = subprocess.run([WRK, "-t2", f"-c{CONCURRENCY}", f"-d{seconds}s", "--timeout", "30s", "-s", script.name,
                              base + target.path_of(0)], capture_output=True, text=True, check=True).stdout
    finally:
        os.unlink(script.name)
    line = next(x for x in out.splitlines() if x.startswith("WRK-RESULT"))
    answered, micros, failures, p50, p99 = (int(v) for v in line.split()[1:])
    return micros / 1e6, answered, [p50 / 1000, p99 / 1000], failures


def measure(target: Target, base: str) -> dict:
    if WRK:
        load_wrk(base, target, max(2, SECONDS // 4))
        seconds, answered, (p50, p99), failures = load_wrk(base, target, SECONDS)
    else:
        asyncio.run(load_httpx(base, target, WARMUP))
        seconds, answered, latencies, failures = asyncio.run(load_httpx(base, target, REQUESTS))
        p50, p99 = percentile(latencies, 50), percentile(latencies, 99)
    return {"server": target.name, "requests": answered, "seconds": seconds, "per_second": answered / seconds,
            "p50_ms": p50, "p99_ms": p99, "failures": failures}


def run_server(args: list[str], target: Target) -> dict:
    port = free_port()
    server = start(args, port)
    try:
        return measure(target, f"http://127.0.0.1:{port}")
    finally:
        server.terminate()
        server.wait(10)


def main() -> None:
    problem = postgres_problem()
    if problem is not None:
        print(f"PostgreSQL unavailable at {POSTGRES_URL}: {problem}; nothing measured")
        return
    info = machine()
    print(describe(info))
    client = (f"wrk ({WRK}), 2 threads, {CONCURRENCY} connections, {SECONDS} s per server" if WRK else
              f"httpx async client in the benchmark's process, {CONCURRENCY} connections, {REQUESTS} requests")
    print(f"client: {client}")
    rows = []
    with tempfile.TemporaryDirectory() as folder, postgres_schema() as wushe_url, postgres_schema() as naive_url:
        cast = found_ledger(wushe_url, Path(folder))
        ledger = cast.ledger
        for i in range(FUNDS):
            ledger.open_fund(cast.accountant, f"F{i}", f"基金 {i}", "CNCF", street_town=TOWN)
        from api.auth import TokenStore, load_secret

        token = TokenStore(ledger, load_secret(Path(folder) / "keys" / "api-secret")).issue(cast.accountant.key)
        ledger.close()

        def donations(name: str) -> Target:
            return Target(name, "POST", lambda i: "/api/v1/donations", lambda i: {**BODY, "fund": f"F{i % FUNDS}"},
                          {"Authorization": f"Bearer {token}"}, keyed=True)

        for mode, workers, label in (("group", 1, "wushe API, group commit, 1 worker"),
                                     ("group", 2, "wushe API, group commit, 2 workers"),
                                     ("single", 1, "wushe API, one commit per request, 1 worker")):
            rows.append(run_server(["wushe", wushe_url, folder, mode, str(workers)], donations(label)))
        rows.append(run_server(["naive", naive_url], Target(
            "naive API (one eventsourcing save per request)", "POST", lambda i: f"/donations/{i % FUNDS}",
            lambda i: BODY)))
        rows.append(run_server(["wushe", wushe_url, folder, "group", "1"], Target(
            "ceiling: GET /health/live, wushe app, 1 worker", "GET", lambda i: "/health/live", None)))
        rows.append(run_server(["bare"], Target(
            "ceiling: trivial JSON POST, bare FastAPI, 1 worker", "POST", lambda i: "/donations", lambda i: BODY)))

    naive = next(r for r in rows if r["server"].startswith("naive"))
    ceiling = next(r for r in rows if "/health/live" in r["server"])
    print_table(f"Donations through HTTP on PostgreSQL ({client})",
                ["server", "per second", "p50 ms", "p99 ms", "failures", "÷ naive", "÷ ceiling"],
                [[r["server"], r["per_second"], r["p50_ms"], r["p99_ms"], r["failures"],
                  r["per_second"] / naive["per_second"], r["per_second"] / ceiling["per_second"]] for r in rows])
    write_results("bench_api", {"machine": info, "client": client, "concurrency": CONCURRENCY, "funds": FUNDS,
                                "rows": rows})


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--serve":
        kind, rest = sys.argv[2], sys.argv[3:]
        if kind == "wushe":
            serve_wushe(rest[0], rest[1], int(rest[4]), mode=rest[2], workers=int(rest[3]))
        elif kind == "naive":
            serve_naive(rest[0], int(rest[1]))
        else:
            serve_bare(int(rest[0]))
    else:
        main()
