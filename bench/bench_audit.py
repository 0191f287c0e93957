"""The full offline audit (``audits.verify.audit`` over a bundle) against two peers measured in the
same run: the machine's Ed25519 verification ceiling on all cores, and ``hledger balance`` over the
journal of the same transactions; and an incremental audit of 1,000 new events.

The ledger is the demo (``seed_demo``, ~1,450 events per unit of scale) founded as ``wushe init``
does, at ``SCALE`` = 14 (~20k events) by default; seeding is not timed. The bundle is collected once
(events, checkpoints, the published reports for every year and street-town). Then ``REPEATS``
interleaved repeats, order rotated, each timing:

* audit    — ``audit(bundle, workers=all cores)``: directory, every signature (process pool), order,
  Merkle tree and checkpoints, every published report recomputed, every rule check;
* ceiling  — the bare verify loop of the same library (``cryptography`` Ed25519) over every event's
  signature and text, split over the same number of processes in the same chunks; notes parsed
  beforehand: the fastest any verifier with this library could check the signatures here;
* hledger  — ``hledger -f export.journal balance``: unverified balances of the same transactions.

ratio = audit events/s ÷ ceiling events/s (the issue's goal: ≥ 0.8), and audit seconds ÷ hledger
seconds (goal: < 1). Then the audit state is saved at the checkpoint (one full audit with
``save_state``, signed with an auditor key), 1,000 donations are appended, a checkpoint signed, and
the incremental audits are timed (goal: under 2 s on a 1M-event log):

* trusting the previous checkpoint (``--trust``: signatures of the new events only, the rest
  replayed);
* from the saved state, reading the tail of a bundle on disk (``--state``: load and check the
  state, seek to the state's leaf through the manifest's index, verify the new events, continue the
  views and the rules, recompute every published report);
* from the saved state, reading the tail from the store (``--state --database``; no reports).

    .venv/bin/python bench/bench_audit.py             # ~20k events
    .venv/bin/python bench/bench_audit.py --quick     # scale 2, a smoke run
    .venv/bin/python bench/bench_audit.py --scale N [--repeats N]   # --repeats 1 for a million events
    .venv/bin/python bench/bench_audit.py --data DIR  # a ledger seeded before (DIR/ledger.sqlite3, DIR/keys);
                                                      # copied into a scratch directory: DIR is not changed
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_rebuild
from benchlib import demo_ledger, describe, machine, median, print_table, seeded_ledger, spread, write_results
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from audits import bundle as bundles
from audits import state as states
from audits.bundle import collect
from audits.replay import CHUNK
from audits.verify import audit, resume
from ledger.application import Actor
from ledger.signing import SigningKey, key_file_stem, parse_note
from projections.journal import journal

QUICK = "--quick" in sys.argv
SCALE = int(sys.argv[sys.argv.index("--scale") + 1]) if "--scale" in sys.argv else (2 if QUICK else 14)
REPEATS = int(sys.argv[sys.argv.index("--repeats") + 1]) if "--repeats" in sys.argv else (2 if QUICK else 3)
DATA = Path(sys.argv[sys.argv.index("--data") + 1]) if "--data" in sys.argv else None
NEW_EVENTS = 1_000
WORKERS = os.cpu_count() or 1


def _verify_chunk(items: list[tuple[bytes, bytes, bytes]]) -> int:
    keys: dict[bytes, Ed25519PublicKey] = {}
    for public, signature, text in items:
        key = keys.get(public) or keys.setdefault(public, Ed25519PublicKey.from_public_bytes(public))
        key.verify(signature, text)
    return len(items)


def main() -> int:
    info = machine(postgres=False)
    print(f"bench_audit: {describe(info)}; {WORKERS} worker processes")
    hledger = shutil.which("hledger")
    if hledger is None:
        print("NOTE: hledger is not installed; its row is SKIPPED")
    with tempfile.TemporaryDirectory(prefix="wushe-bench-") as scratch:
        data_dir = Path(scratch)
        if DATA is not None:
            print(f"copying the ledger seeded before in {DATA} ...", flush=True)
            for name in ("ledger.sqlite3", "ledger.sqlite3-wal"):  # a WAL not yet checkpointed holds events too
                if (DATA / name).exists():
                    shutil.copy2(DATA / name, data_dir / name)
            shutil.copytree(DATA / "keys", data_dir / "keys")
            ledger, stats, seed_seconds = seeded_ledger(data_dir, DATA)
        else:
            print(f"seeding the demo at scale {SCALE} ...", flush=True)
            ledger, stats, seed_seconds = demo_ledger(data_dir, SCALE)
        try:
            return run(info, hledger, data_dir, ledger, stats, seed_seconds)
        finally:
            ledger.close()


def run(info, hledger, data_dir: Path, ledger, stats, seed_seconds) -> int:
    log = Actor(ledger.origin, SigningKey.from_skey((data_dir / "keys" / f"{key_file_stem(ledger.origin)}.key").read_text()))
    ledger.sign_checkpoint(log)
    t0 = time.perf_counter()
    bundle = collect(ledger)
    collect_seconds = time.perf_counter() - t0
    n = len(bundle.rows)
    print(f"demo ledger ({f'from {DATA}' if DATA else f'scale {SCALE}'}): {n:,} events (seeded in {seed_seconds:.0f} s); bundle collected in "
          f"{collect_seconds:.1f} s with {len(bundle.figures)} published reports", flush=True)
    path = data_dir / "export.journal"
    path.write_text(journal(ledger), encoding="utf-8")

    directory = ledger.directory()
    items = []
    for row in bundle.rows:
        signature = parse_note(row.state).signatures[0]
        items.append((directory.key(signature.key_id).key.public_key, signature.signature,
                      parse_note(row.state).text))
    chunks = [items[i : i + CHUNK] for i in range(0, n, CHUNK)]
    results = []

    def full_audit() -> None:
        results.append(audit(bundle, reference=ledger.reference, workers=WORKERS))

    def ceiling() -> None:
        with ProcessPoolExecutor(max_workers=WORKERS) as pool:
            assert sum(pool.map(_verify_chunk, chunks)) == n

    contenders = {"audit": full_audit, "ceiling": ceiling}
    if hledger:
        contenders["hledger"] = lambda: bench_rebuild.run_tool(hledger, path)
    names = list(contenders)
    seconds: dict[str, list[float]] = {name: [] for name in names}
    for repeat in range(REPEATS):
        for name in names[repeat % len(names):] + names[: repeat % len(names)]:
            start = time.perf_counter()
            contenders[name]()
            seconds[name].append(time.perf_counter() - start)
    last = results[-1]
    assert last.ok and last.reports_matched == last.reports_checked, [f.one_line() for f in last.integrity_failures]

    t0 = time.perf_counter()
    with_state = audit(bundle, reference=ledger.reference, workers=WORKERS, save_state=True)
    save_audit_seconds = time.perf_counter() - t0
    assert with_state.state is not None, with_state.state_error
    auditor = states.keygen(data_dir / "auditor")
    state_path = data_dir / "audit.state"
    t0 = time.perf_counter()
    state_bytes = states.save(with_state.state, state_path, auditor)
    save_seconds = time.perf_counter() - t0
    print(f"full audit saving the state: {save_audit_seconds:.2f} s; state written in {save_seconds:.2f} s, "
          f"{state_bytes:,} bytes ({state_bytes / n:,.0f} per event)", flush=True)

    trusted = ledger.checkpoints.latest().note
    fund, accountant = _donation_target(ledger, data_dir)
    for i in range(NEW_EVENTS):
        ledger.record_donation(accountant, fund, 100 + i, donor_type="resident",
                               street_town=ledger.fund(fund).street_town or ledger.reference.street_towns[0].code)
    ledger.sign_checkpoint(log)
    grown = collect(ledger, figures=False)
    incremental = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        result = audit(grown, reference=ledger.reference, trusted=trusted, workers=WORKERS)
        incremental.append(time.perf_counter() - start)
        assert result.ok and result.verified_signatures == NEW_EVENTS, result.verified_signatures
    grown_dir = data_dir / "grown-bundle"
    bundles.write(collect(ledger), grown_dir)

    def from_state(source: str) -> float:
        start = time.perf_counter()
        state = states.load(state_path, auditor.verifier)
        if source == "bundle":
            tail = bundles.read(grown_dir, from_leaf=state.tree_size - 1)
        else:
            tail = collect(ledger, figures=False, since=(state.tree_size - 1, state.position))
        result = resume(state, tail, reference=ledger.reference, workers=WORKERS)
        seconds = time.perf_counter() - start
        assert result.ok and result.verified_signatures == NEW_EVENTS, result.verified_signatures
        assert result.reports_matched == result.reports_checked, result.reports_checked
        return seconds

    stateful = {source: [from_state(source) for _ in range(REPEATS)] for source in ("bundle", "store")}

    ratios = {"audit events/s ÷ ceiling events/s": median([c / a for a, c in zip(seconds["audit"], seconds["ceiling"])])}
    if hledger:
        ratios["audit s ÷ hledger balance s"] = median([a / h for a, h in zip(seconds["audit"], seconds["hledger"])])
    table = []
    for name in names:
        rates = [n / s for s in seconds[name]]
        lo, hi = spread(rates)
        table.append([name, median(rates), median(seconds[name]), f"{lo:,.0f}–{hi:,.0f}"])
    table.append([f"incremental, trusting the checkpoint (+{NEW_EVENTS:,} on {len(grown.rows):,})",
                  NEW_EVENTS / median(incremental), median(incremental), "—"])
    for source, times in stateful.items():
        table.append([f"incremental from the saved state, {source} tail (+{NEW_EVENTS:,} on {len(grown.rows):,})",
                      NEW_EVENTS / median(times), median(times), "—"])
    print_table(f"full audit vs Ed25519 ceiling ({WORKERS} processes) and hledger balance ({n:,} events), median of "
                f"{REPEATS}", ["pass", "events/s", "seconds", "events/s min–max"], table)
    print_table("ratios (median of per-repeat ratios)", ["ratio", "value"], [[k, v] for k, v in ratios.items()])
    write_results("bench_audit.1m" if n >= 500_000 else "bench_audit", {
        "benchmark": "bench_audit", "machine": info, "workers": WORKERS, "events": n, "demo_scale": SCALE,
        "demo_stats": stats, "reports": len(bundle.figures), "repeats": REPEATS,
        "seconds": seconds, "incremental_seconds": incremental, "incremental_log_events": len(grown.rows),
        "state_seconds": stateful, "state_bytes": state_bytes, "audit_saving_state_seconds": save_audit_seconds,
        "state_write_seconds": save_seconds,
        "ratios": ratios,
    })
    return 0


def _donation_target(ledger, data_dir: Path) -> tuple[str, Actor]:
    """An open fund of the demo and an accountant of its foundation whose key is on disk."""
    keys = data_dir / "keys"
    for row in ledger.log_positions():
        if row.topic != "Fund.Opened":
            continue
        fund = ledger.fund(str(row.originator_id).split(":", 1)[1])
        if fund.closed:
            continue
        for p in ledger.directory().principals.values():
            key = keys / f"{key_file_stem(p.handle)}.key"
            if "accountant" in p.roles and p.foundation in (None, fund.foundation) and key.exists():
                return fund.code, Actor(p.handle, SigningKey.from_skey(key.read_text()))
    raise LookupError("no open fund with an accountant key in the demo")


if __name__ == "__main__":
    sys.exit(main())
