"""Liveness and readiness: the store answers and the log verifies to its head."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from api.deps import LedgerDep
from ledger.stores import is_postgres

router = APIRouter(tags=["health"])


class Health(BaseModel):
    status: str
    """``ok`` when the store answers and the ledger is initialised; ``degraded`` when the views'
    runner fails (the figures stand still) or a view failed its check (its figures are withheld)."""
    store: str
    """``sqlite`` or ``postgresql``."""
    events: int
    """Number of events in the log (its head position)."""
    initialised: bool
    projections_position: int
    """The last log position folded into the read models."""
    projections_lag: int
    """Events stored but not yet in the read models (those public reads see: a read copy's, if set)."""
    projections_runner: str
    """``background`` (the server's runner keeps the views current), ``on-read`` (no runner: each
    public read catches up), or ``failing: <error>`` (its last round failed; it keeps trying)."""
    views_check: str = "not yet"
    """The last check of the views against the digests the runner kept: ``ok``, ``failed: <views>``
    (their figures are withheld), or ``not yet``."""
    problem: str | None = None
    """What the runner's last failed round said (the tampered event it stopped at)."""


@router.get("/health", response_model=Health)
def health(request: Request, ledger: LedgerDep) -> Health | JSONResponse:
    store = "postgresql" if is_postgres(ledger.database_url) else "sqlite"
    try:
        # One query the store's client does not retry first: a database that is down is reported
        # within the pool's wait (ledger.stores), not after the recorder's ten attempts.
        ledger.tables.fetchone("SELECT 1")
        head = ledger.recorder.max_notification_id() or 0
        initialised = ledger.is_founded
        views = request.app.state.reads.views.status()
    except Exception as exc:  # the store is down: say so with a 503, not a stack trace
        return JSONResponse({"status": "unavailable", "store": store, "detail": type(exc).__name__}, status_code=503)
    keeper = request.app.state.keeper
    check = keeper.views_check
    status = "ok" if initialised else "uninitialised"
    if initialised and (keeper.failure or keeper.withheld):
        status = "degraded"
    return Health(status=status, store=store, events=head, initialised=initialised,
                  projections_position=views.position, projections_lag=views.lag,
                  projections_runner=_runner(keeper),
                  views_check="not yet" if check is None else "ok" if check.ok else f"failed: {', '.join(check.failed)}",
                  problem=keeper.problem)


def _runner(keeper) -> str:
    if not keeper.running:
        return "on-read"
    return f"failing: {keeper.failure}" if keeper.failure else "background"


@router.get("/health/live")
async def live() -> dict[str, str]:
    """Liveness: the process answers, without touching the store (for a supervisor's probe)."""
    return {"status": "ok"}
