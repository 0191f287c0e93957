"""Who am I: the principal behind a bearer token, their roles and scope."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel

from api.auth import CallerDep
from api.schemas import PROBLEMS

router = APIRouter(prefix="/api/v1/auth", tags=["auth"], responses=PROBLEMS)


class WhoAmI(BaseModel):
    handle: str
    name: str
    roles: list[str]
    foundation: str | None
    """The foundation an accountant or approver works for (None: any)."""
    organisation: str | None
    """The organisation a recorder records for."""
    key_id: str
    """The key that signs this token's writes."""


@router.get("/whoami", response_model=WhoAmI)
def whoami(caller: CallerDep) -> WhoAmI:
    p = caller.principal
    return WhoAmI(handle=p.handle, name=p.name, roles=list(p.roles), foundation=p.foundation,
                  organisation=p.organisation, key_id=caller.actor.key.key_id)
