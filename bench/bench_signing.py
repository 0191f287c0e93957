"""Ed25519 sign and verify throughput: `cryptography` (what ledger/signing.py uses) against PyNaCl
(libsodium), on the ledger's real message shape — the signed text of a Fund.DonationReceived event
(about 530 bytes of canonical JSON) — and what the ledger's envelope costs around the bare crypto:

* write path: ``ledger.envelope.seal`` (canonical JSON + sign + note) against a bare sign;
* read path:  ``ledger.envelope.open_sealed`` + ``SignedEvent.signed_by`` against a bare verify,
  with the envelope's parts timed alone (parse_note, json.loads, the RFC 8785 re-encoding that
  checks the text is canonical) and the whole ``SigningMapper.to_domain_event``.

Every contender runs in every repeat, in a rotated order, so each repeat's ratios compare
neighbours in time on this noisy machine; tables give medians over the repeats.

    .venv/bin/python bench/bench_signing.py            # make bench runs this
    .venv/bin/python bench/bench_signing.py --quick    # fewer operations, for a smoke run
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchlib import DONATION, TOWN, describe, found_ledger, machine, median, print_table, spread, write_results
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from eventsourcing.domain import CanMutateProtocol

from ledger.envelope import open_sealed, seal
from ledger.signing import canonical_json, parse_note

try:
    import nacl.signing

    NACL_PROBLEM = None
except ImportError as exc:  # the optional extra `bench`; `make bench` installs it
    NACL_PROBLEM = (f"PyNaCl is not installed ({exc}); its rows are skipped. "
                    "`.venv/bin/pip install -e '.[bench]'` (make bench does)")

QUICK = "--quick" in sys.argv
REPEATS = 3 if QUICK else 5
OPS = 300 if QUICK else 2000
"""Operations per contender per repeat."""


def real_event(data_dir: Path):
    """A real stored Fund.DonationReceived: recorded through a founded ledger on a scratch SQLite
    file and read back from its store, with the ledger's own mapper (key lookup and all)."""
    cast = found_ledger(f"sqlite:///{data_dir / 'ledger.sqlite3'}", data_dir)
    ledger = cast.ledger
    ledger.open_fund(cast.accountant, "XX-SF", "仙霞新村街道社区专项基金", "CNCF", kind="special", restricted=True,
                     purpose="养老服务", street_town=TOWN,
                     agreement={"ref": "XX-SF-2025", "use": "养老服务项目", "termination": "协议期满",
                                "leftover": "用于相近目的"})
    recorded = ledger.record_donation(cast.accountant, "XX-SF", 120050, **DONATION)
    stored = ledger.recorder.select_notifications(start=recorded.positions[0], limit=1)[0]
    return cast.accountant.key, ledger, stored


def main() -> int:
    info = machine(postgres=False)
    print(f"bench_signing: {describe(info)}")
    if NACL_PROBLEM:
        print(f"NOTE: {NACL_PROBLEM}")

    with tempfile.TemporaryDirectory(prefix="wushe-bench-") as scratch:
        key, ledger, stored = real_event(Path(scratch))
        try:
            return run(info, key, ledger, stored)
        finally:
            ledger.close()


def run(info: dict, key, ledger, stored) -> int:
    mapper = ledger.mapper
    note = parse_note(stored.state)
    message, signature = note.text, note.signatures[0].signature
    stream, version, topic = str(stored.originator_id), stored.originator_version, stored.topic
    body = json.loads(message)
    verifier = key.verifier
    print(f"message: {len(message)} bytes of canonical JSON ({topic}); stored note {len(stored.state)} bytes")

    c_private = Ed25519PrivateKey.from_private_bytes(key.seed)
    c_public = c_private.public_key()

    # Sanity (untimed): the two libraries are interchangeable on these bytes.
    assert c_public.verify(signature, message) is None
    checks: dict[str, bool] = {}
    if not NACL_PROBLEM:
        n_signing = nacl.signing.SigningKey(key.seed)
        n_verify = n_signing.verify_key
        checks["same_public_key"] = bytes(n_verify) == verifier.public_key
        checks["same_signature_bytes"] = n_signing.sign(message).signature == signature  # Ed25519 is deterministic
        checks["pynacl_verifies_ledger_signature"] = n_verify.verify(message, signature) == message
        assert all(checks.values()), checks
    sealed = open_sealed(stored.state, stream=stream, version=version, topic=topic)
    assert sealed.signed_by(verifier)

    domain_event = mapper.to_domain_event(stored)
    timestamp = sealed.timestamp
    payload = sealed.payload
    assert seal(stream=stream, version=version, type_name=topic, timestamp=timestamp, payload=payload,
                key=key) == bytes(stored.state)  # seal() reproduces the stored bytes exactly

    def read_path():
        sealed = open_sealed(stored.state, stream=stream, version=version, topic=topic)
        if not sealed.signed_by(verifier):
            raise AssertionError("does not verify")

    contenders: dict[str, tuple[str, callable]] = {
        # name: (group, one operation)
        "cryptography sign": ("sign", lambda: c_private.sign(message)),
        "cryptography verify": ("verify", lambda: c_public.verify(signature, message)),
        "ledger seal (canonical JSON + sign + note)": ("ledger", lambda: seal(
            stream=stream, version=version, type_name=topic, timestamp=timestamp, payload=payload, key=key)),
        "ledger open_sealed + signed_by": ("ledger", read_path),
        "  open_sealed alone": ("part", lambda: open_sealed(stored.state, stream=stream, version=version, topic=topic)),
        "    parse_note": ("part", lambda: parse_note(stored.state)),
        "    json.loads": ("part", lambda: json.loads(message)),
        "    canonical_json re-encode (RFC 8785)": ("part", lambda: canonical_json(body)),
        "ledger SigningMapper.to_domain_event": ("ledger", lambda: mapper.to_domain_event(stored)),
        # eventsourcing's project_aggregate asserts this for every replayed event (unless python -O).
        "eventsourcing replay assert (runtime Protocol isinstance)": (
            "replay", lambda: isinstance(domain_event, CanMutateProtocol)),
    }
    if not NACL_PROBLEM:
        contenders["pynacl sign"] = ("sign", lambda: n_signing.sign(message))
        contenders["pynacl verify"] = ("verify", lambda: n_verify.verify(message, signature))

    names = list(contenders)
    seconds: dict[str, list[float]] = {name: [] for name in names}
    for repeat in range(REPEATS):
        order = names[repeat % len(names):] + names[: repeat % len(names)]
        for name in order:
            op = contenders[name][1]
            op()  # warm
            start = time.perf_counter()
            for _ in range(OPS):
                op()
            seconds[name].append(time.perf_counter() - start)

    def ops_per_s(name: str) -> list[float]:
        return [OPS / s for s in seconds[name]]

    def per_repeat_ratio(a: str, b: str) -> list[float]:
        """ops/s of a ÷ ops/s of b, repeat by repeat (same repeat = neighbours in time)."""
        return [sb / sa for sa, sb in zip(seconds[a], seconds[b])]

    results: dict[str, dict] = {}
    for name in names:
        rates = ops_per_s(name)
        results[name.strip()] = {
            "group": contenders[name][0],
            "ops_per_s_median": median(rates),
            "ops_per_s_min_max": spread(rates),
            "us_per_op_median": 1e6 * median(seconds[name]) / OPS,
            "ops_per_s_each_repeat": rates,
        }

    ratios: dict[str, float] = {}
    if not NACL_PROBLEM:
        ratios["pynacl/cryptography sign"] = median(per_repeat_ratio("pynacl sign", "cryptography sign"))
        ratios["pynacl/cryptography verify"] = median(per_repeat_ratio("pynacl verify", "cryptography verify"))
    ratios["open_sealed+signed_by / bare verify"] = median(
        per_repeat_ratio("ledger open_sealed + signed_by", "cryptography verify"))
    ratios["to_domain_event / bare verify"] = median(
        per_repeat_ratio("ledger SigningMapper.to_domain_event", "cryptography verify"))
    ratios["seal / bare sign"] = median(
        per_repeat_ratio("ledger seal (canonical JSON + sign + note)", "cryptography sign"))
    # Share of the read path's time spent in each part (per repeat, then median).
    read_s = seconds["ledger open_sealed + signed_by"]
    shares = {
        "bare verify": median([v / r for v, r in zip(seconds["cryptography verify"], read_s)]),
        "canonical re-encode": median([v / r for v, r in zip(seconds["    canonical_json re-encode (RFC 8785)"], read_s)]),
        "parse_note + json.loads": median([
            (p + j) / r for p, j, r in zip(seconds["    parse_note"], seconds["    json.loads"], read_s)]),
    }
    projected = None
    if not NACL_PROBLEM:
        # If signed_by used libsodium: read path - cryptography verify + PyNaCl verify, per repeat.
        projected = median([
            r / (r - c + n)
            for r, c, n in zip(read_s, seconds["cryptography verify"], seconds["pynacl verify"])
        ])
        ratios["projected read-path speed-up with PyNaCl verify"] = projected

    rows = []
    for name in names:
        r = results[name.strip()]
        lo, hi = r["ops_per_s_min_max"]
        rows.append([name, r["ops_per_s_median"], r["us_per_op_median"], f"{lo:,.0f}–{hi:,.0f}"])
    print_table(f"Ed25519 and the ledger envelope, {len(message)}-byte message, median of {REPEATS} × {OPS} ops",
                ["operation", "ops/s", "µs/op", "ops/s min–max"], rows)
    print_table("ratios (median of per-repeat ratios; >1 means the first is faster)",
                ["ratio", "value"], [[k, v] for k, v in ratios.items()])
    print_table("share of open_sealed + signed_by time", ["part", "share"], [[k, v] for k, v in shares.items()])

    write_results("bench_signing", {
        "benchmark": "bench_signing",
        "machine": info,
        "message_bytes": len(message),
        "stored_note_bytes": len(stored.state),
        "repeats": REPEATS,
        "ops_per_repeat": OPS,
        "pynacl": NACL_PROBLEM or "installed",
        "sanity_checks": checks,
        "results": results,
        "ratios": ratios,
        "read_path_shares": shares,
    })
    return 0


if __name__ == "__main__":
    sys.exit(main())
