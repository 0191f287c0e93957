"""The saved audit state (审计状态): what an auditor's clean audit knew at a checkpoint — the
Merkle frontier, the directory of keys, the order of the streams, the folded views and the rule
checks' running state — signed with the auditor's own Ed25519 key, so the next audit verifies only
the events after it. ``docs/verification.md`` §9 gives the bytes.

The file is three text lines and a binary body::

    wushe-audit-state/v1\\n
    <header: one line of JSON, keys sorted>\\n
    — <auditor key name> <base64(4-byte key hash || Ed25519 signature of the two lines above)>\\n
    <body: msgpack, exactly header.body.bytes long, SHA-256 = header.body.sha256>
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import msgspec

from audits.findings import EventRef, Finding
from ledger.signing import SIG_PREFIX, SigningKey, VerifierKey
from projections.runner import SHAPE

MAGIC = b"wushe-audit-state/"
VERSION = 1
FORMAT = f"wushe-audit-state/v{VERSION}"
AUDITOR_KEY = "auditor"
"""The key name ``wushe audit keygen`` gives an auditor's key (files ``auditor.key`` / ``auditor.pub``)."""


class StateError(ValueError):
    """A state file that cannot be used: unreadable, another version, not signed by the auditor's key,
    or edited."""


@dataclass
class AuditState:
    """An audit's state at ``tree_size`` leaves (the checkpoint it matched)."""

    origin: str
    tree_size: int
    root: bytes
    position: int
    """The log position of the last leaf covered (leaf ``tree_size - 1``)."""
    checkpoint: bytes
    """The log's signed checkpoint note of ``tree_size`` that the audit matched."""
    body: dict[str, Any]
    """``frontier``, ``checkpoints``, ``directory``, ``streams``, ``views``, ``rules`` (see §9)."""


def finding_from_json(data: dict[str, Any]) -> Finding:
    events = tuple(EventRef(**e) for e in data.get("events") or ())
    return Finding(data["rule"], data["severity"], data["message_en"], data["message_zh"], events,
                   data.get("street_town"), data.get("fund"), dict(data.get("details") or {}))


def keygen(directory: Path, name: str = AUDITOR_KEY) -> SigningKey:
    """A new auditor key: ``<name>.key`` (0600) and ``<name>.pub`` in ``directory``; refuses to overwrite."""
    if (directory / f"{name}.key").exists():
        raise FileExistsError(f"{directory / (name + '.key')} exists; keep it or choose another directory 密钥已存在")
    key = SigningKey.generate(name)
    key.write(directory)
    return key


def save(state: AuditState, path: Path, key: SigningKey) -> int:
    """Write the state signed with the auditor's key (atomically: a temporary file renamed);
    returns the bytes written."""
    body = msgspec.msgpack.encode(state.body)
    header = {
        "format": FORMAT, "origin": state.origin, "tree_size": state.tree_size,
        "root_hash": base64.b64encode(state.root).decode(), "position": state.position,
        "checkpoint": state.checkpoint.decode("utf-8"), "views_shape": SHAPE, "auditor": key.key_id,
        "saved_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "body": {"encoding": "msgpack", "bytes": len(body), "sha256": hashlib.sha256(body).hexdigest(),
                 "sections": sorted(state.body)},
    }
    signed = FORMAT.encode() + b"\n" + json.dumps(header, ensure_ascii=False, sort_keys=True,
                                                  separators=(",", ":")).encode() + b"\n"
    data = signed + key.signature_line(signed).encode() + body
    temporary = path.with_name(path.name + ".tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    temporary.replace(path)
    return len(data)


def load(path: Path, auditor: VerifierKey) -> AuditState:
    """Read and check a state file: its version, the auditor's signature over the header, the body's
    hash. Raises StateError naming what is wrong."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise StateError(f"cannot read the audit state {path}: {exc.strerror}") from None
    lines = data.split(b"\n", 3)
    if len(lines) < 4 or not lines[0].startswith(MAGIC):
        raise StateError(f"{path} is not a wushe audit state 不是审计状态文件")
    if lines[0] != FORMAT.encode():
        raise StateError(f"{path} is a {lines[0].decode('utf-8', 'replace')} state; this wushe reads {FORMAT} "
                         f"only — audit in full once to save a new one 审计状态版本不符")
    signed, line, body = lines[0] + b"\n" + lines[1] + b"\n", lines[2].decode("utf-8", "replace"), lines[3]
    try:
        name, blob = line.removeprefix(SIG_PREFIX).split(" ")
        raw = base64.b64decode(blob, validate=True)
    except ValueError:
        raise StateError(f"{path}: the signature line is malformed 签名行格式错误") from None
    if not line.startswith(SIG_PREFIX) or name != auditor.name or raw[:4] != auditor.hash or \
            not auditor.verify(signed, raw[4:]):
        raise StateError(f"{path} is not signed by the auditor key {auditor.key_id}, or was edited since "
                         "审计状态签名无效（非本审计员签署或已被改动）")
    try:
        header = json.loads(signed.split(b"\n")[1])
        expected = header["body"]
        state = AuditState(header["origin"], int(header["tree_size"]), base64.b64decode(header["root_hash"]),
                           int(header["position"]), header["checkpoint"].encode("utf-8"), {})
    except (ValueError, KeyError, TypeError) as exc:
        raise StateError(f"{path}: the signed header cannot be read ({exc})") from None
    if header.get("format") != FORMAT:
        raise StateError(f"{path}: the header names {header.get('format')!r}, not {FORMAT}")
    if header.get("views_shape") != SHAPE:
        raise StateError(f"{path} was saved with other view definitions; audit in full once to save a new state "
                         "视图定义已变更，请完整审计一次")
    if len(body) != expected.get("bytes") or hashlib.sha256(body).hexdigest() != expected.get("sha256"):
        raise StateError(f"{path}: the state's body does not match its signed hash (edited or truncated) "
                         "审计状态内容被改动或截断")
    try:
        state.body = msgspec.msgpack.decode(body)
    except msgspec.DecodeError as exc:
        raise StateError(f"{path}: the state's body cannot be read ({exc})") from None
    return state
