"""The three 民非 statements (``ledger.statements``) as files a foundation can file: JSON as it is,
XLSX in the official layout (one sheet per statement, then each special fund's memo), and an A4
page printed to PDF by the same headless Chromium as the audit report.

XLSX: amounts are numbers in yuan (exact, through Decimal) formatted ``#,##0.00``; every text cell
is stored as text, never as a formula, whatever it starts with. Files are written whole or not at
all (``projections.exports._atomic``).
"""

from __future__ import annotations

import io
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape

from ledger.money import to_decimal
from projections.exports import YUAN_FORMAT, _atomic

FORMATS = ("xlsx", "pdf", "json")
CLASS_NAMES = (("unrestricted", "非限定性", "Unrestricted"), ("restricted", "限定性", "Restricted"),
               ("total", "合计", "Total"))


def write_json(doc: dict[str, Any], path: Path) -> list[Path]:
    _atomic(path, (json.dumps(doc, ensure_ascii=False, indent=1) + "\n").encode("utf-8"))
    return [path]


def _yuan(amount: dict[str, Any]) -> Decimal:
    return to_decimal(amount["fen"])


def _scope_name(doc: dict[str, Any]) -> str:
    scope = doc["scope"]
    base = f"{doc['foundation']['name']}（{doc['foundation']['code']}）"
    return base if scope["kind"] == "foundation" else f"{base} · 专项基金 {scope.get('name') or ''}（{scope['fund']}）备忘"


# --- XLSX ----------------------------------------------------------------------------------------


def xlsx_bytes(doc: dict[str, Any]) -> bytes:
    from openpyxl import Workbook

    book = Workbook()
    book.remove(book.active)
    for part in [doc, *doc.get("memos", [])]:
        suffix = "" if part["scope"]["kind"] == "foundation" else f" {part['scope']['fund']}"
        _balance_sheet(book.create_sheet(f"01资产负债表{suffix}"[:31]), part)
        _activities(book.create_sheet(f"02业务活动表{suffix}"[:31]), part)
        _cash_flow(book.create_sheet(f"03现金流量表{suffix}"[:31]), part)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def write_xlsx(doc: dict[str, Any], path: Path) -> list[Path]:
    _atomic(path, xlsx_bytes(doc))
    return [path]


def _put(ws: Any, row: int, column: int, value: Any, *, bold: bool = False, number: bool = False) -> None:
    from openpyxl.styles import Alignment, Font

    cell = ws.cell(row=row, column=column, value=value)
    if isinstance(value, str):
        cell.data_type = "s"  # a text cell is text, never a formula
    if bold:
        cell.font = Font(bold=True)
    if number:
        cell.number_format = YUAN_FORMAT
        cell.alignment = Alignment(horizontal="right")


def _title(ws: Any, doc: dict[str, Any], statement: dict[str, Any], width: int, when: str) -> int:
    from openpyxl.styles import Alignment, Font

    _put(ws, 1, 1, f"{statement['name_zh']} {statement['name_en']}", bold=True)
    ws.cell(row=1, column=1).font = Font(bold=True, size=14)
    ws.cell(row=1, column=1).alignment = Alignment(horizontal="center")
    ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=width)
    _put(ws, 2, width, statement["form"])
    _put(ws, 3, 1, f"编制单位 Prepared by：{_scope_name(doc)}")
    _put(ws, 3, max(2, width - 2), when)
    _put(ws, 3, width, "单位：元 Unit: yuan")
    return 5


def _widths(ws: Any, widths: list[int]) -> None:
    from openpyxl.utils import get_column_letter

    for i, w in enumerate(widths, 1):
        ws.column_dimensions[get_column_letter(i)].width = w


def _balance_sheet(ws: Any, doc: dict[str, Any]) -> None:
    bs = doc["balance_sheet"]
    row = _title(ws, doc, bs, 8, doc["period"]["end"])
    headers = ["资产 Assets", "行次 Line", "年初数 Beginning", "期末数 End",
               "负债和净资产 Liabilities and net assets", "行次 Line", "年初数 Beginning", "期末数 End"]
    for i, h in enumerate(headers, 1):
        _put(ws, row, i, h, bold=True)
    lines = bs["lines"]
    split = next(i for i, x in enumerate(lines) if x.get("line") == 60) + 1
    for offset, side in ((0, lines[:split]), (4, lines[split:])):
        for i, line in enumerate(side, row + 1):
            _put(ws, i, offset + 1, line["name_zh"], bold=line.get("heading", False))
            if line.get("heading"):
                continue
            _put(ws, i, offset + 2, line["line"])
            _put(ws, i, offset + 3, _yuan(line["amounts"]["begin"]), number=True)
            _put(ws, i, offset + 4, _yuan(line["amounts"]["end"]), number=True)
    _widths(ws, [30, 6, 16, 16, 34, 6, 16, 16])


def _activities(ws: Any, doc: dict[str, Any]) -> None:
    act = doc["activities"]
    label = doc["period"]["label_zh"]
    row = _title(ws, doc, act, 8, label)
    _put(ws, row, 1, "项目 Item", bold=True)
    _put(ws, row, 2, "行次 Line", bold=True)
    _put(ws, row, 3, "本期数 This period", bold=True)
    _put(ws, row, 6, "本年累计数 Year to date", bold=True)
    ws.merge_cells(start_row=row, start_column=3, end_row=row, end_column=5)
    ws.merge_cells(start_row=row, start_column=6, end_row=row, end_column=8)
    for i, (_, zh, en) in enumerate(CLASS_NAMES * 2, 3):
        _put(ws, row + 1, i, f"{zh} {en}", bold=True)
    lines = list(act["lines"]) + ([act["transfers"]] if "transfers" in act else [])
    for i, line in enumerate(lines, row + 2):
        _put(ws, i, 1, line["name_zh"], bold=line.get("heading", False))
        if line.get("heading"):
            continue
        if line.get("line") is not None:
            _put(ws, i, 2, line["line"])
        for j, (column, (key, _, _)) in enumerate([(c, k) for c in ("period", "ytd") for k in CLASS_NAMES], 3):
            _put(ws, i, j, _yuan(line["amounts"][column][key]), number=True)
    _widths(ws, [44, 6, 14, 14, 14, 14, 14, 14])


def _cash_flow(ws: Any, doc: dict[str, Any]) -> None:
    cf = doc["cash_flow"]
    row = _title(ws, doc, cf, 4, doc["period"]["label_zh"])
    for i, h in enumerate(["项目 Item", "行次 Line", "本期金额 This period", "本年累计 Year to date"], 1):
        _put(ws, row, i, h, bold=True)
    lines = list(cf["lines"]) + ([cf["transfers"]] if "transfers" in cf else [])
    for i, line in enumerate(lines, row + 1):
        _put(ws, i, 1, line["name_zh"], bold=line.get("heading", False))
        if line.get("heading"):
            continue
        if line.get("line") is not None:
            _put(ws, i, 2, line["line"])
        _put(ws, i, 3, _yuan(line["amounts"]["period"]), number=True)
        _put(ws, i, 4, _yuan(line["amounts"]["ytd"]), number=True)
    _widths(ws, [44, 6, 18, 18])


# --- HTML and PDF --------------------------------------------------------------------------------


def render_html(doc: dict[str, Any]) -> str:
    env = Environment(loader=PackageLoader("projections", "templates"), autoescape=select_autoescape(["html"]))
    env.filters["yuan"] = lambda amount: f"{_yuan(amount):,.2f}"
    return env.get_template("statements.html").render(doc=doc, parts=[doc, *doc.get("memos", [])],
                                                      classes=CLASS_NAMES, scope_name=_scope_name)


def write_pdf(doc: dict[str, Any], path: Path, *, browser: str | None = None) -> list[Path]:
    """Print the statements on A4 with headless Chromium (``api.pdf``, the one printer)."""
    from api import pdf

    pdf.write_pdf(render_html(doc), path, browser=browser)
    return [path]


WRITERS = {"xlsx": write_xlsx, "pdf": write_pdf, "json": write_json}
