"""Where the public pages, the public JSON and the log's proofs read from: the store itself, or a
read-only copy of it (``WUSHE_READ_DATABASE_URL``, a streaming replica), never writing there.

The views and the Merkle tree are kept current by the server's background runner
(:mod:`projections.keeper`). A read first waits, briefly, until they include every event this
process has written, so a write through the API is seen by the next public read of the same
process; on a replica also until the copy has caught up that far. Without a background runner
(an app used without its lifespan), a read folds the new events itself, as the pages once did.
"""

from __future__ import annotations

import time

from ledger.application import Ledger
from projections.keeper import Keeper
from projections.live import DistrictView
from projections.runner import Projections

READ_WAIT = 5.0
"""Seconds a read waits for the views to include this process's last write before it answers
with what is there (the runner is failing, or the replica lags far behind)."""
_REPLICA_POLL = 0.02


class PublicReads:
    """The read side of one server: its ledger (for checkpoints, proofs and keys), views and totals."""

    def __init__(self, primary: Ledger, keeper: Keeper, replica: Ledger | None = None) -> None:
        self.primary = primary
        self.keeper = keeper
        self.ledger = replica or primary
        """The ledger to read checkpoints, proofs and the key directory from."""
        self.views = keeper.projections if replica is None else Projections(replica)
        """The views, whether they passed their check or not (``projections`` refuses them if not)."""
        self._district = DistrictView(self.views)
        self._replica_reached = 0

    @property
    def projections(self) -> Projections:
        """The views public figures come from; ``api.standing.ViewsWithheld`` while they fail their check."""
        self._refuse_withheld()
        return self.views

    @property
    def district(self) -> DistrictView:
        self._refuse_withheld()
        return self._district

    def _refuse_withheld(self) -> None:
        if self.keeper.withheld:
            from api.standing import withheld

            check = self.keeper.views_check
            raise withheld(self.keeper.withheld, check.position if check else 0)

    @property
    def replica(self) -> bool:
        return self.ledger is not self.primary

    def current(self) -> None:
        """Wait until the views and the tree read here include this process's last write."""
        target = self.primary.written_through
        if not self.keeper.running:
            self.keeper.catch_up_or_report()
        elif not self.keeper.wait_for(target, READ_WAIT):
            return
        if self.replica and self._replica_reached < target:
            deadline = time.monotonic() + READ_WAIT
            while (reached := self._reached_on_replica()) < target and time.monotonic() < deadline:
                time.sleep(_REPLICA_POLL)
            self._replica_reached = reached

    def _reached_on_replica(self) -> int:
        return min(self.views.position(), self.ledger.merkle.synced_position())
