"""Rate limits (public reads, failed logins) through the ``limits`` library, and the limits of a
request as a small ASGI middleware: its body's size (refused before a large body is read into
memory); the bearer token of the authenticated API, checked before the body is read at all; and
for JSON, how deeply the body nests (refused before any parser recurses into it: Python's JSON
decoder raises RecursionError a few thousand levels down).

Failed logins are counted per client address; a valid token is never refused by that count (one
office behind one NAT keeps working while someone there mistypes). The address is the TCP peer's:
forwarded headers count only from the proxies named in ``WUSHE_API_TRUSTED_PROXIES`` (none by
default), through uvicorn's own proxy-headers middleware (``trust_proxies``)."""

from __future__ import annotations

import math
import re
import time

from fastapi import FastAPI
from limits import parse
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.problems import TooLarge, TooManyRequests, Unauthenticated, problem_response
from api.settings import ApiSettings
from api.unavailable import RETRY_AFTER_SECONDS, STORE_ERRORS, StoreUnavailable
from ledger.errors import LedgerError

PUBLIC_PREFIXES = ("/api/v1/public", "/api/v1/log", "/v/", "/downloads/")
"""Reads counted against the public rate limit (the downloads, the heaviest, among them)."""
AUTHENTICATED = "/api/v1/"
"""Every route under it, but the public and log ones, needs a bearer token."""
BEARER = {"WWW-Authenticate": 'Bearer realm="wushe"'}
MAX_JSON_DEPTH = 32
"""Deepest nesting of arrays and objects accepted in a JSON body or a receipt (the API's own
bodies nest three levels, a receipt four)."""

_STRINGS = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"')
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")


class JsonTooDeep(LedgerError):
    rule = "json-too-deep"
    status = 422
    title_zh = "JSON 嵌套过深"

    def __init__(self, limit: int = MAX_JSON_DEPTH):
        super().__init__(f"the JSON is nested more than {limit} levels deep", f"JSON 嵌套超过 {limit} 层",
                         field="body")


def json_too_deep(data: bytes | str, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether a JSON text nests deeper than ``limit``, found without parsing it: its brackets
    outside strings (``translate`` keeps only them), counted until the depth passes the limit — so
    an attack of thousands of levels stops after ``limit`` of them."""
    raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else bytes(data)
    depth = 0
    for bracket in _STRINGS.sub(b"", raw).translate(None, _NOT_BRACKETS):
        depth += 1 if bracket in b"[{" else -1
        if depth > limit:
            return True
    return False


def _is_json(scope: Scope) -> bool:
    for name, value in scope.get("headers") or []:
        if name == b"content-type":
            media = value.split(b";")[0].strip().lower()
            return media == b"application/json" or media.endswith(b"+json")
    return False


def _client(scope_or_request) -> str:
    client = scope_or_request.client if isinstance(scope_or_request, Request) else scope_or_request.get("client")
    return (client[0] if client else None) or "unknown"


class QuietMemoryStorage(MemoryStorage):
    """``limits``' memory storage without its expiry thread: the parent starts a new
    ``threading.Timer`` 10 ms after the last one ended, on the next hit, only to drop windows
    that have expired. Under load that was some 100 thread starts a second, each waiting for its
    thread to start while the event loop held the GIL (docs/performance.md section 8). The
    windows are judged by their timestamps either way; here the expired ones are dropped inline,
    at most once a second, with the addresses left with none (the parent keeps an empty list for
    every address ever seen)."""

    PURGE_EVERY = 1.0

    def __init__(self) -> None:
        self._purge_after = 0.0
        super().__init__()

    def _MemoryStorage__schedule_expiry(self) -> None:  # the parent's private hook, called by each hit
        now = time.monotonic()
        if now >= self._purge_after:
            self._purge_after = now + self.PURGE_EVERY
            self._MemoryStorage__expire_events()  # type: ignore[attr-defined]
            for key in [key for key, entries in list(self.events.items()) if not entries]:  # copied at once: others hit
                with self.locks[key]:
                    if not self.events.get(key):
                        self.events.pop(key, None)
                self.locks.pop(key, None)


class Limiter:
    """Moving-window counters per client address, kept in this process's memory."""

    def __init__(self, settings: ApiSettings) -> None:
        self._limiter = MovingWindowRateLimiter(QuietMemoryStorage())
        self.public = parse(settings.public_rate)
        self.auth = parse(settings.auth_rate)

    def _refused(self, item, key: str, what_en: str, what_zh: str) -> TooManyRequests:
        stats = self._limiter.get_window_stats(item, key)
        wait = max(1, math.ceil(stats.reset_time - time.time()))
        exc = TooManyRequests(f"too many {what_en} from this address; retry in {wait} s",
                              f"此地址{what_zh}过于频繁，请 {wait} 秒后重试")
        exc.retry_after = wait  # type: ignore[attr-defined]
        return exc

    def check_public(self, client: str) -> TooManyRequests | None:
        if self._limiter.hit(self.public, "public", client):
            return None
        return self._refused(self.public, "public", "requests", "请求")

    def auth_failed(self, scope_or_request) -> LedgerError:
        """The answer to a request whose token is missing or not valid: 401, or 429 once its
        address has failed too often (a valid token is looked at first, and never counted)."""
        client = _client(scope_or_request)
        if not self._limiter.test(self.auth, "auth", client):
            return self._refused(self.auth, "auth", "failed authentications", "认证失败")
        self._limiter.hit(self.auth, "auth", client)
        return Unauthenticated("a valid bearer token is required (Authorization: Bearer …)",
                               "需要有效的访问令牌（Authorization: Bearer …）", field="authorization")

    def check_auth_allowed(self, request: Request) -> None:
        """For a password form (the console's sign-in), whose check costs an Argon2id derivation:
        refuse an address that has failed too often before checking. A browser that signed in as
        the handle before is let through by the caller, so colleagues behind one address are not
        locked out by someone guessing."""
        if not self._limiter.test(self.auth, "auth", _client(request)):
            raise self._refused(self.auth, "auth", "failed authentications", "认证失败")

    def note_auth_failure(self, request: Request) -> None:
        self._limiter.hit(self.auth, "auth", _client(request))

    def reset(self) -> None:
        """Forget every count (tests)."""
        self._limiter.storage.reset()


class LimitsMiddleware:
    """Refuses bodies over the size limit (413), JSON nested too deeply (422) and public reads over
    the rate limit (429)."""

    def __init__(self, app: ASGIApp, limiter: Limiter, max_body_bytes: int,
                 max_json_depth: int = MAX_JSON_DEPTH, tokens=None) -> None:
        self.app = app
        self.limiter = limiter
        self.max_body = max_body_bytes
        self.max_depth = max_json_depth
        self.tokens = tokens
        """The ``api.auth.TokenStore`` that authenticates requests before their bodies are read."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length")
        too_large = TooLarge(f"the request body exceeds {self.max_body} bytes", f"请求体超过 {self.max_body} 字节")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_body):
            await problem_response(too_large)(scope, receive, send)
            return
        if scope["path"].startswith(PUBLIC_PREFIXES):
            refused = self.limiter.check_public(_client(scope))
            if refused is not None:
                headers_out = {"Retry-After": str(refused.retry_after)}  # type: ignore[attr-defined]
                await problem_response(refused, headers_out)(scope, receive, send)
                return
        if self.tokens is not None and scope["path"].startswith(AUTHENTICATED) and not scope["path"].startswith(
                PUBLIC_PREFIXES):
            refused = await self._authenticate(scope, headers)
            if refused is not None:
                await refused(scope, receive, send)
                return
        if scope.get("method") in ("POST", "PUT", "PATCH") and (declared is None or _is_json(scope)):
            # Read the body here, up to the limit (none may be declared), check a JSON body's depth
            # before anything parses it, and hand it on whole.
            body = bytearray()
            while True:
                message = await receive()
                if message["type"] != "http.request":
                    break
                body += message.get("body", b"")
                if len(body) > self.max_body:
                    await problem_response(too_large)(scope, receive, send)
                    return
                if not message.get("more_body", False):
                    break
            if _is_json(scope) and json_too_deep(body, self.max_depth):
                await problem_response(JsonTooDeep(self.max_depth))(scope, receive, send)
                return
            replayed = False

            async def replay() -> Message:
                nonlocal replayed
                if replayed:
                    return await receive()
                replayed = True
                return {"type": "http.request", "body": bytes(body), "more_body": False}

            await self.app(scope, replay, send)
            return
        await self.app(scope, receive, send)

    async def _authenticate(self, scope: Scope, headers: dict[bytes, bytes]):
        """The token's first read (kept in the request's state for ``api.auth.current_caller``), or
        the refusal to send instead — before a byte of the body is read."""
        scheme, _, token = headers.get(b"authorization", b"").decode("latin-1").partition(" ")
        key = headers.get(b"idempotency-key") if scope.get("method") == "POST" else None
        found = None
        if scheme.lower() == "bearer" and token.strip():
            try:
                found = await run_in_threadpool(self.tokens.lookup, token.strip(),
                                                key.decode("latin-1") if key is not None else None)
            except STORE_ERRORS:
                problem = StoreUnavailable("the database is unavailable; retry shortly", "数据库暂不可用，请稍后重试")
                return problem_response(problem, {"Retry-After": str(RETRY_AFTER_SECONDS)})
        if found is not None:
            scope.setdefault("state", {})["first_read"] = found
            return None
        refusal = self.limiter.auth_failed(scope)
        if isinstance(refusal, TooManyRequests):
            return problem_response(refusal, {"Retry-After": str(refusal.retry_after)})  # type: ignore[attr-defined]
        return problem_response(refusal, BEARER)


def trust_proxies(app: FastAPI, settings: ApiSettings) -> None:
    """Take the client address from forwarded headers, but only when the TCP peer is one of the
    configured proxies; outermost, so every limit counts the forwarded address."""
    if settings.trusted_proxies:
        from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

        app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=list(settings.trusted_proxies))
