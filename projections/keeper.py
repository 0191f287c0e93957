"""The server's background runner: keeps the views and the Merkle tree up to the log's head, so
that public reads only read.

It looks at the log every ``interval`` seconds (events written by other processes, such as the
CLI, show within that), and at once when a reader waits for a write of this process
(:meth:`Keeper.wait_for`, from ``api.reads``): such a reader waits for :attr:`Keeper.reached` to
pass that write's log position. Every ``check_interval`` seconds a check of the views against
their digests runs beside it, in a thread of its own, on a snapshot of the views. Past
:data:`CHECK_APART_FROM` events that thread has the check's reading done by a process of its own
(``projections.check_apart``): hashing every row of every view is pure Python (30 s of CPU at a
million events), and in the server's process it held the interpreter's lock against every request
for that long at every check.
"""

from __future__ import annotations

import logging
import pickle
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from typing import Any

from projections.runner import Projections, ViewCheck

logger = logging.getLogger("wushe.views")

CHECK_APART_FROM = 20_000
"""The views' log position from which their check reads in a process of its own: below it the check
takes under a second in the runner's process, less than starting a Python process costs."""


@dataclass(frozen=True)
class Basis:
    """What a public answer's tag names of the store (``api.caching.etag``), as one round read it:
    the views' position and the latest checkpoint's standing (size, cosignatures), with the
    checkpoint store's write count in this process just before (``CheckpointStore.generation``) and
    when (``time.monotonic()``). A request tags its answer from it without a query while it is young
    and no checkpoint was written here since (``api.reads.PublicReads.at_once``)."""

    position: int
    checkpoint: tuple[int, int]
    generation: int
    read_at: float


def read_basis(projections: Any, checkpoints: Any, generation: int) -> Basis:
    """The basis now (two one-row reads), ``generation`` taken by the caller before reading."""
    return Basis(projections.position(), checkpoints.standing(), generation, time.monotonic())


class Keeper:
    """Folds new events into the views and grows the Merkle tree, in a thread of its own."""

    def __init__(self, ledger: Any, projections: Projections, *, interval: float = 1.0,
                 check_interval: float = 60.0, check_apart_from: int = CHECK_APART_FROM) -> None:
        self.ledger = ledger
        self.projections = projections
        self.interval = interval
        self.check_interval = check_interval
        """Seconds between checks of the views against their digests (``Projections.check``)."""
        self.check_apart_from = check_apart_from
        """The position from which a check reads in a process of its own (:func:`_recompute_apart`)."""
        self.checked_apart = 0
        """How many checks read in a process of their own."""
        self.views_check: ViewCheck | None = None
        """The last check of the views (None before the first)."""
        self.problem: str | None = None
        """What the last failed round said (the tampered event it stopped at), None after a good one."""
        self._checked_at: float | None = None
        self.reached = 0
        """The log position both the views and the tree have reached, as this keeper last saw."""
        self.basis: Basis | None = None
        """The tag's inputs as the last round read them (None before the first, or after a failed one)."""
        self.failure: str | None = None
        """Why the last round failed (the exception's name), None after a good one."""
        self._run_lock = threading.Lock()
        self._changed = threading.Condition()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._halt_check = threading.Event()
        self._thread: threading.Thread | None = None
        self._checker: threading.Thread | None = None
        self._life_lock = threading.Lock()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def catch_up(self) -> int:
        """Fold and grow to the log's head now, in the calling thread; the position reached."""
        with self._run_lock:
            self.projections.run()
            self.ledger.merkle.sync()
            checkpoints = self.ledger.checkpoints
            basis = read_basis(self.projections, checkpoints, checkpoints.generation)
            reached = min(basis.position, self.ledger.merkle.synced_position())
        with self._changed:
            self.basis = basis
            self.reached = max(self.reached, reached)
            self._changed.notify_all()
        return reached

    def catch_up_or_report(self, *, check_beside: bool = False) -> None:
        """Catch up; a failure is kept (``failure``, ``problem``) and logged, never raised: the views
        stand where they are, and the pages say so (``api.standing``). Then check the views if a
        check is due: here, or with ``check_beside`` in a thread of its own."""
        try:
            self.catch_up()
        except Exception as exc:
            self.basis = None  # the pages' tags are read from the store until a round succeeds
            self.failure, self.problem = type(exc).__name__, str(exc)
            logger.exception("catching the views up failed")
        else:
            self.failure = self.problem = None
        if check_beside:
            self.check_in_background_if_due()
        else:
            self.check_if_due()

    def _check_due(self) -> bool:
        return self._checked_at is None or time.monotonic() - self._checked_at >= self.check_interval

    def check_if_due(self) -> ViewCheck | None:
        """Check the views against their digests if ``check_interval`` has passed since the last check."""
        return self.check_views() if self._check_due() else self.views_check

    def check_in_background_if_due(self) -> None:
        """Start a check in a thread of its own if one is due and none is running: the check reads a
        snapshot of the views (``Projections.check``), so the runner folds on meanwhile instead of
        waiting minutes for it on a large ledger."""
        if not self._check_due() or (self._checker is not None and self._checker.is_alive()):
            return
        self._checked_at = time.monotonic()
        self._checker = threading.Thread(target=self.check_views, name="wushe-views-check", daemon=True)
        self._checker.start()

    def check_views(self) -> ViewCheck | None:
        """Check the views against their digests now; a view that fails is not served until a
        check passes again (after ``wushe projections rebuild``)."""
        self._checked_at = time.monotonic()
        if self.projections.read_only:
            return None
        try:
            if self._apart():
                self.views_check = self.projections.judged(*self._recomputed_apart())
                self.checked_apart += 1
            else:
                self.views_check = self.projections.check()
        except InterruptedError:
            return self.views_check
        except Exception:
            logger.exception("checking the views failed")
            return self.views_check
        if not self.views_check.ok:
            logger.error("views changed behind the runner's back: %s (at log position %s)",
                         ", ".join(self.views_check.failed), self.views_check.position)
        return self.views_check

    def _apart(self) -> bool:
        url = str(self.ledger.database_url)
        return self.reached >= self.check_apart_from and ":memory:" not in url

    def _recomputed_apart(self) -> tuple[int, dict[str, int], tuple[str, ...]]:
        """``Projections.recomputed`` in a Python process of its own (``python -m
        projections.check_apart``) that opens the store read-only; a stop of the keeper ends it
        (a check only reads: one cut short changes nothing)."""
        asked = pickle.dumps((self.ledger.settings, self.ledger.database_url))
        child = subprocess.Popen([sys.executable, "-m", "projections.check_apart"], stdin=subprocess.PIPE,
                                 stdout=subprocess.PIPE)
        given: bytes | None = asked
        try:
            while True:
                try:
                    out, _ = child.communicate(given, timeout=0.25)
                    break
                except subprocess.TimeoutExpired:
                    given = None  # the input is kept by the first call
                    if self._halt_check.is_set():
                        raise InterruptedError("the keeper stopped during the views' check") from None
        finally:
            if child.poll() is None:
                child.kill()
                child.communicate()
        if child.returncode != 0 or not out:
            raise ChildProcessError(f"the views' check process ended with code {child.returncode}")
        status, found = pickle.loads(out)
        if status != "ok":
            raise RuntimeError(f"the views' check process failed: {found}")
        return found

    @property
    def withheld(self) -> tuple[str, ...]:
        """The views whose last check failed: their figures are not served."""
        return self.views_check.failed if self.views_check is not None else ()

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
            self._halt_check.clear()
            self._thread = threading.Thread(target=self._loop, name="wushe-views", daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        """Ask the runner to stop and wait for it: a round in progress commits or rolls back whole.
        Safe to call from several threads at once (several app lifespans may share one keeper)."""
        with self._life_lock:
            thread, self._thread = self._thread, None
            self._stop.set()
            self._halt_check.set()
            self._wake.set()
        if thread is not None:
            thread.join(timeout)
            if thread.is_alive():
                logger.warning("the views' runner did not stop within %s s", timeout)
        checker = self._checker
        if checker is not None:
            checker.join(timeout)  # a check only reads: one cut short changes nothing

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._wake.clear()
            self.catch_up_or_report(check_beside=True)  # a failed round is logged and tried again; the pages and /health say so
            self._wake.wait(self.interval)

