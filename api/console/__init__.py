"""The staff console (工作台): server-rendered pages for accountants, approvers, recorders and
auditors, in the same app as the API, signing each write with the signed-in person's own key."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse

from api.console.auditor import AuditRuns
from api.console.credentials import CredentialStore
from api.console.sessions import SessionStore
from api.console.settings import ConsoleSettings
from api.console.signin import SignInLimits
from api.console.web import PREFIX, ConsoleRefusal, SignInRequired, render, see_other, staff_of
from ledger.errors import LedgerError

STATIC = Path(__file__).resolve().parent / "static"


@dataclass
class Console:
    """The console's state in one app: credentials, sessions, sign-in limits, audit runs."""

    settings: ConsoleSettings
    credentials: CredentialStore
    sessions: SessionStore
    limits: SignInLimits
    audits: AuditRuns = field(default_factory=AuditRuns)


def install(app: FastAPI, settings: ConsoleSettings | None = None) -> None:
    """Add the console to an app that already has the authenticated API (``api.writes.install``)."""
    from api.auth import load_secret
    from api.console import approvals, auditor, corrections, imports, receipts, recorder, routes, signin, statements

    settings = settings or ConsoleSettings()
    ledger = app.state.ledger
    secret = load_secret(app.state.api_settings.secret_path(app.state.settings.resolved_key_dir))
    app.state.console = Console(settings, CredentialStore(ledger, secret, settings),
                                SessionStore(ledger, secret, settings), SignInLimits(settings))
    app.state.console.uploads = imports.Uploads()
    for module in (signin, routes, approvals, corrections, recorder, auditor, imports, receipts, statements):
        app.include_router(module.router)

    @app.get(f"{PREFIX}/static/{{name}}", include_in_schema=False)
    def console_static(name: str) -> FileResponse:
        found = STATIC / Path(name).name
        if not found.is_file():
            raise ConsoleRefusal(404, "not-found", "没有这个文件", "no such file")
        return FileResponse(found, headers={"Cache-Control": "public, max-age=3600"})

    @app.get(PREFIX, include_in_schema=False)
    def console_root():
        return see_other(f"{PREFIX}/")

    @app.exception_handler(SignInRequired)
    async def sign_in_required(request: Request, exc: SignInRequired):
        target = request.url.path if request.method == "GET" else f"{PREFIX}/"
        return see_other(f"{PREFIX}/sign-in?next={quote(target)}")

    @app.exception_handler(ConsoleRefusal)
    async def refused(request: Request, exc: ConsoleRefusal):
        return render(request, "error.html", staff_of(request), status=exc.status, error=exc)

    api_handler = app.exception_handlers.get(LedgerError)

    @app.exception_handler(LedgerError)
    async def ledger_error(request: Request, exc: LedgerError):
        # Under /console a person reads the answer: a page, not problem+json.
        if request.url.path.startswith(PREFIX + "/") and not isinstance(exc, ConsoleRefusal):
            error = ConsoleRefusal(exc.status, exc.rule, f"{exc.title_zh}：{exc.message_zh}", exc.message)
            return render(request, "error.html", staff_of(request), status=exc.status, error=error)
        return await api_handler(request, exc)
