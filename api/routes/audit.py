"""The auditor's read-only view (审计): events by log range exactly as stored (the signed bytes),
and the directory's public keys, so every signature can be checked away from the server.
Open to principals with the auditor or root role; nothing here writes."""

from __future__ import annotations

import base64
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from api.auth import CallerDep
from api.schemas import PROBLEMS
from ledger.principals import AUDITOR, ROOT

router = APIRouter(prefix="/api/v1/audit", tags=["audit"], responses=PROBLEMS)

MAX_PAGE = 1000


class StoredEventOut(BaseModel):
    position: int = Field(description="Log position (notification id); leaf order of the Merkle log")
    stream: str
    version: int
    type: str
    signed: str = Field(description="The stored bytes, base64: a signed note (docs/signing.md)")


class KeyOut(BaseModel):
    principal: str
    key_id: str
    vkey: str = Field(description="The verifier key, C2SP note format")
    added_at: str
    revoked_at: str | None


class EventRange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    start: int = Field(1, ge=1, le=2**63 - 1, description="First log position")
    limit: int = Field(100, ge=1, le=MAX_PAGE, description="At most this many events")


@router.get("/events", response_model=list[StoredEventOut])
def events(request: Request, caller: CallerDep, query: Annotated[EventRange, Query()]) -> list[StoredEventOut]:
    """Events from log position ``start`` onwards, in log order, as stored."""
    caller.require(AUDITOR, ROOT)
    page = request.app.state.ledger.recorder.select_notifications(start=query.start, limit=query.limit)
    return [StoredEventOut(position=n.id, stream=str(n.originator_id), version=n.originator_version, type=n.topic,
                           signed=base64.b64encode(bytes(n.state)).decode()) for n in page]


@router.get("/events/{position}", response_class=Response,
            responses={200: {"content": {"application/octet-stream": {}}, "description": "The stored signed note"}})
def signed_bytes(
    request: Request, caller: CallerDep, position: Annotated[int, PathParam(ge=1, le=2**63 - 1)]
) -> Response:
    """The exact bytes stored at one log position (a signed note), for offline verification."""
    caller.require(AUDITOR, ROOT)
    stored, _ = request.app.state.ledger.read_position(position)
    return Response(bytes(stored.state), media_type="application/octet-stream",
                    headers={"X-Wushe-Stream": str(stored.originator_id),
                             "X-Wushe-Version": str(stored.originator_version)})


@router.get("/keys", response_model=list[KeyOut])
def keys(request: Request, caller: CallerDep) -> list[KeyOut]:
    """Every key the directory ever registered, revoked ones too, to verify old signatures."""
    caller.require(AUDITOR, ROOT)
    directory = request.app.state.ledger.directory()
    return [KeyOut(principal=r.principal, key_id=r.key.key_id, vkey=r.key.vkey, added_at=r.added_at.isoformat(),
                   revoked_at=r.revoked_at.isoformat() if r.revoked_at else None)
            for r in sorted(directory.keys.values(), key=lambda r: r.added_at)]
