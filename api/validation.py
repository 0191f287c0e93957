"""Bad requests in words: every validation error of a request (its body, query, path or headers)
becomes a problem document naming the field and the rule broken, in Chinese and English from the
message catalogue. Pydantic's own English and the patterns it checks never reach a person.

The amount type lives here too: it reads what a person typed (full-width digits included) and says
exactly what is wrong with it (``ledger.money.amount_problem``), as the command line does.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BeforeValidator, WithJsonSchema
from pydantic_core import PydanticCustomError

from ledger.errors import field_label
from ledger.messages import Msg, msg, term
from ledger.money import amount_problem, normalise_amount

AMOUNT_PATTERN = r"^(0|[1-9][0-9]{0,11})(\.[0-9]{1,2})?$"


def _amount(value: Any) -> str:
    problem = amount_problem(value)
    if problem is not None:
        raise PydanticCustomError("invalid_amount", problem.en, {"message": problem})
    return normalise_amount(value)


Amount = Annotated[str, BeforeValidator(_amount), WithJsonSchema(
    {"type": "string", "pattern": AMOUNT_PATTERN, "maxLength": 15,
     "description": "Yuan as a decimal string, at most two places: \"1200.50\" (full-width digits are read too)"})]
"""Yuan as typed at an edge: a decimal string with at most two places."""

PATTERNS: dict[str, Msg] = {
    r"^[A-Za-z0-9_-]{1,64}$": msg("use letters, digits, '-' and '_' only, at most 64 of them"),
    r"^(([01][0-9]|2[0-3]):[0-5][0-9]|24:00)$": msg("a time of day as HH:MM, from 00:00 to 24:00"),
    r"^[\x21-\x7e]+$": msg("printable ASCII characters without spaces"),
    AMOUNT_PATTERN: msg("yuan with digits and at most two decimal places, such as 1200.50"),
}
"""What each pattern of the API's inputs asks for, in words."""


def _expected(ctx: dict[str, Any]) -> str:
    choices = str(ctx.get("expected", "")).replace("'", "").replace(" or ", ", ").split(", ")
    return ", ".join(f"`{c}`" for c in choices if c)


def explain(error: dict[str, Any]) -> Msg:
    """One pydantic error (``RequestValidationError.errors()``) as a message of the catalogue."""
    kind, ctx, value = error.get("type", ""), error.get("ctx") or {}, error.get("input")
    if isinstance(ctx.get("message"), Msg):  # our own validators say it themselves
        return ctx["message"]
    if kind == "missing":
        return msg("is required")
    if kind == "extra_forbidden":
        return msg("is not a field of this request")
    if kind in ("string_type", "str_type"):
        return msg("must be text (a JSON string)")
    if kind in ("int_type", "int_parsing", "int_from_float"):
        return msg("must be a whole number")
    if kind in ("bool_type", "bool_parsing"):
        return msg("must be true or false")
    if kind in ("list_type", "tuple_type"):
        return msg("must be a list")
    if kind in ("dict_type", "model_type", "model_attributes_type"):
        return msg("must be a JSON object")
    if kind in ("float_type", "float_parsing", "decimal_type", "decimal_parsing"):
        return msg("must be a number")
    if kind == "literal_error" or kind == "enum":
        return msg("must be one of {choices}", choices=_expected(ctx))
    if kind in ("string_too_short", "too_short"):
        return msg("must not be empty") if ctx.get("min_length") in (1, None) else \
            msg("needs at least {count}", count=ctx["min_length"])
    if kind == "string_too_long":
        return msg("is too long: at most {count} characters", count=ctx.get("max_length"))
    if kind == "too_long":
        return msg("holds too many items: at most {count}", count=ctx.get("max_length"))
    if kind == "string_pattern_mismatch":
        return PATTERNS.get(str(ctx.get("pattern")), msg("is not in the expected form"))
    if kind in ("greater_than_equal", "greater_than"):
        return msg("must be at least {limit}", limit=ctx.get("ge", ctx.get("gt")))
    if kind in ("less_than_equal", "less_than"):
        return msg("must be at most {limit}", limit=ctx.get("le", ctx.get("lt")))
    if kind.startswith(("date_", "datetime_")) or kind == "date_type":
        if isinstance(value, str) and "range" in str(ctx.get("error", "")):
            return msg("{typed} is not a day of the calendar", typed=value[:40])
        return msg("must be a date written YYYY-MM-DD, such as 2026-03-01")
    if kind.startswith("time_"):
        return msg("must be a time of day as HH:MM")
    return msg("is not valid here")


def _where(error: dict[str, Any]) -> str:
    """The field's name: the body's field path, or the query / path / header parameter."""
    loc = [str(p) for p in error.get("loc", ())]
    if loc and loc[0] in ("body", "query", "path", "header", "cookie"):
        loc = loc[1:]
    return ".".join(loc) or "body"


def problem_of(errors: list[dict[str, Any]]) -> dict[str, Any]:
    """The problem document's parts for a failed validation: rule, field, details in both
    languages, and each error on its own (``errors``)."""
    if any(e.get("type") == "json_invalid" for e in errors):
        where = next((e["loc"][-1] for e in errors if e.get("type") == "json_invalid" and e.get("loc")), None)
        text = msg("the request body is not valid JSON (at character {position})", position=where) \
            if isinstance(where, int) else msg("the request body is not valid JSON")
        return {"rule": "invalid-json", "title": term("invalid JSON"), "field": "body", "detail": text.zh,
                "detail_en": text.en, "errors": [{"field": "body", "detail": text.zh, "detail_en": text.en}]}
    items = []
    for error in errors:
        field = _where(error)
        reason = explain(error)
        leaf = field.rsplit(".", 1)[-1]
        label = field_label(leaf) if not leaf.isdigit() else field_label(field.split(".")[0])
        items.append({"field": field, "rule": "invalid-amount" if error.get("type") == "invalid_amount" else None,
                      "detail": f"{label.zh}：{reason.zh}", "detail_en": f"{field}: {reason.en}"})
    rule = "invalid-amount" if items and all(i["rule"] == "invalid-amount" for i in items) else "invalid-input"
    return {"rule": rule, "title": term("invalid amount") if rule == "invalid-amount" else term("invalid input"),
            "field": items[0]["field"] if items else None, "detail": "；".join(i["detail"] for i in items),
            "detail_en": "; ".join(i["detail_en"] for i in items),
            "errors": [{k: v for k, v in i.items() if v is not None} for i in items]}
