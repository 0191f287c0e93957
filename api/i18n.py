"""Chinese first, English on request: which language a visitor reads, and how numbers and dates look in it.

The language comes from ``?lang=zh|en`` (remembered in a cookie) or the cookie alone; zh-CN otherwise.
Texts sit in the templates in pairs, ``t("累计收入", "Income")``, so both languages stay side by side.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from fastapi import Request

from ledger.money import format_cny
from projections.base import CHINA

Lang = Literal["zh", "en"]
LANGS: tuple[str, ...] = ("zh", "en")
COOKIE = "wushe_lang"
_MONTHS_EN = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def language(request: Request, asked: str | None) -> Lang:
    """The query parameter (already validated) wins, then the cookie, then Chinese."""
    if asked in LANGS:
        return asked  # type: ignore[return-value]
    remembered = request.cookies.get(COOKIE)
    return remembered if remembered in LANGS else "zh"  # type: ignore[return-value]


def pick(lang: str, zh: str, en: str) -> str:
    return en if lang == "en" else zh


def format_date(value: str | date | None, lang: str) -> str:
    """``2026-11-27`` → 2026年11月27日 or 27 Nov 2026; a timestamp is shown as its Shanghai date."""
    if value in (None, ""):
        return ""
    if isinstance(value, str):
        value = datetime.fromisoformat(value) if "T" in value else date.fromisoformat(value)
    if isinstance(value, datetime):
        value = value.astimezone(CHINA).date() if value.tzinfo else value.date()
    if lang == "en":
        return f"{value.day} {_MONTHS_EN[value.month - 1]} {value.year}"
    return f"{value.year}年{value.month}月{value.day}日"


def format_month(value: str, lang: str) -> str:
    """``2026-11`` → 2026年11月 or Nov 2026."""
    year, month = (int(part) for part in value.split("-")[:2])
    return f"{_MONTHS_EN[month - 1]} {year}" if lang == "en" else f"{year}年{month}月"


def format_time(value: str | None) -> str:
    """A UTC timestamp as Shanghai wall-clock time, ``14:05``."""
    if not value:
        return ""
    return datetime.fromisoformat(value).astimezone(CHINA).strftime("%H:%M")


def format_decimal(text: str | None) -> str:
    """A decimal string with thousands separators: ``12345.50`` → ``12,345.50``."""
    if text in (None, ""):
        return ""
    whole, dot, part = str(text).partition(".")
    sign = "-" if whole.startswith("-") else ""
    return f"{sign}{int(whole.lstrip('-')):,}{dot}{part}"


def install(env) -> None:
    """Register the filters the templates use on a Jinja2 environment."""
    env.filters["cny"] = format_cny
    env.filters["decimal"] = format_decimal
    env.filters["shanghai_time"] = format_time
