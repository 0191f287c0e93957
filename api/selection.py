"""The query parameters of the public lists, read the same way by the pages, the JSON and the
downloads: filters (``street_town``, ``domain``, ``year``, ``status``, ``q``) and a page
(``after`` or ``before`` a cursor, ``limit`` rows). An empty parameter (a form's blank choice) is
no filter; a bad one is a 4xx naming it."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request

from api.listings import MAX_JSON_PAGE, MAX_PAGE, PAGE_SIZE, STATUSES, Filters, Paging
from ledger.errors import InvalidInput, LedgerError, NotFound
from ledger.messages import msg

MAX_SEARCH = 100
"""The longest search text."""


@dataclass(frozen=True)
class Selection:
    filters: Filters
    paging: Paging
    refused: LedgerError | None = None
    """Why the parameters were refused (HTML pages answer it as an error page, in the reader's language)."""


def _text(value: str | None, name: str, longest: int = 200) -> str | None:
    if value is None or not value.strip():
        return None
    value = value.strip()
    if len(value) > longest or "\x00" in value or not value.isprintable() or not _encodable(value):
        raise InvalidInput(name, msg("at most {n} characters", n=longest))
    return value


def _encodable(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate: no database stores it
        return False
    return True


def _number(value: str) -> bool:
    return value.isascii() and value.isdigit()


def read_selection(request: Request, most: int, street_town: str | None, domain: str | None, year: str | None,
                   status: str | None, q: str | None, after: str | None, before: str | None,
                   limit: str | None) -> Selection:
    reference = request.app.state.ledger.reference
    town = _text(street_town, "street_town")
    if town is not None and town not in {t.code for t in reference.street_towns}:
        raise NotFound("street-town", town, field="street_town")
    chosen_domain = _text(domain, "domain")
    if chosen_domain is not None and chosen_domain not in {d.code for d in reference.domains}:
        raise NotFound("service domain", chosen_domain, field="domain")
    chosen_year = None
    if _text(year, "year") is not None:
        if not _number(year.strip()) or not 2000 <= int(year) <= 2999:
            raise InvalidInput("year", msg("a year written with four digits, such as 2026"))
        chosen_year = int(year)
    chosen_status = _text(status, "status")
    if chosen_status is not None and chosen_status not in STATUSES:
        raise InvalidInput("status", msg("choose from {choices}", choices=", ".join(STATUSES)))
    size = PAGE_SIZE
    if _text(limit, "limit") is not None:
        if not _number(limit.strip()) or not 1 <= int(limit) <= most:
            raise InvalidInput("limit", msg("a page holds 1 to {most} rows", most=most))
        size = int(limit)
    return Selection(Filters(town, chosen_domain, chosen_year, chosen_status, _text(q, "q", MAX_SEARCH)),
                     Paging(_text(after, "after", 1000), _text(before, "before", 1000), size))


DESCRIBED = {
    "street_town": "A street-town code: only its projects, hours, corrections, organisations",
    "domain": "A service domain code (projects, hours)",
    "year": "A year: projects running in it, gifts, corrections, organisations registered in it",
    "status": "A project's status today: upcoming, running or ended",
    "q": "Search projects or organisations by name or code (part of either)",
    "after": "The `next` cursor of the page before: the page after it",
    "before": "The `previous` cursor of the page after: the page before it",
    "limit": "Rows per page, 1 to {most}",
}
"""The lists' query parameters (:func:`read_selection`'s order) and what the API documents of each."""


def documented(most: int) -> dict:
    """The lists' query parameters in a route's OpenAPI operation (its ``openapi_extra``), as
    FastAPI would describe optional string parameters: the routes read them themselves
    (:func:`json_selection`), since FastAPI's validation of each of the eight strings on every
    request, a kept answer's included, cost more than building the tag."""
    def described(name: str, text: str) -> dict:
        text = text.format(most=most)
        return {"name": name, "in": "query", "required": False, "description": text,
                "schema": {"anyOf": [{"type": "string"}, {"type": "null"}], "title": name.replace("_", " ").title(),
                           "description": text}}

    refused = {"description": "Validation Error",
               "content": {"application/json": {"schema": {"$ref": "#/components/schemas/HTTPValidationError"}}}}
    return {"parameters": [described(name, text) for name, text in DESCRIBED.items()], "responses": {"422": refused}}


async def html_selection(request: Request) -> Selection:
    """The HTML pages' parameters, read from the query string as it is (see :func:`documented`);
    a refusal is answered as an error page in the reader's language."""
    given = request.query_params
    try:
        return read_selection(request, MAX_PAGE, *(given.get(name) for name in DESCRIBED))
    except LedgerError as exc:
        return Selection(Filters(), Paging(), refused=exc)


async def json_selection(request: Request) -> Selection:
    """The public JSON's parameters, read from the query string (a route declares them with
    ``openapi_extra=documented(MAX_JSON_PAGE)``); a refusal is a 4xx problem naming the parameter."""
    given = request.query_params
    return read_selection(request, MAX_JSON_PAGE, *(given.get(name) for name in DESCRIBED))
