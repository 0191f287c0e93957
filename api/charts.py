"""Income and spending by month as an SVG bar chart drawn on the server: no script, no web font, and a
text alternative (title, description, and the same figures as a table beside it)."""

from __future__ import annotations

from html import escape
from typing import Any

from markupsafe import Markup

from api.i18n import format_month, pick
from ledger.money import format_cny

INCOME_COLOUR = "#1f6f50"
SPENDING_COLOUR = "#9b1c1c"
WIDTH, HEIGHT = 640, 260
LEFT, RIGHT, TOP, BOTTOM = 64, 8, 28, 40


def _nice_ceiling(fen: int) -> int:
    """The smallest 1, 2 or 5 × 10ⁿ yuan at or above ``fen``, in fen, so the scale reads easily."""
    step = 100
    while True:
        for factor in (1, 2, 5):
            if step * factor >= fen:
                return step * factor
        step *= 10


def _axis_label(fen: int, lang: str) -> str:
    yuan = fen // 100
    if lang == "zh" and yuan >= 10_000:
        return f"{yuan / 10_000:g}万"
    if lang == "en" and yuan >= 1_000_000:
        return f"{yuan / 1_000_000:g}M"
    if lang == "en" and yuan >= 1_000:
        return f"{yuan / 1_000:g}k"
    return f"{yuan:,}"


def monthly_chart(months: list[dict[str, Any]], lang: str, ident: str = "chart") -> Markup:
    """Paired bars per month; negative months (corrections exceeding receipts) are drawn at zero and
    still read correctly in the description and the table."""
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
    top = _nice_ceiling(max([1] + [max(m["income"], m["spending"]) for m in months]))
    parts = [
        (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" class="chart" '
         f'aria-labelledby="{ident}-title {ident}-desc" preserveAspectRatio="xMidYMid meet">'),
        f'<title id="{ident}-title">{escape(title)}</title>',
        f'<desc id="{ident}-desc">{escape(desc)}</desc>',
    ]
    for tick in range(5):
        value = top * tick // 4
        y = TOP + plot_h - plot_h * tick / 4
        parts.append(f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" stroke="#d5dbe1"/>')
        parts.append(f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" font-size="11" fill="#3d4650">'
                     f'{escape(_axis_label(value, lang))}</text>')
    slot = plot_w / max(1, len(months))
    bar = max(1.0, slot * 0.38)
    for i, m in enumerate(months):
        x = LEFT + slot * i + slot * 0.1
        for offset, key, colour in ((0, "income", INCOME_COLOUR), (bar, "spending", SPENDING_COLOUR)):
            h = plot_h * max(0, m[key]) / top
            parts.append(f'<rect x="{x + offset:.1f}" y="{TOP + plot_h - h:.1f}" width="{bar:.1f}" height="{h:.1f}" '
                         f'fill="{colour}"><title>{escape(format_month(m["month"], lang))} '
                         f'{escape(pick(lang, "收入" if key == "income" else "支出", key))} '
                         f'{escape(format_cny(m[key]))}</title></rect>')
        if len(months) <= 12 or i % 2 == 0:
            label = m["month"][2:].replace("-", "/") if lang == "en" else f'{int(m["month"][5:])}月'
            parts.append(f'<text x="{x + bar:.1f}" y="{HEIGHT - BOTTOM + 16}" text-anchor="middle" font-size="11" '
                         f'fill="#3d4650">{escape(label)}</text>')
    legend_y = HEIGHT - 8
    for offset, colour, text in ((0, INCOME_COLOUR, pick(lang, "收入", "Income")),
                                 (110, SPENDING_COLOUR, pick(lang, "支出", "Spending"))):
        parts.append(f'<rect x="{LEFT + offset}" y="{legend_y - 10}" width="12" height="12" fill="{colour}"/>')
        parts.append(f'<text x="{LEFT + offset + 18}" y="{legend_y}" font-size="12" fill="#1b1f24">'
                     f'{escape(text)}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))
