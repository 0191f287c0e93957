"""Write the transparency report for people and their tools: JSON, CSV for Excel, and XLSX.

- JSON: the report as it is (UTF-8): money in integer fen with exact ``*_yuan`` decimal strings.
- CSV: one file per table in a directory (``01-summary.csv`` … ``08-corrections.csv``), UTF-8 with a
  byte-order mark so Excel opens the Chinese correctly on a double click; headers in Chinese and
  English; amounts in yuan with two decimals, plain digits (no grouping) so Excel reads numbers.
- XLSX: the same tables, one sheet each; amounts are numbers in yuan (converted from fen through
  Decimal, never float arithmetic) formatted ``#,##0.00``.

Recorded text (fund, project and organisation names, purposes, reasons) reaches spreadsheets as
text, never as a formula (OWASP's CSV-injection guidance): a CSV cell of text that begins with
``=``, ``+``, ``-``, ``@``, tab, CR or LF (or their full-width forms, after any spaces) gets a
leading apostrophe; an XLSX text cell is always a string cell, with Excel's quote prefix where the
text begins like a formula, so even editing the cell does not turn it into one. Numbers we
format ourselves (amounts, counts, hours) are not text and stay numbers.

Files are written whole or not at all: each goes to a temporary name beside it and is renamed.

The public downloads stream instead (:func:`csv_chunks`, :func:`xlsx_stream`): rows arrive from an
iterator and leave in pieces, so a table of a million rows takes the memory of one piece; the XLSX
is written by openpyxl's write-only mode (rows go to a temporary file, not a tree of cells), its
columns sized from the headers since the rows are not all known up front.
"""

from __future__ import annotations

import csv
import io
import json
import os
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, BinaryIO

from ledger.errors import InvalidInput
from ledger.messages import msg
from ledger.money import to_decimal, to_decimal_string

FORMATS = ("csv", "xlsx", "json", "ledger")
"""Export formats; ``ledger`` is the hledger / ledger-cli journal of :mod:`projections.journal`."""

YUAN_FORMAT = "#,##0.00"
HOURS_FORMAT = "0.00"
BOM = "\ufeff"


@dataclass(frozen=True)
class Column:
    """One column of an exported table."""

    key: str
    """The field of the report's row."""
    zh: str
    en: str
    kind: str = "text"
    """``text``, ``int``, ``yuan`` (the row holds fen), ``decimal`` (a decimal string), ``bool``, ``list``."""

    @property
    def header(self) -> str:
        return f"{self.zh} {self.en}"


@dataclass(frozen=True)
class Sheet:
    """One table of the report: a CSV file or a spreadsheet sheet."""

    name: str
    """ASCII stem of the CSV file."""
    zh: str
    en: str
    columns: tuple[Column, ...]
    rows: tuple[dict[str, Any], ...]

    @property
    def title(self) -> str:
        return f"{self.zh} {self.en}"[:31]


def _c(key: str, zh: str, en: str, kind: str = "text") -> Column:
    return Column(key, zh, en, kind)


def sheets(report: dict[str, Any]) -> list[Sheet]:
    """The report as tables, in the order accountants read it."""
    town = report["street_town"]
    scope_zh = town["name_zh"] if town else f"{report['district']['name_zh']}（全区）"
    scope_en = town["name_en"] if town else f"{report['district']['name_en']} (whole district)"
    inc, sp, pr, sf, hr, org = (report[k] for k in ("income", "spending", "projects", "special_funds", "hours",
                                                    "organisations"))

    def item(key, zh, en, value, kind="text", unit=""):
        return {"key": key, "zh": zh, "en": en, "value": value, "kind": kind, "unit": unit}

    summary = (
        item("ledger", "账本", "Ledger", report["ledger"]),
        item("scope", "范围", "Scope", f"{scope_zh} {scope_en}"),
        item("street_town", "街镇代码", "Street-town code", town["code"] if town else ""),
        item("start", "报告期开始", "Period start", report["period"]["start"]),
        item("end", "报告期结束", "Period end", report["period"]["end"]),
        item("position", "日志位置", "Log position", report["position"], "int"),
        item("income_total", "收入合计", "Total income", inc["total"], "yuan", "元 CNY"),
        item("income_donations", "捐赠收入", "Donations", inc["donations"], "yuan", "元 CNY"),
        item("income_grants", "拨款收入", "Grants and purchases", inc["grants"], "yuan", "元 CNY"),
        item("spending_total", "支出合计", "Total spending", sp["total"], "yuan", "元 CNY"),
        item("projects_total", "项目支出合计", "Project payments", pr["total"], "yuan", "元 CNY"),
        item("special_funds_balance", "专项基金期末余额", "Special funds' balance at end", sf["total_balance"],
             "yuan", "元 CNY"),
        item("donations", "捐赠笔数", "Donations (count)", report["donations"]["count"], "int", "笔 gifts"),
        item("donors", "捐赠人数", "Distinct donors", report["donations"]["distinct_donors"], "int", "人 donors"),
        item("hours", "志愿服务时长", "Volunteer hours", hr["hours"], "decimal", "小时 hours"),
        item("minutes", "志愿服务分钟", "Volunteer minutes", hr["minutes"], "int", "分钟 minutes"),
        item("sessions", "服务人次", "Service sessions", hr["sessions"], "int", "人次 sessions"),
        item("organisations", "社区社会组织数", "Community social organisations", org["organisations"], "int"),
        item("communities", "社区数", "Communities", org["communities"], "int"),
        item("organisations_average", "每社区平均组织数", "Organisations per community", org["average"] or "",
             "decimal" if org["average"] else "text"),
        item("organisations_target", "目标", "Target per community", org["target"], "int"),
        item("corrections", "更正笔数", "Corrections", report["corrections"]["count"], "int"),
    )
    yuan = "金额（元）", "Amount (yuan)"
    return [
        Sheet("summary", "概要", "Summary", (
            _c("key", "代码", "Key"), _c("zh", "项目", "Item"), _c("en", "项目（英文）", "Item (English)"),
            _c("value", "数值", "Value", "mixed"), _c("unit", "单位", "Unit")), summary),
        Sheet("income", "收入", "Income", (
            _c("category", "类别代码", "Category"), _c("name_zh", "收入来源", "Source"),
            _c("name_en", "收入来源（英文）", "Source (English)"), _c("amount", *yuan, "yuan"),
            _c("count", "笔数", "Count", "int")), tuple(inc["rows"])),
        Sheet("spending", "支出", "Spending", (
            _c("kind", "支出类别", "Kind"), _c("name_zh", "名称", "Name"), _c("name_en", "名称（英文）", "Name (English)"),
            _c("amount", *yuan, "yuan"), _c("count", "笔数", "Count", "int")), tuple(sp["rows"])),
        Sheet("projects", "项目支出", "Projects", (
            _c("project", "项目编号", "Project"), _c("name", "项目名称", "Name"), _c("street_town", "街镇", "Street-town"),
            _c("community", "社区", "Community"), _c("domain", "服务领域", "Domain"),
            _c("organisation", "承接组织", "Undertaking organisation"),
            _c("organisation_name", "承接组织名称", "Organisation name"),
            _c("funding_source", "资金来源", "Funding source"), _c("approval_ref", "批文号", "Approval reference"),
            _c("disbursement_approval_refs", "拨付批复", "Disbursement approvals", "list"),
            _c("budget", "预算（元）", "Budget (yuan)", "yuan"), _c("paid", "本期支付（元）", "Paid (yuan)", "yuan"),
            _c("reversed", "本期冲正（元）", "Reversed (yuan)", "yuan"),
            _c("amount", "本期净支出（元）", "Net spending (yuan)", "yuan"),
            _c("payments", "支付笔数", "Payments", "int")), tuple(pr["rows"])),
        Sheet("special_funds", "专项基金", "Special funds", (
            _c("fund", "基金代码", "Fund"), _c("name", "基金名称", "Name"), _c("foundation", "托管基金会", "Host foundation"),
            _c("street_town", "街镇", "Street-town"), _c("restricted", "限定性", "Restricted", "bool"),
            _c("purpose", "用途", "Purpose"), _c("domains", "限定领域", "Allowed domains", "list"),
            _c("street_towns", "限定街镇", "Allowed street-towns", "list"),
            _c("valid_from", "起始日", "Valid from"), _c("valid_until", "到期日", "Expiry"),
            _c("agreement_ref", "协议编号", "Agreement"), _c("closed", "已关闭", "Closed", "bool"),
            _c("balance", "期末余额（元）", "Balance at end (yuan)", "yuan")), tuple(sf["rows"])),
        Sheet("hours", "志愿服务", "Volunteer hours", (
            _c("domain", "领域代码", "Domain"), _c("name_zh", "服务领域", "Service domain"),
            _c("name_en", "服务领域（英文）", "Service domain (English)"), _c("hours", "时长（小时）", "Hours", "decimal"),
            _c("minutes", "分钟", "Minutes", "int"), _c("sessions", "人次", "Sessions", "int")), tuple(hr["rows"])),
        Sheet("organisations", "社区社会组织", "Organisations", (
            _c("street_town", "街镇代码", "Street-town"), _c("street_town_zh", "街镇", "Street-town name"),
            _c("community", "社区（居委）", "Community"), _c("organisations", "组织数", "Organisations", "int"),
            _c("target", "目标", "Target", "int"), _c("meets_target", "达标", "Meets target", "bool")),
            tuple(org["rows"])),
        Sheet("corrections", "更正说明", "Corrections", (
            _c("position", "日志序号", "Log position", "int"), _c("day", "更正日期", "Date"), _c("type", "类型", "Type"),
            _c("corrects", "更正对象", "Corrects"), _c("fund", "基金", "Fund"), _c("organisation", "组织", "Organisation"),
            _c("street_town", "街镇", "Street-town"), _c("amount", *yuan, "yuan"),
            _c("minutes", "分钟", "Minutes", "int"), _c("reason", "更正说明", "Reason")),
            tuple(report["corrections"]["rows"])),
    ]


# --- cell values ---------------------------------------------------------------------------------


def _kind(column: Column, row: dict[str, Any]) -> str:
    return row["kind"] if column.kind == "mixed" else column.kind


def _text(value: Any, kind: str) -> str:
    """A cell as CSV text: yuan with two decimals from fen, no grouping."""
    if value is None:
        return ""
    if kind == "yuan":
        return to_decimal_string(value)
    if kind == "bool":
        return "是 yes" if value else "否 no"
    if kind == "list":
        return "; ".join(str(v) for v in value)
    return str(value)


def _cell(value: Any, kind: str) -> Any:
    """A cell as a spreadsheet value: numbers stay numbers (yuan as an exact Decimal)."""
    if value is None:
        return None
    if kind == "yuan":
        return to_decimal(value)
    if kind == "decimal":
        return Decimal(value)
    if kind == "int":
        return int(value)
    return _text(value, kind)


_FORMATS = {"yuan": YUAN_FORMAT, "decimal": HOURS_FORMAT, "int": "0"}
_NUMERIC = frozenset(_FORMATS)
"""Kinds whose cells are numbers this module formats; every other kind may carry recorded text."""

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "\n", "\uff1d", "\uff0b", "\uff0d", "\uff20")
"""What a spreadsheet may take for the start of a formula (the full-width forms as a precaution)."""


def looks_like_formula(text: str) -> bool:
    return text.lstrip(" \u3000").startswith(FORMULA_TRIGGERS)


def csv_safe(text: str) -> str:
    """A CSV cell of recorded text that no spreadsheet evaluates: a leading apostrophe where it
    begins like a formula (defusedcsv leaves tab and CR through, so this is the house's own)."""
    return "'" + text if looks_like_formula(text) else text


def _csv_cell(value: Any, kind: str) -> str:
    text = _text(value, kind)
    return text if kind in _NUMERIC else csv_safe(text)


# --- writers -------------------------------------------------------------------------------------


def write_json(report: dict[str, Any], path: Path) -> list[Path]:
    _atomic(path, (json.dumps(report, ensure_ascii=False, indent=2) + "\n").encode("utf-8"))
    return [path]


def csv_text(sheet: Sheet) -> str:
    """One table as CSV text (without the byte-order mark)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([c.header for c in sheet.columns])
    for row in sheet.rows:
        writer.writerow([_csv_cell(row.get(c.key), _kind(c, row)) for c in sheet.columns])
    return buffer.getvalue()


def csv_chunks(columns: tuple[Column, ...], rows: Iterable[dict[str, Any]], rows_per_chunk: int = 500,
               bom: bool = True) -> Iterator[str]:
    """One table as CSV text in pieces of ``rows_per_chunk`` rows (the header, with the BOM, first);
    the same cells as :func:`csv_text`."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([c.header for c in columns])
    yield (BOM if bom else "") + buffer.getvalue()
    buffer.seek(0)
    buffer.truncate()
    count = 0
    for row in rows:
        writer.writerow([_csv_cell(row.get(c.key), _kind(c, row)) for c in columns])
        count += 1
        if count == rows_per_chunk:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
            count = 0
    if count:
        yield buffer.getvalue()


def xlsx_stream(tables: Iterable[tuple[Sheet, Iterable[dict[str, Any]]]], out: BinaryIO) -> None:
    """A workbook, one sheet per table, its rows taken from iterators, written to ``out``."""
    xlsx_book(tables).save(out)


def xlsx_book(tables: Iterable[tuple[Sheet, Iterable[dict[str, Any]]]]) -> Any:
    """A write-only workbook holding the tables (its rows already in temporary files, so memory
    stays constant): save it once the rows' source is closed, since zipping a million rows takes a
    while. Cells as in :func:`xlsx_bytes`: yuan as exact numbers formatted ``#,##0.00``, recorded
    text always a string cell, quote-prefixed where it begins like a formula."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Alignment, Font
    from openpyxl.utils import get_column_letter

    book = Workbook(write_only=True)
    bold, wrap = Font(bold=True), Alignment(wrap_text=True, vertical="top")
    for sheet, rows in tables:
        ws = book.create_sheet(sheet.title)
        for index, column in enumerate(sheet.columns, start=1):
            wide = 14 if column.kind in _NUMERIC else 24
            ws.column_dimensions[get_column_letter(index)].width = min(max(_width(column.header) // 2 + 2, wide), 60)
        ws.freeze_panes = "A2"
        header = []
        for column in sheet.columns:
            cell = WriteOnlyCell(ws, value=column.header)
            cell.font, cell.alignment = bold, wrap
            header.append(cell)
        ws.append(header)
        for row in rows:
            cells = []
            for column in sheet.columns:
                kind = _kind(column, row)
                cell = WriteOnlyCell(ws, value=_cell(row.get(column.key), kind))
                number_format = _FORMATS.get(kind)
                if number_format and cell.value is not None:
                    cell.number_format = number_format
                elif isinstance(cell.value, str):
                    _as_text(cell)
                cells.append(cell)
            ws.append(cells)
    return book


def write_csv(report: dict[str, Any], directory: Path) -> list[Path]:
    """One CSV file per table in ``directory`` (created if need be), each UTF-8 with a BOM."""
    if directory.exists() and not directory.is_dir():
        raise InvalidInput("out", msg("{path} is a file; a CSV export writes a directory of files", path=directory))
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for number, sheet in enumerate(sheets(report), start=1):
        path = directory / f"{number:02d}-{sheet.name}.csv"
        _atomic(path, (BOM + csv_text(sheet)).encode("utf-8"))
        written.append(path)
    return written


def write_xlsx(report: dict[str, Any], path: Path) -> list[Path]:
    _atomic(path, xlsx_bytes(sheets(report)))
    return [path]


def xlsx_bytes(tables: list[Sheet]) -> bytes:
    """A workbook with one sheet per table; yuan as exact numbers formatted ``#,##0.00``."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font
    from openpyxl.utils import get_column_letter

    book = Workbook()
    book.remove(book.active)
    for sheet in tables:
        ws = book.create_sheet(sheet.title)
        ws.append([c.header for c in sheet.columns])
        for cell in ws[1]:
            cell.font = Font(bold=True)
            cell.alignment = Alignment(wrap_text=True, vertical="top")
        for row in sheet.rows:
            ws.append([_cell(row.get(c.key), _kind(c, row)) for c in sheet.columns])
            for column, cell in zip(sheet.columns, ws[ws.max_row], strict=True):
                number_format = _FORMATS.get(_kind(column, row))
                if number_format and cell.value is not None:
                    cell.number_format = number_format
                elif isinstance(cell.value, str):
                    _as_text(cell)
        ws.freeze_panes = "A2"
        for index, column in enumerate(sheet.columns, start=1):
            longest = max([_width(column.header) // 2 + 2] + [_width(_text(r.get(column.key), _kind(column, r)))
                                                               for r in sheet.rows])
            ws.column_dimensions[get_column_letter(index)].width = min(max(longest + 2, 8), 60)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _as_text(cell: Any) -> None:
    """A string cell, never a formula (openpyxl takes any value beginning with '=' for one)."""
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    if ILLEGAL_CHARACTERS_RE.search(cell.value):  # control characters recorded before they were refused
        cell.value = ILLEGAL_CHARACTERS_RE.sub("\ufffd", cell.value)
    cell.data_type = "s"
    if looks_like_formula(cell.value):
        cell.quotePrefix = True


def write_journal(text: str, path: Path) -> list[Path]:
    _atomic(path, text.encode("utf-8"))
    return [path]


WRITERS: dict[str, Callable[[dict[str, Any], Path], list[Path]]] = {
    "json": write_json, "csv": write_csv, "xlsx": write_xlsx,
}


def _width(text: str) -> int:
    """Display width: a Chinese character takes two columns."""
    return sum(2 if ord(ch) > 0x2E80 else 1 for ch in text)


def _atomic(path: Path, data: bytes) -> None:
    path = Path(path)
    if path.is_dir():
        raise InvalidInput("out", msg("{path} is a directory", path=path))
    if not path.parent.is_dir():
        raise FileNotFoundError(f"no directory {path.parent} to write {path.name} in 目录不存在")
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
