"""The one catalogue of what people read: messages are written in English in the code, marked with
``msg(...)`` (a whole message) or ``term(...)`` (a word a message or page shows: a kind, a status),
and their Chinese (zh-CN) lives in the gettext catalogue ``ledger/locale/zh_CN/LC_MESSAGES/wushe.po``,
read with Babel. ``make messages`` extracts new texts into it; ``tests/unit/test_messages.py``
fails while one has no translation, or a translation keeps an English word or loses a placeholder.

A message is a template with named placeholders (``"fund {code} does not exist"``); a placeholder
given a :class:`Msg` (a term) is shown in the reader's language too, so no English word of the
code lands inside a Chinese sentence.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Literal

from babel.messages.pofile import read_po

Lang = Literal["zh", "en"]
CATALOGUE = Path(__file__).parent / "locale" / "zh_CN" / "LC_MESSAGES" / "wushe.po"
KEYWORDS: dict[str, None] = {"msg": None, "term": None}
"""The functions whose first argument is a message of the catalogue (for Babel's extractor)."""


@functools.cache
def translations() -> dict[str, str]:
    """English text -> Chinese, every finished (non-fuzzy) entry of the catalogue."""
    with CATALOGUE.open("rb") as handle:
        catalog = read_po(handle, locale="zh_CN", domain="wushe")
    return {m.id: m.string for m in catalog if m.id and isinstance(m.id, str) and m.string and not m.fuzzy}


@dataclass(frozen=True)
class Msg:
    """A message of the catalogue with its values, shown in either language."""

    msgid: str
    params: Mapping[str, Any] = field(default_factory=dict)

    @property
    def en(self) -> str:
        return self.render("en")

    @property
    def zh(self) -> str:
        return self.render("zh")

    def render(self, lang: Lang | str) -> str:
        template = translations().get(self.msgid, self.msgid) if lang == "zh" else self.msgid
        if not self.params:
            return template
        return template.format_map({name: _shown(value, lang) for name, value in self.params.items()})

    def __str__(self) -> str:
        return f"{self.zh} / {self.en}"


def msg(msgid: str, **params: Any) -> Msg:
    """A message of the catalogue; ``params`` fill its placeholders."""
    return Msg(msgid, params)


def term(word: str) -> Msg:
    """A word of the catalogue (a kind, a status, a role) to show or to put into a message."""
    return Msg(word)


_MONTHS_EN = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


@dataclass(frozen=True)
class Day:
    """A date inside a message, written as each language writes dates: 2026年11月21日, 21 Nov 2026."""

    value: date

    def render(self, lang: Lang | str) -> str:
        d = self.value
        return f"{d.day} {_MONTHS_EN[d.month - 1]} {d.year}" if lang == "en" else f"{d.year}年{d.month}月{d.day}日"


def day(value: date | str) -> Day:
    return Day(date.fromisoformat(value) if isinstance(value, str) else value)


@dataclass(frozen=True)
class Codes:
    """Codes of the program (a donor type, a domain) inside a message: as they are in English, marked
    as code in Chinese so no bare English word stands in a Chinese sentence."""

    values: tuple[str, ...]

    def render(self, lang: Lang | str) -> str:
        if lang == "en":
            return ", ".join(self.values)
        return "、".join(f"`{v}`" for v in self.values)


def codes(values: Any) -> Codes:
    return Codes(tuple(str(v) for v in values))


def _shown(value: Any, lang: str) -> Any:
    if isinstance(value, Msg | Day | Codes):
        return value.render(lang)
    if isinstance(value, list | tuple):
        return ("、" if lang == "zh" else ", ").join(str(_shown(v, lang)) for v in value)
    return value


class Explained(Exception):
    """An error whose message is a :class:`Msg`: ``str()`` is the English, ``text`` both languages."""

    def __init__(self, message: Msg | str, *args: Any) -> None:
        self.text = message if isinstance(message, Msg) else Msg(message)
        super().__init__(self.text.en, *args)


def explain(exc: BaseException) -> Msg:
    """What an error says, in both languages where it is one of ours."""
    return exc.text if isinstance(exc, Explained) else Msg(str(exc))
