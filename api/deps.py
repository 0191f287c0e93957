"""Typed dependencies of the routes."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request, Response

from api.reads import PublicReads, ReadSide
from ledger.application import Actor, Ledger


def get_ledger(request: Request) -> Ledger:
    return request.app.state.ledger


def log_actor(request: Request) -> Actor | None:
    """The server's log key, if its key directory holds one; receipts then get fresh checkpoints."""
    return request.app.state.log_actor


def public_reads(request: Request, response: Response = None) -> ReadSide:  # type: ignore[assignment]
    """The side this request reads (the read copy, or the primary while the copy is down), brought
    up to this process's last write as far as the bounded wait allows (``api.reads``)."""
    reads: PublicReads = request.app.state.reads
    side = reads.current()
    request.state.read_side = side
    if side.behind and response is not None:  # JSON answers say it in headers, pages in a notice (templates/base.html)
        response.headers["X-Wushe-Figures-As-Of"] = str(side.as_of_position)
        response.headers["X-Wushe-Behind-Primary"] = str(side.behind)
    return side


LedgerDep = Annotated[Ledger, Depends(get_ledger)]
ReadsDep = Annotated[ReadSide, Depends(public_reads)]
"""Public reads: views, checkpoints and proofs, from the store or its read copy."""
