"""The FastAPI app factory: wires one ledger and its views to the routers."""

from __future__ import annotations

from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from api.routes import health, public
from ledger.application import Ledger
from ledger.errors import LedgerError
from ledger.settings import Settings
from projections.live import DistrictView


def create_app(settings: Settings | None = None, *, ledger: Ledger | None = None) -> FastAPI:
    """Build the app around a ledger (opened from settings unless one is given)."""
    owned = ledger is None
    ledger = ledger or Ledger(settings or Settings())

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        yield
        if owned:
            ledger.close()

    app = FastAPI(
        title="Wushe Ledger 五社账本",
        description="Signed, event-sourced ledger of charity funds and volunteer hours (Changning 五社联动).",
        version="0.1.0",
        lifespan=lifespan,
    )
    app.state.ledger = ledger
    app.state.district = DistrictView(ledger)

    @app.exception_handler(LedgerError)
    async def ledger_error(request: Request, exc: LedgerError) -> JSONResponse:
        """Domain errors as RFC 9457 problem documents, in Chinese and English."""
        body = {
            "type": f"https://wushe.example/problems/{exc.rule}",
            "title": exc.title_zh,
            "status": exc.status,
            "detail": exc.message_zh,
            "detail_en": exc.message,
            "rule": exc.rule,
        }
        if exc.field:
            body["field"] = exc.field
        return JSONResponse(body, status_code=exc.status, media_type="application/problem+json")

    app.include_router(health.router)
    app.include_router(public.router)
    return app
