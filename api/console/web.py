"""The console's plumbing: templates, language, who is signed in, CSRF checks and error pages."""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates

from api import i18n
from api.console import labels
from api.console.sessions import COOKIE, Session, SessionStore
from ledger.application import Ledger
from ledger.errors import KeyRevoked, LedgerError, UnknownKey
from ledger.money import format_cny
from ledger.principals import ROLES, Principal

HERE = Path(__file__).resolve().parent
templates = Jinja2Templates(directory=HERE / "templates")
i18n.install(templates.env)
PREFIX = "/console"


class SignInRequired(Exception):
    """No live session: the browser is sent to the sign-in page."""


class ConsoleRefusal(Exception):
    """A refusal shown as a console page (403 for roles and CSRF, 404 for what does not exist)."""

    def __init__(self, status: int, rule: str, zh: str, en: str) -> None:
        super().__init__(en)
        self.status, self.rule, self.zh, self.en = status, rule, zh, en


def forbidden(zh: str, en: str) -> ConsoleRefusal:
    return ConsoleRefusal(403, "not-authorised", zh, en)


@dataclass(frozen=True)
class Staff:
    """The signed-in principal of a console request."""

    session: Session
    principal: Principal

    @property
    def actor(self):
        return self.session.actor

    @property
    def handle(self) -> str:
        return self.session.actor.handle

    def has(self, *roles: str) -> bool:
        return any(self.principal.has(r) for r in roles)

    def require(self, *roles: str) -> None:
        """Pages check roles here, as the API's reads do; writes are checked by the ledger itself."""
        if not self.has(*roles):
            names_zh = "或".join(labels.ROLES[r][0] for r in roles)
            names_en = " or ".join(labels.ROLES[r][1].lower() for r in roles)
            raise forbidden(f"此页面需要{names_zh}角色", f"this page needs the role {names_en}")


def lang_of(request: Request) -> str:
    asked = request.query_params.get("lang")
    return i18n.language(request, asked if asked in i18n.LANGS else None)


def store(request: Request) -> SessionStore:
    return request.app.state.console.sessions


def staff_of(request: Request) -> Staff | None:
    """The request's signed-in staff member, if any; the key must still be current in the directory."""
    cached = getattr(request.state, "staff", False)
    if cached is not False:
        return cached
    session = store(request).lookup(request.cookies.get(COOKIE))
    found = None
    if session is not None:
        ledger: Ledger = request.app.state.ledger
        try:
            found = Staff(session, ledger.authorise(session.actor, *ROLES))
        except (UnknownKey, KeyRevoked):
            store(request).end(request.cookies.get(COOKIE))
    request.state.staff = found
    return found


def current_staff(request: Request) -> Staff:
    """Dependency of every console route but sign-in."""
    found = staff_of(request)
    if found is None:
        raise SignInRequired()
    return found


def check_csrf(request: Request, staff: Staff, token: str | None) -> None:
    """Every console form carries the session's CSRF token; a cross-site origin is refused too."""
    origin = request.headers.get("origin")
    if origin and origin != "null" and urlsplit(origin).netloc != request.url.netloc:
        raise ConsoleRefusal(403, "csrf", "请求来自其他网站，已拒绝", "the request came from another site and was refused")
    if not token or not hmac.compare_digest(token, staff.session.csrf):
        raise ConsoleRefusal(403, "csrf", "表单已失效（CSRF 校验未通过），请返回重新打开表单",
                             "the form is no longer valid (CSRF check failed); go back and open it again")


def render(request: Request, template: str, staff: Staff | None = None, status: int = 200,
           **extra: Any) -> HTMLResponse:
    lang = lang_of(request)

    def t(zh: str, en: str) -> str:
        return i18n.pick(lang, zh, en)

    def label(table: str, code: str | None) -> str:
        if code is None:
            return "—"
        pair = getattr(labels, table).get(code)
        return t(*pair) if pair else code

    def switch(to: str) -> str:
        return f"{request.url.path}?lang={to}"

    context = {
        "lang": lang, "t": t, "label": label, "switch": switch, "staff": staff, "cny": format_cny,
        "date": lambda v: i18n.format_date(v, lang), "prefix": PREFIX,
        "csrf": staff.session.csrf if staff else None, "district": request.app.state.ledger.reference.district,
        "town": lambda code: t(*_town(request, code)), **extra,
    }
    response = templates.TemplateResponse(request, template, context, status_code=status)
    response.headers["Cache-Control"] = "no-store"
    asked = request.query_params.get("lang")
    if asked in i18n.LANGS:
        response.set_cookie(i18n.COOKIE, asked, max_age=365 * 24 * 3600, samesite="lax")
    return response


def _town(request: Request, code: str | None) -> tuple[str, str]:
    if not code:
        return ("全区", "Whole district")
    try:
        town = request.app.state.ledger.reference.street_town(code)
    except LedgerError:
        return (code, code)
    return (town.name_zh, town.name_en)


def see_other(path: str) -> RedirectResponse:
    return RedirectResponse(path, status_code=303)
