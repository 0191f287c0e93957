"""Column mappings (列映射): which column of a source's export holds which field of a donation or a
service session, and how its cells read — declared once per source (a platform, a bank account, a
sign-in sheet's layout) and remembered (``ledger.imports.index``).

A mapping turns each row into the keyword arguments of the ledger's own command, or into the
errors of the cells that cannot be read, each naming its column. The rules of the ledger are not
checked here: the command itself checks them when the import runs.
"""

from __future__ import annotations

import hashlib
import json
import re
import tomllib
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from ledger.commands.checks import MAX_REFERENCE
from ledger.errors import InvalidAmount, InvalidInput, LedgerError
from ledger.imports.sheets import Cell, clean_header
from ledger.money import parse_amount, parse_grouped_amount
from ledger.reference import ReferenceData

Kind = Literal["donations", "hours"]

FIELDS: dict[str, tuple[str, ...]] = {
    "donations": ("reference", "date", "amount", "donor_name", "donor_public", "donor_type", "method",
                  "in_kind_description", "street_town", "note"),
    "hours": ("reference", "volunteer", "volunteer_name", "date", "start", "end", "content", "domain",
              "street_town"),
}
"""The fields a mapping may fill, per kind of import."""
REQUIRED: dict[str, tuple[str, ...]] = {
    "donations": ("date", "amount", "donor_type"),
    "hours": ("volunteer", "date", "start", "end", "content", "domain"),
}
"""Fields every row needs, from a column or from the mapping's defaults."""
COLUMN_ONLY = ("reference", "date", "amount", "volunteer", "volunteer_name", "start", "end")
"""Fields that differ from row to row: a column, never a default."""

DATE_FORMATS = ("%Y-%m-%d", "%Y/%m/%d", "%Y%m%d", "%Y.%m.%d", "%Y年%m月%d日", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M",
                "%Y/%m/%d %H:%M:%S", "%Y/%m/%d %H:%M", "%Y%m%d %H:%M:%S")
TIME_FORMATS = ("%H:%M", "%H:%M:%S", "%H时%M分", "%H：%M")
TRUE = ("是", "公开", "同意", "y", "yes", "true", "1")
FALSE = ("否", "不公开", "匿名", "n", "no", "false", "0")
ANONYMOUS = ("匿名", "匿名用户", "匿名捐赠", "爱心人士", "爱心网友", "anonymous")
"""Donor names that platforms show for a donor who gave no name."""


class Skip(BaseModel):
    """Rows to leave out: where a column is blank (a bank statement's debit lines have no credit
    amount), or where its text matches a regular expression (a footer's 合计 line)."""

    model_config = ConfigDict(extra="forbid")
    column: str
    blank: bool = False
    matches: str | None = None

    @model_validator(mode="after")
    def _one_test(self) -> Skip:
        if self.blank == (self.matches is not None):
            raise ValueError("a skip rule says either blank = true or matches = '…'")
        if self.matches is not None:
            re.compile(self.matches)
        return self


class Mapping(BaseModel):
    """One source's layout. ``source`` is the name under which the source's own references (order
    numbers, transaction serials) are unique: imports of the same source never record a reference twice."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=64)
    """What the mapping is remembered as, within its foundation or organisation."""
    kind: Kind
    source: str = Field(min_length=1, max_length=MAX_REFERENCE)
    columns: dict[str, str]
    """Field → column header."""
    defaults: dict[str, str | bool] = {}
    """Field → the value when there is no column or the cell is blank (e.g. donor_type = "resident")."""
    values: dict[str, dict[str, str | bool]] = {}
    """Field → {cell text → value}: how a column's words read (e.g. 个人 → resident)."""
    amount_format: Literal["plain", "grouped"] = "plain"
    """``grouped``: the amount column writes thousands with commas (1,000.00), as banks export."""
    date_formats: list[str] = list(DATE_FORMATS)
    time_formats: list[str] = list(TIME_FORMATS)
    anonymous: list[str] = list(ANONYMOUS)
    skip: list[Skip] = []
    header_row: int | None = Field(default=None, ge=1, le=1000)
    encoding: str = "auto"
    sheet: str | None = None

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", value):
            raise ValueError("use letters, digits, '.', '-' and '_'")
        return value

    @model_validator(mode="after")
    def _fields(self) -> Mapping:
        allowed = FIELDS[self.kind]
        for group, names in (("columns", self.columns), ("defaults", self.defaults), ("values", self.values)):
            unknown = sorted(set(names) - set(allowed))
            if unknown:
                raise ValueError(f"{group}: unknown field(s) {', '.join(unknown)} (known: {', '.join(allowed)})")
        missing = [f for f in REQUIRED[self.kind] if f not in self.columns and f not in self.defaults]
        if missing:
            raise ValueError(f"no column or default for {', '.join(missing)}")
        fixed = sorted(set(self.defaults) & set(COLUMN_ONLY))
        if fixed:
            raise ValueError(f"{', '.join(fixed)} come from a column, not a default")
        headers = [clean_header(h) for h in self.columns.values()]
        if len(set(headers)) != len(headers) or not all(headers):
            raise ValueError("each field reads its own, named column")
        return self

    @property
    def wanted(self) -> list[str]:
        """The column headers the mapping reads."""
        return [clean_header(h) for h in self.columns.values()]

    def as_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_defaults=False)

    def fingerprint(self) -> str:
        """What makes two mappings the same, for remembering."""
        text = json.dumps(self.as_json(), sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()


def mapping_from(data: dict[str, Any], where: str = "mapping") -> Mapping:
    """A mapping from its JSON or TOML document; InvalidInput naming every problem."""
    try:
        return Mapping.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or where}: {e['msg']}" for e in exc.errors())
        raise InvalidInput("mapping", f"{where} is not a valid mapping: {problems}",
                           f"{where} 不是有效的列映射：{problems}") from None


def read_mapping_file(path: Path) -> Mapping:
    """A mapping file: TOML (``.toml``) or JSON."""
    try:
        raw = path.read_bytes()
        data = tomllib.loads(raw.decode("utf-8")) if path.suffix.lower() == ".toml" else json.loads(raw)
    except (UnicodeDecodeError, tomllib.TOMLDecodeError, json.JSONDecodeError) as exc:
        raise InvalidInput("mapping", f"{path} cannot be read: {exc}", f"无法读取映射文件 {path}") from None
    if not isinstance(data, dict):
        raise InvalidInput("mapping", f"{path} does not hold a mapping", f"{path} 不是列映射")
    return mapping_from(data, str(path))


# --- reading one row -------------------------------------------------------------------------------


@dataclass(frozen=True)
class CellError:
    """Why one cell (or one rule about a row) fails: the column, the field and the rule, in both languages."""

    field: str | None
    column: str | None
    rule: str
    message: str
    message_zh: str

    def as_json(self) -> dict[str, Any]:
        return {"field": self.field, "column": self.column, "rule": self.rule, "message": self.message,
                "message_zh": self.message_zh}


@dataclass
class ParsedRow:
    """A row read through its mapping: the command's arguments, its reference and any cell errors."""

    number: int
    values: dict[str, Any] = field(default_factory=dict)
    reference: str | None = None
    errors: list[CellError] = field(default_factory=list)

    @property
    def digest(self) -> str:
        """What the row says, canonically: the same order number with other content is a conflict."""
        text = json.dumps(self.values, sort_keys=True, ensure_ascii=False, default=str, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()


class RowReader:
    """Reads rows through one mapping, with the reference data for street-town and domain names."""

    def __init__(self, mapping: Mapping, reference: ReferenceData, overrides: dict[str, Any] | None = None) -> None:
        """``overrides`` replace the mapping's defaults for one import (a street-town, a domain)."""
        self.mapping = mapping
        self.reference = reference
        self.defaults = {**mapping.defaults, **(overrides or {})}
        self._skip = [(clean_header(s.column), s.blank, re.compile(s.matches) if s.matches else None)
                      for s in mapping.skip]
        self._seen: dict[str, int] = {}

    def skipped(self, cells: dict[str, Cell]) -> bool:
        for column, blank, pattern in self._skip:
            value = _text(cells.get(column))
            if blank and not value:
                return True
            if pattern is not None and value and pattern.search(value):
                return True
        return False

    def column_of(self, name: str | None) -> str | None:
        return clean_header(self.mapping.columns[name]) if name in self.mapping.columns else None

    def read(self, number: int, cells: dict[str, Cell]) -> ParsedRow:
        row = ParsedRow(number)
        for name in FIELDS[self.mapping.kind]:
            if name == "reference":
                continue
            try:
                value = self._field(name, cells)
            except LedgerError as exc:
                row.errors.append(self.error(name, exc))
                continue
            if value is not None:
                row.values[name] = value
        for name in REQUIRED[self.mapping.kind]:
            if name not in row.values and not any(e.field == name for e in row.errors):
                row.errors.append(CellError(name, self.column_of(name), "required",
                                            f"{name}: the cell is blank", f"{name}：单元格为空"))
        row.reference = self._reference(cells, row)
        return row

    def error(self, name: str | None, exc: LedgerError) -> CellError:
        return CellError(name, self.column_of(name), exc.rule, exc.message, exc.message_zh)

    # --- cells ---

    def _field(self, name: str, cells: dict[str, Cell]) -> Any:
        m = self.mapping
        raw = cells.get(self.column_of(name)) if name in m.columns else None
        if raw is None or (isinstance(raw, str) and not raw.strip()):
            default = self.defaults.get(name)
            if default is None:
                return None
            raw = default
        if isinstance(raw, str) and name in m.values:
            raw = m.values[name].get(raw.strip(), raw)
        return getattr(self, f"_{name}", self._plain)(raw, name)

    def _plain(self, raw: Any, name: str) -> str:
        text = _text(raw)
        if len(text) > 2000:
            raise InvalidInput(name, "is longer than 2000 characters", "超过2000字")
        return text

    def _amount(self, raw: Any, name: str) -> int:
        text = _text(raw)
        if self.mapping.amount_format == "grouped":
            return parse_grouped_amount(text, field=name)
        if "," in text:
            exc = InvalidAmount(name, f"{text!r} groups thousands with commas, but the mapping declares plain "
                                      "amounts (amount_format = \"grouped\" reads them)")
            exc.message_zh = f"{name}：{text!r} 含千位分隔符，但该映射声明金额不分组（可设 amount_format = \"grouped\"）"
            raise exc
        return parse_amount(text, field=name)

    def _date(self, raw: Any, name: str) -> str:
        if isinstance(raw, datetime):
            return raw.date().isoformat()
        if isinstance(raw, date):
            return raw.isoformat()
        text = _text(raw)
        for pattern in self.mapping.date_formats:
            try:
                return datetime.strptime(text, pattern).date().isoformat()
            except ValueError:
                continue
        raise InvalidInput(name, f"{text!r} is not a date in the mapping's formats", f"{text!r} 不是可识别的日期")

    def _time(self, raw: Any, name: str) -> str:
        if isinstance(raw, datetime):
            raw = raw.time()
        if isinstance(raw, time):
            return f"{raw:%H:%M}"
        text = _text(raw)
        if text == "24:00":
            return text
        for pattern in self.mapping.time_formats:
            try:
                return f"{datetime.strptime(text, pattern):%H:%M}"
            except ValueError:
                continue
        raise InvalidInput(name, f"{text!r} is not a time HH:MM", f"{text!r} 不是时间（时:分）")

    _start = _end = _time

    def _donor_public(self, raw: Any, name: str) -> bool:
        if isinstance(raw, bool):
            return raw
        text = _text(raw).lower()
        if text in TRUE:
            return True
        if text in FALSE:
            return False
        raise InvalidInput(name, f"{text!r} is neither yes nor no (是/否)", f"{text!r} 不是“是”或“否”")

    def _donor_name(self, raw: Any, name: str) -> str | None:
        text = self._plain(raw, name)
        return None if text in self.mapping.anonymous else text

    def _street_town(self, raw: Any, name: str) -> str:
        return _coded(_text(raw), self.reference.street_towns, self.reference.street_town, name)

    def _domain(self, raw: Any, name: str) -> str:
        return _coded(_text(raw), self.reference.domains, self.reference.domain, name)

    def _reference(self, cells: dict[str, Cell], row: ParsedRow) -> str | None:
        """The source's own reference, or — when the export has none — the row's content and how
        often that content has come before in this file (an identical second gift is its own row)."""
        if "reference" in self.mapping.columns:
            text = _text(cells.get(self.column_of("reference")))
            if not text:
                row.errors.append(CellError("reference", self.column_of("reference"), "required",
                                            "reference: the cell is blank", "来源编号：单元格为空"))
                return None
            if len(text) > MAX_REFERENCE or not text.isprintable():
                row.errors.append(CellError("reference", self.column_of("reference"), "invalid-input",
                                            f"reference: must be printable text of at most {MAX_REFERENCE} characters",
                                            f"来源编号：须为不超过{MAX_REFERENCE}个可打印字符"))
                return None
            return text
        if row.errors:
            return None
        content = row.digest[:32]
        seen = self._seen[content] = self._seen.get(content, 0) + 1
        return f"row:{content}:{seen}"


def _coded(text: str, items: tuple, find: Any, name: str) -> str:
    """A reference-data code, given as the code or its Chinese name (仙霞新村街道, 养老服务)."""
    for item in items:
        if text in (item.code, item.name_zh):
            return item.code
    return find(text, field=name).code  # raises UnknownReference naming the field


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value).strip()
