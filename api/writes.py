"""Wires the authenticated API into an app: tokens, idempotency keys, limits and their routers."""

from __future__ import annotations

from eventsourcing.persistence import IntegrityError
from fastapi import FastAPI, Request, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.auth import TokenStore, load_secret
from api.groupcommit import DonationBatcher
from api.idempotency import IdempotencyKeys
from api.limits import Limiter, LimitsMiddleware
from api.problems import HttpError, TooManyRequests, Unauthenticated, WriteConflict, problem_response
from api.routes import accounting, audit, auth, record
from api.settings import ApiSettings
from ledger.messages import msg


def install(app: FastAPI, api_settings: ApiSettings | None = None) -> None:
    """Add authentication, the recording and audit routers, idempotency and limits to ``app``."""
    api_settings = api_settings or ApiSettings()
    ledger = app.state.ledger
    app.state.api_settings = api_settings
    app.state.tokens = TokenStore(ledger, load_secret(api_settings.secret_path(app.state.settings.resolved_key_dir)))
    app.state.idempotency = IdempotencyKeys(ledger)
    app.state.limiter = Limiter(api_settings)
    app.state.batcher = DonationBatcher(ledger, app.state.idempotency) if api_settings.group_commit else None
    app.add_middleware(LimitsMiddleware, limiter=app.state.limiter, max_body_bytes=api_settings.max_body_bytes,
                       max_json_depth=api_settings.max_json_depth, tokens=app.state.tokens)
    for router in (auth.router, record.router, accounting.router, audit.router):
        app.include_router(router)

    @app.exception_handler(Unauthenticated)
    async def unauthenticated(request: Request, exc: Unauthenticated):
        return problem_response(exc, {"WWW-Authenticate": 'Bearer realm="wushe"'})

    @app.exception_handler(TooManyRequests)
    async def too_many(request: Request, exc: TooManyRequests):
        return problem_response(exc, {"Retry-After": str(getattr(exc, "retry_after", 60))})

    @app.exception_handler(StarletteHTTPException)
    async def http_problem(request: Request, exc: StarletteHTTPException):
        if exc.status_code == 304:  # api.caching: the client holds this very answer
            return Response(status_code=304, headers=dict(exc.headers or {}))
        # Unknown paths, wrong methods, unreadable bodies: problem+json like every other error.
        if exc.status_code == 404:
            error = HttpError(msg("there is nothing at {path}", path=request.url.path))
        elif exc.status_code == 405:
            error = HttpError(msg("{method} is not allowed on {path}", method=request.method, path=request.url.path))
        else:
            error = HttpError(msg("the request cannot be handled (HTTP {status})", status=exc.status_code))
        error.status = exc.status_code
        return problem_response(error, dict(exc.headers or {}))

    @app.exception_handler(IntegrityError)
    async def write_conflict(request: Request, exc: IntegrityError):
        # The ledger retried its load-check-save and other writers kept winning the stream:
        # nothing was written, and the same request (with the same Idempotency-Key) may be retried.
        conflict = WriteConflict("other writes to the same fund or record kept arriving first; retry the request",
                                 "同一基金或记录正被频繁写入，请重试")
        return problem_response(conflict, {"Retry-After": "1"})
