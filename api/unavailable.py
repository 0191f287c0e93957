"""The store going away (a database restart, a dropped connection, a pool with no connection to give)
is answered with 503 problem+json and ``Retry-After``, never a 500: the request may or may not have
been committed, and its retry with the same Idempotency-Key either replays the first answer or
writes it once (the key is stored in the events' transaction, ``api.idempotency``)."""

from __future__ import annotations

import logging

import psycopg
from eventsourcing.persistence import InterfaceError, OperationalError
from fastapi import FastAPI, Request

from api.problems import problem_response
from ledger.errors import LedgerError
from ledger.stores import DatabaseUnresponsive

logger = logging.getLogger("wushe")

RETRY_AFTER_SECONDS = 2

STORE_ERRORS = (OperationalError, InterfaceError, psycopg.OperationalError, psycopg.InterfaceError, DatabaseUnresponsive)
"""What the store's drivers raise when the database cannot be reached or drops a connection
(eventsourcing wraps psycopg's and sqlite3's; psycopg_pool's PoolTimeout is an OperationalError), and
a server that stopped answering (``ledger.stores.DatabaseUnresponsive``)."""


class StoreUnavailable(LedgerError):
    """The database could not be reached or dropped the connection mid-request."""

    rule = "store-unavailable"
    status = 503
    title_zh = "数据库暂不可用"


def install(app: FastAPI) -> None:
    """Answer store outages with 503 problem+json."""

    async def unavailable(request: Request, exc: Exception):
        logger.warning("store unavailable during %s %s: %s", request.method, request.url.path, exc)
        problem = StoreUnavailable(
            "the database is unavailable (restarting or unreachable); retry the same request, with the same "
            "Idempotency-Key, shortly", "数据库暂不可用（正在重启或无法连接），请稍后以相同的幂等键重试")
        return problem_response(problem, {"Retry-After": str(RETRY_AFTER_SECONDS)})

    for error in STORE_ERRORS:
        app.add_exception_handler(error, unavailable)
