"""XSS through the receipt check and the security headers of every page (issue 17 item 3), on
SQLite and PostgreSQL. The verify page renders only what is signed or what the server derives
(never a URL taken from the pasted receipt); every answer carries a strict Content-Security-Policy
(no inline script), ``X-Content-Type-Options: nosniff``, ``frame-ancestors 'none'`` and a
Referrer-Policy; and no served page holds inline script, inline style or an event attribute, so the
policy costs nothing (the browser test checks the console as well)."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser

from publicsite import TOWN, public_site_fixture  # noqa: F401  (the fixture)

CRAFTED = ["javascript:alert(document.domain)", "//evil.example/phish", "/v/1-ab\" onmouseover=\"alert(1)",
           "data:text/html,<script>alert(1)</script>", "https://evil.example/"]


class _Markup(HTMLParser):
    """Every link target, inline script, inline style and event attribute of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []
        self.inline: list[str] = []

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if name in ("href", "src", "action", "formaction") and value is not None:
                self.links.append(value)
            if name.startswith("on") or name == "style":
                self.inline.append(f"<{tag} {name}=…>")
        if tag == "script" and not dict(attrs).get("src"):
            self.inline.append("<script> without src")
        if tag == "style":
            self.inline.append("<style>")


def _markup(html: str) -> _Markup:
    parsed = _Markup()
    parsed.feed(html)
    return parsed


def _verify_form(client, receipt: dict):
    return client.post("/verify", data={"receipt": json.dumps(receipt, ensure_ascii=False)})


def test_a_crafted_receipt_puts_no_link_of_its_own_on_the_verify_page(public_site):
    site = public_site
    good = site.receipt(site.private)
    derived = good["verify_path"]
    for crafted in CRAFTED:
        receipt = {**good, "verify_path": crafted}
        page = _verify_form(site.client, receipt)
        assert page.status_code == 200 and "已校验" in page.text
        links = _markup(page.text).links
        assert not any(crafted in link or link.startswith(("javascript:", "data:", "//", "http")) for link in links), (
            crafted, links)
        assert derived in links  # the link to the receipt page is the server's own, from the verified leaf
        answer = site.client.post("/api/v1/public/verify", json=receipt).json()
        assert answer["verified"] is True and answer["verify_path"] == derived


def test_a_receipt_whose_leaf_this_log_does_not_hold_gets_no_link(public_site):
    site = public_site
    receipt = {**site.receipt(site.private), "position": 999_999, "verify_path": "javascript:alert(1)"}
    answer = site.client.post("/api/v1/public/verify", json=receipt).json()
    assert answer["verified"] is True and answer["position"] is None
    assert answer["verify_path"] == site.receipt(site.private)["verify_path"]


def _pages(site) -> list[str]:
    good = site.receipt(site.private)
    return ["/", "/?lang=en", f"/street-towns/{TOWN}", "/funds", "/funds/GEN", "/projects", "/hours",
            "/corrections", "/checkpoints", "/verify", "/verify?lang=en", good["verify_path"], "/docs",
            "/funds/NOSUCH", "/no/such/page"]


def _policy(response) -> dict[str, list[str]]:
    header = response.headers.get("content-security-policy", "")
    return {d.split()[0]: d.split()[1:] for d in (p.strip() for p in header.split(";")) if d}


def _check_headers(response, what: str) -> None:
    policy = _policy(response)
    assert policy, (what, "no Content-Security-Policy")
    assert policy.get("default-src") == ["'none'"], (what, policy)
    assert policy.get("script-src") == ["'self'"], (what, policy)  # no 'unsafe-inline', no 'unsafe-eval', no host
    assert policy.get("style-src") == ["'self'"], (what, policy)
    assert policy.get("frame-ancestors") == ["'none'"] and policy.get("base-uri") == ["'none'"], (what, policy)
    assert policy.get("form-action") == ["'self'"] and policy.get("object-src") == ["'none'"], (what, policy)
    assert response.headers.get("x-content-type-options") == "nosniff", what
    assert response.headers.get("x-frame-options") == "DENY", what
    assert response.headers.get("referrer-policy") == "strict-origin-when-cross-origin", what


def test_every_page_and_answer_carries_the_security_headers(public_site):
    site, client = public_site, public_site.client
    answers = {path: client.get(path) for path in _pages(site)}
    answers["POST /verify"] = _verify_form(client, site.receipt(site.private))
    for path in ("/api/v1/public/overview", "/api/v1/log/checkpoint", "/openapi.json", "/health",
                 "/static/site.css", "/downloads/csv/funds?table=funds", "/downloads/xlsx/funds",
                 "/api/v1/auth/whoami", "/docs/assets/swagger-ui.css", "/docs/assets/swagger-ui-bundle.js", "/docs/assets/docs.js"):
        answers[path] = client.get(path)
    answers["POST /api/v1/donations (no token)"] = client.post("/api/v1/donations", json={})
    for what, response in answers.items():
        assert response.status_code < 500, (what, response.status_code)
        _check_headers(response, what)


def test_no_page_holds_inline_script_or_style(public_site):
    site, client = public_site, public_site.client
    pages = {path: client.get(path).text for path in _pages(site)}
    pages["POST /verify"] = _verify_form(client, site.receipt(site.private)).text
    own = site.ledger.settings.public_url  # the printed receipt's link, from the server's settings
    for what, html in pages.items():
        parsed = _markup(html)
        assert parsed.inline == [], (what, parsed.inline)
        assert not [link for link in parsed.links if re.match(r"\s*(javascript|data|vbscript):", link, re.IGNORECASE)], what
        assert not [link for link in parsed.links if link.startswith(("http:", "https:", "//"))
                    and not link.startswith(own + "/")], (
            what, "every script, style and link is this server's own")


def test_swagger_docs_are_served_from_this_server(public_site):
    client = public_site.client
    page = client.get("/docs")
    assert page.status_code == 200
    sources = _markup(page.text).links
    assert "/docs/assets/swagger-ui-bundle.js" in sources and "/docs/assets/docs.js" in sources
    assert client.get("/docs/assets/swagger-ui-bundle.js").headers["content-type"].startswith(
        ("text/javascript", "application/javascript"))
    assert 'data-openapi="/openapi.json"' in page.text
    assert client.get("/docs/../../pyproject.toml").status_code == 404
    assert client.get("/redoc").status_code == 404  # its renderer needs inline styles: not served
