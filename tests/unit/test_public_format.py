"""How the public pages write dates, months, numbers and the monthly chart, in Chinese and English."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import date
from types import SimpleNamespace

import pytest

from api import charts
from api.i18n import format_date, format_decimal, format_month, format_time, language
from api.routes.pages import cell

SVG = "{http://www.w3.org/2000/svg}"


@pytest.mark.parametrize(("value", "zh", "en"), [
    (date(2026, 11, 27), "2026年11月27日", "27 Nov 2026"),
    ("2026-01-05", "2026年1月5日", "5 Jan 2026"),
    ("2026-11-27T20:30:00+00:00", "2026年11月28日", "28 Nov 2026"),  # after 16:00 UTC it is tomorrow in Shanghai
])
def test_dates_in_both_languages(value, zh, en):
    assert format_date(value, "zh") == zh
    assert format_date(value, "en") == en


def test_months_times_and_decimals():
    assert (format_month("2026-09", "zh"), format_month("2026-09", "en")) == ("2026年9月", "Sep 2026")
    assert format_time("2026-11-27T20:30:00+00:00") == "04:30"
    assert format_decimal("1234567.50") == "1,234,567.50" and format_decimal("-1234.5") == "-1,234.5"
    assert format_decimal(None) == "" and format_date(None, "zh") == ""


def test_cells_by_kind():
    assert cell(123450, "yuan", "zh") == "¥1,234.50" and cell(-5, "yuan", "en") == "-¥0.05"
    assert cell(True, "bool", "zh") == "是" and cell(False, "bool", "en") == "no"
    assert cell(["养老服务", "社区治理"], "list", "zh") == "养老服务、社区治理"
    assert cell(["a", "b"], "list", "en") == "a, b"
    assert cell(None, "yuan", "zh") == "—" and cell(12345, "int", "en") == "12,345"
    assert cell("2026-04-03", "date", "en") == "3 Apr 2026"


def _request(cookie: str | None = None):
    return SimpleNamespace(cookies={"wushe_lang": cookie} if cookie else {})


def test_language_query_then_cookie_then_chinese():
    assert language(_request(), None) == "zh"
    assert language(_request("en"), None) == "en"
    assert language(_request("en"), "zh") == "zh"
    assert language(_request("fr"), None) == "zh"


def _bars(svg: str) -> list[ET.Element]:
    root = ET.fromstring(svg)
    return [r for r in root.iter(f"{SVG}rect") if r.find(f"{SVG}title") is not None]


def test_chart_has_a_text_alternative_and_bars_to_scale():
    months = [{"month": "2026-03", "income": 500_000, "spending": 100_000},
              {"month": "2026-04", "income": -20_000, "spending": 250_000}]
    svg = str(charts.monthly_chart(months, "zh"))
    root = ET.fromstring(svg)
    assert root.get("role") == "img" and root.get("aria-labelledby") == "chart-title chart-desc"
    desc = root.find(f"{SVG}desc").text
    assert "¥4,800.00" in desc and "¥3,500.00" in desc and "2026年3月" in desc
    heights = [float(b.get("height")) for b in _bars(svg)]
    plot = charts.HEIGHT - charts.TOP - charts.BOTTOM
    top = charts._nice_ceiling(500_000)
    assert top == 500_000
    assert heights == pytest.approx([plot, plot / 5, 0.0, plot / 2], abs=0.1)  # a negative month draws nothing
    english = ET.fromstring(str(charts.monthly_chart(months, "en")))
    assert "Mar 2026" in english.find(f"{SVG}desc").text


def test_chart_of_nothing_says_so():
    root = ET.fromstring(str(charts.monthly_chart([], "en")))
    assert root.find(f"{SVG}desc").text == "No income or spending recorded yet."
    assert _bars(str(charts.monthly_chart([], "zh"))) == []


def test_scale_steps_are_round():
    assert [charts._nice_ceiling(v) for v in (1, 101, 250, 30_001, 700_000)] == [100, 200, 500, 50_000, 1_000_000]
