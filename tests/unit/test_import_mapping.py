"""Reading uploaded exports through a column mapping: the header found below a bank's account
lines, GB18030 and UTF-8, cells that look like formulas kept as data, XLSX numbers as the digits
the file holds, and each unreadable cell named by its column in both languages."""

from __future__ import annotations

import io

import pytest
from importkit import csv_rows, mapping, platform_xlsx, sample, to_csv
from openpyxl import Workbook

from ledger.errors import InvalidInput
from ledger.imports.mapping import RowReader, mapping_from
from ledger.imports.sheets import MAX_ROWS, number_text, read_sheet
from ledger.reference import load_reference


def rows_of(data: bytes, name: str, filename: str) -> list:
    m = mapping(name)
    sheet = read_sheet(data, filename, wanted=m.wanted, header_row=m.header_row, encoding=m.encoding)
    reader = RowReader(m, load_reference())
    return [reader.read(r.number, r.cells) for r in sheet.rows if not reader.skipped(r.cells)]


def test_bank_statement_in_gb18030_with_account_lines_debits_and_totals():
    rows = rows_of(sample("bank-statement.csv"), "bank-statement", "bank-statement.csv")
    assert [r.number for r in rows] == [7, 9, 10]  # the header is row 6; the fee (a debit) and 合计 are left out
    assert [r.values["amount"] for r in rows] == [100_000, 50_000, 1_234_567]  # "1,000.00", "500.00", "12,345.67"
    assert [r.reference for r in rows] == ["B2026110200001", "B2026110400002", "B2026111000015"]
    assert rows[0].values["donor_name"] == "上海某某科技有限公司" and rows[0].values["date"] == "2026-11-02"
    assert not any(r.errors for r in rows)


def test_a_plain_mapping_refuses_grouped_amounts_naming_the_column():
    m = mapping("bank-statement").model_copy(update={"amount_format": "plain"})
    sheet = read_sheet(sample("bank-statement.csv"), "b.csv", wanted=m.wanted)
    reader = RowReader(m, load_reference())
    first = reader.read(*next((r.number, r.cells) for r in sheet.rows if not reader.skipped(r.cells)))
    (error,) = first.errors
    assert (error.field, error.column, error.rule) == ("amount", "贷方金额", "invalid-amount")
    assert "千位分隔符" in error.message_zh and "grouped" in error.message


def test_cells_that_look_like_formulas_are_data_and_never_amounts():
    rows = csv_rows("platform-gongyi.csv")
    rows[1][2] = "=1+2"
    rows[2][2] = "+200"
    rows[3][2] = "-18.80"
    rows[4][2] = "@SUM(A1)"
    parsed = rows_of(to_csv(rows), "platform-gongyi", "p.csv")
    for row in parsed[:4]:
        assert [(e.column, e.rule) for e in row.errors] == [("捐赠金额", "invalid-amount")]
    assert parsed[5].values["donor_name"] == '=HYPERLINK("http://example.invalid")'  # kept as the text it is


def test_xlsx_numbers_and_date_times_read_as_the_csv_does():
    from_csv = rows_of(sample("platform-gongyi.csv"), "platform-gongyi", "p.csv")
    from_xlsx = rows_of(platform_xlsx(), "platform-gongyi", "p.xlsx")
    assert [(r.reference, r.values) for r in from_xlsx] == [(r.reference, r.values) for r in from_csv]


def test_an_xlsx_formula_is_read_as_its_text_never_as_a_cached_value():
    book = Workbook()
    sheet = book.active
    sheet.append(csv_rows("platform-gongyi.csv")[0])
    sheet.append(["GY1", "2026-11-01 09:00:00", "=40+10", "=A1", "否", "", "", ""])
    out = io.BytesIO()
    book.save(out)
    (row,) = rows_of(out.getvalue(), "platform-gongyi", "f.xlsx")
    assert [e.column for e in row.errors] == ["捐赠金额"]
    assert row.values["donor_name"] == "=A1"


@pytest.mark.parametrize(("value", "text"), [(1000.05, "1000.05"), (0.1, "0.1"), (12345678.91, "12345678.91"),
                                             (100, "100"), (99999999.99, "99999999.99")])
def test_xlsx_numbers_come_back_as_the_digits_stored(value, text):
    assert number_text(value) == text


def test_a_missing_column_is_refused_before_any_row_in_both_languages():
    rows = csv_rows("platform-gongyi.csv")
    rows[0][2] = "金额"
    with pytest.raises(InvalidInput) as refused:
        rows_of(to_csv(rows), "platform-gongyi", "p.csv")
    assert "捐赠金额" in refused.value.message and "捐赠金额" in refused.value.message_zh
    assert refused.value.field == "mapping"


def test_rows_without_a_reference_column_are_told_apart_by_content_and_occurrence():
    rows = rows_of(sample("signin-sheet.csv"), "signin-sheet", "s.csv")
    refs = [r.reference for r in rows]
    assert len(set(refs)) == 4 and all(r.startswith("row:") and r.endswith(":1") for r in refs)
    twice = list(csv_rows_plain("signin-sheet.csv")) + [csv_rows_plain("signin-sheet.csv")[1]]
    again = rows_of("\n".join(",".join(r) for r in twice).encode(), "signin-sheet", "s.csv")
    assert again[-1].reference == again[0].reference[:-2] + ":2"  # an identical second row is its own row


def csv_rows_plain(name: str) -> list[list[str]]:
    return [line.split(",") for line in sample(name).decode().splitlines()]


def test_names_of_street_towns_and_domains_read_as_their_codes():
    rows = rows_of(sample("signin-sheet.csv"), "signin-sheet", "s.csv")
    assert [r.values["domain"] for r in rows] == ["elderly_care", "elderly_care", "elderly_care", "community_governance"]
    assert rows[0].values["start"] == "09:00" and rows[0].values["date"] == "2026-11-03"


@pytest.mark.parametrize(("change", "problem"), [
    ({"kind": "grants"}, "kind"),
    ({"columns": {"amount": "金额", "date": "日期", "colour": "颜色"}}, "colour"),
    ({"defaults": {"donor_type": "resident", "amount": "100"}}, "amount"),
    ({"columns": {"date": "日期"}}, "amount"),
    ({"name": "两个 words"}, "name"),
    ({"skip": [{"column": "A"}]}, "skip"),
])
def test_a_bad_mapping_is_refused_naming_what_is_wrong(change, problem):
    good = mapping("platform-gongyi").as_json()
    with pytest.raises(InvalidInput) as refused:
        mapping_from({**good, **change}, "m.toml")
    assert problem in refused.value.message and "不是有效的列映射" in refused.value.message_zh


def test_a_file_beyond_the_row_limit_is_refused_while_reading():
    header = csv_rows("platform-gongyi.csv")[0]
    body = [[f"GY{i}", "2026-11-01", "1.00", "", "否", "", "", ""] for i in range(MAX_ROWS + 1)]
    m = mapping("platform-gongyi")
    sheet = read_sheet(to_csv([header, *body]), "big.csv", wanted=m.wanted)
    with pytest.raises(InvalidInput) as refused:
        list(sheet.rows)
    assert str(MAX_ROWS) in refused.value.message and "拆分" in refused.value.message_zh
