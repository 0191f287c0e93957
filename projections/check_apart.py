"""The reading half of the views' check (``Projections.recomputed``) in a Python process of its
own, so that hashing every row of every view does not hold the server's interpreter lock
(``projections.keeper``). Reads ``(settings, database URL)`` pickled on standard input, opens the
store read-only, reads at the lowest CPU priority, and writes ``("ok", findings)`` or
``("failed", why)`` pickled on standard output (anything else printed goes to standard error).
Only the keeper of the same user starts it: what it unpickles comes from that process."""

from __future__ import annotations

import os
import pickle
import sys


def main() -> int:
    answer = sys.stdout.buffer
    sys.stdout = sys.stderr  # a print or a log line on the way must not corrupt the pickled answer
    settings, database_url = pickle.load(sys.stdin.buffer)
    if hasattr(os, "nice"):
        os.nice(19)  # the lowest CPU priority: under load the cores go to the server's requests first
    try:
        from ledger.application import Ledger
        from projections.runner import Projections

        ledger = Ledger(settings, database_url=database_url, read_only=True)
        try:
            outcome = ("ok", Projections(ledger).recomputed())
        finally:
            ledger.close()
    except Exception as exc:  # noqa: BLE001 -- reported to the keeper, which logs it
        outcome = ("failed", f"{type(exc).__name__}: {exc}")
    answer.write(pickle.dumps(outcome))
    answer.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
