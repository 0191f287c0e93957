"""The Content-Security-Policy in a real browser (issue 17 item 3): Debian's Chromium, driven by
Playwright against `wushe serve` on the seeded demo ledger of ``test_browser``, opens every public
page, the receipt page, a receipt check and the Swagger UI at /docs, and no page raises a
Content-Security-Policy violation (neither the ``securitypolicyviolation`` event nor a console
error) — while /docs still renders every operation of the API from this server's own files."""

from __future__ import annotations

import json

from test_browser import DESKTOP, Watched, _pages, pytestmark  # noqa: F401  (the skip marks)
from test_browser import browser as _browser  # noqa: F401  (the fixtures)
from test_browser import demo as _demo  # noqa: F401

WATCH = """window.__csp = [];
document.addEventListener('securitypolicyviolation',
  (e) => window.__csp.push(`${e.effectiveDirective} blocked ${e.blockedURI || 'inline'} at ${e.sourceFile}:${e.lineNumber}`));"""


def _violations(page) -> list[str]:
    return page.evaluate("window.__csp")


def test_no_page_raises_a_content_security_policy_violation(request):
    # test_browser's fixtures, registered in this module under the names they were imported as
    browser, demo = request.getfixturevalue("_browser"), request.getfixturevalue("_demo")
    watched = Watched(browser, DESKTOP, demo.url)
    watched.page.add_init_script(WATCH)
    policies: list[str | None] = []
    watched.page.on("response", lambda r: r.request.resource_type == "document"
                    and policies.append(r.headers.get("content-security-policy")))
    try:
        for lang in ("zh", "en"):
            for name, path in _pages(demo).items():
                target = path if name == "receipt" else f"{path}{'&' if '?' in path else '?'}lang={lang}"
                page = watched.open(target)
                assert page.evaluate("getComputedStyle(document.body).fontFamily"), name
                assert _violations(page) == [], (name, lang)

        page = watched.open("/verify")
        page.fill("#receipt", json.dumps(demo.receipt, ensure_ascii=False))
        with page.expect_navigation():
            page.click("button[type=submit]")
        assert page.locator("#verdict.ok").count() == 1
        assert _violations(page) == [], "the checked receipt"

        page = watched.open("/docs")
        page.wait_for_selector(".swagger-ui .opblock", timeout=30_000)
        assert page.locator(".opblock").count() >= 20  # every route of the OpenAPI document, rendered
        page.locator(".opblock-summary").first.click()  # expanding an operation styles it from the sheet
        page.wait_for_selector(".opblock-body", timeout=10_000)
        assert _violations(page) == [], "/docs"
        assert [p for p in watched.problems if "Content Security Policy" in p or "Content-Security-Policy" in p] == []
        # a favicon request cut short by the next navigation is no fault of the page
        assert [p for p in watched.problems if not ("favicon" in p and "ERR_ABORTED" in p)] == []
        assert policies and all(p and "script-src 'self'" in p for p in policies)  # the policy was in force
    finally:
        watched.close()
