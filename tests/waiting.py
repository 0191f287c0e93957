"""Waiting in tests for what another thread does (the server's runner, a monitor): poll, bounded."""

from __future__ import annotations

import time


def until(check, seconds: float = 20.0):
    """Poll ``check`` until it returns something true, and return that; fail after ``seconds``."""
    deadline = time.monotonic() + seconds
    while not (found := check()):
        assert time.monotonic() < deadline, "the condition did not hold in time"
        time.sleep(0.02)
    return found
