"""Personal data and enumeration (issue 17 item 5, PIPL), on SQLite and PostgreSQL: a receipt or
certificate page opens only for whoever holds its link (the leaf and at least 16 hex digits — 64
bits — of its hash), never by walking log positions; the public certificate carries no number that
identifies the volunteer; public pages carry counts, never people; and an anonymous GET never
writes — no event, no checkpoint."""

from __future__ import annotations

import time

from publicsite import PRIVATE_DONOR, TOWN, VOLUNTEER_NAME, VOLUNTEER_NUMBER, public_site_fixture  # noqa: F401

from ledger import merkle

PUBLIC_PAGES = ["/", "/?lang=en", f"/street-towns/{TOWN}", "/funds", "/funds/GEN", "/projects", "/hours",
                "/corrections", "/checkpoints", "/verify"]


def _link(site, position: int, digits: int = 16) -> str:
    """The leaf's short link, read from the tree the server grew (waiting for its runner)."""
    ledger = site.ledger
    deadline = time.monotonic() + 20
    while (index := ledger.merkle.leaf_index_of(position)) is None:
        assert time.monotonic() < deadline, "the views' runner did not grow the tree"
        time.sleep(0.1)
    return f"/v/{index}-{ledger.merkle.leaf_at(index)[1].hex()[:digits]}"


def test_receipt_pages_cannot_be_walked_by_log_position(public_site):
    site = public_site
    site.receipt(site.service)  # a checkpoint covers the session
    for position in range(1, site.service + 2):
        page = site.client.get(f"/receipts/{position}")
        assert page.status_code == 404, position
        assert VOLUNTEER_NUMBER not in page.text and "09:00" not in page.text


def test_a_short_link_needs_sixteen_hex_digits_of_the_leaf_hash(public_site):
    site = public_site
    site.receipt(site.service)
    full = _link(site, site.service, 64)
    leaf, digest = full.removeprefix("/v/").split("-")
    for digits in (1, 4, 8, 15):
        answer = site.client.get(f"/v/{leaf}-{digest[:digits]}")
        assert answer.status_code == 404, digits
        assert VOLUNTEER_NUMBER not in answer.text and VOLUNTEER_NAME[0] not in answer.text
    for digits in (16, 32, 64):
        assert site.client.get(f"/v/{leaf}-{digest[:digits]}").status_code == 200, digits
    for bad in (f"{leaf}-{digest[:15]}g", f"{leaf}-{digest}0", f"{leaf}-", f"-{digest[:16]}"):
        assert site.client.get(f"/v/{bad}").status_code == 404, bad


def test_the_public_certificate_names_no_number_of_the_volunteer(public_site):
    site = public_site
    receipt = site.receipt(site.service)
    page = site.client.get(receipt["verify_path"])
    assert page.status_code == 200 and "志愿服务记录证明" in page.text
    assert VOLUNTEER_NUMBER not in page.text and VOLUNTEER_NAME not in page.text and "李*" in page.text
    checked = site.client.post("/api/v1/public/verify", json=receipt).json()
    assert checked["verified"] and VOLUNTEER_NUMBER not in str(checked) and VOLUNTEER_NAME not in str(checked)


def test_no_public_page_or_answer_names_a_person(public_site):
    site, client = public_site, public_site.client
    site.receipt(site.service)
    answers = {path: client.get(path).text for path in PUBLIC_PAGES}
    for path in ("overview", f"street-towns/{TOWN}", "funds", "funds/GEN", "projects", "hours", "corrections"):
        answers[f"/api/v1/public/{path}"] = client.get(f"/api/v1/public/{path}").text
        page = client.get(f"/downloads/json/{path}").json()
        for table in page["tables"]:
            answers[f"/downloads/csv/{path}?table={table}"] = client.get(
                f"/downloads/csv/{path}", params={"table": table}).text
    answers["reports"] = client.get("/api/v1/public/reports", params={"start": "2000-01-01",
                                                                      "end": "2100-12-31"}).text
    for what, text in answers.items():
        for person in (VOLUNTEER_NUMBER, VOLUNTEER_NAME, PRIVATE_DONOR):
            assert person not in text, (what, person)
    assert '"volunteers":1' in answers["/api/v1/public/hours"].replace(" ", "")  # a count, not a person


def test_an_anonymous_get_never_writes(public_site):
    site, client = public_site, public_site.client
    site.receipt(site.private)  # a checkpoint, signed the way `wushe receipt` signs one
    fresh = site.ledger.record_donation(site.cast.accountant, "GEN", 800, donor_type="resident").positions[0]
    link = _link(site, fresh)  # in the tree, under no checkpoint yet
    before = site.written()
    answers = [client.get(path) for path in PUBLIC_PAGES]
    answers += [client.get(link), client.get(f"/receipts/{fresh}"), client.get(_link(site, site.service))]
    answers += [client.get("/api/v1/log/checkpoint"), client.get(f"/api/v1/log/inclusion?position={fresh}")]
    assert site.written() == before, "an anonymous GET signed or stored something"
    assert all(a.status_code < 500 for a in answers)
    uncovered = client.get(link)
    assert uncovered.status_code == 409 and uncovered.json()["rule"] == "receipt-unavailable"
    assert "checkpoint" in uncovered.json()["detail_en"]


def test_a_receipt_page_is_served_once_a_checkpoint_covers_it(public_site):
    site = public_site
    receipt = site.receipt(site.private)
    page = site.client.get(receipt["verify_path"])
    assert page.status_code == 200 and "张**" in page.text and PRIVATE_DONOR not in page.text
    digest = receipt["verify_path"].rsplit("-", 1)[1]
    assert merkle.leaf_hash(bytes(site.ledger.read_position(site.private)[0].state)).hex().startswith(digest)
