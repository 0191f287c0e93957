"""``wushe users``: API tokens (访问令牌) for principals — issue, list, revoke.

Issuing a token reads the principal's private key from the key directory and seals it into the
token table, so the API can sign that principal's writes; the token is printed once and never
stored (only its SHA-256 is). Registered by ``wushe.cli``, whose state and error handling it uses."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from api.auth import TokenStore, load_secret
from api.settings import ApiSettings
from ledger.signing import read_signing_key
from wushe.cli import _fail, handles_errors, out, state

users_app = typer.Typer(help="API tokens for principals: issue, list, revoke (访问令牌).", no_args_is_help=True)


def _store() -> TokenStore:
    secret = load_secret(ApiSettings().secret_path(state.settings.resolved_key_dir))
    return TokenStore(state.ledger, secret)


@users_app.command("token")
@handles_errors
def issue_token(
    handle: str, label: Annotated[str, typer.Option(help="What the token is for (shown in lists).")] = ""
) -> None:
    """Issue an API token acting as HANDLE (its key must be in the key directory)."""
    key = read_signing_key(state.settings.resolved_key_dir, handle)
    token = _store().issue(key, label)
    out.print(f"[green]令牌已签发 token issued[/] for [bold]{handle}[/] (key {key.key_id}); shown once 仅显示一次:")
    out.print(token, highlight=False)


@users_app.command("list")
@handles_errors
def list_tokens() -> None:
    """List issued tokens (ids, not the tokens)."""
    table = Table("id", "principal", "key", "label", "created", "revoked")
    for t in _store().list():
        table.add_row(t.token_id, t.handle, t.key_id, t.label, t.created_at, t.revoked_at or "")
    out.print(table)


@users_app.command("revoke")
@handles_errors
def revoke_token(token_id: Annotated[str, typer.Argument(help="Token id from `wushe users list`.")]) -> None:
    """Revoke a token; requests with it are refused from now on."""
    count = _store().revoke(token_id)
    if count == 0:
        _fail(f"no live token with id {token_id} 未找到有效令牌")
    out.print(f"[green]已吊销 revoked[/] {count} token(s)")


@users_app.command("password")
@handles_errors
def set_password(
    handle: str,
    totp: Annotated[bool, typer.Option("--totp", help="Also enrol a TOTP second factor (approvers and root); "
                                                       "prints the secret to add to an authenticator app.")] = False,
    password_stdin: Annotated[bool, typer.Option("--password-stdin", help="Read the password from standard "
                                                                         "input (for scripts) instead of asking.")] = False,
) -> None:
    """Set the staff console password of HANDLE (its key must be in the key directory); ends its sessions."""
    import sys

    import pyotp

    from api.console.credentials import CredentialStore
    from api.console.sessions import SessionStore
    from api.console.settings import ConsoleSettings

    key = read_signing_key(state.settings.resolved_key_dir, handle)
    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = typer.prompt("新密码 new password", hide_input=True, confirmation_prompt="再输入一次 again")
    principal = state.ledger.directory().principal(handle)
    if totp and not (principal.has("approver") or principal.has("root")):
        _fail("a second factor is for approvers and root 仅审批人和系统管理员可开通动态验证码")
    secret = load_secret(ApiSettings().secret_path(state.settings.resolved_key_dir))
    settings = ConsoleSettings()
    totp_secret = pyotp.random_base32() if totp else None
    CredentialStore(state.ledger, secret, settings).set_password(key, password, totp_secret=totp_secret)
    ended = SessionStore(state.ledger, secret, settings).end_all(handle)
    out.print(f"[green]密码已设置 password set[/] for [bold]{handle}[/] (key {key.key_id}); {ended} session(s) ended")
    if totp_secret:
        uri = pyotp.TOTP(totp_secret).provisioning_uri(name=handle, issuer_name="Wushe Ledger")
        out.print("动态验证码密钥 TOTP secret (add it to an authenticator app; shown once 仅显示一次):")
        out.print(totp_secret, highlight=False)
        out.print(uri, highlight=False)
