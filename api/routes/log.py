"""The verifiable log over HTTP: checkpoints, inclusion and consistency proofs, and the public
receipt pages. Proofs are hashes only; raw events (which carry donors' and volunteers' names) are
not served publicly — the holder gets the JSON receipt from the foundation (``wushe receipt``).

A receipt or certificate page opens only by its short link (``/v/<leaf>-<hash>``, printed as the
receipt's QR code) with at least 16 hex digits (64 bits) of the leaf hash: whoever holds the
receipt, never whoever walks the log. Everything here only reads, from the read side
(``api.reads``: the store or its read copy): an anonymous request never grows the tree or signs a
checkpoint — a record no checkpoint covers yet is answered 409 until the scheduled one does."""

from __future__ import annotations

import base64
import re
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, Field

from api.deps import ReadsDep
from api.receipt_page import render_receipt_page
from ledger.checkpoints import StoredCheckpoint
from ledger.errors import InvalidInput, NotFound
from ledger.messages import msg
from ledger.receipts import ReceiptError, build_receipt, standing, verify_receipt
from ledger.settings import trusted_witnesses

router = APIRouter(prefix="/api/v1/log", tags=["log"])
pages = APIRouter(tags=["receipts"])


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


class CheckpointOut(BaseModel):
    origin: str
    tree_size: int
    root_hash: str = Field(description="Base64 RFC 9162 root hash")
    note: str = Field(description="The C2SP signed note: checkpoint text, log signature, witness cosignatures")
    signed_at: str
    cosigners: list[str]


class InclusionOut(BaseModel):
    leaf_index: int
    position: int = Field(description="Log position (notification id) of the event")
    tree_size: int
    root_hash: str
    inclusion_proof: list[str] = Field(description="Base64 hashes, from the leaf upwards (RFC 9162 §2.1.3)")


class ConsistencyOut(BaseModel):
    first: int
    second: int
    first_root: str
    second_root: str
    consistency_proof: list[str] = Field(description="Base64 hashes (RFC 9162 §2.1.4)")


def _checkpoint(stored: StoredCheckpoint) -> CheckpointOut:
    cp = stored.checkpoint
    return CheckpointOut(origin=cp.origin, tree_size=cp.size, root_hash=_b64(cp.root), note=stored.note.decode(),
                         signed_at=stored.signed_at, cosigners=list(stored.cosigners))


@router.get("/checkpoint", response_model=CheckpointOut)
def latest_checkpoint(reads: ReadsDep) -> CheckpointOut:
    """The latest signed checkpoint."""
    stored = reads.ledger.checkpoints.latest()
    if stored is None:
        raise NotFound("checkpoint", "latest", field="tree_size")
    return _checkpoint(stored)


@router.get("/checkpoints", response_model=list[int])
def checkpoint_sizes(reads: ReadsDep) -> list[int]:
    """The tree sizes of every checkpoint ever signed, oldest first."""
    return reads.ledger.checkpoints.sizes()


@router.get("/checkpoints/{tree_size}", response_model=CheckpointOut)
def checkpoint_at(reads: ReadsDep, tree_size: int) -> CheckpointOut:
    """The checkpoint signed at a tree size."""
    stored = reads.ledger.checkpoints.at(tree_size)
    if stored is None:
        raise NotFound("checkpoint of tree size", str(tree_size), field="tree_size")
    return _checkpoint(stored)


def _size(ledger, tree_size: int | None) -> int:
    if tree_size is not None:
        return tree_size
    latest = ledger.checkpoints.latest()
    return latest.checkpoint.size if latest else ledger.merkle.size()


@router.get("/inclusion", response_model=InclusionOut)
def inclusion(
    reads: ReadsDep,
    leaf_index: Annotated[int | None, Query(ge=0, description="Leaf index; or give position")] = None,
    position: Annotated[int | None, Query(ge=1, description="Log position of the event")] = None,
    tree_size: Annotated[int | None, Query(ge=1, description="Default: the latest checkpoint's size")] = None,
) -> InclusionOut:
    """The inclusion proof of one leaf in the tree of a given size."""
    ledger = reads.ledger
    size = _size(ledger, tree_size)
    if (leaf_index is None) == (position is None):
        raise InvalidInput("position", msg("give exactly one of `leaf_index` and `position`"))
    if leaf_index is None:
        leaf_index = ledger.merkle.leaf_index_of(position)
        if leaf_index is None:
            raise NotFound("event at log position", str(position), field="position")
    proof = ledger.merkle.inclusion_proof(leaf_index, size)
    found = ledger.merkle.leaf_at(leaf_index)
    return InclusionOut(leaf_index=leaf_index, position=found[0], tree_size=size,
                        root_hash=_b64(ledger.merkle.root(size)), inclusion_proof=[_b64(h) for h in proof])


@router.get("/consistency", response_model=ConsistencyOut)
def consistency(
    reads: ReadsDep,
    first: Annotated[int, Query(ge=0, description="The older tree size")],
    second: Annotated[int, Query(ge=0, description="The newer tree size")],
) -> ConsistencyOut:
    """The consistency proof that the tree of size ``second`` extends the one of size ``first``."""
    ledger = reads.ledger
    proof = ledger.merkle.consistency_proof(first, second)
    return ConsistencyOut(first=first, second=second, first_root=_b64(ledger.merkle.root(first)),
                          second_root=_b64(ledger.merkle.root(second)), consistency_proof=[_b64(h) for h in proof])


SHORT_LINK = re.compile(r"([0-9]{1,19})-([0-9a-fA-F]{16,64})")
"""``<leaf index>-<at least 16 hex digits of the leaf hash>``: 64 bits no one guesses by walking."""


@pages.get("/v/{reference}", response_class=HTMLResponse, include_in_schema=False)
def short_link(request: Request, reads: ReadsDep, reference: str) -> HTMLResponse:
    """The QR code's link: leaf index and the first bytes of the leaf hash, checked before showing."""
    ledger = reads.ledger
    match = SHORT_LINK.fullmatch(reference)
    found = ledger.merkle.leaf_at(int(match.group(1))) if match else None
    if found is None or not found[1].hex().startswith(match.group(2).lower()):  # type: ignore[union-attr]
        raise NotFound("receipt link", reference[:100], field="reference")
    leaf_index = int(match.group(1))  # type: ignore[union-attr]
    latest = ledger.checkpoints.latest()
    if latest is None or latest.checkpoint.size <= leaf_index:
        raise ReceiptError(msg("no checkpoint covers this event yet; the next scheduled checkpoint will"))
    document = build_receipt(ledger, found[0], latest.note, latest.checkpoint)
    settings = request.app.state.settings
    log_key = ledger.directory().active_keys(ledger.origin)[-1].key
    verified = verify_receipt(document, log_key, trusted_witnesses(settings))
    return HTMLResponse(render_receipt_page(document, verified, settings.public_url, public=True,
                                            standing=standing(ledger, found[0]), contact=settings.contact))
