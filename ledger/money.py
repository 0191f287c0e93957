"""Money at the edges: parse decimal yuan strings into integer fen and format fen for people."""

from __future__ import annotations

import re
import unicodedata
from decimal import Decimal

from ledger.errors import InvalidAmount, InvalidInput
from ledger.messages import Msg, msg, term

#: The largest single amount the ledger accepts: ¥10,000,000,000.00. It keeps every sum of a
#: decade of a district far inside the 2**53 range that RFC 8785 numbers can carry exactly.
MAX_FEN = 1_000_000_000_000

_AMOUNT = re.compile(r"^(?P<yuan>0|[1-9][0-9]*)(?:\.(?P<fen>[0-9]{1,2}))?$")
_GROUPED = re.compile(r"^[1-9][0-9]{0,2}(,[0-9]{3})+(\.[0-9]{1,2})?$")


def parse_amount(text: str, *, field: str = "amount") -> int:
    """Parse a positive decimal yuan string with at most two places ("1234.5") into fen (123450).

    Only plain digits: no sign, exponent, grouping commas, spaces or float input. Full-width
    digits and points (１００．５, as Chinese input methods type them) are read as the same
    digits (Unicode NFKC). Anything else is refused saying what was typed and what is expected."""
    problem = amount_problem(text)
    if problem is not None:
        raise InvalidAmount(field, problem)
    match = _AMOUNT.match(normalise_amount(text))
    assert match is not None
    return _hundredths(match)


def _hundredths(match: re.Match) -> int:
    """A matched decimal with at most two places as a whole number of hundredths."""
    return int(match["yuan"]) * 100 + int((match["fen"] or "0").ljust(2, "0"))


def parse_rate_bp(text: str, *, field: str = "fee_rate") -> int:
    """A rate typed as a percent with at most two places ("3", "2.5", "2.5%") as basis points (250)."""
    match = _AMOUNT.match(normalise_amount(text).removesuffix("%").strip())
    if match is None:
        raise InvalidInput(field, f"{text!r} is not a percent: write at most two decimal places, such as 2.5",
                           f"{text!r} 不是百分比：最多两位小数，例如 2.5")
    return _hundredths(match)


def normalise_amount(text: str) -> str:
    """Full-width digits, points and commas as ASCII (NFKC), without surrounding spaces."""
    return unicodedata.normalize("NFKC", text).strip().replace("。", ".")


def amount_problem(text: object) -> Msg | None:
    """What is wrong with an amount as typed, or None: one message naming what was typed and what
    an amount looks like, for the CLI and the API alike."""
    if not isinstance(text, str):
        return msg("an amount is a decimal string in quotes, such as \"1200.50\", not {kind}",
                   kind=term("a JSON number") if isinstance(text, int | float) else term("another kind of value"))
    typed = text if len(text) <= 40 else text[:40] + "…"
    clean = normalise_amount(text)
    if not clean:
        return msg("the amount is empty; write yuan such as 1200.50")
    if _AMOUNT.match(clean) is None:
        body = clean.removeprefix("¥").removeprefix("￥").removesuffix("元").strip()
        if body != clean:
            return msg("write the amount without a currency sign or unit: {typed} should be {expected}", typed=typed,
                       expected=body if _AMOUNT.match(body) else "1200.50")
        if re.fullmatch(r"[0-9]{1,3}([, ][0-9]{3})+(\.[0-9]+)?", body):
            return msg("remove the thousands separators: {typed} should be {expected}", typed=typed,
                       expected=body.replace(",", "").replace(" ", ""))
        if re.fullmatch(r"(0|[1-9][0-9]*)\.[0-9]{3,}", body):
            return msg("at most two decimal places (fen): {typed} has {places}", typed=typed,
                       places=len(body.split(".")[1]))
        if body.startswith("-"):
            return msg("an amount is positive ({typed}); a mistake is undone by a correction, not a negative amount",
                       typed=typed)
        if re.fullmatch(r"0[0-9]+(\.[0-9]{1,2})?", body):
            return msg("no leading zeros: {typed} should be {expected}", typed=typed, expected=body.lstrip("0") or "0")
        return msg("{typed} is not an amount: write yuan with digits and at most two decimal places, such as 1200.50",
                   typed=typed)
    match = _AMOUNT.match(clean)
    fen = int(match["yuan"]) * 100 + int((match["fen"] or "0").ljust(2, "0"))
    if fen <= 0:
        return msg("the amount must be greater than zero")
    if fen > MAX_FEN:
        return msg("the amount must not exceed {limit}", limit=to_decimal_string(MAX_FEN))
    return None


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
