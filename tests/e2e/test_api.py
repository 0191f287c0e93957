"""The HTTP app: health, district figures and the home page, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date, time

import pytest
from agreements import agreement
from fastapi.testclient import TestClient

from api.main import create_app


@pytest.fixture
def client(cast):
    with TestClient(create_app(ledger=cast.ledger)) as c:
        yield c


def _seed(cast):
    led, acct = cast.ledger, cast.accountant
    led.open_fund(acct, "XX-SF", "仙霞专项基金", "CNCF", kind="special", restricted=True, purpose="养老",
                  street_town="xianxiaxincun", domains=["elderly_care"], agreement=agreement())
    led.open_fund(acct, "GEN", "非限定性基金", "CNCF")
    led.record_donation(acct, "XX-SF", 120050, donor_type="resident", donor_name="张三")
    led.record_donation(acct, "GEN", 30000, donor_type="business", donor_name="某公司", donor_public=True,
                        street_town="hongqiao")
    wrong = led.record_donation(acct, "XX-SF", 999900, donor_type="resident")
    led.reverse(acct, wrong.positions[0], reason="重复录入")
    led.register_project(acct, "P1", "助餐", street_town="xianxiaxincun", domain="elderly_care", organisation="LELING",
                         budget=100000, funding_source="fund", approval_ref="批1", reach=500, starts_on=date(2026, 1, 1),
                         ends_on=date(2026, 12, 31))
    number = led.request_disbursement(acct, "XX-SF", 20000, project="P1", purpose="一期").ident
    led.approve_disbursement(cast.approver, number, approval_ref="批-1")
    led.pay_disbursement(acct, number)
    led.register_volunteer(cast.recorder, "V1", "李四", "xianxiaxincun")
    led.record_hours(cast.recorder, "V1", organisation="LELING", domain="elderly_care", on=date(2026, 11, 1),
                     start=time(9, 0), end=time(10, 30), content="送餐")


def test_health_reports_the_store_and_the_log_head(client, cast):
    body = client.get("/health").json()
    assert body["status"] == "ok" and body["initialised"] is True
    assert body["store"] in ("sqlite", "postgresql")
    assert body["events"] == cast.ledger.recorder.max_notification_id()


def test_district_figures_follow_the_signed_events(client, cast):
    _seed(cast)
    body = client.get("/api/v1/public/district").json()
    towns = {t["code"]: t for t in body["street_towns"]}
    assert len(towns) == 10
    xx = towns["xianxiaxincun"]
    assert xx["income"] == "1200.50"  # the reversed duplicate does not count
    assert xx["donations"] == 1
    assert xx["spent"] == "200.00"
    assert xx["fund_balance"] == "1000.50"
    assert xx["volunteer_hours"] == "1.50"
    assert towns["hongqiao"]["income"] == "300.00"
    assert body["income"] == "1500.50" and body["spent"] == "200.00" and body["balance"] == "1300.50"
    assert body["restricted_balance"] == "1000.50" and body["unrestricted_balance"] == "300.00"


def test_home_page_is_chinese_first_with_an_english_switch(client, cast):
    _seed(cast)
    zh = client.get("/")
    assert zh.status_code == 200
    assert 'lang="zh-CN"' in zh.text and "仙霞新村街道" in zh.text and "¥1,200.50" in zh.text
    assert "张三" not in zh.text  # no donor names on the public page
    en = client.get("/?lang=en")
    assert 'lang="en"' in en.text and "Xianxia Xincun Subdistrict" in en.text
    assert client.get("/?lang=fr").status_code == 422


def test_liveness_answers_without_the_store(client, cast, monkeypatch):
    def down(*args, **kwargs):
        raise OSError("the database is unreachable")

    monkeypatch.setattr(cast.ledger.tables, "fetchone", down)
    assert client.get("/health").status_code == 503
    live = client.get("/health/live")
    assert live.status_code == 200 and live.json() == {"status": "ok"}
