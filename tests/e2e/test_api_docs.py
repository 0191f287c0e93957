"""/docs served from this server alone, on SQLite and PostgreSQL: every asset the pages
load is this server's (no CDN: they work offline), and no script is inline (a strict
Content-Security-Policy allows them). tests/e2e/test_browser.py renders /docs in Chromium offline."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from api.main import create_app


@pytest.fixture
def client(cast):
    with TestClient(create_app(ledger=cast.ledger), raise_server_exceptions=False) as client:
        yield client


def test_the_docs_page_loads_only_this_servers_files_and_no_inline_script(client):
    page, needs = client.get("/docs"), ("swagger-ui-bundle.js", "docs.js", "swagger-ui.css")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    html = page.text
    assert not re.search(r"https?://", html), "nothing is loaded from another host (a CDN)"
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), "no inline script"
    assert not re.search(r"\son[a-z]+=", html), "no inline event handler"
    addresses = re.findall(r'(?:src|href)="([^"]+)"', html)
    for name in needs:
        assert any(a.endswith("/" + name) for a in addresses), name
    for address in addresses:
        assert address.startswith("/"), address
        asset = client.get(address)
        assert asset.status_code == 200 and len(asset.content) > 100, address
    assert client.get(re.search(r'data-openapi="([^"]+)"', html).group(1)).json()["paths"]


def test_the_starter_asks_nothing_of_other_hosts(client):
    starter = client.get("/docs/assets/docs.js")
    assert starter.headers["content-type"].startswith(("text/javascript", "application/javascript"))
    assert "SwaggerUIBundle(" in starter.text and "validatorUrl: null" in starter.text
    assert client.get("/docs/assets/..%2Fmain.py").status_code == 404
    assert client.get("/docs/assets/index.html").status_code == 404
    assert client.get("/docs/oauth2-redirect").status_code == 404
    assert client.get("/redoc").status_code == 404  # not served: it would load from a CDN
