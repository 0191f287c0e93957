"""Checking a receipt or certificate for a visitor: the offline verification of
:mod:`ledger.receipts` against this ledger's log key, plus whether today's log still holds the
checkpoint it was issued under. Always a verdict (verified, or exactly why not), never an error."""

from __future__ import annotations

import base64
import json
from typing import Any

from api.limits import MAX_JSON_DEPTH, json_too_deep
from ledger import merkle
from ledger.receipts import ReceiptError, reversal_of, verify_receipt
from ledger.settings import trusted_witnesses
from projections.donations import mask_name

MAX_RECEIPT_BYTES = 512 * 1024
"""A receipt is a few kilobytes; anything this large is refused unread."""


def check_receipt(ledger, settings, data: bytes | str) -> dict[str, Any]:
    """Verify a receipt against this ledger's log key; a verdict, never an exception."""
    if len(data) > MAX_RECEIPT_BYTES:
        return refusal(f"the receipt is larger than {MAX_RECEIPT_BYTES // 1024} KiB", "收据文件过大", status=413)
    if json_too_deep(data):  # before json.loads recurses into it
        return refusal(f"the receipt is nested more than {MAX_JSON_DEPTH} levels deep: not a receipt",
                       f"收据嵌套超过 {MAX_JSON_DEPTH} 层，不是收据", status=422)
    if not ledger.is_founded:
        return refusal("this ledger is not initialised", "账本尚未初始化")
    keys = [record.key for record in ledger.directory().active_keys(ledger.origin)]
    if not keys:
        return refusal("this ledger has no log key to check against", "账本没有日志密钥")
    problem: ReceiptError | None = None
    for key in reversed(keys):
        try:
            verified = verify_receipt(data, key, trusted_witnesses(settings))
            break
        except ReceiptError as exc:
            problem = problem or exc
    else:
        return refusal(problem.text.en, problem.text.zh)
    receipt = json.loads(data)
    size = verified.checkpoint.size
    here = ledger.merkle.size()
    not_yet = size > here  # a checkpoint signed by the log key beyond this copy's tree: it lags behind
    matches_today = not not_yet and ledger.merkle.root(size) == verified.checkpoint.root
    found = ledger.merkle.leaf_at(verified.leaf_index)
    position = found[0] if found and found[0] == receipt["position"] else None
    record_bytes = base64.b64decode(next(e["event"] for e in receipt["entries"] if e["role"] == "record"))
    held = found is not None and found[1] == merkle.leaf_hash(record_bytes)
    reversal = None
    if matches_today and found is not None:  # the log's own event at that leaf, not the receipt's copy
        reversal = reversal_of(ledger, *ledger.read_position(found[0]))
    payload = verified.record.payload
    details: dict[str, Any] = {"type": verified.record.type_name}
    if verified.kind == "donation":
        details.update(amount=payload.get("amount"), received_on=payload.get("received_on"),
                       fund=verified.record.stream.split(":", 1)[1],
                       donor=mask_name(payload.get("donor_name"), bool(payload.get("donor_public")))
                       if payload.get("donor_name") else None)
    elif verified.kind == "volunteer-service":
        volunteer = verified.volunteer or {}
        details.update(date=payload.get("date"), minutes=payload.get("minutes"),
                       organisation=payload.get("organisation"),
                       volunteer=mask_name(volunteer.get("name"), bool(volunteer.get("name_public"))))
    return {
        "verified": True, "kind": verified.kind, "origin": verified.origin, "leaf_index": verified.leaf_index,
        "position": position, "checkpoint_size": size, "signer": verified.signer,
        "cosigners": verified.cosigners, "in_log_today": None if not_yet else matches_today, "details": details,
        "not_yet_on_this_copy": not_yet,
        "stands": (reversal is None) if matches_today else None,
        "reversal": reversal.as_json() if reversal else None,
        # The link to the receipt page is derived from the leaf this log holds, never taken from the
        # receipt: its verify_path is not signed, and a crafted one would be a link on this origin.
        "verify_path": f"/v/{verified.leaf_index}-{found[1].hex()[:16]}" if held else None,
    }


def refusal(reason: str, reason_zh: str, status: int | None = None) -> dict[str, Any]:
    """A verdict of "not verified"; ``status`` (4xx) when the input was not even a receipt to check."""
    verdict: dict[str, Any] = {"verified": False, "reason": reason, "reason_zh": reason_zh}
    if status is not None:
        verdict["status"] = status
    return verdict


