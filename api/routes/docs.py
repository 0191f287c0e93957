"""The API's interactive documentation (/docs, Swagger UI), served entirely from this server: the
assets come from the fastapi-offline package, never a CDN, and the page runs no inline script (a
strict Content-Security-Policy allows it), so it works offline and behind a firewall. (ReDoc is not
served: it needs a worker made from a blob, which such a policy refuses.)"""

from __future__ import annotations

from pathlib import Path

import fastapi_offline
from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse

from ledger.errors import NotFound

router = APIRouter(include_in_schema=False)
ASSETS = Path(fastapi_offline.__file__).resolve().parent / "static"
OURS = Path(__file__).resolve().parent.parent / "static"
FILES = {
    "swagger-ui-bundle.js": ASSETS / "swagger-ui-bundle.js",
    "swagger-ui.css": ASSETS / "swagger-ui.css",
    "favicon.png": ASSETS / "favicon.png",
    "docs.js": OURS / "docs.js",
}
"""The only files served under /docs/assets/."""
PREFIX = "/docs/assets"


def _page(title: str, body: str) -> HTMLResponse:
    return HTMLResponse(f"""<!doctype html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<link rel="icon" href="{PREFIX}/favicon.png">
<link rel="stylesheet" href="{PREFIX}/swagger-ui.css">
</head>
<body>
{body}
</body>
</html>
""")


@router.get("/docs", response_class=HTMLResponse)
def swagger_ui(request: Request) -> HTMLResponse:
    """Swagger UI over this server's OpenAPI document; ``docs.js`` starts it."""
    openapi = request.app.openapi_url or "/openapi.json"
    return _page("五社账本 API · Wushe Ledger API",
                 f'<div id="swagger-ui" data-openapi="{openapi}"></div>\n'
                 f'<script src="{PREFIX}/swagger-ui-bundle.js"></script>\n<script src="{PREFIX}/docs.js"></script>')


@router.get(PREFIX + "/{name}")
def asset(name: str) -> FileResponse:
    found = FILES.get(name)
    if found is None or not found.is_file():
        raise NotFound("file", name, field="name")
    return FileResponse(found, headers={"Cache-Control": "public, max-age=86400"})
