"""``wushe``: the command line for accountants, approvers, recorders, root and operators.

Every command that writes acts as one principal (``--as HANDLE`` or ``WUSHE_ACTOR``) and signs with
that principal's private key from the key directory. Errors print a clear message in Chinese and
English and exit non-zero; nothing is half-written, because each command is one transaction.
"""

from __future__ import annotations

import functools
import json
import sys
from datetime import date, time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from ledger.application import Actor, Ledger, Recorded
from ledger.checkpoints import CheckpointError
from ledger.errors import LedgerError
from ledger.merkle_log import ProofRangeError
from ledger.messages import Msg, codes, explain, msg
from ledger.money import format_cny, parse_amount, parse_rate_bp
from ledger.principals import LOG, ROLES
from ledger.receipts import ReceiptError
from ledger.settings import Settings, trusted_witnesses
from ledger.signing import (
    NoteFormatError,
    SigningKey,
    VerifierKey,
    key_file_stem,
    read_signing_key,
    retire_key_files,
)
from ledger.stores import StoreRefused, display_url

app = typer.Typer(help="Wushe Ledger (五社账本): signed ledger of charity funds and volunteer hours.",
                  no_args_is_help=True, pretty_exceptions_enable=False)
keys_app = typer.Typer(help="Signing keys: create, list, rotate, revoke (密钥).", no_args_is_help=True)
principal_app = typer.Typer(help="Principals: people and bodies who sign (主体).", no_args_is_help=True)
org_app = typer.Typer(help="Organisations (组织).", no_args_is_help=True)
fund_app = typer.Typer(help="Funds and special funds (基金/专项基金).", no_args_is_help=True)
donation_app = typer.Typer(help="Donations (捐赠).", no_args_is_help=True)
grant_app = typer.Typer(help="Grants and government purchase income (拨款).", no_args_is_help=True)
project_app = typer.Typer(help="Projects (项目).", no_args_is_help=True)
disb_app = typer.Typer(help="Disbursements, maker-checker (拨付).", no_args_is_help=True)
volunteer_app = typer.Typer(help="Volunteers (志愿者).", no_args_is_help=True)
hours_app = typer.Typer(help="Volunteer hours (志愿服务记录).", no_args_is_help=True)
proof_app = typer.Typer(help="Merkle proofs from the log (证明).", no_args_is_help=True)
witness_app = typer.Typer(help="Witness cosigning of checkpoints (见证).", no_args_is_help=True)
verify_app = typer.Typer(help="Offline verification (离线校验).", no_args_is_help=True)
projections_app = typer.Typer(help="Read models: status, run, rebuild (视图).", no_args_is_help=True)
for sub, name in [
    (projections_app, "projections"),
    (proof_app, "proof"), (witness_app, "witness"), (verify_app, "verify"),
    (keys_app, "keys"), (principal_app, "principal"), (org_app, "org"), (fund_app, "fund"),
    (donation_app, "donation"), (grant_app, "grant"), (project_app, "project"), (disb_app, "disbursement"),
    (volunteer_app, "volunteer"), (hours_app, "hours"),
]:
    app.add_typer(sub, name=name)

out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)


class State:
    """Settings and the lazily opened ledger of one invocation."""

    def __init__(self) -> None:
        self.reset(None)

    def reset(self, settings: Settings | None) -> None:
        """Start an invocation: settings read afresh from the environment, no ledger opened yet."""
        self.settings = settings or Settings()
        self._ledger: Ledger | None = None

    @property
    def ledger(self) -> Ledger:
        if self._ledger is None:
            self._ledger = Ledger(self.settings)
        return self._ledger

    def close(self) -> None:
        if self._ledger is not None:
            self._ledger.close()
            self._ledger = None

    def actor(self, handle: str | None) -> Actor:
        handle = handle or self.settings.actor
        if not handle:
            _usage("--as", msg("name the acting principal with --as HANDLE or WUSHE_ACTOR"))
        return Actor(handle, read_signing_key(self.settings.resolved_key_dir, handle))


state = State()

AsOption = Annotated[str | None, typer.Option("--as", help="Acting principal's handle (or WUSHE_ACTOR).")]


def _usage(option: str, message: Msg) -> None:
    """A command line that cannot be read: the option and what it needs, exit 2."""
    _fail(f"{option}：{message.zh}\n  {option}: {message.en}", 2)


def _fail(message: str | Msg, code: int = 1) -> None:
    if isinstance(message, Msg):
        message = message.en if message.zh == message.en else f"{message.zh}\n  {message.en}"
    err.print(f"[bold red]错误 error:[/] {escape(message)}", highlight=False)
    raise typer.Exit(code)


def handles_errors(command):
    """Turn the ledger's named errors into a message and a non-zero exit."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except LedgerError as exc:
            where = f" [{exc.field}]" if exc.field else ""
            _fail(f"{exc.message_zh}\n  {exc.message}\n  （规则 rule: {exc.rule}{where}）")
        except (FileNotFoundError, FileExistsError, PermissionError, NoteFormatError) as exc:
            _fail(explain(exc), 2)
        except (ProofRangeError, CheckpointError, ReceiptError) as exc:
            _fail(explain(exc))
        except StoreRefused as exc:
            _fail(str(exc), 3)

    return wrapper


def _amount(text: str, field: str = "amount") -> int:
    return parse_amount(text, field=field)


def _date(text: str | None, field: str) -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        _usage(field, msg("{typed} is not a date: write YYYY-MM-DD, such as 2026-03-01", typed=repr(text)))


def _time(text: str, field: str) -> time:
    if text == "24:00":
        return time(0, 0)
    try:
        return time.fromisoformat(text)
    except ValueError:
        _usage(field, msg("{typed} is not a time of day: write HH:MM, such as 09:30", typed=repr(text)))


def _done(what: str, recorded: Recorded) -> None:
    positions = ", ".join(f"#{p}" for p in recorded.positions)
    out.print(f"[green]已记录 recorded[/] {what}: [bold]{recorded.ident}[/] (log {positions})", highlight=False)


@app.callback()
def main_options(
    ctx: typer.Context,
    data_dir: Annotated[Path | None, typer.Option(help="Data directory (WUSHE_DATA_DIR).")] = None,
    database_url: Annotated[str | None, typer.Option(help="sqlite:///… or postgresql://… (WUSHE_DATABASE_URL).")] = None,
    key_dir: Annotated[Path | None, typer.Option(help="Private key directory (WUSHE_KEY_DIR).")] = None,
) -> None:
    updates = {k: v for k, v in {"data_dir": data_dir, "database_url": database_url, "key_dir": key_dir}.items() if v}
    state.reset(Settings(**updates))
    ctx.call_on_close(state.close)


# --- init, keys, principals ----------------------------------------------------------------------


@app.command()
@handles_errors
def init(
    root_handle: Annotated[str, typer.Option(help="Handle of the root principal.")] = "root",
    root_name: Annotated[str, typer.Option(help="Name of the root body.")] = "长宁区民政局 Changning Civil Affairs Bureau",
    exists_ok: Annotated[bool, typer.Option("--exists-ok", help="Succeed quietly if already initialised.")] = False,
) -> None:
    """Create the root key (in the key directory, mode 0600) and the ledger's signed genesis event."""
    ledger = state.ledger
    if ledger.is_founded:
        if exists_ok:
            out.print("ledger already initialised 账本已初始化")
            return
        _fail(msg("the ledger at {url} is already initialised", url=display_url(ledger.database_url)))
    key_dir = state.settings.resolved_key_dir
    # Refused before anything is written: the log key's files belong to whichever ledger wrote
    # them first (a second store in the same key directory), and a root public key without its
    # private key cannot be what this ledger is founded on.
    log_stem = key_file_stem(state.settings.ledger_name)
    taken = [key_dir / f"{log_stem}.key", key_dir / f"{log_stem}.pub"]
    if not (key_dir / f"{key_file_stem(root_handle)}.key").exists():
        taken.append(key_dir / f"{key_file_stem(root_handle)}.pub")
    for path in taken:
        if path.exists():
            _fail(msg("the key directory already holds {path}, perhaps another ledger's; `wushe init` never "
                      "overwrites a key file. Give this ledger a key directory of its own: "
                      "`wushe --data-dir DIR init` or WUSHE_KEY_DIR=DIR", path=path))
    if (key_dir / f"{key_file_stem(root_handle)}.key").exists():
        key = read_signing_key(key_dir, root_handle)
    else:
        key = SigningKey.generate(root_handle)
        key.write(key_dir)
    recorded = ledger.found(root_handle, root_name, key)
    log_key = SigningKey.generate(ledger.origin)
    ledger.register_principal(Actor(root_handle, key), ledger.origin, "账本日志 ledger log", [LOG],
                              key=log_key.verifier)
    log_key.write(key_dir)
    out.print(f"[green]账本已创建 ledger founded[/] at {display_url(ledger.database_url)}")
    out.print(f"root key {key.key_id} written to {key_dir}/{root_handle}.key (0600)")
    out.print(f"genesis event log #{recorded.positions[0]}; root verifier key: {key.verifier.vkey}", highlight=False)
    out.print(f"log key (signs checkpoints; give it to everyone who verifies receipts): {log_key.verifier.vkey}",
              highlight=False)


@keys_app.command("create")
@handles_errors
def keys_create(handle: str) -> None:
    """Generate a key pair for HANDLE in the key directory (not yet registered)."""
    key_dir = state.settings.resolved_key_dir
    if (key_dir / f"{handle}.key").exists():
        _fail(msg("{path} already exists; a key file is never overwritten", path=key_dir / f"{handle}.key"))
    key = SigningKey.generate(handle)
    path = key.write(key_dir)
    out.print(f"wrote {path} (0600) and {handle}.pub\n{key.verifier.vkey}", highlight=False)


@keys_app.command("list")
@handles_errors
def keys_list() -> None:
    """Every registered key, its holder and status."""
    directory = state.ledger.directory()
    table = Table("key id 密钥", "principal 主体", "roles 角色", "added 登记", "status 状态")
    for key_id, record in directory.keys.items():
        principal = directory.principals[record.principal]
        status = "active 有效" if record.revoked_at is None else f"revoked 已吊销 {record.revoked_at:%Y-%m-%d} ({record.revoked_reason})"
        table.add_row(key_id, record.principal, ",".join(principal.roles), f"{record.added_at:%Y-%m-%d %H:%M}", status)
    out.print(table)


@keys_app.command("add")
@handles_errors
def keys_add(handle: str, vkey: Annotated[str | None, typer.Option(help="Verifier key; default: HANDLE.pub in the key directory.")] = None, actor: AsOption = None) -> None:
    """Register a public key for HANDLE (root only)."""
    key = VerifierKey.from_vkey(vkey or (state.settings.resolved_key_dir / f"{handle}.pub").read_text())
    _done("key", state.ledger.add_key(state.actor(actor), handle, key))


@keys_app.command("rotate")
@handles_errors
def keys_rotate(handle: str, actor: AsOption = None) -> None:
    """Generate a new key for HANDLE, register it and retire the current one (root only)."""
    key_dir = state.settings.resolved_key_dir
    new = SigningKey.generate(handle)
    recorded = state.ledger.rotate_key(state.actor(actor), handle, new.verifier)
    retire_key_files(key_dir, handle, recorded.positions[0])
    new.write(key_dir)
    _done(f"key rotation of {handle}", recorded)


@keys_app.command("revoke")
@handles_errors
def keys_revoke(key_id: str, reason: Annotated[str, typer.Option(help="Why (吊销原因).")], actor: AsOption = None) -> None:
    """Revoke a key (root only); events it signs from now on are refused."""
    _done("revocation", state.ledger.revoke_key(state.actor(actor), key_id, reason))


@principal_app.command("add")
@handles_errors
def principal_add(
    handle: str,
    name: Annotated[str, typer.Option(help="Display name.")],
    role: Annotated[list[str], typer.Option(help=f"Role, repeatable: {', '.join(ROLES)}.")],
    foundation: Annotated[str | None, typer.Option(help="Foundation code (accountants, approvers).")] = None,
    organisation: Annotated[str | None, typer.Option(help="Organisation code (recorders).")] = None,
    actor: AsOption = None,
) -> None:
    """Register a principal and generate their key in the key directory (root only)."""
    key_dir = state.settings.resolved_key_dir
    root = state.actor(actor)
    key = SigningKey.generate(handle)
    recorded = state.ledger.register_principal(root, handle, name, role, foundation=foundation,
                                               organisation=organisation, key=key.verifier)
    key.write(key_dir)
    _done(f"principal (key {key.key_id} in {key_dir})", recorded)


@principal_app.command("list")
@handles_errors
def principal_list() -> None:
    """Every principal with roles and scope."""
    table = Table("handle", "name 名称", "roles 角色", "foundation 基金会", "organisation 组织", "keys")
    for p in state.ledger.directory().principals.values():
        table.add_row(p.handle, p.name, ",".join(p.roles), p.foundation or "", p.organisation or "", str(len(p.keys)))
    out.print(table)


# --- organisations and funds ---------------------------------------------------------------------


@org_app.command("register")
@handles_errors
def org_register(
    code: str,
    name: Annotated[str, typer.Option()],
    kind: Annotated[str, typer.Option(help="social_organisation, foundation, community_foundation, social_work_station")],
    street_town: Annotated[str, typer.Option()],
    community: Annotated[str | None, typer.Option(help="Neighbourhood committee (居委).")] = None,
    credit_code: Annotated[str | None, typer.Option(help="Unified social credit code.")] = None,
    registered_on: Annotated[str | None, typer.Option()] = None,
    actor: AsOption = None,
) -> None:
    """Register an organisation."""
    _done("organisation", state.ledger.register_organisation(
        state.actor(actor), code, name, kind, street_town, community=community, credit_code=credit_code,
        registered_on=_date(registered_on, "--registered-on")))


@fund_app.command("open")
@handles_errors
def fund_open(
    code: str,
    name: Annotated[str, typer.Option()],
    foundation: Annotated[str, typer.Option(help="Host foundation's organisation code.")],
    special: Annotated[bool, typer.Option("--special", help="A special community fund (专项基金); implies --restricted.")] = False,
    restricted: Annotated[bool, typer.Option("--restricted", help="Restricted net assets (限定性).")] = False,
    purpose: Annotated[str, typer.Option(help="Written purpose (用途).")] = "",
    street_town: Annotated[str | None, typer.Option(help="Home street-town.")] = None,
    domain: Annotated[list[str] | None, typer.Option(help="Allowed domain, repeatable.")] = None,
    allowed_street_town: Annotated[list[str] | None, typer.Option(help="Allowed street-town, repeatable.")] = None,
    valid_from: Annotated[str | None, typer.Option()] = None,
    valid_until: Annotated[str | None, typer.Option()] = None,
    agreement_ref: Annotated[str | None, typer.Option(help="Agreement reference (协议编号).")] = None,
    agreement_use: Annotated[str | None, typer.Option(help="Special fund agreement: how its property is used.")] = None,
    agreement_termination: Annotated[str | None, typer.Option(help="…: when the fund ends (终止条件).")] = None,
    agreement_leftover: Annotated[str | None, typer.Option(help="…: its leftover's handling (剩余财产处理).")] = None,
    agreement_leftover_fund: Annotated[str | None, typer.Option(help="…: the fund the leftover goes to.")] = None,
    fee_rate: Annotated[str | None, typer.Option(help="…: the agreed management fee, percent (e.g. 5 or 2.5).")] = None,
    actor: AsOption = None,
) -> None:
    """Open a fund or special fund (a special fund needs its agreement: --agreement-ref, --agreement-use,
    --agreement-termination, --agreement-leftover, optionally --fee-rate and --agreement-leftover-fund)."""
    agreement = None
    parts = (agreement_use, agreement_termination, agreement_leftover, agreement_leftover_fund, fee_rate)
    if any(parts) or (special and agreement_ref):
        agreement = {"ref": agreement_ref or "", "use": agreement_use or "", "termination": agreement_termination or "",
                     "leftover": agreement_leftover or "", "leftover_fund": agreement_leftover_fund,
                     "fee_rate_bp": parse_rate_bp(fee_rate, field="agreement.fee_rate_bp") if fee_rate else 0}
    _done("fund", state.ledger.open_fund(
        state.actor(actor), code, name, foundation, kind="special" if special else "general",
        restricted=restricted or special, purpose=purpose, street_town=street_town, domains=domain or [],
        street_towns=allowed_street_town or [], valid_from=_date(valid_from, "--valid-from"),
        valid_until=_date(valid_until, "--valid-until"), agreement_ref=agreement_ref, agreement=agreement))


@fund_app.command("show")
@handles_errors
def fund_show(code: str) -> None:
    """A fund's restriction and balance."""
    fund = state.ledger.fund(code)
    out.print(f"[bold]{fund.code}[/] {fund.name} ({fund.kind}, {'限定性 restricted' if fund.restricted else '非限定性 unrestricted'})")
    out.print(f"  host 托管: {fund.foundation}; purpose 用途: {fund.purpose or '—'}")
    out.print(f"  domains: {', '.join(fund.domains) or 'any'}; street-towns: {', '.join(fund.street_towns) or 'any'}; "
              f"valid: {fund.valid_from or '…'} – {fund.valid_until or '…'}")
    out.print(f"  balance 余额: [bold]{format_cny(fund.balance)}[/]{' (closed 已关闭)' if fund.closed else ''}")


@fund_app.command("close")
@handles_errors
def fund_close(code: str, reason: Annotated[str, typer.Option()], actor: AsOption = None) -> None:
    """Close an empty fund."""
    _done("fund closure", state.ledger.close_fund(state.actor(actor), code, reason))


@fund_app.command("allocate")
@handles_errors
def fund_allocate(
    from_fund: Annotated[str, typer.Option("--from")], to_fund: Annotated[str, typer.Option("--to")],
    amount: Annotated[str, typer.Option(help="Yuan, e.g. 1200.50")], reason: Annotated[str, typer.Option()],
    on: Annotated[str | None, typer.Option("--date")] = None, actor: AsOption = None,
) -> None:
    """Allocate unrestricted money between funds (调拨)."""
    _done("allocation", state.ledger.allocate(state.actor(actor), from_fund, to_fund, _amount(amount),
                                              reason=reason, on=_date(on, "--date")))


@fund_app.command("release")
@handles_errors
def fund_release(
    fund: Annotated[str, typer.Option("--fund")], to_fund: Annotated[str, typer.Option("--to")],
    amount: Annotated[str, typer.Option()], basis: Annotated[str, typer.Option(help="Agreement or rule (依据).")],
    on: Annotated[str | None, typer.Option("--date")] = None, actor: AsOption = None,
) -> None:
    """Release a restriction: restricted money into an unrestricted fund (解除限定)."""
    _done("release", state.ledger.release_restriction(state.actor(actor), fund, to_fund, _amount(amount),
                                                      basis=basis, on=_date(on, "--date")))


# --- money in ------------------------------------------------------------------------------------


@donation_app.command("record")
@handles_errors
def donation_record(
    fund: Annotated[str, typer.Option()],
    amount: Annotated[str, typer.Option(help="Yuan, at most two places, e.g. 50 or 1200.50")],
    donor_type: Annotated[str, typer.Option(help="resident, business, stationed_unit, foundation, government")],
    donor_name: Annotated[str | None, typer.Option()] = None,
    public: Annotated[bool, typer.Option("--public", help="Donor consents to be named publicly.")] = False,
    method: Annotated[str, typer.Option(help="cash, transfer, in_kind")] = "transfer",
    in_kind: Annotated[str | None, typer.Option(help="Description of goods given in kind.")] = None,
    in_kind_basis: Annotated[str | None, typer.Option(help="How the goods' value was found: receipt, market, "
                                                      "appraisal (实物入账价值依据).")] = None,
    quantity: Annotated[int | None, typer.Option(help="How many goods were given in kind.")] = None,
    unit: Annotated[str | None, typer.Option(help="Their unit (台, 份 …).")] = None,
    received_on: Annotated[str | None, typer.Option("--date")] = None,
    street_town: Annotated[str | None, typer.Option()] = None,
    note: Annotated[str | None, typer.Option()] = None,
    actor: AsOption = None,
) -> None:
    """Record a donation into a fund (in kind: held as goods at the stated value, with its basis)."""
    _done("donation", state.ledger.record_donation(
        state.actor(actor), fund, _amount(amount), donor_type=donor_type, method=method, donor_name=donor_name,
        donor_public=public, in_kind_description=in_kind, received_on=_date(received_on, "--date"),
        street_town=street_town, note=note, in_kind_basis=in_kind_basis, quantity=quantity, unit=unit))


@grant_app.command("record")
@handles_errors
def grant_record(
    fund: Annotated[str, typer.Option()],
    amount: Annotated[str, typer.Option()],
    source: Annotated[str, typer.Option(help="government_purchase, venture_philanthropy, welfare_lottery, district_special_fund")],
    payer: Annotated[str, typer.Option(help="Paying body.")],
    document_ref: Annotated[str | None, typer.Option()] = None,
    received_on: Annotated[str | None, typer.Option("--date")] = None,
    street_town: Annotated[str | None, typer.Option()] = None,
    actor: AsOption = None,
) -> None:
    """Record income from government purchase, venture philanthropy, welfare lottery or the district fund."""
    _done("grant", state.ledger.record_grant(
        state.actor(actor), fund, _amount(amount), source=source, payer=payer, document_ref=document_ref,
        received_on=_date(received_on, "--date"), street_town=street_town))


# --- projects and disbursements ------------------------------------------------------------------


@project_app.command("register")
@handles_errors
def project_register(
    code: str,
    name: Annotated[str, typer.Option()],
    street_town: Annotated[str, typer.Option()],
    domain: Annotated[str, typer.Option()],
    organisation: Annotated[str, typer.Option(help="Undertaking organisation (承接组织).")],
    budget: Annotated[str, typer.Option()],
    funding_source: Annotated[str, typer.Option(help="government_purchase, venture_philanthropy, fund")],
    approval_ref: Annotated[str, typer.Option(help="Approval reference (批文号).")],
    starts_on: Annotated[str, typer.Option()],
    ends_on: Annotated[str, typer.Option()],
    reach: Annotated[int, typer.Option(help="Residents the project serves (服务对象人数); bounds its surveys.")],
    foundation: Annotated[str | None, typer.Option(help="Responsible foundation (default: the accountant's).")] = None,
    community: Annotated[str | None, typer.Option()] = None,
    milestone: Annotated[list[str] | None, typer.Option(help="NAME=AMOUNT, repeatable.")] = None,
    actor: AsOption = None,
) -> None:
    """Register an approved project."""
    milestones = []
    for item in milestone or []:
        name_, sep, value = item.rpartition("=")
        if not sep:
            _usage("--milestone", msg("{typed} is not NAME=AMOUNT", typed=repr(item)))
        milestones.append((name_, _amount(value, "milestone")))
    _done("project", state.ledger.register_project(
        state.actor(actor), code, name, street_town=street_town, domain=domain, organisation=organisation,
        budget=_amount(budget, "budget"), funding_source=funding_source, approval_ref=approval_ref,
        starts_on=_date(starts_on, "--starts-on"), ends_on=_date(ends_on, "--ends-on"), reach=reach,
        foundation=foundation, community=community, milestones=milestones))


@project_app.command("evaluate")
@handles_errors
def project_evaluate(
    code: str, score: Annotated[int, typer.Option(help="Percent satisfied, 0–100.")],
    respondents: Annotated[int, typer.Option(help="At most the project's reach.")],
    survey_ref: Annotated[str, typer.Option(help="The survey's reference (问卷或报告编号).")],
    surveyed_on: Annotated[str | None, typer.Option("--date")] = None,
    actor: AsOption = None,
) -> None:
    """Record residents' satisfaction with a project (满意度)."""
    _done("evaluation", state.ledger.evaluate_project(state.actor(actor), code, score=score, respondents=respondents,
                                                      survey_ref=survey_ref, surveyed_on=_date(surveyed_on, "--date")))


@project_app.command("show")
@handles_errors
def project_show(code: str) -> None:
    """A project's budget, payments and remaining amount."""
    p = state.ledger.project(code)
    out.print(f"[bold]{p.code}[/] {p.name} — {p.street_town}, {p.domain}, undertaken by {p.organisation}")
    out.print(f"  budget 预算 {format_cny(p.budget)}; paid 已付 {format_cny(p.paid)}; remaining 剩余 {format_cny(p.remaining)}")


@disb_app.command("request")
@handles_errors
def disbursement_request(
    fund: Annotated[str, typer.Option()], amount: Annotated[str, typer.Option()],
    purpose: Annotated[str, typer.Option()],
    kind: Annotated[str, typer.Option(help="project, allowance, management, fundraising, grant, programme, "
                                      "shared, other")] = "project",
    project: Annotated[str | None, typer.Option()] = None,
    payee: Annotated[str | None, typer.Option()] = None,
    milestone: Annotated[str | None, typer.Option()] = None,
    domain: Annotated[str | None, typer.Option()] = None,
    street_town: Annotated[str | None, typer.Option()] = None,
    share: Annotated[list[str] | None, typer.Option(help="A shared cost's part: programme=YUAN, management=YUAN, "
                                                    "fundraising=YUAN (repeatable).")] = None,
    basis: Annotated[str | None, typer.Option(help="The basis of a shared cost's split (分配依据).")] = None,
    on: Annotated[str | None, typer.Option("--date", help="Request date (default today).")] = None,
    actor: AsOption = None,
) -> None:
    """Request a disbursement; a different person must approve it."""
    shares = None
    if share:
        shares = {}
        for text in share:
            part, _, value = text.partition("=")
            shares[part] = _amount(value, "shares")
    _done("disbursement request", state.ledger.request_disbursement(
        state.actor(actor), fund, _amount(amount), kind=kind, project=project, payee=payee, milestone=milestone,
        domain=domain, street_town=street_town, purpose=purpose, on=_date(on, "--date"), shares=shares, basis=basis))


@disb_app.command("approve")
@handles_errors
def disbursement_approve(
    number: str, approval_ref: Annotated[str, typer.Option()],
    on: Annotated[str | None, typer.Option("--date", help="Approval date (default today).")] = None,
    actor: AsOption = None,
) -> None:
    """Approve a disbursement (not your own request)."""
    _done("approval", state.ledger.approve_disbursement(state.actor(actor), number, approval_ref=approval_ref,
                                                        on=_date(on, "--date")))


@disb_app.command("reject")
@handles_errors
def disbursement_reject(number: str, reason: Annotated[str, typer.Option()], actor: AsOption = None) -> None:
    """Reject a disbursement request."""
    _done("rejection", state.ledger.reject_disbursement(state.actor(actor), number, reason=reason))


@disb_app.command("pay")
@handles_errors
def disbursement_pay(number: str, on: Annotated[str | None, typer.Option("--date")] = None,
                     actor: AsOption = None) -> None:
    """Pay an approved disbursement."""
    _done("payment", state.ledger.pay_disbursement(state.actor(actor), number, on=_date(on, "--date")))


# --- volunteers ----------------------------------------------------------------------------------


@volunteer_app.command("register")
@handles_errors
def volunteer_register(
    number: str, name: Annotated[str, typer.Option()], street_town: Annotated[str, typer.Option()],
    public: Annotated[bool, typer.Option("--public", help="Consents to be named publicly.")] = False,
    registered_on: Annotated[str | None, typer.Option()] = None, actor: AsOption = None,
) -> None:
    """Register a volunteer."""
    _done("volunteer", state.ledger.register_volunteer(state.actor(actor), number, name, street_town,
                                                       registered_on=_date(registered_on, "--registered-on"),
                                                       name_public=public))


@hours_app.command("record")
@handles_errors
def hours_record(
    volunteer: Annotated[str, typer.Option()], organisation: Annotated[str, typer.Option()],
    domain: Annotated[str, typer.Option()], on: Annotated[str, typer.Option("--date")],
    start: Annotated[str, typer.Option(help="HH:MM")], end: Annotated[str, typer.Option(help="HH:MM (24:00 allowed)")],
    content: Annotated[str, typer.Option(help="Service content (服务内容).")],
    street_town: Annotated[str | None, typer.Option()] = None, actor: AsOption = None,
) -> None:
    """Record a volunteer's service session (by the organising body's recorder)."""
    _done("service record", state.ledger.record_hours(
        state.actor(actor), volunteer, organisation=organisation, domain=domain, on=_date(on, "--date"),
        start=_time(start, "--start"), end=_time(end, "--end"), content=content, street_town=street_town))


# --- corrections and the log ---------------------------------------------------------------------


@app.command()
@handles_errors
def correct(position: int, reason: Annotated[str, typer.Option(help="Correction note (更正说明).")],
            actor: AsOption = None) -> None:
    """Reverse the money or hours event at a log position, with a reason (冲正)."""
    _done("correction", state.ledger.reverse(state.actor(actor), position, reason=reason))


@app.command()
@handles_errors
def log(
    verify: Annotated[bool, typer.Option("--verify", help="Check every event; exit 1 if any fails.")] = False,
    start: Annotated[int, typer.Option(help="First log position to list.")] = 1,
    limit: Annotated[int, typer.Option(help="How many events to list (0: none).")] = 50,
) -> None:
    """List events with their verification status; exit 1 if a listed event fails."""
    from ledger.verify import check_log

    ledger = state.ledger
    checks = check_log(ledger.log_positions(1) if verify else _from_position(ledger, start))
    table = Table("#", "stream 流", "v", "type 类型", "key 签名密钥", "status 状态")
    shown = failures = total = 0
    failed = []
    for check in checks:
        if not verify and check.position < start:  # the directory as it stood before the listing
            if not check.ok:
                failures += 1
                failed.append(check)
            continue
        if not verify and shown >= limit:
            break
        total += 1
        if not check.ok:
            failures += 1
            failed.append(check)
        if check.position >= start and shown < limit:
            shown += 1
            status = "[green]✓ valid[/]" if check.ok else f"[red]✗ {check.problem}[/]"
            table.add_row(str(check.position), check.stream, str(check.version), check.type_name,
                          check.key_id or "?", status)
    if shown:
        out.print(table)
    if not verify:
        if failures:
            for check in failed:
                err.print(f"[red]FAIL[/] #{check.position} {check.stream} v{check.version} {check.type_name}: "
                          f"{check.problem}", highlight=False)
            _fail(msg("{failures} event(s) fail verification; `wushe log --verify` checks the whole log",
                      failures=failures))
        return
    for check in failed:
        err.print(f"[red]FAIL[/] #{check.position} {check.stream} v{check.version} {check.type_name}: {check.problem}",
                  highlight=False)
    structure = ledger.check_structure()
    for broken in structure.breaks:
        where = f"#{broken.position} " if broken.position is not None else ""
        version = f" v{broken.version}" if broken.version is not None else ""
        err.print(f"[red]FAIL[/] {where}{broken.stream}{version}: {broken.problem}", highlight=False)
    if failures:
        _fail(msg("{failures} of {total} events fail verification", failures=failures, total=total))
    if structure.breaks:
        first = structure.breaks[0]
        _fail(msg("the log was altered behind the ledger's back: {count} break(s); the first: {where}{problem}",
                  count=len(structure.breaks), problem=first.problem,
                  where=f"#{first.position} {first.stream} " if first.position is not None else ""))
    against = (msg("checked against checkpoint {size}", size=structure.checkpoint_size)
               if structure.checkpoint_size is not None else msg("no checkpoint to check against"))
    shape = msg("streams contiguous, {leaves} Merkle leaves equal the events", leaves=structure.leaves)
    out.print(f"[green]all {total} events signed and valid 全部 {total} 个事件签名有效[/]; {shape}; {against}",
              highlight=False)


def _from_position(ledger: Ledger, start: int):
    """The events from ``start`` on, after the directory's events before it: each event is judged
    with the keys in force at its own position (the listing hides the directory's earlier rows)."""
    from ledger.events import EVENT_TYPES

    directory = [t for t in EVENT_TYPES if t.startswith("Directory.")]
    if start > 1:
        yield from ledger.recorder.select_notifications(start=1, limit=10**9, stop=start - 1, topics=directory)
    yield from ledger.log_positions(max(start, 1))


# --- the verifiable log: checkpoints, proofs, receipts, witnesses ------------------------------


def _log_actor(handle: str | None) -> Actor:
    return state.actor(handle or state.ledger.origin)


def _log_key_option(value: str | None, origin: str | None) -> VerifierKey:
    """A verifier key given inline, as a file, or found as <origin>.pub in the key directory."""
    if value is None:
        if origin is None:
            _usage("--log-key", msg("give the ledger's log key"))
        path = state.settings.resolved_key_dir / f"{key_file_stem(origin)}.pub"
        if not path.exists():
            _usage("--log-key", msg("there is no {path}; give the ledger's log key", path=path))
        value = str(path)
    return _vkey(value)


def _vkey(value: str) -> VerifierKey:
    """A verifier key given inline or as a file holding it."""
    text = Path(value).read_text() if "+" not in value and Path(value).exists() else value
    return VerifierKey.from_vkey(text)


@app.command()
@handles_errors
def checkpoint(actor: Annotated[str | None, typer.Option("--as", help="Log key handle (default: the origin).")] = None) -> None:
    """Extend the Merkle tree to the log's head and sign a checkpoint (检查点)."""
    stored = state.ledger.sign_checkpoint(_log_actor(actor))
    out.print(f"[green]checkpoint 检查点[/] size {stored.checkpoint.size} (signed {stored.signed_at})")
    sys.stdout.write(stored.note.decode())


@proof_app.command("inclusion")
@handles_errors
def proof_inclusion(
    position: Annotated[int, typer.Argument(help="Log position of the event.")],
    size: Annotated[int | None, typer.Option(help="Tree size (default: the latest checkpoint's).")] = None,
) -> None:
    """The inclusion proof of the event at a log position."""
    import base64

    ledger = state.ledger
    ledger.merkle.sync()
    leaf = ledger.merkle.leaf_index_of(position)
    if leaf is None:
        _fail(msg("there is no event at log position {position}", position=position))
    if size is None:
        latest = ledger.checkpoints.latest()
        size = latest.checkpoint.size if latest else ledger.merkle.size()
    proof = ledger.merkle.inclusion_proof(leaf, size)
    out.print(json.dumps({"position": position, "leaf_index": leaf, "tree_size": size,
                          "root_hash": base64.b64encode(ledger.merkle.root(size)).decode(),
                          "inclusion_proof": [base64.b64encode(h).decode() for h in proof]}, indent=2),
              highlight=False)


@proof_app.command("consistency")
@handles_errors
def proof_consistency(old_size: int, new_size: int) -> None:
    """The consistency proof between two tree sizes."""
    import base64

    ledger = state.ledger
    ledger.merkle.sync()
    proof = ledger.merkle.consistency_proof(old_size, new_size)
    out.print(json.dumps({"old_size": old_size, "new_size": new_size,
                          "old_root": base64.b64encode(ledger.merkle.root(old_size)).decode(),
                          "new_root": base64.b64encode(ledger.merkle.root(new_size)).decode(),
                          "consistency_proof": [base64.b64encode(h).decode() for h in proof]}, indent=2),
              highlight=False)


@app.command()
@handles_errors
def receipt(
    position: Annotated[int, typer.Argument(help="Log position of a donation, service record or any event.")],
    out_file: Annotated[Path | None, typer.Option("--out", help="Write the JSON receipt here.")] = None,
    html: Annotated[Path | None, typer.Option(help="Also write a printable page with a QR code.")] = None,
    pdf: Annotated[Path | None, typer.Option(help="Also write a PDF carrying the receipt: for a donation the receipt "
                                             "document with the amount in words (大写), else the printable page.")] = None,
    actor: Annotated[str | None, typer.Option("--as", help="Log key handle (default: the origin).")] = None,
) -> None:
    """A receipt (捐赠收据) or volunteer certificate (志愿服务记录证明) that verifies offline."""
    from ledger.receipts import issue_receipt

    if pdf is not None:  # first: a donation that gets no receipt is refused before anything is written
        from wushe.receipts_cli import write_receipt_pdf

        document = write_receipt_pdf(position, pdf, actor)
    else:
        document = issue_receipt(state.ledger, position, _log_actor(actor))
    _write_receipt(document, out_file, html)


def _write_receipt(document: dict, out_file: Path | None, html: Path | None) -> None:
    from ledger.receipts import standing

    text = json.dumps(document, ensure_ascii=False, indent=2) + "\n"
    if out_file is None:
        sys.stdout.write(text)
    else:
        out_file.write_text(text)
        out.print(f"receipt 收据 written to {out_file}")
    if html is not None:
        from api.receipt_page import render_receipt_page
        from ledger.receipts import verify_receipt

        log_key = state.ledger.directory().active_keys(state.ledger.origin)[-1].key
        verified = verify_receipt(document, log_key, trusted_witnesses(state.settings))
        html.write_text(render_receipt_page(document, verified, state.settings.public_url, public=False,
                                            standing=standing(state.ledger, document["position"]),
                                            contact=state.settings.contact))
        out.print(f"printable page 打印页 written to {html}")


@verify_app.command("receipt")
def verify_receipt_command(
    file: Annotated[Path, typer.Argument(help="A receipt or certificate JSON file.")],
    log_key: Annotated[str | None, typer.Option(help="The ledger's log verifier key, or a file holding it.")] = None,
    witness_key: Annotated[list[str] | None, typer.Option(help="A trusted witness's verifier key or file; repeatable.")] = None,
) -> None:
    """Check a receipt or certificate offline, with the ledger's log key alone."""
    from ledger.money import format_cny
    from ledger.receipts import ReceiptError, verify_receipt

    try:
        data = file.read_bytes()
    except OSError as exc:
        _fail(msg("cannot read {path}: {problem}", path=file, problem=exc.strerror), 2)
    if data.startswith(b"%PDF-"):  # a receipt PDF carries its receipt (api.receipt_document)
        from api.receipt_document import receipt_from_pdf

        try:
            data = receipt_from_pdf(data)
        except ReceiptError as exc:
            _fail(f"NOT VERIFIED 校验失败: {exc}")
    try:
        origin = json.loads(data).get("origin")
    except (ValueError, AttributeError):
        origin = None
    try:
        key = _log_key_option(log_key, origin if isinstance(origin, str) else None)
        named = [_vkey(w) for w in witness_key or []]
        verified = verify_receipt(data, key, named or trusted_witnesses(state.settings), required=named)
    except (ReceiptError, NoteFormatError) as exc:
        problem = explain(exc)
        _fail(f"校验失败：{problem.zh}\n  NOT VERIFIED: {problem.en}")
    payload = verified.record.payload
    out.print(f"[green]verified 校验通过[/]: {verified.kind} is leaf {verified.leaf_index} of the log of "
              f"{verified.origin}, under the checkpoint of size {verified.checkpoint.size}, signed by {verified.signer}"
              f" (ledger reference #{json.loads(data)['position']}, not part of the proof)", highlight=False)
    if "amount" in payload:
        out.print(f"  amount 金额 {format_cny(payload['amount'])}")
    if verified.volunteer is not None:
        out.print(f"  volunteer 志愿者 {verified.volunteer['name']} ({verified.volunteer['number']}): "
                  f"{payload['date']} {payload['start']}–{payload['end']}, {payload['content']}", highlight=False)
    if verified.cosigners:
        out.print(f"  witnessed by 见证方: {', '.join(verified.cosigners)}")
    if verified.unchecked_signatures:
        out.print(f"  {verified.unchecked_signatures} other cosignature(s) not checked: pass --witness-key to check them")


@witness_app.command("init")
@handles_errors
def witness_init(
    name: Annotated[str, typer.Argument(help="Witness name, e.g. mca.changning.example/witness")],
    directory: Annotated[Path, typer.Option("--dir", help="The witness's own directory.")] = Path(".wushe-witness"),
) -> None:
    """Create a witness key (type 0x04) in the witness's own directory."""
    from ledger.witness import Witness

    vkey = Witness.create(directory, name)
    out.print(f"witness key written to {directory}; publish its verifier key:\n{vkey.vkey}", highlight=False)


@witness_app.command("cosign")
@handles_errors
def witness_cosign(
    name: Annotated[str, typer.Argument(help="Witness name (its key file in --dir).")],
    directory: Annotated[Path, typer.Option("--dir", help="The witness's own directory.")] = Path(".wushe-witness"),
    log_key: Annotated[str | None, typer.Option(help="The ledger's log verifier key, or a file holding it.")] = None,
) -> None:
    """Cosign the ledger's latest checkpoint after checking it extends the last one cosigned."""
    from ledger.checkpoints import CheckpointError
    from ledger.witness import Witness

    ledger = state.ledger
    witness = Witness(directory, name)
    latest = ledger.checkpoints.latest()
    if latest is None:
        _fail(msg("the ledger has no checkpoint yet; run `wushe checkpoint`"))
    try:
        cp, line = witness.cosign(latest.note, _log_key_option(log_key, ledger.origin),
                                  ledger.merkle.consistency_proof)
    except CheckpointError as exc:
        _fail(msg("refused to cosign: {problem}", problem=explain(exc)))
    if witness.key.verifier.key_id not in latest.cosigners:
        ledger.checkpoints.add_cosignature(cp, witness.key.verifier, line)
    out.print(f"[green]cosigned 已见证[/] checkpoint of size {cp.size} as {witness.key.verifier.key_id}")


# --- projections ---------------------------------------------------------------------------------


def _projections():
    from projections.runner import Projections

    return Projections(state.ledger)


@projections_app.command("status")
@handles_errors
def projections_status() -> None:
    """How far the views have folded the log, and how many events they lag."""
    status = _projections().status()
    out.print(f"views at log position {status.position} of {status.head}; lag {status.lag} event(s) "
              f"视图已处理至 {status.position}，落后 {status.lag} 条")


@projections_app.command("run")
@handles_errors
def projections_run() -> None:
    """Fold every event stored since the last run into the views."""
    done = _projections().run()
    out.print(f"folded {done} event(s) 已处理 {done} 条事件")


@projections_app.command("check")
@handles_errors
def projections_check() -> None:
    """Recompute each view's digest from its rows and compare it with the one the runner kept;
    exit 1 naming each view changed behind the runner's back (an UPDATE of a view table)."""
    check = _projections().check()
    if check.failed:
        _fail(msg("the views {views} no longer match the digests the runner kept at log position {position}: they "
                  "were changed behind its back; `wushe projections rebuild` folds them again from the signed log",
                  views=", ".join(check.failed), position=check.position))
    out.print(str(msg("every view matches the digest the runner kept at log position {position}",
                      position=check.position)), highlight=False)


@projections_app.command("rebuild")
@handles_errors
def projections_rebuild(
    verify_all: Annotated[bool, typer.Option("--verify-all", help="Verify every event's signature, not only "
                                             "those after the newest checkpoint (校验全部签名).")] = False,
) -> None:
    """Fold the whole log again into empty views, in one transaction."""
    done = _projections().rebuild(verify_all=verify_all)
    out.print(f"rebuilt the views from {done} event(s) 已从 {done} 条事件重建视图")


@app.command("export")
@handles_errors
def export(
    format_: Annotated[str, typer.Option("--format", help="csv (a directory of files), xlsx, json, or ledger "
                                                          "(an hledger / ledger-cli journal of the whole log).")],
    out_path: Annotated[Path, typer.Option("--out", help="File to write; for csv, a directory.")],
    start: Annotated[str | None, typer.Option("--from", help="First day, YYYY-MM-DD (default: 1 January of the "
                                                             "end's year).")] = None,
    end: Annotated[str | None, typer.Option("--to", help="Last day, YYYY-MM-DD (default: today).")] = None,
    street_town: Annotated[str | None, typer.Option(help="Street-town code (default: the whole district).")] = None,
) -> None:
    """Export the transparency report (信息公开报告) or the double-entry journal (日记账)."""
    from ledger.errors import InvalidInput
    from projections import exports

    if format_ not in exports.FORMATS:
        _usage("--format", msg("unknown format {typed}: choose {choices}", typed=repr(format_),
                               choices=codes(exports.FORMATS)))
    ledger = state.ledger
    last = _date(end, "--to") or ledger.today()
    first = _date(start, "--from") or last.replace(month=1, day=1)
    if last < first:
        raise InvalidInput("to", msg("the period ends ({end}) before it starts ({start})", end=last.isoformat(),
                                     start=first.isoformat()))
    if street_town is not None:
        ledger.reference.street_town(street_town, field="street_town")
    if format_ == "ledger":
        from projections.journal import journal

        if start or end or street_town:
            err.print("note 注意: the journal always holds the whole log; --from, --to and --street-town do not "
                      "apply (select with hledger -b/-e or an account query) 日记账始终包含全部日志，不按期间或街镇筛选",
                      highlight=False)
        written = exports.write_journal(journal(ledger), out_path)
        out.print(f"[green]已导出 exported[/] journal of the whole log to {written[0]}", highlight=False)
        return
    from projections.report import transparency_report

    projections = _projections()
    projections.run()
    report = transparency_report(projections, start=first, end=last, street_town=street_town)
    written = exports.WRITERS[format_](report, out_path)
    scope = street_town or "district 全区"
    out.print(f"[green]已导出 exported[/] {format_} report of {scope}, {first} – {last} (log position "
              f"{report['position']}) to {', '.join(str(p) for p in written)}", highlight=False)


# --- demo and serve ------------------------------------------------------------------------------


@app.command()
@handles_errors
def demo(
    scale: Annotated[int, typer.Option(min=1, max=1000, help="Size multiplier.")] = 1,
    seed: Annotated[int, typer.Option(help="Random seed; same seed, same ledger.")] = 2023,
    years: Annotated[int | None, typer.Option(
        min=1, max=50, help="Years of history, ending 2026-10-31, written in bulk (omit: the one-year demo).")] = None,
    bulk: Annotated[bool, typer.Option("--bulk/--no-bulk", help="With --years: batches (default) or one "
                                       "transaction per command, for comparison.")] = True,
    exists_ok: Annotated[bool, typer.Option("--exists-ok", help="Do nothing if demo data is present.")] = False,
) -> None:
    """Seed a realistic, deterministic demo ledger (run `wushe init` first)."""
    from ledger.demo import DemoExists, seed_demo

    ledger = state.ledger
    if not ledger.is_founded:
        _fail(msg("run `wushe init` first"))
    try:
        if years is None:
            stats = seed_demo(ledger, state.settings.resolved_key_dir, scale=scale, seed=seed, progress=out)
        else:
            stats = _seed_years(ledger, scale=scale, years=years, seed=seed, bulk=bulk)
    except DemoExists:
        if not exists_ok:
            _fail(msg("demo data is already present"))
        out.print("demo data already present 演示数据已存在")
    else:
        out.print(f"[green]demo ledger seeded 演示账本已生成[/]: {stats}")
    _print_demo_logins(ledger)


def _print_demo_logins(ledger: Ledger) -> None:
    """The staff console's demo sign-ins (passwords generated once, kept in a 0600 file)."""
    from api.console.demo import LOGINS_FILE, demo_logins

    logins = demo_logins(ledger, state.settings.data_dir, state.settings.resolved_key_dir)
    out.print(f"工作台演示账号 console sign-ins at /console/ (also in {state.settings.data_dir / LOGINS_FILE}):")
    for handle, password, name in logins:
        out.print(f"  {handle:<20} {password}   {name}", highlight=False)


def _seed_years(ledger: Ledger, *, scale: int, years: int, seed: int, bulk: bool) -> dict:
    """``seed_years`` with a progress bar over the events it is expected to write."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from ledger.decade import expected_events, seed_years

    columns = (TextColumn("演示账本 demo ledger"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, console=err, transient=True) as bar:
        task = bar.add_task("events", total=expected_events(scale, years))
        return seed_years(ledger, state.settings.resolved_key_dir, scale=scale, years=years, seed=seed, bulk=bulk,
                          progress=lambda events: bar.update(task, completed=events))


@app.command()
@handles_errors
def serve(
    host: Annotated[str, typer.Option()] = "127.0.0.1",
    port: Annotated[int, typer.Option()] = 8000,
    workers: Annotated[int, typer.Option(min=1, max=64, help="Server processes (uvicorn workers).")] = 1,
) -> None:
    """Serve the API and public pages."""
    import os

    import uvicorn

    from api.main import create_app
    from ledger.filemodes import check_key_dir

    check_key_dir(state.settings.resolved_key_dir)
    if workers == 1:
        # proxy_headers off: forwarded headers count only from WUSHE_API_TRUSTED_PROXIES (api.limits)
        uvicorn.run(create_app(state.settings), host=host, port=port, proxy_headers=False)
        return
    # Each worker process builds its own app from the environment: hand it these options there.
    # Idempotency keys, fund versions and checkpoints are guarded in the database, not in a process.
    s = state.settings
    os.environ.update({"WUSHE_DATA_DIR": str(s.data_dir), "WUSHE_DATABASE_URL": s.resolved_database_url,
                       "WUSHE_KEY_DIR": str(s.resolved_key_dir)})
    uvicorn.run("api.main:create_app", factory=True, host=host, port=port, workers=workers, proxy_headers=False)


from wushe.audit_cli import audit_app  # here, not at the top: it uses this module's state and helpers

app.add_typer(audit_app, name="audit")

from wushe.import_cli import import_app  # here too: it uses this module's state and helpers

app.add_typer(import_app, name="import")

from wushe.receipts_cli import receipts_app  # here too: it uses this module's state and helpers

app.add_typer(receipts_app, name="receipts")

import wushe.accounting_cli  # noqa: F401 -- registers `wushe statements` on this app


def main() -> None:
    try:
        app()
    except typer.BadParameter as exc:  # raised outside Typer's own parsing
        err.print(f"[bold red]错误 error:[/] {exc}")
        sys.exit(2)


from wushe.users_cli import users_app  # registered last: it uses this module's state and error handling

app.add_typer(users_app, name="users")

from wushe.ops_cli import history_app

app.add_typer(history_app, name="history")
