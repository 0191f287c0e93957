"""The public transparency pages (公示页面), server-rendered in Chinese or English, with CSV, XLSX and
JSON downloads of every table shown, and the page that checks a receipt or certificate.

Every page at ``/<path>`` has its JSON at ``/api/v1/public/<path>`` (the home page's is ``overview``)
and its downloads at ``/downloads/<csv|xlsx|json>/<path>``: all three come from one
:class:`~api.public_data.PublicPage`, so a figure cannot differ between them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import quote, urlencode

from fastapi import APIRouter, File, Form, Query, Request, UploadFile
from fastapi.responses import FileResponse, HTMLResponse, Response
from fastapi.templating import Jinja2Templates

from api import i18n, public_data
from api.charts import monthly_chart
from api.deps import ReadsDep, public_reads
from api.standing import ViewsWithheld, standing
from api.public_data import PublicPage
from api.receipt_check import MAX_RECEIPT_BYTES, check_receipt, refusal
from ledger.errors import InvalidInput, NotFound
from ledger.messages import msg
from projections.exports import BOM, csv_text, xlsx_bytes

router = APIRouter(tags=["pages"], include_in_schema=False)
HERE = Path(__file__).resolve().parent.parent
templates = Jinja2Templates(directory=HERE / "templates")
i18n.install(templates.env)
STATIC = HERE / "static"

LangQuery = Annotated[Literal["zh", "en"] | None, Query(description="zh (default) or en")]


# --- building any page by its path -----------------------------------------------------------------


def build(request: Request, path: str, street_town: str | None = None) -> PublicPage:
    """The page at ``path`` (``overview`` for the home page), read from the read side."""
    reads = public_reads(request)
    ledger, projections = reads.ledger, reads.projections
    match path.strip("/").split("/"):
        case ["overview"] | [""]:
            return public_data.district_page(ledger, reads.district)
        case ["street-towns", code]:
            return public_data.street_town_page(ledger, projections, code)
        case ["funds"]:
            return public_data.funds_page(ledger, projections)
        case ["funds", code]:
            return public_data.fund_page(ledger, projections, code)
        case ["projects"]:
            return public_data.projects_page(ledger, projections)
        case ["projects", code]:
            return public_data.project_page(ledger, projections, code)
        case ["hours"]:
            return public_data.hours_page(ledger, projections)
        case ["corrections"]:
            return public_data.corrections_page(ledger, projections, street_town)
        case ["checkpoints"]:
            return public_data.checkpoints_page(ledger)
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
            "standing": standing(request.app.state.keeper, request.app.state.reads.views), **extra}


def _render(request: Request, template: str, lang: str, asked: str | None, status: int = 200,
            **extra: Any) -> HTMLResponse:
    response = templates.TemplateResponse(request, template, _context(request, lang, **extra), status_code=status)
    if asked is not None:
        response.set_cookie(i18n.COOKIE, asked, max_age=365 * 24 * 3600, samesite="lax")
    return response


def _page(request: Request, path: str, asked: str | None, street_town: str | None = None) -> HTMLResponse:
    lang = i18n.language(request, asked)
    try:
        page = build(request, path, street_town)
    except NotFound as exc:
        return _render(request, "error.html", lang, asked, status=404, error=exc)
    except ViewsWithheld as exc:
        return _render(request, "withheld.html", lang, asked, status=503, error=exc)
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

    return _render(request, "page.html", lang, asked, page=page, chart=chart, download=download, api=api,
                   href=href)


def _context_url(lang: str, path: str) -> str:
    return f"{path}?lang=en" if lang == "en" else path


@router.get("/", response_class=HTMLResponse)
def home(request: Request, lang: LangQuery = None) -> HTMLResponse:
    return _page(request, "overview", lang)


@router.get("/street-towns/{code}", response_class=HTMLResponse)
def street_town(request: Request, code: str, lang: LangQuery = None) -> HTMLResponse:
    return _page(request, f"street-towns/{code}", lang)


@router.get("/funds", response_class=HTMLResponse)
def funds(request: Request, lang: LangQuery = None) -> HTMLResponse:
    return _page(request, "funds", lang)


@router.get("/funds/{code}", response_class=HTMLResponse)
def fund(request: Request, code: str, lang: LangQuery = None) -> HTMLResponse:
    return _page(request, f"funds/{code}", lang)


@router.get("/projects", response_class=HTMLResponse)
def projects(request: Request, lang: LangQuery = None) -> HTMLResponse:
    return _page(request, "projects", lang)


@router.get("/projects/{code}", response_class=HTMLResponse)
def project(request: Request, code: str, lang: LangQuery = None) -> HTMLResponse:
    return _page(request, f"projects/{code}", lang)


@router.get("/hours", response_class=HTMLResponse)
def volunteer_hours(request: Request, lang: LangQuery = None) -> HTMLResponse:
    return _page(request, "hours", lang)


@router.get("/corrections", response_class=HTMLResponse)
def corrections(request: Request, lang: LangQuery = None, street_town: str | None = None) -> HTMLResponse:
    return _page(request, "corrections", lang, street_town)


@router.get("/checkpoints", response_class=HTMLResponse)
def checkpoints(request: Request, lang: LangQuery = None) -> HTMLResponse:
    return _page(request, "checkpoints", lang)


# --- downloads -------------------------------------------------------------------------------------


@router.get("/downloads/{fmt}/{path:path}")
def download(request: Request, fmt: Literal["csv", "xlsx", "json"], path: str,
             table: str | None = None, street_town: str | None = None) -> Response:
    """A page's tables: JSON (the API's answer), XLSX (one sheet per table), or one table as CSV."""
    page = build(request, path, street_town)
    stem = (page.path.split("?")[0] or "overview").replace("/", "-")
    if fmt == "json":
        body = json.dumps(page.as_json(), ensure_ascii=False, indent=2).encode()
        return Response(body, media_type="application/json", headers=_attachment(f"{stem}.json"))
    if fmt == "xlsx":
        return Response(xlsx_bytes(page.sheets), headers=_attachment(f"{stem}.xlsx"),
                        media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    if table is None:
        raise InvalidInput("table", msg("a CSV holds one table: name it with `?table=`"))
    sheet = page.sheet(table)
    return Response((BOM + csv_text(sheet)).encode(), media_type="text/csv; charset=utf-8",
                    headers=_attachment(f"{stem}-{sheet.name}.csv"))


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
def verify_form(request: Request, lang: LangQuery = None) -> HTMLResponse:
    return _render(request, "verify.html", i18n.language(request, lang), lang, verdict=None, pasted="")


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
        verdict = check_receipt(reads.ledger, request.app.state.settings, data)
    shown = receipt if len(receipt) < 20_000 and "status" not in verdict else ""
    return _render(request, "verify.html", i18n.language(request, lang), lang, status=verdict.get("status", 200),
                   verdict=verdict, pasted=shown)

