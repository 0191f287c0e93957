"""Imports in the console (导入): upload a donation list or a volunteer sign-in sheet, choose a
remembered column mapping (or upload one, remembered for next time), see every row checked, then
record all rows or none. The checks and the writing are the ledger's own (``Ledger.import_donations``
and ``import_hours``, as ``wushe import``); uploading the same file again records nothing twice."""

from __future__ import annotations

import json
import secrets
import threading
import time
import tomllib
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, Response

from api.console import views
from api.console.catalogue import domain_options, fund_options, town_options
from api.console.web import PREFIX, ConsoleRefusal, Staff, check_csrf, current_staff, render
from ledger.commands.imports import ImportRefused
from ledger.errors import InvalidInput, LedgerError
from ledger.imports.index import ImportIndex, scope_of
from ledger.imports.mapping import mapping_from

router = APIRouter(prefix=PREFIX, include_in_schema=False)
StaffDep = Annotated[Staff, Depends(current_staff)]
ROLES = {"donations": ("accountant",), "hours": ("recorder",)}
KEEP_SECONDS = 30 * 60
"""How long an uploaded file waits, in this server process, between its preview and its commit."""


@dataclass
class Upload:
    """A file previewed and waiting to be committed (kept in memory, for its uploader only)."""

    handle: str
    kind: str
    filename: str
    data: bytes
    mapping: dict[str, Any]
    target: dict[str, str]
    at: float


class Uploads:
    def __init__(self) -> None:
        self._items: dict[str, Upload] = {}
        self._lock = threading.Lock()

    def put(self, upload: Upload) -> str:
        token = secrets.token_urlsafe(16)
        with self._lock:
            now = time.time()
            self._items = {k: v for k, v in self._items.items() if now - v.at < KEEP_SECONDS}
            self._items[token] = upload
        return token

    def get(self, token: str, handle: str) -> Upload | None:
        with self._lock:
            found = self._items.get(token)
        return found if found is not None and found.handle == handle and time.time() - found.at < KEEP_SECONDS else None

    def drop(self, token: str) -> None:
        with self._lock:
            self._items.pop(token, None)


def _kind(kind: str, staff: Staff) -> str:
    if kind not in ROLES:
        raise ConsoleRefusal(404, "not-found", "没有这种导入", "there is no such import")
    staff.require(*ROLES[kind])
    return kind


def _scope(request: Request, staff: Staff, kind: str, fund: str | None = None) -> str | None:
    if kind == "hours":
        return scope_of("hours", staff.principal.organisation)
    row = views.fund_row(request, fund) if fund else None
    foundation = row["foundation"] if row else views.foundation_scope(staff)
    return scope_of("donations", foundation) if foundation else None


def _mappings(request: Request, staff: Staff, kind: str) -> list:
    scope = _scope(request, staff, kind)
    return ImportIndex(request.app.state.ledger.tables).mappings(scope, kind) if scope else []


def _page(request: Request, staff: Staff, kind: str, *, status: int = 200, **extra: Any) -> Response:
    options = {"fund": fund_options(request, staff), "street_town": town_options(request, staff),
               "domain": domain_options(request, staff)}
    return render(request, "import.html", staff, status=status, kind=kind, options=options,
                  mappings=_mappings(request, staff, kind), **extra)


@router.get("/import/{kind}", response_class=HTMLResponse)
def import_form(request: Request, staff: StaffDep, kind: str) -> Response:
    return _page(request, staff, _kind(kind, staff), values={})


def _read_mapping(upload: Any, name: str, request: Request, staff: Staff, kind: str, fund: str | None):
    """The mapping uploaded with the file (TOML or JSON), else the remembered one named."""
    if upload is not None and getattr(upload, "filename", ""):
        return upload.filename, None
    if not name:
        raise InvalidInput("mapping", "choose a remembered mapping or upload one", "请选择已保存的列映射或上传映射文件")
    scope = _scope(request, staff, kind, fund)
    return None, ImportIndex(request.app.state.ledger.tables).mapping(scope, name).as_json()


def _parse_mapping(filename: str, data: bytes) -> dict[str, Any]:
    try:
        text = data.decode("utf-8-sig")
        return tomllib.loads(text) if not filename.lower().endswith(".json") else json.loads(text)
    except (UnicodeDecodeError, tomllib.TOMLDecodeError, json.JSONDecodeError) as exc:
        raise InvalidInput("mapping", f"the mapping file cannot be read: {exc}", "映射文件无法读取") from None


def _run(request: Request, staff: Staff, upload: Upload, commit: bool):
    ledger = request.app.state.ledger
    mapping = mapping_from(upload.mapping)
    t = upload.target
    if upload.kind == "donations":
        return ledger.import_donations(staff.actor, upload.data, upload.filename, mapping, t["fund"],
                                       street_town=t.get("street_town") or None, commit=commit)
    return ledger.import_hours(staff.actor, upload.data, upload.filename, mapping,
                               domain=t.get("domain") or None, commit=commit)


@router.post("/import/{kind}", response_class=HTMLResponse)
async def preview(request: Request, staff: StaffDep, kind: str) -> Response:
    """Check every row; nothing is written (not even the mapping)."""
    kind = _kind(kind, staff)
    form = await request.form()
    check_csrf(request, staff, form.get("csrf"))
    values = {k: str(form.get(k, "")) for k in ("fund", "street_town", "domain", "mapping_name")}
    try:
        file = form.get("file")
        if file is None or not getattr(file, "filename", ""):
            raise InvalidInput("file", "choose the file to import", "请选择要导入的文件")
        uploaded, remembered = _read_mapping(form.get("mapping_file"), values["mapping_name"], request, staff, kind,
                                             values["fund"])
        definition = remembered if remembered is not None else _parse_mapping(
            uploaded, await form.get("mapping_file").read())
        upload = Upload(staff.handle, kind, file.filename, await file.read(), definition,
                        {k: values[k] for k in ("fund", "street_town", "domain")}, time.time())
        outcome = await run_in_threadpool(_run, request, staff, upload, False)
    except LedgerError as exc:
        return _page(request, staff, kind, status=exc.status, values=values,
                     error={"field": exc.field, "rule": exc.rule, "zh": exc.message_zh, "en": exc.message})
    token = request.app.state.console.uploads.put(upload)
    return _page(request, staff, kind, values=values, outcome=outcome, token=token)


@router.post("/import/{kind}/commit", response_class=HTMLResponse)
async def commit(request: Request, staff: StaffDep, kind: str) -> Response:
    """Record every row or none; rows already imported from this source are left as they are."""
    kind = _kind(kind, staff)
    form = await request.form()
    check_csrf(request, staff, form.get("csrf"))
    uploads = request.app.state.console.uploads
    token = str(form.get("token", ""))
    upload = uploads.get(token, staff.handle)
    if upload is None:
        raise ConsoleRefusal(409, "upload-expired", "上传的文件已过期，请重新上传并预览",
                             "the uploaded file has expired; upload it again and preview it")
    try:
        outcome = await run_in_threadpool(_run, request, staff, upload, True)
    except ImportRefused as exc:
        return _page(request, staff, kind, status=422, values=upload.target, outcome=exc.outcome, token=token,
                     error={"field": "file", "rule": exc.rule, "zh": exc.message_zh, "en": exc.message})
    except LedgerError as exc:
        return _page(request, staff, kind, status=exc.status, values=upload.target,
                     error={"field": exc.field, "rule": exc.rule, "zh": exc.message_zh, "en": exc.message})
    uploads.drop(token)
    return render(request, "imported.html", staff, kind=kind, outcome=outcome)
