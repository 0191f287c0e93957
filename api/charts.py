"""Income and spending by month as an SVG bar chart drawn on the server: no script, no web font, and a
text alternative (title, description, and the same figures as a table beside it).

Every month between the first and the last is drawn, a quiet one as an empty slot; a month whose
corrections exceed its receipts goes below the zero line; the scale ends at the next round figure
above the highest month, not twice it; the labels say the month and, at the start and each January,
the year, and stay readable at a phone's width."""

from __future__ import annotations

import math
from decimal import Decimal
from html import escape
from typing import Any

from markupsafe import Markup

from api.i18n import format_month, pick
from ledger.money import format_cny

INCOME_COLOUR = "#1f6f50"
SPENDING_COLOUR = "#9b1c1c"
WIDTH, HEIGHT = 480, 288
LEFT, RIGHT, TOP, BOTTOM = 70, 6, 16, 66
FONT = 17
"""User units: a phone's 358 px of page width shows the 480-unit chart at 0.75, labels at 12.7 px."""
STEPS = (0.25, 0.5, 1, 2, 2.5, 5)
MONTH_EN = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def _axis_label(fen: int, lang: str) -> str:
    sign, yuan = ("-" if fen < 0 else ""), abs(fen) // 100

    def short(unit: int, suffix: str) -> str:
        return f"{sign}{(Decimal(yuan) / unit).normalize():f}{suffix}"
    if lang == "zh" and yuan >= 10_000:
        return short(10_000, "万")
    if lang == "en" and yuan >= 1_000_000:
        return short(1_000_000, "M")
    if lang == "en" and yuan >= 1_000:
        return short(1_000, "k")
    return f"{sign}{yuan:,}"


def continuous(months: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every month from the first to the last (``YYYY-MM``), those without activity at zero."""
    if not months:
        return []
    by_month = {m["month"]: m for m in months}
    first, last = min(by_month), max(by_month)
    year, month = int(first[:4]), int(first[5:7])
    out = []
    while (key := f"{year:04d}-{month:02d}") <= last:
        out.append(by_month.get(key, {"month": key, "income": 0, "spending": 0}))
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return out


def text_width(text: str) -> float:
    """About how wide ``text`` is drawn at FONT, in user units: a Chinese character is a square,
    Latin letters and digits a little over half of one."""
    return FONT * sum(1.0 if ord(c) > 0x2E80 else 0.66 for c in text)


def _tick_label(month: str, lang: str, with_year: bool) -> str:
    if with_year:
        return format_month(month, lang)
    return f"{int(month[5:7])}月" if lang == "zh" else MONTH_EN[int(month[5:7]) - 1]


def _month_labels(months: list[str], lang: str, slot: float) -> dict[int, str]:
    """Which months get a label under the axis, and its text: every month if they fit, else every
    second, third … month, so that no two labels touch; the year is said at the start and at each
    January, or on every label once they are a year or more apart."""
    every = 1
    while True:
        chosen = {i: _tick_label(m, lang, with_year=i == 0 or m.endswith("-01") or every >= 12)
                  for i, m in enumerate(months) if i % every == 0}
        spots = sorted(chosen)
        if all((text_width(chosen[a]) + text_width(chosen[b])) / 2 * 1.25 <= (b - a) * slot
               for a, b in zip(spots, spots[1:], strict=False)):
            return chosen
        every += 1


def _scale(months: list[dict[str, Any]]) -> tuple[int, int, int]:
    """The axis's lowest and highest values and its tick step, in fen: the smallest round step
    (1, 2, 2.5 or 5 × 10ⁿ yuan) that spans the months in at most five intervals, zero among the
    ticks, so the top is one step at most above the highest month."""
    high = max([0] + [max(m["income"], m["spending"]) for m in months])
    low = min([0] + [min(m["income"], m["spending"]) for m in months])
    if high == low:
        return 0, 100, 25
    power = 100
    while True:
        for factor in STEPS:
            step = round(power * factor)
            bottom, top = -step * math.ceil(-low / step), step * math.ceil(high / step)
            if (top - bottom) // step <= 5:
                return bottom, top, step
        power *= 10


def monthly_chart(months: list[dict[str, Any]], lang: str, ident: str = "chart") -> Markup:
    """Paired bars per month, drawn from the zero line up (or down, for a negative month)."""
    months = continuous(months)
    title = pick(lang, "按月收入与支出", "Income and spending by month")
    if not months:
        desc = pick(lang, "暂无收支记录。", "No income or spending recorded yet.")
    else:
        peak_in = max(months, key=lambda m: m["income"])
        peak_out = max(months, key=lambda m: m["spending"])
        total_in = sum(m["income"] for m in months)
        total_out = sum(m["spending"] for m in months)
        first, last = format_month(months[0]["month"], lang), format_month(months[-1]["month"], lang)
        desc = pick(
            lang,
            f"{first}至{last}共收入{format_cny(total_in)}，支出{format_cny(total_out)}。"
            f"收入最多的月份是{format_month(peak_in['month'], lang)}（{format_cny(peak_in['income'])}），"
            f"支出最多的月份是{format_month(peak_out['month'], lang)}（{format_cny(peak_out['spending'])}）。"
            "各月数字见下表。",
            f"From {first} to {last}: income {format_cny(total_in)}, spending {format_cny(total_out)}. "
            f"Highest income in {format_month(peak_in['month'], lang)} ({format_cny(peak_in['income'])}), "
            f"highest spending in {format_month(peak_out['month'], lang)} ({format_cny(peak_out['spending'])}). "
            "The table below gives every month.",
        )
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    low, high, step = _scale(months)

    def y(fen: int) -> float:
        return TOP + plot_h * (high - fen) / (high - low)

    parts = [
        (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" class="chart" '
         f'aria-labelledby="{ident}-title {ident}-desc" preserveAspectRatio="xMidYMid meet">'),
        f'<title id="{ident}-title">{escape(title)}</title>',
        f'<desc id="{ident}-desc">{escape(desc)}</desc>',
    ]
    for value in range(low, high + 1, step):
        parts.append(f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y(value):.1f}" y2="{y(value):.1f}" '
                     f'stroke="{"#3d4650" if value == 0 else "#d5dbe1"}"/>')
        parts.append(f'<text x="{LEFT - 6}" y="{y(value) + FONT * 0.35:.1f}" text-anchor="end" font-size="{FONT}" '
                     f'fill="#3d4650">{escape(_axis_label(value, lang))}</text>')
    slot = plot_w / max(1, len(months))
    bar = max(1.0, slot * 0.38)
    labels = _month_labels([m["month"] for m in months], lang, slot)
    for i, m in enumerate(months):
        x = LEFT + slot * i + slot * 0.1
        for offset, key, colour in ((0, "income", INCOME_COLOUR), (bar, "spending", SPENDING_COLOUR)):
            top, bottom = y(max(0, m[key])), y(min(0, m[key]))
            parts.append(f'<rect x="{x + offset:.1f}" y="{top:.1f}" width="{bar:.1f}" height="{bottom - top:.1f}" '
                         f'fill="{colour}"><title>{escape(format_month(m["month"], lang))} '
                         f'{escape(pick(lang, "收入" if key == "income" else "支出", key))} '
                         f'{escape(format_cny(m[key]))}</title></rect>')
        if (label := labels.get(i)) is not None:
            half = text_width(label) / 2 + 2  # kept inside the picture at both ends
            parts.append(f'<text x="{min(max(x + bar, half), WIDTH - half):.1f}" y="{HEIGHT - BOTTOM + FONT + 10}" text-anchor="middle" '
                         f'font-size="{FONT}" fill="#3d4650">{escape(label)}</text>')
    legend_y = HEIGHT - 6
    for offset, colour, text in ((0, INCOME_COLOUR, pick(lang, "收入", "Income")),
                                 (120, SPENDING_COLOUR, pick(lang, "支出", "Spending"))):
        parts.append(f'<rect x="{LEFT + offset}" y="{legend_y - FONT + 3}" width="{FONT - 3}" height="{FONT - 3}" '
                     f'fill="{colour}"/>')
        parts.append(f'<text x="{LEFT + offset + FONT + 4}" y="{legend_y}" font-size="{FONT}" fill="#1b1f24">'
                     f'{escape(text)}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))
