"""The FastAPI app factory: wires one ledger and its views to the routers."""

from __future__ import annotations

import asyncio
import gc
import json
import logging
from contextlib import asynccontextmanager, suppress

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from api import caching, console, history, security, standing, unavailable, writes
from api.caching import Answers
from api.checks import Outcome, add_check
from api.limits import trust_proxies
from api.reads import PublicReads
from api.routes import disclosures, docs, health, log, pages, public
from api.settings import ApiSettings
from api.unavailable import STORE_ERRORS
from api.validation import problem_of
from ledger.application import Actor, Ledger
from ledger.checkpoints import CheckpointError
from ledger.errors import LedgerError
from ledger.filemodes import check_key_dir
from ledger.merkle_log import ProofRangeError
from ledger.receipts import ReceiptError
from ledger.settings import Settings
from ledger.signing import read_signing_key
from ledger.stores import StoreRefused
from projections.keeper import Keeper
from projections.runner import Projections

logger = logging.getLogger("wushe")


def problem(status: int, rule: str, title_zh: str, detail_zh: str, detail_en: str, field: str | None = None):
    """An RFC 9457 problem document, in Chinese and English."""
    body = {"type": f"https://wushe.example/problems/{rule}", "title": title_zh, "status": status,
            "detail": detail_zh, "detail_en": detail_en, "rule": rule}
    if field:
        body["field"] = field
    return JSONResponse(body, status_code=status, media_type="application/problem+json")


def _load_log_actor(ledger: Ledger, settings: Settings) -> Actor | None:
    """The log key from the key directory, if this server holds it."""
    try:
        origin = ledger.origin
        return Actor(origin, read_signing_key(settings.resolved_key_dir, origin))
    except (LedgerError, OSError, ValueError):
        return None


async def _checkpoint_schedule(app: FastAPI) -> None:
    """Sign a checkpoint every ``checkpoint_interval`` seconds if the log has grown."""
    settings: Settings = app.state.settings
    while True:
        await asyncio.sleep(settings.checkpoint_interval)
        actor = app.state.log_actor or _load_log_actor(app.state.ledger, settings)
        app.state.log_actor = actor
        if actor is None:
            continue
        try:
            await asyncio.to_thread(app.state.ledger.sign_checkpoint, actor)
        except Exception:  # a failed round is logged and retried next time, never fatal to the server
            logger.exception("scheduled checkpoint failed")


_startup_frozen = False


def _freeze_startup_objects() -> None:
    """Move what the process holds once the app has started (modules, routes, schemas, templates,
    the ledger and its views' runner: some 140,000 objects) out of the garbage collector's reach.
    Each full collection walked all of them, and took 110-120 ms of the event loop on the
    benchmark's machine, 15 times in 30 s under load: it was most of the pages' p99 and the
    trivial route's (docs/performance.md section 8). Once a process: a test process starting many
    apps freezes only the first one's world, and nothing is ever unfrozen."""
    global _startup_frozen
    if not _startup_frozen:
        gc.collect()  # garbage now is freed first, so only live objects are frozen
        gc.freeze()
        _startup_frozen = True


class WrongReplica(StoreRefused):
    """The read copy holds another ledger than the primary."""


def _same_ledger(primary: Ledger, replica: Ledger) -> None:
    """Refuse a read copy that is not a copy of this ledger: its genesis event must be the primary's
    (same origin, same bytes), else the pages would show another district's figures."""
    def genesis(ledger: Ledger) -> tuple[str | None, bytes | None]:
        found = ledger.recorder.select_notifications(start=1, limit=1)
        origin = ledger.origin if ledger.is_founded else None
        return origin, bytes(found[0].state) if found else None

    mine, theirs = genesis(primary), genesis(replica)
    if mine[1] is not None and theirs[1] is not None and mine != theirs:
        replica.close()
        raise WrongReplica(f"WUSHE_READ_DATABASE_URL holds the ledger {theirs[0]!r}, not this ledger {mine[0]!r} "
                           "(or another copy of it): the pages would show another ledger's figures")


def create_app(
    settings: Settings | None = None, *, ledger: Ledger | None = None, api_settings: ApiSettings | None = None
) -> FastAPI:
    """Build the app around a ledger (opened from settings unless one is given). While the app
    runs (its lifespan), a background runner keeps the views and the Merkle tree current."""
    settings = settings or (ledger.settings if ledger else Settings())
    check_key_dir(settings.resolved_key_dir)  # refuse to start where other users can read the keys
    owned = ledger is None
    ledger = ledger or Ledger(settings)
    keeper = Keeper(ledger, Projections(ledger), interval=settings.views_interval,
                    check_interval=settings.views_check_interval)
    replica = None
    replica_problem = None
    if settings.read_database_url:
        try:
            replica = Ledger(settings, database_url=settings.read_database_url, reference=ledger.reference,
                             read_only=True)
        except (StoreRefused, *STORE_ERRORS) as exc:  # the copy is down: serve from the primary, say so
            replica_problem = f"the read copy could not be opened at start ({exc}); restart to use it"
            logger.error("%s", replica_problem)
        else:
            _same_ledger(ledger, replica)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        task = None
        if settings.checkpoint_interval > 0:
            task = asyncio.create_task(_checkpoint_schedule(app))
        if settings.views_interval > 0:
            keeper.start()
        app.state.reads.start()
        _freeze_startup_objects()
        yield
        app.state.reads.stop()
        await asyncio.to_thread(keeper.stop)
        if task is not None:
            task.cancel()
            with suppress(asyncio.CancelledError):
                await task
        if replica is not None:
            replica.close()
        if owned:
            ledger.close()

    app = FastAPI(
        title="Wushe Ledger 五社账本",
        description="Signed, event-sourced ledger of charity funds and volunteer hours (Changning 五社联动).",
        version="0.1.0",
        lifespan=lifespan,
        docs_url=None,  # served by api.routes.docs, from this server's own files
        redoc_url=None,
        swagger_ui_oauth2_redirect_url=None,
    )
    app.state.settings = settings
    app.state.ledger = ledger
    app.state.keeper = keeper
    app.state.reads = PublicReads(ledger, keeper, replica, replica_wait=settings.replica_wait)
    app.state.projections = app.state.reads.projections
    """The views public reads see (the replica's, with a read URL)."""
    app.state.log_actor = _load_log_actor(ledger, settings)

    @app.exception_handler(LedgerError)
    async def ledger_error(request: Request, exc: LedgerError) -> JSONResponse:
        return problem(exc.status, exc.rule, exc.title_zh, exc.message_zh, exc.message, exc.field)

    @app.exception_handler(ProofRangeError)
    async def proof_range(request: Request, exc: ProofRangeError) -> JSONResponse:
        return problem(422, "beyond-log", "超出日志范围", f"超出日志范围：{exc}", str(exc))

    @app.exception_handler(ReceiptError)
    async def receipt_error(request: Request, exc: ReceiptError) -> JSONResponse:
        return problem(409, "receipt-unavailable", "无法出具收据", f"无法出具收据：{exc}", str(exc))

    @app.exception_handler(CheckpointError)
    async def checkpoint_error(request: Request, exc: CheckpointError) -> JSONResponse:
        return problem(409, "checkpoint", "检查点错误", f"检查点错误：{exc}", str(exc))

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        found = problem_of(list(exc.errors()))
        response = problem(422, found["rule"], found["title"].zh, found["detail"], found["detail_en"], found["field"])
        body = json.loads(response.body)
        body["errors"] = found["errors"]
        return JSONResponse(body, status_code=422, media_type="application/problem+json")

    health.install_checks(app)
    if replica_problem is not None:
        add_check(app, "replica", lambda: Outcome("failing", replica_problem), critical=False)
    # The residents' pages and JSON first: a request's route is found by trying each route in turn
    # (twice for a route in an included router), and a page request walked some 90 routes of the
    # API and the console before its own. No two routers' paths overlap
    # (tests/unit/test_routes.py), so their order changes only how long the walk is.
    app.include_router(pages.router)
    app.include_router(public.router)
    app.include_router(disclosures.router)
    app.include_router(log.router)
    app.include_router(log.pages)
    app.include_router(health.router)
    app.include_router(docs.router)
    caching.install(app)  # innermost: a kept answer is sent inside every other middleware
    writes.install(app, api_settings)
    cache_mib = app.state.api_settings.answer_cache_mib
    app.state.answers = Answers(cache_mib * 2**20) if cache_mib > 0 else None
    console.install(app)
    unavailable.install(app)
    standing.install(app)
    security.install(app)
    trust_proxies(app, app.state.api_settings)
    history.install(app)  # last: its refusal answers before any other middleware looks at a request
    return app
