"""Checks shared by every command context: amounts, codes and free text at the ledger's edge."""

from __future__ import annotations

from ledger.errors import InvalidInput
from ledger.messages import msg
from ledger.money import MAX_FEN
from ledger.text import check_text

_CODE_CHARS = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


def check_amount(amount: int, field_name: str = "amount") -> None:
    if isinstance(amount, bool) or not isinstance(amount, int):
        raise InvalidInput(field_name, msg("amounts are integer fen inside the ledger"))
    if not 0 < amount <= MAX_FEN:
        raise InvalidInput(field_name, msg("must be greater than zero and at most ¥10,000,000,000.00"))


def check_code(code: str, field_name: str) -> None:
    if not code or len(code) > 64 or not set(code) <= _CODE_CHARS:
        raise InvalidInput(field_name, msg("use letters, digits, '-' and '_' only, at most 64 of them"))


def require_text(value: str, field_name: str) -> None:
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput(field_name, msg("must not be empty"))
    if len(value) > 2000:
        raise InvalidInput(field_name, msg("is too long: at most {count} characters", count=2000))
    check_text(value, field_name)


def clean(value: str | None, field_name: str = "text") -> str | None:
    if value is None:
        return None
    value = value.strip()
    if len(value) > 2000:
        raise InvalidInput(field_name, msg("is too long: at most {count} characters", count=2000))
    check_text(value, field_name)
    return value or None


MAX_REFERENCE = 200
"""The longest source name or source reference an imported row may carry."""


def check_imported(imported: dict | None) -> None:
    """An imported row's origin: exactly a source and a reference, both short printable text."""
    if imported is None:
        return
    if not isinstance(imported, dict) or set(imported) != {"source", "reference"}:
        raise InvalidInput("imported", "must name exactly a source and a reference", "须且仅须写明来源和来源编号")
    for name in ("source", "reference"):
        value = imported[name]
        if not isinstance(value, str) or not value.strip() or value != value.strip() or len(value) > MAX_REFERENCE \
                or not value.isprintable():
            raise InvalidInput(f"imported.{name}", f"must be printable text of 1 to {MAX_REFERENCE} characters",
                               f"须为1至{MAX_REFERENCE}个可打印字符")
