"""Sustained signed appends through the real application, cached and cold, against a naive peer in
the matching configuration on the same store.

One ``Ledger.record_donation`` = load the fund aggregate, authorise against the directory, check
the rules, seal and sign one Fund.DonationReceived, save it in one transaction. The load is what
the two configurations change:

* **cached** (the default, ``Settings.aggregate_cache`` = 1000): eventsourcing's aggregate cache
  with fast-forward, so a load reads, opens and signature-checks only the events stored since the
  previous load of that fund in this process (normally none or one), then deep-copies the cached
  aggregate;
* **cold** (``aggregate_cache=0``): every load replays, opens and verifies every stored event.

Both ledgers are open at once on the same store. The **naive peer** is a plain
``eventsourcing.application.Application`` with a trivial unsigned aggregate and the default
mapper, on the same store (same factory, same durability settings) and in the matching
configuration: ``AGGREGATE_CACHE_MAXSIZE`` set (fast-forward, deep copy: eventsourcing's defaults)
for the cached ratio, unset for the cold one. It does the same shape of command: get the aggregate,
trigger one event carrying the same payload fields, save. A row "naive insert" saves one
new one-event aggregate per call: the store's own per-transaction floor. A last row, "bulk
import", runs the same ``record_donation`` commands inside ``Ledger.bulk()`` (every rule checked,
every event sealed and signed by its actor, one transaction per batch of 2,000) into a new fund,
with its ratios to the cached ledger one command at a time and to the naive insert, same run.

Each repeat pre-fills a fresh fund (and peer aggregate) per configuration to ~100 or ~2,000 real
signed events, in bulk (the aggregate's own command method, saved with ``signing_as`` in chunks)
because doing it by command would be quadratic, and drops it from the cache, so the first command
of a repeat loads the whole stream as the first command after a process start does. That first
command is timed on its own ("first cmd"); the rates are over the commands after it. Within a
repeat the four contenders take turns in rounds (``ROUNDS``), in an order rotated per repeat.
Each repeat gives a ratio (ledger ÷ naive in the same configuration) of throughputs and one of
median latencies; the tables give the median over repeats.

Stores:

* SQLite: a scratch file, WAL, synchronous=FULL (the ledger's own store settings);
* PostgreSQL: a fresh schema ``bench_<random>`` on WUSHE_BENCH_POSTGRES_URL (default
  postgresql://postgres@127.0.0.1:5432/test), dropped afterwards; skipped with a notice if the
  server does not answer.

    .venv/bin/python bench/bench_append.py             # make bench runs this
    .venv/bin/python bench/bench_append.py --quick     # a smoke run
    .venv/bin/python bench/bench_append.py --profile   # cProfile appends into a 2,000-event fund (SQLite),
                                                       # cached then cold
"""

from __future__ import annotations

import sys
import tempfile
import time
import uuid
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchlib import (
    DONATION,
    POSTGRES_URL,
    TOWN,
    describe,
    found_ledger,
    machine,
    median,
    open_ledger,
    percentile,
    postgres_problem,
    postgres_schema,
    print_table,
    profile,
    write_results,
)
from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, event

from ledger.mapper import signing_as
from ledger.settings import Settings
from ledger.stores import persistence_env

QUICK = "--quick" in sys.argv
PROFILE = "--profile" in sys.argv

CACHE_SIZE = Settings.model_fields["aggregate_cache"].default
"""The default, passed explicitly so that a WUSHE_AGGREGATE_CACHE in the environment cannot turn
the "cached" configuration cold."""
CONFIGS = {"cached": CACHE_SIZE, "cold": 0}

# configuration -> fund size -> (appends per repeat, repeats)
PLAN = {
    "cached": {100: (15, 2), 2000: (15, 2)},
    "cold": {100: (15, 2), 2000: (3, 2)},
} if QUICK else {
    "cached": {100: (60, 5), 2000: (60, 5)},
    "cold": {100: (32, 5), 2000: (8, 3)},
}
ROUNDS = 4
"""Within a repeat each contender's appends are split into this many rounds, the contenders taking
turns round by round, so a burst of load from the neighbours falls on all of them alike."""
SIZES = (100, 2000)
INSERT_PLAN = (15, 2) if QUICK else (60, 5)
BULK_PLAN = (2_000, 2) if QUICK else (20_000, 3)
"""Donations per repeat through ``Ledger.bulk()`` (batches of ``BULK_BATCH``), repeats."""
BULK_BATCH = 2_000
PREFILL_CHUNK = 250
AMOUNT = 10000


# --- the naive peer ------------------------------------------------------------------------------


class Tally(Aggregate):
    """A trivial unsigned aggregate: one event per call, carrying the donation's payload fields."""

    @event("Created")
    def __init__(self, name: str) -> None:
        self.name = name
        self.count = 0
        self.total = 0

    @event("Received")
    def receive(self, entry: str, amount: int, method: str, donor_type: str, donor_name: str | None,
                donor_public: bool, in_kind_description: str | None, received_on: str, street_town: str,
                note: str | None, postings: list) -> None:
        self.count += 1
        self.total += amount


class Opened(Aggregate):
    """One event per aggregate: the naive insert floor."""

    @event("Opened")
    def __init__(self, entry: str, amount: int, method: str, donor_type: str, donor_name: str | None,
                 donor_public: bool, in_kind_description: str | None, received_on: str, street_town: str,
                 note: str | None, postings: list) -> None:
        self.amount = amount


class NaiveBench(Application):
    """Plain eventsourcing, no signing, default mapper (JSON transcoder)."""

    name = "NaiveBench"


def naive_app(database_url: str, aggregate_cache: int) -> NaiveBench:
    # the ledger's own factory, durability settings and AGGREGATE_CACHE_MAXSIZE
    env = persistence_env(database_url, aggregate_cache)
    env.pop("ORIGINATOR_ID_TYPE", None)  # plain eventsourcing: UUID aggregate ids
    return NaiveBench(env=env)


def naive_payload() -> dict:
    """The same fields and values the ledger's Fund.DonationReceived carries."""
    return {
        "entry": uuid.uuid4().hex, "amount": AMOUNT, "method": DONATION["method"],
        "donor_type": DONATION["donor_type"], "donor_name": DONATION["donor_name"],
        "donor_public": DONATION["donor_public"], "in_kind_description": None,
        "received_on": date.today().isoformat(), "street_town": TOWN, "note": DONATION["note"],
        "postings": [
            {"account": "Assets:Funds:B", "amount": AMOUNT, "commodity": "CNY"},
            {"account": "Income:Unrestricted:Donations:resident", "amount": -AMOUNT, "commodity": "CNY"},
        ],
    }


# --- one store -----------------------------------------------------------------------------------


def evict(app: Application, aggregate_id) -> None:
    """Forget a cached aggregate, as a process start would."""
    cache = app.repository.cache
    if cache is not None:
        try:
            cache.get(aggregate_id, evict=True)
        except KeyError:
            pass


def prefill_fund(ledger, accountant, code: str, size: int) -> None:
    """Open fund ``code`` and bring it to ``size`` real signed events, saved in chunks; then drop it
    from the ledger's cache, so the next command loads the whole stream."""
    ledger.open_fund(accountant, code, f"{code} 基金", "CNCF", street_town=TOWN)
    fund = ledger.fund(code)
    today = ledger.today()
    for i in range(size - 1):
        fund.receive_donation(
            entry=uuid.uuid4().hex, amount=AMOUNT, method=DONATION["method"], donor_type=DONATION["donor_type"],
            donor_name=DONATION["donor_name"], donor_public=DONATION["donor_public"], in_kind_description=None,
            received_on=today, street_town=TOWN, note=DONATION["note"],
        )
        if (i + 1) % PREFILL_CHUNK == 0 or i == size - 2:
            with signing_as(accountant.key):
                ledger.save(fund)
    assert fund.version == size, (fund.version, size)
    evict(ledger, fund.id)


def prefill_tally(app: NaiveBench, size: int):
    tally = Tally(name=f"tally-{uuid.uuid4().hex[:8]}")
    for i in range(size - 1):
        tally.receive(**naive_payload())
        if (i + 1) % PREFILL_CHUNK == 0:
            app.save(tally)
    app.save(tally)
    assert tally.version == size
    evict(app, tally.id)  # never loaded, so never cached; for symmetry
    return tally.id


def measure(fn, count: int) -> tuple[float, list[float]]:
    """Total seconds and per-call latencies (seconds) of ``count`` calls."""
    latencies = []
    start = time.perf_counter()
    for _ in range(count):
        t0 = time.perf_counter()
        fn()
        latencies.append(time.perf_counter() - t0)
    return time.perf_counter() - start, latencies


def bench_store(store: str, database_url: str, data_dir: Path) -> list[dict]:
    cast = found_ledger(database_url, data_dir, aggregate_cache=CONFIGS["cached"])
    ledgers = {"cached": cast.ledger, "cold": open_ledger(database_url, data_dir, aggregate_cache=CONFIGS["cold"])}
    naives = {config: naive_app(database_url, size) for config, size in CONFIGS.items()}
    rows: list[dict] = []
    try:
        for size in SIZES:
            keys = [(config, who) for config in CONFIGS for who in ("ledger", "naive")]
            runs = {k: [] for k in keys}
            latencies = {k: [] for k in keys}
            firsts = {k: [] for k in keys}
            ratios = {config: [] for config in CONFIGS}
            p50_ratios = {config: [] for config in CONFIGS}  # naive p50 / ledger p50, per repeat
            speedups: list[float] = []  # cached ledger rate / cold ledger rate, same repeat
            loads = {config: [] for config in CONFIGS}
            fetches: list[float] = []
            final = {}
            repeats = max(PLAN[config][size][1] for config in CONFIGS)
            for r in range(repeats):
                active = [config for config in CONFIGS if r < PLAN[config][size][1]]
                contenders = []
                codes = {}
                for config in active:
                    ledger, naive = ledgers[config], naives[config]
                    appends = PLAN[config][size][0]
                    code = codes[config] = f"B{size}{config[:2]}{r}-{uuid.uuid4().hex[:6]}"
                    prefill_fund(ledger, cast.accountant, code, size)
                    tally_id = prefill_tally(naive, size)

                    def ledger_append(ledger=ledger, code=code) -> None:
                        ledger.record_donation(cast.accountant, code, AMOUNT, **DONATION)

                    def naive_append(naive=naive, tally_id=tally_id) -> None:
                        tally = naive.repository.get(tally_id)
                        tally.receive(**naive_payload())
                        naive.save(tally)

                    contenders += [((config, "ledger"), ledger_append, appends),
                                   ((config, "naive"), naive_append, appends)]
                # Rotate who goes first, so no one always meets another's leftovers.
                shift = r % len(contenders)
                contenders = contenders[shift:] + contenders[:shift]
                for key, fn, _ in contenders:
                    t0 = time.perf_counter()
                    fn()  # the first command: loads the whole stream (in both configurations)
                    firsts[key].append(time.perf_counter() - t0)
                seconds = {key: 0.0 for key, _, _ in contenders}
                lats: dict = {key: [] for key, _, _ in contenders}
                for turn in range(ROUNDS):
                    for key, fn, appends in contenders:
                        count = appends // ROUNDS + (1 if turn < appends % ROUNDS else 0)
                        spent, lat = measure(fn, count)
                        seconds[key] += spent
                        lats[key].extend(lat)
                rates = {}
                for key, _, appends in contenders:
                    rates[key] = appends / seconds[key]
                    runs[key].append(rates[key])
                    latencies[key].extend(lats[key])
                for config in active:
                    ratios[config].append(rates[(config, "ledger")] / rates[(config, "naive")])
                    p50_ratios[config].append(median(lats[(config, "naive")]) / median(lats[(config, "ledger")]))
                    ledger = ledgers[config]
                    t0 = time.perf_counter()
                    fund = ledger.fund(codes[config])
                    loads[config].append(time.perf_counter() - t0)
                    final[config] = fund.version
                    if config == "cold":
                        t0 = time.perf_counter()
                        ledger.recorder.select_events(fund.id)  # the rows alone: the store's share of a load
                        fetches.append(time.perf_counter() - t0)
                if len(active) == len(CONFIGS):
                    speedups.append(rates[("cached", "ledger")] / rates[("cold", "ledger")])
            for config, who in keys:
                key = (config, who)
                appends, reps = PLAN[config][size]
                mine = who == "ledger"
                rows.append({
                    "store": store,
                    "config": config,
                    "fund_events": size,
                    "fund_events_at_end": final[config] if mine else None,
                    "who": who,
                    "appends_per_repeat": appends,
                    "repeats": reps,
                    "events_per_s_median": median(runs[key]),
                    "events_per_s_each_repeat": runs[key],
                    "p50_ms": 1000 * percentile(latencies[key], 50),
                    "p99_ms": 1000 * percentile(latencies[key], 99),
                    "latency_samples": len(latencies[key]),
                    "first_command_ms_median": 1000 * median(firsts[key]),
                    "first_command_ms_each_repeat": [1000 * f for f in firsts[key]],
                    "ratio_vs_naive_median": median(ratios[config]) if mine else 1.0,
                    "ratio_vs_naive_each_repeat": ratios[config] if mine else None,
                    "p50_ratio_vs_naive_median": median(p50_ratios[config]) if mine else 1.0,
                    "p50_ratio_vs_naive_each_repeat": p50_ratios[config] if mine else None,
                    "fund_load_ms_median": 1000 * median(loads[config]) if mine else None,
                    "fund_rows_fetch_ms_median": 1000 * median(fetches) if mine and config == "cold" else None,
                    "cached_over_cold_ledger_median": median(speedups) if mine and config == "cached" else None,
                    "cached_over_cold_ledger_each_repeat": speedups if mine and config == "cached" else None,
                })
            print(f"  {store}: fund size {size}: "
                  + "; ".join(f"{config} ledger {median(runs[(config, 'ledger')]):.1f}/s, naive "
                              f"{median(runs[(config, 'naive')]):.1f}/s, ratio {median(ratios[config]):.3f}"
                              for config in CONFIGS), flush=True)

        appends, repeats = INSERT_PLAN
        inserts, lat = [], []
        naive = naives["cold"]
        for _ in range(repeats):

            def insert() -> None:
                naive.save(Opened(**naive_payload()))

            insert()
            seconds, ls = measure(insert, appends)
            inserts.append(appends / seconds)
            lat.extend(ls)
        rows.append({
            "store": store, "config": None, "fund_events": 0, "who": "naive insert", "appends_per_repeat": appends,
            "repeats": repeats, "events_per_s_median": median(inserts), "events_per_s_each_repeat": inserts,
            "p50_ms": 1000 * percentile(lat, 50), "p99_ms": 1000 * percentile(lat, 99), "latency_samples": len(lat),
            "ratio_vs_naive_median": None,
        })
        print(f"  {store}: naive insert {median(inserts):.1f}/s", flush=True)
        rows.append(bench_bulk(store, cast, rows, median(inserts)))
    finally:
        for app in (*naives.values(), *ledgers.values()):
            app.close()
    return rows


def bench_bulk(store: str, cast, rows: list[dict], naive_insert: float) -> dict:
    """The same ``record_donation`` commands inside ``Ledger.bulk()``: every rule checked, each
    event sealed and signed by its actor, written one transaction per batch. Compared with the
    cached ledger one command at a time (fund ~100 events) and the naive insert, same run."""
    ledger = cast.ledger
    count, repeats = BULK_PLAN
    runs = []
    for r in range(repeats):
        code = f"BULK{r}-{uuid.uuid4().hex[:6]}"
        ledger.open_fund(cast.accountant, code, f"{code} 基金", "CNCF", street_town=TOWN)
        t0 = time.perf_counter()
        with ledger.bulk(batch_events=BULK_BATCH):
            for _ in range(count):
                ledger.record_donation(cast.accountant, code, AMOUNT, **DONATION)
        runs.append(count / (time.perf_counter() - t0))
        assert ledger.fund(code).balance == count * AMOUNT
    one_at_a_time = next(r["events_per_s_median"] for r in rows
                         if r["config"] == "cached" and r["who"] == "ledger" and r["fund_events"] == SIZES[0])
    rate = median(runs)
    print(f"  {store}: bulk import {rate:.0f}/s ({rate / one_at_a_time:.1f}× one at a time, "
          f"{rate / naive_insert:.1f}× naive insert)", flush=True)
    return {
        "store": store, "config": "bulk", "fund_events": 0, "who": "bulk import", "appends_per_repeat": count,
        "repeats": repeats, "batch_events": BULK_BATCH, "events_per_s_median": rate, "events_per_s_each_repeat": runs,
        "p50_ms": None, "p99_ms": None, "ratio_vs_naive_median": None,
        "ratio_vs_one_at_a_time": rate / one_at_a_time, "ratio_vs_naive_insert": rate / naive_insert,
    }


def cost_model(rows: list[dict]) -> dict[str, dict]:
    """Per store and configuration, the line through the ledger's p50 latencies at the two fund
    sizes, taking each size as the middle of its appends: fixed ms per command and ms per event
    already in the fund."""
    fits = {}
    for store in sorted({r["store"] for r in rows}):
        for config in CONFIGS:
            points = sorted(
                (r["fund_events"] + r["appends_per_repeat"] / 2, r["p50_ms"])
                for r in rows if r["store"] == store and r["who"] == "ledger" and r["config"] == config
            )
            if len(points) >= 2:
                (x0, y0), (x1, y1) = points[0], points[-1]
                slope = (y1 - y0) / (x1 - x0)
                fits[f"{store} {config}"] = {"ms_per_fund_event": slope, "fixed_ms": y0 - slope * x0}
    return fits


def run_profile() -> int:
    with tempfile.TemporaryDirectory(prefix="wushe-bench-") as scratch:
        url = f"sqlite:///{Path(scratch) / 'ledger.sqlite3'}"
        cast = found_ledger(url, Path(scratch), aggregate_cache=CONFIGS["cached"])
        cold = open_ledger(url, Path(scratch), aggregate_cache=0)
        for name, ledger, count in (("cached", cast.ledger, 300), ("cold", cold, 15)):
            code = f"PROF{name.upper()}"
            prefill_fund(ledger, cast.accountant, code, 2000)
            ledger.record_donation(cast.accountant, code, AMOUNT, **DONATION)  # the first load, not profiled
            print(f"\n=== {name}: {count} donations into a 2,000-event fund ===")
            profile(lambda ledger=ledger, code=code, count=count: [
                ledger.record_donation(cast.accountant, code, AMOUNT, **DONATION) for _ in range(count)])
        cold.close()
        cast.ledger.close()
    return 0


def main() -> int:
    if PROFILE:
        return run_profile()
    started = time.perf_counter()
    pg_problem = postgres_problem()
    info = machine(postgres=pg_problem is None)
    print(f"bench_append: {describe(info)}")
    rows: list[dict] = []
    with tempfile.TemporaryDirectory(prefix="wushe-bench-") as scratch:
        rows += bench_store("sqlite", f"sqlite:///{Path(scratch) / 'ledger.sqlite3'}", Path(scratch))
    if pg_problem is None:
        with postgres_schema() as url, tempfile.TemporaryDirectory(prefix="wushe-bench-") as scratch:
            rows += bench_store("postgresql", url, Path(scratch))
    else:
        print(f"NOTE: PostgreSQL unavailable at {POSTGRES_URL}: {pg_problem} -- its rows are SKIPPED")

    table = []
    order = {config: i for i, config in enumerate((*CONFIGS, None, "bulk"))}
    stores = {store: i for i, store in enumerate(dict.fromkeys(r["store"] for r in rows))}
    for row in sorted(rows, key=lambda r: (stores[r["store"]], order.get(r["config"], len(order)),
                                           r["fund_events"], r["who"])):
        size = row["fund_events"]
        end = row.get("fund_events_at_end")
        table.append([
            row["store"],
            row["config"] or "—",
            row["who"],
            f"{size}→{end}" if end else (str(size) if size else "new"),
            row["events_per_s_median"],
            row["p50_ms"] if row["p50_ms"] is not None else "—",
            row["p99_ms"] if row["p99_ms"] is not None else "—",
            row["ratio_vs_naive_median"] if row["ratio_vs_naive_median"] is not None else (
                f"{row['ratio_vs_one_at_a_time']:.1f}× cached ledger, {row['ratio_vs_naive_insert']:.1f}× naive insert"
                if row["who"] == "bulk import" else "—"),
            row.get("p50_ratio_vs_naive_median") or "—",
            row.get("first_command_ms_median") or "—",
            row.get("fund_load_ms_median") or "—",
            row.get("fund_rows_fetch_ms_median") or "—",
            f"{row['repeats']}×{row['appends_per_repeat']}",
        ])
    print_table(
        "signed appends (Ledger.record_donation) vs naive eventsourcing in the same cache configuration, "
        "same store; medians over repeats",
        ["store", "config", "who", "agg. events", "events/s", "p50 ms", "p99 ms", "ratio vs naive", "p50 ratio", "first cmd ms",
         "load ms", "rows ms", "repeats×n"],
        table,
    )
    print("  ratio: ledger ÷ naive peer in the same configuration, events/s, median of per-repeat ratios; p50 ratio: "
          "the same for median latencies (naive p50 ÷ ledger p50); first cmd ms: "
          "the first command of a repeat, which loads the whole stream (as after a process start); load ms: one "
          "ledger.fund() after the repeat; rows ms: fetching that fund's rows alone")
    for row in rows:
        if row.get("cached_over_cold_ledger_median"):
            print(f"  {row['store']}: fund size {row['fund_events']}: cached ledger ÷ cold ledger "
                  f"{row['cached_over_cold_ledger_median']:.1f}× (same repeats)")
    fits = cost_model(rows)
    for name, fit in fits.items():
        print(f"  {name}: a command costs about {fit['fixed_ms']:.2f} ms + {fit['ms_per_fund_event']:.4f} ms "
              "per event already in the fund (straight line through the two p50s)")
    elapsed = time.perf_counter() - started
    print(f"total {elapsed:.0f} s")
    write_results("bench_append", {
        "benchmark": "bench_append",
        "machine": info,
        "postgresql": pg_problem or "ran",
        "cache_size": CACHE_SIZE,
        "rounds": ROUNDS,
        "plan": {config: {str(k): {"appends_per_repeat": v[0], "repeats": v[1]} for k, v in sizes.items()}
                 for config, sizes in PLAN.items()},
        "rows": rows,
        "cost_model": fits,
        "elapsed_s": elapsed,
    })
    return 0


if __name__ == "__main__":
    sys.exit(main())
