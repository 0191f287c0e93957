"""What keeping a digest of each view costs the views' runner (issue #17 item 10): the same demo
ledger rebuilt with the digests kept and with their upkeep switched off, alternately in one
process, and one ``Projections.check`` (a scan of every view); what the Merkle-leaf check (issue #17 item 9)
adds to loading an aggregate; and what the log's shape check
(issue #17 item 8) adds to ``wushe log --verify``'s signature replay. Ratios of the same run only.

    .venv/bin/python bench/bench_view_digest.py [--scale N]     # default scale 7 (~10k events)
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchlib import demo_ledger, describe, machine

from ledger.verify import check_log
from projections import digest
from projections.runner import TABLES, Projections

SCALE = int(sys.argv[sys.argv.index("--scale") + 1]) if "--scale" in sys.argv else 7
REPEATS = 6
LOADS = 200


def main() -> int:
    print(f"bench_view_digest: {describe(machine(postgres=False))}")
    with tempfile.TemporaryDirectory(prefix="wushe-bench-") as scratch:
        ledger, _, _ = demo_ledger(Path(scratch), SCALE)
        try:
            n = ledger.recorder.max_notification_id()
            views = Projections(ledger)
            views.rebuild()
            kept, plain = [], []
            real = digest.apply
            for round_ in range(REPEATS):
                for keep in ((True, False) if round_ % 2 == 0 else (False, True)):  # alternate who goes first
                    if not keep:
                        digest.apply = lambda *args: set()  # upkeep off: same folds and writes
                    try:
                        t0 = time.perf_counter()
                        views.rebuild()
                        (kept if keep else plain).append(time.perf_counter() - t0)
                    finally:
                        digest.apply = real
            views.rebuild()
            t0 = time.perf_counter()
            assert views.check().ok
            check = time.perf_counter() - t0
            k, p = statistics.median(kept), statistics.median(plain)
            print(f"{n:,} events; rebuild with digests {k:.2f} s, without {p:.2f} s: ratio {k / p:.3f} "
                  f"(runs {', '.join(f'{a / b:.3f}' for a, b in zip(kept, plain, strict=True))}); "
                  f"one check of every view {check:.3f} s = {check / k:.3f} of a rebuild")
            ledger.merkle.sync()
            code = views.rows(TABLES[0], order="code")[0]["code"]
            check = ledger._check_leaves
            for forget in (True, False):
                loads: dict[bool, list[float]] = {True: [], False: []}
                for round_ in range(REPEATS):
                    for leaves in ((True, False) if round_ % 2 == 0 else (False, True)):
                        ledger._check_leaves = check if leaves else (lambda stream: None)
                        ledger._leaves_checked.clear()
                        t0 = time.perf_counter()
                        for _ in range(LOADS):
                            if forget:  # each load asks about the whole stream, as for one not seen yet
                                ledger._leaves_checked.clear()
                            ledger.fund(code)
                        loads[leaves].append((time.perf_counter() - t0) / LOADS)
                ledger._check_leaves = check
                a, b = statistics.median(loads[True]), statistics.median(loads[False])
                how = "whole stream asked each time" if forget else "checked versions remembered"
                print(f"loading fund {code} ({LOADS} cached loads, {how}): {a * 1e3:.3f} ms with the leaf check, "
                      f"{b * 1e3:.3f} ms without: ratio {a / b:.3f}")
            t0 = time.perf_counter()
            assert all(c.ok for c in check_log(ledger.log_positions(1)))
            signatures = time.perf_counter() - t0
            t0 = time.perf_counter()
            assert ledger.check_structure().ok
            shape = time.perf_counter() - t0
            print(f"log --verify: signatures {signatures:.2f} s, shape {shape:.2f} s: the shape adds "
                  f"{shape / signatures:.3f} of the signature replay")
        finally:
            ledger.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
