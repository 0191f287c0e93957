"""The tamper corpus: each way of rewriting history — modifying, deleting, inserting, reordering,
truncating, replaying an event into another stream — is detected by the offline audit and the
event named, on SQLite and PostgreSQL; a clean ledger passes and reproduces its published figures."""

from __future__ import annotations

import base64
import json

import pytest
from auditkit import audited, named, plant
from test_merkle_log import Raw, log_actor
from vocabulary import donate, hours, open_general, register_volunteer

from audits import bundle as bundles
from audits.verify import TrustError, audit
from ledger.envelope import open_sealed
from ledger.verify import check_log
from ledger.witness import Witness


@pytest.fixture
def scene(cast, database_url):
    """GEN holds donations at versions 2 and 3, OTHER one at version 2; a volunteer's hours; and a
    checkpoint over all of it."""
    from datetime import time

    ledger = cast.ledger
    log = log_actor(cast)
    open_general(cast, "GEN")
    open_general(cast, "OTHER")
    at = {"first": donate(cast, "GEN", 10_000).positions[0], "second": donate(cast, "GEN", 23_456).positions[0],
          "other": donate(cast, "OTHER", 5_000).positions[0]}
    register_volunteer(cast)
    at["hours"] = hours(cast, time(9), time(11)).positions[0]
    ledger.sign_checkpoint(log)
    return cast, Raw(ledger, database_url), at, log


def critical(result) -> set[str]:
    return {f.rule for f in result.integrity_failures}


def test_a_clean_ledger_passes_and_reproduces_every_published_figure(scene, tmp_path):
    cast, _, _, _ = scene
    result = audited(cast.ledger)
    assert result.ok, [f.one_line() for f in result.findings]
    assert result.events == cast.ledger.recorder.max_notification_id()
    assert result.reports_checked > 0 and result.reports_matched == result.reports_checked
    # the same through files: what is written is what is read back
    bundles.write(bundles.collect(cast.ledger), tmp_path / "b")
    again = audit(bundles.read(tmp_path / "b"), reference=cast.ledger.reference)
    assert again.ok and again.reports_matched == result.reports_matched and not bundles.read(tmp_path / "b").damaged_files


def test_a_changed_published_figure_is_named(scene, tmp_path):
    cast, _, _, _ = scene
    bundles.write(bundles.collect(cast.ledger), tmp_path / "b")
    figures = json.loads((tmp_path / "b" / bundles.FIGURES).read_text())
    district = next(r for r in figures["reports"] if r["street_town"] is None and r["income"]["total"])
    district["income"]["total"] += 100
    (tmp_path / "b" / bundles.FIGURES).write_text(json.dumps(figures, ensure_ascii=False))
    result = audit(bundles.read(tmp_path / "b"), reference=cast.ledger.reference)
    assert critical(result) == {"integrity.figures"}
    [finding] = [f for f in result.findings if f.rule == "integrity.figures"]
    assert [d["path"] for d in finding.details["differences"]] == ["income.total"]
    assert finding.details["differences"][0]["published"] == finding.details["differences"][0]["recomputed"] + 100


def test_modified_event_is_named(scene):
    cast, raw, at, _ = scene
    raw.edit(at["second"], b'"amount":23456', b'"amount":93456')
    bundle = bundles.collect(cast.ledger)  # the ledger's views refuse the event; the export goes on without them
    assert bundle.figures == [] and bundle.figures_error
    result = audit(bundle, reference=cast.ledger.reference)
    assert (at["second"], "fund:GEN", 3) in named(result, "integrity.modified")
    assert "integrity.rewritten" in critical(result)  # the checkpoint no longer matches either


def test_deleted_event_is_named_by_its_stream_and_version(scene):
    cast, raw, at, _ = scene
    raw.delete(at["first"])
    result = audited(cast.ledger, figures=False)
    assert (None, "fund:GEN", 2) in named(result, "integrity.deleted")
    assert "integrity.truncated" in critical(result)  # the checkpoint counted one more event


def test_inserted_event_is_named(scene):
    cast, raw, at, _ = scene
    ledger = cast.ledger
    opened = open_sealed(raw.state(ledger.tables.position_of("fund:GEN", 1)), stream="fund:GEN", version=1,
                         topic="Fund.Opened")
    planted = plant(ledger, "fund:GHOST", "Fund.Opened", dict(opened.payload, code="GHOST"), cast.accountant.key)
    t, p = raw.table, raw.pos
    # move the validly signed event from the end of the log to just after the first donation
    raw.run((f"UPDATE {t} SET {p} = -{p} WHERE {p} > ? AND {p} <> ?", (at["first"], planted)),
            (f"UPDATE {t} SET {p} = ? WHERE {p} = ?", (at["first"] + 1, planted)),
            (f"UPDATE {t} SET {p} = 1 - {p} WHERE {p} < 0", ()))
    result = audited(ledger, figures=False)
    assert named(result, "integrity.inserted") == [(at["first"] + 1, "fund:GHOST", 1)]
    assert critical(result) == {"integrity.inserted"}


def test_reordered_events_are_named(scene):
    cast, raw, at, _ = scene
    raw.swap(at["second"], at["other"])  # two streams: only the Merkle tree can tell
    result = audited(cast.ledger, figures=False)
    assert sorted(named(result, "integrity.reordered")) == [(at["second"], "fund:OTHER", 2), (at["other"], "fund:GEN", 3)]
    assert critical(result) == {"integrity.reordered"}


def test_reordered_versions_of_one_stream_are_named(scene):
    cast, raw, at, _ = scene
    raw.swap(at["first"], at["second"])
    result = audited(cast.ledger, figures=False)
    assert (at["second"], "fund:GEN", 2) in named(result, "integrity.reordered")


def test_truncated_log_is_named(scene):
    cast, raw, _at, _ = scene
    head = cast.ledger.recorder.max_notification_id()
    raw.delete(head)
    raw.delete(head - 1)
    result = audited(cast.ledger, figures=False)
    assert critical(result) == {"integrity.truncated"}
    [finding] = [f for f in result.findings if f.rule == "integrity.truncated"]
    assert finding.details["tree_size"] - finding.details["leaves"] == 2
    assert finding.events[0].position == head - 2  # the last event still there


def test_event_replayed_into_another_stream_is_named(scene):
    cast, raw, at, _ = scene
    raw.run((f"UPDATE {raw.table} SET originator_id = 'fund:OTHER' WHERE {raw.pos} = ?", (at["second"],)))
    result = audited(cast.ledger, figures=False)
    assert named(result, "integrity.replayed") == [(at["second"], "fund:OTHER", 3)]


def test_incremental_audit_checks_only_new_signatures_but_still_sees_the_old_history(scene):
    cast, raw, at, log = scene
    ledger = cast.ledger
    trusted = ledger.checkpoints.latest()
    for _ in range(3):
        donate(cast, "GEN", 700)
    ledger.sign_checkpoint(log)
    result = audited(ledger, figures=False, trusted=trusted.note)
    assert result.ok and result.trusted_size == trusted.checkpoint.size
    assert result.verified_signatures == 3
    # a change below the trusted checkpoint is not signature-checked again, yet it is found
    raw.edit(at["other"], b'"amount":5000', b'"amount":6000')
    again = audited(ledger, figures=False, trusted=trusted.note)
    assert not again.ok and again.trusted_size == 0
    assert any("trusted checkpoint" in f.message_en for f in again.integrity_failures)


def test_a_trusted_checkpoint_not_signed_by_the_log_key_is_refused(scene):
    cast, _, _, _ = scene
    note = cast.ledger.checkpoints.latest().note
    forged = note[:-10] + b"AAAAAAAAA\n"  # the log's signature, damaged
    with pytest.raises(TrustError):
        audited(cast.ledger, figures=False, trusted=forged)


def test_an_event_signed_by_a_key_revoked_earlier_is_named(scene):
    cast, raw, at, _ = scene
    ledger = cast.ledger
    ledger.revoke_key(cast.root, cast.accountant.key.key_id, reason="密钥泄露")
    opened = open_sealed(raw.state(at["first"]), stream="fund:GEN", version=2, topic="Fund.DonationReceived")
    position = plant(ledger, "fund:GEN", "Fund.DonationReceived", dict(opened.payload, entry="late"),
                     cast.accountant.key, timestamp=opened.timestamp)
    result = audited(ledger, figures=False)
    assert named(result, "integrity.unauthorised-key") == [(position, "fund:GEN", 4)]


def test_signatures_checked_in_worker_processes_agree_with_one_process(scene):
    cast, raw, at, _ = scene
    raw.edit(at["second"], b'"amount":23456', b'"amount":93456')
    one = audited(cast.ledger, workers=1)
    two = audited(cast.ledger, workers=2)  # the views and rules run while the workers check: then again without it
    assert [f.as_json() for f in one.findings] == [f.as_json() for f in two.findings]
    assert ("integrity.modified", at["second"]) in {(f.rule, f.events[0].position) for f in two.findings if f.events}
    assert two.replay.entries and all(e.position != at["second"] for e in two.replay.entries)


def test_the_audit_flags_the_same_events_as_the_ledgers_own_log_check(scene):
    cast, raw, at, _ = scene
    ledger = cast.ledger
    raw.edit(at["first"], b'"amount":10000', b'"amount":10001')
    raw.run((f"UPDATE {raw.table} SET originator_id = 'fund:ELSEWHERE' WHERE {raw.pos} = ?", (at["other"],)))
    ledger.revoke_key(cast.root, cast.recorder.key.key_id, reason="离职")
    late = plant(ledger, "volunteer:V001", "Volunteer.ServiceRecorded",
                 dict(open_sealed(raw.state(at["hours"]), stream="volunteer:V001", version=2,
                                  topic="Volunteer.ServiceRecorded").payload, record="late"), cast.recorder.key)
    flagged = {c.position for c in check_log(ledger.log_positions()) if not c.ok}
    assert flagged == {at["first"], at["other"], late}
    result = audited(ledger, figures=False)
    event_rules = ("integrity.modified", "integrity.replayed", "integrity.unauthorised-key")
    assert {e.position for f in result.findings if f.rule in event_rules for e in f.events} == flagged


def test_witness_cosignatures_are_checked_and_a_forged_one_is_named(scene, tmp_path):
    cast, _, _, log = scene
    ledger = cast.ledger
    vkey = Witness.create(tmp_path / "witness", "mca.example")
    latest = ledger.checkpoints.latest()
    checkpoint, line = Witness(tmp_path / "witness", "mca.example").cosign(latest.note, log.key.verifier,
                                                                          ledger.merkle.consistency_proof)
    ledger.checkpoints.add_cosignature(checkpoint, vkey, line)
    result = audited(ledger, figures=False, witnesses=[vkey])
    assert result.ok and result.witnessed == {checkpoint.size: [vkey.key_id]}
    assert audited(ledger, figures=False).witnessed == {checkpoint.size: []}  # not trusted: not counted
    bundle = bundles.collect(ledger, figures=False)
    size, note = bundle.checkpoints[-1]
    name, blob = line.rstrip("\n").split(" ")[1:]
    raw = bytearray(base64.b64decode(blob))
    raw[-1] ^= 0x01  # one bit of the witness's signature
    forged = note[: -len(line.encode())] + f"— {name} {base64.b64encode(bytes(raw)).decode()}\n".encode()
    bundle.checkpoints[-1] = (size, forged)
    broken = audit(bundle, reference=ledger.reference, witnesses=[vkey])
    assert [f.details.get("witness") for f in broken.integrity_failures] == [vkey.key_id], [f.one_line() for f in broken.integrity_failures]


def test_a_tampered_directory_is_exported_and_its_event_named(scene):
    cast, raw, _, _ = scene
    ledger = cast.ledger
    row = next(n for n in ledger.log_positions()
               if n.originator_id == "directory" and b'"handle":"acct"' in bytes(n.state))
    raw.edit(row.id, b'"roles":["accountant"]', b'"roles":["accountant","root"]')
    result = audited(ledger)  # neither the ledger's directory nor its views accept this log
    assert (row.id, "directory", row.originator_version) in named(result, "integrity.modified")
    assert not result.ok
