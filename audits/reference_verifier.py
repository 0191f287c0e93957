#!/usr/bin/env python3
"""A standalone check of a Wushe Ledger audit bundle, written from docs/signing.md and
docs/verification.md alone: every event's bytes and signature under the key in force at its log
position, the Merkle tree, and every checkpoint's log signature and root. Standard library plus
`cryptography`; it imports nothing from the ledger. Usage: reference_verifier.py BUNDLE_DIR [LOG_VKEY]
Exit 0 when everything verifies, 1 otherwise (each problem on its own line)."""

import base64
import hashlib
import json
import sys
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

DASH = "\u2014 "


def sha256(data):
    return hashlib.sha256(data).digest()


def parse_vkey(text):
    """<name>+<hex key hash>+base64(type || 32-byte key) -> (name, key hash, type, public key)."""
    name, hash_hex, blob = text.strip().split("+", 2)
    raw = base64.b64decode(blob, validate=True)
    if len(raw) != 33 or sha256(name.encode() + b"\n" + raw).hex()[:8] != hash_hex:
        raise ValueError(f"bad verifier key {name}")
    return name, bytes.fromhex(hash_hex), raw[0], raw[1:]


def verify(public, signature, message):
    try:
        Ed25519PublicKey.from_public_bytes(public).verify(signature, message)
        return True
    except InvalidSignature:
        return False


def open_note(data):
    """Split a signed note into its text and (name, raw signature bytes) lines."""
    cut = data.rfind(b"\n\n")
    if cut < 0 or not data.endswith(b"\n"):
        raise ValueError("not a signed note")
    lines = data[cut + 2 :].decode().split("\n")[:-1]
    if not lines or not all(line.startswith(DASH) for line in lines):
        raise ValueError("malformed signature lines")
    return data[: cut + 1], [(n, base64.b64decode(b, validate=True)) for n, b in
                             (line[len(DASH) :].split(" ") for line in lines)]


def canonical(value):
    """RFC 8785 for the JSON this ledger signs: objects, arrays, strings, integers (no floats)."""
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()


def tree_root(hashes):
    """RFC 9162 MTH over leaf hashes."""
    if not hashes:
        return sha256(b"")
    if len(hashes) == 1:
        return hashes[0]
    k = 1 << ((len(hashes) - 1).bit_length() - 1)
    return sha256(b"\x01" + tree_root(hashes[:k]) + tree_root(hashes[k:]))


class Keys:
    """Keys in force, replayed from the directory stream (docs/signing.md §3)."""

    def __init__(self):
        self.keys, self.roles, self.origin = {}, {}, None

    def add(self, vkey, principal):
        name, khash, _, public = parse_vkey(vkey)
        self.keys[f"{name}+{khash.hex()}"] = {"principal": principal, "public": public, "live": True}

    def apply(self, kind, payload):
        if kind == "Directory.Founded":
            self.origin = payload["ledger_name"]
            self.roles[payload["root_handle"]] = ["root"]
            self.add(payload["root_key"], payload["root_handle"])
        elif kind == "Directory.PrincipalRegistered":
            self.roles[payload["handle"]] = payload["roles"]
        elif kind in ("Directory.KeyRotated", "Directory.KeyRevoked"):
            self.keys.get(payload.get("old_key_id") or payload.get("key_id"), {})["live"] = False
        if kind in ("Directory.KeyAdded", "Directory.KeyRotated"):
            self.add(payload["key"], payload["principal"])


def check_event(record, keys, problems):
    """One events.jsonl record: note, canonical JSON, row columns, signing key, signature."""
    where = f"#{record['position']} {record['stream']} v{record['version']}"
    try:
        text, signatures = open_note(base64.b64decode(record["state"], validate=True))
        body = json.loads(text)
    except ValueError as exc:
        return problems.append(f"{where}: unreadable: {exc}")
    if len(signatures) != 1 or canonical(body) + b"\n" != text or set(body) != {
            "payload", "stream", "timestamp", "type", "version"}:
        return problems.append(f"{where}: not one canonical signed event")
    if (body["stream"], body["version"], body["type"]) != (record["stream"], record["version"], record["type"]):
        return problems.append(f"{where}: signed as {body['stream']} v{body['version']} {body['type']}")
    name, raw = signatures[0]
    key_id = f"{name}+{raw[:4].hex()}"
    if body["type"] == "Directory.Founded" and keys.origin is None:
        keys.apply(body["type"], body["payload"])
    key = keys.keys.get(key_id)
    if key is None or not key["live"] or key["principal"] != name:
        return problems.append(f"{where}: signed by {key_id}, not a key in force here")
    if record["stream"] == "directory" and "root" not in keys.roles.get(name, []):
        return problems.append(f"{where}: directory event not signed by a root key")
    if not verify(key["public"], raw[4:], text):
        return problems.append(f"{where}: signature does not verify")
    if record["stream"] == "directory" and body["type"] != "Directory.Founded":
        keys.apply(body["type"], body["payload"])


def check_checkpoint(record, leaves, log_keys, problems):
    size = record["tree_size"]
    try:
        text, signatures = open_note(record["note"].encode())
        origin, size_text, root_b64 = text.decode().split("\n")[:3]
    except ValueError as exc:
        return problems.append(f"checkpoint {size}: unreadable: {exc}")
    signed = any(n == origin and raw[:4] == khash and verify(public, raw[4:], text)
                 for n, raw in signatures for khash, public in log_keys)
    if not signed or int(size_text) != size:
        return problems.append(f"checkpoint {size}: not signed by the log key")
    if size > len(leaves):
        return problems.append(f"checkpoint {size}: the log has only {len(leaves)} events (truncated)")
    if tree_root(leaves[:size]) != base64.b64decode(root_b64):
        problems.append(f"checkpoint {size}: root hash does not match the events")


def main(argv):
    if len(argv) not in (2, 3):
        sys.exit(__doc__)
    bundle = Path(argv[1])
    records = [json.loads(line) for line in (bundle / "events.jsonl").read_text().splitlines() if line]
    keys, problems, leaves = Keys(), [], []
    for i, record in enumerate(records):
        if record["leaf_index"] != i:
            problems.append(f"#{record['position']}: leaf index {record['leaf_index']}, expected {i}")
        if i and record["position"] <= records[i - 1]["position"]:
            problems.append(f"#{record['position']}: log positions do not rise")
        check_event(record, keys, problems)
        leaves.append(sha256(b"\x00" + base64.b64decode(record["state"])))
    if len(argv) == 3:
        _, khash, _, public = parse_vkey(argv[2])
        log_keys = [(khash, public)]
    else:
        log_keys = [(bytes.fromhex(k.split("+")[1]), v["public"]) for k, v in keys.keys.items()
                    if v["principal"] == keys.origin]
    checkpoints = [json.loads(line) for line in (bundle / "checkpoints.jsonl").read_text().splitlines() if line]
    for record in checkpoints:
        check_checkpoint(record, leaves, log_keys, problems)
    for problem in problems:
        print(problem)
    print(f"{'FAILED' if problems else 'OK'}: {len(records)} events, {len(checkpoints)} checkpoints")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
