"""Receipts (捐赠收据) and volunteer certificates (志愿服务记录证明), on SQLite and PostgreSQL: they
verify offline with nothing but the log's verifier key, and every kind of forgery or damage is
refused with a ReceiptError that says what is wrong."""

from __future__ import annotations

import base64
import copy
import hashlib
import json
from datetime import date, time

import pytest

from ledger.application import Actor
from ledger.checkpoints import Checkpoint, CheckpointError, sign_checkpoint
from ledger.errors import InvalidInput, NotFound
from ledger.receipts import FORMAT, ReceiptError, issue_receipt, verify_receipt
from ledger.signing import SigningKey, VerifierKey, parse_note
from ledger.witness import Witness

TOWN = "xianxiaxincun"


class Scene:
    """A log principal, a donation and a volunteer's service session, and their receipts as JSON text."""

    def __init__(self, cast):
        self.ledger = ledger = cast.ledger
        key = SigningKey.generate(ledger.origin)
        ledger.register_principal(cast.root, ledger.origin, "账本日志", ["log"], key=key.verifier)
        self.log = Actor(ledger.origin, key)
        self.log_vkey = key.verifier.vkey  # all a verifier needs: a string
        ledger.open_fund(cast.accountant, "GEN", "综合基金", "CNCF", street_town=TOWN)
        self.donation = ledger.record_donation(cast.accountant, "GEN", 123_456, donor_type="resident",
                                               donor_name="张小明").positions[0]
        ledger.register_volunteer(cast.recorder, "V001", "李四", TOWN, registered_on=date(2026, 1, 5))
        ledger.register_volunteer(cast.recorder, "V002", "王五", TOWN, registered_on=date(2026, 1, 6))
        self.service = ledger.record_hours(cast.recorder, "V001", organisation="LELING", domain="elderly_care",
                                           on=date(2026, 3, 1), start=time(9, 0), end=time(11, 30),
                                           content="陪伴独居老人").positions[0]
        self.receipt = json.dumps(issue_receipt(ledger, self.donation, self.log), ensure_ascii=False)
        self.certificate = json.dumps(issue_receipt(ledger, self.service, self.log), ensure_ascii=False)
        self.accountant_key, self.recorder_key = cast.accountant.key, cast.recorder.key
        self.approver_vkey = cast.approver.key.verifier.vkey

    def stored_bytes(self, position: int) -> bytes:
        stored, _ = self.ledger.read_position(position)
        return bytes(stored.state)

    def honest_entry(self, role: str, position: int, size: int) -> dict:
        """An entry with a valid inclusion proof, for any event of the log."""
        stored, _ = self.ledger.read_position(position)
        leaf = self.ledger.merkle.leaf_index_of(position)
        return {"role": role, "leaf_index": leaf, "stream": str(stored.originator_id),
                "version": stored.originator_version, "type": stored.topic,
                "event": base64.b64encode(bytes(stored.state)).decode(),
                "inclusion_proof": [base64.b64encode(h).decode()
                                    for h in self.ledger.merkle.inclusion_proof(leaf, size)]}

    def position_where(self, predicate) -> int:
        for n in self.ledger.recorder.select_notifications(start=1, limit=10_000):
            body = json.loads(parse_note(bytes(n.state)).text)
            if predicate(n.topic, body["stream"], body["payload"]):
                return n.id
        raise AssertionError("no such event")


@pytest.fixture
def scene(cast) -> Scene:
    return Scene(cast)


def _verify(text: str | bytes | dict, vkey: str, witnesses=()):
    return verify_receipt(text, VerifierKey.from_vkey(vkey), witnesses)


def _edited(text: str, change) -> str:
    doc = json.loads(text)
    change(doc)
    return json.dumps(doc, ensure_ascii=False)


def _entry(doc: dict, role: str) -> dict:
    [entry] = [e for e in doc["entries"] if e["role"] == role]
    return entry


def _rebyte(entry: dict, old: bytes, new: bytes) -> None:
    data = base64.b64decode(entry["event"])
    assert old in data
    entry["event"] = base64.b64encode(data.replace(old, new, 1)).decode()


# --- what verifies ---------------------------------------------------------------------------------


def test_a_donation_receipt_verifies_offline_with_the_log_key_alone(scene):
    doc = json.loads(scene.receipt)
    assert doc["format"] == FORMAT == "wushe-receipt/v1" and doc["kind"] == "donation"
    assert [e["role"] for e in doc["entries"]] == ["record", "signer-key"]
    assert base64.b64decode(_entry(doc, "record")["event"]) == scene.stored_bytes(scene.donation)
    verified = _verify(scene.receipt, scene.log_vkey)  # a JSON string and a key string: no ledger
    assert verified.kind == "donation" and verified.origin == scene.ledger.origin
    assert doc["position"] == scene.donation
    assert verified.leaf_index == doc["leaf_index"] == scene.ledger.merkle.leaf_index_of(scene.donation)
    assert verified.checkpoint.size == doc["tree_size"] > doc["leaf_index"]
    assert verified.record.type_name == "Fund.DonationReceived" and verified.record.stream == "fund:GEN"
    assert verified.record.payload["amount"] == 123_456 and verified.record.payload["donor_name"] == "张小明"
    assert verified.signer == scene.accountant_key.key_id
    assert verified.volunteer is None and verified.cosigners == []
    assert _verify(scene.receipt.encode(), scene.log_vkey).record == verified.record  # bytes too


def test_a_volunteer_certificate_carries_and_verifies_the_volunteers_registration(scene):
    doc = json.loads(scene.certificate)
    assert doc["kind"] == "volunteer-service"
    assert [e["role"] for e in doc["entries"]] == ["record", "signer-key", "volunteer"]
    verified = _verify(scene.certificate, scene.log_vkey)
    assert verified.kind == "volunteer-service"
    assert verified.leaf_index == scene.ledger.merkle.leaf_index_of(scene.service)
    assert verified.signer == scene.recorder_key.key_id
    assert verified.volunteer["number"] == "V001" and verified.volunteer["name"] == "李四"
    assert verified.record.stream == "volunteer:V001"
    assert verified.record.payload["content"] == "陪伴独居老人"


def test_a_receipt_stays_valid_as_the_log_grows_and_a_new_one_uses_the_newer_checkpoint(scene, cast):
    old = json.loads(scene.receipt)
    cast.ledger.record_donation(cast.accountant, "GEN", 500, donor_type="business")
    newer = scene.ledger.sign_checkpoint(scene.log)
    assert newer.checkpoint.size > old["tree_size"]
    assert _verify(scene.receipt, scene.log_vkey).checkpoint.size == old["tree_size"]
    fresh = issue_receipt(scene.ledger, scene.donation, None)  # covered: no log key needed
    assert fresh["tree_size"] == newer.checkpoint.size and fresh["leaf_index"] == old["leaf_index"]
    assert _verify(fresh, scene.log_vkey).checkpoint == newer.checkpoint


def test_a_witnessed_checkpoint_names_its_cosigner(scene, tmp_path):
    vkey = Witness.create(tmp_path, "mca.example")
    latest = scene.ledger.checkpoints.latest()
    cp, line = Witness(tmp_path, "mca.example").cosign(latest.note, scene.log.key.verifier,
                                                       scene.ledger.merkle.consistency_proof)
    scene.ledger.checkpoints.add_cosignature(cp, vkey, line)
    receipt = issue_receipt(scene.ledger, scene.service, None)
    trusted = _verify(receipt, scene.log_vkey, [vkey])
    assert trusted.cosigners == [vkey.key_id] and trusted.unchecked_signatures == 0
    # without the witness's key the line is counted but not vouched for
    untrusted = _verify(receipt, scene.log_vkey)
    assert untrusted.cosigners == [] and untrusted.unchecked_signatures == 1


def test_a_cosignature_that_does_not_verify_is_not_kept(scene, tmp_path):
    Witness.create(tmp_path, "mca.example")
    other = Witness.create(tmp_path, "mca.other")
    latest = scene.ledger.checkpoints.latest()
    cp, line = Witness(tmp_path, "mca.example").cosign(latest.note, scene.log.key.verifier,
                                                       scene.ledger.merkle.consistency_proof)
    with pytest.raises(CheckpointError, match="does not verify"):
        scene.ledger.checkpoints.add_cosignature(cp, other, line)
    assert scene.ledger.checkpoints.latest().cosigners == ()


def test_receipts_for_positions_that_do_not_exist_fail_cleanly(scene):
    sizes = scene.ledger.checkpoints.sizes()
    with pytest.raises(NotFound) as missing:
        issue_receipt(scene.ledger, 10**6, scene.log)
    assert missing.value.field == "position"
    with pytest.raises(InvalidInput):
        issue_receipt(scene.ledger, 0, scene.log)
    assert scene.ledger.checkpoints.sizes() == sizes  # nothing signed on the way


def test_without_a_covering_checkpoint_and_no_log_key_there_is_no_receipt(scene, cast):
    position = cast.ledger.record_donation(cast.accountant, "GEN", 700, donor_type="resident").positions[0]
    with pytest.raises(ReceiptError, match="no checkpoint covers"):
        issue_receipt(scene.ledger, position, None)
    verified = _verify(issue_receipt(scene.ledger, position, scene.log), scene.log_vkey)
    assert verified.leaf_index == scene.ledger.merkle.leaf_index_of(position)


# --- what does not ---------------------------------------------------------------------------------


def test_damaged_or_forged_receipts_are_refused_naming_the_problem(scene):
    other_log = SigningKey.generate("other.example/log")
    impostor = SigningKey.generate(scene.ledger.origin)  # the log's name, another key
    doc = json.loads(scene.receipt)
    cp_text = parse_note(doc["checkpoint"].encode()).text
    size = doc["tree_size"]
    root = base64.b64decode(cp_text.split(b"\n")[2])
    fund_opened = scene.position_where(lambda topic, stream, payload: topic == "Fund.Opened")
    approver_key = scene.position_where(lambda topic, stream, payload: payload.get("key") == scene.approver_vkey)
    zero = base64.b64encode(bytes(32)).decode()

    def swap_events(d):
        record, signer = _entry(d, "record"), _entry(d, "signer-key")
        record["event"], signer["event"] = signer["event"], record["event"]

    def swap_roles(d):
        record, signer = _entry(d, "record"), _entry(d, "signer-key")
        record["role"], signer["role"] = "signer-key", "record"

    cases = {
        "changed byte in the event": (
            lambda d: _rebyte(_entry(d, "record"), b'"amount":123456', b'"amount":923456'),
            "the record event is not in the log at leaf"),
        "changed byte in the signer's key event": (
            lambda d: _rebyte(_entry(d, "signer-key"), b'"principal":"acct"', b'"principal":"acca"'),
            "the signer-key event is not in the log"),
        "changed proof hash": (
            lambda d: _entry(d, "record")["inclusion_proof"].__setitem__(0, zero),
            "the record event is not in the log"),
        "proof hash dropped": (lambda d: _entry(d, "record")["inclusion_proof"].pop(),
                               "the record event is not in the log"),
        "entry moved to another leaf": (lambda d: _entry(d, "record").__setitem__("leaf_index", d["leaf_index"] + 1),
                                        "the record event is not in the log"),
        "entry names another version": (lambda d: _entry(d, "record").__setitem__("version", 99),
                                        "the record event is malformed"),
        "receipt names another leaf": (lambda d: d.__setitem__("leaf_index", d["leaf_index"] - 1),
                                       "record's leaf index differs"),
        "tree size differs from the checkpoint": (lambda d: d.__setitem__("tree_size", size + 1),
                                                  "origin or tree size differs"),
        "checkpoint of another origin": (
            lambda d: d.__setitem__("checkpoint",
                                    sign_checkpoint(Checkpoint("other.example/log", size, root), other_log).decode()),
            "checkpoint: checkpoint of 'other.example/log'"),
        "checkpoint re-signed over another root": (
            lambda d: d.__setitem__("checkpoint", sign_checkpoint(
                Checkpoint(scene.ledger.origin, size, hashlib.sha256(b"x").digest()), impostor).decode()),
            "checkpoint: the checkpoint carries no signature"),
        "checkpoint size edited": (
            lambda d: d.__setitem__("checkpoint", d["checkpoint"].replace(f"\n{size}\n", f"\n{size + 1}\n", 1)),
            "does not verify"),
        "swapped entries' events": (swap_events, "not in the log at leaf"),
        "swapped roles": (swap_roles, "record's leaf index differs"),
        "signer-key registers another key": (
            lambda d: d["entries"].__setitem__(1, scene.honest_entry("signer-key", approver_key, size)),
            "the record is not signed by the key the log registered"),
        "signer-key is not a key event": (
            lambda d: d["entries"].__setitem__(1, scene.honest_entry("signer-key", fund_opened, size)),
            "not a directory event that adds a key"),
        "signer-key missing": (lambda d: d["entries"].pop(1), "a receipt has a record, a signer-key"),
        "record missing": (lambda d: d["entries"].pop(0), "a receipt has a record, a signer-key"),
        "role appears twice": (lambda d: d["entries"].append(copy.deepcopy(d["entries"][0])), "appears twice"),
        "unknown role": (lambda d: d["entries"].append(dict(copy.deepcopy(d["entries"][0]), role="extra")),
                         "a receipt has a record, a signer-key"),
        "event not base64": (lambda d: _entry(d, "record").__setitem__("event", "not base64!"),
                             "record event is not base64"),
        "proof hash not base64": (lambda d: _entry(d, "record")["inclusion_proof"].__setitem__(0, "%%%%"),
                                  "record proof is not base64"),
        "format": (lambda d: d.__setitem__("format", "wushe-receipt/v2"), "not a wushe-receipt/v1 document"),
        "position as text": (lambda d: d.__setitem__("position", str(d["position"])), "field 'position'"),
        "leaf index as bool": (lambda d: d.__setitem__("leaf_index", True), "field 'leaf_index'"),
        "entry without proof": (lambda d: _entry(d, "record").pop("inclusion_proof"), "an entry is missing"),
        "proof of numbers": (lambda d: _entry(d, "record").__setitem__("inclusion_proof", [1, 2]),
                             "an entry is missing"),
        "entries not a list": (lambda d: d.__setitem__("entries", {}), "field 'entries'"),
    }
    for field in ("origin", "position", "leaf_index", "tree_size", "checkpoint", "entries"):
        cases[f"missing {field}"] = (lambda d, f=field: d.pop(f), f"field '{field}' is missing")

    assert _verify(scene.receipt, scene.log_vkey)  # the original is fine
    for what, (change, message) in cases.items():
        forged = _edited(scene.receipt, change)
        assert forged != scene.receipt, what
        with pytest.raises(ReceiptError) as refused:
            _verify(forged, scene.log_vkey)
            pytest.fail(f"{what}: verified")
        assert message in str(refused.value), f"{what}: {refused.value}"


def test_a_receipt_checked_with_another_log_key_is_refused(scene):
    for vkey in (SigningKey.generate(scene.ledger.origin).verifier.vkey,
                 SigningKey.generate("other.example/log").verifier.vkey,
                 scene.accountant_key.verifier.vkey):
        with pytest.raises(ReceiptError, match="^checkpoint: "):
            _verify(scene.receipt, vkey)


def test_a_certificate_must_carry_this_volunteers_registration(scene):
    doc = json.loads(scene.certificate)
    size = doc["tree_size"]
    other = scene.position_where(lambda topic, stream, payload: stream == "volunteer:V002"
                                 and topic == "Volunteer.Registered")
    service = scene.position_where(lambda topic, stream, payload: topic == "Volunteer.ServiceRecorded")
    for what, change, message in [
        ("another volunteer", lambda d: d["entries"].__setitem__(2, scene.honest_entry("volunteer", other, size)),
         "not this volunteer's registration"),
        ("not a registration", lambda d: d["entries"].__setitem__(2, scene.honest_entry("volunteer", service, size)),
         "not this volunteer's registration"),
        ("no volunteer entry", lambda d: d["entries"].pop(2), "a certificate carries the volunteer's registration"),
        ("changed byte in the registration", lambda d: _rebyte(_entry(d, "volunteer"), "李四".encode(), "李三".encode()),
         "the volunteer event is not in the log"),
    ]:
        with pytest.raises(ReceiptError) as refused:
            _verify(_edited(scene.certificate, change), scene.log_vkey)
            pytest.fail(what)
        assert message in str(refused.value), what


@pytest.mark.parametrize("text", ["", "{", "not json", "[]", "null", '"wushe-receipt/v1"', b"\xff\xfe{"],
                         ids=["empty", "brace", "words", "list", "null", "string", "not-utf8"])
def test_malformed_json_is_refused(text):
    with pytest.raises(ReceiptError, match="not JSON|not a wushe-receipt/v1"):
        verify_receipt(text, SigningKey.generate("wushe.example/changning").verifier)


# --- once bugs, now guarded --------------------------------------------------------------------------------------------


def test_an_edited_position_is_not_reported_as_verified(scene):
    forged = _edited(scene.receipt, lambda d: d.__setitem__("position", 999_999))
    verified = _verify(forged, scene.log_vkey)
    # the position is a reference for people, not part of the proof: the verdict does not carry it
    assert not hasattr(verified, "position")
    assert verified.leaf_index == json.loads(scene.receipt)["leaf_index"]


def test_a_made_up_cosignature_is_not_reported_as_a_witness(scene):
    blob = base64.b64encode(bytes(4 + 8 + 64)).decode()
    forged = _edited(scene.receipt, lambda d: d.__setitem__(
        "checkpoint", d["checkpoint"] + f"\u2014 mca.example/witness {blob}\n"))
    try:
        verified = _verify(forged, scene.log_vkey)
    except ReceiptError:
        return
    assert verified.cosigners == []


def test_a_lone_surrogate_in_the_checkpoint_is_a_receipt_error(scene):
    forged = scene.receipt.replace('"checkpoint": "', '"checkpoint": "\\ud800', 1)
    assert forged != scene.receipt
    with pytest.raises(ReceiptError):
        _verify(forged, scene.log_vkey)
