"""The public rate limit's storage (``api.limits.QuietMemoryStorage``): the same moving window as
``limits``' memory storage, its expired windows dropped inline instead of by a thread started
every 10 ms under load."""

from __future__ import annotations

import threading
import time

from limits import parse
from limits.strategies import MovingWindowRateLimiter

from api.limits import QuietMemoryStorage


def test_hits_start_no_thread_and_the_window_still_refuses_and_reopens(monkeypatch):
    storage = QuietMemoryStorage()
    started = []
    real_start = threading.Thread.start

    def counted(thread):
        started.append(thread)
        real_start(thread)

    monkeypatch.setattr(threading.Thread, "start", counted)
    limiter, rate = MovingWindowRateLimiter(storage), parse("5/minute")
    answers = []
    for _ in range(3):
        answers += [limiter.hit(rate, "public", "203.0.113.9") for _ in range(6)]
        time.sleep(0.02)  # past the 10 ms after which the parent storage would start its next Timer
        answers.append(limiter.hit(rate, "public", "198.51.100.1"))  # another address: its own window
    assert answers[:7] == [True] * 5 + [False, True]
    assert answers[7:13] == answers[14:20] == [False] * 6  # the same minute: still refused
    assert started == []
    second = parse("1/second")
    assert [limiter.hit(second, "public", "192.0.2.7") for _ in range(2)] == [True, False]
    time.sleep(1.05)
    assert limiter.hit(second, "public", "192.0.2.7")  # the window moved on
    assert started == []


def test_expired_windows_are_dropped_once_a_second(monkeypatch):
    storage = QuietMemoryStorage()
    limiter, rate = MovingWindowRateLimiter(storage), parse("2/second")
    for n in range(50):
        limiter.hit(rate, "public", f"192.0.2.{n}")
    assert len(storage.events) == 50
    time.sleep(1.05)  # every window expired, and a second since the last purge
    limiter.hit(rate, "public", "192.0.2.200")
    assert [key for key in storage.events] == [key for key in storage.events if "/192.0.2.200/" in key]
    assert len(storage.events) == 1
