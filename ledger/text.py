"""Text the ledger accepts: no control characters, no lone surrogates, no bidirectional overrides.

A name or purpose is shown to residents on pages, printed on receipts and opened in spreadsheets;
a NUL cannot even be stored in a PostgreSQL view, an escape sequence repaints a terminal, and a
right-to-left override makes ``张三`` read as someone else. Such text is refused where it enters:
the API's schemas, the ledger's own text checks (so the CLI and every import too), and, last, the
signing mapper, which checks every string of an event before it is sealed."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from ledger.errors import InvalidInput

FORBIDDEN = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff\u202a-\u202e\u2066-\u2069\ufffe\uffff]")
"""C0 and C1 controls (tab and newlines too: every text is one line), surrogates, the bidirectional
embeddings, overrides and isolates, and the two noncharacters of the basic plane."""


class ControlCharacter(InvalidInput):
    """A text field holds a control character (or another character the ledger never stores)."""

    rule = "control-character"
    title_zh = "含有控制字符"

    def __init__(self, field: str, index: int, char: str):
        code = f"U+{ord(char):04X}"
        super().__init__(field, f"contains the control character {code} at character {index + 1}; remove it",
                         f"第 {index + 1} 个字符是控制字符 {code}，请删除后重试")


def check_text(value: Any, field: str) -> None:
    """Refuse a string holding a forbidden character, naming the field and the character."""
    if isinstance(value, str):
        found = FORBIDDEN.search(value)
        if found is not None:
            raise ControlCharacter(field, found.start(), found.group())


def check_tree(value: Any, path: Iterable[str] = ()) -> None:
    """``check_text`` over every string (and key) of a JSON-like value; the field named is the
    dotted path to it (``milestones.0.name``)."""
    path = tuple(path)
    if isinstance(value, str):
        check_text(value, ".".join(path) or "body")
    elif isinstance(value, dict):
        for key, item in value.items():
            check_text(key, ".".join((*path, str(key))))
            check_tree(item, (*path, str(key)))
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            check_tree(item, (*path, str(index)))
