"""Rebuilding every view from the signed log (``Projections(ledger).rebuild()``) against ledger-cli
and hledger computing the balances of the same transactions, in one run on SQLite.

The ledger is founded as ``wushe init`` does (root key, log key) and seeded with the demo
(``seed_demo``, ~1,450 events per unit of scale) at ``SCALE`` = 69, which gives ~100k events; the
seeding is timed. The journal is exported once (``projections.journal.journal``: every money event
and volunteer session as a transaction, read from the verified log) to ``export.journal``.

Then ``REPEATS`` interleaved repeats, the order rotated per repeat, each timing:

* rebuild  — ``Projections(ledger).rebuild()``: empty every view, read the whole log, check that the
  events under the newest signed checkpoint hash to its root (the tree grew only over verified
  events) and verify each event after it, fold, write the views (what the issue measures);
* rebuild, every signature — ``rebuild(verify_all=True)``: the same, also verifying the signature
  of every event the checkpoint vouches for (what a rebuild cost before checkpoints were trusted);
* raw read — iterating ``ledger.log_positions()``: the stored rows, nothing decoded (the ceiling);
* ledger-cli — ``ledger -f export.journal balance`` (Debian's ``ledger``), as a subprocess;
* hledger  — ``hledger -f export.journal balance`` (LANG=C.UTF-8), the second peer;
* startup  — both tools on a journal of the same declarations without transactions (their fixed
  cost: process start, parsing the header).

Peak memory: a rebuild alone in a fresh process, and each tool's balance, each process's own
high-water mark (``VmHWM`` sampled from ``/proc``).

ratio = rebuild seconds ÷ ledger-cli seconds (the issue's goal: ≤ 1.0), per repeat, then the median;
likewise ÷ hledger, and rebuild events/s ÷ raw-read events/s (how close the fold runs to reading the
log). One more rebuild runs under cProfile, summarised into verification, folds, SQL and the rest.

1M events: pending the 1M-event generator (a later issue); seeding the demo to 1M would take about
20 minutes here.

    .venv/bin/python bench/bench_rebuild.py             # ~100k events, about 5-6 minutes
    .venv/bin/python bench/bench_rebuild.py --quick     # scale 2 (~3k events), a smoke run
    .venv/bin/python bench/bench_rebuild.py --scale N   # another demo scale
    .venv/bin/python bench/bench_rebuild.py --data DIR  # a ledger seeded before (DIR/ledger.sqlite3, DIR/keys)
    .venv/bin/python bench/bench_rebuild.py --data DIR --repeats 2 --no-verify-all   # 1M events: shorter
"""

from __future__ import annotations

import cProfile
import io
import os
import pstats
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchlib import (
    demo_ledger,
    describe,
    machine,
    median,
    print_table,
    rebuild_measured,
    run_measured,
    seeded_ledger,
    spread,
    write_results,
)

from ledger.application import Ledger
from projections.journal import journal
from projections.runner import Projections

QUICK = "--quick" in sys.argv
SCALE = 2 if QUICK else 69
if "--scale" in sys.argv:
    SCALE = int(sys.argv[sys.argv.index("--scale") + 1])
REPEATS = int(sys.argv[sys.argv.index("--repeats") + 1]) if "--repeats" in sys.argv else 3
VERIFY_ALL = "--no-verify-all" not in sys.argv
SEED_BUDGET_S = 240
TOOL_ENV = {**os.environ, "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8"}
DATA = Path(sys.argv[sys.argv.index("--data") + 1]) if "--data" in sys.argv else None
PENDING_1M = "pending the 1M-event generator (a later issue); the demo seeds ~800 events/s here, ~20 min for 1M"


def tool_version(exe: str) -> str | None:
    try:
        out = subprocess.run([exe, "--version"], capture_output=True, text=True, env=TOOL_ENV, timeout=30,
                             check=False).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    return out.strip().splitlines()[0] if out.strip() else None


def children_cpu() -> float:
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime


def run_tool(exe: str, path: Path) -> tuple[float, float, str]:
    """Wall and CPU seconds of ``exe -f path balance`` as a subprocess; its last output line (the total)."""
    start, cpu = time.perf_counter(), children_cpu()
    done = subprocess.run([exe, "-f", str(path), "balance"], capture_output=True, text=True, env=TOOL_ENV, check=False)
    seconds, cpu = time.perf_counter() - start, children_cpu() - cpu
    if done.returncode != 0:
        raise RuntimeError(f"{exe} -f {path} balance exited {done.returncode}: {done.stderr.strip()[:500]}")
    lines = [line.strip() for line in done.stdout.splitlines() if line.strip()]
    return seconds, cpu, lines[-1] if lines else ""


# --- profile -------------------------------------------------------------------------------------


def _find(stats: dict, path_end: str, name: str) -> tuple[int, float, float]:
    """(calls, own seconds, cumulative seconds) of a function, summed over matching entries."""
    calls, own, cum = 0, 0.0, 0.0
    for (filename, _line, func), (_cc, nc, tt, ct, _callers) in stats.items():
        if func == name and filename.endswith(path_end):
            calls, own, cum = calls + nc, own + tt, cum + ct
    return calls, own, cum


def profile_rebuild(projections: Projections) -> dict[str, Any]:
    profiler = cProfile.Profile()
    profiler.enable()
    projections.rebuild()
    profiler.disable()
    stats = pstats.Stats(profiler)
    raw = stats.stats  # type: ignore[attr-defined]
    total = _find(raw, "projections/runner.py", "rebuild")[2]

    def cum(path_end: str, name: str) -> float:
        return _find(raw, path_end, name)[2]

    def own(path_end: str, name: str) -> float:
        return _find(raw, path_end, name)[1]

    verify = cum("ledger/mapper.py", "to_domain_event")
    folds = cum("projections/runner.py", "changes_for")
    reads = cum("projections/bulk.py", "read")  # Rows.read: view rows the folds look up, in memory
    leaves = cum("ledger/merkle.py", "append") + cum("ledger/merkle.py", "leaf_hash")
    buckets = {
        "vouched events: _vouched (leaf hash, tree, decode, Event)": cum("projections/runner.py", "_vouched"),
        "  Merkle leaf hash and tree (leaf_hash, Frontier.append)": leaves,
        "  JSON decode (msgspec)": own("~", "<method 'decode' of 'msgspec.json.Decoder' objects>"),
        "verification after the checkpoint (to_domain_event)": verify,
        "folds: changes_for, without row reads": folds - reads,
        "row reads: Rows.read (in memory)": reads,
        "applying the changes in memory (Rows.apply)": cum("projections/bulk.py", "apply"),
        "rollups from the final daily rows (Rows.roll_up)": cum("projections/bulk.py", "roll_up"),
        "writing the views (bulk.write: canonical rows, digests, INSERT)": cum("projections/bulk.py", "write"),
        "  of which the digests (sum_of_stored)": cum("projections/digest.py", "sum_of_stored"),
        "waiting for and taking the volunteers' rows (_Apart.join)": cum("projections/runner.py", "join"),
        "fetching the events (_rows_after)": cum("projections/runner.py", "_rows_after"),
        "all sqlite3 execute / executemany / commit (own time)": (
            own("~", "<method 'execute' of 'sqlite3.Cursor' objects>")
            + own("~", "<method 'executemany' of 'sqlite3.Cursor' objects>")
            + own("~", "<method 'commit' of 'sqlite3.Connection' objects>")
            + own("~", "<method 'fetchall' of 'sqlite3.Cursor' objects>")
            + own("~", "<method 'fetchone' of 'sqlite3.Cursor' objects>")
        ),
    }
    text = io.StringIO()
    pstats.Stats(profiler, stream=text).sort_stats("cumulative").print_stats(25)
    top = []
    for key in sorted(raw, key=lambda k: raw[k][3], reverse=True)[:25]:
        filename, line, func = key
        _cc, nc, tt, ct, _ = raw[key]
        where = func if filename == "~" else f"{Path(filename).parent.name}/{Path(filename).name}:{line}({func})"
        top.append({"function": where, "calls": nc, "own_s": tt, "cumulative_s": ct, "share": ct / total})
    return {"total_s": total, "buckets_s": buckets, "shares": {k: v / total for k, v in buckets.items()},
            "top_cumulative": top, "pstats_text": text.getvalue()}


# --- main ----------------------------------------------------------------------------------------


def peak_memory(tools: dict, journal_path: Path, data_dir: Path) -> dict[str, float]:
    """Peak resident memory (MiB) of a rebuild alone in a fresh process, and of each tool's balance."""
    _, peak = rebuild_measured(data_dir)
    memory = {"rebuild (fresh process)": peak}
    for name, exe in tools.items():
        if exe:
            memory["ledger-cli" if name == "ledger" else "hledger"] = run_measured(
                [exe, "-f", str(journal_path), "balance"], env=TOOL_ENV, quiet=True)[1]
    rebuild = memory["rebuild (fresh process)"]
    print_table("peak resident memory (VmHWM of each process)", ["process", "MiB", "÷ rebuild"],
                [[k, v, v / rebuild] for k, v in memory.items()])
    return memory


def main() -> int:
    started = time.perf_counter()
    info = machine(postgres=False)
    print(f"bench_rebuild: {describe(info)}")
    tools = {name: shutil.which(name) for name in ("ledger", "hledger")}
    for name, exe in tools.items():
        if exe is None:
            print(f"NOTE: {name} is not installed ({'apt-get install -y ledger' if name == 'ledger' else 'hledger'}); "
                  "its rows are SKIPPED")
    versions = {name: tool_version(exe) for name, exe in tools.items() if exe}
    with tempfile.TemporaryDirectory(prefix="wushe-bench-") as scratch:
        data_dir = Path(scratch)
        if DATA is not None:
            print(f"using the ledger seeded before in {DATA}", flush=True)
            ledger, stats, seed_seconds = seeded_ledger(DATA)
        else:
            print(f"seeding the demo at scale {SCALE} ...", flush=True)
            ledger, stats, seed_seconds = demo_ledger(data_dir, SCALE)
        try:
            return run(info, tools, versions, data_dir, ledger, stats, seed_seconds, started)
        finally:
            ledger.close()


def run(info: dict, tools: dict, versions: dict, data_dir: Path, ledger: Ledger, stats: dict,
        seed_seconds: float, started: float) -> int:
    n = ledger.recorder.max_notification_id()
    print(f"demo ledger: {n:,} events, seeded in {seed_seconds:.1f} s ({n / seed_seconds:,.0f} events/s)", flush=True)
    if seed_seconds > SEED_BUDGET_S:
        print(f"NOTE: seeding took {seed_seconds:.0f} s, over the {SEED_BUDGET_S} s budget: use a smaller --scale")

    path = (DATA or data_dir) / "export.journal"
    t0 = time.perf_counter()
    if DATA is not None and path.exists() and path.stat().st_mtime > (DATA / "ledger.sqlite3").stat().st_mtime:
        text = path.read_text(encoding="utf-8")  # exported by an earlier run from the same, unchanged ledger
    else:
        text = journal(ledger)
        path.write_text(text, encoding="utf-8")
    export_seconds = time.perf_counter() - t0
    lines = text.splitlines()
    transactions = sum(1 for line in lines if line[:1].isdigit())
    postings = sum(1 for line in lines if line.startswith("    "))
    header = text[: text.index("\n\n", text.index("\naccount ")) + 2] if "\naccount " in text else ""
    empty = data_dir / "declarations.journal"  # the same declarations, no transactions: the tools' fixed cost
    empty.write_text(header, encoding="utf-8")
    print(f"journal: {transactions:,} transactions, {postings:,} postings, {len(text.encode()) / 1e6:.1f} MB, "
          f"exported in {export_seconds:.1f} s", flush=True)

    projections = Projections(ledger)
    checkpoint = projections.trusted_checkpoint()
    vouched = checkpoint.size if checkpoint else 0
    print(f"newest checkpoint: {vouched:,} events of {n:,} vouched for", flush=True)

    def rebuild() -> int:
        return projections.rebuild()

    def rebuild_verifying() -> int:
        return projections.rebuild(verify_all=True)

    def raw_read() -> int:
        return sum(1 for _ in ledger.log_positions())

    contenders: dict[str, Any] = {"rebuild": rebuild, "rebuild, every signature": rebuild_verifying,
                                  "raw read": raw_read}
    if not VERIFY_ALL:
        del contenders["rebuild, every signature"]
    totals: dict[str, list[str]] = {}
    for name, exe in tools.items():
        if exe:
            label = "ledger-cli" if name == "ledger" else "hledger"
            totals[label] = []

            def peer(exe: str = exe, label: str = label) -> tuple[float, float]:
                seconds, cpu, total = run_tool(exe, path)
                totals[label].append(total)
                return seconds, cpu

            def startup(exe: str = exe) -> tuple[float, float]:
                return run_tool(exe, empty)[:2]

            contenders[label] = peer
            contenders[f"{label} startup"] = startup
    names = list(contenders)
    seconds: dict[str, list[float]] = {name: [] for name in names}
    cpu: dict[str, list[float]] = {name: [] for name in names}
    """CPU seconds (this process's and its children's, or the tool's): steadier than wall time on a
    shared machine."""
    for repeat in range(REPEATS):
        shift = repeat % len(names)
        for name in names[shift:] + names[:shift]:
            t0, c0, k0 = time.perf_counter(), time.process_time(), children_cpu()
            result = contenders[name]()
            # the rebuild's CPU includes its second process's (projections.fold_apart)
            spent, used = time.perf_counter() - t0, time.process_time() - c0 + children_cpu() - k0
            if name in ("ledger-cli", "hledger", "ledger-cli startup", "hledger startup"):
                spent, used = result  # the subprocess alone
            elif result != n:
                raise AssertionError(f"{name} saw {result} events, the log has {n}")
            seconds[name].append(spent)
            cpu[name].append(used)
        print(f"  repeat {repeat + 1}: " + ", ".join(f"{k} {v[-1]:.2f} s" for k, v in seconds.items()), flush=True)

    def per_repeat(a: str, b: str, times: dict[str, list[float]] = seconds) -> list[float]:
        return [x / y for x, y in zip(times[a], times[b], strict=True)]

    ratios: dict[str, list[float]] = {}
    if "ledger-cli" in seconds:
        ratios["rebuild s ÷ ledger-cli s (goal ≤ 1.0)"] = per_repeat("rebuild", "ledger-cli")
        ratios["rebuild CPU s ÷ ledger-cli CPU s"] = per_repeat("rebuild", "ledger-cli", cpu)
    if "hledger" in seconds:
        ratios["rebuild s ÷ hledger s"] = per_repeat("rebuild", "hledger")
        ratios["rebuild CPU s ÷ hledger CPU s"] = per_repeat("rebuild", "hledger", cpu)
    ratios["rebuild events/s ÷ raw-read events/s"] = per_repeat("raw read", "rebuild")
    if VERIFY_ALL:
        ratios["rebuild, every signature s ÷ rebuild s"] = per_repeat("rebuild, every signature", "rebuild")
    if VERIFY_ALL and "ledger-cli" in seconds:
        ratios["rebuild, every signature s ÷ ledger-cli s"] = per_repeat("rebuild, every signature", "ledger-cli")
    if "ledger-cli" in seconds:
        ratios["ledger-cli s ÷ hledger s"] = per_repeat("ledger-cli", "hledger") if "hledger" in seconds else []

    results = {}
    table = []
    for name in names:
        secs = seconds[name]
        rates = [n / s for s in secs]
        lo, hi = spread(rates)
        results[name] = {"seconds_median": median(secs), "seconds_each_repeat": secs,
                         "cpu_seconds_median": median(cpu[name]), "cpu_seconds_each_repeat": cpu[name],
                         "events_per_s_median": median(rates), "events_per_s_each_repeat": rates}
        is_peer = name in ("ledger-cli", "hledger")
        table.append([
            name, median(secs), median(cpu[name]),
            median(rates) if "startup" not in name else "—",
            f"{lo:,.0f}–{hi:,.0f}" if "startup" not in name else "—",
            median([transactions / s for s in secs]) if is_peer else "—",
        ])
    print_table(f"rebuild vs ledger-cli / hledger balance over the same log ({n:,} events; {transactions:,} "
                f"journal transactions), SQLite, median of {REPEATS} repeats",
                ["pass", "seconds", "CPU s", "log events/s", "events/s min–max", "transactions/s"], table)
    print_table("ratios (median of per-repeat ratios)", ["ratio", "median", "each repeat"],
                [[k, median(v), ", ".join(f"{x:.3g}" for x in v)] for k, v in ratios.items() if v])
    print("  tools' totals (last line of balance; 0 = the journal balances): "
          + "; ".join(f"{k}: {sorted(set(v))}" for k, v in totals.items()))

    memory = peak_memory(tools, path, DATA or data_dir)

    print("\nprofiling one rebuild (cProfile) ...", flush=True)
    prof = profile_rebuild(projections)
    print(prof["pstats_text"])
    print_table(f"where a rebuild's time goes (cProfile, one rebuild, {prof['total_s']:.1f} s under the profiler)",
                ["part", "seconds", "share"],
                [[k, v, prof["shares"][k]] for k, v in prof["buckets_s"].items()])

    elapsed = time.perf_counter() - started
    if n < 500_000:
        print(f"\n1M events: {PENDING_1M}")
    print(f"total {elapsed:.0f} s")
    write_results("bench_rebuild.1m" if n >= 500_000 else "bench_rebuild", {
        "benchmark": "bench_rebuild",
        "machine": info,
        "store": "sqlite (file, WAL, synchronous=FULL)",
        "tools": versions,
        "demo_scale": SCALE,
        "demo_stats": stats,
        "events": n,
        "vouched_by_checkpoint": vouched,
        "seed_seconds": seed_seconds,
        "journal": {"transactions": transactions, "postings": postings, "bytes": len(text.encode()),
                    "export_seconds": export_seconds},
        "repeats": REPEATS,
        "results": results,
        "ratios_median": {k: median(v) for k, v in ratios.items() if v},
        "ratios_each_repeat": ratios,
        "tool_totals": totals,
        "peak_rss_mib": memory,
        "profile": {k: v for k, v in prof.items() if k != "pstats_text"},
        "one_million": PENDING_1M,
        "elapsed_s": elapsed,
    })
    return 0


if __name__ == "__main__":
    sys.exit(main())
