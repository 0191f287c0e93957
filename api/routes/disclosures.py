"""The public page of what each foundation published and when (信息公开记录), with its JSON: the signed
publications (``Organisation.DisclosurePublished``) of every foundation holding a fund, newest first."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from api import i18n
from api.caching import Fresh
from api.deps import public_reads
from api.routes.pages import LangQuery, _render
from ledger.disclosures import ITEM_NAMES
from ledger.errors import NotFound
from projections import funds

router = APIRouter(tags=["pages"])


def published(request: Request) -> dict[str, Any]:
    """Every foundation's publications, each verified as its organisation stream is loaded."""
    reads = public_reads(request)
    codes = sorted({row["foundation"] for row in reads.projections.rows(funds.FUNDS) if row["foundation"]})
    rows = []
    for code in codes:
        try:
            organisation = reads.ledger.organisation(code)
        except NotFound:
            continue
        for p in getattr(organisation, "publications", []):
            zh, en = ITEM_NAMES.get(p["item"], ({"major_event": "重大事项", "correction": "更正说明"}.get(p["item"], "其他"),
                                                p["item"].replace("_", " ")))
            rows.append({"foundation": code, "foundation_name": organisation.name, "item": p["item"], "item_zh": zh,
                         "item_en": en, "subject": p["subject"], "title": p["title"], "where": p["where"],
                         "published_on": p["published_on"]})
    rows.sort(key=lambda r: (r["published_on"], r["foundation"]), reverse=True)
    return {"publications": rows}


@router.get("/disclosures", response_class=HTMLResponse, include_in_schema=False)
def disclosures_page(request: Request, tag: Fresh, lang: LangQuery = None) -> HTMLResponse:
    response = _render(request, "disclosures.html", i18n.language(request, lang), lang, data=published(request))
    response.headers.update(tag)
    return response


@router.get("/api/v1/public/disclosures")
def disclosures_json(request: Request, tag: Fresh) -> dict[str, Any]:
    """What each foundation published (信息公开), where and when, newest first."""
    return published(request)
