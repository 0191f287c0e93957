"""Liveness and readiness: named checks (``api.checks``) of the primary store, the history, the
read copy, the views' runner and the replication setting, each bounded in time."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from api.checks import Outcome, add_check, run_checks
from ledger.stores import is_postgres, replication_problem

router = APIRouter(tags=["health"])


class CheckResult(BaseModel):
    name: str
    status: str
    """``ok``, ``warn``, ``failing`` or ``timeout``."""
    critical: bool
    """A failing critical check makes the server not ready (503)."""
    detail: str | None = None


class Health(BaseModel):
    status: str
    """``ok`` when every check passes; ``degraded`` when a non-critical one does not (the server
    writes and serves, e.g. with the read copy down, the views' runner failing — the figures stand
    still — or a view failing its check — its figures are withheld); ``uninitialised`` before ``wushe init``."""
    store: str
    """``sqlite`` or ``postgresql``."""
    events: int
    """Number of events in the log (its head position, on the primary)."""
    initialised: bool
    projections_position: int
    """The last log position folded into the read models public reads see."""
    projections_lag: int
    """Events on the primary not yet in the read models public reads see (a read copy's, if set)."""
    projections_runner: str
    """``background`` (the server's runner keeps the views current), ``on-read`` (no runner: each
    public read catches up), or ``failing: <error>`` (its last round failed; it keeps trying)."""
    checks: list[CheckResult]
    views_check: str = "not yet"
    """The last check of the views against the digests the runner kept: ``ok``, ``failed: <views>``
    (their figures are withheld: the ``views`` check fails), or ``not yet``."""
    problem: str | None = None
    """What the runner's last failed round said (the tampered event it stopped at)."""


def install_checks(app: FastAPI) -> None:
    """The server's own checks: the primary store (critical), replication, the read copy, the views."""
    ledger = app.state.ledger

    def primary() -> Outcome:
        # One query the store's client does not retry first: a database that is down is reported
        # within the pool's wait (ledger.stores), not after the recorder's ten attempts.
        ledger.tables.fetchone("SELECT 1")
        head = ledger.recorder.max_notification_id() or 0
        founded = ledger.is_founded
        return Outcome("ok" if founded else "warn", None if founded else "uninitialised",
                       {"events": head, "initialised": founded})

    def replication() -> Outcome:
        """Looked at again on each call: a standby that attached asynchronously after the start,
        or a primary whose synchronous standby was unnamed, is reported (degraded, not refused)."""
        allowed = getattr(ledger.factory, "replication_problem", None)
        if not is_postgres(ledger.database_url):
            return Outcome("ok")
        with ledger.recorder.datastore.transaction(commit=False) as cursor:
            problem = replication_problem(cursor)
        if problem is None:
            return Outcome("ok")
        if allowed or ledger.settings.replication_check == "warn":
            return Outcome("warn", f"{problem} (WUSHE_REPLICATION_CHECK=warn)")
        return Outcome("failing", f"{problem}: acknowledged writes may be lost on failover")

    def views() -> Outcome:
        keeper = app.state.keeper
        runner = _runner(keeper)
        problems = ([f"{runner}: {keeper.problem}" if keeper.problem else runner] if keeper.failure else []) + (
            [f"withheld, failed their check: {', '.join(keeper.withheld)}"] if keeper.withheld else [])
        return Outcome("failing" if problems else "ok", "; ".join(problems) or None, {"runner": runner})

    add_check(app, "primary", primary)
    add_check(app, "replication", replication, critical=False)
    add_check(app, "views", views, critical=False)
    reads = app.state.reads
    if reads.has_replica:
        add_check(app, "replica", reads.replica_check, critical=False)


@router.get("/health", response_model=Health)
def health(request: Request) -> Health | JSONResponse:
    app = request.app
    store = "postgresql" if is_postgres(app.state.ledger.database_url) else "sqlite"
    results = run_checks(app)
    checks = [CheckResult(name=c.name, status=o.status, critical=c.critical, detail=o.detail) for c, o in results]
    found = {c.name: o for c, o in results}
    not_ready = [c for c, o in results if c.critical and o.status in ("failing", "timeout")]
    primary = found.get("primary")
    if not_ready or primary is None or primary.data is None:
        refused = "refused" if app.state.history_problem is not None else "unavailable"
        detail = "; ".join(f"{c.name}: {found[c.name].detail}" for c in not_ready)
        return JSONResponse({"status": refused, "store": store, "detail": detail,
                             "checks": [c.model_dump() for c in checks]}, status_code=503)
    head = primary.data["events"]
    views = app.state.reads.lag_status(head)
    degraded = any(o.status in ("failing", "timeout", "warn") for c, o in results if not c.critical)
    status = "uninitialised" if not primary.data["initialised"] else "degraded" if degraded else "ok"
    return Health(status=status, store=store, events=head, initialised=primary.data["initialised"],
                  projections_position=views["position"], projections_lag=views["lag"],
                  projections_runner=_runner(app.state.keeper), checks=checks,
                  views_check=_views_check(app.state.keeper), problem=app.state.keeper.problem)


def _views_check(keeper) -> str:
    check = keeper.views_check
    return "not yet" if check is None else "ok" if check.ok else f"failed: {', '.join(check.failed)}"


def _runner(keeper) -> str:
    if not keeper.running:
        return "on-read"
    return f"failing: {keeper.failure}" if keeper.failure else "background"


@router.get("/health/live")
async def live() -> dict[str, str]:
    """Liveness: the process answers, without touching the store (for a supervisor's probe)."""
    return {"status": "ok"}
