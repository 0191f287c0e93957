"""Figures are never silently stale (issue #17, items 10 and 12), on SQLite and PostgreSQL: a view
UPDATEd behind the runner's back is found by the server's check and its figures are withheld
(pages 503 saying why, JSON problem+json, /health degraded) until rebuilt; a tampered event that
stops the runner leaves every public page with a banner — zh-CN first, then English — naming the
log position the figures stand at, and /health degraded naming the event."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from rawsql import RawSQL

from api.main import create_app
from projections.runner import Projections

API = "/api/v1/public"
PAGES = ("/", "/street-towns/xianxiaxincun", "/funds", "/funds/GEN", "/projects", "/hours", "/corrections", "/verify")
FIGURES = ("/", "/street-towns/xianxiaxincun", "/funds", "/funds/GEN", "/projects", "/hours", "/corrections")


@pytest.fixture
def served(cast):
    """A fund with two donations, served with the views checked on every read (no background runner)."""
    cast.ledger.open_fund(cast.accountant, "GEN", "非限定性基金", "CNCF", street_town="xianxiaxincun")
    for fen in (10_000, 2_345):
        cast.ledger.record_donation(cast.accountant, "GEN", fen, donor_type="resident")
    app = create_app(cast.ledger.settings.model_copy(update={"views_interval": 0, "views_check_interval": 0}),
                     ledger=cast.ledger)
    Projections(cast.ledger).run()
    with TestClient(app) as client:
        assert client.get("/health").json()["status"] == "ok"
        yield cast, client


def test_a_clean_ledger_shows_no_banner_and_health_is_ok(served):
    _, client = served
    for path in PAGES:
        page = client.get(path)
        assert page.status_code == 200 and 'class="standing"' not in page.text, path
    health = client.get("/health").json()
    assert (health["status"], health["views_check"]) == ("ok", "ok")


def test_a_poisoned_view_is_withheld_until_rebuilt(served, database_url):
    cast, client = served
    views = Projections(cast.ledger)
    RawSQL(cast.ledger, database_url).run(
        (f"UPDATE {views.tables.table('view_funds')} SET balance = 999999900 WHERE code = ?", ("GEN",)))
    for path in FIGURES:
        page = client.get(path)
        assert page.status_code == 503, path
        assert "9,999,999" not in page.text and "数据暂停发布" in page.text and "view_funds" in page.text
        assert page.text.index("数据暂停发布") < page.text.index("Figures withheld")
    answer = client.get(f"{API}/funds/GEN")
    assert answer.status_code == 503 and answer.json()["rule"] == "views-withheld"
    assert client.get("/downloads/json/funds").status_code == 503
    form = client.get("/verify")
    assert form.status_code == 200  # the log itself can still be checked
    assert "etag" not in form.headers and "view_funds" in form.text  # its banner is built each time, never kept
    assert client.get("/api/v1/log/checkpoints").status_code == 200
    health = client.get("/health").json()
    assert (health["status"], health["views_check"]) == ("degraded", "failed: view_funds")
    views.rebuild()
    assert client.get(f"{API}/funds/GEN").json()["summary"]["balance"] == "123.45"
    assert client.get("/health").json()["status"] == "ok"


def test_a_tampered_event_leaves_a_banner_on_every_page(served, database_url):
    cast, client = served
    position = Projections(cast.ledger).position()
    cached = client.get("/funds").headers["ETag"]
    late = cast.ledger.record_donation(cast.accountant, "GEN", 1_000, donor_type="resident").positions[0]
    raw = RawSQL(cast.ledger, database_url)
    [[(state,)]] = raw.run((f"SELECT state FROM {raw.table} WHERE {raw.pos} = ?", (late,)))
    raw.run((f"UPDATE {raw.table} SET state = ? WHERE {raw.pos} = ?",
             (bytes(state).replace(b'"amount":1000', b'"amount":9000'), late)))
    for path in PAGES:
        page = client.get(path)
        assert page.status_code == 200, path
        text = page.text
        assert f"#{position}" in text and f"#{late}" in text and "TamperedEvent" in text, path
        assert text.index("数据可能不是最新") < text.index("Figures may be out of date"), path
    assert client.get(f"{API}/funds/GEN").json()["summary"]["balance"] == "123.45"  # as they stood
    again = client.get("/funds", headers={"If-None-Match": cached})  # a cached copy has no banner
    assert again.status_code == 200 and "数据可能不是最新" in again.text
    health = client.get("/health").json()
    assert health["status"] == "degraded" and health["projections_position"] == position
    assert health["projections_runner"].startswith("on-read") or "TamperedEvent" in health["projections_runner"]
    assert "fund:GEN" in health["problem"]
