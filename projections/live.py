"""Serves the district totals, refolded from the verified log whenever the log has grown.

Folding only the appended events, into tables, is the projection runner's job (a later step).
"""

from __future__ import annotations

import threading

from ledger.application import Ledger
from ledger.verify import verified_events
from projections.district import DistrictTotals, district_totals


class DistrictView:
    """District totals, recomputed from the verified log when the log has grown."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger
        self._lock = threading.Lock()
        self._position = -1
        self._totals = DistrictTotals()

    def current(self) -> DistrictTotals:
        with self._lock:
            head = self.ledger.recorder.max_notification_id() or 0
            if head != self._position:
                stream = verified_events(self.ledger.log_positions())
                self._totals = district_totals(
                    (e.type_name, e.stream, e.version, e.payload) for _, e in stream
                )
                self._position = head
            return self._totals
