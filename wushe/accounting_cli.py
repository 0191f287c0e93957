"""``wushe statements``: a foundation's three 民非 statements (会民非01/02/03表) for a month, a quarter
or a year, from the verified log, as XLSX, PDF or JSON."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from wushe import cli


@cli.app.command("statements")
@cli.handles_errors
def statements_command(
    year: Annotated[int, typer.Option(help="The calendar year.")],
    foundation: Annotated[str, typer.Option(help="The foundation's organisation code.")],
    month: Annotated[int | None, typer.Option(min=1, max=12, help="A month of the year (omit: the year).")] = None,
    quarter: Annotated[int | None, typer.Option(min=1, max=4, help="A quarter of the year.")] = None,
    format_: Annotated[str, typer.Option("--format", help="xlsx, pdf or json.")] = "xlsx",
    out_path: Annotated[Path | None, typer.Option("--out", help="File to write (default: "
                                                  "statements-<foundation>-<period>.<format>).")] = None,
) -> None:
    """The three statements (资产负债表、业务活动表、现金流量表), special funds as memos."""
    from ledger.statements import Period, ledger_books, statements
    from projections.statement_files import FORMATS, WRITERS

    if format_ not in FORMATS:
        raise typer.BadParameter(f"unknown format {format_!r}: choose {', '.join(FORMATS)} 未知格式",
                                 param_hint="--format")
    period = Period.of(year, month=month, quarter=quarter)
    doc = statements(ledger_books(cli.state.ledger), foundation, period)
    suffix = {"month": f"-{month:02d}" if month else "", "quarter": f"-Q{quarter}", "year": ""}[period.kind]
    path = out_path or Path(f"statements-{foundation}-{year}{suffix}.{format_}")
    try:
        written = WRITERS[format_](doc, path)
    except RuntimeError as exc:  # PdfUnavailable: no Chromium here
        cli._fail(str(exc))
    ties = "勾稽一致 ties out" if doc["checks"]["ok"] else "未勾稽一致 DOES NOT TIE OUT"
    cli.out.print(f"[green]已生成 written[/] {format_} statements of {escape(foundation)}, {period.label()[0]} "
                  f"({ties}; log position {doc['position']}) to {escape(str(written[0]))}", highlight=False)
