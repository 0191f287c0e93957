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


# --- what the accountant records -----------------------------------------------------------------

goods_app = typer.Typer(help="Goods given in kind (存货).", no_args_is_help=True)
income_app = typer.Typer(help="Other income: interest, investment, other (其他收入).", no_args_is_help=True)
contract_app = typer.Typer(help="Service contracts, earned by milestone (政府购买服务合同).", no_args_is_help=True)
for _sub, _name in ((goods_app, "goods"), (income_app, "income"), (contract_app, "contract")):
    cli.app.add_typer(_sub, name=_name)


@goods_app.command("distribute")
@cli.handles_errors
def goods_distribute(
    fund: Annotated[str, typer.Option()], amount: Annotated[str, typer.Option(help="Stated value, yuan.")],
    description: Annotated[str, typer.Option()], quantity: Annotated[int, typer.Option()],
    target: Annotated[str, typer.Option(help="The project or purpose code they serve.")],
    domain: Annotated[str | None, typer.Option()] = None, street_town: Annotated[str | None, typer.Option()] = None,
    on: Annotated[str | None, typer.Option("--date")] = None, actor: cli.AsOption = None,
) -> None:
    """Hand out or use goods given in kind (存货发放): their value becomes a programme cost."""
    cli._done("goods", cli.state.ledger.distribute_goods(
        cli.state.actor(actor), fund, cli._amount(amount), description=description, quantity=quantity, target=target,
        domain=domain, street_town=street_town, on=cli._date(on, "--date")))


@income_app.command("record")
@cli.handles_errors
def income_record(
    fund: Annotated[str, typer.Option()], amount: Annotated[str, typer.Option()],
    kind: Annotated[str, typer.Option(help="interest, investment, other")], payer: Annotated[str, typer.Option()],
    note: Annotated[str | None, typer.Option()] = None, on: Annotated[str | None, typer.Option("--date")] = None,
    actor: cli.AsOption = None,
) -> None:
    """Record bank interest, investment income or other income (利息、投资收益、其他收入)."""
    cli._done("income", cli.state.ledger.record_other_income(
        cli.state.actor(actor), fund, cli._amount(amount), kind=kind, payer=payer, note=note,
        on=cli._date(on, "--date")))


def _milestones(texts: list[str]) -> list[tuple[str, int]]:
    out = []
    for text in texts:
        name, sep, amount = text.rpartition("=")
        if not sep:
            raise typer.BadParameter(f"{text!r}: write NAME=YUAN 须写为 名称=金额", param_hint="--milestone")
        out.append((name, cli._amount(amount, "milestones")))
    return out


@contract_app.command("sign")
@cli.handles_errors
def contract_sign(
    fund: Annotated[str, typer.Option()], contract: Annotated[str, typer.Option()],
    buyer: Annotated[str, typer.Option()], document_ref: Annotated[str, typer.Option()],
    milestone: Annotated[list[str], typer.Option(help="NAME=YUAN, once per milestone.")],
    on: Annotated[str | None, typer.Option("--date")] = None, actor: cli.AsOption = None,
) -> None:
    """Record a service contract (政府购买服务合同) with its milestones, in an unrestricted fund."""
    cli._done("contract", cli.state.ledger.sign_contract(
        cli.state.actor(actor), fund, contract, buyer=buyer, milestones=_milestones(milestone),
        document_ref=document_ref, on=cli._date(on, "--date")))


@contract_app.command("payment")
@cli.handles_errors
def contract_payment(
    fund: Annotated[str, typer.Option()], contract: Annotated[str, typer.Option()],
    amount: Annotated[str, typer.Option()], on: Annotated[str | None, typer.Option("--date")] = None,
    actor: cli.AsOption = None,
) -> None:
    """Money from the buyer: what was earned first, the rest an advance receipt (预收账款)."""
    cli._done("contract payment", cli.state.ledger.receive_contract_payment(
        cli.state.actor(actor), fund, contract, cli._amount(amount), on=cli._date(on, "--date")))


@contract_app.command("deliver")
@cli.handles_errors
def contract_deliver(
    fund: Annotated[str, typer.Option()], contract: Annotated[str, typer.Option()],
    milestone: Annotated[str, typer.Option()], on: Annotated[str | None, typer.Option("--date")] = None,
    actor: cli.AsOption = None,
) -> None:
    """A milestone delivered: its service income is earned (确认提供服务收入)."""
    cli._done("service", cli.state.ledger.deliver_service(
        cli.state.actor(actor), fund, contract, milestone, on=cli._date(on, "--date")))


@cli.fund_app.command("terminate")
@cli.handles_errors
def fund_terminate(
    code: Annotated[str, typer.Argument()], reason: Annotated[str, typer.Option()],
    to_fund: Annotated[str | None, typer.Option(help="The fund of the same or a similar purpose (default: the "
                                                "agreement's).")] = None,
    on: Annotated[str | None, typer.Option("--date")] = None, actor: cli.AsOption = None,
) -> None:
    """End a special fund (专项基金终止): its leftover moves to a same-purpose fund; disclosure due in 3 months."""
    cli._done("termination", cli.state.ledger.terminate_special_fund(
        cli.state.actor(actor), code, reason=reason, to_fund=to_fund, on=cli._date(on, "--date")))


@cli.org_app.command("profile")
@cli.handles_errors
def org_profile(
    code: Annotated[str, typer.Argument()],
    charity: Annotated[bool, typer.Option("--charity/--not-charity", help="A charitable organisation (慈善组织).")],
    public_fundraising: Annotated[bool, typer.Option("--public-fundraising/--no-public-fundraising",
                                                     help="Holds public-fundraising qualification (公开募捐资格).")],
    org_type: Annotated[str, typer.Option("--type", help="foundation, social_group, social_service")],
    since: Annotated[str, typer.Option(help="From this day, YYYY-MM-DD.")],
    document_ref: Annotated[str, typer.Option(help="The certificate or decision (认定书、证书编号).")],
    actor: cli.AsOption = None,
) -> None:
    """Record a foundation's standing under 《慈善法》; the annual ratios follow it."""
    cli._done("profile", cli.state.ledger.record_profile(
        cli.state.actor(actor), code, charity=charity, public_fundraising=public_fundraising, org_type=org_type,
        since=cli._date(since, "--since"), document_ref=document_ref))


@cli.app.command("publish")
@cli.handles_errors
def publish(
    foundation: Annotated[str, typer.Option()],
    item: Annotated[str, typer.Option(help="annual_report, financial_report, project_progress, project_final, "
                                      "leftover, major_event, correction, other")],
    subject: Annotated[str, typer.Option(help="The year, project or fund it is about.")],
    title: Annotated[str, typer.Option()], where: Annotated[str, typer.Option(help="Where it was published.")],
    on: Annotated[str | None, typer.Option("--date")] = None, actor: cli.AsOption = None,
) -> None:
    """Record a publication (信息公开): what was published, where and when."""
    cli._done("publication", cli.state.ledger.record_publication(
        cli.state.actor(actor), foundation, item=item, subject=subject, title=title, where=where,
        published_on=cli._date(on, "--date")))


@cli.app.command("disclosures")
@cli.handles_errors
def disclosures(
    foundation: Annotated[str | None, typer.Option(help="One foundation (default: all).")] = None,
    on: Annotated[str | None, typer.Option("--on", help="Judge on this day (default: today).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="The calendar as JSON.")] = False,
) -> None:
    """The disclosure calendar (信息公开日历): what is due, done on time, late or overdue."""
    import json

    from rich.table import Table

    from ledger.disclosures import STATUS_NAMES, calendar
    from ledger.statements import verified_events

    ledger = cli.state.ledger
    duties = [d.as_json() for d in calendar(verified_events(ledger), cli._date(on, "--on") or ledger.today())
              if foundation is None or d.organisation == foundation]
    if as_json:
        cli.out.print_json(json.dumps(duties, ensure_ascii=False))
        return
    table = Table("基金会 Foundation", "事项 Item", "对象 Subject", "期限 Due", "状态 Status", "公开日 Published")
    for d in duties:
        table.add_row(d["organisation"], f"{d['item_zh']} {d['item_en']}", d["subject"], d["due"],
                      f"{d['status_zh']} {d['status_en']}", d["published_on"] or "—")
    cli.out.print(table)
    counts = {s: sum(1 for d in duties if d["status"] == s) for s in STATUS_NAMES}
    cli.out.print(" · ".join(f"{STATUS_NAMES[s][0]} {STATUS_NAMES[s][1]}: {n}" for s, n in counts.items()))
