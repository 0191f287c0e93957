"""Donation receipts (捐赠收据) as documents for the donor: one A4 page per gift with the foundation,
the receipt number, the donor as recorded, the amount in figures and in capital numerals (大写),
the date, the fund and its purpose, and the QR code of the gift's offline-verifiable receipt
(``ledger.receipts``); printed to PDF by ``api.pdf``, one gift or a foundation's whole month.

The donor's name is printed as recorded, because the receipt goes to the donor: these documents
are for the accountant's own screens and printouts, never for a public page. A reversed donation
gets no receipt. Each receipt's JSON travels inside its PDF as an attachment, so the one file
verifies offline (``wushe verify receipt receipt.pdf``).
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import segno
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup

from api.i18n import format_date
from api.pdf import print_pdf
from ledger.envelope import EnvelopeError, open_sealed
from ledger.errors import InvalidInput, LedgerError
from ledger.money import format_cny, format_cny_words
from ledger.receipts import ReceiptError, issue_receipt, verify_receipt

ATTACHMENT = "wushe-receipt.json"
"""The name a single receipt's JSON has inside its PDF (a month's PDF holds one per gift)."""

DONOR_TYPES = {"resident": ("个人", "Individual"), "business": ("企业", "Business"),
               "stationed_unit": ("驻区单位", "Unit stationed in the district"),
               "foundation": ("基金会", "Foundation"), "government": ("政府", "Government")}
METHODS = {"cash": ("现金", "Cash"), "transfer": ("转账", "Bank transfer"), "in_kind": ("实物", "In kind")}

_env = Environment(loader=FileSystemLoader(Path(__file__).parent / "templates"), autoescape=select_autoescape())
DOCUMENT_CSS = Path(__file__).parent / "static" / "receipt-document.css"
_env.filters["zh_date"] = lambda value: format_date(value, "zh")
_env.filters["en_date"] = lambda value: format_date(value, "en")


class ReceiptRefused(LedgerError):
    """No receipt for this record: it is not a donation, or a correction has reversed it."""

    rule = "receipt-refused"
    status = 409
    title_zh = "不能出具收据"


@dataclass(frozen=True)
class DonationReceipt:
    """Everything one printed receipt shows, and the receipt JSON that proves it."""

    number: str
    """收据编号: foundation, year of the gift and the gift's log position (the number to quote)."""
    foundation: str
    foundation_name: str
    donor: str
    """As recorded; 匿名 for a gift without a name."""
    donor_type: str
    amount: int
    amount_figures: str
    amount_words: str
    received_on: str
    issued_on: str
    fund: str
    fund_name: str
    purpose: str
    method: str
    in_kind_description: str | None
    recorded_by: str
    position: int
    leaf_index: int
    link: str
    qr_svg: Markup
    receipt: dict[str, Any]

    @property
    def donor_type_names(self) -> tuple[str, str]:
        return DONOR_TYPES.get(self.donor_type, (self.donor_type, self.donor_type))

    @property
    def method_names(self) -> tuple[str, str]:
        return METHODS.get(self.method, (self.method, self.method))

    def json_text(self) -> str:
        return json.dumps(self.receipt, ensure_ascii=False, indent=2) + "\n"


def donation_receipt(ledger: Any, position: int, log_actor: Any, public_url: str) -> DonationReceipt:
    """The receipt of the donation at a log position, its JSON issued under a checkpoint (signed
    now with ``log_actor`` if none covers it yet) and verified offline before it is printed."""
    stored, event = ledger.read_position(position)
    if stored.topic != "Fund.DonationReceived":
        raise ReceiptRefused(f"log position {position} is a {stored.topic}, not a donation",
                             f"日志第 {position} 条不是捐赠记录（{stored.topic}）", field="position")
    fund = ledger.fund(str(stored.originator_id).split(":", 1)[1])
    if event.entry in fund.reversed_entries:
        raise ReceiptRefused(f"the donation at log position {position} was reversed by a correction; it gets no "
                             "receipt", f"日志第 {position} 条捐赠已被更正冲正，不出具收据", field="position")
    document = issue_receipt(ledger, position, log_actor)
    log_key = ledger.directory().active_keys(ledger.origin)[-1].key
    verified = verify_receipt(document, log_key)  # what is printed is what verifies
    directory = ledger.directory()
    key = directory.key(verified.signer)
    signer = directory.principals.get(key.principal) if key else None
    link = public_url.rstrip("/") + document["verify_path"]
    received = event.received_on
    return DonationReceipt(
        number=f"{fund.foundation}-{received[:4]}-{position:08d}", foundation=fund.foundation,
        foundation_name=ledger.organisation(fund.foundation).name, donor=event.donor_name or "匿名 Anonymous",
        donor_type=event.donor_type, amount=event.amount, amount_figures=format_cny(event.amount),
        amount_words=format_cny_words(event.amount), received_on=received, issued_on=ledger.today().isoformat(),
        fund=fund.code, fund_name=fund.name, purpose=fund.purpose, method=event.method,
        in_kind_description=event.in_kind_description, recorded_by=signer.name if signer else verified.signer,
        position=position, leaf_index=verified.leaf_index, link=link,
        qr_svg=Markup(segno.make(link, error="m").svg_inline(scale=3, dark="#111", light="#fff")), receipt=document)


@dataclass(frozen=True)
class MonthOfReceipts:
    """A foundation's receipts for one month of gifts, and the gifts left out because reversed."""

    foundation: str
    month: str
    receipts: list[DonationReceipt]
    reversed: list[int]
    """Log positions of the month's donations that a correction reversed: no receipt."""


def month_receipts(ledger: Any, foundation: str, month: str, log_actor: Any, public_url: str) -> MonthOfReceipts:
    """Every receipt of a foundation's donations received in ``month`` (``YYYY-MM``, Shanghai
    business dates), in date and log order."""
    try:
        first = date.fromisoformat(f"{month}-01")
    except ValueError:
        raise InvalidInput("month", f"{month!r} is not a month YYYY-MM", f"{month!r} 不是月份（YYYY-MM）") from None
    ledger.organisation(foundation, "foundation")
    prefix = first.isoformat()[:7]
    gifts: list[tuple[str, int, str, str]] = []
    for stream in _funds_of(ledger, foundation):
        for position, state, version in _donations_in(ledger, stream):
            # Chosen by the signed bytes' date; every chosen gift is then read and verified in full.
            payload = _payload(state, stream, version, "Fund.DonationReceived")
            if payload is not None and str(payload.get("received_on", "")).startswith(prefix):
                gifts.append((payload["received_on"], position, payload["entry"], stream))
    gifts.sort()
    receipts, reversed_ = [], []
    for _, position, entry, stream in gifts:
        if entry in ledger.fund(stream.split(":", 1)[1]).reversed_entries:
            reversed_.append(position)
            continue
        receipts.append(donation_receipt(ledger, position, log_actor, public_url))
    return MonthOfReceipts(foundation, prefix, receipts, reversed_)


def _funds_of(ledger: Any, foundation: str) -> list[str]:
    t = ledger.tables
    rows = t.fetchall(f"SELECT originator_id, originator_version, state FROM {t.events_table} WHERE topic = ?",
                      ("Fund.Opened",))
    found = []
    for stream, version, state in rows:
        payload = _payload(bytes(state), str(stream), int(version), "Fund.Opened")
        if payload is not None and payload.get("foundation") == foundation:
            found.append(str(stream))
    return sorted(found)


def _donations_in(ledger: Any, stream: str) -> list[tuple[int, bytes, int]]:
    t = ledger.tables
    return [(int(p), bytes(s), int(v)) for p, s, v in t.fetchall(
        f"SELECT {t.position_column}, state, originator_version FROM {t.events_table} "
        "WHERE originator_id = ? AND topic = ? ORDER BY originator_version", (stream, "Fund.DonationReceived"))]


def _payload(state: bytes, stream: str, version: int, topic: str) -> dict | None:
    try:
        return open_sealed(state, stream=stream, version=version, topic=topic).payload
    except EnvelopeError:
        return None  # read_position refuses it with the reason, should it be chosen


# --- pages and PDF ---------------------------------------------------------------------------


def render_receipts_html(receipts: list[DonationReceipt], *, contact: str | None = None,
                         title: str | None = None, served: bool = False) -> str:
    """One A4 page per receipt, Chinese first with English (a month's batch is one document).

    A ``served`` page links its stylesheet (the CSP allows no inline style); a document for the
    printer or a file on disk carries it inline."""
    if not receipts:
        raise InvalidInput("receipts", "there is no receipt to print", "没有可打印的收据")
    return _env.get_template("receipt_document.html").render(
        receipts=receipts, contact=contact, title=title, css=None if served else DOCUMENT_CSS.read_text())


def receipts_pdf(receipts: list[DonationReceipt], *, contact: str | None = None, title: str | None = None,
                 browser: str | None = None) -> bytes:
    """The printed receipts, each receipt's JSON attached (``wushe-receipt.json`` for one gift,
    ``wushe-receipt-<number>.json`` for each gift of a batch)."""
    from pypdf import PdfReader, PdfWriter

    printed = print_pdf(render_receipts_html(receipts, contact=contact, title=title), browser=browser)
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(printed)))
    for r in receipts:
        name = ATTACHMENT if len(receipts) == 1 else f"wushe-receipt-{r.number}.json"
        writer.add_attachment(name, r.json_text().encode())
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def attached_receipts(pdf: bytes) -> dict[str, bytes]:
    """The receipt JSON files a receipt PDF carries, by attachment name."""
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        attachments = PdfReader(io.BytesIO(pdf)).attachments
    except (PdfReadError, ValueError, KeyError) as exc:
        raise ReceiptError(f"the PDF cannot be read: {exc} 无法读取该PDF") from None
    return {name: data[0] for name, data in attachments.items() if name.endswith(".json") and data}


def receipt_from_pdf(pdf: bytes) -> bytes:
    """The one receipt a donor's receipt PDF carries; ReceiptError if it holds none or several."""
    found = attached_receipts(pdf)
    if len(found) != 1:
        raise ReceiptError(f"the PDF carries {len(found)} receipt files; verify one receipt's PDF or JSON "
                           f"该PDF附有 {len(found)} 份收据文件，请校验单张收据的PDF或JSON")
    return next(iter(found.values()))
