"""The Merkle log (``ledger.merkle_log.MerkleLog``) at a million leaves: building the tree, the cost
of appending a leaf as the log grows, and inclusion / consistency proofs and past roots, against
two limits measured or given in the same run:

* **SHA-256 itself**: ``ledger.merkle.leaf_hash`` over the same event bytes plus ``node_hash`` for
  the interior nodes the appends create (about one per leaf), timed bare with hashlib. The ratio
  says how close syncing the tree is to pure hashing.
* **5 ms per proof**, the target of the issue ("an inclusion or consistency proof on a 1M-leaf log
  takes under 5 ms"): the ratio is p99 ÷ 5 ms.

The log is filled **directly through the eventsourcing recorder** (``recorder.insert_events``, in
batches of ``INSERT_BATCH``), not by signed commands: a million real commands would take hours.
The events are a real stored ``Fund.DonationReceived`` (recorded through a founded ledger first)
with the entry id, fund code and version varied per event, ~650 bytes each, 1,000 per fund
stream. The tree hashes the stored bytes and nothing else, so the (no longer matching) signature
lines change nothing here; the founding events at the head of the log are real.

The log grows in stages (1k, 100k, 1M leaves; ``--quick``: 1k, 20k). At each stage:

1. insert events up to the stage size, then time ``MerkleLog(recorder).sync()`` bringing the tree
   up to it (leaves/s, rows written per leaf, database growth);
2. per-append cost at that size, in rounds: ``APPEND_REPEATS`` × (insert ``APPEND_BATCH`` events,
   time one ``sync()`` over them, time hashing the same bytes bare), and ``SINGLE_SYNCS`` syncs of
   one new event each (the latency of bringing the tree up to a log that grew by one);
3. the queries every sync and proof starts with, timed alone: ``MerkleLog.size()``
   (``MAX(leaf_index)`` + 1, run by every proof and root) and the **sync header**, the two
   single-aggregate queries each sync batch opens with (``MAX(leaf_index)``, then ``MAX(position)``,
   in one read transaction); next to them, labelled *old*, the statements they replaced:
   ``COUNT(*)`` (the old ``size()``) and ``COUNT(*), MAX(position)`` (the old header), both scans;
   the ``COUNT(*)`` also checks that ``size()`` equals the number of leaves (no gaps);
4. up to 100k leaves: the stored root equals ``merkle.root_hash`` computed in memory from the
   events' bytes as read back from the store (a correctness check, untimed).

At the last stage (the full size, before the append rounds): ``PROOFS`` inclusion proofs (random
leaf, tree size = the whole log), ``PROOFS`` consistency proofs (random old size, new size = the
whole log) and ``PROOFS`` roots of random past sizes, fixed seed, in ``ROUNDS`` interleaved rounds;
each proof also timed as fetch-and-fold only (the two queries, ``MerkleLog._range_hashes``, without
the size check), to split the served time; ``VERIFY_SAMPLE`` of each verified with
``ledger.merkle.verify_*`` against roots from the log (untimed).

Stores: SQLite (scratch file, WAL, synchronous=FULL: the ledger's settings) to 1M leaves; then
PostgreSQL (fresh schema ``bench_<random>`` on WUSHE_BENCH_POSTGRES_URL, dropped afterwards) to
100k, and on to 1M only if the projected time fits the budget (``BUDGET_S``; since the size and
sync-position queries became index lookups it usually does) or with ``--postgres-1m``; skipped
with a notice without a server.

    .venv/bin/python bench/bench_proofs.py                 # make bench runs this; ~3 minutes with PostgreSQL to 1M
    .venv/bin/python bench/bench_proofs.py --quick         # 20k leaves, a smoke run
    .venv/bin/python bench/bench_proofs.py --postgres-1m   # PostgreSQL to 1M too, whatever it takes
"""

from __future__ import annotations

import random
import re
import sqlite3
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchlib import (
    DONATION,
    POSTGRES_URL,
    TOWN,
    describe,
    found_ledger,
    machine,
    median,
    percentile,
    postgres_problem,
    postgres_schema,
    print_table,
    write_results,
)
from eventsourcing.persistence import StoredEvent

from ledger import merkle
from ledger.merkle_log import LEAVES, NODES, MerkleLog

QUICK = "--quick" in sys.argv
POSTGRES_1M = "--postgres-1m" in sys.argv

STAGES = (1_000, 20_000) if QUICK else (1_000, 100_000, 1_000_000)
"""Leaf counts the SQLite log grows through; the proofs run at the last."""
PG_STAGES = (1_000, 20_000) if QUICK else (1_000, 100_000)
PG_FULL = 1_000_000
INSERT_BATCH = 5_000
"""Events per ``insert_events`` call. Not 10,000: on PostgreSQL eventsourcing's pipelined insert of
~9,000 or more of these events (~6 MB in one statement) hung in this environment (the server
waiting in ClientRead, the client in poll), while 8,000 went through."""
APPEND_BATCH, APPEND_REPEATS, SINGLE_SYNCS = (100, 3, 9) if QUICK else (200, 5, 30)
PROOFS = 100 if QUICK else 500
ROUNDS = 5
VERIFY_SAMPLE = 20 if QUICK else 50
SIZE_QUERIES = 4 if QUICK else 20
"""Size queries timed per round."""
LIMIT_SAMPLE, LIMIT_REPEATS = (20_000, 3) if QUICK else (100_000, 3)
IN_MEMORY_CHECK_UP_TO = 100_000
EVENTS_PER_STREAM = 1_000
LIMIT_MS = 5.0
BUDGET_S = 240
SEED = 20261127


# --- the events ----------------------------------------------------------------------------------


class Events:
    """Stored events shaped like a real signed ``Fund.DonationReceived``: its stored bytes with the
    entry id, fund code and version replaced per event."""

    def __init__(self, sample: Any) -> None:
        text = bytes(sample.state).decode()
        entry = re.search(r'"entry":"([0-9a-f]{32})"', text).group(1)
        assert text.count(entry) == 1 and text.count('"version":2}') == 1, "unexpected sample event"
        template = text.replace("{", "{{").replace("}", "}}")
        template = template.replace(entry, "{entry}").replace('"version":2}}', '"version":{version}}}')
        self.template = template.replace("BENCH", "{code}")
        self.topic = sample.topic
        self.sample_bytes = len(sample.state)
        self.seq = 0

    def make(self, count: int) -> list[StoredEvent]:
        events = []
        for _ in range(count):
            stream, version = divmod(self.seq, EVENTS_PER_STREAM)
            code = f"B{stream:04d}"
            state = self.template.format(entry=uuid.uuid4().hex, code=code, version=version + 1).encode()
            events.append(StoredEvent(originator_id=f"fund:{code}", originator_version=version + 1,
                                      topic=self.topic, state=state))
            self.seq += 1
        return events

    def insert(self, recorder: Any, count: int) -> list[bytes]:
        """Insert ``count`` events in batches; returns their states."""
        states = []
        while count > 0:
            batch = self.make(min(count, INSERT_BATCH))
            recorder.insert_events(batch)
            states.extend(e.state for e in batch)
            count -= len(batch)
        return states


# --- the store's size ----------------------------------------------------------------------------


class SQLiteSizes:
    def __init__(self, path: Path, events_table: str) -> None:
        self.path = path
        self.events_table = events_table

    def file(self) -> dict[str, Any]:
        """The main file's size after a WAL checkpoint (so it holds every committed page)."""
        with sqlite3.connect(self.path) as con:
            busy, _, _ = con.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        return {"file_bytes": self.path.stat().st_size, "checkpoint_busy": bool(busy)}

    def tables(self) -> dict[str, int]:
        """Bytes of each table with its indexes (SQLite's dbstat)."""
        out = {}
        with sqlite3.connect(self.path) as con:
            for table in (self.events_table, LEAVES, NODES):
                names = [table] + [r[0] for r in con.execute(
                    "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = ?", (table,))]
                out[table] = sum(con.execute("SELECT COALESCE(SUM(pgsize), 0) FROM dbstat WHERE name = ?",
                                             (name,)).fetchone()[0] for name in names)
        return out


class PostgresSizes:
    def __init__(self, url: str, schema: str, events_table: str) -> None:
        self.url = url
        self.schema = schema
        self.events_table = events_table

    def file(self) -> dict[str, Any]:
        return {"file_bytes": None}

    def tables(self) -> dict[str, int]:
        import psycopg

        out = {}
        with psycopg.connect(self.url) as conn:
            for table in (self.events_table, LEAVES, NODES):
                out[table] = conn.execute("SELECT pg_total_relation_size(%s::regclass)",
                                          (f'"{self.schema}"."{table}"',)).fetchone()[0]
        return out


# --- measuring -----------------------------------------------------------------------------------


def nodes_completed(old_size: int, new_size: int) -> int:
    """Interior nodes created by growing a tree from ``old_size`` to ``new_size`` leaves: appending
    leaf ``i`` completes one perfect subtree per trailing zero bit of ``i + 1``."""
    return sum(((i + 1) & -(i + 1)).bit_length() - 1 for i in range(old_size, new_size))


def hashing_seconds(states: list[bytes], nodes: int) -> float:
    """The limit: bare SHA-256 (``merkle.leaf_hash`` per state, ``merkle.node_hash`` per node)."""
    left, right = bytes(range(32)), bytes(range(32, 64))
    t0 = time.perf_counter()
    for state in states:
        merkle.leaf_hash(state)
    for _ in range(nodes):
        merkle.node_hash(left, right)
    return time.perf_counter() - t0


def ms_stats(samples: list[float]) -> dict[str, float]:
    return {
        "p50_ms": 1000 * percentile(samples, 50),
        "p95_ms": 1000 * percentile(samples, 95),
        "p99_ms": 1000 * percentile(samples, 99),
        "max_ms": 1000 * max(samples),
        "samples": len(samples),
    }


SYNC_HEADER = ("SELECT MAX(leaf_index) FROM {table}", "SELECT MAX(position) FROM {table}")
"""The two statements ``MerkleLog._append_batch`` opens every batch with (copied here to time them
alone, in one read transaction as the sync runs them, without its write lock)."""
OLD_SIZE = "SELECT COUNT(*) FROM {table}"
"""The old way, for comparison: ``MerkleLog.size()`` before it became ``MAX(leaf_index)`` + 1."""
OLD_SYNC_HEADER = "SELECT COUNT(*), MAX(position) FROM {table}"
"""The old way, for comparison: the single statement every sync batch used to open with."""


def size_queries(log: MerkleLog, count: int, header: bool = False) -> dict[str, list[float]]:
    """``MerkleLog.size()`` (``MAX(leaf_index)`` + 1, run by every proof and root) and the old
    ``COUNT(*)``; with ``header`` also the sync header (the two MAX queries a sync batch starts
    with) and the old one-statement header. Interleaved, ``count`` of each."""
    table = log.tables.table(LEAVES)
    times: dict[str, list[float]] = {"size": [], "old_count": [], "sync_header": [], "old_sync_header": []}
    for _ in range(count):
        t0 = time.perf_counter()
        n = log.size()
        times["size"].append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        counted = log.tables.fetchone(OLD_SIZE.format(table=table))[0]
        times["old_count"].append(time.perf_counter() - t0)
        assert counted == n, (counted, n)  # MAX(leaf_index) + 1 is the number of leaves
        if header:
            t0 = time.perf_counter()
            with log.tables.transaction(commit=False) as cursor:
                for statement in SYNC_HEADER:
                    cursor.execute(statement.format(table=table))
                    cursor.fetchone()
            times["sync_header"].append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            log.tables.fetchone(OLD_SYNC_HEADER.format(table=table))
            times["old_sync_header"].append(time.perf_counter() - t0)
    return times


def appends(log: MerkleLog, recorder: Any, events: Events, size: int) -> dict[str, Any]:
    """Per-append cost at ``size`` leaves: batches of ``APPEND_BATCH`` and single-event syncs,
    interleaved, each batch next to the bare hashing of the same bytes."""
    per_leaf, limit_per_leaf, ratios, singles = [], [], [], []
    for r in range(APPEND_REPEATS):
        states = events.insert(recorder, APPEND_BATCH)
        t0 = time.perf_counter()
        new = log.sync()
        spent = time.perf_counter() - t0
        assert new == size + len(states), (new, size)
        hashed = hashing_seconds(states, nodes_completed(size, new))
        size = new
        per_leaf.append(spent / len(states))
        limit_per_leaf.append(hashed / len(states))
        ratios.append(hashed / spent)
        for _ in range(SINGLE_SYNCS // APPEND_REPEATS + (1 if r < SINGLE_SYNCS % APPEND_REPEATS else 0)):
            events.insert(recorder, 1)
            t0 = time.perf_counter()
            new = log.sync()
            singles.append(time.perf_counter() - t0)
            assert new == size + 1
            size = new
    return {
        "batch": APPEND_BATCH,
        "repeats": APPEND_REPEATS,
        "us_per_leaf_median": 1e6 * median(per_leaf),
        "us_per_leaf_each_repeat": [1e6 * x for x in per_leaf],
        "hashing_limit_us_per_leaf_median": 1e6 * median(limit_per_leaf),
        "hashing_share_median": median(ratios),
        "hashing_share_each_repeat": ratios,
        "single_sync": ms_stats(singles),
        "size_after": size,
    }


def in_memory_root_check(log: MerkleLog, recorder: Any, size: int) -> bool:
    """The stored root equals the RFC 9162 MTH computed in memory over the events as read back."""
    states, start = [], 1
    while len(states) < size:
        page = recorder.select_notifications(start=start, limit=5000)
        if not page:
            break
        states.extend(bytes(n.state) for n in page)
        start = page[-1].id + 1
    return merkle.root_hash(states[:size]) == log.root(size)


def proofs(log: MerkleLog, recorder: Any, size: int) -> dict[str, Any]:
    """Inclusion and consistency proofs and past roots at ``size``, as served and fetch-only."""
    rng = random.Random(SEED)
    indices = [rng.randrange(size) for _ in range(PROOFS)]
    olds = [rng.randrange(1, size) for _ in range(PROOFS)]
    pasts = [rng.randrange(1, size + 1) for _ in range(PROOFS)]
    kinds = {
        "inclusion": (indices, lambda i: log.inclusion_proof(i, size),
                      lambda i: log._range_hashes(merkle.inclusion_ranges(i, size))),
        "consistency": (olds, lambda m: log.consistency_proof(m, size),
                        lambda m: log._range_hashes(merkle.consistency_ranges(m, size))),
        "root": (pasts, log.root, lambda n: log._range_hashes([(0, n)])),
    }
    served: dict[str, list[float]] = {k: [] for k in kinds}
    fetch: dict[str, list[float]] = {k: [] for k in kinds}
    p50s: dict[str, list[float]] = {k: [] for k in kinds}
    lengths: dict[str, list[int]] = {k: [] for k in kinds}
    sizes_now, counts = [], []
    per_round = PROOFS // ROUNDS
    order = list(kinds)
    for r in range(ROUNDS):
        shift = r % len(order)
        for kind in order[shift:] + order[:shift]:
            inputs, serve, fetch_only = kinds[kind]
            mine = []
            for x in inputs[r * per_round:(r + 1) * per_round]:
                t0 = time.perf_counter()
                result = serve(x)
                mine.append(time.perf_counter() - t0)
                t0 = time.perf_counter()
                fetch_only(x)
                fetch[kind].append(time.perf_counter() - t0)
                # hashes in the proof; for a root, the stored subtrees folded into it
                lengths[kind].append(len(result) if isinstance(result, list) else len(merkle.perfect_parts(0, x)))
            served[kind].extend(mine)
            p50s[kind].append(median(mine))
        times = size_queries(log, SIZE_QUERIES)
        sizes_now += times["size"]
        counts += times["old_count"]

    # Correctness, untimed: verify a sample against roots from the log and leaf bytes from the events.
    root = log.root(size)
    ok_inclusion = ok_consistency = 0
    for i in indices[:VERIFY_SAMPLE]:
        position, _ = log.leaf_at(i)
        data = bytes(recorder.select_notifications(start=position, limit=1)[0].state)
        ok_inclusion += merkle.verify_inclusion(data, i, size, log.inclusion_proof(i, size), root)
    for m in olds[:VERIFY_SAMPLE]:
        ok_consistency += merkle.verify_consistency(m, size, log.root(m), root, log.consistency_proof(m, size))
    result: dict[str, Any] = {"tree_size": size, "rounds": ROUNDS, "seed": SEED}
    for kind in kinds:
        result[kind] = {
            **ms_stats(served[kind]),
            "p50_ms_each_round": [1000 * x for x in p50s[kind]],
            "fetch_only": ms_stats(fetch[kind]),
            "hashes_mean": sum(lengths[kind]) / len(lengths[kind]),
            "p99_over_limit": 1000 * percentile(served[kind], 99) / LIMIT_MS,
        }
    result["size_query"] = ms_stats(sizes_now)
    result["old_size_query_count"] = ms_stats(counts)
    result["verified"] = {"inclusion": f"{ok_inclusion}/{min(VERIFY_SAMPLE, PROOFS)}",
                          "consistency": f"{ok_consistency}/{min(VERIFY_SAMPLE, PROOFS)}"}
    result["all_verified"] = ok_inclusion == ok_consistency == min(VERIFY_SAMPLE, PROOFS)
    return result


def hashing_limit(events: Events) -> dict[str, Any]:
    """Bare SHA-256 per leaf over fresh event bytes: one leaf hash and one node hash (a tree has
    n - 1 interior nodes), median of repeats."""
    states = [e.state for e in events.make(LIMIT_SAMPLE)]
    events.seq -= LIMIT_SAMPLE  # not inserted: reuse the numbers
    runs = [hashing_seconds(states, len(states)) / len(states) for _ in range(LIMIT_REPEATS)]
    leaf_only = [hashing_seconds(states, 0) / len(states) for _ in range(LIMIT_REPEATS)]
    return {
        "leaves_per_s_median": 1 / median(runs),
        "us_per_leaf_median": 1e6 * median(runs),
        "us_per_leaf_each_repeat": [1e6 * x for x in runs],
        "leaf_hash_us_median": 1e6 * median(leaf_only),
        "sample": LIMIT_SAMPLE,
        "mean_state_bytes": sum(map(len, states)) / len(states),
    }


# --- one store -----------------------------------------------------------------------------------


def bench_store(store: str, url: str, scratch: Path, stages: tuple[int, ...], sizes_of, extend=None) -> dict:
    """Grow a log through ``stages`` on one store; ``extend(stage)`` may add one more stage."""
    t_store = time.perf_counter()
    cast = found_ledger(url, scratch)
    ledger = cast.ledger
    try:
        ledger.open_fund(cast.accountant, "BENCH", "bench fund", "CNCF", street_town=TOWN)
        ledger.record_donation(cast.accountant, "BENCH", 10000, **DONATION)
        recorder = ledger.recorder
        head = recorder.select_notifications(start=1, limit=1000)
        events = Events(head[-1])
        sizes = sizes_of(ledger)
        log = MerkleLog(recorder)
        result: dict[str, Any] = {"store": store, "stages": [], "sample_event_bytes": events.sample_bytes,
                                  "founding_events": len(head)}
        result["hashing_limit"] = hashing_limit(events)
        print(f"  {store}: hashing limit {result['hashing_limit']['us_per_leaf_median']:.2f} µs/leaf "
              f"(leaf_hash {result['hashing_limit']['leaf_hash_us_median']:.2f} µs)", flush=True)
        tree = log.sync()
        plan = list(stages)
        i = 0
        while i < len(plan):
            target = plan[i]
            stage: dict[str, Any] = {"target": target}
            logged = len(head) + events.seq  # events in the log (== leaves once synced)
            t0 = time.perf_counter()
            events.insert(recorder, target - logged)
            stage["insert_events_per_s"] = (target - logged) / (time.perf_counter() - t0)
            before = sizes.file()
            nodes_before = log.tables.fetchone(f"SELECT COUNT(*) FROM {log.tables.table(NODES)}")[0]
            t0 = time.perf_counter()
            new = log.sync()
            spent = time.perf_counter() - t0
            after = sizes.file()
            nodes_after = log.tables.fetchone(f"SELECT COUNT(*) FROM {log.tables.table(NODES)}")[0]
            assert new == target, (new, target)
            built = new - tree
            stage.update({
                "built_from": tree,
                "leaves_built": built,
                "build_s": spent,
                "build_leaves_per_s": built / spent,
                "rows_per_leaf": (built + nodes_after - nodes_before) / built,
                "file_bytes_before_build": before["file_bytes"],
                "file_bytes_after_build": after["file_bytes"],
                "file_growth_per_leaf": ((after["file_bytes"] - before["file_bytes"]) / built
                                         if after["file_bytes"] is not None else None),
            })
            print(f"  {store}: {tree:,} → {new:,} leaves: inserted at {stage['insert_events_per_s']:,.0f} events/s; "
                  f"sync {spent:.1f} s = {stage['build_leaves_per_s']:,.0f} leaves/s, "
                  f"{stage['rows_per_leaf']:.3f} rows/leaf", flush=True)
            tree = new
            if new <= IN_MEMORY_CHECK_UP_TO:
                stage["root_equals_in_memory_mth"] = in_memory_root_check(log, recorder, new)
                print(f"  {store}: root({new:,}) equals the in-memory MTH of the events' bytes: "
                      f"{stage['root_equals_in_memory_mth']}", flush=True)
            times = size_queries(log, SIZE_QUERIES, header=True)
            stage["size_query"] = ms_stats(times["size"])
            stage["old_size_query_count"] = ms_stats(times["old_count"])
            stage["sync_header_queries"] = ms_stats(times["sync_header"])
            stage["old_sync_header_query"] = ms_stats(times["old_sync_header"])
            last = i == len(plan) - 1
            if last and extend is not None and extend.target > new and extend(stage):
                plan.append(extend.target)
                last = False
            if last:
                stage["tables_bytes"] = sizes.tables()
                stage["file"] = sizes.file()
                result["proofs"] = proofs(log, recorder, new)
                p = result["proofs"]
                print(f"  {store}: proofs at {new:,}: inclusion p50 {p['inclusion']['p50_ms']:.2f} ms "
                      f"p99 {p['inclusion']['p99_ms']:.2f} ms; consistency p50 {p['consistency']['p50_ms']:.2f} ms "
                      f"p99 {p['consistency']['p99_ms']:.2f} ms; size() p50 {p['size_query']['p50_ms']:.2f} ms "
                      f"(old COUNT(*) {p['old_size_query_count']['p50_ms']:.2f} ms); verified {p['verified']}",
                      flush=True)
            stage["appends"] = appends(log, recorder, events, new)
            tree = stage["appends"]["size_after"]
            a = stage["appends"]
            print(f"  {store}: appends at {new:,}: {a['us_per_leaf_median']:.1f} µs/leaf in batches of "
                  f"{APPEND_BATCH} (hashing share {a['hashing_share_median']:.3f}); one-event sync p50 "
                  f"{a['single_sync']['p50_ms']:.2f} ms; sync header p50 {stage['sync_header_queries']['p50_ms']:.2f} ms "
                  f"(old {stage['old_sync_header_query']['p50_ms']:.2f} ms)", flush=True)
            result["stages"].append(stage)
            i += 1
        result["elapsed_s"] = time.perf_counter() - t_store
        return result
    finally:
        ledger.close()


class PostgresExtension:
    """Decides after the last planned PostgreSQL stage whether growing to 1M fits the budget."""

    target = PG_FULL

    def __init__(self, started: float) -> None:
        self.started = started
        self.decision: str | None = None

    def __call__(self, stage: dict) -> bool:
        if QUICK:
            self.decision = "quick run: PostgreSQL measured at 20k leaves only"
            return False
        now, more = stage["target"], self.target - stage["target"]
        grow = self.target / now
        header = stage["sync_header_queries"]["p50_ms"] / 1000
        size = stage["size_query"]["p50_ms"] / 1000
        old = (stage["old_size_query_count"]["p50_ms"] + stage["old_sync_header_query"]["p50_ms"]) / 1000
        # The MAX queries are index lookups, but scale them linearly anyway (a safe overestimate);
        # the old-way comparisons do scan every leaf, so they grow with the log.
        projected = (
            more / stage["insert_events_per_s"]
            + more / stage["build_leaves_per_s"] + more / 2000 * header * (1 + grow) / 2  # one header per batch
            + 3 * PROOFS * (size * grow + 0.004)  # served proofs: size() and ~2 ms fetch, twice
            + (APPEND_REPEATS + SINGLE_SYNCS) * header * grow
            + (ROUNDS + 1) * SIZE_QUERIES * old * grow  # the old-way comparisons at 1M
        )
        remaining = BUDGET_S - (time.perf_counter() - self.started)
        if POSTGRES_1M or projected <= remaining:
            self.decision = (f"grown to {self.target:,} leaves" + (" (--postgres-1m)" if POSTGRES_1M else "")
                             + f"; projected {projected:.0f} s with {remaining:.0f} s of the {BUDGET_S} s budget left")
            print(f"  postgresql: {self.decision}", flush=True)
            return True
        self.decision = (f"stopped at {now:,} leaves: growing to {self.target:,} was projected at {projected:.0f} s "
                         f"with {remaining:.0f} s of the {BUDGET_S} s budget left (--postgres-1m forces it)")
        print(f"NOTE: PostgreSQL {self.decision}", flush=True)
        return False


# --- main ----------------------------------------------------------------------------------------


def main() -> int:
    started = time.perf_counter()
    pg_problem = postgres_problem()
    info = machine(postgres=pg_problem is None)
    print(f"bench_proofs: {describe(info)}")
    stores: list[dict] = []
    with tempfile.TemporaryDirectory(prefix="wushe-bench-") as scratch:
        path = Path(scratch) / "ledger.sqlite3"
        stores.append(bench_store("sqlite", f"sqlite:///{path}", Path(scratch), STAGES,
                                  lambda ledger: SQLiteSizes(path, ledger.recorder.events_table_name)))
    pg_note = None
    if pg_problem is None:
        extension = PostgresExtension(started)
        with postgres_schema() as url, tempfile.TemporaryDirectory(prefix="wushe-bench-") as scratch:
            schema = url.rsplit("schema=", 1)[1]
            stores.append(bench_store("postgresql", url, Path(scratch), PG_STAGES,
                                      lambda ledger: PostgresSizes(POSTGRES_URL, schema,
                                                                   ledger.recorder.events_table_name),
                                      extend=extension))
        pg_note = extension.decision
    else:
        pg_note = f"PostgreSQL unavailable at {POSTGRES_URL}: {pg_problem} -- SKIPPED"
        print(f"NOTE: {pg_note}")

    rows = []
    for s in stores:
        for st in s["stages"]:
            a = st["appends"]
            rows.append([s["store"], f"{st['built_from']:,}→{st['target']:,}", st["build_leaves_per_s"],
                         st["rows_per_leaf"], st["build_leaves_per_s"] / s["hashing_limit"]["leaves_per_s_median"],
                         a["us_per_leaf_median"], a["hashing_share_median"], a["single_sync"]["p50_ms"],
                         a["single_sync"]["p95_ms"], st["size_query"]["p50_ms"], st["sync_header_queries"]["p50_ms"],
                         st["old_size_query_count"]["p50_ms"], st["old_sync_header_query"]["p50_ms"],
                         st["file_growth_per_leaf"] if st["file_growth_per_leaf"] is not None else "—"])
    print_table(
        "building and appending (MerkleLog.sync) vs bare SHA-256 of the same bytes",
        ["store", "leaves", "build leaves/s", "rows/leaf", "build ÷ SHA-256", f"µs/leaf ({APPEND_BATCH}-batch)",
         "batch ÷ SHA-256", "1-event sync p50 ms", "p95 ms", "size() ms", "sync header ms", "old COUNT(*) ms",
         "old header ms",
         "file B/leaf"],
        rows,
    )
    for s in stores:
        h = s["hashing_limit"]
        print(f"  {s['store']}: SHA-256 limit {h['us_per_leaf_median']:.2f} µs/leaf "
              f"({h['leaves_per_s_median']:,.0f} leaves/s; leaf hash of {h['mean_state_bytes']:.0f} bytes "
              f"{h['leaf_hash_us_median']:.2f} µs + one node hash)")
    prow = []
    for s in stores:
        p = s.get("proofs")
        if not p:
            continue
        for kind in ("inclusion", "consistency", "root"):
            k = p[kind]
            prow.append([s["store"], f"{p['tree_size']:,}", kind, k["p50_ms"], k["p95_ms"], k["p99_ms"], k["max_ms"],
                         k["p99_over_limit"], k["fetch_only"]["p50_ms"], k["fetch_only"]["p99_ms"], k["hashes_mean"]])
        for what, key in (("size(): MAX(leaf_index)+1", "size_query"), ("old size(): COUNT(*)", "old_size_query_count")):
            q = p[key]
            prow.append([s["store"], f"{p['tree_size']:,}", what, q["p50_ms"], q["p95_ms"], q["p99_ms"], q["max_ms"],
                         "—", "—", "—", "—"])
    print_table(
        f"proofs and past roots, {PROOFS} each in {ROUNDS} rounds (served = the public method; "
        "fetch only = the two queries and the fold, no size check)",
        ["store", "tree", "what", "p50 ms", "p95 ms", "p99 ms", "max ms", f"p99 ÷ {LIMIT_MS:g} ms",
         "fetch p50", "fetch p99", "hashes/parts"],
        prow,
    )
    for s in stores:
        if s.get("proofs"):
            print(f"  {s['store']}: verified {s['proofs']['verified']}")
        final = s["stages"][-1]
        if final.get("tables_bytes"):
            tb = final["tables_bytes"]
            n = final["target"]
            print(f"  {s['store']}: at {n:,} leaves: events {tb[next(iter(tb))] / 2**20:,.0f} MiB, "
                  f"leaves {tb[LEAVES] / 2**20:,.1f} MiB, nodes {tb[NODES] / 2**20:,.1f} MiB "
                  f"= {(tb[LEAVES] + tb[NODES]) / n:.0f} B/leaf of tree")
    if pg_note:
        print(f"  postgresql: {pg_note}")
    print("  size(): MerkleLog.size() = MAX(leaf_index) + 1, run before every proof and root; sync header: "
          "'SELECT MAX(leaf_index)' then 'SELECT MAX(position)', what every sync batch runs first; "
          "old COUNT(*) / old header: the old way ('SELECT COUNT(*)', 'SELECT COUNT(*), MAX(position)'), for comparison")
    elapsed = time.perf_counter() - started
    print(f"total {elapsed:.0f} s")
    write_results("bench_proofs.postgres-1m" if POSTGRES_1M else "bench_proofs", {
        "benchmark": "bench_proofs",
        "machine": info,
        "postgresql": pg_note or "ran",
        "plan": {"stages": STAGES, "pg_stages": PG_STAGES, "insert_batch": INSERT_BATCH,
                 "append_batch": APPEND_BATCH, "append_repeats": APPEND_REPEATS, "single_syncs": SINGLE_SYNCS,
                 "proofs": PROOFS, "rounds": ROUNDS, "verify_sample": VERIFY_SAMPLE, "limit_ms": LIMIT_MS,
                 "budget_s": BUDGET_S, "seed": SEED},
        "stores": stores,
        "elapsed_s": elapsed,
    })
    return 0


if __name__ == "__main__":
    sys.exit(main())
