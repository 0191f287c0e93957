"""The downloads stream (issue 14 item 2): a list of 20,000 gifts leaves as CSV and JSON (5,000 as XLSX)
in the memory of a batch, on SQLite and PostgreSQL. The view is filled behind the
runner's back (rows as its fold writes them), and tracemalloc bounds the peak of Python's
allocations while every row is written: holding the rows at once would take some 20 MB, and the
peak is the same (about 1.5 MiB) at 5,000 rows and at four times as many.

The body's thread never holds the event loop, and stops when the reader goes away."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import tempfile
import threading
import tracemalloc

import openpyxl

from api import public_data
from api.listings import Paging
from api.routes.pages import write_download
from api.streaming import threaded_body
from projections import donations
from projections.runner import Projections

SMALL, LARGE = 5_000, 20_000
MiB = 1024 * 1024
BOUND = 6 * MiB
"""Far below what the rows take held at once (each shaped row is a dict of about 1 KB); the CSV's
peak is also shown flat from 5,000 rows to 20,000."""


def _fill(projections: Projections, start: int, stop: int) -> None:
    t = projections.tables
    columns = donations.DONATIONS.columns
    sql = (f"INSERT INTO {t.table(donations.DONATIONS.name)} ({', '.join(columns)}) "
           f"VALUES ({', '.join('?' for _ in columns)})")
    for first in range(start, stop, 10_000):
        rows = [("BIG", f"e{n:07d}", "匿名" if n % 11 else f"=HYPERLINK(\"x\") 公司{n}", "resident", 100 + n % 997,
                 "transfer", f"{2016 + n % 10}-{1 + n % 12:02d}-{1 + n % 28:02d}", "xianxiaxincun", None)
                for n in range(first, min(first + 10_000, stop))]
        with t.transaction(commit=True) as cursor:
            cursor.executemany(sql, rows)


def _peak(work) -> tuple[int, object]:
    tracemalloc.start()
    try:
        result = work()
        return tracemalloc.get_traced_memory()[1], result
    finally:
        tracemalloc.stop()


class Spooled:
    """What a download wrote (to disk: the test holds no body in memory either)."""

    def __init__(self) -> None:
        self.file = tempfile.TemporaryFile()  # noqa: SIM115 - the object owns it
        self.size = 0

    def __call__(self, data: bytes) -> None:
        self.file.write(data)
        self.size += len(data)

    def text(self) -> str:
        self.file.seek(0)
        return self.file.read().decode("utf-8")


def _download(projections, page, fmt: str, table: str | None = None) -> tuple[int, Spooled]:
    out = Spooled()
    peak, _ = _peak(lambda: write_download(projections, page, fmt, page.sheet(table) if table else None, out))
    return peak, out


def test_twenty_thousand_gifts_download_in_constant_memory(cast):
    led = cast.ledger
    led.open_fund(cast.accountant, "BIG", "大额基金", "CNCF", street_town="xianxiaxincun")
    projections = Projections(led)
    projections.run()
    # as the download route builds it: the page with one row of each list, every row streamed
    page = public_data.fund_page(led, projections, "BIG", paging=Paging(limit=1))

    _fill(projections, 0, SMALL)
    small_peak, small = _download(projections, page, "csv", "donations")
    assert small.text().count("\r\n") == SMALL + 1
    # XLSX (openpyxl writes some 5,000 rows a second, slower under tracemalloc): the smaller list
    xlsx_peak, as_xlsx = _download(projections, page, "xlsx")
    print(f"peak XLSX {xlsx_peak / MiB:.1f} MiB at {SMALL:,} rows")
    assert xlsx_peak < BOUND, xlsx_peak
    as_xlsx.file.seek(0)
    book = openpyxl.load_workbook(as_xlsx.file, read_only=True)
    sheet = book[page.sheet("donations").title]
    assert sum(1 for _ in sheet.iter_rows(values_only=True)) == SMALL + 1
    hostile = next(r for r in sheet.iter_rows(min_row=2, max_row=20) if str(r[1].value).startswith("="))
    assert hostile[1].data_type == "s"  # text, never a formula
    assert isinstance(next(sheet.iter_rows(min_row=2, max_row=2))[3].value, (int, float))  # yuan stay numbers
    _fill(projections, SMALL, LARGE)
    large_peak, large = _download(projections, page, "csv", "donations")
    print(f"peak CSV {small_peak / MiB:.1f} MiB at {SMALL:,} rows, {large_peak / MiB:.1f} MiB at {LARGE:,}")
    assert large.size > 1 * MiB
    assert large_peak < BOUND, large_peak
    assert large_peak < small_peak * 1.5 + 2 * MiB, (small_peak, large_peak)  # four times the rows, not the memory
    rows = list(csv.reader(io.StringIO(large.text().lstrip("\ufeff"))))
    assert len(rows) == LARGE + 1
    days = [r[0] for r in rows[1:]]
    assert days == sorted(days, reverse=True)  # newest first, as the page lists them
    assert len({(r[0], r[1], r[3]) for r in rows[1:]}) > LARGE // 2  # not one row repeated
    assert all(not r[1].startswith("=") for r in rows[1:])  # formula neutralisation kept: "'=HYPERLINK…"
    assert sum(r[1].startswith("'=HYPERLINK") for r in rows[1:]) == len(range(0, LARGE, 11))

    json_peak, as_json = _download(projections, page, "json")
    print(f"peak JSON {json_peak / MiB:.1f} MiB")
    assert json_peak < BOUND, json_peak
    written = json.loads(as_json.text())
    assert len(written["tables"]["donations"]) == LARGE and "paging" not in written



def test_the_body_thread_never_holds_the_loop_and_stops_when_its_reader_leaves():
    produced, gate, finished = [], threading.Event(), threading.Event()

    def produce(emit) -> None:
        try:
            for n in range(10_000):
                if n == 5:
                    gate.wait(30)  # a slow read of the views: the thread waits, the loop does not
                emit(f"{n}\n".encode())
                produced.append(n)
        finally:
            finished.set()

    async def scenario() -> tuple[bytes, list[int]]:
        body = threaded_body(produce)
        got = b""
        while got.count(b"\n") < 5:
            got += await body.__anext__()
        # the thread is stuck in its read; the event loop is free meanwhile
        other = await asyncio.gather(*(asyncio.sleep(0, result=n) for n in range(5)))
        await body.aclose()  # the reader goes away
        gate.set()
        await asyncio.to_thread(finished.wait, 30)
        return got, other

    got, other = asyncio.run(scenario())
    assert got == b"0\n1\n2\n3\n4\n" and other == list(range(5))
    assert finished.is_set() and produced == [0, 1, 2, 3, 4]  # it stopped instead of writing the rest for nobody
