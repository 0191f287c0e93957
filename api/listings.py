"""Keyset (cursor) pagination of the public lists that grow with the log: projects, a fund's gifts,
hours by organisation, corrections, organisations (checkpoints page through the signed sizes).

A list is read in a stable order of columns that together name one row (``code``; ``day, entry``;
``position``), all ascending or all descending. A page is the rows after (or before) a cursor, the
key of the row a page ended on, written as URL-safe base64 of a JSON array: reading page 400 costs
what reading page 1 does (an index range, never an OFFSET that skips rows), and rows written
meanwhile never make a page repeat or skip one. ``total`` is a COUNT over the same indexed rows.

Downloads read the whole list in the same order, one batch at a time (:func:`every_row`), so a
million rows take the memory of one batch.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from ledger.errors import InvalidInput
from ledger.messages import msg
from projections.base import Table

PAGE_SIZE = 50
"""Rows a page shows unless asked for fewer or more."""
MAX_PAGE = 100
"""The most rows one HTML page holds."""
MAX_JSON_PAGE = 1000
"""The most rows one page of the public JSON holds."""
BATCH = 1000
"""Rows a download reads per query."""

Shape = Callable[[Any, list[dict[str, Any]]], list[dict[str, Any]]]
"""Turns a batch of a view's rows into rows as shown (may read the snapshot for names)."""


@dataclass(frozen=True)
class Listing:
    """One list: a view table, the filter (SQL with ``?``), the order and how rows are shown."""

    table: Table
    keys: tuple[str, ...]
    """Columns of the order; together unique, never NULL."""
    descending: bool = False
    where: str = ""
    params: tuple = ()
    shape: Shape = field(default=lambda views, rows: rows, compare=False)
    refs: tuple[tuple[str, Table], ...] = ()
    """Other views the filter names as ``{name}`` (a sub-select)."""

    def _where(self, extra: str = "") -> str:
        parts = [p for p in (self.where and f"({self.where})", extra) if p]
        return " AND ".join(parts)

    def _after(self, cursor: tuple, backwards: bool) -> str:
        forward = ">" if not self.descending else "<"
        op = {">": "<", "<": ">"}[forward] if backwards else forward
        columns = ", ".join(self.keys)
        marks = ", ".join("?" for _ in self.keys)
        return f"({columns}) {op} ({marks})"

    def _order(self, backwards: bool) -> str:
        down = self.descending != backwards
        return ", ".join(f"{k} DESC" if down else k for k in self.keys)

    def read(self, views, cursor: tuple | None, limit: int, backwards: bool = False) -> list[dict[str, Any]]:
        """Up to ``limit`` raw rows after ``cursor`` (before it, nearest first, when ``backwards``)."""
        where = self._where(self._after(cursor, backwards) if cursor is not None else "")
        params = (*self.params, *(cursor or ()))
        columns = self.table.columns
        sql = (f"SELECT {', '.join(columns)} FROM {{_t}}" + (f" WHERE {where}" if where else "")
               + f" ORDER BY {self._order(backwards)} LIMIT ?")
        found = views.query(sql, (*params, limit), _t=self.table, **dict(self.refs))
        return [dict(zip(columns, r, strict=True)) for r in found]

    def count(self, views) -> int:
        where = f" WHERE {self.where}" if self.where else ""
        return int(views.query(f"SELECT COUNT(*) AS n FROM {{_t}}{where}", self.params, _t=self.table,
                               **dict(self.refs))[0][0])

    def key_of(self, row: dict[str, Any]) -> str:
        return encode_cursor([row[k] for k in self.keys])


@dataclass
class Window:
    """One page of a list."""

    rows: list[dict[str, Any]]
    total: int
    limit: int
    next: str | None
    """The cursor of the next page (``after=``), None on the last."""
    previous: str | None
    """The cursor of the previous page (``before=``), None on the first."""

    def as_json(self) -> dict[str, Any]:
        return {"total": self.total, "limit": self.limit, "count": len(self.rows), "next": self.next,
                "previous": self.previous}


@dataclass(frozen=True)
class Paging:
    """What a request asked of a list: a cursor and a page size."""

    after: str | None = None
    before: str | None = None
    limit: int = PAGE_SIZE


def window(views, listing: Listing, paging: Paging, total: int | None = None) -> Window:
    """The page ``paging`` asks for, with the cursors of its neighbours and the list's total
    (counted here unless the caller counted it already)."""
    limit = paging.limit
    if not 1 <= limit <= MAX_JSON_PAGE:
        raise InvalidInput("limit", msg("a page holds 1 to {most} rows", most=MAX_JSON_PAGE))
    if paging.after is not None and paging.before is not None:
        raise InvalidInput("before", msg("give `after` or `before`, not both"))
    total = listing.count(views) if total is None else total
    if paging.before is not None:
        cursor = decode_cursor(paging.before, len(listing.keys), "before")
        raw = listing.read(views, cursor, limit + 1, backwards=True)
        if len(raw) > limit:  # more lie before this page
            raw = raw[:limit][::-1]
            shown = listing.shape(views, raw)
            return Window(shown, total, limit, listing.key_of(raw[-1]), listing.key_of(raw[0]))
        paging = Paging(limit=limit)  # the page before reaches the start: show the first page, full
    cursor = decode_cursor(paging.after, len(listing.keys), "after") if paging.after is not None else None
    raw = listing.read(views, cursor, limit + 1)
    more = len(raw) > limit
    raw = raw[:limit]
    shown = listing.shape(views, raw)
    return Window(shown, total, limit, listing.key_of(raw[-1]) if more else None,
                  listing.key_of(raw[0]) if cursor is not None and raw else None)


def every_row(views, listing: Listing, batch: int = BATCH) -> Iterator[dict[str, Any]]:
    """Every row of the list in its order, read ``batch`` at a time from one snapshot."""
    cursor: tuple | None = None
    while True:
        raw = listing.read(views, cursor, batch)
        if not raw:
            return
        yield from listing.shape(views, raw)
        if len(raw) < batch:
            return
        cursor = tuple(raw[-1][k] for k in listing.keys)


def encode_cursor(values: list[Any]) -> str:
    text = json.dumps(values, ensure_ascii=False, separators=(",", ":"))
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, width: int, field_name: str = "after") -> tuple:
    """A cursor back to the key it names, or a 422 naming the parameter."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        values = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")).decode())
    except (ValueError, UnicodeError, binascii.Error):
        values = None
    if not isinstance(values, list) or len(values) != width or not all(
            isinstance(v, (str, int)) and not isinstance(v, bool) and (not isinstance(v, str) or "\x00" not in v)
            for v in values):
        raise InvalidInput(field_name, msg("not a cursor this list gave: follow the page's own links"))
    return tuple(values)


def like(text: str) -> str:
    """A search text as a LIKE pattern matching it anywhere, its own ``%`` and ``_`` taken literally."""
    escaped = text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


STATUSES = ("upcoming", "running", "ended")
"""A project's status on a day: not started yet, under way, or past its end date."""


@dataclass(frozen=True)
class Filters:
    """What residents filter the lists by (each list uses those that apply to it)."""

    street_town: str | None = None
    domain: str | None = None
    year: int | None = None
    status: str | None = None
    q: str | None = None
    """A project's (or organisation's) name or code, or part of it."""

    def query(self) -> dict[str, str]:
        """The filters as query parameters (those set)."""
        return {k: str(v) for k, v in (("street_town", self.street_town), ("domain", self.domain),
                                        ("year", self.year), ("status", self.status), ("q", self.q)) if v}

    def year_range(self) -> tuple[str, str]:
        return f"{self.year:04d}-01-01", f"{self.year:04d}-12-31"

    def clauses(self, *, street_town: str | None = None, domain: str | None = None,
                year: str | None = None) -> tuple[list[str], list[Any]]:
        """The SQL conditions of the filters set, on the columns a list names for them (``year``:
        a date column within the year), with their parameters."""
        where: list[str] = []
        params: list[Any] = []
        for column, value in ((street_town, self.street_town), (domain, self.domain)):
            if column and value:
                where.append(f"{column} = ?")
                params.append(value)
        if year and self.year:
            where.append(f"{year} >= ? AND {year} <= ?")
            params += list(self.year_range())
        return where, params


NO_FILTERS = Filters()
FIRST_PAGE = Paging()


class RowSpool:
    """Rows parked in a temporary file (a JSON line each) to be read back once, in order: a
    download reads its lists inside one short snapshot and formats them after it closes (writing
    XLSX is slow, and PostgreSQL ends a transaction idle for long between two reads)."""

    def __init__(self, rows: Iterator[dict[str, Any]]) -> None:
        import tempfile

        import msgspec

        self.file = tempfile.TemporaryFile()  # noqa: SIM115 - owned by the object, closed by close()
        encode = msgspec.json.Encoder().encode
        self.count = 0
        for row in rows:
            self.file.write(encode(row) + b"\n")
            self.count += 1

    def __iter__(self) -> Iterator[dict[str, Any]]:
        import msgspec

        decode = msgspec.json.Decoder().decode
        self.file.seek(0)
        for line in self.file:
            yield decode(line)

    def close(self) -> None:
        self.file.close()
