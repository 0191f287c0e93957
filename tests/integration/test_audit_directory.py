"""The directory's own rules in the offline audit, on SQLite and PostgreSQL: events signed for real
by the root key, written behind the application's back, that the directory would never have
accepted — a key named after someone else, a rotation of another principal's key, a revocation of
a key that was never registered — and a bundle whose keys.json hides a revocation, each named by
its own finding."""

from __future__ import annotations

import json

import pytest
from auditkit import audited, named, plant

from audits import bundle as bundles
from audits.verify import audit
from ledger.signing import SigningKey


@pytest.fixture
def ledger(cast):
    return cast.ledger


def _rules(result) -> set[str]:
    return {f.rule for f in result.integrity_failures}


def test_the_clean_directory_raises_none_of_these_findings(cast, ledger, tmp_path):
    ledger.rotate_key(cast.root, "acct", SigningKey.generate("acct").verifier)
    ledger.revoke_key(cast.root, cast.approver.key.key_id, "lost")
    result = audited(ledger)
    assert result.ok, [f.one_line() for f in result.findings]
    bundles.write(bundles.collect(ledger), tmp_path / "b")
    assert audit(bundles.read(tmp_path / "b"), reference=ledger.reference).ok


def test_a_new_key_named_after_another_principal_is_named(cast, ledger):
    impostor = SigningKey.generate("appr")  # the approver's name, added to the accountant
    position = plant(ledger, "directory", "Directory.KeyAdded", {"principal": "acct", "key": impostor.verifier.vkey},
                     cast.root.key)
    result = audited(ledger, figures=False)
    assert (position, "directory", position and _version(ledger, position)) in named(result, "integrity.key-name")
    [finding] = [f for f in result.findings if f.rule == "integrity.key-name"]
    assert "appr" in finding.message_en and "acct" in finding.message_en and "密钥" in finding.message_zh


def test_a_rotation_of_another_principals_key_is_named(cast, ledger):
    new = SigningKey.generate("acct")
    position = plant(ledger, "directory", "Directory.KeyRotated",
                     {"principal": "acct", "old_key_id": cast.approver.key.key_id, "key": new.verifier.vkey},
                     cast.root.key)
    result = audited(ledger, figures=False)
    assert (position, "directory", _version(ledger, position)) in named(result, "integrity.rotation-owner")
    # the rotation is not applied: the approver's key still counts
    assert ledger_key_span(result, cast.approver.key.key_id).revoked_at is None


def test_a_revocation_of_a_key_never_registered_is_named_not_a_python_error(cast, ledger):
    ghost = SigningKey.generate("acct").key_id
    position = plant(ledger, "directory", "Directory.KeyRevoked", {"key_id": ghost, "reason": "x"}, cast.root.key)
    result = audited(ledger, figures=False)
    assert (position, "directory", _version(ledger, position)) in named(result, "integrity.unknown-key")
    assert not any("KeyError" in f.message_en or "cannot be applied" in f.message_en for f in result.findings)


def test_a_keys_file_that_hides_a_revocation_is_named(cast, ledger, tmp_path):
    ledger.revoke_key(cast.root, cast.approver.key.key_id, "stolen")
    bundles.write(bundles.collect(ledger), tmp_path / "b")
    path = tmp_path / "b" / bundles.KEYS
    keys = json.loads(path.read_text())
    [span] = [k for k in keys["keys"] if k["key_id"] == cast.approver.key.key_id]
    span["revoked_at"], span["reason"] = None, None
    path.write_text(json.dumps(keys, ensure_ascii=False))
    result = audit(bundles.read(tmp_path / "b"), reference=ledger.reference)
    assert "integrity.keys-file" in _rules(result)
    [finding] = [f for f in result.findings if f.rule == "integrity.keys-file"]
    assert cast.approver.key.key_id in finding.message_en and "revoked_at" in json.dumps(finding.details)
    assert "keys.json" in finding.message_zh


def _version(ledger, position: int) -> int:
    [n] = ledger.recorder.select_notifications(start=position, limit=1)
    return n.originator_version


def ledger_key_span(result, key_id: str):
    return result.replay.keys[key_id]
