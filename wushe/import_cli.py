"""``wushe import``: a donation list or a volunteer sign-in sheet (CSV or XLSX), checked row by row
and recorded all or nothing (``ledger.commands.imports``); the column mappings remembered per
foundation or organisation. Exit 1 when any row is refused: then nothing is written."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from ledger.commands.imports import DUPLICATE, ERROR, NEW, ImportOutcome, ImportRefused
from ledger.imports.index import ImportIndex, scope_of
from ledger.imports.mapping import Mapping, read_mapping_file
from ledger.money import format_cny
from wushe import cli

import_app = typer.Typer(help="Import donation lists and sign-in sheets, all rows or none (导入).",
                         no_args_is_help=True)

SHOWN_ERRORS = 40
"""Refused rows listed on the terminal; ``--report`` writes them all."""

FileArg = Annotated[Path, typer.Argument(help="The CSV or XLSX file, as the platform, bank or sheet gives it.")]
MappingOption = Annotated[str, typer.Option(
    "--mapping", help="A mapping file (.toml or .json), or the name of one remembered for this foundation or "
                      "organisation (`wushe import mappings`).")]
DryRun = Annotated[bool, typer.Option("--dry-run", help="Check every row and write nothing (预览).")]
Report = Annotated[Path | None, typer.Option(help="Write every row's status and errors here, as JSON.")]
Remember = Annotated[bool, typer.Option("--remember/--no-remember",
                                        help="Remember the mapping under its name once the import is written.")]


@import_app.command("donations")
@cli.handles_errors
def import_donations(
    file: FileArg, mapping: MappingOption,
    fund: Annotated[str, typer.Option(help="The fund the gifts go into.")],
    street_town: Annotated[str | None, typer.Option(help="Street-town of rows without one (default: the fund's).")]
    = None,
    dry_run: DryRun = False, report: Report = None, remember: Remember = True, actor: cli.AsOption = None,
) -> None:
    """Import a donation list (捐赠名单): an online-giving platform's export or a bank statement."""
    ledger = cli.state.ledger
    who = cli.state.actor(actor)
    scope = scope_of("donations", ledger.fund(fund).foundation)
    chosen = _mapping(ledger, scope, mapping)
    data = _read(file)
    _run(lambda progress: ledger.import_donations(who, data, file.name, chosen, fund, street_town=street_town,
                                                  commit=not dry_run, remember=remember, progress=progress),
         dry_run, report, remember)


@import_app.command("hours")
@cli.handles_errors
def import_hours(
    file: FileArg, mapping: MappingOption,
    organisation: Annotated[str | None, typer.Option(help="The organising body (default: the recorder's own).")]
    = None,
    domain: Annotated[str | None, typer.Option(help="Service domain of rows without one.")] = None,
    dry_run: DryRun = False, report: Report = None, remember: Remember = True, actor: cli.AsOption = None,
) -> None:
    """Import a volunteer sign-in sheet (志愿服务签到表), for the recorder's own organisation."""
    ledger = cli.state.ledger
    who = cli.state.actor(actor)
    owner = organisation or ledger.directory().principal(who.handle).organisation or ""
    chosen = _mapping(ledger, scope_of("hours", owner), mapping)
    data = _read(file)
    _run(lambda progress: ledger.import_hours(who, data, file.name, chosen, organisation=organisation,
                                              domain=domain, commit=not dry_run, remember=remember,
                                              progress=progress),
         dry_run, report, remember)


@import_app.command("mappings")
@cli.handles_errors
def mappings(
    foundation: Annotated[str | None, typer.Option(help="A foundation's donation mappings.")] = None,
    organisation: Annotated[str | None, typer.Option(help="An organisation's sign-in sheet mappings.")] = None,
) -> None:
    """The column mappings remembered for a foundation or an organisation (已保存的列映射)."""
    if (foundation is None) == (organisation is None):
        raise typer.BadParameter("give --foundation or --organisation", param_hint="--foundation")
    scope = scope_of("donations", foundation) if foundation else scope_of("hours", organisation or "")
    found = ImportIndex(cli.state.ledger.tables).mappings(scope)
    if not found:
        cli.out.print(f"no mapping remembered for {scope} 尚无已保存的列映射", highlight=False)
    for m, by, at in found:
        columns = ", ".join(f"{k}={v}" for k, v in m.columns.items())
        cli.out.print(f"[bold]{escape(m.name)}[/] ({m.kind}) source 来源 {escape(m.source)}; saved 保存 {at} by {by}\n"
                      f"  {escape(columns)}", highlight=False)


def _mapping(ledger, scope: str, value: str) -> Mapping:
    path = Path(value)
    if path.suffix.lower() in (".toml", ".json") or path.exists():
        return read_mapping_file(path)
    return ImportIndex(ledger.tables).mapping(scope, value)


def _read(file: Path) -> bytes:
    try:
        return file.read_bytes()
    except OSError as exc:
        cli._fail(f"cannot read {file}: {exc.strerror} 无法读取文件", 2)
        raise  # unreachable: _fail exits


def _run(run, dry_run: bool, report: Path | None, remember: bool) -> None:
    columns = (TextColumn("校验 checking"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    refused: ImportRefused | None = None
    with Progress(*columns, console=cli.err, transient=True) as bar:
        task = bar.add_task("rows", total=None)
        try:
            outcome = run(lambda done, total: bar.update(task, completed=done, total=total))
        except ImportRefused as exc:
            refused, outcome = exc, exc.outcome
    if report is not None:
        report.write_text(json.dumps(outcome.as_json(), ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    _summary(outcome)
    if refused is not None or outcome.refused:
        _errors(outcome)
        cli._fail(f"导入被拒绝，未写入任何记录：{outcome.count(ERROR)} 行未通过校验，请更正后重新导入整个文件\n"
                  f"  import refused, nothing written: {outcome.count(ERROR)} row(s) fail; fix them and import the "
                  "whole file again")
    if dry_run:
        cli.out.print("[green]预览通过 dry run passes[/]: every row would be recorded; nothing was written "
                      "未写入任何记录", highlight=False)
    elif outcome.committed:
        first, last = outcome.positions or (0, 0)
        cli.out.print(f"[green]已导入 imported[/] {outcome.count(NEW)} row(s) in one transaction (log #{first}–#{last});"
                      f" import {outcome.import_id}" + (f"; mapping {escape(outcome.mapping)} remembered 已保存列映射"
                                                         if remember else ""), highlight=False)
    else:
        cli.out.print("nothing new to record 没有新的记录: every row was imported before", highlight=False)


def _summary(outcome: ImportOutcome) -> None:
    amount = f", {format_cny(outcome.amount)}" if outcome.kind == "donations" else ""
    cli.out.print(
        f"{escape(outcome.filename)}: {len(outcome.rows)} 行 rows (header on row {outcome.header_row}) — "
        f"新 new {outcome.count(NEW)}{amount}; 已导入 already imported {outcome.count(DUPLICATE)}; "
        f"未通过 refused {outcome.count(ERROR)}", highlight=False)


def _errors(outcome: ImportOutcome) -> None:
    table = Table("行 row", "列 column", "规则 rule", "说明 problem")
    shown = 0
    for row in outcome.rows:
        for e in row.errors:
            if shown < SHOWN_ERRORS:
                table.add_row(str(row.number), escape(e.column or "—"), e.rule,
                              f"{escape(e.message_zh)}\n{escape(e.message)}")
            shown += 1
    cli.err.print(table)
    if shown > SHOWN_ERRORS:
        cli.err.print(f"… and {shown - SHOWN_ERRORS} more 另有 {shown - SHOWN_ERRORS} 条 (--report FILE lists them all)")
