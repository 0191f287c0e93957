"""The history guard: a server whose log is shorter than, or differs from, a checkpoint already
published (a backup restored over a newer ledger, a failover to a stale standby) serves nothing
and signs nothing until an operator resolves it (docs/operations.md, Backup and restore).
``/health`` says why; every other request is answered 503 ``history-conflict``."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI
from starlette.types import ASGIApp, Receive, Scope, Send

from api.checks import Outcome, add_check
from api.problems import problem_response
from ledger.errors import LedgerError

logger = logging.getLogger("wushe")


class HistoryConflict(LedgerError):
    rule = "history-conflict"
    status = 503
    title_zh = "账本历史与已发布的检查点不一致"


def install(app: FastAPI) -> None:
    ledger = app.state.ledger
    app.state.history_problem = None
    try:
        app.state.history_problem = ledger.history_problem()
    except Exception:  # the store is down at start: the primary check reports it; look again later
        logger.exception("could not compare the log with the published checkpoint at start")
    if app.state.history_problem is not None:
        logger.error("REFUSING TO SERVE: %s", app.state.history_problem.en)

    def check() -> Outcome:
        try:
            problem = ledger.history_problem()
        except Exception as exc:  # noqa: BLE001 -- the store is down: the primary's check says so
            if app.state.history_problem is not None:
                return Outcome("failing", app.state.history_problem.en)
            return Outcome("warn", f"could not compare the log with the published checkpoint: {type(exc).__name__}")
        if problem is not None:
            app.state.history_problem = problem
        elif app.state.history_problem is not None:
            return Outcome("failing", app.state.history_problem.en + " (found at start; restart once resolved)")
        if problem is not None:
            return Outcome("failing", problem.en)
        published = ledger.published.get(ledger.origin)
        return Outcome("ok", None, {"published_size": published.checkpoint.size if published else 0})

    add_check(app, "history", check)

    app.add_middleware(RefuseOnConflict, state=app.state)


class RefuseOnConflict:
    """Answers 503 for every request but ``/health`` while the app's ``history_problem`` stands.
    A plain ASGI middleware: Starlette's ``BaseHTTPMiddleware`` (``app.middleware("http")``) ran
    every request, the cheapest included, through a task group and memory streams."""

    def __init__(self, app: ASGIApp, state: Any) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        problem = self.state.history_problem
        if problem is None or scope["type"] != "http" or scope["path"].startswith("/health"):
            await self.app(scope, receive, send)
            return
        await problem_response(HistoryConflict(problem), {"Retry-After": "60"})(scope, receive, send)
