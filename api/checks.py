"""What ``/health`` reports: a list of named checks, each bounded in time.

A check answers ``ok``, ``warn`` (running, but an operator should look) or ``failing``; one that
does not answer within :data:`CHECK_WAIT` seconds (a hung database) is reported ``timeout``. A
failing *critical* check (the primary store, the history) makes ``/health`` answer 503: the
server is not ready to write. A failing non-critical one (the read copy, the views' runner, an
unsafe replication setting that was allowed) leaves it ready and says ``degraded``.

Other parts of the server add their own check with :func:`add_check`; each runs in a small pool
of threads, so a check stuck on a dead connection never holds up ``/health`` itself.
"""

from __future__ import annotations

import concurrent.futures
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI

CHECK_WAIT = 2.0
"""Seconds ``/health`` waits for all its checks together."""


@dataclass(frozen=True)
class Outcome:
    status: str
    """``ok``, ``warn``, ``failing`` or ``timeout``."""
    detail: str | None = None
    data: dict[str, Any] | None = None
    """Figures the check found (the primary's head, the replica's lag…)."""


@dataclass(frozen=True)
class Check:
    name: str
    run: Callable[[], Outcome]
    critical: bool = True


_POOL = concurrent.futures.ThreadPoolExecutor(max_workers=8, thread_name_prefix="wushe-health")


def add_check(app: FastAPI, name: str, run: Callable[[], Outcome], *, critical: bool = True) -> None:
    """Register a named check on the app's ``/health`` (a later one of the same name replaces it)."""
    checks: list[Check] = getattr(app.state, "health_checks", [])
    app.state.health_checks = [c for c in checks if c.name != name] + [Check(name, run, critical)]


def run_checks(app: FastAPI) -> list[tuple[Check, Outcome]]:
    """Every check's outcome, within :data:`CHECK_WAIT` seconds in all."""
    checks: list[Check] = getattr(app.state, "health_checks", [])
    futures = [(c, _POOL.submit(_safely, c.run)) for c in checks]
    deadline = time.monotonic() + CHECK_WAIT
    done = []
    for check, future in futures:
        try:
            outcome = future.result(timeout=max(0.0, deadline - time.monotonic()))
        except concurrent.futures.TimeoutError:
            outcome = Outcome("timeout", f"no answer within {CHECK_WAIT:g} s")
        done.append((check, outcome))
    return done


def _safely(run: Callable[[], Outcome]) -> Outcome:
    try:
        return run()
    except Exception as exc:  # noqa: BLE001 -- a check that raises is failing, with the error's name and words
        return Outcome("failing", f"{type(exc).__name__}: {str(exc).strip()[:300]}")
