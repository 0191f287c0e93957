"""The public transparency pages (公示页面), server-rendered in Chinese or English, with CSV, XLSX and
JSON downloads of every table shown, and the page that checks a receipt or certificate.

Every page at ``/<path>`` has its JSON at ``/api/v1/public/<path>`` (the home page's is ``overview``)
and its downloads at ``/downloads/<csv|xlsx|json>/<path>``: all three come from one
:class:`~api.public_data.PublicPage`, so a figure cannot differ between them. Lists that grow come
a page at a time (:mod:`api.listings`), every answer is tagged for caching (:mod:`api.caching`),
and a download holds every row, streamed from a thread of its own (:mod:`api.streaming`).
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Depends, File, Form, Query, Request, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, HTMLResponse, StreamingResponse
from fastapi.templating import Jinja2Templates

from api import i18n, public_data
from api.caching import Fresh, FreshForm, answered
from api.charts import monthly_chart
from api.deps import ReadsDep, public_reads
from api.listings import PAGE_SIZE, Filters, Paging, RowSpool, every_row
from api.public_data import PublicPage
from api.receipt_check import MAX_RECEIPT_BYTES, check_receipt, refusal
from api.selection import Selection, html_selection
from api.standing import ViewsWithheld, standing
from api.streaming import threaded_body
from ledger.errors import InvalidInput, LedgerError, NotFound
from ledger.messages import msg
from projections.exports import csv_chunks, xlsx_book
from projections.report import snapshot

router = APIRouter(tags=["pages"], include_in_schema=False)
HERE = Path(__file__).resolve().parent.parent
templates = Jinja2Templates(directory=HERE / "templates")
i18n.install(templates.env)
STATIC = HERE / "static"

LangQuery = Annotated[Literal["zh", "en"] | None, Query(description="zh (default) or en")]


# --- building any page by its path -----------------------------------------------------------------

EVERYTHING = Selection(Filters(), Paging())


def build(request: Request, path: str, selection: Selection = EVERYTHING) -> PublicPage:
    """The page at ``path`` (``overview`` for the home page), read from the read side: its lists
    filtered and one page of each as ``selection`` asks."""
    reads = public_reads(request)
    ledger, projections = reads.ledger, reads.projections
    filters, paging = selection.filters, selection.paging
    match path.strip("/").split("/"):
        case ["overview"] | [""]:
            return public_data.district_page(ledger, reads.district)
        case ["street-towns", code]:
            return public_data.street_town_page(ledger, projections, code, paging=paging)
        case ["street-towns", code, "donations"]:
            return public_data.street_town_donations_page(ledger, projections, code, filters, paging)
        case ["funds"]:
            return public_data.funds_page(ledger, projections)
        case ["funds", code]:
            return public_data.fund_page(ledger, projections, code, filters, paging)
        case ["funds", code, "usage"]:
            return public_data.fund_usage_page(ledger, projections, code, paging)
        case ["projects"]:
            return public_data.projects_page(ledger, projections, filters, paging)
        case ["projects", code]:
            return public_data.project_page(ledger, projections, code)
        case ["hours"]:
            return public_data.hours_page(ledger, projections, filters, paging)
        case ["corrections"]:
            return public_data.corrections_page(ledger, projections, filters, paging)
        case ["organisations"]:
            return public_data.organisations_page(ledger, projections, filters, paging)
        case ["checkpoints"]:
            return public_data.checkpoints_page(ledger, paging=paging)
    raise NotFound("page", path, field="path")


# --- rendering -------------------------------------------------------------------------------------


def cell(value: Any, kind: str, lang: str) -> str:
    """One value as a reader sees it."""
    if value is None or value == "":
        return "—"
    if kind == "yuan":
        return i18n.format_cny(value)
    if kind == "decimal":
        return i18n.format_decimal(value)
    if kind == "int":
        return f"{value:,}"
    if kind == "bool":
        return i18n.pick(lang, "是", "yes") if value else i18n.pick(lang, "否", "no")
    if kind == "list":
        return ("、" if lang == "zh" else ", ").join(str(v) for v in value)
    if kind == "date":
        return i18n.format_date(value, lang)
    if kind == "month":
        return i18n.format_month(value, lang)
    if kind == "datetime":
        return f"{i18n.format_date(value, lang)} {i18n.format_time(value)}"
    return str(value)


def _context(request: Request, lang: str, **extra: Any) -> dict[str, Any]:
    def url(path: str, **params: str) -> str:
        if lang == "en":
            params = {**params, "lang": "en"}
        query = urlencode({k: v for k, v in params.items() if v is not None})
        return f"{path}?{query}" if query else path

    def switch(to: str) -> str:
        params = {k: v for k, v in request.query_params.items() if k != "lang"}
        params["lang"] = to
        return f"{request.url.path}?{urlencode(params)}"

    def t(zh: str, en: str) -> str:
        return i18n.pick(lang, zh, en)

    return {"lang": lang, "t": t, "url": url, "switch": switch, "cell": lambda v, k: cell(v, k, lang),
            "quote": quote, "district": request.app.state.ledger.reference.district,
            "standing": standing(request.app.state.keeper, request.app.state.keeper.projections),
            "read_side": getattr(request.state, "read_side", None), **extra}


def _render(request: Request, template: str, lang: str, asked: str | None, status: int = 200,
            **extra: Any) -> HTMLResponse:
    response = templates.TemplateResponse(request, template, _context(request, lang, **extra), status_code=status)
    return _remember_language(request, response, asked)


def _remember_language(request: Request, response, asked: str | None):
    if asked is not None and request.cookies.get(i18n.COOKIE) != asked:
        # Set only when it changes: an answer that sets a cookie is one a shared cache must not keep.
        response.set_cookie(i18n.COOKIE, asked, max_age=365 * 24 * 3600, samesite="lax")
    return response


async def _page(request: Request, path: str, asked: str | None, selection: Selection,
                tag: dict[str, str]) -> HTMLResponse:
    """The page at ``path``, rendered, or the same bytes rendered for an earlier reader of the same
    tag (``api.caching.Answers``). A kept page is answered on the event loop, with no hop to the
    thread pool; building one (reading views, rendering) always runs in the pool."""
    lang = i18n.language(request, asked)
    answer = await answered(request, tag, lambda: _built_page(request, path, lang, selection))
    return _remember_language(request, answer, asked)


def _built_page(request: Request, path: str, lang: str, selection: Selection) -> tuple[HTMLResponse, int | None]:
    try:
        if selection.refused is not None:
            raise selection.refused
        page = build(request, path, selection)
    except ViewsWithheld as exc:
        return _render(request, "withheld.html", lang, None, status=503, error=exc), None
    except LedgerError as exc:
        return _render(request, "error.html", lang, None, status=exc.status, error=exc), None
    chart = monthly_chart(page.chart, lang) if page.chart is not None else None
    data_path = page.path or "overview"

    def download(fmt: str, table: str | None = None) -> str:
        params = {**page.query, **({"table": table} if table else {})}
        return f"/downloads/{fmt}/{data_path}" + (f"?{urlencode(params)}" if params else "")

    def api() -> str:
        return f"/api/v1/public/{data_path}" + (f"?{urlencode(page.query)}" if page.query else "")

    def href(column, row: dict[str, Any]) -> str | None:
        """The page a cell links to, when its row has what the link needs."""
        if column.link is None:
            return None
        try:
            target = column.link.format(**{k: quote(str(v), safe="") for k, v in row.items() if v is not None})
        except KeyError:
            return None
        return _context_url(lang, target)

    def pages_of(name: str) -> dict[str, Any] | None:
        """The first / previous / next links of a paged table, and which rows of how many it shows."""
        shown = page.windows.get(name)
        if shown is None:
            return None
        base = {**page.query, **({"limit": str(shown.limit)} if shown.limit != PAGE_SIZE else {}),
                **({"lang": "en"} if lang == "en" else {})}

        def link(**cursor: str) -> str:
            return f"/{page.path}?{urlencode({**base, **cursor})}" if {**base, **cursor} else f"/{page.path}"

        first_page = selection.paging.after is None and selection.paging.before is None or shown.previous is None
        return {"total": shown.total, "count": len(shown.rows), "first_page": first_page,
                "first": None if first_page else link(),
                "previous": link(before=shown.previous) if shown.previous else None,
                "next": link(after=shown.next) if shown.next else None}

    response = _render(request, "page.html", lang, None, page=page, chart=chart, download=download, api=api,
                       href=href, pages_of=pages_of, choices=_choices(request, page))
    return response, page.position


def withheld_page(request: Request, exc: ViewsWithheld) -> HTMLResponse:
    """The answer of any public page while the views fail their check (``api.standing``)."""
    return _render(request, "withheld.html", i18n.language(request, None), None, status=503, error=exc)


def _choices(request: Request, page: PublicPage) -> dict[str, Any] | None:
    """What the filter form of a list page offers (None where the page has no filters)."""
    if page.filters is None:
        return None
    reference = request.app.state.ledger.reference
    offered = {"projects": ("street_town", "domain", "year", "status", "q"), "fund": ("year", "street_town"),
               "street-town-donations": ("year",),
               "hours": ("street_town", "domain"), "corrections": ("street_town", "year"),
               "organisations": ("street_town", "year", "q")}[page.kind]
    return {"offered": offered, "street_towns": reference.street_towns, "domains": reference.domains,
            "statuses": STATUS_NAMES, "filters": page.filters}


STATUS_NAMES = (("upcoming", "未开始", "Not started"), ("running", "进行中", "Under way"), ("ended", "已结束", "Ended"))


def _context_url(lang: str, path: str) -> str:
    return f"{path}?lang=en" if lang == "en" else path


Chosen = Annotated[Selection, Depends(html_selection)]


@router.get("/", response_class=HTMLResponse)
async def home(request: Request, tag: Fresh, lang: LangQuery = None) -> HTMLResponse:
    return await _page(request, "overview", lang, EVERYTHING, tag)


@router.get("/street-towns/{code}", response_class=HTMLResponse)
async def street_town(request: Request, code: str, tag: Fresh, chosen: Chosen, lang: LangQuery = None) -> HTMLResponse:
    return await _page(request, f"street-towns/{code}", lang, chosen, tag)


@router.get("/street-towns/{code}/donations", response_class=HTMLResponse)
async def street_town_donations(request: Request, code: str, tag: Fresh, chosen: Chosen,
                                lang: LangQuery = None) -> HTMLResponse:
    return await _page(request, f"street-towns/{code}/donations", lang, chosen, tag)


@router.get("/funds", response_class=HTMLResponse)
async def funds(request: Request, tag: Fresh, lang: LangQuery = None) -> HTMLResponse:
    return await _page(request, "funds", lang, EVERYTHING, tag)


@router.get("/funds/{code}", response_class=HTMLResponse)
async def fund(request: Request, code: str, tag: Fresh, chosen: Chosen, lang: LangQuery = None) -> HTMLResponse:
    return await _page(request, f"funds/{code}", lang, chosen, tag)


@router.get("/funds/{code}/usage", response_class=HTMLResponse)
async def fund_usage(request: Request, code: str, tag: Fresh, chosen: Chosen, lang: LangQuery = None) -> HTMLResponse:
    return await _page(request, f"funds/{code}/usage", lang, chosen, tag)


@router.get("/projects", response_class=HTMLResponse)
async def projects(request: Request, tag: Fresh, chosen: Chosen, lang: LangQuery = None) -> HTMLResponse:
    return await _page(request, "projects", lang, chosen, tag)


@router.get("/projects/{code}", response_class=HTMLResponse)
async def project(request: Request, code: str, tag: Fresh, lang: LangQuery = None) -> HTMLResponse:
    return await _page(request, f"projects/{code}", lang, EVERYTHING, tag)


@router.get("/hours", response_class=HTMLResponse)
async def volunteer_hours(request: Request, tag: Fresh, chosen: Chosen, lang: LangQuery = None) -> HTMLResponse:
    return await _page(request, "hours", lang, chosen, tag)


@router.get("/corrections", response_class=HTMLResponse)
async def corrections(request: Request, tag: Fresh, chosen: Chosen, lang: LangQuery = None) -> HTMLResponse:
    return await _page(request, "corrections", lang, chosen, tag)


@router.get("/organisations", response_class=HTMLResponse)
async def organisations(request: Request, tag: Fresh, chosen: Chosen, lang: LangQuery = None) -> HTMLResponse:
    return await _page(request, "organisations", lang, chosen, tag)


@router.get("/checkpoints", response_class=HTMLResponse)
async def checkpoints(request: Request, tag: Fresh, chosen: Chosen, lang: LangQuery = None) -> HTMLResponse:
    return await _page(request, "checkpoints", lang, chosen, tag)


# --- downloads -------------------------------------------------------------------------------------


@router.get("/downloads/{fmt}/{path:path}")
def download(request: Request, fmt: Literal["csv", "xlsx", "json"], path: str, tag: Fresh, chosen: Chosen,
             table: str | None = None) -> StreamingResponse:
    """A page's tables, every row of its lists (as filtered, not one page): JSON (the API's answer),
    XLSX (one sheet per table), or one table as CSV. Streamed from a thread of its own, read from
    one snapshot of the views a batch at a time."""
    # The lists stream whole below, so the page is built with one row of each; the checkpoints
    # (no view list: each row is a consistency proof) follow the request's own page.
    if chosen.refused is not None:
        raise chosen.refused
    selection = chosen if path.strip("/") == "checkpoints" else Selection(chosen.filters, Paging(limit=1))
    page = build(request, path, selection)
    stem = (page.path.split("?")[0] or "overview").replace("/", "-")
    if fmt == "csv" and table is None:
        raise InvalidInput("table", msg("a CSV holds one table: name it with `?table=`"))
    chosen_sheet = page.sheet(table) if fmt == "csv" else None
    projections = public_reads(request).projections

    def produce(emit) -> None:
        write_download(projections, page, fmt, chosen_sheet, emit)

    if chosen_sheet is not None:
        name, media = f"{stem}-{chosen_sheet.name}.csv", "text/csv; charset=utf-8"
    elif fmt == "json":
        name, media = f"{stem}.json", "application/json"
    else:
        name, media = f"{stem}.xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    return StreamingResponse(threaded_body(produce), media_type=media, headers={**_attachment(name), **tag})


def write_download(projections, page: PublicPage, fmt: str, chosen_sheet, emit) -> None:
    """Write a download of ``page`` (one table as CSV when ``chosen_sheet`` is given) to ``emit``.

    Its lists are read whole inside one snapshot of the views, a batch at a time, into spools on
    disk; the snapshot closes before anything is formatted, so a slow format (XLSX) or a slow
    client never keeps a transaction open. Memory stays at a batch whatever the rows' number."""
    wanted = [chosen_sheet] if chosen_sheet is not None else page.sheets
    spools: dict[str, RowSpool] = {}
    try:
        with snapshot(projections) as views:
            position = views.position
            for sheet in wanted:
                listing = page.listings.get(sheet.name)
                if listing is not None:
                    spools[sheet.name] = RowSpool(every_row(views, listing))

        def rows(sheet):
            return spools.get(sheet.name, sheet.rows)

        if chosen_sheet is not None:
            for piece in csv_chunks(chosen_sheet.columns, rows(chosen_sheet)):
                emit(piece.encode())
        elif fmt == "json":
            for piece in json_chunks(page, position, rows):
                emit(piece.encode())
        else:
            book = xlsx_book((s, rows(s)) for s in page.sheets)
            with tempfile.TemporaryFile() as zipped:
                book.save(zipped)
                zipped.seek(0)
                while piece := zipped.read(256 * 1024):
                    emit(piece)
    finally:
        for spool in spools.values():
            spool.close()


def json_chunks(page: PublicPage, position: int, rows) -> Iterator[str]:
    """The page as the API answers it, with every row of its lists instead of one page of them."""
    head = page.as_json()
    head.pop("tables")
    head.pop("paging", None)
    head.pop("next", None)
    head["position"] = position
    yield json.dumps(head, ensure_ascii=False)[:-1] + ', "tables": {'
    for number, sheet in enumerate(page.sheets):
        yield ("," if number else "") + f"\n{json.dumps(sheet.name)}: ["
        for index, row in enumerate(rows(sheet)):
            yield ("," if index else "") + "\n" + json.dumps(public_data.row_json(sheet, row), ensure_ascii=False)
        yield "]"
    yield "}}\n"


def _attachment(name: str) -> dict[str, str]:
    return {"Content-Disposition": f"attachment; filename=\"{name}\""}


@router.get("/favicon.ico")
def favicon() -> FileResponse:
    """Browsers ask for it on every page without a declared icon (the printable receipt page)."""
    return FileResponse(STATIC / "favicon.svg", media_type="image/svg+xml",
                        headers={"Cache-Control": "public, max-age=86400"})


@router.get("/static/{name}")
def static(name: str) -> FileResponse:
    """The stylesheet (served from the app itself: no CDN, no web font)."""
    found = STATIC / Path(name).name
    if not found.is_file():
        raise NotFound("file", name, field="name")
    return FileResponse(found, headers={"Cache-Control": "public, max-age=3600"})


# --- checking a receipt ----------------------------------------------------------------------------


@router.get("/verify", response_class=HTMLResponse)
async def verify_form(request: Request, tag: FreshForm, lang: LangQuery = None) -> HTMLResponse:
    language = i18n.language(request, lang)

    def built() -> tuple[HTMLResponse, int]:
        return _render(request, "verify.html", language, None, verdict=None, pasted=""), 0

    return _remember_language(request, await answered(request, tag, built), lang)


@router.post("/verify", response_class=HTMLResponse)
async def verify_submitted(
    request: Request, reads: ReadsDep,
    receipt: Annotated[str, Form(max_length=MAX_RECEIPT_BYTES)] = "",
    file: Annotated[UploadFile | None, File()] = None,
    lang: LangQuery = None,
) -> HTMLResponse:
    """Upload or paste a receipt: a verdict, with exactly why when it does not verify."""
    data: bytes | str = receipt.strip()
    if file is not None and file.filename:
        data = await file.read(MAX_RECEIPT_BYTES + 1)
    if not data:
        verdict = refusal("give a receipt: paste its JSON or choose its file", "请粘贴收据 JSON 或选择收据文件")
    else:
        verdict = await run_in_threadpool(check_receipt, reads.ledger, request.app.state.settings, data)
    shown = receipt if len(receipt) < 20_000 and "status" not in verdict else ""
    return await run_in_threadpool(_render, request, "verify.html", i18n.language(request, lang), lang,
                                   status=verdict.get("status", 200), verdict=verdict, pasted=shown)

