"""The ``wushe log --verify`` path: ``ledger.verify.check_log(ledger.log_positions())`` over the demo
ledger (``seed_demo(scale=1)``, founded as ``wushe init`` does) on a scratch SQLite file, against
the bare Ed25519 verify ceiling measured in the same run over the same events.

Per repeat, in a rotated order:

* fetch   — ``list(ledger.log_positions())``: reading the rows, nothing checked (the floor);
* walk    — ``check_log`` over freshly fetched rows: what ``wushe log --verify`` does;
* envelope— ``open_sealed`` on every row, no signature check;
* ceiling — ``Ed25519PublicKey.verify`` (cryptography) of every event's signature over its text,
  notes parsed and public keys built beforehand: the fastest any verifier could go with this library;
* PyNaCl ceiling — the same with libsodium, when PyNaCl is installed.

ratio = walk events/s ÷ ceiling events/s (1.0 would mean the walk costs no more than the crypto).

    .venv/bin/python bench/bench_verify.py             # make bench runs this
    .venv/bin/python bench/bench_verify.py --profile   # cProfile one walk
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchlib import demo_ledger, describe, machine, median, print_table, profile, spread, write_results
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from ledger.application import Ledger
from ledger.envelope import open_sealed
from ledger.signing import parse_note
from ledger.verify import check_log

try:
    import nacl.signing

    NACL_PROBLEM = None
except ImportError as exc:
    NACL_PROBLEM = f"PyNaCl is not installed ({exc}); its ceiling is skipped (`pip install -e '.[bench]'`)"

QUICK = "--quick" in sys.argv
PROFILE = "--profile" in sys.argv
REPEATS = 3 if QUICK else 5
SCALE = 1


def main() -> int:
    info = machine(postgres=False)
    print(f"bench_verify: {describe(info)}")
    if NACL_PROBLEM:
        print(f"NOTE: {NACL_PROBLEM}")
    with tempfile.TemporaryDirectory(prefix="wushe-bench-") as scratch:
        ledger, stats, seed_seconds = demo_ledger(Path(scratch), SCALE)
        try:
            if PROFILE:
                profile(lambda: list(check_log(ledger.log_positions())))
                return 0
            return run(info, ledger, stats, seed_seconds)
        finally:
            ledger.close()


def run(info: dict, ledger: Ledger, stats: dict, seed_seconds: float) -> int:
    rows = list(ledger.log_positions())
    n = len(rows)
    print(f"demo ledger (scale {SCALE}): {n} events, seeded in {seed_seconds:.1f} s: {stats}")

    # The ceiling's inputs, prepared outside the timer: (public key, signature, signed text).
    directory = ledger.directory()
    c_keys: dict[str, Ed25519PublicKey] = {}
    n_keys: dict[str, object] = {}
    items = []
    for row in rows:
        note = parse_note(bytes(row.state))
        sig = note.signatures[0]
        if sig.key_id not in c_keys:
            raw = directory.key(sig.key_id).key.public_key
            c_keys[sig.key_id] = Ed25519PublicKey.from_public_bytes(raw)
            if not NACL_PROBLEM:
                n_keys[sig.key_id] = nacl.signing.VerifyKey(raw)
        items.append((sig.key_id, sig.signature, note.text))
    c_items = [(c_keys[k], s, t) for k, s, t in items]
    n_items = [(n_keys[k], s, t) for k, s, t in items] if not NACL_PROBLEM else []

    def fetch() -> int:
        return len(list(ledger.log_positions()))

    failures: list[int] = []

    def walk() -> int:
        checks = list(check_log(ledger.log_positions()))
        failures.append(sum(not c.ok for c in checks))
        return len(checks)

    def envelope() -> int:
        for row in rows:
            open_sealed(row.state, stream=str(row.originator_id), version=row.originator_version, topic=row.topic)
        return n

    def ceiling() -> int:
        for key, signature, text in c_items:
            key.verify(signature, text)
        return n

    def nacl_ceiling() -> int:
        for key, signature, text in n_items:
            key.verify(text, signature)
        return n

    contenders = {"fetch": fetch, "walk": walk, "envelope": envelope, "ceiling": ceiling}
    if not NACL_PROBLEM:
        contenders["pynacl ceiling"] = nacl_ceiling
    names = list(contenders)
    seconds: dict[str, list[float]] = {name: [] for name in names}
    walk()  # warm
    for repeat in range(REPEATS):
        for name in names[repeat % len(names):] + names[: repeat % len(names)]:
            start = time.perf_counter()
            count = contenders[name]()
            seconds[name].append(time.perf_counter() - start)
            assert count == n, (name, count, n)

    def eps(name: str) -> list[float]:
        return [n / s for s in seconds[name]]

    ratio_walk = median([c / w for w, c in zip(seconds["walk"], seconds["ceiling"])])
    # Where a walk's time goes, as shares of the walk (per repeat, then median).
    shares = {
        "fetch rows": median([f / w for f, w in zip(seconds["fetch"], seconds["walk"])]),
        "open_sealed (envelope)": median([e / w for e, w in zip(seconds["envelope"], seconds["walk"])]),
        "Ed25519 verify": median([c / w for c, w in zip(seconds["ceiling"], seconds["walk"])]),
    }
    # The parts are timed in separate passes, so on a noisy machine this can come out slightly negative.
    shares["remainder (directory, verdicts; ± noise)"] = 1 - sum(shares.values())
    ratios = {"walk / ceiling (events/s)": ratio_walk}
    if not NACL_PROBLEM:
        ratios["pynacl ceiling / cryptography ceiling"] = median(
            [c / p for c, p in zip(seconds["ceiling"], seconds["pynacl ceiling"])])
        ratios["walk / pynacl ceiling"] = median([p / w for w, p in zip(seconds["walk"], seconds["pynacl ceiling"])])

    results = {}
    table = []
    for name in names:
        rates = eps(name)
        lo, hi = spread(rates)
        results[name] = {"events_per_s_median": median(rates), "events_per_s_each_repeat": rates,
                         "seconds_median": median(seconds[name])}
        table.append([name, median(rates), 1000 * median(seconds[name]), f"{lo:,.0f}–{hi:,.0f}"])
    print_table(f"check_log over the demo ledger ({n} events, SQLite), median of {REPEATS} repeats",
                ["pass", "events/s", "ms per pass", "events/s min–max"], table)
    print_table("ratios (median of per-repeat ratios)", ["ratio", "value"], [[k, v] for k, v in ratios.items()])
    print_table("share of a walk's time", ["part", "share"], [[k, v] for k, v in shares.items()])
    print(f"\nevents failing verification: {max(failures)} (expected 0)")

    write_results("bench_verify", {
        "benchmark": "bench_verify",
        "machine": info,
        "events": n,
        "demo_scale": SCALE,
        "demo_stats": stats,
        "seed_seconds": seed_seconds,
        "repeats": REPEATS,
        "failures": max(failures),
        "results": results,
        "ratios": ratios,
        "walk_shares": shares,
        "pynacl": NACL_PROBLEM or "installed",
    })
    return 0


if __name__ == "__main__":
    sys.exit(main())
