"""The public page of publications (/disclosures) and its JSON, on SQLite and PostgreSQL: what each
foundation published, where and when, in Chinese first and in English."""

from __future__ import annotations

from datetime import date

from fastapi.testclient import TestClient

from api.main import create_app


def test_the_page_lists_every_publication_newest_first(cast):
    led, a = cast.ledger, cast.accountant
    led.open_fund(a, "GEN", "非限定性基金", "CNCF", street_town="xinhualu")
    led.record_publication(a, "CNCF", item="annual_report", subject="2025", title="2025年度工作报告",
                           where="慈善中国", published_on=date(2026, 5, 20))
    led.record_publication(a, "CNCF", item="financial_report", subject="2025", title="2025年度财务会计报告",
                           where="慈善中国", published_on=date(2026, 5, 28))
    app = create_app(led.settings.model_copy(update={"views_interval": 0}), ledger=led)
    with TestClient(app) as client:
        data = client.get("/api/v1/public/disclosures").json()["publications"]
        assert [p["title"] for p in data] == ["2025年度财务会计报告", "2025年度工作报告"]
        assert data[0]["foundation_name"] == "长宁区社区基金会" and data[0]["item_zh"] == "财务会计报告"
        zh = client.get("/disclosures")
        assert zh.status_code == 200 and "信息公开记录" in zh.text and "2025年度工作报告" in zh.text
        en = client.get("/disclosures?lang=en").text
        assert "What was published" in en and "Annual work report" in en and "<td>年度工作报告</td>" not in en
