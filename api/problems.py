"""Problems the API itself raises (authentication, idempotency, limits), as named errors that the
app's handler turns into RFC 9457 problem+json in Chinese and English, like the ledger's own."""

from __future__ import annotations

from fastapi.responses import JSONResponse

from ledger.errors import LedgerError


class Unauthenticated(LedgerError):
    """No bearer token, or one that is unknown, malformed or revoked."""

    rule = "authentication"
    status = 401
    title_zh = "未认证"


class Forbidden(LedgerError):
    """An authenticated principal asks for something their roles do not allow (reads)."""

    rule = "not-authorised"
    status = 403
    title_zh = "无权操作"


class IdempotencyKeyReused(LedgerError):
    """The same Idempotency-Key came with a different request."""

    rule = "idempotency-key-reused"
    status = 422
    title_zh = "幂等键已用于其他请求"


class IdempotencyInFlight(LedgerError):
    """A request with this Idempotency-Key is still being processed."""

    rule = "idempotency-in-flight"
    status = 409
    title_zh = "相同幂等键的请求正在处理"


class HttpError(LedgerError):
    """An HTTP-level refusal (unknown path, method not allowed, unreadable body); status set per case."""

    rule = "http"
    title_zh = "请求无法处理"


class WriteConflict(LedgerError):
    """Concurrent writers kept changing the same stream; nothing was written, retry."""

    rule = "write-conflict"
    status = 409
    title_zh = "并发写入冲突"


class PrinterUnavailable(LedgerError):
    """A PDF was asked for and no headless Chromium could print it (``api.pdf``)."""

    rule = "pdf-unavailable"
    status = 503
    title_zh = "无法生成PDF"


class TooLarge(LedgerError):
    rule = "request-too-large"
    status = 413
    title_zh = "请求过大"


class TooManyRequests(LedgerError):
    rule = "rate-limit"
    status = 429
    title_zh = "请求过于频繁"


def problem_response(exc: LedgerError, headers: dict[str, str] | None = None) -> JSONResponse:
    """The problem document of a named error (used where the app's handlers cannot run: middleware)."""
    body = {"type": f"https://wushe.example/problems/{exc.rule}", "title": exc.title_zh, "status": exc.status,
            "detail": exc.message_zh, "detail_en": exc.message, "rule": exc.rule}
    if exc.field:
        body["field"] = exc.field
    return JSONResponse(body, status_code=exc.status, media_type="application/problem+json", headers=headers)
