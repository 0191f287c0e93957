"""Amounts in capital numerals (大写金额) for receipts, and grouped amounts from bank exports.

The expected words are checked by hand against the People's Bank of China rules for writing
amounts on bills (正确填写票据和结算凭证的基本规定): 整 after 元 when there are no 角 or 分; 零
between 元 and 分 when 角 is zero; one 零 for a run of zeros inside the number; 壹拾 for ten."""

from __future__ import annotations

import pytest

from ledger.errors import InvalidAmount
from ledger.money import format_cny_words, parse_amount, parse_grouped_amount

WORDS = [
    (1_000_005, "人民币壹万元零伍分"),           # 10,000.05: 角 is zero, so 零 before 分
    (1_640_902, "人民币壹万陆仟肆佰零玖元零贰分"),  # 16,409.02: the bank rules' own example
    (32_504, "人民币叁佰贰拾伍元零肆分"),          # 325.04
    (168_032, "人民币壹仟陆佰捌拾元叁角贰分"),      # 1,680.32: 元 place zero, 角 not: no 零 needed
    (10_700_053, "人民币壹拾万柒仟元伍角叁分"),     # 107,000.53
    (101_001, "人民币壹仟零壹拾元零壹分"),          # 1,010.01
    (10_010, "人民币壹佰元壹角"),                  # 100.10: 分 zero after 角, nothing more
    (2_030, "人民币贰拾元叁角"),                   # 20.30
    (10_000, "人民币壹佰元整"),                    # whole yuan: 整
    (10_100, "人民币壹佰零壹元整"),
    (1_000, "人民币壹拾元整"),                     # ten is 壹拾 on bills
    (1_500, "人民币壹拾伍元整"),
    (10_000_100, "人民币壹拾万零壹元整"),
    (10_001_000_000, "人民币壹亿零壹万元整"),
    (5, "人民币伍分"),
    (10, "人民币壹角"),
    (60, "人民币陆角"),
    (150, "人民币壹元伍角"),
    (200_000_007, "人民币贰佰万元零柒分"),
    (1_000_000_000_000, "人民币壹佰亿元整"),        # the ledger's largest amount
    (999_999_999_999, "人民币玖拾玖亿玖仟玖佰玖拾玖万玖仟玖佰玖拾玖元玖角玖分"),
]


@pytest.mark.parametrize(("fen", "words"), WORDS)
def test_capital_numerals_follow_the_rules_for_bills(fen, words):
    assert format_cny_words(fen) == words


@pytest.mark.parametrize("bad", [0, -100, 12.5, True])
def test_capital_numerals_are_for_positive_whole_fen(bad):
    with pytest.raises((ValueError, TypeError)):
        format_cny_words(bad)


@pytest.mark.parametrize(("text", "fen"), [("1,000.00", 100_000), ("12,345.67", 1_234_567), ("1,234,567", 123_456_700),
                                           ("999.5", 99_950), ("50", 5_000)])
def test_grouped_amounts_read_whole_groups(text, fen):
    assert parse_grouped_amount(text) == fen


@pytest.mark.parametrize("text", ["1,00", "1,0000.00", ",100", "1,000.001", "01,000", "-1,000.00", "+1,000",
                                  "1 000.00", "=1000", "1,000,00"])
def test_grouped_amounts_refuse_anything_else(text):
    with pytest.raises(InvalidAmount):
        parse_grouped_amount(text)


def test_plain_amounts_still_refuse_grouping():
    with pytest.raises(InvalidAmount):
        parse_amount("1,000.00")
