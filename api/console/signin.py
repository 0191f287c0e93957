"""Signing in and out (登录与退出): handle and password, a TOTP code where one is enrolled, a new
session (and a new session id) at every sign-in, and the failure limits.

Failure limits, and why a valid credential is not refused by a limit aimed at someone else:

- Lockout: failed sign-ins for one handle from one client address (``WUSHE_CONSOLE_LOCKOUT``, 5 in
  15 minutes) lock that pair; the password is not even checked until the window passes. A colleague
  at the same office address signing in as themselves is not affected.
- The API's failure limit per client address (``WUSHE_API_AUTH_RATE``, shared with bearer tokens):
  console failures count towards it, and past it a sign-in from that address is refused, unless the
  browser carries a device cookie showing it signed in as that handle before (OWASP's "device
  cookie"): someone guessing from a shared address does not lock out the staff who work there.
"""

from __future__ import annotations

import math
import time
from typing import Annotated

import pyotp
from fastapi import APIRouter, Form, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, Response
from limits import parse
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter

from api.console.sessions import COOKIE, DEVICE_COOKIE, PRE_COOKIE
from api.console.settings import ConsoleSettings
from api.console.web import PREFIX, lang_of, render, see_other, staff_of, store
from api.problems import TooManyRequests
from ledger.application import Actor, Ledger
from ledger.errors import KeyRevoked, LedgerError, UnknownKey
from ledger.principals import ROLES

router = APIRouter(prefix=PREFIX, include_in_schema=False)
DEVICE_DAYS = 90


class SignInLimits:
    """Failed sign-ins per (client address, handle), in this process's memory like the API's limits."""

    def __init__(self, settings: ConsoleSettings) -> None:
        self._limiter = MovingWindowRateLimiter(MemoryStorage())
        self.item = parse(settings.lockout)

    def locked_for(self, client: str, handle: str) -> int:
        """Seconds until this pair may try again; 0 if it may now."""
        if self._limiter.test(self.item, "console", client, handle):
            return 0
        stats = self._limiter.get_window_stats(self.item, "console", client, handle)
        return max(1, math.ceil(stats.reset_time - time.time()))

    def failed(self, client: str, handle: str) -> int:
        """Count a failure; returns how many tries are left before the lock."""
        self._limiter.hit(self.item, "console", client, handle)
        return self._limiter.get_window_stats(self.item, "console", client, handle).remaining

    def succeeded(self, client: str, handle: str) -> None:
        self._limiter.clear(self.item, "console", client, handle)


def _client(request: Request) -> str:
    return (request.client.host if request.client else None) or "unknown"


def _secure(request: Request) -> bool:
    return request.url.scheme == "https"


def _form(request: Request, status: int = 200, error: tuple[str, str] | None = None, handle: str = "",
          next_path: str = "") -> HTMLResponse:
    pre = request.cookies.get(PRE_COOKIE) or store(request).new_pre_session()
    response = render(request, "signin.html", staff_of(request), status=status, error=error, handle=handle, next_path=next_path,
                      pre_csrf=store(request).pre_csrf(pre))
    response.set_cookie(PRE_COOKIE, pre, httponly=True, secure=_secure(request), samesite="strict", path=PREFIX)
    return response


def _safe_next(path: str | None) -> str:
    """Only a console path of this site (no open redirect)."""
    if path and path.startswith(PREFIX + "/") and not path.startswith("//") and "\\" not in path:
        return path
    return PREFIX + "/"


@router.get("/sign-in", response_class=HTMLResponse)
def sign_in_form(request: Request, next: str = "") -> Response:
    # Shown even to a browser with a live session: signing in again replaces that session (a
    # session planted in this browser by someone else is ended, never adopted).
    return _form(request, next_path=next)


@router.post("/sign-in", response_class=HTMLResponse)
async def sign_in(
    request: Request,
    handle: Annotated[str, Form(max_length=64)] = "",
    password: Annotated[str, Form(max_length=1024)] = "",
    code: Annotated[str, Form(max_length=12)] = "",
    csrf: Annotated[str, Form(max_length=200)] = "",
    next: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    console = request.app.state.console
    sessions = console.sessions
    pre = request.cookies.get(PRE_COOKIE)
    handle = handle.strip()
    if not pre or csrf != sessions.pre_csrf(pre):
        return _form(request, 403, ("表单已失效，请重新登录", "The form had expired; please sign in again"), handle, next)
    client = _client(request)
    wait = console.limits.locked_for(client, handle)
    if wait:
        minutes = math.ceil(wait / 60)
        return _form(request, 429, (f"登录失败次数过多，此账号在本机已锁定，请 {minutes} 分钟后再试",
                                    f"Too many failed sign-ins: this account is locked here for {minutes} more minute(s)"),
                     handle, next)
    limiter = getattr(request.app.state, "limiter", None)
    known_device = sessions.device_handle(request.cookies.get(DEVICE_COOKIE)) == handle
    if limiter is not None and not known_device:
        try:
            limiter.check_auth_allowed(request)
        except TooManyRequests as exc:
            return _form(request, 429, (exc.message_zh, exc.message), handle, next)
    actor = await run_in_threadpool(_check, request, handle, password, code)
    if isinstance(actor, tuple):
        if limiter is not None:
            limiter.note_auth_failure(request)
        left = console.limits.failed(client, handle)
        zh, en = actor
        if left:
            zh, en = f"{zh}（还可尝试 {left} 次）", f"{en} ({left} more tries before this account is locked here)"
        return _form(request, 401, (zh, en), handle, next)
    console.limits.succeeded(client, handle)
    # A new session id at every sign-in (no fixation): whatever session the browser had is ended.
    sessions.end(request.cookies.get(COOKIE))
    cookie = sessions.create(actor.key)
    response = see_other(_safe_next(next))
    secure = _secure(request)
    response.set_cookie(COOKIE, cookie, httponly=True, secure=secure, samesite="strict", path="/")
    response.set_cookie(DEVICE_COOKIE, sessions.device_cookie(handle), max_age=DEVICE_DAYS * 86400, httponly=True,
                        secure=secure, samesite="strict", path=PREFIX)
    response.delete_cookie(PRE_COOKIE, path=PREFIX)
    return response


WRONG = ("账号或密码不正确", "Wrong handle or password")


def _check(request: Request, handle: str, password: str, code: str) -> Actor | tuple[str, str]:
    """The acting principal for a right handle, password (and code); else why not."""
    console = request.app.state.console
    opened = console.credentials.unseal(handle, password) if handle and password else None
    if opened is None:
        return WRONG
    if opened.totp_secret is not None:
        totp = pyotp.TOTP(opened.totp_secret)
        now = time.time()
        step = next((s for s in (0, -1, 1) if code.strip() and totp.verify(code.strip(), for_time=now + s * 30)), None)
        if step is None:
            return ("动态验证码不正确", "Wrong one-time code")
        if not console.credentials.use_totp_step(handle, int((now + step * 30) // 30)):
            return ("该动态验证码已使用过，请等待下一个", "That one-time code was used already; wait for the next one")
    actor = Actor(handle, opened.key)
    ledger: Ledger = request.app.state.ledger
    try:
        ledger.authorise(actor, *ROLES)
    except (UnknownKey, KeyRevoked):
        return ("此账号的签名密钥已轮换或吊销，请联系管理员重设密码",
                "This account's signing key was rotated or revoked; ask the operator to set the password again")
    except LedgerError:
        return WRONG
    return actor


@router.post("/sign-out")
async def sign_out(request: Request, csrf: Annotated[str, Form(max_length=200)] = "") -> Response:
    staff = staff_of(request)
    if staff is not None and csrf == staff.session.csrf:
        store(request).end(request.cookies.get(COOKIE))
    response = see_other(f"{PREFIX}/sign-in" + ("?lang=en" if lang_of(request) == "en" else ""))
    response.delete_cookie(COOKIE, path="/")
    return response
