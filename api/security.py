"""Security headers on every answer (pages, JSON, downloads, errors), through the ``secure``
library's ASGI middleware: a strict Content-Security-Policy — this server's own scripts, styles and
images only, no inline script or style, no framing — with ``X-Content-Type-Options: nosniff`` and a
Referrer-Policy that sends no path to other sites.

The pages hold no inline script, style or event attribute (``tests/e2e/test_security_headers.py``
and the browser test keep it so), so the policy costs them nothing; ``img-src data:`` is for the
icons Swagger UI's stylesheet carries inline. HSTS belongs to the TLS-terminating reverse proxy
(docs/operations.md)."""

from __future__ import annotations

from fastapi import FastAPI
from secure import (
    ContentSecurityPolicy,
    CrossOriginOpenerPolicy,
    ReferrerPolicy,
    Secure,
    XContentTypeOptions,
    XFrameOptions,
)
from secure.middleware.asgi import SecureASGIMiddleware

SELF, NONE = "'self'", "'none'"


def content_security_policy() -> ContentSecurityPolicy:
    return (ContentSecurityPolicy().default_src(NONE).script_src(SELF).style_src(SELF).img_src(SELF, "data:")
            .font_src(SELF).connect_src(SELF).form_action(SELF).base_uri(NONE).frame_ancestors(NONE)
            .object_src(NONE))


def headers() -> Secure:
    return Secure(
        csp=content_security_policy(),
        xcto=XContentTypeOptions().nosniff(),
        xfo=XFrameOptions().deny(),  # frame-ancestors 'none' for browsers that predate CSP level 2
        referrer=ReferrerPolicy().strict_origin_when_cross_origin(),
        coop=CrossOriginOpenerPolicy().same_origin(),
    )


def install(app: FastAPI) -> None:
    """Outermost of the app's own middleware, so that refusals of the limits carry the headers too."""
    app.add_middleware(SecureASGIMiddleware, secure=headers())
