"""``wushe audit``: export an audit bundle, and verify one (or a live store) offline, with findings;
save the auditor's signed audit state and resume from it (an incremental audit).

Exit codes of ``verify``: 0 the history verifies (rule findings may remain; ``--fail-on-findings``
makes errors exit 4), 1 an integrity failure (or a log that does not extend the saved state), 2
unreadable input (or a state file that is not the auditor's, edited, or of another version).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from wushe import cli

audit_app = typer.Typer(help="Auditor toolkit: offline bundle, full verification, rule checks (审计).",
                        no_args_is_help=True)


@audit_app.command("export")
@cli.handles_errors
def export(
    out_dir: Annotated[Path, typer.Option("--out", help="New (or empty) directory for the bundle.")],
    figures: Annotated[bool, typer.Option(help="Include the published transparency reports.")] = True,
) -> None:
    """Write an audit bundle (审计包): events as stored, keys, checkpoints, published figures."""
    from audits.bundle import collect, write

    ledger = cli.state.ledger
    if not ledger.recorder.max_notification_id():  # not is_founded: that refuses a damaged directory
        cli._fail("the ledger has no events yet 账本尚无事件")
    bundle = collect(ledger, figures=figures)
    manifest = write(bundle, out_dir, log_key=_log_vkey(ledger))
    cli.out.print(f"[green]已导出审计包 bundle written[/] to {escape(str(out_dir))}: {manifest['events']} events, "
                  f"{manifest['checkpoints']} checkpoints, {manifest['reports']} published reports", highlight=False)
    if manifest["figures_error"]:
        cli.err.print(f"[yellow]warning 警告:[/] the published figures could not be read, so none are in the bundle "
                      f"未能导出公布数字: {escape(manifest['figures_error'])}", highlight=False)
    if not manifest["checkpoints"]:
        cli.err.print("note 注意: no checkpoint yet — run `wushe checkpoint` so the bundle commits to its contents")


def _log_vkey(ledger) -> str | None:
    """The log's current verifier key, for the manifest; None if the directory cannot be read (the
    bundle is still written: a damaged directory is what the auditor must see)."""
    from ledger.errors import LedgerError

    try:
        directory = ledger.directory()
        keys = directory.active_keys(ledger.origin) if ledger.origin in directory.principals else []
    except LedgerError:
        return None
    return keys[-1].key.vkey if keys else None


def _key_option(value: str | None):
    return None if value is None else cli._vkey(value)


def _trusted_note(path: Path | None) -> bytes | None:
    """A checkpoint note as saved by ``--save-trust``, ``wushe checkpoint`` or the API (JSON with ``note``)."""
    if path is None:
        return None
    try:
        data = path.read_bytes()
    except OSError as exc:
        cli._fail(f"cannot read {path}: {exc.strerror}", 2)
    if data.lstrip().startswith(b"{"):
        try:
            return json.loads(data)["note"].encode()
        except (ValueError, KeyError, AttributeError):
            cli._fail(f"{path} is JSON without a checkpoint 'note'", 2)
    lines = data.split(b"\n")
    start = next((i for i, line in enumerate(lines) if line.startswith(b"checkpoint ")), -1)
    return b"\n".join(lines[start + 1 :]) if start >= 0 else data


@audit_app.command("keygen")
@cli.handles_errors
def keygen(
    out_dir: Annotated[Path, typer.Option("--out", help="Directory for the auditor's key (created).")],
    name: Annotated[str, typer.Option(help="Key name.")] = "auditor",
) -> None:
    """Make the auditor's own Ed25519 key (审计员密钥), which signs saved audit states: NAME.key (0600), NAME.pub."""
    from audits.state import keygen as make_key

    try:
        key = make_key(out_dir, name)
    except (FileExistsError, ValueError) as exc:
        cli._fail(str(exc), 2)
    cli.out.print(f"[green]已生成审计员密钥 auditor key[/] {escape(key.key_id)} in {escape(str(out_dir))} "
                  f"(private key {escape(name)}.key, mode 0600; verifier key {escape(name)}.pub)", highlight=False)


def _signing_key(path: Path | None):
    from ledger.signing import NoteFormatError, SigningKey

    if path is None:
        return None
    try:
        if path.stat().st_mode & 0o077:
            cli._fail(f"{path} must not be readable by group or others (chmod 600)", 2)
        return SigningKey.from_skey(path.read_text())
    except OSError as exc:
        cli._fail(f"cannot read {path}: {exc.strerror}", 2)
    except NoteFormatError as exc:
        cli._fail(f"{path}: {exc}", 2)


@audit_app.command("verify")
def verify(
    bundle_dir: Annotated[Path | None, typer.Argument(help="The bundle directory (omit with --database).")] = None,
    database: Annotated[str | None, typer.Option("--database", help="Verify a live store instead: sqlite:///… or "
                                                                    "postgresql://… (no published figures).")] = None,
    trust: Annotated[Path | None, typer.Option(help="A checkpoint you trust from an earlier audit: the log must "
                                                    "extend it; its prefix is not signature-checked again.")] = None,
    save_trust: Annotated[Path | None, typer.Option(help="After a clean audit, save the latest checkpoint here.")] = None,
    log_key: Annotated[str | None, typer.Option(help="The ledger's published log verifier key, or a file.")] = None,
    root_key: Annotated[str | None, typer.Option(help="The ledger's published root verifier key, or a file.")] = None,
    witness_key: Annotated[list[str] | None, typer.Option(help="A trusted witness's verifier key or file, whose "
                                                              "cosignatures are checked; repeatable.")] = None,
    workers: Annotated[int | None, typer.Option(min=1, help="Processes for signatures (default: every core).")] = None,
    json_out: Annotated[Path | None, typer.Option("--json", help="Write the findings report as JSON.")] = None,
    html_out: Annotated[Path | None, typer.Option("--html", help="Write the findings report as HTML.")] = None,
    pdf_out: Annotated[Path | None, typer.Option("--pdf", help="Write the findings report as PDF (headless "
                                                               "Chromium and a CJK font).")] = None,
    fail_on_findings: Annotated[bool, typer.Option(help="Exit 4 when a rule finding of severity error remains.")] = False,
    state_in: Annotated[Path | None, typer.Option("--state", help="Resume from this saved audit state: verify only "
                                                                  "the events after it (needs --auditor-key).")] = None,
    auditor_key: Annotated[str | None, typer.Option(help="Your verifier key (auditor.pub, or the key string) that "
                                                         "signed the --state file.")] = None,
    save_state: Annotated[Path | None, typer.Option(help="After a clean audit, save the audit state at the latest "
                                                         "checkpoint here, signed with --signing-key.")] = None,
    signing_key: Annotated[Path | None, typer.Option(help="Your private key file (auditor.key from `wushe audit "
                                                          "keygen`) to sign --save-state with.")] = None,
) -> None:
    """Verify a bundle end to end: signatures, Merkle tree, checkpoints, published figures, rules."""
    from audits import bundle as bundles
    from audits import report
    from audits import state as states
    from audits.findings import ERROR
    from audits.verify import StateMismatch, TrustError, audit, resume
    from ledger.reference import load_reference
    from ledger.signing import NoteFormatError

    if (bundle_dir is None) == (database is None):
        cli._fail("give a bundle directory or --database URL (one, not both) 请给出审计包目录或数据库地址（二选一）", 2)
    if state_in is not None and trust is not None:
        cli._fail("--state and --trust are two ways to resume: give one 二者只能选一", 2)
    if (save_state is None) != (signing_key is None):
        cli._fail("--save-state needs --signing-key (your auditor.key) and the other way round 需同时给出", 2)
    secret = _signing_key(signing_key)
    try:
        pinned_log, pinned_root = _key_option(log_key), _key_option(root_key)
        witnesses = [cli._vkey(w) for w in witness_key or []] or cli.trusted_witnesses(cli.state.settings)
        auditor = cli._vkey(auditor_key) if auditor_key else (secret.verifier if secret else None)
    except (NoteFormatError, OSError) as exc:
        cli._fail(f"not a verifier key: {exc}", 2)
    trusted = _trusted_note(trust)
    resumed = None
    if state_in is not None:
        if auditor is None:
            cli._fail("--state needs --auditor-key: the verifier key that signed it 需给出审计员公钥", 2)
        try:
            resumed = states.load(state_in, auditor)
        except states.StateError as exc:
            cli._fail(f"audit state refused 拒绝审计状态: {exc}", 2)
    since = (resumed.tree_size - 1, resumed.position) if resumed else None
    try:
        if bundle_dir is not None:
            loaded = bundles.read(bundle_dir, from_leaf=since[0] if since else 0)
        else:
            loaded = _live(database, since)
    except bundles.BundleError as exc:
        cli._fail(str(exc), 2)
    reference = load_reference(cli.state.settings.reference_file)
    columns = (TextColumn("校验签名 verifying"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, console=cli.err, transient=True, disable=len(loaded.rows) < 2000) as bar:
        task = bar.add_task("verify", total=len(loaded.rows))
        options = {"reference": reference, "log_key": pinned_log, "root_key": pinned_root, "witnesses": witnesses,
                   "workers": workers, "progress": lambda n: bar.advance(task, n), "save_state": save_state is not None}
        try:
            result = resume(resumed, loaded, **options) if resumed else audit(loaded, trusted=trusted, **options)
        except TrustError as exc:
            cli._fail(str(exc), 2)
        except StateMismatch as exc:
            cli._fail(f"audit state refused 拒绝审计状态: {exc}", 1)
        except states.StateError as exc:
            cli._fail(f"audit state refused 拒绝审计状态: {exc}", 2)
    doc = report.document(result, source=str(bundle_dir or cli.display_url(database)), reference=reference)
    if json_out:
        report.write_json(doc, json_out)
    if html_out:
        report.write_html(doc, html_out)
    if pdf_out:
        try:
            report.write_pdf(doc, pdf_out)
        except report.PdfUnavailable as exc:
            cli.err.print(f"[yellow]no PDF 未生成PDF:[/] {escape(str(exc))}", highlight=False)
    for finding in result.findings:
        style = {"critical": "bold red", "error": "red", "warning": "yellow"}[finding.severity]
        cli.out.print(f"[{style}]{escape(finding.one_line())}[/]", highlight=False)
    for line in report.summary_lines(result.summary(), resumed=resumed is not None):
        cli.out.print(escape(line), highlight=False)
    if not result.ok:
        cli._fail(f"integrity check FAILED 完整性校验失败: {len(result.integrity_failures)} problem(s)", 1)
    cli.out.print("[green]完整性校验通过 integrity verified[/]")
    if save_trust and loaded.checkpoints:
        latest = max(loaded.checkpoints)[1]
        save_trust.write_bytes(latest)
        cli.out.print(f"trusted checkpoint saved to {escape(str(save_trust))}", highlight=False)
    if save_state is not None:
        if result.state is None:
            cli._fail(f"no audit state saved 未保存审计状态: {result.state_error}", 2)
        written = states.save(result.state, save_state, secret)
        cli.out.print(f"audit state at size {result.state.tree_size} saved to {escape(str(save_state))} "
                      f"({written:,} bytes, signed by {escape(secret.key_id)}) 审计状态已保存", highlight=False)
    if fail_on_findings and any(f.severity == ERROR for f in result.findings):
        raise typer.Exit(4)


def _live(database_url: str, since: tuple[int, int] | None = None):
    from audits.bundle import collect
    from ledger.application import Ledger

    ledger = Ledger(cli.state.settings, database_url=database_url)
    try:
        return collect(ledger, figures=False, since=since)
    finally:
        ledger.close()
