"""Console forms (表单): each is described once (its fields, labels and the API route it posts to)
and handled the same way — parse the form into the API's own request model, call the API's own
route with the signed-in person as caller, under the form's Idempotency-Key, so no rule exists
twice; on refusal show the rule next to its field, with every typed value kept, nothing written."""

from __future__ import annotations

import inspect
import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from pydantic import BaseModel, ValidationError

from api.auth import Caller
from api.console.web import PREFIX, Staff, check_csrf, render, see_other
from api.problems import IdempotencyInFlight
from ledger.errors import LedgerError

Option = tuple[str, str, str]
"""(value, Chinese label, English label)."""


@dataclass
class Field:
    """One input of a form."""

    name: str
    """The API model's field name (so a ledger error's ``field`` lands next to it)."""
    zh: str
    en: str
    kind: str = "text"
    """text, amount, date, time, select, checkbox, checks (several), textarea, number, hidden"""
    options: Callable[[Request, Staff], list[Option]] | None = None
    required: bool = False
    hint_zh: str = ""
    hint_en: str = ""
    optional_choice: bool = False
    """A select that may be left empty (sent as absent)."""


@dataclass
class Form:
    """A console form and the API route it goes through."""

    slug: str
    zh: str
    en: str
    model: type[BaseModel]
    route: Callable[..., Any]
    fields: list[Field]
    roles: tuple[str, ...]
    """Who sees the form (the ledger decides who may write, exactly as for the API)."""
    path_param: str | None = None
    """A field passed to the route as its path parameter (code, number), not in the body."""
    lede_zh: str = ""
    lede_en: str = ""
    extra: Callable[[dict[str, Any]], dict[str, Any]] = field(default=lambda data: data)
    """Turns the form's flat values into the model's shape (milestone rows into a list…)."""
    done: Callable[[str, tuple[int, ...]], str] | None = None
    """Where to send the browser after a write (default: the recorded page)."""
    context: Callable[[Request, Staff, dict[str, Any], Form], dict[str, Any]] | None = None
    """More for the page around the form (the request under review, the event to reverse)."""


def blank(form: Form) -> dict[str, Any]:
    return {f.name: ([] if f.kind == "checks" else False if f.kind == "checkbox" else "") for f in form.fields}


def parse(form: Form, data) -> dict[str, Any]:
    """The submitted values, as typed (strings; booleans for checkboxes; lists for checks)."""
    values: dict[str, Any] = {}
    for f in form.fields:
        if f.kind == "checkbox":
            values[f.name] = data.get(f.name) in ("on", "true", "1")
        elif f.kind == "checks":
            values[f.name] = [str(v) for v in data.getlist(f.name)]
        else:
            values[f.name] = str(data.get(f.name, "")).strip()
    for name in ("milestone_name", "milestone_amount"):
        if name in data or any(k.startswith(name) for k in data):
            values.update({k: str(v).strip() for k, v in data.items() if k.startswith(name)})
    return values


def body_of(form: Form, values: dict[str, Any]) -> dict[str, Any]:
    """The API request body: empty inputs left out, so the model's defaults apply."""
    body = {}
    for f in form.fields:
        if f.name == form.path_param or f.kind == "hidden" and f.name.startswith("_"):
            continue
        value = values.get(f.name)
        if value in ("", None) and f.kind not in ("checkbox", "checks"):
            continue
        if f.kind == "number":
            try:
                value = int(value)
            except ValueError:
                pass
        body[f.name] = value
    return form.extra({**body, **{k: v for k, v in values.items() if k.startswith("milestone_")}})


_PYDANTIC = {
    "missing": ("必填", "required"),
    "string_pattern_mismatch": ("格式不正确", "not in the expected format"),
    "string_too_long": ("内容过长", "too long"),
    "string_too_short": ("不能为空", "must not be empty"),
    "literal_error": ("请从列表中选择", "choose one from the list"),
    "enum": ("请从列表中选择", "choose one from the list"),
    "date_from_datetime_parsing": ("日期格式为 年-月-日（YYYY-MM-DD）", "a date as YYYY-MM-DD"),
    "date_parsing": ("日期格式为 年-月-日（YYYY-MM-DD）", "a date as YYYY-MM-DD"),
    "date_type": ("日期格式为 年-月-日（YYYY-MM-DD）", "a date as YYYY-MM-DD"),
    "value_error": ("格式不正确", "not in the expected format"),
    "int_parsing": ("须为整数", "a whole number"),
    "int_type": ("须为整数", "a whole number"),
    "greater_than_equal": ("数值过小", "too small"),
    "less_than_equal": ("数值过大", "too large"),
    "too_long": ("项目过多", "too many entries"),
    "bool_type": ("须为是或否", "yes or no"),
    "extra_forbidden": ("不接受此项", "not accepted"),
}
_AMOUNT_HINT = ("金额以元为单位，正数，最多两位小数，例如 1200.50", "yuan, positive, at most two decimal places, e.g. 1200.50")


SHOWN_AT = {"agreement.ref": "agreement_ref"}
"""Model fields a form shows under another input's name (a special fund's agreement reference)."""


def validation_errors(exc: ValidationError, form: Form) -> dict[str, dict[str, str]]:
    """Pydantic's complaints as zh/en messages per form field (never its raw English text)."""
    kinds = {f.name: f.kind for f in form.fields}
    errors: dict[str, dict[str, str]] = {}
    for e in exc.errors():
        loc = [str(p) for p in e.get("loc", ())]
        name = loc[0] if loc else "_form"
        part = SHOWN_AT.get(".".join(loc[:2]), ".".join(loc[:2]))
        if part in kinds:  # a part of a nested object the form shows as a field of its own
            name = part
        if name == "milestones":
            name = "milestone_name_1"
        zh, en = _PYDANTIC.get(e["type"], ("输入无效", "invalid input"))
        if kinds.get(name) == "amount" and e["type"] == "string_pattern_mismatch":
            zh, en = _AMOUNT_HINT
        errors.setdefault(name, {"rule": "invalid-input", "zh": zh, "en": en})
    return errors


def ledger_error(exc: LedgerError, form: Form) -> dict[str, dict[str, str]]:
    """A ledger rule's refusal, next to the field it names (the form's head when it names none)."""
    names = {f.name for f in form.fields}
    named = SHOWN_AT.get(exc.field, exc.field)
    where = named if named in names else "_form"
    if exc.field == "milestones":
        where = "milestone_name_1"
    return {where: {"rule": exc.rule, "zh": f"{exc.title_zh}：{exc.message_zh}", "en": exc.message}}


def show(request: Request, staff: Staff, form: Form, values: dict[str, Any] | None = None, *,
         errors: dict | None = None, key: str | None = None, status: int = 200, **extra: Any) -> Response:
    options = {f.name: f.options(request, staff) for f in form.fields if f.options is not None}
    if form.context is not None:
        extra = {**form.context(request, staff, values or {}, form), **extra}
    return render(request, "form.html", staff, status=status, form=form, values=values or blank(form),
                  errors=errors or {}, options=options, idempotency_key=key or uuid.uuid4().hex, **extra)


async def submit(request: Request, staff: Staff, form: Form) -> Response:
    """Handle a posted form: CSRF, the API model, the API route, the answer."""
    data = await request.form()
    check_csrf(request, staff, data.get("csrf"))
    key = str(data.get("idempotency_key", ""))[:128] or uuid.uuid4().hex
    values = parse(form, data)
    try:
        body = form.model.model_validate(body_of(form, values))
    except ValidationError as exc:
        return show(request, staff, form, values, errors=validation_errors(exc, form), key=key, status=422)
    except LedgerError as exc:  # a value the form turns into the model's shape (a percent) was refused
        return show(request, staff, form, values, errors=ledger_error(exc, form), key=key, status=exc.status)
    caller = Caller(staff.actor, staff.principal, None)
    args = [values[form.path_param]] if form.path_param else []
    try:
        answer = await _call(form.route, request, caller, key, *args, body)
    except IdempotencyInFlight:
        # A second click while the first is still running: wait for the first one's answer.
        answer = await run_in_threadpool(_await_first, request, staff, key)
        if answer is None:
            return show(request, staff, form, values, key=key, status=409, errors={"_form": {
                "rule": "idempotency-in-flight", "zh": "上一次提交仍在处理，请稍候刷新本页",
                "en": "the first submission is still being processed; reload this page in a moment"}})
    except LedgerError as exc:
        return show(request, staff, form, values, errors=ledger_error(exc, form), key=key, status=exc.status)
    return see_other(_recorded(form, answer))


async def _call(route, request, caller, key, *args):
    if inspect.iscoroutinefunction(route):
        return await route(request, caller, key, *args)
    return await run_in_threadpool(route, request, caller, key, *args)


def _await_first(request: Request, staff: Staff, key: str) -> tuple[str, tuple[int, ...], bool] | None:
    keys = request.app.state.idempotency
    for _ in range(50):
        found = keys.find(staff.handle, key)
        if found is not None:
            return found.ident, keys.positions(found), True
        time.sleep(0.1)
    return None


def _recorded(form: Form, answer) -> str:
    if isinstance(answer, tuple):
        ident, positions, replayed = answer
    else:
        written = json.loads(answer.body)
        ident, positions = written["id"], tuple(written["positions"])
        replayed = answer.headers.get("Idempotent-Replayed") == "true"
    if form.done is not None:
        return form.done(ident, positions)
    query = {"form": form.slug, "id": ident, "positions": ",".join(str(p) for p in positions)}
    if replayed:
        query["replayed"] = "1"
    return f"{PREFIX}/recorded?{urlencode(query)}"


