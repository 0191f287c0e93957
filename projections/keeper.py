"""The server's background runner: keeps the views and the Merkle tree up to the log's head, so
that public reads only read.

It looks at the log every ``interval`` seconds (events written by other processes, such as the
CLI, show within that), and at once when a reader waits for a write of this process
(:meth:`Keeper.wait_for`, from ``api.reads``): such a reader waits for :attr:`Keeper.reached` to
pass that write's log position.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from projections.runner import Projections

logger = logging.getLogger("wushe.views")


class Keeper:
    """Folds new events into the views and grows the Merkle tree, in a thread of its own."""

    def __init__(self, ledger: Any, projections: Projections, *, interval: float = 1.0) -> None:
        self.ledger = ledger
        self.projections = projections
        self.interval = interval
        self.reached = 0
        """The log position both the views and the tree have reached, as this keeper last saw."""
        self.failure: str | None = None
        """Why the last round failed (the exception's name), None after a good one."""
        self._run_lock = threading.Lock()
        self._changed = threading.Condition()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._life_lock = threading.Lock()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def catch_up(self) -> int:
        """Fold and grow to the log's head now, in the calling thread; the position reached."""
        with self._run_lock:
            self.projections.run()
            self.ledger.merkle.sync()
            reached = min(self.projections.position(), self.ledger.merkle.synced_position())
        with self._changed:
            self.reached = max(self.reached, reached)
            self._changed.notify_all()
        return reached

    def wait_for(self, position: int, timeout: float) -> bool:
        """Wake the runner and wait until it has reached ``position`` (False after ``timeout`` seconds)."""
        if self.reached >= position:
            return True
        self._wake.set()
        with self._changed:
            return self._changed.wait_for(lambda: self.reached >= position, timeout)

    def wake(self) -> None:
        self._wake.set()

    def start(self) -> None:
        with self._life_lock:
            if self.running:
                return
            self._stop.clear()
            self._thread = threading.Thread(target=self._loop, name="wushe-views", daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        """Ask the runner to stop and wait for it: a round in progress commits or rolls back whole.
        Safe to call from several threads at once (several app lifespans may share one keeper)."""
        with self._life_lock:
            thread, self._thread = self._thread, None
            self._stop.set()
            self._wake.set()
        if thread is not None:
            thread.join(timeout)
            if thread.is_alive():
                logger.warning("the views' runner did not stop within %s s", timeout)

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._wake.clear()
            try:
                self.catch_up()
                self.failure = None
            except Exception as exc:  # a failed round is logged and tried again; /health shows it
                self.failure = type(exc).__name__
                logger.exception("catching the views up failed")
            self._wake.wait(self.interval)
