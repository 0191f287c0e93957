"""Public page latency (p50/p95/p99 per page and overall) and requests per second of a served demo
ledger, against the trivial-endpoint ceiling of the same server in the same run, with the peak
memory of the server and of a rebuild of the same ledger.

The server is ``wushe serve`` as it runs in production (uvicorn, one worker, the background runner
keeping the views current), in a subprocess, over a demo ledger on SQLite: ``--data DIR`` (a ledger
seeded before, ``DIR/ledger.sqlite3`` and ``DIR/keys``) or one seeded here (``--scale N``). With
``--postgres DIR`` the ledger is in a PostgreSQL 15 cluster of the benchmark's own in ``DIR/cluster``
(``initdb`` and the decade demo, ``--years 10 --scale N``, the first time; started again after), and
with ``--replica`` as well the server reads its public pages from a streaming hot standby of that
cluster made for the run by ``pg_basebackup -R`` on another port (``WUSHE_READ_DATABASE_URL``). One
extra route, ``GET /bench/trivial`` answering a constant from an ``async`` function (no trip to the
thread pool), tried before every other route, is added to the same app: the HTTP ceiling (uvicorn, FastAPI routing, the
middleware, the client) that no page can beat.

The load comes from wrk (Debian's ``wrk``, a client in C; one thread, ``--connections``
keep-alive connections, each sending its next request when its last answer arrives; the script is
``bench/wrk_paths.lua``) over the paths of a mix a resident's visit would make — the district home
page, street-town, fund and project pages (codes drawn from the ledger, seeded), the funds and
projects lists, volunteer hours, checkpoints, the receipt check form, and the same pages' JSON.
Every path is first fetched once (the size of each answer, and every one must be a 200); then a
warm-up, the whole mix for ``--seconds``, each kind of page alone for ``--page-seconds`` (its own
percentiles), and the trivial route for ``--seconds``. ``--client httpx`` drives the same mix from
an httpx async client in this process instead (``--requests`` of the mix, then as many of the
trivial route), as the first version of this benchmark did: that client spends more CPU per
request than the server's trivial route, so its figures are the client's as much as the server's.

Peak memory is each process's own high-water mark (``VmHWM`` in ``/proc``, Linux): the server
after the run, and a rebuild of every view of the same ledger alone in a fresh process.

    .venv/bin/python bench/bench_pages.py --quick            # scale 2, a smoke run
    .venv/bin/python bench/bench_pages.py --scale 5
    .venv/bin/python bench/bench_pages.py --data DIR --seconds 30   # a large ledger seeded before
    .venv/bin/python bench/bench_pages.py --postgres build/bench-pg-1m --scale 96 [--replica]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))  # pgcluster: clusters of our own

from benchlib import (
    demo_ledger,
    describe,
    drive,
    machine,
    peak_rss_mib,
    percentile,
    print_table,
    rebuild_measured,
    write_results,
)

ROOT = Path(__file__).resolve().parent.parent
TRIVIAL = "/bench/trivial"
API = "/api/v1/public"


def settings_for(data_dir: Path, database_url: str = "", read_url: str = ""):
    from ledger.settings import Settings

    return Settings(data_dir=data_dir, database_url=database_url or f"sqlite:///{data_dir / 'ledger.sqlite3'}",
                    read_database_url=read_url or None, replication_check="warn",  # the standby is asynchronous
                    key_dir=data_dir / "keys", checkpoint_interval=0)


# --- a PostgreSQL cluster of the benchmark's own ------------------------------------------------


def pg_ledger(folder: Path, scale: int) -> tuple:
    """The cluster in ``folder/cluster`` started (made and seeded with the decade demo the first time):
    (the cluster, the ledger's URL, the ledger's data directory with its keys)."""
    import pwd

    import pgcluster

    problem = pgcluster.available()
    if problem:
        raise SystemExit(f"--postgres: {problem}")
    base, data_dir = folder / "cluster", folder / "ledger"
    settings = {"shared_buffers": "1GB", "max_connections": "100", "wal_keep_size": "1GB"}
    if (base / "primary" / "PG_VERSION").exists():
        if not (folder / "seeded").exists():
            raise SystemExit(f"--postgres: {folder} holds a cluster whose seeding did not finish; remove it")
        cluster = pgcluster.Cluster(base, "primary", pgcluster.free_port())
        cluster._append_conf({"port": str(cluster.port), **settings})
        cluster.start()
        return cluster, cluster.url("wushe"), data_dir
    base.mkdir(parents=True)
    if os.geteuid() == 0:
        entry = pwd.getpwnam("postgres")
        os.chown(base, entry.pw_uid, entry.pw_gid)
    cluster = pgcluster.Cluster.create(base=base, **settings)
    url = cluster.create_db("wushe")
    env = {**os.environ, "WUSHE_DATABASE_URL": url, "PYTHONPATH": str(ROOT)}
    wushe = [sys.executable, "-m", "wushe", "--data-dir", str(data_dir)]
    started = time.perf_counter()
    for step in (["init"], ["demo", "--years", "10", "--scale", str(scale)], ["projections", "rebuild"]):
        subprocess.run([*wushe, *step], env=env, check=True, stdout=subprocess.DEVNULL)
    (folder / "seeded").write_text(f"scale {scale}\n")
    print(f"seeded the decade demo at scale {scale} into PostgreSQL and rebuilt its views in "
          f"{time.perf_counter() - started:.0f} s")
    return cluster, url, data_dir


# --- the server (a subprocess) -------------------------------------------------------------------


def serve(data_dir: Path, port: int, database_url: str = "", read_url: str = "") -> None:
    import uvicorn

    from api.main import create_app
    from api.settings import ApiSettings

    app = create_app(settings_for(data_dir, database_url, read_url),
                     api_settings=ApiSettings(public_rate="100000000/minute"))

    async def trivial() -> dict[str, bool]:  # async: no trip to the thread pool, as a kept page takes none
        return {"ok": True}

    app.add_api_route(TRIVIAL, trivial, include_in_schema=False)
    app.router.routes.insert(0, app.router.routes.pop())  # tried first: the shortest walk to a route
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(data_dir: Path, port: int, answer_cache_mib: int = 64, database_url: str = "",
          read_url: str = "") -> tuple[subprocess.Popen, int]:
    """The server, once its runner has brought the views to the log's head, and that position."""
    import httpx

    process = subprocess.Popen([sys.executable, __file__, "--serve", str(data_dir), str(port), database_url, read_url],
                               env={**os.environ, "PYTHONPATH": str(ROOT),
                                    "WUSHE_API_ANSWER_CACHE_MIB": str(answer_cache_mib)})
    deadline = time.time() + 1800
    while time.time() < deadline:
        try:
            health = httpx.get(f"http://127.0.0.1:{port}/health", timeout=5).json()
            # the views caught up and their first check against the digests done (at 5M it takes
            # minutes of the server's runner thread; it comes again every WUSHE_VIEWS_CHECK_INTERVAL;
            # a server reading a standby's views does not check them)
            if (health.get("projections_lag") == 0 and health.get("projections_position")
                    and (read_url or health.get("views_check") not in (None, "not yet"))):
                return process, health["projections_position"]
        except (httpx.HTTPError, ValueError):
            pass
        time.sleep(0.3)
    process.kill()
    raise RuntimeError("the server did not start")


def stop(process: subprocess.Popen) -> float:
    """Stop the server (killed if it has not stopped within two minutes); its peak resident memory in MiB."""
    peak = peak_rss_mib(process.pid) or float("nan")
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(120)
    except subprocess.TimeoutExpired:
        print("the server did not stop within 120 s of SIGTERM; killed")
        process.kill()
        process.wait(30)
    return peak


# --- the mix -------------------------------------------------------------------------------------


def page_mix(base: str, seed: int) -> list[tuple[str, str]]:
    """(page kind, path) pairs in the proportions of a visit; codes drawn from the served ledger."""
    import httpx

    overview = httpx.get(f"{base}{API}/overview", timeout=60).json()
    towns = [t["code"] for t in overview["tables"]["street_towns"]]
    funds = [f["fund"] for f in httpx.get(f"{base}{API}/funds", timeout=60).json()["tables"]["funds"]]
    projects = [p["project"] for p in httpx.get(f"{base}{API}/projects", timeout=60).json()["tables"]["projects"]]
    pick = random.Random(seed).choice
    weighted = [
        (12, "district home", lambda: "/"),
        (10, "street-town page", lambda: f"/street-towns/{pick(towns)}"),
        (12, "fund page", lambda: f"/funds/{pick(funds)}"),
        (10, "project page", lambda: f"/projects/{pick(projects)}"),
        (4, "funds list", lambda: "/funds"),
        (2, "a fund's uses", lambda: f"/funds/{pick(funds)}/usage"),
        (4, "projects list", lambda: "/projects"),
        (2, "projects of a street-town", lambda: f"/projects?street_town={pick(towns)}"),
        (8, "volunteer hours", lambda: "/hours"),
        (4, "checkpoints", lambda: "/checkpoints"),
        (4, "verify form", lambda: "/verify"),
        (8, "district JSON", lambda: f"{API}/district"),
        (6, "street-town JSON", lambda: f"{API}/street-towns/{pick(towns)}"),
        (8, "fund JSON", lambda: f"{API}/funds/{pick(funds)}"),
        (6, "project JSON", lambda: f"{API}/projects/{pick(projects)}"),
        (4, "checkpoints JSON", lambda: f"{API}/checkpoints"),
    ]
    mix = [(kind, path) for weight, kind, path in weighted for _ in range(weight)]
    random.Random(seed).shuffle(mix)
    return [(kind, path()) for kind, path in mix]


async def load(base: str, requests: list[tuple[str, str]], connections: int):
    """Send the requests over ``connections`` connections: (seconds, latencies in ms by kind, failures)."""

    async def send(client, i: int) -> tuple[str, bool]:
        kind, path = requests[i]
        answer = await client.get(path)
        largest[kind] = max(largest.get(kind, 0), len(answer.content))
        return kind, answer.status_code == 200

    largest: dict[str, int] = {}
    seconds, answers = await drive(base, len(requests), connections, send)
    latencies: dict[str, list[float]] = defaultdict(list)
    for kind, ms, _ in answers:
        latencies[kind].append(ms)
    SIZES.update({k: max(v, SIZES.get(k, 0)) for k, v in largest.items()})
    return seconds, latencies, sum(not ok for _, _, ok in answers)


SIZES: dict[str, int] = {}
"""The largest answer (bytes of body) seen per page kind in this run."""


def row(kind: str, values: list[float], seconds: float | None = None) -> dict:
    out = {"page": kind, "requests": len(values), "p50_ms": percentile(values, 50),
           "p95_ms": percentile(values, 95), "p99_ms": percentile(values, 99),
           "largest_kb": SIZES[kind] / 1024 if kind in SIZES else None}
    if seconds is not None:
        out["per_second"] = len(values) / seconds
    return out


def wrk(base: str, paths: list[str], seconds: float, connections: int) -> dict:
    """One run of wrk (Debian's ``wrk``, one thread) over ``paths`` in turn for ``seconds``: its
    summary (``bench/wrk_paths.lua``) with the latencies in ms."""
    with tempfile.NamedTemporaryFile("w", suffix=".txt") as listed:
        listed.write("\n".join(paths) + "\n")
        listed.flush()
        done = subprocess.run(["wrk", "-t1", f"-c{connections}", f"-d{seconds:g}s", "--timeout", "60s",
                               "-s", str(ROOT / "bench" / "wrk_paths.lua"), base, "--", listed.name],
                              capture_output=True, text=True, check=True)
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    for q in ("p50", "p95", "p99", "max"):
        summary[f"{q}_ms"] = summary.pop(f"{q}_us") / 1000
    summary["failures"] = sum(summary["errors"].values())
    summary["per_second"] = summary["requests"] / summary["seconds"]
    return summary


def wrk_row(kind: str, run: dict) -> dict:
    return {"page": kind, "requests": run["requests"], "p50_ms": run["p50_ms"], "p95_ms": run["p95_ms"],
            "p99_ms": run["p99_ms"], "per_second": run["per_second"],
            "largest_kb": SIZES[kind] / 1024 if kind in SIZES else None}


def measure_wrk(base: str, mix: list[tuple[str, str]], seconds: float, page_seconds: float, warmup: float,
                connections: int) -> dict:
    """The mix and then each kind of page alone, each for its seconds, and the trivial endpoint,
    driven by wrk: a client in C, so the figures are the server's (the httpx client in this
    process spends more CPU per request than the server's trivial route)."""
    import httpx

    failures = 0
    with httpx.Client(base_url=base, timeout=120) as client:  # every path once: sizes and statuses
        for kind, path in mix:
            answer = client.get(path)
            failures += answer.status_code != 200
            SIZES[kind] = max(SIZES.get(kind, 0), len(answer.content))
    paths = [path for _, path in mix]
    wrk(base, paths, warmup, connections)
    overall = wrk(base, paths, seconds, connections)
    pages = []
    for kind in sorted({k for k, _ in mix}):
        alone = wrk(base, [path for k, path in mix if k == kind], page_seconds, connections)
        failures += alone["failures"]
        pages.append(wrk_row(kind, alone))
    wrk(base, [TRIVIAL], warmup, connections)
    trivial = wrk(base, [TRIVIAL], seconds, connections)
    return {"pages": pages, "overall": wrk_row("all pages", overall), "trivial": wrk_row("trivial endpoint", trivial),
            "failures": failures + overall["failures"] + trivial["failures"], "client": "wrk"}


def measure(data_dir: Path, count: int, warmup: int, connections: int, seed: int,
            answer_cache_mib: int = 64, database_url: str = "", read_url: str = "", client: str = "wrk",
            seconds: float = 20, page_seconds: float = 5) -> dict:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server, position = start(data_dir, port, answer_cache_mib, database_url, read_url)
    try:
        mix = page_mix(base, seed)
        if client == "wrk":
            result = measure_wrk(base, mix, seconds, page_seconds, max(2.0, seconds / 10), connections)
        else:
            result = measure_httpx(base, mix, count, warmup, connections)
    finally:
        peak = stop(server)
    return {"events": position, **result, "server_peak_rss_mib": peak}


def measure_httpx(base: str, mix: list[tuple[str, str]], count: int, warmup: int, connections: int) -> dict:
    """The mix of ``count`` requests and then as many of the trivial endpoint, from an httpx client
    in this process (the first version of this benchmark; it measures the client as much as the server)."""
    asyncio.run(load(base, [mix[i % len(mix)] for i in range(warmup)], connections))
    pages = [mix[i % len(mix)] for i in range(count)]
    seconds, latencies, failures = asyncio.run(load(base, pages, connections))
    asyncio.run(load(base, [("trivial", TRIVIAL)] * warmup, connections))
    trivial_seconds, trivial, trivial_failures = asyncio.run(load(base, [("trivial", TRIVIAL)] * count, connections))
    every = [v for values in latencies.values() for v in values]
    return {"pages": [row(k, v) for k, v in sorted(latencies.items())], "overall": row("all pages", every, seconds),
            "trivial": row("trivial endpoint", trivial["trivial"], trivial_seconds),
            "failures": failures + trivial_failures, "client": "httpx"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, help="a demo ledger seeded before (DIR/ledger.sqlite3, DIR/keys)")
    parser.add_argument("--scale", type=int, default=3, help="the demo's scale when seeding here")
    parser.add_argument("--client", choices=("wrk", "httpx"), default="wrk",
                        help="the load generator: wrk (Debian's wrk, a client in C; the default where it is "
                             "installed) or the httpx client in this process (the benchmark's first version)")
    parser.add_argument("--seconds", type=float, default=20, help="wrk: seconds of the mix and of the trivial endpoint")
    parser.add_argument("--page-seconds", type=float, default=5, help="wrk: seconds of each kind of page alone")
    parser.add_argument("--requests", type=int, default=3000, help="httpx: requests of the mix and of the trivial endpoint")
    parser.add_argument("--warmup", type=int, default=300, help="httpx: requests of warm-up")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--seed", type=int, default=8)
    parser.add_argument("--quick", action="store_true", help="scale 2, 600 requests")
    parser.add_argument("--answer-cache", type=int, default=64, metavar="MIB",
                        help="the server's cache of built answers (WUSHE_API_ANSWER_CACHE_MIB); 0: every "
                             "request builds its page, as on a ledger whose views move between readers")
    parser.add_argument("--no-rebuild", action="store_true",
                        help="skip the rebuild measured in a fresh process (the views must be current)")
    parser.add_argument("--postgres", type=Path, metavar="DIR",
                        help="the ledger in a PostgreSQL cluster of the benchmark's own in DIR (seeded the "
                             "first time with the decade demo at --scale)")
    parser.add_argument("--replica", action="store_true",
                        help="with --postgres: the public reads from a hot standby made for the run")
    args = parser.parse_args()
    if args.replica and not args.postgres:
        parser.error("--replica needs --postgres DIR")
    if args.quick:
        args.scale, args.requests, args.warmup, args.seconds, args.page_seconds = 2, 600, 100, 5, 1
    if args.client == "wrk" and shutil.which("wrk") is None:
        print("wrk is not installed (Debian: apt-get install wrk): the httpx client in this process drives the "
              "load instead, and its figures are the client's as much as the server's")
        args.client = "httpx"
    info = machine(postgres=bool(args.postgres))
    print(describe(info))
    clusters = []
    with tempfile.TemporaryDirectory() as folder:
        data_dir, database_url, read_url, seeded = args.data, "", "", None
        try:
            if args.postgres:
                primary, database_url, data_dir = pg_ledger(args.postgres, args.scale)
                clusters.append(primary)
                if args.replica:
                    standby = primary.standby()
                    clusters.append(standby)
                    read_url = database_url.replace(f":{primary.port}/", f":{standby.port}/")
            elif data_dir is None:
                data_dir = Path(folder)
                ledger, _, seeded = demo_ledger(data_dir, args.scale)
                ledger.close()
            rebuild_seconds, rebuild_peak = ((None, None) if args.no_rebuild or args.postgres
                                             else rebuild_measured(data_dir))
            result = measure(data_dir, args.requests, args.warmup, args.connections, args.seed, args.answer_cache,
                             database_url, read_url, args.client, args.seconds, args.page_seconds)
        finally:
            for cluster in reversed(clusters):  # the standby is made again each run; the primary kept
                if cluster.name == "standby":
                    cluster.destroy()
                else:
                    cluster.stop()
    events = result["events"]
    store = ("PostgreSQL, reads from a hot standby" if read_url else "PostgreSQL") if args.postgres else "SQLite"
    print(f"{events:,} events on {store}" + (f" (seeded at scale {args.scale} in {seeded:.0f} s)" if seeded else ""))
    overall, trivial = result["overall"], result["trivial"]
    rows = [*result["pages"], overall, trivial]
    shape = (f"wrk, the mix {args.seconds:g} s, each page alone {args.page_seconds:g} s, the trivial endpoint "
             f"{args.seconds:g} s" if args.client == "wrk" else f"httpx, {args.requests} requests (+ as many of the trivial endpoint)")
    print_table(f"Public pages, {events:,} events on {store}, {args.connections} connections, {shape}",
                ["page", "requests", "p50 ms", "p95 ms", "p99 ms", "largest KB"],
                [[r["page"], r["requests"], r["p50_ms"], r["p95_ms"], r["p99_ms"], r["largest_kb"]] for r in rows])
    print_table("Against the trivial endpoint of the same server", ["", "per second", "p50 ms", "p99 ms"], [
        ["all pages", overall["per_second"], overall["p50_ms"], overall["p99_ms"]],
        ["trivial endpoint", trivial["per_second"], trivial["p50_ms"], trivial["p99_ms"]],
        ["pages ÷ trivial", overall["per_second"] / trivial["per_second"], overall["p50_ms"] / trivial["p50_ms"],
         overall["p99_ms"] / trivial["p99_ms"]]])
    print_table("Peak resident memory", ["process", "MiB", "seconds"], [
        ["server (whole run)", result["server_peak_rss_mib"], None],
        ["rebuild of every view (fresh process)", rebuild_peak, rebuild_seconds]])
    if result["failures"]:
        print(f"{result['failures']} requests failed")
    size = ".5m" if events >= 3_000_000 else ".1m" if events >= 500_000 else ""
    kind = (".replica" if read_url else ".postgres") if args.postgres else ""
    name = f"bench_pages{size}{kind}" + ("" if args.answer_cache else ".uncached") + (".httpx" if args.client == "httpx" else "")
    write_results(name, {"machine": info, "loadavg_at_end": os.getloadavg(), "store": store, "scale": None if args.data else args.scale,
                         "connections": args.connections, "answer_cache_mib": args.answer_cache, "rebuild_seconds": rebuild_seconds,
                         "rebuild_peak_rss_mib": rebuild_peak, **result})


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--serve":
        serve(Path(sys.argv[2]), int(sys.argv[3]), *sys.argv[4:6])
    else:
        main()
