"""The auditor's screens (审计): download the audit bundle, run the full audit on the server's copy
in a background thread (never on the event loop), and read the findings."""

from __future__ import annotations

import io
import shutil
import tempfile
import threading
import uuid
import zipfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, Response

from api.console.web import PREFIX, ConsoleRefusal, Staff, check_csrf, current_staff, render, see_other
from audits import bundle as bundles
from audits import report
from audits.verify import audit
from ledger.errors import LedgerError

router = APIRouter(prefix=PREFIX, include_in_schema=False)
StaffDep = Annotated[Staff, Depends(current_staff)]
AUDIT_ROLES = ("auditor", "root")


@dataclass
class AuditRun:
    """One audit of the server's copy, started from the console."""

    run_id: str
    started_by: str
    started_at: str
    status: str = "running"
    """running, done or failed"""
    doc: dict[str, Any] | None = None
    error: str | None = None
    finished_at: str | None = None


@dataclass
class AuditRuns:
    """The runs of this server process (kept in memory; the findings can be downloaded)."""

    runs: dict[str, AuditRun] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self, ledger: Any, staff: Staff) -> AuditRun:
        run = AuditRun(uuid.uuid4().hex[:12], staff.handle, datetime.now(UTC).isoformat(timespec="seconds"))
        with self.lock:
            self.runs[run.run_id] = run
        threading.Thread(target=self._run, args=(ledger, run), name=f"audit-{run.run_id}", daemon=True).start()
        return run

    @staticmethod
    def _run(ledger: Any, run: AuditRun) -> None:
        try:
            loaded = bundles.collect(ledger, figures=True)
            result = audit(loaded, reference=ledger.reference, workers=1)
            run.doc = report.document(result, source="server copy 服务器副本", reference=ledger.reference)
            run.status = "done"
        except Exception as exc:  # noqa: BLE001  (the page says what failed; the server goes on)
            run.status, run.error = "failed", f"{type(exc).__name__}: {exc}"
        run.finished_at = datetime.now(UTC).isoformat(timespec="seconds")


def _runs(request: Request) -> AuditRuns:
    return request.app.state.console.audits


@router.get("/audit", response_class=HTMLResponse)
def audit_home(request: Request, staff: StaffDep) -> Response:
    staff.require(*AUDIT_ROLES)
    runs = sorted(_runs(request).runs.values(), key=lambda r: r.started_at, reverse=True)
    return render(request, "audit.html", staff, runs=runs)


@router.get("/audit/bundle.zip")
async def bundle_zip(request: Request, staff: StaffDep) -> Response:
    staff.require(*AUDIT_ROLES)
    data = await run_in_threadpool(_zip_bundle, request.app.state.ledger)
    return Response(data, media_type="application/zip", headers={
        "Content-Disposition": 'attachment; filename="audit-bundle.zip"', "Cache-Control": "no-store"})


def _zip_bundle(ledger: Any) -> bytes:
    """The bundle as ``wushe audit export`` writes it, zipped."""
    scratch = Path(tempfile.mkdtemp(prefix="wushe-bundle-"))
    try:
        target = scratch / "bundle"
        bundles.write(bundles.collect(ledger, figures=True), target, log_key=_log_key(ledger))
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for path in sorted(target.rglob("*")):
                if path.is_file():
                    archive.write(path, f"bundle/{path.relative_to(target)}")
        return buffer.getvalue()
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _log_key(ledger: Any) -> str | None:
    """The log's current verifier key for the manifest (none when the directory does not give it)."""
    try:
        keys = ledger.directory().active_keys(ledger.origin)
    except LedgerError:
        return None
    return keys[-1].key.vkey if keys else None


@router.post("/audit/runs")
async def start_audit(request: Request, staff: StaffDep, csrf: Annotated[str, Form(max_length=200)] = "") -> Response:
    staff.require(*AUDIT_ROLES)
    check_csrf(request, staff, csrf)
    run = _runs(request).start(request.app.state.ledger, staff)
    return see_other(f"{PREFIX}/audit/runs/{run.run_id}")


def _run(request: Request, run_id: str) -> AuditRun:
    run = _runs(request).runs.get(run_id)
    if run is None:
        raise ConsoleRefusal(404, "not-found", "没有这次审计", "no such audit run")
    return run


@router.get("/audit/runs/{run_id}", response_class=HTMLResponse)
def audit_run(request: Request, staff: StaffDep, run_id: str) -> Response:
    staff.require(*AUDIT_ROLES)
    return render(request, "audit_run.html", staff, run=_run(request, run_id))


@router.get("/audit/runs/{run_id}/findings.html", response_class=HTMLResponse)
def audit_report(request: Request, staff: StaffDep, run_id: str) -> Response:
    staff.require(*AUDIT_ROLES)
    run = _run(request, run_id)
    if run.doc is None:
        raise ConsoleRefusal(409, "audit-running", "审计尚未完成", "the audit has not finished")
    return HTMLResponse(report.render_html(run.doc), headers={"Cache-Control": "no-store"})
