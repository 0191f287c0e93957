"""A reversed record never passes for one that stands, on SQLite and PostgreSQL: a donation or a
volunteer session reversed by a correction (更正) shows its reversal — the correction's log
position, its Shanghai date and its reason — wherever its receipt or certificate is checked
online (the short link /v/<leaf>-<hash>, the receipt page, POST /verify, /api/v1/public/verify),
and no new receipt is issued for it; one issued before the reversal still proves inclusion offline."""

from __future__ import annotations

import json
from datetime import date, time

import pytest
from fastapi.testclient import TestClient
from freezegun import freeze_time

from api.main import create_app
from ledger.application import Actor
from ledger.receipts import RecordReversed, issue_receipt, verify_receipt
from ledger.signing import SigningKey

TOWN = "xianxiaxincun"
API = "/api/v1/public"
REASON_GIFT = "捐赠人撤回 Donor withdrew the gift"
REASON_HOURS = "签到时间登记错误 Wrong sign-in time"


class Scene:
    def __init__(self, cast):
        self.ledger = led = cast.ledger
        key = SigningKey.generate(led.origin)
        led.register_principal(cast.root, led.origin, "账本日志", ["log"], key=key.verifier)
        key.write(led.settings.resolved_key_dir)
        self.log = Actor(led.origin, key)
        self.log_key = key.verifier
        led.open_fund(cast.accountant, "GEN", "综合基金", "CNCF", street_town=TOWN)
        self.standing = led.record_donation(cast.accountant, "GEN", 5_000, donor_type="resident").positions[0]
        self.donation = led.record_donation(cast.accountant, "GEN", 120_050, donor_type="resident",
                                            donor_name="张小明", received_on=date(2026, 3, 2)).positions[0]
        led.register_volunteer(cast.recorder, "V1", "李四", TOWN, registered_on=date(2026, 1, 5))
        self.session = led.record_hours(cast.recorder, "V1", organisation="LELING", domain="elderly_care",
                                        on=date(2026, 3, 1), start=time(9, 0), end=time(10, 30),
                                        content="送餐").positions[0]
        # the holders were given their receipts while the records stood
        self.receipt = issue_receipt(led, self.donation, self.log)
        self.certificate = issue_receipt(led, self.session, self.log)
        with freeze_time("2026-11-20T18:30:00Z"):  # 21 November in Shanghai
            self.gift_reversal = led.reverse(cast.accountant, self.donation, reason=REASON_GIFT).positions[0]
            self.hours_reversal = led.reverse(cast.recorder, self.session, reason=REASON_HOURS).positions[0]


@pytest.fixture
def scene(cast):
    scene = Scene(cast)
    with TestClient(create_app(ledger=cast.ledger), raise_server_exceptions=False) as client:
        scene.client = client
        yield scene


def test_the_public_verify_api_reports_the_reversal(scene):
    for document, by, reason in ((scene.receipt, scene.gift_reversal, REASON_GIFT),
                                 (scene.certificate, scene.hours_reversal, REASON_HOURS)):
        verdict = scene.client.post(f"{API}/verify", json=document).json()
        assert verdict["verified"] is True  # the receipt is genuine...
        assert verdict["stands"] is False  # ...but the record no longer stands
        assert verdict["reversal"] == {"position": by, "date": "2026-11-21", "reason": reason}
    fresh = issue_receipt(scene.ledger, scene.standing, scene.log)
    standing = scene.client.post(f"{API}/verify", json=fresh).json()
    assert standing["stands"] is True and standing["reversal"] is None


@pytest.mark.parametrize("lang, words", [("zh", ("已冲正", "2026年11月21日", "更正")),
                                         ("en", ("Reversed", "21 Nov 2026", "correction"))])
def test_the_verify_page_shows_the_reversal_instead_of_a_plain_verified(scene, lang, words):
    for document, by, reason in ((scene.receipt, scene.gift_reversal, REASON_GIFT),
                                 (scene.certificate, scene.hours_reversal, REASON_HOURS)):
        page = scene.client.post("/verify", params={"lang": lang}, data={"receipt": json.dumps(document)}).text
        assert "✓" not in page
        for word in words:
            assert word in page, (lang, word)
        assert f"{by}" in page and reason in page


def test_the_short_link_shows_the_reversal(scene):
    for document, by, reason in ((scene.receipt, scene.gift_reversal, REASON_GIFT),
                                 (scene.certificate, scene.hours_reversal, REASON_HOURS)):
        for path in (document["verify_path"],):
            page = scene.client.get(path)
            assert page.status_code == 200, page.text
            assert "已冲正" in page.text and "Reversed" in page.text, path
            assert f"#{by}" in page.text and reason in page.text and "2026年11月21日" in page.text
            assert "✓ 已校验" not in page.text
    standing = issue_receipt(scene.ledger, scene.standing, None)
    assert "已冲正" not in scene.client.get(standing["verify_path"]).text


def test_no_receipt_is_issued_for_a_reversed_record_but_an_old_one_still_proves_inclusion(scene):
    for position, by in ((scene.donation, scene.gift_reversal), (scene.session, scene.hours_reversal)):
        with pytest.raises(RecordReversed) as refused:
            issue_receipt(scene.ledger, position, scene.log)
        assert refused.value.reversal.position == by
        assert f"#{by}" in refused.value.text.en and f"#{by}" in refused.value.text.zh
        assert "已冲正" in refused.value.text.zh
    # offline, with the log key alone: inclusion is proven; standing is for the online check (docs §4)
    assert verify_receipt(scene.receipt, scene.log_key).record.payload["amount"] == 120_050


def test_wushe_receipt_refuses_a_reversed_session(cli, tmp_path):
    cli("org", "register", "LELING", "--name", "乐龄互助社", "--kind", "social_organisation",
        "--street-town", TOWN, "--as", "root")
    cli("principal", "add", "rec", "--name", "记录人", "--role", "recorder", "--organisation", "LELING", "--as", "root")
    cli("volunteer", "register", "V1", "--name", "李四", "--street-town", TOWN, "--as", "rec")
    recorded = cli("hours", "record", "--volunteer", "V1", "--organisation", "LELING", "--domain", "elderly_care",
                   "--date", "2026-03-01", "--start", "09:00", "--end", "10:30", "--content", "送餐", "--as", "rec")
    position = recorded.output.split("#")[-1].split(")")[0]
    cli("receipt", position, "--out", str(tmp_path / "before.json"))
    reversal = cli("correct", position, "--reason", "重复录入", "--as", "rec").output.split("#")[-1].split(")")[0]
    refused = cli("receipt", position, "--out", str(tmp_path / "after.json"), ok=False)
    assert refused.exit_code == 1 and "Traceback" not in refused.output
    assert f"#{reversal}" in refused.output and "重复录入" in refused.output and "已冲正" in refused.output
    assert not (tmp_path / "after.json").exists()
