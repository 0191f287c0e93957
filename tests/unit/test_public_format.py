"""How the public pages write dates, months, numbers and the monthly chart, in Chinese and English."""

from __future__ import annotations

import math
import re
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
              {"month": "2026-04", "income": 300_000, "spending": 250_000}]
    svg = str(charts.monthly_chart(months, "zh"))
    root = ET.fromstring(svg)
    assert root.get("role") == "img" and root.get("aria-labelledby") == "chart-title chart-desc"
    desc = root.find(f"{SVG}desc").text
    assert "¥8,000.00" in desc and "¥3,500.00" in desc and "2026年3月" in desc
    heights = [float(b.get("height")) for b in _bars(svg)]
    plot = charts.HEIGHT - charts.TOP - charts.BOTTOM
    assert charts._scale(months)[:2] == (0, 500_000)
    assert heights == pytest.approx([plot, plot / 5, plot * 3 / 5, plot / 2], abs=0.1)
    english = ET.fromstring(str(charts.monthly_chart(months, "en")))
    assert "Mar 2026" in english.find(f"{SVG}desc").text


def _labels(svg: str) -> list[str]:
    root = ET.fromstring(svg)
    return [t.text for t in root.iter(f"{SVG}text") if t.get("text-anchor") == "middle"]


def test_every_month_between_first_and_last_is_drawn():
    months = [{"month": "2025-10", "income": 100_00, "spending": 0},
              {"month": "2026-01", "income": 200_00, "spending": 50_00}]
    svg = str(charts.monthly_chart(months, "zh"))
    titles = [b.find(f"{SVG}title").text for b in _bars(svg)]
    assert [t.split()[0] for t in titles[::2]] == ["2025年10月", "2025年11月", "2025年12月", "2026年1月"]
    assert _labels(svg) == ["2025年10月", "11月", "12月", "2026年1月"]
    assert _labels(str(charts.monthly_chart(months, "en"))) == ["Oct 2025", "Nov", "Dec", "Jan 2026"]
    assert [m["month"] for m in charts.continuous(months)] == ["2025-10", "2025-11", "2025-12", "2026-01"]


def test_a_negative_month_goes_below_the_zero_line():
    months = [{"month": "2026-03", "income": 400_000, "spending": 0},
              {"month": "2026-04", "income": -100_000, "spending": 0}]
    svg = str(charts.monthly_chart(months, "en"))
    march, _, april, _ = _bars(svg)
    zero = float(march.get("y")) + float(march.get("height"))
    assert float(april.get("y")) == pytest.approx(zero) and float(april.get("height")) > 0
    assert float(april.get("height")) == pytest.approx(float(march.get("height")) / 4, abs=0.2)
    axis = [t.text for t in ET.fromstring(svg).iter(f"{SVG}text") if t.get("text-anchor") == "end"]
    assert axis[0].startswith("-") and "0" in axis


def test_labels_stay_readable_at_a_phone_width():
    phone_page_width = 390 - 32  # the page's padding of 1rem each side
    for n in (3, 12, 36, 120):
        months = [{"month": f"{2016 + i // 12}-{i % 12 + 1:02d}", "income": 1000, "spending": 10} for i in range(n)]
        for lang in ("zh", "en"):
            root = ET.fromstring(str(charts.monthly_chart(months, lang)))
            sizes = {float(t.get("font-size")) for t in root.iter(f"{SVG}text")}
            assert min(sizes) * phone_page_width / charts.WIDTH >= 12
            labels = [t for t in root.iter(f"{SVG}text") if t.get("text-anchor") == "middle"]
            assert labels and any(re.search(r"\d{4}", t.text) for t in labels)  # the year is said

            def width(text):
                return sum(charts.FONT * (1 if ord(c) > 0x2E80 else 0.6) for c in text)
            for a, b in zip(labels, labels[1:], strict=False):  # centred labels that do not touch
                assert float(b.get("x")) - float(a.get("x")) >= (width(a.text) + width(b.text)) / 2, (n, lang)


def test_chart_of_nothing_says_so():
    root = ET.fromstring(str(charts.monthly_chart([], "en")))
    assert root.find(f"{SVG}desc").text == "No income or spending recorded yet."
    assert _bars(str(charts.monthly_chart([], "zh"))) == []


def test_scale_steps_are_round_and_tight():
    for high, low in ((101, 0), (999, 0), (123_456, 0), (7_000_001, 0), (400_000, -100_000), (50, -9_000)):
        bottom, top, step = charts._scale([{"month": "2026-01", "income": high, "spending": low}])
        yuan = step / 100
        assert bottom <= low and high <= top and (top - bottom) // step <= 5 and bottom % step == 0 == top % step
        assert top - high < step and low - bottom < step  # one step at most beyond the figures
        assert yuan / 10 ** math.floor(math.log10(yuan)) in (1, 2, 2.5, 5)
    assert [charts._axis_label(v, "zh") for v in (12_000_000, -300_000, 250)] == ["12万", "-3,000", "2"]
    assert [charts._axis_label(v, "en") for v in (12_500_000, 250_000_000)] == ["125k", "2.5M"]


