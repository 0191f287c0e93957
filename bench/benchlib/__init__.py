"""Shared helpers for the benchmarks in ``bench/``: machine description, medians and percentiles,
tables, JSON results, PostgreSQL scratch schemas, and a founded ledger like the tests'.

This package lives in a sub-directory so that ``make bench`` (which runs every ``bench/*.py``)
does not run it as a benchmark. Benchmarks print tables and write JSON; they never assert on time.
"""

from __future__ import annotations

import json
import math
import os
import platform
import sqlite3
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from importlib import metadata
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent.parent
RESULTS_DIR = BENCH_DIR / "results"

POSTGRES_URL = os.environ.get("WUSHE_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
"""Server for the PostgreSQL configurations; a fresh schema ``bench_<random>`` is made and dropped."""


# --- the machine ---------------------------------------------------------------------------------


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _memory_gib() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    return None


def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def postgres_version(url: str = POSTGRES_URL) -> str | None:
    try:
        import psycopg

        with psycopg.connect(url, connect_timeout=3) as conn:
            return conn.execute("SHOW server_version").fetchone()[0]
    except Exception:  # noqa: BLE001 - no server: no version
        return None


def machine(postgres: bool = True) -> dict[str, Any]:
    """What the numbers were measured on; stored with every result file."""
    try:
        from cryptography.hazmat.backends.openssl import backend

        openssl = backend.openssl_version_text()
    except Exception:  # noqa: BLE001 - a description, never a failure
        openssl = None
    try:
        affinity = len(os.sched_getaffinity(0))
    except AttributeError:
        affinity = None
    return {
        "cores": os.cpu_count(),
        "cores_usable": affinity,
        "cpu_model": _cpu_model(),
        "memory_gib": _memory_gib(),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "python_implementation": platform.python_implementation(),
        "sqlite": sqlite3.sqlite_version,
        "postgresql": postgres_version() if postgres else None,
        "openssl": openssl,
        "packages": {
            name: _version(name)
            for name in ("cryptography", "pynacl", "eventsourcing", "psycopg", "rfc8785", "wushe-ledger")
        },
        "loadavg_at_start": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
        "asserts_enabled": __debug__,
    }


def describe(info: dict[str, Any]) -> str:
    pg = info.get("postgresql") or "n/a"
    return (
        f"{info['cpu_model']}, {info['cores']} cores, {info['memory_gib']} GiB; Python {info['python']}, "
        f"SQLite {info['sqlite']}, PostgreSQL {pg}; load average at start {info['loadavg_at_start']}"
    )


# --- numbers -------------------------------------------------------------------------------------


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def percentile(values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100) of the pooled samples."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = max(1, -(-len(ordered) * p // 100))  # ceil(n * p / 100), at least 1
    return ordered[int(rank) - 1]


def spread(values: Sequence[float]) -> tuple[float, float]:
    return min(values), max(values)


def rate(count: int, seconds: float) -> float:
    return count / seconds if seconds > 0 else float("inf")


def timed(fn, count: int) -> float:
    """Seconds to call ``fn()`` ``count`` times."""
    start = time.perf_counter()
    for _ in range(count):
        fn()
    return time.perf_counter() - start


# --- output --------------------------------------------------------------------------------------


def fmt(value: Any) -> str:
    if isinstance(value, float):
        if math.isnan(value):
            return "n/a"
        if abs(value) >= 100:
            return f"{value:,.0f}"
        if abs(value) >= 10:
            return f"{value:.1f}"
        return f"{value:.3g}" if abs(value) < 1 else f"{value:.2f}"
    return str(value)


def print_table(title: str, headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    cells = [[fmt(c) for c in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) if cells else len(h) for i, h in enumerate(headers)]
    print(f"\n{title}")
    print("  " + "  ".join(h.ljust(w) for h, w in zip(headers, widths)))
    print("  " + "  ".join("-" * w for w in widths))
    for row in cells:
        print("  " + "  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths))))
    sys.stdout.flush()


def write_results(name: str, data: dict[str, Any]) -> Path:
    """``bench/results/<name>.json``; a ``--quick`` smoke run writes ``<name>.quick.json`` instead,
    so it never replaces the numbers of a full run."""
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    quick = "--quick" in sys.argv
    data = {**data, "quick": quick}
    path = RESULTS_DIR / f"{name}{'.quick' if quick else ''}.json"
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n")
    print(f"\nresults written to {path.relative_to(BENCH_DIR.parent)}")
    return path


# --- PostgreSQL ----------------------------------------------------------------------------------


def postgres_problem(url: str = POSTGRES_URL) -> str | None:
    """None when the server answers; otherwise why not."""
    try:
        import psycopg

        with psycopg.connect(url, connect_timeout=3) as conn:
            conn.execute("SELECT 1")
    except Exception as exc:  # noqa: BLE001 - psycopg missing, server down, auth…
        text = str(exc).strip()
        return text.splitlines()[0] if text else type(exc).__name__
    return None


@contextmanager
def postgres_schema(url: str = POSTGRES_URL) -> Iterator[str]:
    """A database URL with a fresh schema ``bench_<random>``, dropped afterwards."""
    import psycopg

    schema = f"bench_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    separator = "&" if "?" in url else "?"
    try:
        yield f"{url}{separator}schema={schema}"
    finally:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


# --- a founded ledger ----------------------------------------------------------------------------


@dataclass
class Cast:
    """A founded ledger with one principal of each role, as ``tests/conftest.py`` ``found_ledger``."""

    ledger: Any
    root: Any
    accountant: Any
    approver: Any
    recorder: Any
    other_accountant: Any


def open_ledger(database_url: str, data_dir: Path, aggregate_cache: int | None = None) -> Any:
    """A ``Ledger`` on ``database_url``; ``aggregate_cache`` None keeps the settings' default
    (the cached configuration), 0 turns the aggregate cache off (every load replays its stream)."""
    from ledger.application import Ledger
    from ledger.settings import Settings

    extra = {} if aggregate_cache is None else {"aggregate_cache": aggregate_cache}
    settings = Settings(data_dir=data_dir / "data", database_url=database_url, key_dir=data_dir / "keys", **extra)
    return Ledger(settings, database_url=database_url)


def found_ledger(database_url: str, data_dir: Path, aggregate_cache: int | None = None) -> Cast:
    """Two foundations, one community organisation, a principal of each role (like the tests)."""
    from ledger.application import Actor
    from ledger.signing import SigningKey

    ledger = open_ledger(database_url, data_dir, aggregate_cache)
    root_key = SigningKey.generate("root")
    ledger.found("root", "长宁区民政局", root_key)
    root = Actor("root", root_key)
    ledger.register_organisation(root, "CNCF", "长宁区社区基金会", "foundation", "xinhualu",
                                 registered_on=date(2020, 1, 1))
    ledger.register_organisation(root, "OTHERF", "另一家基金会", "foundation", "hongqiao",
                                 registered_on=date(2020, 1, 1))
    ledger.register_organisation(root, "LELING", "乐龄互助社", "social_organisation", "xianxiaxincun",
                                 community="虹古居委", registered_on=date(2021, 5, 1))

    def actor(handle: str, roles: list[str], **scope: str) -> Any:
        key = SigningKey.generate(handle)
        ledger.register_principal(root, handle, handle, roles, key=key.verifier, **scope)
        return Actor(handle, key)

    return Cast(
        ledger=ledger,
        root=root,
        accountant=actor("acct", ["accountant"], foundation="CNCF"),
        approver=actor("appr", ["approver"], foundation="CNCF"),
        recorder=actor("rec-leling", ["recorder"], organisation="LELING"),
        other_accountant=actor("acct-other", ["accountant"], foundation="OTHERF"),
    )



def demo_ledger(data_dir: Path, scale: int) -> tuple[Any, dict, float]:
    """A ledger founded as ``wushe init`` does (root key, log key) on a SQLite file in
    ``data_dir``, seeded as ``wushe demo --scale`` does; returns it, the demo's counts and the
    seconds the seeding took."""
    from ledger.application import Actor, Ledger
    from ledger.demo import seed_demo
    from ledger.principals import LOG
    from ledger.settings import Settings
    from ledger.signing import SigningKey

    key_dir = data_dir / "keys"
    settings = Settings(data_dir=data_dir, database_url=f"sqlite:///{data_dir / 'ledger.sqlite3'}", key_dir=key_dir)
    ledger = Ledger(settings)
    root = SigningKey.generate("root")
    root.write(key_dir)
    ledger.found("root", "长宁区民政局 Changning Civil Affairs Bureau", root)
    log_key = SigningKey.generate(ledger.origin)  # the log key, which signs the demo's checkpoints
    ledger.register_principal(Actor("root", root), ledger.origin, "账本日志 ledger log", [LOG], key=log_key.verifier)
    log_key.write(key_dir)
    start = time.perf_counter()
    stats = seed_demo(ledger, key_dir, scale=scale)
    return ledger, stats, time.perf_counter() - start


def seeded_ledger(data_dir: Path, source: Path | None = None) -> tuple[Any, dict, float]:
    """A ledger seeded before (``data_dir/ledger.sqlite3``, ``data_dir/keys``), returned as
    :func:`demo_ledger` returns one; ``source`` names where it was seeded, if copied from there."""
    from ledger.application import Ledger
    from ledger.settings import Settings

    ledger = Ledger(Settings(data_dir=data_dir, database_url=f"sqlite:///{data_dir / 'ledger.sqlite3'}",
                             key_dir=data_dir / "keys"))
    return ledger, {"seeded_before": str(source or data_dir)}, float("nan")


TOWN = "xianxiaxincun"

DONATION = {
    "donor_type": "resident",
    "donor_name": "张三",
    "donor_public": True,
    "method": "transfer",
    "street_town": TOWN,
    "note": "九九公益日",
}
"""The keyword arguments of the benchmarked donation: a named resident's transfer on 99 Giving Day.
Its stored signed text is about 530 bytes."""


async def drive(base: str, count: int, connections: int, send) -> tuple[float, list[tuple[str, float, bool]]]:
    """Send ``count`` requests over ``connections`` keep-alive connections of an httpx async client,
    each sending its next request when its last answer arrives. ``send(client, i)`` sends request
    ``i`` and returns (its label, whether it succeeded). Returns (seconds, [(label, ms, ok)])."""
    import asyncio

    import httpx

    answers: list[tuple[str, float, bool]] = []
    indices = iter(range(count))

    async def worker(client: httpx.AsyncClient) -> None:
        for i in indices:
            t0 = time.perf_counter()
            label, ok = await send(client, i)
            answers.append((label, (time.perf_counter() - t0) * 1000, ok))

    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=120) as client:
        began = time.perf_counter()
        await asyncio.gather(*(worker(client) for _ in range(connections)))
        return time.perf_counter() - began, answers


def peak_rss_mib(pid: int) -> float | None:
    """A running process's peak resident memory so far (``VmHWM``, Linux), in MiB. Unlike
    ``ru_maxrss`` it starts afresh at ``exec``: a child forked from a large benchmark process does not
    report its parent's size."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def run_measured(args: list[str], env: dict[str, str] | None = None, quiet: bool = False) -> tuple[float, float, int]:
    """Run a command to its end: (seconds, its peak resident memory in MiB, exit status), the peak
    sampled from ``/proc`` every 5 ms while it runs. ``quiet`` discards its output."""
    start = time.perf_counter()
    process = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL if quiet else None)
    peak = 0.0
    while process.poll() is None:
        peak = max(peak, peak_rss_mib(process.pid) or 0.0)
        time.sleep(0.005)
    return time.perf_counter() - start, peak, process.returncode


def rebuild_measured(data_dir: Path) -> tuple[float, float]:
    """A rebuild of every view of the demo ledger in ``data_dir`` (as :func:`demo_ledger` lays it out),
    alone in a fresh process: (seconds including start-up, peak resident memory in MiB)."""
    root = Path(__file__).resolve().parent.parent.parent
    code = ("import sys; from pathlib import Path; from ledger.application import Ledger; "
            "from ledger.settings import Settings; from projections.runner import Projections; d = Path(sys.argv[1]); "
            "Projections(Ledger(Settings(data_dir=d, database_url=f'sqlite:///{d / \"ledger.sqlite3\"}', "
            "key_dir=d / 'keys'))).rebuild()")
    seconds, peak, status = run_measured([sys.executable, "-c", code, str(data_dir)],
                                         env={**os.environ, "PYTHONPATH": str(root)})
    if status != 0:
        raise RuntimeError(f"the rebuild of {data_dir} failed (exit {status})")
    return seconds, peak


def profile(fn, top: int = 25) -> None:
    """Run ``fn`` under cProfile and print the top functions by cumulative and own time."""
    import cProfile
    import pstats

    profiler = cProfile.Profile()
    profiler.enable()
    fn()
    profiler.disable()
    stats = pstats.Stats(profiler, stream=sys.stdout)
    stats.sort_stats("cumulative").print_stats(top)
    stats.sort_stats("tottime").print_stats(top)
