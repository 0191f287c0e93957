"""Uploaded spreadsheets as rows of cells: CSV (UTF-8 or GB18030, as Chinese banks export it) and
XLSX (read as stored, never recalculated), with the header row found and every row numbered as the
spreadsheet shows it.

A cell is data and nothing else: text that looks like a formula (``=``, ``+``, ``-``, ``@``) stays
that text, and an XLSX formula is read as its formula text, never as a value some spreadsheet
computed. Numbers stored in an XLSX come back as the decimal digits the file holds (below), so no
amount ever passes through float arithmetic.
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time

from ledger.errors import InvalidInput

MAX_FILE_BYTES = 20 * 1024 * 1024
"""The largest upload read: about 100,000 rows of a platform's export."""
MAX_ROWS = 10_000
"""The most data rows one import takes: all of them are checked and written in one transaction."""
HEADER_SEARCH = 30
"""How many rows from the top may precede the header row (a bank statement's account lines)."""

Cell = str | date | datetime | time | None
"""A cell as read: text, a date, date-time or time an XLSX cell holds, or nothing."""


@dataclass(frozen=True)
class Row:
    """One data row: its number in the spreadsheet (1 is the first line) and its cells by header."""

    number: int
    cells: dict[str, Cell]


@dataclass
class Sheet:
    """The header row and the data rows below it."""

    headers: list[str]
    header_row: int
    rows: Iterator[Row]


def clean_header(text: object) -> str:
    """A header as compared with a mapping's column names: no surrounding (also full-width) space or BOM."""
    return str(text or "").replace("\ufeff", "").replace("\u3000", " ").strip()


def kind_of(filename: str, data: bytes) -> str:
    """``csv`` or ``xlsx``, from the name, else from the bytes (an XLSX is a ZIP file)."""
    name = filename.lower()
    if name.endswith((".xlsx", ".xlsm")):
        return "xlsx"
    if name.endswith((".csv", ".txt")):
        return "csv"
    return "xlsx" if data[:4] == b"PK\x03\x04" else "csv"


def read_sheet(data: bytes, filename: str, *, wanted: Sequence[str], header_row: int | None = None,
               encoding: str = "auto", sheet: str | None = None) -> Sheet:
    """The rows of an uploaded file. ``wanted`` are the column names the mapping reads: the header
    row is the first of the top rows that holds them all, unless ``header_row`` (1-based) says."""
    if len(data) > MAX_FILE_BYTES:
        raise InvalidInput("file", f"is larger than {MAX_FILE_BYTES // (1024 * 1024)} MiB; split it",
                           f"文件超过 {MAX_FILE_BYTES // (1024 * 1024)} MiB，请拆分后导入")
    if not data.strip():
        raise InvalidInput("file", "is empty", "文件为空")
    raw = _xlsx_rows(data, sheet) if kind_of(filename, data) == "xlsx" else _csv_rows(data, encoding)
    return _with_headers(raw, wanted, header_row)


def _with_headers(raw: Iterator[list[Cell]], wanted: Sequence[str], header_row: int | None) -> Sheet:
    wanted_set = {clean_header(w) for w in wanted}
    for number, cells in enumerate(raw, start=1):
        headers = [clean_header(c) for c in cells]
        found = header_row == number if header_row is not None else wanted_set <= set(headers)
        if found:
            missing = sorted(wanted_set - set(headers))
            if missing:
                raise InvalidInput("mapping", f"the header row {number} lacks the column(s) {', '.join(missing)}",
                                   f"第 {number} 行表头缺少列：{'、'.join(missing)}")
            return Sheet(headers, number, _data_rows(raw, headers, number))
        if number >= (header_row or HEADER_SEARCH):
            break
    raise InvalidInput("mapping", f"no row among the first {header_row or HEADER_SEARCH} holds the columns "
                       f"{', '.join(sorted(wanted_set))}; is this the right mapping?",
                       f"前 {header_row or HEADER_SEARCH} 行中没有包含以下各列的表头：{'、'.join(sorted(wanted_set))}；"
                       "请确认所选映射")


def _data_rows(raw: Iterator[list[Cell]], headers: list[str], header_row: int) -> Iterator[Row]:
    taken = 0
    for number, cells in enumerate(raw, start=header_row + 1):
        if all(c is None or (isinstance(c, str) and not c.strip()) for c in cells):
            continue
        taken += 1
        if taken > MAX_ROWS:
            raise InvalidInput("file", f"holds more than {MAX_ROWS} rows; split it into several imports",
                               f"超过 {MAX_ROWS} 行，请拆分为多次导入")
        yield Row(number, {h: (cells[i] if i < len(cells) else None) for i, h in enumerate(headers) if h})


# --- CSV ------------------------------------------------------------------------------------------


def _decode(data: bytes, encoding: str) -> str:
    if encoding != "auto":
        try:
            return data.decode(encoding)
        except (LookupError, UnicodeDecodeError) as exc:
            raise InvalidInput("file", f"cannot be read as {encoding}: {exc}", f"无法按 {encoding} 编码读取") from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:  # what Chinese banks' and older Excel exports use
        return data.decode("gb18030")
    except UnicodeDecodeError:
        raise InvalidInput("file", "is neither UTF-8 nor GB18030 text", "文件编码既不是UTF-8也不是GB18030") from None


def _csv_rows(data: bytes, encoding: str) -> Iterator[list[Cell]]:
    text = _decode(data, encoding)
    try:
        dialect: type[csv.Dialect] | csv.Dialect = csv.Sniffer().sniff(text[:8192], delimiters=",\t;")
    except csv.Error:
        dialect = csv.excel
    reader = csv.reader(io.StringIO(text, newline=""), dialect)
    try:
        for cells in reader:
            yield [c.strip() or None for c in cells]
    except csv.Error as exc:
        raise InvalidInput("file", f"is not a readable CSV file (record {reader.line_num}): {exc}",
                           f"CSV 文件第 {reader.line_num} 条记录无法读取") from None


# --- XLSX -----------------------------------------------------------------------------------------


def number_text(value: float) -> str:
    """A number an XLSX cell holds, as decimal text. The file stores numbers as decimal text and
    openpyxl hands them over as ``float``; Python's ``repr`` gives back the shortest text that reads
    as the same float, which for any amount of the ledger (at most 13 significant digits) is the
    very text the file held. Nothing is computed with the float."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value) if isinstance(value, int) else repr(value)


def _xlsx_rows(data: bytes, sheet: str | None) -> Iterator[list[Cell]]:
    from openpyxl import load_workbook

    try:
        # data_only=False: a formula cell is read as its formula text, never as a cached result.
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=False)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError) as exc:
        raise InvalidInput("file", f"is not a readable XLSX workbook: {exc}", "不是可读取的 XLSX 工作簿") from None
    try:
        if sheet is not None and sheet not in book.sheetnames:
            raise InvalidInput("sheet", f"the workbook has no sheet {sheet!r} (it has {', '.join(book.sheetnames)})",
                               f"工作簿中没有工作表 {sheet!r}")
        worksheet = book[sheet] if sheet is not None else book.worksheets[0]
        for values in worksheet.iter_rows(values_only=True):
            yield [_xlsx_cell(v) for v in values]
    finally:
        book.close()


def _xlsx_cell(value: object) -> Cell:
    if value is None:
        return None
    if isinstance(value, datetime | date | time):
        return value
    if isinstance(value, int | float):
        return number_text(value)
    text = str(value).strip()
    return text or None
