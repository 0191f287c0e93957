"""Money at the edges: decimal yuan strings in, integer fen inside, ¥1,234.50 out; never a float."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger.errors import InvalidAmount, InvalidInput
from ledger.money import MAX_FEN, format_cny, parse_amount, to_decimal, to_decimal_string


@pytest.mark.parametrize(
    ("text", "fen"),
    [
        ("1", 100),
        ("0.5", 50),
        ("0.05", 5),
        ("0.01", 1),
        ("1234.56", 123456),
        ("1234.5", 123450),
        ("10000000000.00", MAX_FEN),
        ("10000000000", MAX_FEN),
        ("１２", 1200),  # full-width digits, as a Chinese input method types them, are the same digits
        ("１２．５", 1250),
    ],
)
def test_parse_amount_accepts_plain_decimal_yuan(text, fen):
    assert parse_amount(text) == fen


@pytest.mark.parametrize(
    "text",
    ["", "-1", "0", "0.00", "1.234", "1e3", "1,000", " 1 2", "abc", "+1", "1.", ".5", "01", "10000000000.01"],
)
def test_parse_amount_refuses_anything_else_naming_the_field(text):
    with pytest.raises(InvalidAmount) as err:
        parse_amount(text, field="budget")
    assert err.value.field == "budget"
    assert err.value.rule == "invalid-amount"
    assert isinstance(err.value, InvalidInput)
    assert "budget" in err.value.message


@pytest.mark.parametrize("value", [1.5, 1, Decimal("1.50"), None, True])
def test_parse_amount_refuses_non_string_input(value):
    with pytest.raises(InvalidAmount) as err:
        parse_amount(value)  # type: ignore[arg-type]
    assert err.value.field == "amount"


def test_parse_amount_default_field_is_amount():
    with pytest.raises(InvalidAmount) as err:
        parse_amount("0")
    assert err.value.field == "amount"
    assert "greater than zero" in err.value.message


@pytest.mark.parametrize(
    ("fen", "text"),
    [(123450, "1234.50"), (5, "0.05"), (100, "1.00"), (0, "0.00"), (-5, "-0.05"), (-123456, "-1234.56"),
     (MAX_FEN, "10000000000.00")],
)
def test_to_decimal_string(fen, text):
    assert to_decimal_string(fen) == text
    assert to_decimal(fen) == Decimal(text)


@pytest.mark.parametrize(
    ("fen", "shown"),
    [
        (123450, "¥1,234.50"),
        (-123450, "-¥1,234.50"),
        (0, "¥0.00"),
        (7, "¥0.07"),
        (-7, "-¥0.07"),
        (100_000_000, "¥1,000,000.00"),
        (MAX_FEN, "¥10,000,000,000.00"),
    ],
)
def test_format_cny(fen, shown):
    assert format_cny(fen) == shown


@pytest.mark.parametrize("value", [1.5, 100.0, Decimal("1.5"), "100", True, None])
@pytest.mark.parametrize("function", [format_cny, to_decimal_string, to_decimal])
def test_no_float_or_other_non_int_is_ever_formatted(function, value):
    with pytest.raises(TypeError):
        function(value)


@given(st.integers(min_value=1, max_value=MAX_FEN))
def test_round_trip_through_the_decimal_string(fen):
    assert parse_amount(to_decimal_string(fen)) == fen


@given(st.integers(min_value=-MAX_FEN, max_value=MAX_FEN))
def test_format_cny_reads_back_as_the_same_amount(fen):
    shown = format_cny(fen)
    negative = shown.startswith("-")
    digits = shown.removeprefix("-").removeprefix("¥").replace(",", "")
    assert Decimal(digits) * 100 * (-1 if negative else 1) == fen
    assert negative == (fen < 0)


@pytest.mark.parametrize("typed, zh, en", [
    ("1,000", "请去掉千位分隔符：1,000 应写作 1000", "remove the thousands separators: 1,000 should be 1000"),
    ("１，０００", "请去掉千位分隔符", "remove the thousands separators"),
    ("12.345", "最多两位小数（到分）：12.345 有 3 位小数", "at most two decimal places (fen): 12.345 has 3"),
    ("¥100", "金额不要带 ¥ 或“元”：¥100 应写作 100", "without a currency sign or unit: ¥100 should be 100"),
    ("-5", "金额须为正数", "an amount is positive (-5)"),
    ("007", "不能以 0 开头：007 应写作 7", "no leading zeros: 007 should be 7"),
])
def test_a_refused_amount_says_what_was_typed_and_what_is_expected_in_both_languages(typed, zh, en):
    with pytest.raises(InvalidAmount) as err:
        parse_amount(typed)
    assert zh in err.value.message_zh and en in err.value.message
    assert not re.search(r"[A-Za-z]{2,}", err.value.message_zh)  # no English word in the Chinese
