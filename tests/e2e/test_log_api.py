"""The verifiable log over HTTP, on SQLite and PostgreSQL: checkpoints and proofs that a client
can check for itself against a holder's receipt, public receipt pages that mask names and carry a
QR code, no raw events served publicly, and bad input answered with problem+json naming the field
or rule — never a 500."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import date, time
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from ledger import merkle
from ledger.checkpoints import open_checkpoint
from ledger.receipts import ReceiptError, issue_receipt, verify_receipt
from ledger.signing import SigningKey, VerifierKey

TOWN = "xianxiaxincun"
LOG = "/api/v1/log"
PROBLEM = "application/problem+json"


@dataclass
class Site:
    client: TestClient
    cast: Any
    log_key: VerifierKey
    private: int
    """Position of a donation by 张小明, who did not consent to be named."""
    public: int
    """Position of a donation by 某公司, who did."""
    service: int
    """Position of 李四's service session."""

    @property
    def ledger(self):
        return self.cast.ledger

    def checkpoint(self):
        """Sign one through the ledger, as the scheduled task does, with the key the app loaded."""
        return self.ledger.sign_checkpoint(self.client.app.state.log_actor)

    def donate(self, fen: int = 100) -> int:
        return self.ledger.record_donation(self.cast.accountant, "GEN", fen, donor_type="resident").positions[0]

    def leaves(self) -> list[bytes]:
        return [bytes(n.state) for n in self.ledger.recorder.select_notifications(start=1, limit=10_000)]


def _seed(cast) -> tuple[int, int, int]:
    led = cast.ledger
    led.open_fund(cast.accountant, "GEN", "综合基金", "CNCF", street_town=TOWN)
    private = led.record_donation(cast.accountant, "GEN", 120_050, donor_type="resident", donor_name="张小明")
    public = led.record_donation(cast.accountant, "GEN", 30_000, donor_type="business", donor_name="某公司",
                                 donor_public=True)
    led.register_volunteer(cast.recorder, "V1", "李四", TOWN, registered_on=date(2026, 1, 5))
    service = led.record_hours(cast.recorder, "V1", organisation="LELING", domain="elderly_care",
                               on=date(2026, 11, 1), start=time(9, 0), end=time(10, 30), content="送餐")
    return private.positions[0], public.positions[0], service.positions[0]


def _log_principal(cast, *, key_file: bool) -> SigningKey:
    ledger = cast.ledger
    key = SigningKey.generate(ledger.origin)
    ledger.register_principal(cast.root, ledger.origin, "账本日志", ["log"], key=key.verifier)
    if key_file:  # where `wushe init` puts it, so the server finds it
        key.write(ledger.settings.resolved_key_dir)
    return key


@pytest.fixture
def site(cast):
    key = _log_principal(cast, key_file=True)
    positions = _seed(cast)
    with TestClient(create_app(ledger=cast.ledger), raise_server_exceptions=False) as client:
        yield Site(client, cast, key.verifier, *positions)


def _problem(response, status: int, *, rule: str | None = None, field: str | None = None) -> dict:
    assert response.status_code == status, (response.request.url, response.text)
    assert response.headers["content-type"].startswith(PROBLEM), response.headers["content-type"]
    body = response.json()
    assert body["status"] == status and body["detail"] and body["detail_en"] and body["rule"], body
    if rule is not None:
        assert body["rule"] == rule, body
    if field is not None:
        assert body.get("field") == field, body
    return body


def _b64(text: str) -> bytes:
    return base64.b64decode(text, validate=True)


def _entry(receipt: dict, role: str) -> dict:
    [entry] = [e for e in receipt["entries"] if e["role"] == role]
    return entry


# --- checkpoints ---------------------------------------------------------------------------------------


def test_checkpoint_is_404_until_one_is_signed_then_verifies_with_the_log_key(site):
    client = site.client
    _problem(client.get(f"{LOG}/checkpoint"), 404, rule="not-found")
    assert client.get(f"{LOG}/checkpoints").json() == []
    assert client.app.state.log_actor is not None  # the app found the log key in its key directory

    first = site.checkpoint()
    body = client.get(f"{LOG}/checkpoint").json()
    checkpoint, _ = open_checkpoint(body["note"].encode(), site.log_key)
    assert checkpoint == first.checkpoint
    assert (body["origin"], body["tree_size"], _b64(body["root_hash"])) == (
        checkpoint.origin, checkpoint.size, checkpoint.root)
    leaves = site.leaves()
    assert checkpoint.size == len(leaves) and checkpoint.root == merkle.root_hash(leaves)

    site.donate()
    second = site.checkpoint()
    assert client.get(f"{LOG}/checkpoints").json() == [first.checkpoint.size, second.checkpoint.size]
    at = client.get(f"{LOG}/checkpoints/{first.checkpoint.size}").json()
    assert at["note"] == first.note.decode() and at["tree_size"] == first.checkpoint.size
    assert client.get(f"{LOG}/checkpoint").json()["tree_size"] == second.checkpoint.size
    _problem(client.get(f"{LOG}/checkpoints/{second.checkpoint.size + 1}"), 404, field="tree_size")
    _problem(client.get(f"{LOG}/checkpoints/-1"), 404)
    _problem(client.get(f"{LOG}/checkpoints/big"), 422, field="tree_size")


# --- proofs and leaves ----------------------------------------------------------------------------------


def test_inclusion_and_consistency_verify_against_signed_checkpoints(site):
    client = site.client
    old = site.checkpoint().checkpoint
    site.donate()
    site.donate(200)
    new = site.checkpoint().checkpoint
    site.donate(300)  # beyond the latest checkpoint: proofs default to the checkpoint's size
    # the leaf data is the event's stored bytes, which the holder has in their receipt
    event = base64.b64decode(_entry(issue_receipt(site.ledger, site.private, None), "record")["event"])

    by_position = client.get(f"{LOG}/inclusion", params={"position": site.private}).json()
    leaf_index = by_position["leaf_index"]
    assert by_position["position"] == site.private and by_position["tree_size"] == new.size
    assert leaf_index == site.ledger.merkle.leaf_index_of(site.private)
    proof = [_b64(h) for h in by_position["inclusion_proof"]]
    assert _b64(by_position["root_hash"]) == new.root
    assert merkle.verify_inclusion(event, leaf_index, new.size, proof, new.root)  # against the signed root
    assert not merkle.verify_inclusion(event + b" ", leaf_index, new.size, proof, new.root)

    by_index = client.get(f"{LOG}/inclusion", params={"leaf_index": leaf_index, "tree_size": old.size}).json()
    assert by_index["position"] == site.private and by_index["tree_size"] == old.size
    assert merkle.verify_inclusion(event, leaf_index, old.size, [_b64(h) for h in by_index["inclusion_proof"]],
                                   old.root)

    body = client.get(f"{LOG}/consistency", params={"first": old.size, "second": new.size}).json()
    assert (body["first"], body["second"]) == (old.size, new.size)
    assert (_b64(body["first_root"]), _b64(body["second_root"])) == (old.root, new.root)
    assert merkle.verify_consistency(old.size, new.size, old.root, new.root,
                                     [_b64(h) for h in body["consistency_proof"]])
    same = client.get(f"{LOG}/consistency", params={"first": new.size, "second": new.size}).json()
    assert same["consistency_proof"] == []

    leaves = site.leaves()  # every leaf's proof, against the latest tree
    size = len(leaves)
    root = merkle.root_hash(leaves)
    for i in (0, size // 2, size - 1):
        body = client.get(f"{LOG}/inclusion", params={"leaf_index": i, "tree_size": size}).json()
        assert merkle.verify_inclusion(leaves[i], i, size, [_b64(h) for h in body["inclusion_proof"]], root)


def test_no_raw_event_is_served_publicly(site):
    client = site.client
    site.checkpoint()
    for url in (f"{LOG}/leaves/0", f"{LOG}/leaves/{site.ledger.merkle.leaf_index_of(site.private)}",
                f"{LOG}/receipts/{site.private}", f"{LOG}/receipts/{site.service}"):
        response = client.get(url)
        assert response.status_code == 404, url
        assert "张小明" not in response.text and "李四" not in response.text
    for url in (f"{LOG}/checkpoint", f"{LOG}/inclusion?position={site.private}",
                f"{LOG}/consistency?first=1&second={site.ledger.merkle.size()}",
                issue_receipt(site.ledger, site.private, None)["verify_path"],
                issue_receipt(site.ledger, site.service, None)["verify_path"]):
        response = client.get(url)
        assert response.status_code == 200, url
        assert "张小明" not in response.text and "李四" not in response.text, url


def test_bad_input_is_a_4xx_problem_naming_the_field_or_rule(site):
    client = site.client
    site.checkpoint()
    size = site.ledger.merkle.size()
    gone = site.ledger.recorder.max_notification_id() + 50
    cases = [
        (f"{LOG}/inclusion?leaf_index=-1", 422, "invalid-input", "leaf_index"),
        (f"{LOG}/inclusion?leaf_index=abc", 422, "invalid-input", "leaf_index"),
        (f"{LOG}/inclusion?leaf_index=1.5", 422, "invalid-input", "leaf_index"),
        (f"{LOG}/inclusion?position=0", 422, "invalid-input", "position"),
        (f"{LOG}/inclusion?position=-3", 422, "invalid-input", "position"),
        (f"{LOG}/inclusion?leaf_index=0&tree_size=0", 422, "invalid-input", "tree_size"),
        (f"{LOG}/inclusion?leaf_index=1&position={site.private}", 422, None, None),
        (f"{LOG}/inclusion", 422, None, None),
        (f"{LOG}/inclusion?leaf_index={size}", 422, "beyond-log", None),
        (f"{LOG}/inclusion?leaf_index=0&tree_size={size + 1}", 422, "beyond-log", None),
        (f"{LOG}/inclusion?position={gone}", 404, "not-found", "position"),
        (f"{LOG}/consistency?first=5&second=3", 422, "beyond-log", None),
        (f"{LOG}/consistency?first=-1&second=3", 422, "invalid-input", "first"),
        (f"{LOG}/consistency?first=x&second=3", 422, "invalid-input", "first"),
        (f"{LOG}/consistency?first=1", 422, "invalid-input", "second"),
        (f"{LOG}/consistency?first=1&second={size + 1}", 422, "beyond-log", None),
        (f"{LOG}/checkpoints/x", 422, "invalid-input", "tree_size"),
    ]
    for url, status, rule, field in cases:
        body = _problem(client.get(url), status, rule=rule, field=field)
        if "leaf_index=1&position" in url or url.endswith("/inclusion"):
            assert "leaf_index" in body["detail_en"] and "position" in body["detail_en"]
    for url in ("/v/x-00", "/v/-1-00", f"/v/{size}-00", "/v/3"):
        _problem(client.get(url), 404, rule="not-found", field="reference")


def test_integers_beyond_64_bits_are_a_4xx_problem_not_a_500(site, database_url, request):
    huge = "99999999999999999999"
    for url in (f"{LOG}/checkpoints/{huge}", f"{LOG}/inclusion?position={huge}", f"/v/{huge}-ab",
                f"/v/{huge[:19]}-{'ab' * 8}"):
        response = site.client.get(url)
        assert 400 <= response.status_code < 500, (url, response.status_code)
        assert response.headers["content-type"].startswith(PROBLEM)


# --- receipts and their pages ---------------------------------------------------------------------------


def test_a_holders_receipt_verifies_offline_against_the_served_checkpoint(site):
    client = site.client
    assert client.get(f"{LOG}/checkpoints").json() == []
    site.checkpoint()  # as the server's schedule signs it (an anonymous page never does)
    served = client.get(f"{LOG}/checkpoint").json()
    assert client.get(f"{LOG}/checkpoints").json() == [served["tree_size"]]

    holders = json.dumps(issue_receipt(site.ledger, site.private, None), ensure_ascii=False)  # `wushe receipt`
    verified = verify_receipt(holders, VerifierKey.from_vkey(site.log_key.vkey))
    assert verified.kind == "donation" and verified.record.payload["amount"] == 120_050
    assert verified.checkpoint.size == served["tree_size"] and verified.checkpoint.root == _b64(served["root_hash"])
    certificate = verify_receipt(issue_receipt(site.ledger, site.service, None), site.log_key)
    assert certificate.kind == "volunteer-service" and certificate.volunteer["name"] == "李四"
    tampered = json.loads(holders)
    tampered["tree_size"] += 1
    with pytest.raises(ReceiptError, match="tree size"):
        verify_receipt(tampered, site.log_key)


def test_receipt_page_masks_names_and_carries_a_qr_code_and_its_short_link(site):
    client = site.client
    site.checkpoint()
    page = client.get(issue_receipt(site.ledger, site.private, None)["verify_path"])
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "张**" in page.text and "张小明" not in page.text
    assert "捐赠收据" in page.text and "¥1,200.50" in page.text
    assert "<svg" in page.text and "</svg>" in page.text

    consented = client.get(issue_receipt(site.ledger, site.public, None)["verify_path"]).text
    assert "某公司" in consented and "<svg" in consented

    certificate = client.get(issue_receipt(site.ledger, site.service, None)["verify_path"]).text
    assert "志愿服务记录证明" in certificate and "送餐" in certificate
    assert "李*" in certificate and "李四" not in certificate  # registered without consent to be named

    receipt = issue_receipt(site.ledger, site.private, None)
    path = receipt["verify_path"]
    leaf, prefix = path.removeprefix("/v/").split("-")
    assert int(leaf) == receipt["leaf_index"] and len(prefix) == 16
    assert site.ledger.merkle.leaf_at(int(leaf))[1].hex().startswith(prefix)
    assert path in page.text  # the printed link is the QR code's
    short = client.get(path)
    assert short.status_code == 200 and "张**" in short.text and "张小明" not in short.text
    assert client.get(f"/v/{leaf}-{prefix.upper()}").status_code == 200
    wrong = prefix[:-1] + ("0" if prefix[-1] != "0" else "1")
    _problem(client.get(f"/v/{leaf}-{wrong}"), 404, field="reference")
    other_leaf = site.ledger.merkle.leaf_index_of(site.public)
    _problem(client.get(f"/v/{other_leaf}-{prefix}"), 404, field="reference")


def test_without_the_log_key_and_no_checkpoint_a_receipt_is_a_409_problem(cast):
    _log_principal(cast, key_file=False)
    private, _, _ = _seed(cast)
    with TestClient(create_app(ledger=cast.ledger), raise_server_exceptions=False) as client:
        assert client.app.state.log_actor is None
        cast.ledger.merkle.sync()  # the tree holds the leaf; no checkpoint covers it
        leaf = cast.ledger.merkle.leaf_index_of(private)
        link = f"/v/{leaf}-{cast.ledger.merkle.leaf_at(leaf)[1].hex()[:16]}"
        _problem(client.get(link), 409, rule="receipt-unavailable")
        assert client.get(f"{LOG}/checkpoints").json() == []


def test_openapi_lists_the_log_endpoints(site):
    paths = site.client.get("/openapi.json").json()["paths"]
    for path in ("checkpoint", "checkpoints", "checkpoints/{tree_size}", "inclusion", "consistency"):
        assert f"{LOG}/{path}" in paths, path
        assert "get" in paths[f"{LOG}/{path}"]
    assert not any(p.startswith((f"{LOG}/leaves", f"{LOG}/receipts")) for p in paths)
    params = {p["name"] for p in paths[f"{LOG}/inclusion"]["get"]["parameters"]}
    assert params == {"leaf_index", "position", "tree_size"}


def test_the_certificate_names_the_organisation_issuer_issue_date_contact_and_one_number(cast):
    from datetime import UTC, datetime

    from ledger.application import Actor
    from ledger.receipts import issue_receipt

    key = _log_principal(cast, key_file=True)
    private, _, service = _seed(cast)
    cast.ledger.clock = lambda: datetime(2026, 11, 20, 18, 30, tzinfo=UTC)  # 21 November in Shanghai
    settings = cast.ledger.settings.model_copy(update={"contact": "乐龄互助社 021-6212 0000"})
    log = Actor(cast.ledger.origin, key)
    links = {p: issue_receipt(cast.ledger, p, log)["verify_path"] for p in (private, service)}
    with TestClient(create_app(settings, ledger=cast.ledger)) as client:
        page = client.get(links[service]).text
        receipt = client.get(links[private]).text
    assert "乐龄互助社" in page  # the organisation's name, not only its code LELING
    assert "出具单位 Issued by" in page and "出具日期 Issued on" in page and "2026年11月21日" in page
    assert "联系方式 Contact" in page and "021-6212 0000" in page
    assert f"编号 No. <strong id=\"reference\">#{service}</strong>" in page  # the one number to quote
    assert page.count(f"#{service}") >= 2 and "片叶" in page  # the leaf is there, for the proof only
    # dates as the verify page writes them: 2026年11月1日, not 2026-11-01
    assert "2026年11月1日" in page and "2026-11-01" not in page
    assert "长宁区社区基金会" in receipt and "综合基金" in receipt  # the host foundation and the fund by name
