"""Wires the authenticated API into an app: tokens, idempotency keys, limits and their routers."""

from __future__ import annotations

from fastapi import FastAPI

from api.auth import TokenStore, load_secret
from api.idempotency import IdempotencyKeys
from api.limits import Limiter, LimitsMiddleware
from api.routes import audit, auth, record
from api.settings import ApiSettings


def install(app: FastAPI, api_settings: ApiSettings | None = None) -> None:
    """Add authentication, the recording and audit routers, idempotency and limits to ``app``."""
    api_settings = api_settings or ApiSettings()
    ledger = app.state.ledger
    app.state.api_settings = api_settings
    app.state.tokens = TokenStore(ledger, load_secret(api_settings.secret_path(app.state.settings.resolved_key_dir)))
    app.state.idempotency = IdempotencyKeys(ledger)
    app.state.limiter = Limiter(api_settings)
    app.add_middleware(LimitsMiddleware, limiter=app.state.limiter, max_body_bytes=api_settings.max_body_bytes)
    for router in (auth.router, record.router, audit.router):
        app.include_router(router)
