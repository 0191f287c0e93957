"""The goals of every issue against what the benchmarks measured: one table, read from the JSON the
benchmark scripts wrote to ``bench/results/`` (so it shows the latest run of each, with its machine
and load). A goal whose benchmark has not been run says so instead of a number.

    .venv/bin/python bench/summary.py            # prints the table (markdown) and writes results/summary.md
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"


def load(name: str) -> dict | None:
    path = RESULTS / f"{name}.json"
    return json.loads(path.read_text()) if path.exists() else None


def median(values: list[float]) -> float:
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def number(value: float, unit: str = "") -> str:
    if value >= 100:
        text = f"{value:,.0f}"
    elif value >= 10:
        text = f"{value:.1f}"
    else:
        text = f"{value:.2f}"
    return f"{text}{unit}"


Row = tuple[str, str, str, str, str]
"""(issue, what, measured, against, verdict)."""


def verdict(ok: bool) -> str:
    return "met" if ok else "**not met**"


def rows_proofs() -> list[Row]:
    data = load("bench_proofs")
    if data is None:
        return [("#3", "inclusion / consistency proof at 1M leaves, p99 < 5 ms",
                 "not run (the last run is in docs/performance.md §4)", "", "")]
    out = []
    for store in data["stores"]:
        proofs = store.get("proofs")
        if not proofs:
            continue
        for kind in ("inclusion", "consistency"):
            k = proofs[kind]
            out.append(("#3", f"{kind} proof, {store['store']}, {proofs['tree_size']:,} leaves, p99",
                        number(k["p99_ms"], " ms"), f"limit 5 ms → ×{k['p99_over_limit']:.2f}",
                        verdict(k["p99_over_limit"] < 1)))
    return out


def rows_append() -> list[Row]:
    data = load("bench_append")
    if data is None:
        return [("#2/#8", "appends: one at a time, bulk", "not run", "", "")]
    out = []
    for row in data["rows"]:
        if row["who"] == "ledger" and row["config"] == "cached":
            out.append(("#2/#8", f"signed append one at a time, {row['store']}, fund of {row['fund_events']:,}",
                        number(row["events_per_s_median"], "/s"),
                        f"naive eventsourcing save ×{row['ratio_vs_naive_median']:.2f}", "(no goal)"))
        elif row["who"] == "bulk import":
            out.append(("#8", f"bulk import (`Ledger.bulk()`), {row['store']}", number(row["events_per_s_median"], "/s"),
                        (f"×{row['ratio_vs_one_at_a_time']:.1f} one at a time, "
                         f"×{row['ratio_vs_naive_insert']:.1f} naive insert"), "(no goal)"))
    return out


def runs(base: str, issue: str, what: str, out: list[Row]) -> Iterator[dict]:
    """The results of ``base`` at both sizes (``base`` and ``base.1m``); a missing one adds a
    'not run' row to ``out``."""
    for name in (base, f"{base}.1m"):
        data = load(name)
        if data is None:
            out.append((issue, f"{what} ({name})", "not run", "", ""))
        else:
            yield data


def rows_rebuild() -> list[Row]:
    out: list[Row] = []
    for data in runs("bench_rebuild", "#4", "rebuild ≤ ledger-cli", out):
        ratios, n = data["ratios_median"], data["events"]
        ledger_cli = ratios.get("rebuild s ÷ ledger-cli s (goal ≤ 1.0)")
        seconds = data["results"]["rebuild"]["seconds_median"] if "rebuild" in data["results"] else None
        measured = number(seconds, " s") if seconds is not None else "—"
        if ledger_cli is not None:
            hledger = ratios.get("rebuild s ÷ hledger s")
            against = f"ledger-cli ×{ledger_cli:.2f}" + (f", hledger ×{hledger:.2f}" if hledger is not None else "")
            out.append(("#4", f"rebuild every view, {n:,} events", measured, against, verdict(ledger_cli <= 1.0)))
        memory = data.get("peak_rss_mib")
        if memory:
            rebuild = memory.get("rebuild (fresh process)")
            peers = ", ".join(f"{k} {number(v, ' MiB')}" for k, v in memory.items() if k != "rebuild (fresh process)")
            out.append(("#8", f"peak memory of a rebuild, {n:,} events", number(rebuild, " MiB"), peers, "(no goal)"))
    return out


def rows_audit() -> list[Row]:
    out: list[Row] = []
    for data in runs("bench_audit", "#7", "audit", out):
        n, ratios = data["events"], data["ratios"]
        audit_s = median(data["seconds"]["audit"])
        ceiling = ratios["audit events/s ÷ ceiling events/s"]
        out.append(("#7", f"full verified audit, {n:,} events, ≥ 0.8 of the Ed25519 ceiling",
                    number(n / audit_s, " events/s"), f"ceiling ×{ceiling:.2f}", verdict(ceiling >= 0.8)))
        hledger = ratios.get("audit s ÷ hledger balance s")
        if hledger is not None:
            out.append(("#7", f"full verified audit, {n:,} events, faster than hledger balance",
                        number(audit_s, " s"), f"hledger ×{hledger:.2f}", verdict(hledger < 1)))
        grown = data["incremental_log_events"]
        for source, times in data.get("state_seconds", {}).items():
            seconds = median(times)
            out.append(("#7", f"incremental audit of 1,000 new events on {grown:,}, from the saved state ({source} tail)",
                        number(seconds, " s"), "limit 2 s" + ("" if grown >= 1_000_000 else " (on 1M)"),
                        verdict(seconds < 2) if grown >= 1_000_000 else "(the goal is at 1M)"))
    return out


def rows_api() -> list[Row]:
    data = load("bench_api")
    if data is None:
        return [("#5", "API donations ≥ 2,000/s, p99 < 50 ms", "not run", "", "")]
    rows = data["rows"]
    naive = next(r for r in rows if r["server"].startswith("naive"))
    ceiling = next((r for r in rows if "/health/live" in r["server"]), None)
    out = []
    for r in rows:
        if not r["server"].startswith("wushe"):
            continue
        against = f"naive ×{r['per_second'] / naive['per_second']:.2f}"
        if ceiling:
            against += f", HTTP ceiling ×{r['per_second'] / ceiling['per_second']:.3f}"
        out.append(("#5", f"{r['server']}: ≥ 2,000/s with p99 < 50 ms",
                    f"{number(r['per_second'], '/s')}, p99 {number(r['p99_ms'], ' ms')}", against,
                    verdict(r["per_second"] >= 2000 and r["p99_ms"] < 50)))
    return out


PAGE_RUNS = ("bench_pages", "bench_pages.1m", "bench_pages.5m", "bench_pages.1m.postgres", "bench_pages.5m.postgres",
             "bench_pages.1m.replica", "bench_pages.5m.replica")
"""The public pages' runs (``bench_pages.py``): by size and store, the answers kept per views position."""


def rows_pages() -> list[Row]:
    out: list[Row] = []
    for name in PAGE_RUNS:
        data = load(name)
        if data is None:
            if name != "bench_pages":
                out.append(("#14", f"public pages ({name})", "not run", "", ""))
            continue
        overall, trivial = data["overall"], data["trivial"]
        where = f"{data['events']:,} events, {data.get('store', 'SQLite')}, {data.get('connections', 8)} clients"
        rate = overall["per_second"] / trivial["per_second"]
        largest = max((p for p in data["pages"] if p.get("largest_kb") is not None), key=lambda p: p["largest_kb"],
                      default=None)
        out.append(("#14", f"every page p99 < 50 ms, {where}", f"all pages p99 {number(overall['p99_ms'], ' ms')}",
                    f"trivial endpoint p99 {number(trivial['p99_ms'], ' ms')}", verdict(overall["p99_ms"] < 50)))
        out.append(("#14", f"page throughput ≥ 0.5× the trivial endpoint, {where}",
                    number(overall["per_second"], " pages/s"), f"×{rate:.2f}", verdict(rate >= 0.5)))
        if largest:
            out.append(("#14", f"no page over 300 KB, {where}",
                        f"largest: {largest['page']}, {number(largest['largest_kb'], ' KB')}", "limit 300 KB",
                        verdict(largest["largest_kb"] <= 300)))
        out.append(("#14", f"peak memory of the server, {where}", number(data["server_peak_rss_mib"], " MiB"),
                    f"rebuild in a fresh process {number(data['rebuild_peak_rss_mib'], ' MiB')}"
                    if data.get("rebuild_peak_rss_mib") else "", "(flat from 1M to 5M)"))
    return out


SECTIONS: list[Callable[[], list[Row]]] = [rows_proofs, rows_append, rows_rebuild, rows_audit, rows_api, rows_pages]


def machines() -> list[str]:
    seen = []
    for path in sorted(RESULTS.glob("*.json")):
        data: Any = json.loads(path.read_text())
        info = data.get("machine", {}) if isinstance(data, dict) else {}
        load_avg = info.get("loadavg_at_start")
        load_text = ", ".join(f"{x:.1f}" for x in load_avg) if load_avg else "?"
        seen.append(f"- `{path.name}`: {info.get('cpu_model', '?')}, {info.get('cores', '?')} cores, "
                    f"load average at start {load_text}")
    return seen


def main() -> None:
    lines = ["| issue | goal / what | measured | against (same run) | verdict |", "|---|---|---|---|---|"]
    for section in SECTIONS:
        try:
            rows = section()
        except (KeyError, StopIteration, TypeError) as exc:  # a result file of an older format
            rows = [("?", section.__name__, f"unreadable result ({type(exc).__name__}: {exc})", "", "")]
        lines += ["| " + " | ".join(row) + " |" for row in rows]
    text = "\n".join(lines) + "\n\nResult files:\n" + "\n".join(machines()) + "\n"
    print(text)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "summary.md").write_text(text)


if __name__ == "__main__":
    sys.exit(main())
