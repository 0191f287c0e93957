"""Typed dependencies of the routes."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from ledger.application import Actor, Ledger
from projections.live import DistrictView


def get_ledger(request: Request) -> Ledger:
    return request.app.state.ledger


def log_actor(request: Request) -> Actor | None:
    """The server's log key, if its key directory holds one; receipts then get fresh checkpoints."""
    return request.app.state.log_actor


def get_district(request: Request) -> DistrictView:
    return request.app.state.district


LedgerDep = Annotated[Ledger, Depends(get_ledger)]
DistrictDep = Annotated[DistrictView, Depends(get_district)]
