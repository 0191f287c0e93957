"""The interactive API documentation (Swagger UI) at ``/docs``, served from this server alone:
its script and stylesheet come from the ``fastapi-offline`` package, and it is started from a file
(``static/swagger-init.js``) rather than FastAPI's inline script, which the pages' policy forbids
(``api.security``). ReDoc is not served: its renderer writes inline styles."""

from __future__ import annotations

from pathlib import Path

import fastapi_offline
from fastapi import APIRouter
from fastapi.responses import FileResponse, HTMLResponse

from ledger.errors import NotFound

router = APIRouter(include_in_schema=False)
ASSETS = {
    "swagger-ui-bundle.js": Path(fastapi_offline.__file__).parent / "static" / "swagger-ui-bundle.js",
    "swagger-ui.css": Path(fastapi_offline.__file__).parent / "static" / "swagger-ui.css",
    "swagger-init.js": Path(__file__).parent / "static" / "swagger-init.js",
}

PAGE = """<!doctype html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>接口文档 API · 五社账本 Wushe Ledger</title>
<link rel="stylesheet" href="/docs/swagger-ui.css">
<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">
</head>
<body>
<div id="swagger-ui"></div>
<script src="/docs/swagger-ui-bundle.js"></script>
<script src="/docs/swagger-init.js"></script>
</body>
</html>
"""


@router.get("/docs", response_class=HTMLResponse)
def docs() -> HTMLResponse:
    return HTMLResponse(PAGE)


@router.get("/docs/{name}")
def asset(name: str) -> FileResponse:
    path = ASSETS.get(name)
    if path is None:
        raise NotFound("file", name, field="name")
    media = "text/javascript" if name.endswith(".js") else "text/css"
    return FileResponse(path, media_type=media, headers={"Cache-Control": "public, max-age=86400"})
