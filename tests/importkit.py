"""What the import tests share: the sample exports and mappings of tests/fixtures/imports, the same
rows as an XLSX workbook, and a ledger scene with the fund and volunteers they need."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime, time
from pathlib import Path

from openpyxl import Workbook

from ledger.imports.mapping import Mapping, read_mapping_file

FIXTURES = Path(__file__).parent / "fixtures" / "imports"
TOWN = "xianxiaxincun"


def sample(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def mapping(name: str) -> Mapping:
    return read_mapping_file(FIXTURES / f"{name}.toml")


def csv_rows(name: str) -> list[list[str]]:
    """A UTF-8 sample's rows, header first."""
    return list(csv.reader(io.StringIO(sample(name).decode("utf-8-sig"))))


def to_csv(rows: list[list[str]]) -> bytes:
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerows(rows)
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def platform_xlsx(rows: list[list[str]] | None = None, *, typed: bool = True) -> bytes:
    """The platform's export as a workbook: with ``typed``, times as date-time cells and amounts as
    numbers, as the platform's "export to Excel" writes them; text cells otherwise."""
    rows = rows if rows is not None else csv_rows("platform-gongyi.csv")
    book = Workbook()
    sheet = book.active
    sheet.title = "订单明细"
    sheet.append(rows[0])
    for row in rows[1:]:
        cells: list[object] = list(row)
        if typed:
            cells[1] = datetime.fromisoformat(row[1])
            try:
                cells[2] = float(row[2]) if "." in row[2] else int(row[2])
            except ValueError:
                pass
        sheet.append(cells)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def signin_xlsx() -> bytes:
    """The sign-in sheet as a workbook with date and time cells."""
    rows = list(csv.reader(io.StringIO(sample("signin-sheet.csv").decode())))
    book = Workbook()
    sheet = book.active
    sheet.append(rows[0])
    for row in rows[1:]:
        y, m, d = (int(x) for x in row[3].split("/"))
        sheet.append([int(row[0]), row[1], row[2], date(y, m, d), time.fromisoformat(row[4]),
                      time.fromisoformat(row[5]), row[6], row[7]])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def big_platform_csv(rows: int) -> bytes:
    """A platform export of ``rows`` gifts in November 2026, each its own order number."""
    lines = [csv_rows("platform-gongyi.csv")[0]]
    for i in range(rows):
        lines.append([f"GY2026110{1 + i % 9}{i:07d}", f"2026-11-0{1 + i % 9} 10:00:00", f"{1 + i % 500}.{i % 100:02d}",
                      f"捐赠人{i}", "否", "仙霞社区助老餐桌", "微信支付", ""])
    return to_csv(lines)


def scene(cast) -> None:
    """The fund the donation samples go into, and the volunteers of the sign-in sheet."""
    ledger = cast.ledger
    ledger.open_fund(cast.accountant, "GEN", "综合基金", "CNCF", street_town=TOWN)
    for number, name in (("V0001", "李四"), ("V0002", "王芳"), ("V0003", "赵小兵")):
        ledger.register_volunteer(cast.recorder, number, name, TOWN, registered_on=date(2026, 1, 5))
