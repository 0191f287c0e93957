"""Typed dependencies of the routes."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from api.reads import PublicReads
from ledger.application import Actor, Ledger


def get_ledger(request: Request) -> Ledger:
    return request.app.state.ledger


def log_actor(request: Request) -> Actor | None:
    """The server's log key, if its key directory holds one; receipts then get fresh checkpoints."""
    return request.app.state.log_actor


def public_reads(request: Request) -> PublicReads:
    """The read side, brought up to this process's last write."""
    reads: PublicReads = request.app.state.reads
    reads.current()
    return reads


LedgerDep = Annotated[Ledger, Depends(get_ledger)]
ReadsDep = Annotated[PublicReads, Depends(public_reads)]
"""Public reads: views, checkpoints and proofs, from the store or its read copy."""
