"""The directory's own rules, re-checked by the replay, and the bundle's keys file compared with the
keys the log itself registers.

A directory event signed by a current root key verifies, but the write side would still have
refused it if it breaks what the directory guarantees (``ledger.principals.Directory``): a key is
named after its principal, a rotation retires a key of the same principal, only a registered key
is revoked, a principal is registered once. An insider with the root key, or an operator writing
rows, could plant such an event; the replay names it and does not apply it.
"""

from __future__ import annotations

from typing import Any

from audits.findings import CRITICAL, Finding
from ledger.envelope import SignedEvent
from ledger.principals import Directory
from ledger.signing import NoteFormatError, VerifierKey


def directory_problem(directory: Directory | None, sealed: SignedEvent) -> tuple[str, str, str] | None:
    """(rule, English, Chinese) for a directory event the directory as it stands would refuse."""
    if directory is None:
        return None
    p = sealed.payload
    kind = sealed.type_name
    if kind == "Directory.PrincipalRegistered" and p.get("handle") in directory.principals:
        return ("integrity.principal-registered-twice", f"principal {p['handle']!r} is registered a second time",
                f"主体 {p['handle']!r} 被重复登记")
    if kind in ("Directory.KeyAdded", "Directory.KeyRotated"):
        principal = p.get("principal")
        if principal not in directory.principals:
            return ("integrity.unknown-principal", f"a key is given to {principal!r}, who was never registered",
                    f"为未登记的主体 {principal!r} 登记密钥")
        try:
            key = VerifierKey.from_vkey(p.get("key") or "")
        except NoteFormatError:
            return None  # not a key at all: applying the event fails, and that is reported as damage
        if key.name != principal:
            return ("integrity.key-name", f"the new key {key.key_id} is named {key.name!r}, but is given to {principal!r}",
                    f"新密钥 {key.key_id} 的名称为 {key.name!r}，却登记给主体 {principal!r}")
        if key.key_id in directory.keys:
            return ("integrity.key-name", f"the key {key.key_id} is registered a second time",
                    f"密钥 {key.key_id} 被重复登记")
    if kind == "Directory.KeyRotated":
        old = directory.keys.get(p.get("old_key_id"))
        if old is None:
            return ("integrity.unknown-key", f"the rotation retires {p.get('old_key_id')!r}, a key never registered",
                    f"轮换所停用的密钥 {p.get('old_key_id')!r} 从未登记")
        if old.principal != p.get("principal"):
            return ("integrity.rotation-owner",
                    f"the rotation for {p.get('principal')!r} retires {p['old_key_id']}, a key of {old.principal!r}",
                    f"为主体 {p.get('principal')!r} 轮换密钥，停用的却是主体 {old.principal!r} 的密钥 {p['old_key_id']}")
    if kind == "Directory.KeyRevoked" and p.get("key_id") not in directory.keys:
        return ("integrity.unknown-key", f"the revocation names {p.get('key_id')!r}, a key never registered",
                f"吊销的密钥 {p.get('key_id')!r} 从未登记")
    return None


_FIELDS = ("principal", "vkey", "added_at", "revoked_at", "reason")


def compare_keys_file(published: dict[str, Any] | None, rebuilt: dict[str, Any]) -> list[Finding]:
    """The bundle's ``keys.json`` against the keys rebuilt from its own log: one finding listing
    every key missing, added or different (a keys file that hides a revocation, say)."""
    if published is None:  # an incremental bundle carries none
        return []
    try:
        theirs = {k["key_id"]: k for k in published.get("keys", [])}
    except (AttributeError, KeyError, TypeError):
        theirs = None
    ours = {k["key_id"]: k for k in rebuilt["keys"]}
    differences: list[dict[str, Any]] = []
    if theirs is None:
        differences.append({"key_id": None, "problem": "unreadable"})
    else:
        for key_id in sorted(set(ours) | set(theirs)):
            if key_id not in theirs:
                differences.append({"key_id": key_id, "problem": "missing"})
            elif key_id not in ours:
                differences.append({"key_id": key_id, "problem": "not in the log"})
            else:
                for name in _FIELDS:
                    if theirs[key_id].get(name) != ours[key_id].get(name):
                        differences.append({"key_id": key_id, "field": name, "published": theirs[key_id].get(name),
                                            "rebuilt": ours[key_id].get(name)})
        if published.get("directory_events") != rebuilt["directory_events"]:
            differences.append({"key_id": None, "field": "directory_events"})
    if not differences:
        return []
    named = ", ".join(sorted({d["key_id"] for d in differences if d.get("key_id")})) or "directory_events"
    return [Finding("integrity.keys-file", CRITICAL,
                    f"keys.json differs from the keys the log registers ({named}): trust the log, not the file",
                    f"keys.json 与日志中登记的密钥不符（{named}）：应以日志为准", (),
                    details={"differences": differences})]


def root_signed(directory: Directory | None, sealed: SignedEvent) -> bool:
    """Whether a current root key signed this directory event (the check ``advance_directory``
    makes before applying it), so a rule's finding is not given to an event that is simply forged."""
    if directory is None:
        return False
    record = directory.key(sealed.key_id)
    if record is None or record.revoked_at is not None:
        return False
    principal = directory.principals.get(record.principal)
    return principal is not None and principal.has("root") and sealed.signed_by(record.key)
