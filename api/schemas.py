"""Schemas shared by the routers: the RFC 9457 problem document as the OpenAPI documents it."""

from __future__ import annotations

from pydantic import BaseModel, Field


class Problem(BaseModel):
    """An RFC 9457 problem document: Chinese title and detail, English detail, the rule broken and
    the field at fault."""

    type: str
    title: str = Field(description="Short title in Chinese")
    status: int
    detail: str = Field(description="What went wrong, in Chinese")
    detail_en: str = Field(description="What went wrong, in English")
    rule: str = Field(description="Stable name of the rule or check that refused the request")
    field: str | None = Field(None, description="The input at fault, where there is one")


def _problem(description: str) -> dict:
    return {"description": description, "model": Problem,
            "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}}


PROBLEMS: dict[int | str, dict] = {
    401: _problem("No valid bearer token 未认证"),
    403: _problem("The principal's role or scope does not allow this 无权操作"),
    404: _problem("A named fund, project, disbursement… does not exist 未找到"),
    409: _problem("A rule of the ledger refused it, or the same Idempotency-Key is still running 规则冲突"),
    413: _problem("The request body is too large 请求过大"),
    422: _problem("Malformed input, naming the field 输入无效"),
    429: _problem("Too many requests 请求过于频繁"),
}
"""Error answers of the authenticated routers, all ``application/problem+json``."""
