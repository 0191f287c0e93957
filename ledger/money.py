"""Money at the edges: parse decimal yuan strings into integer fen and format fen for people."""

from __future__ import annotations

import re
from decimal import Decimal

from ledger.errors import InvalidAmount

#: The largest single amount the ledger accepts: ¥10,000,000,000.00. It keeps every sum of a
#: decade of a district far inside the 2**53 range that RFC 8785 numbers can carry exactly.
MAX_FEN = 1_000_000_000_000

_AMOUNT = re.compile(r"^(?P<yuan>0|[1-9][0-9]*)(?:\.(?P<fen>[0-9]{1,2}))?$")
_GROUPED = re.compile(r"^[1-9][0-9]{0,2}(,[0-9]{3})+(\.[0-9]{1,2})?$")


def parse_amount(text: str, *, field: str = "amount") -> int:
    """Parse a positive decimal yuan string with at most two places ("1234.5") into fen (123450).

    Only plain digits are accepted: no sign, exponent, grouping commas, spaces or float input.
    """
    if not isinstance(text, str):
        raise InvalidAmount(field, f"must be a decimal string, not {type(text).__name__}")
    match = _AMOUNT.match(text.strip())
    if match is None:
        raise InvalidAmount(field, f"{text!r} is not a decimal amount with at most two places")
    fen = int(match["yuan"]) * 100 + int((match["fen"] or "0").ljust(2, "0"))
    if fen <= 0:
        raise InvalidAmount(field, "must be greater than zero")
    if fen > MAX_FEN:
        raise InvalidAmount(field, f"must not exceed {to_decimal_string(MAX_FEN)}")
    return fen


def to_decimal_string(fen: int) -> str:
    """Fen as a plain decimal string with two places: 123450 -> "1234.50", -5 -> "-0.05"."""
    _require_int(fen)
    sign = "-" if fen < 0 else ""
    whole, part = divmod(abs(fen), 100)
    return f"{sign}{whole}.{part:02d}"


def to_decimal(fen: int) -> Decimal:
    """Fen as an exact Decimal in yuan, for edges (spreadsheets) that want a number."""
    return Decimal(to_decimal_string(fen))


def format_cny(fen: int) -> str:
    """Fen for people: 123450 -> "¥1,234.50", -123450 -> "-¥1,234.50"."""
    _require_int(fen)
    sign = "-" if fen < 0 else ""
    whole, part = divmod(abs(fen), 100)
    return f"{sign}¥{whole:,}.{part:02d}"


def format_cny_words(fen: int) -> str:
    """Fen in capital numerals (大写金额) as receipts and cheques write them, by the People's Bank
    rules cn2an follows: 1000005 -> "人民币壹万元零伍分", 12300 -> "人民币壹佰贰拾叁元整"."""
    import cn2an  # only receipts need it

    _require_int(fen)
    if fen <= 0:
        raise ValueError("capital numerals are written for positive amounts")
    return "人民币" + cn2an.an2cn(to_decimal_string(fen), "rmb")


def parse_grouped_amount(text: str, *, field: str = "amount") -> int:
    """As ``parse_amount``, but thousands may be grouped with commas as bank exports write them
    ("12,345.67"); the groups must be whole (three digits each), so "1,00" is refused."""
    if isinstance(text, str) and _GROUPED.match(text.strip()):
        text = text.strip().replace(",", "")
    return parse_amount(text, field=field)


def _require_int(fen: int) -> None:
    if isinstance(fen, bool) or not isinstance(fen, int):
        raise TypeError(f"fen must be an int, not {type(fen).__name__}")
