"""Where the public pages, the public JSON and the log's proofs read from: the store itself, or a
read-only copy of it (``WUSHE_READ_DATABASE_URL``, a streaming replica), never writing there.

The views and the Merkle tree are kept current by the server's background runner
(:mod:`projections.keeper`). A read first waits, briefly, until they include every event this
process has written, so a write through the API is seen by the next public read of the same
process.

With a read copy, a monitor thread (:class:`ReplicaMonitor`) looks at the copy and at the
primary's head every :data:`MONITOR_INTERVAL` seconds; requests never query either for that. A
read waits at most ``WUSHE_REPLICA_WAIT`` seconds for the copy to reach this process's last write,
and once it has waited in vain it does not wait again until the copy has caught up: the page
then says how far behind its figures are ("figures as of log #N, 3 s ago"). While the copy does
not answer (down, or hung), reads go to the primary instead.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from api.checks import Outcome
from ledger.application import Ledger
from ledger.stores import is_postgres
from projections.keeper import Basis, Keeper, read_basis
from projections.live import DistrictView
from projections.runner import Projections

logger = logging.getLogger("wushe.reads")

READ_WAIT = 5.0
"""Seconds a read waits for the views to include this process's last write before it answers
with what is there (the runner is failing)."""
MONITOR_INTERVAL = 0.25
"""Seconds between the monitor's looks at the read copy and the primary's head."""
STALE_PROBE = 3.0
"""A look at the copy that has not come back after this many seconds counts as the copy down."""
BASIS_AGE = 3.0
"""Seconds the tag's inputs as the runner (or the copy's monitor) last read them stand for the
store's: a request tags its answer from them without a query (``PublicReads.at_once``). Both read
them again every round (one second, a quarter of one), so only a stalled or failing round lets
them grow older; then requests read them from the store themselves."""


@dataclass(frozen=True)
class ReadSide:
    """What one request reads from: a ledger, its views and the district's live totals."""

    ledger: Ledger
    projections: Projections
    district: DistrictView
    replica: bool = False
    behind: int = 0
    """Events on the primary not yet in the figures read here (0 when current)."""
    as_of_position: int = 0
    """The log position the figures stand at, when behind."""
    as_of_age: float | None = None
    """Seconds since the copy last replayed a change, when behind and known."""
    fallback: bool = False
    """True when the read copy is down and this request reads the primary instead."""

    def current(self) -> ReadSide:
        return self


@dataclass
class ReplicaState:
    ok: bool = False
    reached: int = 0
    """The position both the copy's views and tree have reached."""
    primary_head: int = 0
    replayed_at: datetime | None = None
    error: str | None = None
    looked_at: float = 0.0
    origin_matches: bool = True
    basis: Basis | None = None
    """The copy's tag inputs, read at this look."""
    extra: dict[str, Any] = field(default_factory=dict)


class ReplicaMonitor:
    """Looks at the read copy (and the primary's head) in a thread of its own."""

    def __init__(self, primary: Ledger, replica: Ledger, projections: Projections) -> None:
        self.primary = primary
        self.replica = replica
        self.projections = projections
        self.state = ReplicaState()
        self._changed = threading.Condition()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._probe_started = 0.0

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        if self.running:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="wushe-replica", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread = None  # a look stuck on a hung copy ends with its connection's deadline

    def look(self) -> ReplicaState:
        """Look once, now, in the calling thread."""
        self._probe_started = time.monotonic()
        state = ReplicaState(looked_at=time.monotonic())
        generation = self.primary.checkpoints.generation
        try:
            state.primary_head = self.primary.recorder.max_notification_id() or 0
        except Exception as exc:  # noqa: BLE001 -- the primary's own check reports it; keep the last head
            state.primary_head = self.state.primary_head
            logger.debug("primary head unavailable: %s", exc)
        try:
            state.basis = read_basis(self.projections, self.replica.checkpoints, generation)
            state.reached = min(state.basis.position, self.replica.merkle.synced_position())
            state.replayed_at = _replayed_at(self.replica)
            state.ok = True
        except Exception as exc:  # noqa: BLE001 -- the copy is down or hung: reads go to the primary
            state.error = f"{type(exc).__name__}: {str(exc).strip()[:200]}"
        self._probe_started = 0.0
        with self._changed:
            self.state = state
            self._changed.notify_all()
        return state

    def healthy(self) -> bool:
        """The last look succeeded and no look has been stuck for long."""
        stuck = self._probe_started and time.monotonic() - self._probe_started > STALE_PROBE
        return self.state.ok and not stuck

    def wait_for(self, position: int, timeout: float) -> bool:
        with self._changed:
            return self._changed.wait_for(lambda: self.state.reached >= position or not self.state.ok, timeout) \
                and self.state.reached >= position

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.look()
            self._stop.wait(MONITOR_INTERVAL)


def _replayed_at(replica: Ledger) -> datetime | None:
    """When the copy last replayed a change from the primary (PostgreSQL standbys), else None."""
    if not is_postgres(replica.database_url):
        return None
    with replica.recorder.datastore.transaction(commit=False) as cursor:
        cursor.execute("SELECT pg_last_xact_replay_timestamp() AS at")
        at = cursor.fetchone()["at"]
    return at


class PublicReads:
    """The read side of one server: the primary's views, and a read copy's if one is set."""

    def __init__(self, primary: Ledger, keeper: Keeper, replica: Ledger | None = None, *,
                 replica_wait: float = 0.5) -> None:
        self.primary = primary
        self.keeper = keeper
        self.replica_wait = replica_wait
        self.primary_side = ReadSide(primary, keeper.projections, DistrictView(keeper.projections))
        self.monitor: ReplicaMonitor | None = None
        self.replica_side: ReadSide | None = None
        if replica is not None:
            projections = Projections(replica)
            self.replica_side = ReadSide(replica, projections, DistrictView(projections), replica=True)
            self.monitor = ReplicaMonitor(primary, replica, projections)
        default = self.replica_side or self.primary_side
        self.ledger = default.ledger
        """The ledger to read checkpoints, proofs and the key directory from."""
        self.projections = default.projections
        self.district = default.district
        self._gave_up_below = 0
        """A write position the copy was waited for in vain: no read waits for it again."""

    @property
    def has_replica(self) -> bool:
        return self.replica_side is not None

    @property
    def replica(self) -> bool:
        return self.has_replica

    def current(self) -> ReadSide:
        """The side this request reads, its views including this process's last write where they can."""
        target = self.primary.written_through
        if not self.keeper.running:
            self.keeper.catch_up_or_report()
        elif not self.keeper.wait_for(target, READ_WAIT):
            pass
        if self.keeper.withheld:
            return _withheld(self._side(target), self.keeper)
        return self._side(target)

    def at_once(self) -> tuple[ReadSide, Basis] | None:
        """The side this request reads and its tag's inputs, both known without a query or a wait
        (on the event loop), or None when finding either needs one (then :meth:`current` and
        :func:`projections.keeper.read_basis` in the thread pool): the runner is not running or has
        not reached this process's last write, the copy has to be waited for, or the inputs are
        older than :data:`BASIS_AGE` or were read before this process last kept a checkpoint or a
        cosignature, or a view failed its check. Tags so made trail another process's checkpoint
        by at most one round."""
        target = self.primary.written_through
        keeper = self.keeper
        if not keeper.running or keeper.reached < target or keeper.withheld:
            return None  # (views refused after a failed check are refused by the store's path)
        side = self._side(target, wait=False)
        if side is None:
            return None
        if side.replica:
            basis = self.monitor.state.basis  # type: ignore[union-attr]
        else:
            basis = keeper.basis
            if basis is not None and basis.position < target:
                return None
        if basis is None or basis.generation != self.primary.checkpoints.generation \
                or time.monotonic() - basis.read_at > BASIS_AGE:
            return None
        return side, basis

    def _side(self, target: int, *, wait: bool = True) -> ReadSide | None:
        """The side to read; without ``wait``, None where choosing it would query or wait."""
        if self.monitor is None:
            return self.primary_side
        monitor = self.monitor
        if not monitor.running:
            if not wait:
                return None
            monitor.look()
        if not monitor.healthy():
            return _with(self.primary_side, fallback=True)
        state = monitor.state
        if state.reached < target and target > self._gave_up_below:
            if not wait:
                return None
            if not monitor.wait_for(target, self.replica_wait):
                self._gave_up_below = target  # do not wait for this write again
            state = monitor.state
            if not monitor.healthy():
                return _with(self.primary_side, fallback=True)
        behind = max(0, state.primary_head - state.reached, target - state.reached)
        if behind == 0:
            return self.replica_side  # type: ignore[return-value]
        age = None
        if state.replayed_at is not None:
            age = max(0.0, (datetime.now(UTC) - state.replayed_at).total_seconds())
        return _with(self.replica_side, behind=behind, as_of_position=state.reached, as_of_age=age)  # type: ignore[arg-type]

    def lag_status(self, primary_head: int) -> dict[str, int]:
        """Where the views public reads see stand, against the primary's head."""
        if self.monitor is None:
            status = self.keeper.projections.status()
            return {"position": status.position, "lag": status.lag}
        state = self.monitor.state
        position = state.reached if state.ok else self.keeper.projections.position()
        return {"position": position, "lag": max(0, primary_head - position)}

    def replica_check(self) -> Outcome:
        monitor = self.monitor
        assert monitor is not None
        state = monitor.state if monitor.running else monitor.look()
        if not monitor.healthy():
            return Outcome("failing", f"the read copy does not answer ({state.error or 'stuck'}); public reads "
                                      "go to the primary")
        behind = max(0, state.primary_head - state.reached)
        detail = f"{behind} event(s) behind the primary (at log #{state.reached})" if behind else None
        return Outcome("ok", detail, {"behind": behind, "position": state.reached})

    def start(self) -> None:
        if self.monitor is not None:
            self.monitor.start()

    def stop(self) -> None:
        if self.monitor is not None:
            self.monitor.stop()


class _Refused:
    """Stands in for views that failed their check: any use raises ``api.standing.ViewsWithheld``."""

    def __init__(self, keeper: Keeper) -> None:
        self._keeper = keeper

    def __getattr__(self, name: str) -> Any:
        from api.standing import withheld

        check = self._keeper.views_check
        raise withheld(self._keeper.withheld, check.position if check else 0)


def _withheld(side: ReadSide, keeper: Keeper) -> ReadSide:
    """The side with its views refused (their figures are not served); its ledger — checkpoints,
    proofs, keys — still answers."""
    return _with(side, projections=_Refused(keeper), district=_Refused(keeper))  # type: ignore[arg-type]


def _with(side: ReadSide, **changes: Any) -> ReadSide:
    from dataclasses import replace

    return replace(side, **changes)
