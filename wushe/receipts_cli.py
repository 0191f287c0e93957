"""``wushe receipts month`` and ``wushe receipt N --pdf``: donation receipts (捐赠收据) printed to
PDF with the amount in capital numerals and the QR code of their offline proof (``api.receipt_document``)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from api.pdf import PdfUnavailable
from wushe import cli

receipts_app = typer.Typer(help="Donation receipts as PDF, one or a month's batch (捐赠收据).", no_args_is_help=True)


def write_receipt_pdf(position: int, pdf: Path, actor: str | None) -> dict:
    """The PDF of the receipt at ``position`` (a donation's receipt document, or the printable page
    of any other record); returns the receipt JSON it carries."""
    from api.receipt_document import donation_receipt, receipts_pdf

    ledger = cli.state.ledger
    stored, _ = ledger.read_position(position)
    log = cli._log_actor(actor)
    if stored.topic == "Fund.DonationReceived":
        receipt = donation_receipt(ledger, position, log, cli.state.settings.public_url)
        _print(lambda: receipts_pdf([receipt]), pdf)
        cli.out.print(f"[green]捐赠收据 receipt[/] {receipt.number} ({escape(receipt.amount_words)}) written to {pdf}",
                      highlight=False)
        return receipt.receipt
    return _page_pdf(position, pdf, log)


def _page_pdf(position: int, pdf: Path, log) -> dict:
    """A volunteer certificate or other record: its printable page, printed."""
    from api.pdf import print_pdf
    from api.receipt_page import render_receipt_page
    from ledger.receipts import issue_receipt, verify_receipt
    from ledger.settings import trusted_witnesses

    ledger = cli.state.ledger
    document = issue_receipt(ledger, position, log)
    log_key = ledger.directory().active_keys(ledger.origin)[-1].key
    verified = verify_receipt(document, log_key, trusted_witnesses(cli.state.settings))
    page = render_receipt_page(document, verified, cli.state.settings.public_url, public=False)
    _print(lambda: print_pdf(page), pdf)
    cli.out.print(f"printable page 打印页 (PDF) written to {pdf}")
    return document


@receipts_app.command("month")
@cli.handles_errors
def month(
    month: Annotated[str, typer.Argument(help="The month of the gifts, YYYY-MM (Shanghai dates).")],
    foundation: Annotated[str, typer.Option(help="The foundation whose funds received the gifts.")],
    pdf: Annotated[Path, typer.Option(help="One PDF of every receipt, a page each.")],
    json_dir: Annotated[Path | None, typer.Option(help="Also write each receipt's JSON here.")] = None,
    actor: Annotated[str | None, typer.Option("--as", help="Log key handle (default: the origin).")] = None,
) -> None:
    """Print a month of a foundation's donation receipts in one PDF (batch print 批量打印)."""
    from api.receipt_document import month_receipts, receipts_pdf

    ledger = cli.state.ledger
    batch = month_receipts(ledger, foundation, month, cli._log_actor(actor), cli.state.settings.public_url)
    if batch.reversed:
        cli.err.print(f"note 注意: {len(batch.reversed)} reversed donation(s) get no receipt 已冲正的捐赠不出具收据: "
                      + ", ".join(f"#{p}" for p in batch.reversed), highlight=False)
    if not batch.receipts:
        cli._fail(f"{foundation} has no donation received in {batch.month} to print {batch.month} 无可打印的捐赠收据")
    title = f"{foundation} 捐赠收据 {batch.month} Donation receipts"
    _print(lambda: receipts_pdf(batch.receipts, title=title), pdf)
    if json_dir is not None:
        json_dir.mkdir(parents=True, exist_ok=True)
        for r in batch.receipts:
            (json_dir / f"{r.number}.json").write_text(r.json_text(), encoding="utf-8")
    total = sum(r.amount for r in batch.receipts)
    from ledger.money import format_cny

    cli.out.print(f"[green]已打印 printed[/] {len(batch.receipts)} receipt(s) of {foundation} for {batch.month} "
                  f"({format_cny(total)}) to {pdf}", highlight=False)


def _print(make, pdf: Path) -> None:
    try:
        pdf.write_bytes(make())
    except PdfUnavailable as exc:
        cli._fail(str(exc))
